"""Time and peak memory of ``ingest_report`` on reports of 10,000 and 100,000 links (and
1,000,000 with ``--big``), this checkout side by side with a baseline, on SQLite and,
with ``--database-url``, on PostgreSQL too, against the target of 300 MB peak RSS.

    .venv/bin/python bench/ingest_scale.py [--baseline REV_OR_DIR] [--big] [--sizes 10000,100000]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--no-sqlite]

The reports are in the Douma shape (``tests/support/ingest_memory.douma_report``:
numbered Arabic entries, each followed by a YouTube, Facebook or web link, every tenth
one cited again). Each ingest runs into a fresh archive in a process of its own
(``tests/support/ingest_memory.py`` run as a script), which reports its seconds and its
peak resident memory (``VmHWM``). The archive's database is SQLite, and with
``--database-url`` (a PostgreSQL server's URL; the database it names is used only to
connect) also a fresh PostgreSQL database created for each ingest and dropped after it.
``--baseline`` runs the same reports against other
code: a directory holding a checkout of preserver, or a git revision exported with
``git archive`` into a temporary directory (``--baseline main`` before a change is
merged). The 1,000,000-link baseline is run only with ``--big-baseline`` (the code before
streaming ingest did not finish it in 25 minutes). Absolute figures depend on this shared
machine; read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.ingest_memory import douma_report
from tests.support.postgres import scratch_database

CHILD = ROOT / "tests" / "support" / "ingest_memory.py"
TARGET_MIB = 300 * 10**6 / 2**20  # "< 300 MB RSS" (issue 14)



def ingest_in_child(code: Path, report: Path, root: Path, server: str = "") -> dict[str, Any]:
    """Ingest ``report`` into a fresh archive under ``root`` with the preserver in ``code``:
    SQLite, or a PostgreSQL database made on ``server`` for it and dropped afterwards."""
    if not server:
        return _ingest(code, report, root, "")
    with scratch_database(server, f"bench_ingest_{os.getpid()}_{root.name.replace('-', '_')}"
                          ) as url:
        return _ingest(code, report, root, url)


def _ingest(code: Path, report: Path, root: Path, database_url: str) -> dict[str, Any]:
    root.mkdir(parents=True)
    cfg = root / "config.toml"
    cfg.write_text(f'data_dir = "{root / "archive"}"\n'
                   + (f'database_url = "{database_url}"\n' if database_url else ""),
                   encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    env["PYTHONPATH"] = str(code)
    # -P: not tests/support on sys.path (its workers.py would shadow the package)
    done = subprocess.run([sys.executable, "-P", str(CHILD), str(cfg), str(report)],
                          capture_output=True, text=True, env=env, check=False, cwd=root)
    if done.returncode != 0:
        raise SystemExit(f"ingest with {code} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def baseline_code(spec: str, tmp: Path) -> Path:
    if Path(spec).is_dir():
        return Path(spec).resolve()
    out = tmp / "baseline"
    out.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", spec], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def row(name: str, got: dict[str, Any]) -> str:
    peak = got["end_kib"] / 1024
    return (f"{name:>20}: {got['seconds']:8.1f} s  peak {peak:8.1f} MiB "
            f"(+{(got['end_kib'] - got['opened_kib']) / 1024:7.1f} over the open archive; "
            f"{peak / TARGET_MIB:.2f} x the 300 MB target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision or a directory with older code")
    parser.add_argument("--sizes", default="10000,100000", help="links per report, comma-separated")
    parser.add_argument("--big", action="store_true", help="also 1,000,000 links")
    parser.add_argument("--big-baseline", action="store_true",
                        help="also run the baseline on 1,000,000 links")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server (postgresql+asyncpg://...): also ingest there")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    backends = ([] if args.no_sqlite else [("SQLite", "")]) + (
        [("PostgreSQL", args.database_url)] if args.database_url else [])
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.big else [])
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        base = baseline_code(args.baseline, tmp) if args.baseline else None
        for size in sizes:
            report = tmp / f"douma-{size}.ar.txt"
            report.write_text(douma_report(size), encoding="utf-8")
            print(f"{size:,} links ({report.stat().st_size / 2**20:.1f} MiB report), "
                  "each ingest in its own process:")
            results = {}
            for db_name, server in backends:
                results[db_name] = mine = ingest_in_child(ROOT, report, tmp / f"new-{size}-{db_name}", server)
                print(row(f"this, {db_name}", mine) + f"  {mine['targets']:,} targets")
                sys.stdout.flush()
            if base is None or (size >= 1_000_000 and not args.big_baseline):
                continue
            mine = results.get("SQLite", mine)  # the baseline runs on SQLite
            old = ingest_in_child(base, report, tmp / f"old-{size}")
            print(row("baseline, SQLite", old))
            if (old["citations"], old["targets"], old["queued"]) != (
                    mine["citations"], mine["targets"], mine["queued"]):
                print(f"  counts differ: baseline {old}, this {mine}")
            print(f"{'ratio':>9}: {mine['seconds'] / old['seconds']:8.2f} x time, "
                  f"{mine['end_kib'] / old['end_kib']:.2f} x peak")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
