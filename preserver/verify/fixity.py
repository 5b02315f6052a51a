"""Re-hash every blob on every core: step (1) of ``verify_archive``.

Re-hashing is most of what ``verify`` costs: it reads every byte in the archive.
It runs on a pool of threads, which scale because both halves of the work release
the GIL: reading a file, and ``hashlib``'s update of a chunk larger than 2047 bytes
(each chunk is 1 MiB, ``storage.BUFFER_SIZE``). The blob list is a bounded queue:
at most ``workers`` blobs are in flight, each read a chunk at a time, so memory
stays near ``workers`` MiB whatever the blobs' sizes (a process pool would add a
start-up per worker and gain nothing here).

The result is keyed by address, so the caller builds its findings in the order it
listed the blobs, not the order threads finished. A blob that cannot be read
(vanished, unreadable) is a ``StorageError`` in the result, never an exception.

Progress is metered in bytes as they are hashed, so a single large blob still
moves the bar, and is reported from the event loop (never from a hashing thread)
every ``interval`` seconds and once more at the end, when every blob is done.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from storage import BlobStore, StorageError

#: More threads than this gain nothing on local disks and make spinning ones seek.
MAX_WORKERS = 8

Rehashed = str | StorageError  # the SHA-256 the blob's bytes have now, or why it could not be read


@dataclass(frozen=True, kw_only=True)
class FixityProgress:
    """How far the re-hash has come: blobs and bytes hashed of the totals, and the time so far.

    ``bytes_total`` sums the blobs' sizes when they were listed.
    """

    blobs_done: int
    blobs_total: int
    bytes_done: int
    bytes_total: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        """Throughput so far, in MB (10^6 bytes) per second."""
        return self.bytes_done / self.seconds / 1e6 if self.seconds > 0 else 0.0


FixityCallback = Callable[[FixityProgress], None]


def default_workers() -> int:
    """One thread per core this process may run on, at most ``MAX_WORKERS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


class _Stopped(Exception):
    """Raised in a hashing thread when the re-hash was cancelled: its read ends at once."""


class _Meter:
    """Bytes hashed so far, added to by the hashing threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes = 0
        self.stop = threading.Event()

    def add(self, n: int) -> None:
        if self.stop.is_set():
            raise _Stopped
        with self._lock:
            self.bytes += n


def _rehash_one(store: BlobStore, sha256: str, on_read: Callable[[int], None]) -> Rehashed:
    try:
        return store.rehash(sha256, on_read=on_read)
    except StorageError as exc:
        return exc


def _size_or_zero(store: BlobStore, sha256: str) -> int:
    try:
        return store.size(sha256)
    except StorageError:  # gone already: its re-hash reports it
        return 0


async def rehash_blobs(store: BlobStore, blobs: Sequence[str], *, workers: int | None = None,
                       progress: FixityCallback | None = None,
                       interval: float = 0.2) -> dict[str, Rehashed]:
    """Re-hash ``blobs`` on ``workers`` threads (``default_workers()``); return each one's result."""
    workers = max(1, workers or default_workers())
    total = sum(await asyncio.to_thread(lambda: [_size_or_zero(store, s) for s in blobs]))
    results: dict[str, Rehashed] = {}
    meter = _Meter()
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    queue = iter(blobs)  # shared by the workers: each takes the next blob when it is free

    def report() -> None:
        if progress is not None:
            progress(FixityProgress(blobs_done=len(results), blobs_total=len(blobs),
                                    bytes_done=meter.bytes, bytes_total=total,
                                    seconds=time.monotonic() - started))

    async def worker(pool: ThreadPoolExecutor) -> None:
        for sha in queue:
            results[sha] = await loop.run_in_executor(pool, _rehash_one, store, sha, meter.add)

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval)
            report()

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fixity")
    ticker = asyncio.create_task(tick())
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(workers, len(blobs))):
                group.create_task(worker(pool))
    finally:
        meter.stop.set()  # on cancellation, threads still reading stop at their next chunk
        ticker.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
    report()
    return results
