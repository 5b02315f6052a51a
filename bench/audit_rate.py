"""Checks per second of `preserver audit` over N fixture targets, with the default
politeness against none, side by side in one run, and the audit's peak Python memory.

    .venv/bin/python bench/audit_rate.py [--targets 10000] [--hosts 50]

The targets are web links spread over HOSTS fixture sites on 127.0.0.x (one politeness
group each), so the default limits (2 probes at once and 1 request per second per
group, 8 at once in all) are what bounds the polite run. The figure to read is the
ratio; absolute rates depend on this shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preserver.app import open_archive
from preserver.audit import audit
from preserver.config import load_config
from preserver.reports import ingest_report
from tests.fixture_site import FixtureSite


async def run(targets: int, hosts: int, unlimited: bool, root: Path) -> tuple[float, int, int]:
    sites = [FixtureSite.start(f"127.0.0.{2 + i}") for i in range(hosts)]
    try:
        for site in sites:
            site.add_bytes("/ok", b"<html><body>up</body></html>", "text/html")
        report = root / ("unlimited.txt" if unlimited else "polite.txt")
        report.write_text("".join(
            f"{i + 1}- رابط {i + 1}\n{sites[i % hosts].url('/ok')}?n={i}\n"
            for i in range(targets)), encoding="utf-8")
        limits = ("concurrency = 64\nper_host = 64\nrate = 1000000\n" if unlimited else "")
        cfg = root / ("u.toml" if unlimited else "p.toml")
        cfg.write_text(f'data_dir = "{root / cfg.stem}"\n[network]\nallow_networks = '
                       f'["127.0.0.0/8"]\n[audit]\n{limits}', encoding="utf-8")
        async with open_archive(load_config(cfg, env={})) as archive:
            await ingest_report(archive, report)
            tracemalloc.start()
            start = time.perf_counter()
            summary = await audit(archive, everything=True)
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return elapsed, summary.checked, peak
    finally:
        for site in sites:
            site.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fast, n_fast, peak_fast = asyncio.run(run(args.targets, args.hosts, True, root))
        slow, n_slow, peak_slow = asyncio.run(run(args.targets, args.hosts, False, root))
    print(f"{args.targets} web targets on {args.hosts} fixture hosts")
    print(f"  unlimited:          {n_fast / fast:8.1f} checks/s  ({fast:6.1f} s, "
          f"peak {peak_fast / 2**20:.1f} MiB)")
    print(f"  default politeness: {n_slow / slow:8.1f} checks/s  ({slow:6.1f} s, "
          f"peak {peak_slow / 2**20:.1f} MiB)")
    print(f"  ratio polite / unlimited: {(n_slow / slow) / (n_fast / fast):.2f}")


if __name__ == "__main__":
    main()
