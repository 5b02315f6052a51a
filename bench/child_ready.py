"""Time from job start to child ready, for the yt-dlp child processes (probes and captures).

    .venv/bin/python bench/child_ready.py [--before /path/to/old/checkout] [--runs 15]

"Job start" is the call of ``workers._probe_child.run_ytdlp_probe``; "ready" is the first
line of the child's entry point, which ``_ready_child`` stands in for (it answers at once
with the ``time.monotonic()`` it started at, so no yt-dlp run is timed). "Done" is the
probe's return: the child's answer read and the child reaped. The first run of each
process also starts the forkserver and is shown apart.

Each checkout runs in a fresh interpreter started as a script, the way a console script
runs: "preserver CLI" imports ``preserver.cli.commands`` and does what its ``main`` does
before a command; "other script" imports it too but skips that. With ``--before`` the old
checkout's code is measured beside this one's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

if "--inner" in sys.argv:  # at the top, as a console script imports it (and a child re-runs it)
    import preserver.cli.commands as _commands


async def _measure(runs: int) -> dict[str, list[float]]:
    import bench._ready_child
    from workers import _probe_child
    from workers._probe_child import ProbeRequest, run_ytdlp_probe

    _probe_child.main = bench._ready_child.main  # type: ignore[assignment]
    req = ProbeRequest(url="https://example.invalid/", socket_timeout=1.0, allow_private=False,
                       allow_networks=())
    ready, done = [], []
    for _ in range(runs + 1):
        start = time.monotonic()
        answer = await run_ytdlp_probe(req, timeout=60.0)
        done.append(time.monotonic() - start)
        ready.append(float(answer.message) - start)
    return {"ready": ready, "done": done}


def _inner(runs: int, cli: bool) -> None:
    spare = getattr(_commands, "_spare_children_the_main_script", None)
    if cli and spare is not None:  # the old CLI's main did this before every command
        spare()
    print(json.dumps(asyncio.run(_measure(runs))))


def _run(tree: Path, runs: int, cli: bool) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{HERE}"}
    args = [sys.executable, __file__, "--inner", "--runs", str(runs)] + (["--cli"] if cli else [])
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


def _ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="an older checkout to compare with")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cli", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.inner:
        sys.path.append(str(HERE))
        _inner(opts.runs, opts.cli)
        return
    trees = ([("before", opts.before.resolve())] if opts.before else []) + [("after", HERE)]
    print(f"median of {opts.runs} runs after the first, in ms (first run: forkserver start)")
    print(f"{'parent':14} {'code':7} {'first ready':>11} {'ready':>7} {'done':>7}")
    for parent, cli in (("preserver CLI", True), ("other script", False)):
        for label, tree in trees:
            t = _run(tree, opts.runs, cli)
            first = f"{1000 * t['ready'][0]:11.1f}"
            print(f"{parent:14} {label:7} {first} {_ms(t['ready'][1:])} {_ms(t['done'][1:])}")


if __name__ == "__main__":
    main()
