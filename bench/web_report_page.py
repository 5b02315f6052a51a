"""How long ``GET /reports/{sha256}`` takes, and how big it is, for one report of 10,000
citations over 10,000 targets, against the targets (under 1 s, under ~2 MB of HTML), side
by side with the CLI's view of the same data (``preserver links --json --report NAME``).

    .venv/bin/python bench/web_report_page.py [--citations 10000] [--runs 5]
        [--cli-runs 1] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
        [--no-sqlite]

The archive is built through the real schema: ``preserver ingest`` of a generated report
(numbered Arabic labels, each above a distinct link: YouTube, Facebook or web), then
set-based SQL statements on the archive's own database (``INSERT … SELECT`` over
``targets``) give the targets a mix of availability, job states, captures (complete,
partial, failed; an older failed one beside some complete ones) and their files. Nothing
is captured from the network. With ``--database-url`` (a PostgreSQL server; the database
it names is used only to connect) the same runs on a fresh PostgreSQL database, dropped
afterwards.

``preserver web`` runs as a process of its own on 127.0.0.1; each figure is the median of
``--runs`` requests (after one warm-up) timed by the client over the loopback, so it
includes sending the body. The one-page alternative (every citation on one page) is
measured in this process: the same view and template, rendered once per run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.postgres import scratch_database

TARGET_SECONDS, TARGET_BYTES = 1.0, 2 * 10**6
_NAMES = ("محمد أحمد الخطيب", "فاطمة حسن", "عبد الله يوسف", "ليلى إبراهيم النجار", "سامر")


def report_text(citations: int) -> str:
    """Numbered Arabic entries, each followed by a link of its own."""
    parts = ["تقرير: توثيق الضحايا\n"]
    for n in range(citations):
        match n % 3:
            case 0:
                url = f"https://youtu.be/{n:011d}"[:28]
            case 1:
                url = f"https://www.facebook.com/watch/?v={10**9 + n}"
            case _:
                url = f"https://example.org/news/{n}/statement-{n}.html"
        parts.append(f"{n + 1}- {_NAMES[n % len(_NAMES)]} ({n + 1})\n{url}\n")
    return "".join(parts)


def _preserver(config: Path, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    done = subprocess.run([sys.executable, "-m", "preserver", "--config", str(config), *args],
                          input=stdin, capture_output=True, text=True, env=env, cwd=ROOT,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"preserver {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _fill_sql(dialect: str) -> list[str]:
    """The statements that give the ingested targets their states and copies."""
    hexed = ("printf('%064x', {v})" if dialect == "sqlite" else "lpad(to_hex({v}), 64, '0')")
    manifest = hexed.format(v="t.id")
    old = hexed.format(v="t.id + 1000000000")
    media = hexed.format(v="t.id + 2000000000")
    page = hexed.format(v="t.id + 3000000000")
    return [
        ("UPDATE targets SET status = CASE id % 7 WHEN 0 THEN 'removed_policy' WHEN 1 THEN "
        "'private' WHEN 2 THEN 'unknown' WHEN 3 THEN 'not_found' ELSE 'available' END"),
        ("UPDATE jobs SET state = CASE target_id % 10 WHEN 7 THEN 'queued' WHEN 8 THEN 'retry' "
        "WHEN 9 THEN 'running' ELSE 'done' END WHERE kind = 'capture'"),
        # one capture each for targets 0-6 (mod 10): complete, partial (5), failed (6)
        ("INSERT INTO captures (id, target_id, state, status, message, requested_url, "
        "started_at, finished_at, manifest_sha256, signature_sha256, key_id, seen_as) "
        "SELECT 'bench-' || t.id, t.id, CASE t.id % 10 WHEN 5 THEN 'partial' WHEN 6 THEN "
        "'failed' ELSE 'complete' END, 'available', '', t.url, :now, :now, "
        f"{manifest}, {manifest}, {manifest}, 'anonymous, direct' FROM targets t "
        "WHERE t.id % 10 < 7"),
        # an older failed capture beside the complete ones of targets 0-1 (mod 10)
        ("INSERT INTO captures (id, target_id, state, status, message, requested_url, "
        "started_at, finished_at, manifest_sha256, signature_sha256, key_id, seen_as) "
        "SELECT 'bench-old-' || t.id, t.id, 'failed', 'error', 'timed out', t.url, :old, :old, "
        f"{old}, {old}, {old}, 'anonymous, direct' FROM targets t WHERE t.id % 10 < 2"),
        ("INSERT INTO files (capture_id, role, name, sha256, size, media_type) "
        f"SELECT 'bench-' || t.id, 'media', 'clip.mp4', {media}, 1000000 + t.id, 'video/mp4' "
        "FROM targets t WHERE t.id % 10 < 5"),
        ("INSERT INTO files (capture_id, role, name, sha256, size, media_type) "
        f"SELECT 'bench-' || t.id, 'page', 'page.warc.gz', {page}, 20000 + t.id, "
        "'application/warc' FROM targets t WHERE t.id % 10 < 6"),
    ]


async def fill(url: str) -> None:
    engine = create_async_engine(url)
    now = datetime.now(UTC)
    times = {"now": now, "old": now - timedelta(days=3)}
    try:
        async with engine.begin() as conn:
            binds: dict[str, object] = dict(times)
            if engine.dialect.name == "sqlite":  # as SQLAlchemy writes a UTC time there
                binds = {k: v.replace(tzinfo=None).isoformat(" ", "microseconds")
                         for k, v in times.items()}
            for sql in _fill_sql(engine.dialect.name):
                await conn.execute(sa.text(sql), {k: v for k, v in binds.items()
                                                  if f":{k}" in sql})
            if engine.dialect.name == "postgresql":
                await conn.execute(sa.text("ANALYZE"))
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median_request(client: httpx.Client, path: str, runs: int) -> tuple[float, int]:
    client.get(path).raise_for_status()  # warm-up
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        response.raise_for_status()
        size = len(response.content)
    return statistics.median(times), size


async def one_page(config: Path, sha: str, runs: int) -> tuple[float, int]:
    """Every citation on one page: the same view and template, rendered in this process."""
    from preserver.archive import read_archive
    from preserver.config import load_config
    from preserver.views.report import report_of
    from preserver.web.render import environment

    env, times, size = environment(), [], 0
    async with read_archive(load_config(config, env={})) as archive:
        for _ in range(runs):
            start = time.perf_counter()
            found = await report_of(archive.db, sha)
            assert found is not None
            for item in found["items"]:
                item["href"] = "/targets/" + item["key"]
            html = env.get_template("report.html").render(
                lang="en", dir="ltr", t=lambda key, **_: key, principal=None, csrf="",
                path="/", report=found, items=found["items"], paged=False,
                state_names={s: s for s in ("complete", "partial", "failed", "queued",
                                            "running", "retry", "done", "not_queued")},
                status_names={i["availability"]: i["availability"] for i in found["items"]},
                page_number=1, pages=1, first=1, last=len(found["items"]))
            times.append(time.perf_counter() - start)
            size = len(html.encode())
    return statistics.median(times), size


async def links_view(config: Path, name: str, runs: int) -> float:
    """``views.links`` of the report alone: the CLI's query, without printing."""
    from preserver.archive import read_archive
    from preserver.config import load_config
    from preserver.views import links

    times = []
    async with read_archive(load_config(config, env={})) as archive:
        for _ in range(runs):
            start = time.perf_counter()
            await links(archive.db, report=name)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(config: Path, citations: int, runs: int, cli_runs: int, label: str) -> None:
    root = config.parent
    report = root / "bench-report.txt"
    report.write_text(report_text(citations), encoding="utf-8")
    start = time.perf_counter()
    _preserver(config, "ingest", str(report))
    ingested = time.perf_counter() - start
    from preserver.config import load_config

    url = load_config(config, env={}).db_url
    asyncio.run(fill(url))
    import hashlib

    sha = hashlib.sha256(report.read_bytes()).hexdigest()
    token = _preserver(config, "token", "create", "--role", "viewer", "--label",
                       "bench").strip()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    log = (root / "web.log").open("w", encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "preserver", "--config", str(config), "web",
                               "--port", str(port)], cwd=ROOT, env=env, stderr=log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/api/me").raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("preserver web did not start") from None
                    time.sleep(0.1)
            page, page_size = _median_request(client, f"/reports/{sha}", runs)
            last, last_size = _median_request(client, f"/reports/{sha}?page="
                                              f"{-(-citations // 1000)}", runs)
            api, api_size = _median_request(client, f"/api/reports/{sha}", runs)
    except httpx.HTTPStatusError:
        server.terminate()
        server.wait(timeout=30)
        raise SystemExit("preserver web failed:\n"
                         + (root / "web.log").read_text(encoding="utf-8")[-3000:]) from None
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    whole, whole_size = asyncio.run(one_page(config, sha, runs))
    cli = []
    for _ in range(cli_runs):
        start = time.perf_counter()
        _preserver(config, "links", "--json", "--report", report.name)
        cli.append(time.perf_counter() - start)
    baseline = statistics.median(cli)
    view = asyncio.run(links_view(config, report.name, runs))
    print(f"\n{label}: one report of {citations:,} citations over {citations:,} targets "
          f"(ingested in {ingested:.1f} s); medians of {runs}")
    print(f"{'':<44} {'seconds':>8} {'target':>7} {'KB':>7} {'target':>7} {'/ CLI':>7} "
          f"{'/ view':>7}")
    rows: list[tuple[str, float, int]] = [
        ("GET /reports/{sha} (page 1 of 1,000 rows)", page, page_size),
        ("GET /reports/{sha}?page=last", last, last_size),
        ("all rows on one page (view + template)", whole, whole_size),
        ("GET /api/reports/{sha} (JSON, all rows)", api, api_size),
    ]
    for name, seconds, size in rows:
        print(f"{name:<44} {seconds:>8.3f} {TARGET_SECONDS:>7.1f} {size / 1000:>7,.0f} "
              f"{TARGET_BYTES / 1000:>7,.0f} {seconds / baseline:>7.2f} {seconds / view:>7.2f}")
    print(f"{'baseline: preserver links --json --report':<44} {baseline:>8.3f} "
          f"{'':>7} {'':>7} {'':>7} {1:>7.2f} {baseline / view:>7.1f}   "
          f"(median of {cli_runs}, a process each)")
    print(f"{'baseline: its query alone (views.links)':<44} {view:>8.3f} "
          f"{'':>7} {'':>7} {'':>7} {view / baseline:>7.2f} {1:>7.2f}   (in process)")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citations", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=1,
                        help="runs of the CLI baseline (a minute or more each at 10,000)")
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql+asyncpg://...)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if not args.no_sqlite:
            (tmp / "sqlite").mkdir()
            config = tmp / "sqlite" / "config.toml"
            config.write_text(f'data_dir = "{tmp / "sqlite" / "archive"}"\n'
                              'operator = "bench"\n', encoding="utf-8")
            measure(config, args.citations, args.runs, args.cli_runs, "SQLite")
        if args.database_url:
            with scratch_database(args.database_url, f"bench_report_{os.getpid()}") as url:
                (tmp / "pg").mkdir()
                config = tmp / "pg" / "config.toml"
                config.write_text(f'data_dir = "{tmp / "pg" / "archive"}"\n'
                                  f'database_url = "{url}"\noperator = "bench"\n',
                                  encoding="utf-8")
                measure(config, args.citations, args.runs, args.cli_runs, "PostgreSQL")

if __name__ == "__main__":
    main()
