"""How fast `preserver` starts: `--help`, and the read commands `status`, `links` and
`show` on a small archive, against `python -c pass` and `python -c "import yt_dlp"`,
side by side in one run.

    .venv/bin/python bench/startup.py [--runs 15] [--links 20] [--before CHECKOUT]

Each figure is the median wall time, and the median CPU time (user + system) of RUNS
fresh `python -m preserver` processes (after one unmeasured run that warms the disk
cache), run in turn so that the load of this shared machine falls on all of them
alike; CPU time is the steadier figure when the machine is busy. With `--before`, the
same commands also run from another checkout (say `main`'s), on the same archive. The archive is made in a temporary
folder by `preserver ingest` of a report citing LINKS links (nothing is captured, no
network is used). Targets from issue 12: `--help` in at most 0.3 s, a read command in
at most 0.6 s. The column to read beside the time is the excess over `python -c pass`,
the interpreter's own start; the yt-dlp line shows what importing it alone costs, and
the ORM line what SQLAlchemy's async ORM and SQLModel cost, which every read needs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGETS = {"--help": 0.3, "status": 0.6, "links": 0.6, "show": 0.6}
# What any read command pays before it reads a row: the async ORM and the models' base
_ORM = "import sqlalchemy.ext.asyncio, sqlalchemy.dialects.sqlite.aiosqlite, sqlmodel"


def _env(root: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    env["PYTHONPATH"] = str(root)
    return env


def _archive(folder: Path, links: int) -> Path:
    """A config and an archive holding one ingested report of ``links`` web links."""
    config = folder / "config.toml"
    config.write_text('data_dir = "archive"\n', encoding="utf-8")
    report = folder / "report.txt"
    report.write_text("".join(f"{i}- source\nhttps://example.org/post/{i}\n"
                              for i in range(1, links + 1)), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "preserver", "--config", str(config), "ingest",
                    str(report)], check=True, capture_output=True, env=_env(), cwd=folder)
    return config


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(argv: list[str], cwd: Path, root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``argv``."""
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=_env(root), cwd=cwd)
    return time.perf_counter() - started, _cpu() - cpu


def _rows(config: str, before: Path | None) -> list[tuple[str, list[str], Path]]:
    """(label, argv, checkout) of each measured command."""
    py, cli = sys.executable, [sys.executable, "-m", "preserver"]
    commands = {"--help": ["--help"], "status": ["--config", config, "status"],
                "links": ["--config", config, "links"],
                "show": ["--config", config, "show", "web:https://example.org/post/1"]}
    rows = [("python -c pass", [py, "-c", "pass"], ROOT),
            ('python -c "import yt_dlp"', [py, "-c", "import yt_dlp"], ROOT),
            ("python -c (the ORM alone)", [py, "-c", _ORM], ROOT)]
    for name, args in commands.items():
        rows.append((name, [*cli, *args], ROOT))
        if before is not None:
            rows.append((f"{name} (before)", [*cli, *args], before))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--before", type=Path, help="another checkout to time as well")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="preserver-startup-") as tmp:
        folder = Path(tmp)
        rows = _rows(str(_archive(folder, opts.links)), opts.before)
        for _, argv, root in rows:
            _once(argv, folder, root)  # warm the disk cache, unmeasured
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in rows}
        for _ in range(opts.runs):
            for label, argv, root in rows:
                runs[label].append(_once(argv, folder, root))
    base = statistics.median(wall for wall, _ in runs["python -c pass"])
    print(f"median of {opts.runs} runs; archive of {opts.links} links "
          f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    print(f"  {'command':34}{'wall':>8}{'over python':>13}{'CPU':>8}   target (wall)")
    for label, values in runs.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        target = TARGETS.get(label)
        verdict = "" if target is None else \
            f"<= {target:.1f} s {'met' if wall <= target else 'MISSED'}"
        name = label if label.startswith("python") else f"preserver {label}"
        print(f"  {name:34}{wall:7.3f}s{wall - base:+12.3f}s{cpu:7.3f}s   {verdict}")


if __name__ == "__main__":
    main()
