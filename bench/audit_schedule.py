"""Scheduling 1,000,000 audit checks a day on PostgreSQL: checks scheduled per second and
peak memory of ``preserver audit`` over 100,000 and 1,000,000 due targets.

    .venv/bin/python bench/audit_schedule.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
        [--sizes 100000,1000000] [--hosts 50]

For each size a fresh PostgreSQL database is created (and dropped afterwards), given the
real schema by opening it as an archive (``open_archive`` migrates it, as ``preserver
migrate`` does), and filled directly with N web targets (``COPY``, their keys made by
``canonical_target``), every one due (``next_check_at`` in the past, spread over the
last day), over HOSTS host names (one politeness group each). Then ``audit`` (the
scheduled audit, not ``--all``) runs over them in a process of its own: it reads the due
targets ``BATCH`` at a time by keyset paging, runs their checks under the global and
per-group limits, records every answer (check rows, the targets' new state and
``next_check_at``, a custody event per state change: every target goes from ``unknown``
to ``available``), ``COMMIT_EVERY`` answers per transaction.

**The network probe is stubbed at its seam, and only it**: ``preserver.audit.runner.probe``
is replaced in the child by a coroutine that answers ``available`` (HTTP 200) at once.
Everything around it (selection, limits, the per-check client lease, recording, the
schedule) is the product's. The probe's own speed is ``bench/audit_rate.py``'s figure
(loopback HTTP); this bench measures what scheduling and recording a million checks
costs, and whether memory stays flat: the peak resident memory (``VmHWM``) of the audit
at 100,000 and at 1,000,000 targets should be about equal.

The target is 1,000,000 checks a day, 11.6 checks/s; the figure is the headroom ratio.
Limits for the bench: ``[audit] concurrency = 64``, ``per_host = 64``, ``rate = 1000000``.
Absolute figures depend on this shared machine (2 cores, PostgreSQL on the same host).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg

from tests.support.ingest_memory import peak_kib
from tests.support.postgres import scratch_database

TARGET = 1_000_000 / 86_400  # checks per second: 1,000,000 a day (issue 14)
LIMITS = "[audit]\nconcurrency = 64\nper_host = 64\nrate = 1000000\n"



def _rows(size: int, hosts: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    from preserver.ingest.targets import canonical_target

    for n in range(size):
        target = canonical_target(f"http://h{n % hosts}.example/ok?n={n}")
        due = now - timedelta(seconds=1 + (n * 86_399) // size)  # spread over the last day
        yield (target.key, target.url, target.platform, "unknown", due, due)


async def fill(config: Path, url: str, size: int, hosts: int) -> float:
    """The real schema (by opening the archive), then ``size`` due targets by COPY."""
    from preserver.archive import open_archive
    from preserver.config import load_config

    async with open_archive(load_config(config, env={})):
        pass
    start = time.perf_counter()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.copy_records_to_table(
            "targets", records=_rows(size, hosts, datetime.now(UTC)),
            columns=["key", "url", "platform", "status", "next_check_at", "created_at"])
        await conn.execute("ANALYZE targets")
    finally:
        await conn.close()
    return time.perf_counter() - start


async def child(config: Path) -> dict[str, Any]:
    """Run in the child: the scheduled audit with the network probe stubbed."""
    from preserver.archive import open_archive
    from preserver.audit import runner
    from preserver.config import load_config
    from workers import ProbeResult, Status

    async def answered(target: Any, **_: Any) -> ProbeResult:  # the network seam, stubbed
        await asyncio.sleep(0)
        return ProbeResult(status=Status.AVAILABLE, http_status=200, message="", probe="page",
                           transient=False)

    runner.probe = answered  # type: ignore[assignment]
    marks: dict[int, int] = {}

    def progress(done: int, total: int, key: str) -> None:
        if done in (1_000, 10_000, 100_000):
            marks[done] = peak_kib()

    async with open_archive(load_config(config, env={})) as archive:
        opened = peak_kib()
        start, cpu = time.perf_counter(), time.process_time()
        summary = await runner.audit(archive, progress=progress)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"checked": summary.checked, "changed": summary.changed, "seconds": seconds,
            "cpu_seconds": cpu, "opened_kib": opened, "marks": marks, "end_kib": peak_kib()}


def run(server: str, size: int, hosts: int, tmp: Path) -> dict[str, Any]:
    with scratch_database(server, f"bench_audit_{os.getpid()}_{size}") as url:
        root = tmp / str(size)
        root.mkdir()
        config = root / "config.toml"
        config.write_text(f'data_dir = "{root / "archive"}"\ndatabase_url = "{url}"\n{LIMITS}',
                          encoding="utf-8")
        filled = asyncio.run(fill(config, url, size, hosts))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
        done = subprocess.run([sys.executable, "-P", str(Path(__file__)), "--child", str(config)],
                              capture_output=True, text=True, env=env, check=False, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"audit of {size} targets failed:\n{done.stderr[-3000:]}")
        got: dict[str, Any] = json.loads(done.stdout)
        got["fill_seconds"] = filled
        return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+asyncpg://...)")
    parser.add_argument("--sizes", default="100000,1000000", help="due targets, comma-separated")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(Path(args.child)))))
        return
    if not args.database_url:
        parser.error("--database-url is required (a PostgreSQL server)")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"scheduled audit on PostgreSQL, network probe stubbed (answers at once), "
          f"{args.hosts} groups; target {TARGET:.1f} checks/s (1,000,000 a day)")
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as name:
        for size in sizes:
            got = run(args.database_url, size, args.hosts, Path(name))
            rate = got["checked"] / got["seconds"]
            peaks[size] = got["end_kib"] / 1024
            marks = ", ".join(f"after {k:,}: {v / 1024:.0f}" for k, v in
                              sorted((int(k), v) for k, v in got["marks"].items()))
            print(f"{size:>9,} due: {got['checked']:,} checked ({got['changed']:,} changed) in "
                  f"{got['seconds']:.0f} s = {rate:,.0f} checks/s "
                  f"({got['checked'] / got['cpu_seconds']:,.0f} per CPU-s of the audit), "
                  f"{rate / TARGET:,.0f} x the target; peak RSS {peaks[size]:.0f} MiB "
                  f"(open archive {got['opened_kib'] / 1024:.0f}; {marks}); "
                  f"filled by COPY in {got['fill_seconds']:.0f} s")
            sys.stdout.flush()
    if len(peaks) > 1:
        small, big = min(peaks), max(peaks)
        print(f"peak RSS at {big:,} / at {small:,}: {peaks[big] / peaks[small]:.2f} "
              "(flat memory: about 1)")


if __name__ == "__main__":
    main()
