"""Checks per second of `preserver audit --all` over N web targets on loopback: the
figure (unthrottled, answers committed in batches), the baseline (unthrottled, one
transaction per check: the path before batching) and the target (1,000 checks/s), side
by side in one run, with the memory; optionally the default politeness too.

    .venv/bin/python bench/audit_rate.py [--targets 10000] [--hosts 50] [--polite]

"Unthrottled": the bench sets ``[audit] concurrency = 64``, ``per_host = 64`` and
``rate = 1000000``, which no real audit should use; the defaults (8 probes at once, 2 per
group, 1 request per second per group) bound the polite run. Every probe still goes
through the address guard (``[network] allow_networks = ["127.0.0.0/8"]`` lets it reach
loopback).

The targets are web links spread over HOSTS addresses 127.0.0.x (one politeness group,
one origin each). They are served by ``bench/_http_load.py``, a minimal asyncio HTTP/1.1
server with keep-alive in a process of its own: the load generator, not the product (the
fixture site of the tests, a thread per connection in the same process, cost the audit
more than the audit itself). Each audit runs in a process of its own
(``tests/support/audit_memory.py``). Besides checks per second (wall clock) the bench
prints checks per CPU second of the audit's process: on this shared machine the wall
clock says as much about the other processes as about the audit; the ratios within a
run are the figures to compare. The seconds leave out the full garbage collections
``audit_memory`` makes every 1,000 checks to count live allocations (printed apart; about
0.6 s of a 10,000-check audit): they measure the bench, not the audit.
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

TARGET = 1000.0  # checks per second (issue 12)
UNLIMITED = "concurrency = 64\nper_host = 64\nrate = 1000000\n"


def audit_in_child(base_urls: list[str], targets: int, limits: str, root: Path,
                   commit_every: int = COMMIT_EVERY) -> dict[str, Any]:
    root.mkdir()
    report = root / "report.txt"
    report.write_text("".join(f"{i + 1}- رابط {i + 1}\n{base_urls[i % len(base_urls)]}/ok?n={i}\n"
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
    parser.add_argument("--polite", action="store_true",
                        help="also audit with the default politeness (about targets/hosts s)")
    args = parser.parse_args()
    hosts = [f"127.0.0.{2 + i}" for i in range(args.hosts)]
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_http_load.py"), "0", *hosts],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        urls = [f"http://{host}:{port}" for host in hosts]
        with tempfile.TemporaryDirectory() as tmp:
            runs = {
                f"figure (unthrottled, {COMMIT_EVERY}/commit)": audit_in_child(
                    urls, args.targets, UNLIMITED, Path(tmp) / "unlimited"),
                "baseline (unthrottled, 1/commit)": audit_in_child(
                    urls, args.targets, UNLIMITED, Path(tmp) / "per-check", commit_every=1),
            }
            if args.polite:
                runs["default politeness"] = audit_in_child(urls, args.targets, "",
                                                            Path(tmp) / "polite")
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    print(f"{args.targets} web targets on {args.hosts} loopback hosts (served by a process of "
          "its own), each audit in its own process")
    for name, got in runs.items():
        blocks = got["blocks"]
        print(f"  {name + ':':36}{got['checked'] / got['seconds']:7.1f} checks/s "
              f"{got['checked'] / got['cpu_seconds']:7.1f} checks/CPU-s  "
              f"({got['seconds']:5.1f} s, and {got['sampling_seconds']:.1f} s counting memory left out;"
              f" memory +{(got['end_kib'] - got['opened_kib']) / 1024:.1f}"
              f" MiB over the open archive, peak RSS {got['end_kib'] / 1024:.0f} MiB, live "
              f"allocations from check 2,000 to the last: {max(blocks[1:]) - blocks[1]:+d} "
              "at most)")
    print(f"  {'target:':36}{TARGET:7.1f} checks/s")
    rates = {name: got["checked"] / got["seconds"] for name, got in runs.items()}
    cpu = {name: got["checked"] / got["cpu_seconds"] for name, got in runs.items()}
    figure, baseline = (f"figure (unthrottled, {COMMIT_EVERY}/commit)",
                        "baseline (unthrottled, 1/commit)")
    print(f"  figure / baseline: {rates[figure] / rates[baseline]:.2f} (wall), "
          f"{cpu[figure] / cpu[baseline]:.2f} (CPU); figure / target: "
          f"{rates[figure] / TARGET:.2f} (wall), {cpu[figure] / TARGET:.2f} (CPU)")
    if "default politeness" in rates:
        print(f"  polite / figure: {rates['default politeness'] / rates[figure]:.2f}")


if __name__ == "__main__":
    main()
