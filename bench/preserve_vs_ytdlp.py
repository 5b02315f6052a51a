"""`preserver preserve` of a 20-video report from a local fixture site against one
`yt-dlp -a` batch and a serial `yt-dlp URL` loop over the same URLs, side by side.

    .venv/bin/python bench/preserve_vs_ytdlp.py [--videos 20] [--seconds 4] [--runs 3]
                                                [--before CHECKOUT] [--no-loop]

Each link is a direct MP4 (the fixture site's generic case), all on one host, so the
default politeness applies to preserver: 4 jobs at once, at most 2 per host. preserver
does more per link than yt-dlp (a WARC page snapshot, hashing into the blob store with
fsyncs, a signed manifest, custody events, the database) and starts from nothing each
run (a fresh archive: key, schema); yt-dlp downloads the media only. Issue 12's
target: preserver at least 1.5x the speed of the batch, at default politeness.

Every tool runs RUNS times in turn (after one unmeasured run each, so disks and
bytecode are warm, as on a machine where the tools are installed), and each figure is
the median: wall time, and CPU time (user + system of the whole process tree), the
steadier figure on a busy machine. With `--before`, preserver also runs from another
checkout (say `main`'s) on the same URLs. The ratio, not the absolute time, is the
figure (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fixture_site import FixtureSite, make_clip

Timing = tuple[float, float]  # wall seconds, CPU seconds of the process tree


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> Timing:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _env(checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PRESERVER_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(checkout)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=4, help="length of each fixture video")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout of preserver to compare")
    parser.add_argument("--no-loop", action="store_true", help="skip the serial yt-dlp loop")
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        site = FixtureSite.start()
        try:
            urls = []
            for i in range(args.videos):
                clip = make_clip(root / "media" / f"v{i}.mp4", freq=300 + 20 * i,
                                 duration=args.seconds)
                urls.append(site.add_file(f"/videos/v{i}.mp4", clip, "video/mp4"))
            report = root / "report.ar.txt"
            report.write_text("".join(f"{i + 1}- ضحية رقم {i + 1}\n{u}\n"
                                      for i, u in enumerate(urls)), encoding="utf-8")
            (root / "urls.txt").write_text("".join(u + "\n" for u in urls), encoding="utf-8")
            config = root / "config.toml"
            config.write_text('data_dir = "archive"\noperator = "bench"\n'
                              '[network]\nallow_networks = ["127.0.0.1/32"]\n'
                              '[collection]\nip_echo_url = ""\nntp_server = ""\n',
                              encoding="utf-8")

            def preserver(checkout: Path) -> Callable[[], Timing]:
                def once() -> Timing:
                    shutil.rmtree(root / "archive", ignore_errors=True)
                    return _timed([sys.executable, "-m", "preserver", "--config", str(config),
                                   "preserve", str(report)], _env(checkout), root)
                return once

            def batch() -> Timing:
                shutil.rmtree(root / "batch", ignore_errors=True)
                return _timed([str(bindir / "yt-dlp"), "-q", "--no-progress", "-P",
                               str(root / "batch"), "-o", "%(id)s.%(ext)s", "-a",
                               str(root / "urls.txt")], _env(ROOT), root)

            def loop() -> Timing:
                shutil.rmtree(root / "loop", ignore_errors=True)
                wall = cpu = 0.0
                for url in urls:
                    w, c = _timed([str(bindir / "yt-dlp"), "-q", "--no-progress", "-P",
                                   str(root / "loop"), "-o", "%(id)s.%(ext)s", url],
                                  _env(ROOT), root)
                    wall, cpu = wall + w, cpu + c
                return wall, cpu

            tools: dict[str, Callable[[], Timing]] = {"preserver": preserver(ROOT),
                                                      "yt-dlp -a batch": batch}
            if args.before:
                tools["preserver (before)"] = preserver(args.before.resolve())
            if not args.no_loop:
                tools["yt-dlp loop"] = loop
            for run in tools.values():  # warm: disk cache, bytecode
                run()
            times: dict[str, list[Timing]] = {name: [] for name in tools}
            for _ in range(args.runs):
                for name, run in tools.items():
                    times[name].append(run())
        finally:
            site.close()
    print(f"{args.videos} direct videos of {args.seconds} s from the fixture site, one host "
          f"(default politeness: 4 jobs at once, 2 per host); median of {args.runs} runs")
    medians = {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
               for name, t in times.items()}
    for name, (wall, cpu) in medians.items():
        print(f"  {name:20s} wall {wall:6.2f} s   CPU {cpu:6.2f} s")
    wall, cpu = medians["preserver"]
    bwall, bcpu = medians["yt-dlp -a batch"]
    print(f"  preserver is {bwall / wall:.2f}x the speed of the batch (target >= 1.5x); "
          f"it uses {cpu / bcpu:.2f}x the batch's CPU")
    if "preserver (before)" in medians:
        owall, ocpu = medians["preserver (before)"]
        print(f"  before: {bwall / owall:.2f}x the speed of the batch, {ocpu / bcpu:.2f}x its "
              f"CPU; this checkout is {owall / wall:.2f}x as fast and uses {cpu / ocpu:.2f}x "
              "the CPU")
    if "yt-dlp loop" in medians:
        print(f"  preserver is {medians['yt-dlp loop'][0] / wall:.2f}x the speed of the loop")


if __name__ == "__main__":
    main()
