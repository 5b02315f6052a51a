"""The processes below this test's process, read from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path


def descendants(pid: int | None = None) -> list[tuple[int, str]]:
    """(pid, command line, its NULs as spaces) of every process below ``pid`` (this one
    by default), through each thread's ``children`` list; a process gone meanwhile is
    left out."""
    top = os.getpid() if pid is None else pid
    found, todo = [], [top]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(p) for p in (task / "children").read_text().split()]
            if current != top:
                found.append((current, Path(f"/proc/{current}/cmdline").read_bytes()
                               .replace(b"\0", b" ").decode("utf-8", "replace")))
        except OSError:
            continue
    return found
