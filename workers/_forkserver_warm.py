"""Imported once in the capture forkserver (``_procs.PRELOAD``) to warm caches children inherit.

Every job asks all ~1,900 extractors whether they suit its URL, which compiles
each ``_VALID_URL`` (about 0.3 s per job here); yt-dlp caches the compiled
pattern on the class, so compiling them once in the server makes every forked
child start with them compiled. The plugins load here too (``workers.plugins``:
from the same places a child would load them, about 30 ms a child), then yt-dlp's
default extractor list and its TLS context are made once (``workers._ytdlp_cache``:
about 100 ms a child). Date parsing (``strptime``) is warmed the same way. Nothing
here touches the network or the disk beyond reading the plugin folders and
certifi's roots. Do not import it elsewhere.

Nothing here may stop the server from starting: the server dies on any error of its
preload but ``ImportError``, and every capture with it. A step that fails (a broken
plugin, a plugin extractor whose pattern does not compile) is logged and left to each
child, which meets the same error in its own capture and reports it there.
"""

from __future__ import annotations

import logging

from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.utils import unified_timestamp

from workers import _ytdlp_cache
from workers.plugins import load_plugins

log = logging.getLogger(__name__)


def _warm() -> None:
    load_plugins()  # first: plugin extractors join the list that is warmed and cached
    for ie in gen_extractor_classes():
        ie.suitable("https://example.invalid/warm")
    _ytdlp_cache.warm()
    unified_timestamp("Sun, 16 Aug 2015 11:40:00 GMT")


try:
    _warm()
except Exception:
    log.warning("the capture server could not warm up; each capture does it instead",
                exc_info=True)
