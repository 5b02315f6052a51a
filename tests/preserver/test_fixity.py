"""Step (1) of verify on every core: every fault is still found, in a stable order.

Blobs are real files in a real store; the faults are made on disk (a flipped byte,
a truncation, an unlink). ``_Watched`` and ``_Vanishing`` are the real store with a
hook around ``rehash``: one counts blobs in flight, the other deletes a blob on disk
between the listing and its turn, as another process could.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from manifests import Finding
from preserver.archive import Archive, open_archive
from preserver.config import load_config
from preserver.verify.archive import verify_archive
from preserver.verify.fixity import FixityProgress, rehash_blobs
from storage import BlobNotFound, LocalBlobStore
from tests.support.cli import OFFLINE


@pytest.fixture
async def archive(tmp_path: Path) -> AsyncIterator[Archive]:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n' + OFFLINE, encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        yield opened


def _put(archive: Archive, sizes: list[int]) -> list[str]:
    return sorted(archive.store.put_bytes(os.urandom(n)).sha256 for n in sizes)


def _writable(archive: Archive, sha: str) -> Path:
    path = archive.store.path_of(sha)
    path.chmod(0o644)
    return path


def _fixity(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.subject, str(f.outcome), f.detail) for f in findings if f.check == "fixity"]


async def test_corrupt_truncated_and_missing_blobs_are_found_in_address_order(
        archive: Archive) -> None:
    by_size = {n: archive.store.put_bytes(os.urandom(n)).sha256
               for n in (0, 10, 1 << 20, (3 << 20) + 7, 4096, 77, 2 << 20, 5)}
    blobs = sorted(by_size.values())
    corrupt, truncated, missing = by_size[2 << 20], by_size[(3 << 20) + 7], by_size[77]
    path = _writable(archive, corrupt)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    path = _writable(archive, truncated)
    os.truncate(path, 1 << 20)
    truncated_to = hashlib.sha256(path.read_bytes()).hexdigest()
    archive.store.path_of(missing).unlink()
    present = [b for b in blobs if b != missing]  # a missing blob is not listed: step (3) names it

    expected = []
    for sha in present:
        if sha == corrupt:
            detail = f"content hashes to {hashlib.sha256(bytes(data)).hexdigest()}"
        elif sha == truncated:
            detail = f"content hashes to {truncated_to}"
        else:
            detail = ""
        expected.append((f"blob {sha}", "failed" if detail else "passed", detail))
    assert _fixity(await verify_archive(archive, workers=4)) == expected
    assert _fixity(await verify_archive(archive, workers=1)) == expected



async def test_findings_keep_address_order_when_threads_finish_out_of_order(
        archive: Archive) -> None:
    blobs = _put(archive, [10, 20, 30, 40])
    finished: list[str] = []

    class _FirstIsSlow(LocalBlobStore):
        def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
            if sha256 == blobs[0]:
                time.sleep(0.2)
            try:
                return super().rehash(sha256, on_read=on_read)
            finally:
                finished.append(sha256)

    store = _FirstIsSlow(archive.store.root, archive.store.tmp_dir, read_only=True)
    findings = await verify_archive(dataclasses.replace(archive, store=store), workers=2)
    assert finished[-1] == blobs[0]
    assert _fixity(findings) == [(f"blob {b}", "passed", "") for b in blobs]

async def test_a_blob_that_vanishes_mid_verify_is_a_finding(archive: Archive) -> None:
    blobs = _put(archive, [1000, 2000, 3000])
    first, victim = blobs[0], blobs[2]

    class _Vanishing(LocalBlobStore):
        def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
            if sha256 == first:  # listed already; gone before its turn
                self.path_of(victim).unlink()
            return super().rehash(sha256, on_read=on_read)

    store = _Vanishing(archive.store.root, archive.store.tmp_dir, read_only=True)
    findings = await verify_archive(dataclasses.replace(archive, store=store), workers=1)
    assert _fixity(findings) == [
        (f"blob {blobs[0]}", "passed", ""),
        (f"blob {blobs[1]}", "passed", ""),
        (f"blob {victim}", "failed", f"unreadable: no blob {victim}"),
    ]


async def test_a_stale_listing_is_a_result_not_an_exception(archive: Archive) -> None:
    blobs = _put(archive, [10, 20])
    gone = "ab" * 32
    results = await rehash_blobs(archive.store, [blobs[0], gone, blobs[1]], workers=2)
    assert results[blobs[0]] == blobs[0] and results[blobs[1]] == blobs[1]
    assert isinstance(results[gone], BlobNotFound)


async def test_no_more_blobs_than_workers_are_in_flight(archive: Archive) -> None:
    blobs = _put(archive, [100] * 9)
    lock = threading.Lock()
    now = peak = 0

    class _Watched(LocalBlobStore):
        def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
            nonlocal now, peak
            with lock:
                now += 1
                peak = max(peak, now)
            time.sleep(0.02)  # long enough for the others to start, if they may
            try:
                return super().rehash(sha256, on_read=on_read)
            finally:
                with lock:
                    now -= 1

    store = _Watched(archive.store.root, archive.store.tmp_dir, read_only=True)
    results = await rehash_blobs(store, blobs, workers=3)
    assert results == {b: b for b in blobs}
    assert peak == 3


async def test_progress_is_in_bytes_and_reaches_the_total(archive: Archive) -> None:
    sizes = [3 << 20, 1 << 20, 1, 0]
    blobs = _put(archive, sizes)
    seen: list[FixityProgress] = []
    await verify_archive(archive, workers=2, progress=seen.append)
    last = seen[-1]
    assert (last.blobs_done, last.blobs_total) == (4, 4)
    assert last.bytes_done == last.bytes_total == sum(sizes)
    assert last.seconds > 0 and last.mb_per_s == pytest.approx(sum(sizes) / last.seconds / 1e6)
    done = [p.bytes_done for p in seen]
    assert done == sorted(done)
    assert len(blobs) == 4


async def test_progress_moves_within_a_large_blob(archive: Archive) -> None:
    """Reports come on a timer, so one large blob does not freeze the bar."""
    blob = _put(archive, [8 << 20])

    class _Slow(LocalBlobStore):
        def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
            def slowly(n: int) -> None:
                time.sleep(0.02)
                if on_read is not None:
                    on_read(n)
            return super().rehash(sha256, on_read=slowly)

    store = _Slow(archive.store.root, archive.store.tmp_dir, read_only=True)
    seen: list[FixityProgress] = []
    await rehash_blobs(store, blob, workers=1, progress=seen.append, interval=0.01)
    assert any(0 < p.bytes_done < 8 << 20 and p.blobs_done == 0 for p in seen)


async def test_cancelling_stops_the_hashing_threads(archive: Archive) -> None:
    blob = _put(archive, [16 << 20])
    chunks = 0

    class _Slow(LocalBlobStore):
        def rehash(self, sha256: str, *, on_read: Callable[[int], None] | None = None) -> str:
            def slowly(n: int) -> None:
                nonlocal chunks
                chunks += 1
                time.sleep(0.05)
                if on_read is not None:
                    on_read(n)
            return super().rehash(sha256, on_read=slowly)

    store = _Slow(archive.store.root, archive.store.tmp_dir, read_only=True)
    task = asyncio.create_task(rehash_blobs(store, blob, workers=1))
    await asyncio.sleep(0.12)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 5  # a loaded machine may take a moment to schedule them
    while [t for t in threading.enumerate() if t.name.startswith("fixity")]:
        assert time.monotonic() < deadline, "hashing threads still running after cancel"
        await asyncio.sleep(0.02)
    assert chunks < 16  # stopped mid-blob, not read to the end
