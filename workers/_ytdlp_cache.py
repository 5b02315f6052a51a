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
import ssl
from typing import Any

__all__ = ["add_default_extractors", "default_extractors", "install_tls_cache", "warm"]


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


def warm() -> None:
    """Fill both caches (in the forkserver, after the plugins loaded)."""
    default_extractors()
    install_tls_cache()
    _shared_context(True, False, True)  # yt-dlp's default: verify, with certifi's roots
