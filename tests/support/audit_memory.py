"""Run by ``test_audit.py`` in a process of its own: audit every target of the archive
configured by ``argv[1]`` and print, as JSON, how many were checked, in how many
seconds (and CPU seconds, its threads' included), the process's peak resident memory (``VmHWM``, KiB) once the archive is open,
after ``EARLY`` checks (when every batch the audit holds at once has been read) and at
the end, and the count of live Python allocations every ``EARLY`` checks. Also used by
``bench/audit_rate.py``. The seconds are the audit's: the full collections that make
the counts comparable (about 60 ms each, a twentieth of a 10,000-check audit) are left
out of them, and given as ``sampling_seconds``.

    python -m tests.support.audit_memory CONFIG [COMMIT_EVERY]

``COMMIT_EVERY``: answers per transaction (``audit(commit_every=...)``; 1: one per check).

``VmHWM`` rather than ``getrusage``: Linux carries a parent's peak across fork and exec
into the child's ``ru_maxrss``, so a child of a large test process would report the
parent's peak.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from preserver.archive import open_archive
from preserver.audit.runner import COMMIT_EVERY, audit
from preserver.config import load_config
from tests.support.ingest_memory import peak_kib

EARLY = 1_000


async def main(config: Path, commit_every: int = COMMIT_EVERY) -> dict[str, Any]:
    early: list[int] = []
    blocks: list[int] = []
    sampling = [0.0, 0.0]  # wall and CPU seconds spent counting, not auditing

    def progress(done: int, total: int, key: str) -> None:
        if done == EARLY:
            early.append(peak_kib())
        if done % EARLY == 0:
            wall, cpu = time.perf_counter(), time.process_time()
            gc.collect()  # a full collection of the whole process: about 60 ms each
            blocks.append(sys.getallocatedblocks())
            sampling[0] += time.perf_counter() - wall
            sampling[1] += time.process_time() - cpu

    async with open_archive(load_config(config, env={})) as archive:
        opened = peak_kib()
        start, cpu = time.perf_counter(), time.process_time()
        summary = await audit(archive, everything=True, progress=progress,
                              commit_every=commit_every)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"checked": summary.checked, "changed": summary.changed, "opened_kib": opened,
            "early_kib": early[0] if early else 0, "end_kib": peak_kib(), "blocks": blocks,
            "seconds": seconds - sampling[0], "cpu_seconds": cpu - sampling[1],
            "sampling_seconds": sampling[0]}


if __name__ == "__main__":
    every = int(sys.argv[2]) if len(sys.argv) > 2 else COMMIT_EVERY
    print(json.dumps(asyncio.run(main(Path(sys.argv[1]), every))))
