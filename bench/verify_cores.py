"""What re-hashing the archive's blobs costs in ``preserver verify`` next to the two
things an archivist would run instead, side by side in one run.

    .venv/bin/python bench/verify_cores.py [--blobs 32] [--mib 32] [--repeat 3]

Builds a real archive in a temporary folder and puts ``--blobs`` random blobs of
``--mib`` MiB each straight through its blob store (1 GiB by default), reads every
file once so all three start from the page cache, then times on the same files:

- a single-threaded hashlib loop (1 MiB reads, one file after another),
- ``sha256sum --quiet -c`` over a checksum list of the blob files,
- ``verify_archive`` in process (its blob part: the archive holds only blobs),

and prints the median of ``--repeat`` runs of each, as MB/s and as ratios (higher
is faster). This machine is shared and noisy: the ratios are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preserver.archive import open_archive
from preserver.config import load_config
from preserver.verify.archive import verify_archive

CHUNK = 1 << 20


class _Random:
    """A stream of ``size`` random bytes, made a chunk at a time."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


async def build(config: Path, blobs: int, size: int) -> list[Path]:
    async with open_archive(load_config(config, env={})) as archive:
        store = archive.store
        shas = [store.put_stream(_Random(size)).sha256 for _ in range(blobs)]  # type: ignore[arg-type]
        return [store.path_of(sha) for sha in shas]  # type: ignore[attr-defined]


async def verify(config: Path) -> None:
    async with open_archive(load_config(config, env={})) as archive:
        findings = await verify_archive(archive)
    failed = [f for f in findings if f.outcome == "failed"]
    assert not failed, failed


def hashlib_loop(paths: list[Path]) -> None:
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        assert digest.hexdigest() == path.name


def timed(fn: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``fn()`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=32)
    parser.add_argument("--mib", type=int, default=32, help="MiB per blob")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = args.mib << 20
    total = args.blobs * size
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        config = tmp / "config.toml"
        config.write_text(f'data_dir = "{tmp / "archive"}"\n', encoding="utf-8")
        paths = asyncio.run(build(config, args.blobs, size))
        sums = tmp / "blobs.sha256"
        sums.write_text("".join(f"{p.name}  {p}\n" for p in paths), encoding="utf-8")
        hashlib_loop(paths)  # warm the page cache, and check the setup

        def sha256sum() -> None:
            subprocess.run(["sha256sum", "--quiet", "-c", str(sums)], check=True)

        rows = [
            ("single-threaded hashlib loop", timed(lambda: hashlib_loop(paths), args.repeat)),
            ("sha256sum -c", timed(sha256sum, args.repeat)),
            ("preserver verify (in process)",
             timed(lambda: asyncio.run(verify(config)), args.repeat)),
        ]
    cores = len(os.sched_getaffinity(0))
    print(f"{args.blobs} blobs of {args.mib} MiB ({total / 1e9:.2f} GB), {cores} cores, "
          f"median of {args.repeat}")
    own = rows[-1][1]
    for label, seconds in rows:
        print(f"{label:32} {seconds:7.2f} s {total / seconds / 1e6:8.0f} MB/s"
              f"   verify is {seconds / own:4.2f}x as fast")


if __name__ == "__main__":
    main()
