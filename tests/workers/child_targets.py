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


def extractor_modules_loaded(conn: Connection) -> None:
    """Answer how many of yt-dlp's extractor modules were imported, and how many lazy
    extractors have not loaded their real class, before this child did anything."""
    from yt_dlp.extractor import gen_extractor_classes
    modules = sum(1 for name in sys.modules if name.startswith("yt_dlp.extractor."))
    lazy = sum(1 for ie in gen_extractor_classes()
               if hasattr(ie, "_module") and "_real_class" not in ie.__dict__)
    answer(f"{modules} {lazy}".encode(), conn)
