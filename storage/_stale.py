"""Temporary blob files of a dead process, removed by the next store opened alone.

A write killed with SIGKILL (or a power cut) leaves its ``blob-*.partial`` in
``tmp_dir``: nothing of it is a blob, but nothing removes it either. Every writable
store holds a shared ``flock(2)`` on ``tmp_dir`` itself for as long as it is open, and
the kernel drops the locks of a dead process. A store being opened first asks for the
lock exclusively, without waiting: granted, no live store can be writing there, so
every partial file is garbage and is removed; then it holds the lock shared. Refused,
another store is open and the partials may be its: they stay until a store is opened
alone (docs/design.md, "Data directory").
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def hold_and_sweep(tmp_dir: Path, prefix: str, suffix: str) -> int:
    """Lock ``tmp_dir`` shared (the returned descriptor holds the lock until closed),
    having removed ``prefix*suffix`` files there if no other store held it."""
    fd = os.open(tmp_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # another store is open: its partials are in use
        except OSError:
            return fd  # a filesystem without locks (ENOLCK): nothing is swept, or held
        else:
            for path in tmp_dir.glob(f"{prefix}*{suffix}"):
                path.unlink(missing_ok=True)
        fcntl.flock(fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    return fd
