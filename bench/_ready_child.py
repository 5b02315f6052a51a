"""The child side of ``child_ready.py``: stands in for ``workers._probe_child.main``.

It notes ``time.monotonic()`` (one clock for every process on Linux) as its first
act and answers with it in a probe report, so the parent can see when it was ready.
"""

from __future__ import annotations

import json
import os
import time
from multiprocessing.connection import Connection


def main(req: object, conn: Connection) -> None:
    ready = time.monotonic()
    os.setsid()  # as a real probe child does: its own process group
    report = {"status": "available", "message": repr(ready)}
    with open(conn.fileno(), "wb", closefd=False) as pipe:
        pipe.write(json.dumps(report).encode())
    conn.close()
