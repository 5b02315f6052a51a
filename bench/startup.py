"""How fast `preserver` starts: `--help`, and the read commands `status`, `links` and
`show` on a small archive, against `python -c pass` and `python -c "import yt_dlp"`,
side by side in one run.

    .venv/bin/python bench/startup.py [--runs 15] [--links 20]

Each figure is the median wall time of RUNS fresh `python -m preserver` processes
(after one unmeasured run that warms the disk cache), run in turn so that the load of
this shared machine falls on all of them alike. The archive is made in a temporary
folder by `preserver ingest` of a report citing LINKS links (nothing is captured, no
network is used). Targets from issue 12: `--help` in at most 0.3 s, a read command in
at most 0.6 s. The column to read beside the time is the excess over `python -c pass`,
the interpreter's own start; the yt-dlp line shows what importing it alone costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGETS = {"--help": 0.3, "status": 0.6, "links": 0.6, "show": 0.6}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
    env["PYTHONPATH"] = str(ROOT)
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


def _once(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=_env(), cwd=cwd)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--links", type=int, default=20)
    opts = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="preserver-startup-") as tmp:
        folder = Path(tmp)
        config = str(_archive(folder, opts.links))
        cli = [py, "-m", "preserver"]
        commands = {
            "python -c pass": [py, "-c", "pass"],
            'python -c "import yt_dlp"': [py, "-c", "import yt_dlp"],
            "--help": [*cli, "--help"],
            "status": [*cli, "--config", config, "status"],
            "links": [*cli, "--config", config, "links"],
            "show": [*cli, "--config", config, "show", "web:https://example.org/post/1"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for name, argv in commands.items():
            _once(argv, folder)  # warm the disk cache, unmeasured
        for _ in range(opts.runs):
            for name, argv in commands.items():
                times[name].append(_once(argv, folder))
    base = statistics.median(times["python -c pass"])
    print(f"median of {opts.runs} runs, wall time; archive of {opts.links} links "
          f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    print(f"  {'command':28}{'median':>9}{'over python':>13}{'target':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        target = TARGETS.get(name)
        verdict = "" if target is None else f"≤ {target:.1f} s {'met' if median <= target else 'MISSED'}"
        label = name if name.startswith("python") else f"preserver {name}"
        print(f"  {label:28}{median:8.3f}s{median - base:+12.3f}s   {verdict}")


if __name__ == "__main__":
    main()
