"""Child processes die with the process that started them; a process is named by
its pid *and* its start time, so a reused pid is never taken for it (Linux).

A capture or probe child is forked by the forkserver (``workers._procs``), not by
the preserver process: its parent is the server. When the preserver process dies,
even by SIGKILL, the server reads end-of-file on its "alive" pipe and exits; each
child has asked the kernel (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, prctl(2)) to be
killed when its parent goes, so it follows the server at once. Every program a
child starts (ffmpeg) asks the same before ``exec`` (the request survives
execve(2), not fork(2)), so the chain ends with nothing left downloading.

The kernel fires the signal only for a parent that dies *after* the request: a
child checks right after asking that the process it follows is still there.

Elsewhere than Linux none of this exists: ``die_with_parent`` says so by returning
False and ``process_start`` answers None.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["children_die_with_this_process", "die_with_parent", "process_start"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# /proc/<pid>/stat after the ")" that ends the command name: field 3 (state) is
# index 0, field 22 (starttime, clock ticks after boot) index 19 (proc(5)).
_STATE, _STARTTIME = 0, 19


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here, not at the top: only children ask, and read commands start faster

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    function: Callable[..., int] = prctl
    return function


def die_with_parent() -> bool:
    """Ask for SIGKILL when this process's parent dies. False where that cannot be asked."""
    prctl = _prctl()
    if prctl is None:
        return False
    import ctypes

    return prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0) == 0


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot), or None when it is gone, a
    zombie, or cannot be seen (no ``/proc``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if len(fields) <= _STARTTIME or fields[_STATE] in ("Z", "X", "x"):
        return None
    try:
        return int(fields[_STARTTIME])
    except ValueError:
        return None


def children_die_with_this_process() -> None:
    """Every program this process starts through ``subprocess`` from now on dies with it.

    Called in a capture child, whose yt-dlp starts ffmpeg through ``subprocess.Popen``.
    A caller's own ``preexec_fn`` is left alone.
    """
    if _prctl() is None:
        return
    parent = os.getpid()
    original = subprocess.Popen.__init__

    def follow_parent() -> None:  # in the new process, between fork and exec
        # Where prctl is refused (seccomp, gVisor) the program runs unbound, as it
        # would without this; only a parent already gone after the request stops it.
        if die_with_parent() and os.getppid() != parent:
            os._exit(127)  # the parent is already gone: run nothing

    def init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        if len(args) <= 6 and kwargs.get("preexec_fn") is None:  # not given (7th positional)
            kwargs["preexec_fn"] = follow_parent
        original(self, *args, **kwargs)

    subprocess.Popen.__init__ = init  # type: ignore[method-assign]
