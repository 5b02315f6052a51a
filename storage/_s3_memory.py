"""How many bytes of parts an S3 store holds in memory at once, across its threads.

An upload reads what it sends into memory: the whole blob up to ``part_size``, else one
part at a time. ``put_file`` runs in threads (``asyncio.to_thread``: up to 32 of them),
so without a bound 32 uploads of 16 MiB parts would hold 512 MiB. Each read first
reserves its size from the store's ``PartBudget`` (``BUFFERED_PARTS`` parts) and gives
it back once the request is sent: a thread waits while the others' buffers fill the
budget. Small blobs reserve only their size, so they are not held up by a large
upload's parts beyond what the budget really lacks; a reservation larger than the whole
budget (a part raised past ``part_size`` to keep under 10,000 parts) is granted when
nothing else is reserved, so it waits but never forever.

An upload holds at most one reservation at a time and never waits for another while
holding one, so the threads cannot deadlock on the budget.

The buffers themselves are anonymous memory maps (``read_mapped``), unmapped when the
part is sent, not ``bytes``: glibc keeps a freed buffer of a few MiB in the arena of the
thread that freed it (its mmap threshold rises to the size of the first one freed), so
with ``bytes`` 16 threads kept some 128 MiB resident although only 4 parts were ever
live. botocore sends a map as the seekable stream it is, without copying it.
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from io import BufferedReader

BUFFERED_PARTS = 4  # parts of ``part_size`` a store holds in memory at once, at most


class PartBudget:
    """A budget of ``limit`` bytes shared by the threads of one store."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reserved = 0
        self.peak = 0  # the most ever reserved at once (read by the tests)
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """Reserve ``size`` bytes for the block, waiting until the budget has them (or,
        for more than the whole budget, until nothing else is reserved)."""
        with self._cond:
            self._cond.wait_for(lambda: self.reserved == 0
                                or self.reserved + size <= self.limit)
            self.reserved += size
            self.peak = max(self.peak, self.reserved)
        try:
            yield
        finally:
            with self._cond:
                self.reserved -= size
                self._cond.notify_all()


@contextmanager
def read_mapped(source: BufferedReader, n: int) -> Iterator[tuple[mmap.mmap | bytes, int]]:
    """Up to ``n`` bytes of ``source`` in a buffer of its own, and how many were read (fewer
    at the end of ``source``); the buffer is unmapped after the block. Raises ``OSError``."""
    if n <= 0:
        yield b"", 0
        return
    buffer = mmap.mmap(-1, n)
    try:
        view = memoryview(buffer)
        got = 0
        try:
            while got < n and (count := source.readinto(view[got:])):
                got += count
        finally:
            view.release()
        if got < n:  # the end of ``source``: the bytes read, in a map of their size
            short = mmap.mmap(-1, got) if got else b""
            if got:
                assert isinstance(short, mmap.mmap)
                short.write(buffer[:got])
                short.seek(0)
            buffer.close()
            buffer = short  # type: ignore[assignment]
        yield buffer, got
    finally:
        if isinstance(buffer, mmap.mmap):
            buffer.close()
