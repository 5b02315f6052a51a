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

import gc
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
        _load_real_class(ie)
    _ytdlp_cache.warm()
    unified_timestamp("Sun, 16 Aug 2015 11:40:00 GMT")
    # What the server holds now stays shared with every child: a collection in a child
    # would otherwise touch each object's header and copy its page.
    gc.collect()
    gc.freeze()


def _load_real_class(ie: type) -> None:
    """Import the module behind one of yt-dlp's lazy extractors. The generic extractor asks
    every extractor for embeds in each web page it reads, which imports all ~930 modules
    behind the lazy list: in a child that is about 0.3 s and 24 MB per job, here it is
    once, and the children share the pages."""
    try:
        getattr(ie, "real_class", None)
    except Exception:  # a broken extractor module: the child meets it in its own capture
        log.debug("could not import the extractor %r", ie, exc_info=True)


try:
    _warm()
except Exception:
    log.warning("the capture server could not warm up; each capture does it instead",
                exc_info=True)
