"""``preserver verify`` over S3 against ``preserver verify`` on local disk, same blobs.

    .venv/bin/python bench/verify_s3.py [--blobs 16] [--mib 8] [--repeat 3]

Starts moto's S3 server (``moto[server]``) on 127.0.0.1, builds two archives holding the
same ``--blobs`` random blobs of ``--mib`` MiB: one on the local store, one in a bucket
with Object Lock (``[storage] backend = "s3"``). Then times ``verify_archive`` on each,
interleaved, and prints the median wall time of each, MB/s, and the ratio. The bucket is
moto, a Python server on this machine sharing its cores: the S3 figure is a floor for
the client's overhead (HTTP, one GET per blob), not a prediction for AWS or MinIO.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preserver.archive import open_archive
from preserver.config import load_config
from preserver.verify.archive import verify_archive
from tests.support.s3 import KEYS, MotoServer


def write_config(tmp: Path, name: str, storage: str) -> Path:
    config = tmp / f"{name}.toml"
    config.write_text(f'data_dir = "{tmp / name}"\noperator = "bench"\n{storage}',
                      encoding="utf-8")
    return config


async def build(config: Path, blobs: list[bytes]) -> None:
    async with open_archive(load_config(config, env={})) as archive:
        for data in blobs:
            archive.store.put_bytes(data)


async def verify_once(config: Path) -> float:
    async with open_archive(load_config(config, env={})) as archive:
        start = time.perf_counter()
        findings = await verify_archive(archive)
        wall = time.perf_counter() - start
    failed = [f for f in findings if f.outcome == "failed"]
    assert not failed, failed
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=16)
    parser.add_argument("--mib", type=int, default=8, help="MiB per blob")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(KEYS)
    blobs = [os.urandom(args.mib << 20) for _ in range(args.blobs)]
    total = sum(map(len, blobs))
    server = MotoServer.start()
    try:
        bucket = server.make_bucket("bench-evidence")
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            local = write_config(tmp, "local", "")
            s3 = write_config(tmp, "s3", f'[storage]\nbackend = "s3"\nendpoint_url = '
                                         f'"{server.url}"\nbucket = "{bucket}"\n'
                                         'region = "us-east-1"\n')
            for config in (local, s3):
                asyncio.run(build(config, blobs))
            walls: dict[str, list[float]] = {"local disk": [], "S3 (moto)": []}
            for _ in range(args.repeat):
                walls["local disk"].append(asyncio.run(verify_once(local)))
                walls["S3 (moto)"].append(asyncio.run(verify_once(s3)))
    finally:
        server.close()
    medians = {k: statistics.median(v) for k, v in walls.items()}
    print(f"{args.blobs} blobs of {args.mib} MiB ({total / 1e6:.0f} MB), median of "
          f"{args.repeat} interleaved runs, {len(os.sched_getaffinity(0))} cores, load "
          f"average {os.getloadavg()[0]:.1f}")
    for label, seconds in medians.items():
        print(f"verify on {label:11} {seconds:6.2f} s {total / seconds / 1e6:7.0f} MB/s")
    print(f"S3 takes {medians['S3 (moto)'] / medians['local disk']:.1f}x as long as local disk")


if __name__ == "__main__":
    main()
