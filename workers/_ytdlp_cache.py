"""What every capture child would otherwise build again: yt-dlp's default extractor
list and its TLS contexts, made once in the forkserver and inherited by each fork.

Measured per child before (py-spy, 20 direct-file captures): ``YoutubeDL.__init__``
spent about 45 ms choosing the default extractors (``orderedSet_from_options``
de-duplicates ~1,750 names through a list: quadratic), and the first request about
55 ms making a TLS context (OpenSSL's first context, then certifi's ~150 roots parsed
again). ``_forkserver_warm`` calls ``warm()`` in the server, after the plugins loaded;
a child then gets both for the cost of a fork.

- ``add_default_extractors(ydl)`` gives a ``YoutubeDL`` made with ``auto_init=False``
  the extractors yt-dlp's own ``add_default_info_extractors`` would (the list is
  computed by that same method, once, on a throw-away instance), in the same order.
- ``install_tls_cache()`` makes yt-dlp's request handlers share one context per
  (verify, legacy, certifi) setting. A context with a client certificate is never
  shared (always made afresh), and none is shared across processes: each fork has
  its own copy of the server's memory.

Both lean on yt-dlp internals named here; ``tests/workers/test_ytdlp_cache.py``
fails if either stops being used. Outside a forkserver (``spawn``) each child fills
the caches itself on first use, as yt-dlp would.
"""

from __future__ import annotations

import functools
import logging
import ssl
from typing import Any

__all__ = ["add_default_extractors", "default_extractors", "install_tls_cache", "warm"]

log = logging.getLogger(__name__)


@functools.cache
def default_extractors() -> tuple[Any, ...]:
    """The extractors (classes, in order) a default ``YoutubeDL`` adds."""
    from yt_dlp import YoutubeDL

    probe = YoutubeDL({"quiet": True, "no_warnings": True}, auto_init=False)
    try:
        probe.add_default_info_extractors()
        return tuple(probe._ies.values())
    finally:
        probe.close()


def add_default_extractors(ydl: Any) -> None:
    """``ydl.add_default_info_extractors()``, from the cached list."""
    for ie in default_extractors():
        ydl.add_info_extractor(ie)


@functools.cache
def _shared_context(verify: bool, legacy_support: bool, use_certifi: bool) -> ssl.SSLContext:
    from yt_dlp.networking import _helper

    context: ssl.SSLContext = _helper.make_ssl_context(
        verify=verify, legacy_support=legacy_support, use_certifi=use_certifi)
    return context


def _cached_make_ssl_context(verify: bool = True, client_certificate: Any = None,
                             client_certificate_key: Any = None,
                             client_certificate_password: Any = None,
                             legacy_support: bool = False,
                             use_certifi: bool = True) -> ssl.SSLContext:
    if client_certificate or client_certificate_key or client_certificate_password:
        from yt_dlp.networking import _helper

        own: ssl.SSLContext = _helper.make_ssl_context(
            verify=verify, client_certificate=client_certificate,
            client_certificate_key=client_certificate_key,
            client_certificate_password=client_certificate_password,
            legacy_support=legacy_support, use_certifi=use_certifi)
        return own
    return _shared_context(bool(verify), bool(legacy_support), bool(use_certifi))


def install_tls_cache() -> None:
    """Make yt-dlp's request handlers use ``_cached_make_ssl_context``."""
    from yt_dlp.networking import common

    common.make_ssl_context = _cached_make_ssl_context  # ``_make_sslcontext`` calls it by name


def _dry_run() -> None:
    """Choose a format and name the files of a made-up video with a capture's own options,
    without network or disk: the regular expressions yt-dlp compiles on the way (output
    templates, format selection; about 40 ms a child) stay in ``re``'s cache for forks."""
    from pathlib import Path

    from yt_dlp import YoutubeDL

    from workers._media_options import build_options
    from workers.types import CaptureJob, Limits

    job = CaptureJob(job_id=0, capture_id="", target_key="", url="", platform="web",
                     work_dir=Path("/nonexistent"), limits=Limits(
                         max_bytes=1, timeout_seconds=1.0, socket_timeout_seconds=1.0))
    url = "https://example.invalid/warm.mp4"
    info = {"id": "warm", "title": "warm", "url": url, "ext": "mp4", "webpage_url": url,
            "extractor": "generic", "extractor_key": "Generic", "duration": 1,
            "thumbnails": [{"url": url + ".jpg"}], "subtitles": {}}
    with YoutubeDL(build_options(job, ffmpeg=None) | {"simulate": True},
                   auto_init=False) as ydl:
        add_default_extractors(ydl)
        result = ydl.process_ie_result(dict(info), download=False)
        for kind in ("", "infojson", "thumbnail", "subtitle"):
            ydl.prepare_filename(result, kind)


def warm() -> None:
    """Fill the caches (in the forkserver, after the plugins loaded)."""
    default_extractors()
    install_tls_cache()
    _shared_context(True, False, True)  # yt-dlp's default: verify, with certifi's roots
    try:  # a warm-up only: a yt-dlp that changed must not stop the server from starting
        _dry_run()
    except Exception:
        log.warning("yt-dlp's dry run in the capture server failed; each capture pays "
                    "for it instead", exc_info=True)
