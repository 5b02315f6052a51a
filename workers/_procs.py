"""Child processes for captures and probes: the context they start from, and one
runner that starts a child, reads its answer, enforces the deadline and stops it.

``forkserver`` with yt-dlp preloaded: the server process imports yt-dlp and
its extractor table once (and compiles every extractor's URL pattern, see
``_forkserver_warm``), and each job forks from it. Measured here, one small
local capture end to end: median 0.27 s with ``forkserver`` against 1.33 s
with ``spawn``, which re-imports yt-dlp and recompiles ~1,900 patterns per
job; starting the server costs about 1.3 s once. The server is a fresh
interpreter, so it holds none of the parent's threads, sockets or event loop.
Where ``forkserver`` does not exist (Windows) ``spawn`` is used.

The parent's main script is not re-run in each child: see ``_spare_children_the_main_script``,
applied when the context is first created.

``run_child`` is the one way a child runs (``workers.media``, ``workers._probe_child``):

1. start it off the event loop (the first start launches the forkserver);
2. read what it writes to its pipe until EOF, at most ``limit`` bytes, before the
   deadline, calling ``watch`` every ``watch_interval`` seconds meanwhile;
3. parse the answer (``parse`` raises ``CaptureFailed`` for a bad one);
4. stop it: a child that answered gets ``grace`` seconds to exit, then its process
   group gets SIGTERM, then SIGKILL. Exits are seen on the process sentinel
   (``add_reader``), never by polling;
5. no answer at all is ``CaptureFailed`` naming the exit code.

Every child runs through ``_child_main``: it dies with its parent (the forkserver,
which exits when the process that started it dies) and so does every program it
starts (``workers.lifetime``). A ``kill -9`` of the preserver process leaves no
capture downloading.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.machinery
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import TypeVar

from workers.errors import CaptureFailed
from workers.lifetime import children_die_with_this_process, die_with_parent, process_start

__all__ = ["PRELOAD", "context", "run_child", "start_capture_server"]

log = logging.getLogger(__name__)

T = TypeVar("T")

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
    # the audit's probe children; ``import workers`` no longer loads it (``workers._lazy``)
    "workers._probe_child",
]

_READ_SIZE = 1 << 16
_TERM_WAIT = 1.0  # seconds between SIGTERM and SIGKILL
_KILL_WAIT = 5.0  # seconds a SIGKILLed child gets to be reaped


@functools.cache
def context() -> ForkServerContext | SpawnContext:
    """The context capture processes are started from (created on first use)."""
    _spare_children_the_main_script()
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def start_capture_server() -> None:
    """Start the forkserver now, in a background thread, so that its preload (yt-dlp,
    every extractor's pattern, the plugins: about 1 s of one core) runs while the
    caller opens the archive and reads its reports, not in front of the first job.
    Returns at once; a later ``run_child`` waits for the server if it is still
    loading. Does nothing where there is no forkserver (``spawn``)."""
    if isinstance(context(), ForkServerContext):
        threading.Thread(target=multiprocessing.forkserver.ensure_running,
                         name="forkserver-start", daemon=True).start()


def _spare_children_the_main_script() -> None:
    """Children must not re-run the parent's main script (a console script: the whole CLI).

    multiprocessing prepares each child by re-running the parent's main script
    when ``__main__`` has no module spec (a script, a console script), and
    CPython 3.11's forkserver never preloads it (``ensure_running`` filters for a
    ``main_path`` key that ``get_preparation_data`` calls ``init_main_from_path``):
    every capture and probe would import the ``preserver`` CLI again (about
    0.9 s). A spec named ``__main__`` makes children skip that step
    (``spawn._fixup_main_from_name``), as they skip it under ``python -m``.
    Our children's entry points live in ``workers``, never in a main script.
    A program that also starts its own spawn or forkserver children from
    functions in its main script should run under ``python -m``.
    """
    main_module = sys.modules.get("__main__")
    if main_module is not None and getattr(main_module, "__spec__", None) is None:
        main_module.__spec__ = importlib.machinery.ModuleSpec("__main__", None)


async def run_child(
    target: Callable[..., None],
    args: tuple[object, ...],
    *,
    name: str,
    timeout: float,
    limit: int,
    parse: Callable[[bytes], T],
    what: str = "child process",
    grace: float = 2.0,
    watch: Callable[[], None] | None = None,
    watch_interval: float = 0.25,
) -> T:
    """Run ``target(*args, conn)`` in a child and return ``parse`` of what it wrote to ``conn``.

    The child must write its answer to ``conn`` and exit. Raises ``TimeoutError``
    when ``timeout`` seconds pass first, ``CaptureFailed`` past ``limit`` bytes, for
    a bad answer or for none (``"<what> ended without a result (exit code N)"``),
    and whatever ``watch`` raises. In every case, cancellation included, the
    child and its process group are gone when this returns.
    """
    ctx = context()
    read_conn, write_conn = ctx.Pipe(duplex=False)
    owner = os.getpid()
    proc = ctx.Process(target=_child_main,
                       args=(owner, process_start(owner), target, *args, write_conn),
                       name=name, daemon=True)
    answered = False
    try:
        async with asyncio.timeout(timeout):
            await _start(proc)
            write_conn.close()  # the child holds the only write end: EOF when it exits
            data = await _read(read_conn, limit, watch, watch_interval)
        if data:
            result = parse(data)
            answered = True
    finally:
        write_conn.close()
        read_conn.close()
        # Shielded: a second cancellation must not leave the child running.
        exitcode = await asyncio.shield(_stop(proc, grace=grace if answered else 0.0))
    if not answered:
        raise CaptureFailed(f"{what} ended without a result (exit code {exitcode})")
    return result


# A child whose owner died before it could ask to follow its parent exits with this.
ORPHANED_EXIT = 70


def _child_main(owner: int, owner_start: int | None, target: Callable[..., None],
                *args: object) -> None:
    """In the child: die with the parent, make every program started here die with us,
    then run ``target(*args)``.

    The parent is the forkserver, which outlives ``owner`` (the process that asked for
    this child) only until it reads end-of-file on its pipe from it. The death signal
    covers a parent that dies after the request; an owner already gone (or its pid
    reused: the start time differs) is checked right after it, and the child exits.
    """
    _release_forkserver()
    if die_with_parent() and process_start(owner) != owner_start:
        os._exit(ORPHANED_EXIT)
    children_die_with_this_process()
    target(*args)


def _release_forkserver() -> None:
    """Let the forkserver exit when the process that started it dies, this child running.

    The server exits on end-of-file from its "alive" pipe, and CPython hands each
    child a copy of that pipe's write end (``_forkserver_alive_fd``): any running
    child kept the server, and so itself (its parent), alive after a ``kill -9`` of
    the owner. A child starts no processes through the server, so it closes its copy.
    """
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int) and multiprocessing.parent_process() is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


async def _start(proc: BaseProcess) -> None:
    """Start ``proc`` off the loop (the first start launches the forkserver, ~1.3 s).

    If we are cancelled meanwhile, the start still finishes so the child can be stopped.
    """
    started = asyncio.ensure_future(asyncio.to_thread(proc.start))
    try:
        await asyncio.shield(started)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await started
        raise


async def _read(conn: Connection, limit: int, watch: Callable[[], None] | None,
                interval: float) -> bytes:
    """Everything the child writes until EOF; ``CaptureFailed`` past ``limit`` bytes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), conn
    )
    read = asyncio.ensure_future(_read_all(reader, limit))
    try:
        while True:
            done, _ = await asyncio.wait({read}, timeout=interval if watch else None)
            if done:
                return read.result()
            if watch is not None:
                watch()
    finally:
        read.cancel()
        transport.close()


async def _read_all(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await reader.read(_READ_SIZE):
        size += len(chunk)
        if size > limit:
            raise CaptureFailed(f"child process sent more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _stop(proc: BaseProcess, *, grace: float) -> int | None:
    """Make sure the child and its process group are gone, reap it, return its exit code."""
    if proc.pid is None:
        return None
    for sig, wait in ((None, grace), (signal.SIGTERM, _TERM_WAIT), (signal.SIGKILL, _KILL_WAIT)):
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
    """True once ``proc`` has exited, False if ``wait`` seconds pass first.

    The sentinel becomes readable when the child exits (forkserver: the server
    writes its exit status there; spawn: the child's end of a pipe closes).
    """
    if not proc.is_alive():
        return True
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    loop.add_reader(proc.sentinel, exited.set)
    try:
        async with asyncio.timeout(wait):
            await exited.wait()
    except TimeoutError:
        return not proc.is_alive()
    finally:
        loop.remove_reader(proc.sentinel)
    return True
