"""Captures per second with 1, 2 and 4 `preserver worker` processes on one PostgreSQL
database, side by side, and the speed-up over one worker.

    .venv/bin/python bench/workers_scaling.py [--targets 200] [--workers 1,2,4]
        [--hosts 20] [--latency 0.5] [--concurrency 4] [--postgres URL]

TARGETS fixture videos (small real MP4s made with ffmpeg, served by the test suite's
fixture site) spread over HOSTS loopback addresses 127.0.1.x, one politeness group each;
each answer waits LATENCY seconds before its first byte, as a distant server would. Each
worker gets its own source address (``[network] source_address`` = 127.0.0.1N, as an
outside address would be on a machine with several) and the bench checks that the site
saw each worker's captures come from its address alone.

For each count: a fresh database (on the server of ``--postgres`` or
``PRESERVER_TEST_POSTGRES_URL``) and data directory; the workers are started and idle
first, then one report citing every target is ingested and the clock runs until every
job is done (woken by NOTIFY, not timed with the workers' start-up). Politeness holds
throughout: ``[capture] per_host`` (2) counts every worker's jobs (``[queue]
global_per_host``), so HOSTS x 2 captures at most run at once in all.

On this shared 2-core machine a capture costs CPU (a forked child, yt-dlp, ffprobe,
hashing, fsyncs), so the figures say how far the work scales on two cores, not on N
machines; the ratios within one run are the figures to compare. The last row is one
worker with as many capture slots as the most workers have together (``[capture]
concurrency`` x N): what N processes buy over one with the same concurrency.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cli import run_cli
from tests.support.fixture_site import FixtureSite, make_clip, send
from tests.support.workers import Workers, pg_database, query, wait_for, worker_config


def _slow(body: bytes, latency: float):  # type: ignore[no-untyped-def]
    def handler(req):  # type: ignore[no-untyped-def]
        if req.command == "GET":
            time.sleep(latency)
        send(req, 200, body, "video/mp4")

    return handler


def run(count: int, *, links: list[str], sites: list[FixtureSite], concurrency: int,
        base_concurrency: int, base: Path) -> dict[str, float | str]:
    root = base / f"workers-{count}-{concurrency}"
    root.mkdir()
    for site in sites:
        site.hits.clear()
    with pg_database() as url:
        config = worker_config(root, database_url=url, lease="2m", poll="5s")
        config.write_text(config.read_text(encoding="utf-8").replace(
            "[capture]\n", f"[capture]\nconcurrency = {concurrency}\n"), encoding="utf-8")
        report = root / "report.txt"
        report.write_text("".join(f"{n}- رابط\n{link}\n" for n, link in enumerate(links, 1)),
                          encoding="utf-8")
        workers = Workers(config=config, logs=root / "logs")
        try:
            addresses = [f"127.0.0.{11 + n}" for n in range(count)]
            run_cli("run", config=config, cwd=root, check=0)  # the archive: key, schema
            started = []
            for address in addresses:
                worker = workers.start(env={"PRESERVER_NETWORK_SOURCE_ADDRESS": address})
                wait_for("started", lambda w=worker: "worker started" in w.text)
                started.append(worker)
            time.sleep(1.0)
            t0 = time.monotonic()
            run_cli("ingest", str(report), config=config, cwd=root, check=0)
            wait_for("done", lambda: query(
                url, "SELECT count(*) AS n FROM jobs WHERE state = 'done'")[0].n == len(links),
                timeout=3600)
            took = time.monotonic() - t0
            for worker in started:
                workers.stop(worker, timeout=60)
        finally:
            workers.close()
        captured = query(url, "SELECT count(*) AS n FROM captures WHERE state = 'complete'")[0].n
    clients = {hit.client for site in sites for hit in site.hits}
    assert clients <= set(addresses), f"connections from {clients - set(addresses)}"
    return {"workers": f"{count}" if concurrency == base_concurrency else
            f"{count} (x{concurrency})", "seconds": took, "per_second": len(links) / took,
            "complete": captured, "sources": ",".join(sorted(clients))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("PRESERVER_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    if not args.postgres:
        sys.exit("give --postgres URL or PRESERVER_TEST_POSTGRES_URL "
                 "(postgresql+asyncpg://user@host/db)")
    os.environ["PRESERVER_TEST_POSTGRES_URL"] = args.postgres
    import tests.support.postgres as pg

    pg.PG_URL = args.postgres
    with tempfile.TemporaryDirectory(prefix="workers-scaling-") as tmp:
        base = Path(tmp)
        clips = [make_clip(base / "clips" / f"{n}.mp4", freq=300 + 50 * n, duration=1)
                 for n in range(10)]
        sites = [FixtureSite.start(host=f"127.0.1.{n + 1}") for n in range(args.hosts)]
        try:
            links = []
            for n in range(args.targets):
                body = clips[n % len(clips)].read_bytes()
                links.append(sites[n % len(sites)].add(f"/v/{n}.mp4", _slow(body, args.latency)))
            counts = [int(c) for c in args.workers.split(",")]
            rows = [run(c, links=links, sites=sites, concurrency=args.concurrency,
                        base_concurrency=args.concurrency, base=base) for c in counts]
            # one process with as many capture slots as the most workers have in all
            rows.append(run(1, links=links, sites=sites,
                            concurrency=args.concurrency * max(counts),
                            base_concurrency=args.concurrency, base=base))
        finally:
            for site in sites:
                site.close()
    first = rows[0]["per_second"]
    assert isinstance(first, float)
    print(f"{args.targets} targets on {args.hosts} hosts, {args.latency:g} s latency, "
          f"concurrency {args.concurrency} per worker, per_host 2 across all workers")
    print(f"{'workers':>9} {'seconds':>8} {'captures/s':>10} {'speed-up':>8} "
          f"{'complete':>8}  sources seen")
    for row in rows:
        per_second = row["per_second"]
        assert isinstance(per_second, float)
        print(f"{row['workers']:>9} {row['seconds']:>8.1f} {per_second:>10.2f} "
              f"{per_second / first:>7.2f}x {row['complete']:>8}  {row['sources']}")


if __name__ == "__main__":
    main()
