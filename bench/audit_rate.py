"""Checks per second of `preserver audit` over N fixture targets, unthrottled with its
answers committed in batches against one transaction per check (the path before
batching), and with the default politeness, side by side in one run, and the memory.

    .venv/bin/python bench/audit_rate.py [--targets 10000] [--hosts 50] [--no-polite]

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
from preserver.audit.runner import COMMIT_EVERY
from preserver.config import load_config
from preserver.ingest.report import ingest_report
from tests.support.fixture_site import FixtureSite

UNLIMITED = "concurrency = 64\nper_host = 64\nrate = 1000000\n"


def audit_in_child(sites: list[FixtureSite], targets: int, limits: str, root: Path,
                   commit_every: int = COMMIT_EVERY) -> dict[str, Any]:
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
    done = subprocess.run([sys.executable, "-m", "tests.support.audit_memory", str(cfg),
                           str(commit_every)],
                          capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--no-polite", action="store_true", help="skip the default-politeness run")
    args = parser.parse_args()
    sites = [FixtureSite.start(f"127.0.0.{2 + i}") for i in range(args.hosts)]
    try:
        for site in sites:
            site.add_bytes("/ok", b"<html><body>up</body></html>", "text/html")
        with tempfile.TemporaryDirectory() as tmp:
            runs = {
                f"unlimited, {COMMIT_EVERY}/commit": audit_in_child(
                    sites, args.targets, UNLIMITED, Path(tmp) / "unlimited"),
                "unlimited, 1/commit": audit_in_child(
                    sites, args.targets, UNLIMITED, Path(tmp) / "per-check", commit_every=1),
            }
            if not args.no_polite:
                runs["default politeness"] = audit_in_child(sites, args.targets, "",
                                                            Path(tmp) / "polite")
    finally:
        for site in sites:
            site.close()
    print(f"{args.targets} web targets on {args.hosts} fixture hosts, each audit in its "
          "own process")
    for name, got in runs.items():
        blocks = got["blocks"]
        print(f"  {name + ':':24}{got['checked'] / got['seconds']:8.1f} checks/s  "
              f"({got['seconds']:6.1f} s; memory +{(got['end_kib'] - got['opened_kib']) / 1024:.1f}"
              f" MiB over the open archive, peak RSS {got['end_kib'] / 1024:.0f} MiB, live "
              f"allocations from check 2,000 to the last: {max(blocks[1:]) - blocks[1]:+d} "
              "at most)")
    rates = {name: got["checked"] / got["seconds"] for name, got in runs.items()}
    fast, per_check = rates[f"unlimited, {COMMIT_EVERY}/commit"], rates["unlimited, 1/commit"]
    print(f"  ratio batched / per-check commits: {fast / per_check:.2f}")
    if "default politeness" in rates:
        print(f"  ratio polite / unlimited: {rates['default politeness'] / fast:.2f}")


if __name__ == "__main__":
    main()
