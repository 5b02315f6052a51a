"""Child processes for captures and probes: the context they start from, and
starting, reading and stopping one from the event loop.

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
module spec. ``preserver.cli.commands.main`` gives its console script one; other
programs that run captures should do the same or run under ``python -m``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess

from workers.errors import CaptureFailed

__all__ = ["PRELOAD", "context", "read_all", "start", "stop"]

log = logging.getLogger(__name__)

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


async def start(proc: BaseProcess) -> None:
    """Start ``proc`` off the loop (the first start launches the forkserver, ~0.5 s).

    If we are cancelled meanwhile, the start still finishes so the child can be stopped.
    """
    started = asyncio.ensure_future(asyncio.to_thread(proc.start))
    try:
        await asyncio.shield(started)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await started
        raise


async def read_all(reader: asyncio.StreamReader, *, limit: int) -> bytes:
    """Everything the child writes until EOF; ``CaptureFailed`` past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await reader.read(1 << 16):
        size += len(chunk)
        if size > limit:
            raise CaptureFailed(f"child process sent more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def stop(proc: BaseProcess, *, grace: float) -> int | None:
    """Make sure the child and its process group are gone, reap it, return its exit code."""
    if proc.pid is None:
        return None
    for sig, wait in ((None, grace), (signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
        if sig is not None:
            _signal_group(proc.pid, sig)
        if await _exited(proc, wait):
            break
    proc.join(0)
    exitcode = proc.exitcode
    if exitcode is not None:
        proc.close()
    else:  # pragma: no cover - SIGKILL failed: nothing more we can do
        log.error("child process %s did not exit after SIGKILL", proc.pid)
    return exitcode


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The child calls setsid() first thing, so its pid is its group id; a child
    # killed before that has no group yet (ESRCH) and is signalled alone.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


async def _exited(proc: BaseProcess, wait: float) -> bool:
    end = time.monotonic() + wait
    while proc.is_alive():
        if time.monotonic() >= end:
            return False
        await asyncio.sleep(0.02)
    return True
