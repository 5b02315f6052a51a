"""The multiprocessing context for capture child processes.

``forkserver`` with yt-dlp preloaded: the server process imports yt-dlp and
its extractor table once (and compiles every extractor's URL pattern, see
``_forkserver_warm``), and each job forks from it. Measured here, one small
local capture end to end: median 0.27 s with ``forkserver`` against 1.33 s
with ``spawn``, which re-imports yt-dlp and recompiles ~1,900 patterns per
job; starting the server costs about 1.3 s once. The server is a fresh
interpreter, so it holds none of the parent's threads, sockets or event loop.
Where ``forkserver`` does not exist (Windows) ``spawn`` is used.

The main script is not preloaded: CPython 3.11's forkserver never does
(``ensure_running`` looks for a ``main_path`` key that preparation data calls
``init_main_from_path``), so each child re-imports a main script that has no
module spec. ``preserver.cli.main`` gives its console script one; other
programs that run captures should do the same or run under ``python -m``.
"""

from __future__ import annotations

import functools
import multiprocessing
from multiprocessing.context import ForkServerContext, SpawnContext

__all__ = ["PRELOAD", "context"]

PRELOAD = [
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
