"""A work directory under ``tmp/`` that a killed process does not leave there for good.

``work_dir(tmp_dir, prefix)`` makes ``<prefix><hex>/``, holds an exclusive ``flock(2)``
on it while it is in use and removes it after. A process killed with SIGKILL (or a power
cut) cannot remove its directory, but the kernel drops its lock; so each new work
directory first removes every ``<prefix>*`` directory whose lock it can take: no live
process is using it. The directory is made under a hidden name and renamed once locked,
so a sweep never sees one that is not locked yet. On a filesystem without locks
(ENOLCK) nothing is swept.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def work_dir(tmp_dir: Path, prefix: str) -> Iterator[Path]:
    """A new, locked ``tmp_dir/<prefix><hex>`` (removed after); raises ``OSError``."""
    sweep(tmp_dir, prefix)
    name = f"{prefix}{uuid.uuid4().hex}"
    hidden = tmp_dir / f".{name}"
    hidden.mkdir(parents=True)
    work = hidden
    try:
        fd = os.open(hidden, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _lock(fd)
            work = hidden.rename(tmp_dir / name)
            yield work
        finally:
            os.close(fd)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sweep(tmp_dir: Path, prefix: str) -> int:
    """Remove the ``<prefix>*`` directories no live process holds; returns how many."""
    removed = 0
    for path in tmp_dir.glob(f"{prefix}*"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # not a directory, or gone meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: in use; ENOLCK: cannot tell
            continue
        else:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed


def _lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if exc.errno != errno.ENOLCK:  # a filesystem without locks: used unlocked
            raise
