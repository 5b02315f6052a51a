"""Checks per second of `preserver audit` over N fixture targets, with the default
politeness against none, side by side in one run, and the audit's memory.

    .venv/bin/python bench/audit_rate.py [--targets 10000] [--hosts 50]

The targets are web links spread over HOSTS fixture sites on 127.0.0.x (one politeness
group each), served from this process; each audit runs in a process of its own
(``tests/support/audit_memory.py``), so the two do not share an interpreter. The
default limits (8 probes at once, 2 per group, 1 request per second per group) are
what bounds the polite run. The figure to read is the ratio; absolute rates depend on
this shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from preserver.archive import open_archive
from preserver.config import load_config
from preserver.ingest.report import ingest_report
from tests.support.fixture_site import FixtureSite

UNLIMITED = "concurrency = 64\nper_host = 64\nrate = 1000000\n"


def audit_in_child(sites: list[FixtureSite], targets: int, limits: str, root: Path
                   ) -> dict[str, Any]:
    root.mkdir()
    report = root / "report.txt"
    report.write_text("".join(f"{i + 1}- رابط {i + 1}\n{sites[i % len(sites)].url('/ok')}?n={i}\n"
                              for i in range(targets)), encoding="utf-8")
    cfg = root / "config.toml"
    cfg.write_text(f'data_dir = "{root / "archive"}"\n[network]\n'
                   f'allow_networks = ["127.0.0.0/8"]\n[audit]\n{limits}', encoding="utf-8")

    async def ingest() -> None:
        async with open_archive(load_config(cfg, env={})) as archive:
            await ingest_report(archive, report)

    asyncio.run(ingest())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    done = subprocess.run([sys.executable, "-m", "tests.support.audit_memory", str(cfg)],
                          capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=50)
    args = parser.parse_args()
    sites = [FixtureSite.start(f"127.0.0.{2 + i}") for i in range(args.hosts)]
    try:
        for site in sites:
            site.add_bytes("/ok", b"<html><body>up</body></html>", "text/html")
        with tempfile.TemporaryDirectory() as tmp:
            fast = audit_in_child(sites, args.targets, UNLIMITED, Path(tmp) / "unlimited")
            slow = audit_in_child(sites, args.targets, "", Path(tmp) / "polite")
    finally:
        for site in sites:
            site.close()
    print(f"{args.targets} web targets on {args.hosts} fixture hosts, each audit in its "
          "own process")
    for name, got in (("unlimited", fast), ("default politeness", slow)):
        blocks = got["blocks"]
        print(f"  {name + ':':20}{got['checked'] / got['seconds']:8.1f} checks/s  "
              f"({got['seconds']:6.1f} s; memory +{(got['end_kib'] - got['opened_kib']) / 1024:.1f}"
              f" MiB over the open archive, live allocations from check 2,000 to the "
              f"last: {max(blocks[1:]) - blocks[1]:+d} at most)")
    rate = (slow["checked"] / slow["seconds"]) / (fast["checked"] / fast["seconds"])
    print(f"  ratio polite / unlimited: {rate:.2f}")


if __name__ == "__main__":
    main()
