"""Uploading a large stream to S3 holds one part in memory, not the stream.

A process of its own (its peak resident memory, ``VmHWM``, is its own) opens an S3 store
with 5 MiB parts on the session's moto server and stores a 96 MiB stream generated as it
is read (``put_stream``: spooled to disk, then a multipart upload) and another 96 MiB
from a file (``put_file``: hashed, then uploaded in parts). The peak may grow by a few parts (the part
read, the request body botocore signs, moto's answer), never by the size of the stream.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.s3 import MotoServer

pytestmark = pytest.mark.slow

MiB = 1 << 20
SIZE = 96 * MiB

_CHILD = r"""
import hashlib, json, sys
from pathlib import Path
from storage.s3 import S3BlobStore, S3Settings

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

class Generated:
    "SIZE bytes made as they are read: the stream itself is never in memory."
    def __init__(self, size, seed):
        self.left, self.block = size, hashlib.sha256(seed).digest() * 32768  # 1 MiB
    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        out = (self.block * (n // len(self.block) + 1))[:n]
        self.left -= n
        return out

url, bucket, tmp, size = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
store = S3BlobStore(S3Settings(bucket=bucket, endpoint_url=url, region="us-east-1",
                               part_size=5 << 20), tmp)
store.put_bytes(b"warm-up")  # boto3's lazy imports and first connection
before = peak_kib()
blob = store.put_stream(Generated(size, b"stream"))
after_stream = peak_kib()
source = tmp.parent / "source.bin"
with open(source, "wb") as fh:
    g = Generated(size, b"file")
    while chunk := g.read(1 << 20):
        fh.write(chunk)
other = store.put_file(str(source))
print(json.dumps({"before": before, "after_stream": after_stream, "after_file": peak_kib(),
                  "sha256": blob.sha256, "created": [blob.created, other.created],
                  "size": store.size(blob.sha256)}))
"""


def test_a_large_stream_is_uploaded_in_bounded_memory(moto: MotoServer, bucket: str,
                                                      tmp_path: Path,
                                                      aws_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", _CHILD, moto.url, bucket,
                           str(tmp_path / "tmp"), str(SIZE)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["size"] == SIZE and got["created"] == [True, True]
    grew_mib = (max(got["after_stream"], got["after_file"]) - got["before"]) / 1024
    assert grew_mib < 40, f"peak memory grew by {grew_mib:.0f} MiB for a {SIZE // MiB} MiB stream"
    assert not list((tmp_path / "tmp").iterdir())  # the spool is gone


_CONCURRENT = r"""
import hashlib, json, os, sys, threading
from pathlib import Path
from storage.s3 import S3BlobStore, S3Settings

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

url, bucket, tmp, size, threads = (sys.argv[1], sys.argv[2], Path(sys.argv[3]),
                                   int(sys.argv[4]), int(sys.argv[5]))
store = S3BlobStore(S3Settings(bucket=bucket, endpoint_url=url, region="us-east-1",
                               part_size=8 << 20), tmp)
sources = []
for n in range(threads):  # distinct files, so no upload is a dedup of another
    path = tmp.parent / f"source-{n}.bin"
    block = hashlib.sha256(b"%d" % n).digest() * 32768  # 1 MiB
    with open(path, "wb") as fh:
        for _ in range(size >> 20):
            fh.write(block)
    sources.append(str(path))
store.put_bytes(b"warm-up")  # boto3's lazy imports and first connection
before = peak_kib()
start = threading.Barrier(threads)
blobs = [None] * threads

def put(n):
    start.wait()  # every thread puts at the same moment, as asyncio.to_thread would
    blobs[n] = store.put_file(sources[n])

workers = [threading.Thread(target=put, args=(n,)) for n in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print(json.dumps({"before": before, "after": peak_kib(), "budget_peak": store.part_budget.peak,
                  "sizes": [store.size(b.sha256) for b in blobs],
                  "created": [b.created for b in blobs]}))
"""


def test_concurrent_multipart_uploads_hold_a_bounded_number_of_parts(
        moto: MotoServer, bucket: str, tmp_path: Path, aws_env: dict[str, str]) -> None:
    """16 threads put 16 distinct 24 MiB files at once with 8 MiB parts (as 16 captures
    finishing together would through ``asyncio.to_thread``). Unbounded, each thread
    holds its part: 16 parts, 128 MiB (measured: the peak grew by ~176 MiB, glibc keeping
    freed parts in each thread's arena). The store's ``PartBudget`` lets 4 parts (32 MiB)
    be in memory together, each in a map unmapped once sent (measured: +~80 MiB, of which
    ~3 MiB per thread are botocore's 1 MiB reads to sign the payload, made only over
    plain HTTP as moto is served here: over HTTPS the checksummed body is not re-read)."""
    threads, size = 16, 24 * MiB
    (tmp_path / "tmp").mkdir()
    done = subprocess.run([sys.executable, "-c", _CONCURRENT, moto.url, bucket,
                           str(tmp_path / "tmp"), str(size), str(threads)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["sizes"] == [size] * threads and all(got["created"])
    assert got["budget_peak"] <= 4 * 8 * MiB
    grew_mib = (got["after"] - got["before"]) / 1024
    assert grew_mib < 120, f"peak memory grew by {grew_mib:.0f} MiB for {threads} uploads"
