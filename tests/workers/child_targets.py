"""Entry points for children started by ``workers._procs.run_child`` in tests.

They live in a module of their own so a child imports only this (and what the
forkserver preloaded). Each takes the write end of the pipe last, as real ones do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from multiprocessing.connection import Connection


def answer(data: bytes, conn: Connection) -> None:
    os.setsid()
    with open(conn.fileno(), "wb", closefd=False) as pipe:
        pipe.write(data)
    conn.close()


def answer_then_linger(data: bytes, seconds: float, conn: Connection) -> None:
    answer(data, conn)
    time.sleep(seconds)


def exit_with(code: int, conn: Connection) -> None:
    os.setsid()
    sys.exit(code)


def hang_with_grandchild(pid_file: str, conn: Connection) -> None:
    """Start a grandchild in our process group, say its pid, then never answer."""
    os.setsid()
    sleeper = subprocess.Popen(["sleep", "600"])
    with open(pid_file, "w", encoding="ascii") as f:
        f.write(str(sleeper.pid))
    time.sleep(600)
