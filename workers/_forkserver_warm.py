"""Imported once in the capture forkserver (``_procs.PRELOAD``) to warm caches children inherit.

Every job asks all ~1,900 extractors whether they suit its URL, which compiles
each ``_VALID_URL`` (about 0.3 s per job here); yt-dlp caches the compiled
pattern on the class, so compiling them once in the server makes every forked
child start with them compiled. Date parsing (``strptime``) is warmed the same
way. Nothing here touches the network or the disk. Do not import it elsewhere.
"""

from __future__ import annotations

from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.utils import unified_timestamp


def _warm() -> None:
    for ie in gen_extractor_classes():
        ie.suitable("https://example.invalid/warm")
    unified_timestamp("Sun, 16 Aug 2015 11:40:00 GMT")


_warm()
