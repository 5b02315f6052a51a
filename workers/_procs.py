"""The multiprocessing context for capture child processes.

``forkserver`` with yt-dlp preloaded: the server process imports yt-dlp and
its extractor table once, and each job forks from it (measured here: about
0.1 s from ``Process.start()`` to a ready ``YoutubeDL``, against about 0.5 s
with ``spawn``, which re-imports yt-dlp for every job). The server is a fresh
interpreter, so it holds none of the parent's threads, sockets or event loop.
``__main__`` stays preloaded as multiprocessing does by default, so children
do not re-import the main script one by one. Where ``forkserver`` does not
exist (Windows) ``spawn`` is used.
"""

from __future__ import annotations

import functools
import multiprocessing
from multiprocessing.context import ForkServerContext, SpawnContext

__all__ = ["PRELOAD", "context"]

PRELOAD = [
    "__main__",
    "yt_dlp",
    "yt_dlp.extractor.extractors",
    # imported lazily on first use by every job: import once, in the server
    "yt_dlp.extractor.generic",
    "yt_dlp.extractor.youtube",
    "yt_dlp.extractor.facebook",
    "_strptime",
    "workers._forkserver_warm",
    "workers._media_child",
]


@functools.cache
def context() -> ForkServerContext | SpawnContext:
    """The context capture processes are started from (created on first use)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")
