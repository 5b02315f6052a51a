"""How fast `preserver` starts and answers: `--help`, and every read command (`status`,
`links`, `show`, `lookup`, `linkrot`) on a small archive, each beside its target from
issue 12 (`--help` in at most 0.3 s, a read command in at most 0.6 s), in one run.

    .venv/bin/python bench/startup.py [--runs 15] [--links 20] [--before CHECKOUT]

The archive is built once through the real CLI: `preserver preserve` of a report citing
LINKS pages of a local fixture site (tests/support/fixture_site.py, on 127.0.0.1; the
browser off), so each target has a capture, its files, a manifest and custody events;
then `preserver checkpoint`. Each figure is the median wall time, and the median CPU time
(user + system), of RUNS fresh `python -m preserver` processes (after one unmeasured run
that warms the disk cache), run in turn so that the load of this shared machine falls on
all of them alike; CPU time is the steadier figure when the machine is busy (then a
command waits for a core: "met in CPU time only" says it would be in time on an idle one). With
`--before`, the same commands also run from another checkout (say `main`'s) on the same
archive, and the script says whether each printed the same bytes (but linkrot's
`generated_at` and status's free space, which change from run to run). The lines `python -c pass` (the interpreter's own
start), `import yt_dlp` and the ORM (what the read path no longer loads) give the scale.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fixture_site import FixtureSite, html_page

HELP, READ = 0.3, 0.6  # issue 12's targets, seconds of wall time
# The async ORM and the models' base: what every read loaded before the read path
_ORM = "import sqlalchemy.ext.asyncio, sqlalchemy.dialects.sqlite.aiosqlite, sqlmodel"
# What changes between two runs of one command: linkrot's time, the disk's free space
_VARIES = re.compile(rb'"generated_at": "[^"]*"|"free_bytes": \d+|free space[^\n]*')
CONFIG = ('data_dir = "archive"\noperator = "bench"\n[network]\n'
          'allow_networks = ["127.0.0.1/32"]\n[collection]\nip_echo_url = ""\nntp_server = ""\n'
          '[browser]\nenabled = false\n')


def _env(root: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    env["PYTHONPATH"] = str(root)
    return env


def _cli(folder: Path, *args: str) -> bytes:
    return subprocess.run([sys.executable, "-m", "preserver", "--config",
                           str(folder / "config.toml"), *args], check=True,
                          capture_output=True, env=_env(), cwd=folder).stdout


def _archive(folder: Path, links: int) -> tuple[str, str]:
    """An archive of one report whose ``links`` pages were captured: (a target key, a file
    of the archive to look up)."""
    (folder / "config.toml").write_text(CONFIG, encoding="utf-8")
    site = FixtureSite.start()
    try:
        lines = [f"{i}- source {i}\n" + site.add_bytes(
            f"/post/{i}", html_page(title=f"Post {i}", body=f"<p>post {i}</p>"), "text/html")
            + "\n" for i in range(1, links + 1)]
        (folder / "report.txt").write_text("".join(lines), encoding="utf-8")
        _cli(folder, "preserve", "report.txt")
        _cli(folder, "checkpoint")
    finally:
        site.close()
    blob = next(p for p in (folder / "archive" / "blobs").rglob("*") if p.is_file())
    (folder / "found.bin").write_bytes(blob.read_bytes())
    return f"web:{site.url('/post/1')}", "found.bin"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(argv: list[str], cwd: Path, root: Path) -> tuple[float, float, bytes]:
    """(wall, CPU) seconds of one run of ``argv``, and what it printed."""
    cpu, started = _cpu(), time.perf_counter()
    done = subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          env=_env(root), cwd=cwd)
    return time.perf_counter() - started, _cpu() - cpu, done.stdout


def _commands(key: str, found: str) -> dict[str, list[str]]:
    cfg = ["--config", "config.toml"]
    return {"--help": ["--help"], "status": [*cfg, "status"],
            "status --json": [*cfg, "status", "--json"], "links": [*cfg, "links"],
            "links --json": [*cfg, "links", "--json"], "show": [*cfg, "show", key],
            "show --json": [*cfg, "show", "--json", key], "lookup": [*cfg, "lookup", found],
            "linkrot": [*cfg, "linkrot"],
            "linkrot --format json": [*cfg, "linkrot", "--format", "json"]}


def _rows(key: str, found: str, before: Path | None) -> list[tuple[str, list[str], Path]]:
    """(label, argv, checkout) of each measured command."""
    py, cli = sys.executable, [sys.executable, "-m", "preserver"]
    rows = [("python -c pass", [py, "-c", "pass"], ROOT),
            ('python -c "import yt_dlp"', [py, "-c", "import yt_dlp"], ROOT),
            ("python -c (the ORM alone)", [py, "-c", _ORM], ROOT)]
    for name, args in _commands(key, found).items():
        rows.append((name, [*cli, *args], ROOT))
        if before is not None:
            rows.append((f"{name} (before)", [*cli, *args], before))
    return rows


def _line(label: str, values: list[tuple[float, float, bytes]], base: float,
          same: bool | None) -> str:
    wall = statistics.median(w for w, _, _ in values)
    cpu = statistics.median(c for _, c, _ in values)
    name = label if label.startswith("python") else f"preserver {label}"
    target = None if label.startswith("python") or label.endswith("(before)") else \
        (HELP if label == "--help" else READ)
    verdict = "" if target is None else \
        f"{target:.1f} s  {wall / target:5.2f} {cpu / target:5.2f}   " + (
            "met" if wall <= target else "met in CPU time only" if cpu <= target else "MISSED")
    output = {None: "", True: "   same output", False: "   OUTPUT DIFFERS"}[same]
    return f"  {name:40}{wall:7.3f}s{wall - base:+9.3f}s{cpu:7.3f}s   {verdict}{output}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--before", type=Path, help="another checkout to time as well")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="preserver-startup-") as tmp:
        folder = Path(tmp)
        rows = _rows(*_archive(folder, opts.links), opts.before)
        for _, argv, root in rows:
            _once(argv, folder, root)  # warm the disk cache, unmeasured
        runs: dict[str, list[tuple[float, float, bytes]]] = {label: [] for label, _, _ in rows}
        for _ in range(opts.runs):
            for label, argv, root in rows:
                runs[label].append(_once(argv, folder, root))
    base = statistics.median(wall for wall, _, _ in runs["python -c pass"])
    print(f"median of {opts.runs} runs; archive of {opts.links} captured links "
          f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    print(f"  {'command':40}{'wall':>8}{'-python':>10}{'CPU':>8}   target  wall/  CPU/target")
    for label, values in runs.items():
        before = runs.get(f"{label} (before)")
        same = None if before is None else \
            _VARIES.sub(b"", values[-1][2]) == _VARIES.sub(b"", before[-1][2])
        print(_line(label, values, base, same))


if __name__ == "__main__":
    main()
