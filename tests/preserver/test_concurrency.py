"""``TaskPool``: stop, grace, cancel, await; recordings that outlive a cancelled caller."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from preserver.concurrency import TaskPool


async def test_tasks_that_end_within_the_grace_are_not_cancelled() -> None:
    pool = TaskPool()
    task = pool.spawn(asyncio.sleep(0.1, result="answer"), name="quick")
    assert pool.running == 1
    started = time.monotonic()
    assert await pool.close(grace=5.0) == 0
    assert time.monotonic() - started < 2.0  # close returns when they end, not at the grace
    assert task.result() == "answer" and pool.running == 0


async def test_tasks_still_running_after_the_grace_are_cancelled_and_awaited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = TaskPool()
    slow = pool.spawn(asyncio.sleep(60), name="slow")
    quick = pool.spawn(asyncio.sleep(0.05), name="quick")
    started = time.monotonic()
    assert await pool.close(grace=0.3) == 1
    assert 0.3 <= time.monotonic() - started < 5.0
    assert slow.cancelled() and quick.done() and not quick.cancelled()
    assert "slow: still running after the 0.3 s grace: cancelled" in caplog.text


async def test_grace_zero_cancels_at_once() -> None:
    pool = TaskPool()
    task = pool.spawn(asyncio.sleep(60), name="slow")
    started = time.monotonic()
    assert await pool.close(grace=0) == 1
    assert task.cancelled() and time.monotonic() - started < 1.0


async def test_a_failed_task_is_logged_with_its_name_and_keeps_its_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise ValueError("boom")

    pool = TaskPool()
    task = pool.spawn(broken(), name="capture-7")
    with caplog.at_level(logging.ERROR, logger="preserver.concurrency"):
        assert await pool.close(grace=1.0) == 0
    assert [r.getMessage() for r in caplog.records] == ["capture-7 failed: ValueError('boom')"]
    assert caplog.records[0].exc_info is not None  # with its traceback
    with pytest.raises(ValueError, match="boom"):
        await task


async def test_a_failed_recording_is_raised_to_its_caller() -> None:
    async def refused() -> None:
        raise OSError("disk full")

    pool = TaskPool()
    with pytest.raises(OSError, match="disk full"):
        await pool.record(refused(), name="record-1")


async def test_stop_sets_the_shared_event_and_close_leaves_it_alone() -> None:
    stop = asyncio.Event()
    pool = TaskPool(stop=stop)
    await pool.close(grace=0)
    assert not stop.is_set() and not pool.stopped  # a service goes on after one run
    pool.stop()
    assert stop.is_set() and pool.stopped


async def test_a_recording_outlives_its_cancelled_caller() -> None:
    pool = TaskPool()
    written: list[str] = []

    async def write() -> None:
        await asyncio.sleep(0.2)
        written.append("result")

    caller = asyncio.create_task(pool.record(write(), name="record-1"))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert written == []  # still under way
    await pool.close(grace=0)
    assert written == ["result"]


async def test_cancelling_the_caller_of_close_still_drains_the_recordings() -> None:
    """A task interrupted by ``close`` records that it was; cancelling whoever awaits
    ``close`` (Ctrl-C) cuts the grace short, yet the recording is written before the
    cancellation goes on."""
    pool = TaskPool()
    written: list[str] = []
    entered = asyncio.Event()

    async def write(what: str) -> None:
        await asyncio.sleep(0.2)
        written.append(what)

    async def job() -> None:
        entered.set()
        try:
            await asyncio.sleep(60)
        finally:
            await pool.record(write("interrupted"), name="record-1")

    pool.spawn(job(), name="capture-1")
    await entered.wait()
    closing = asyncio.create_task(pool.close(grace=60))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert written == ["interrupted"]
    assert time.monotonic() - started < 5.0  # not the 60 s grace
    assert pool.running == 0


async def test_wake_ends_a_wait_at_once_even_when_called_before_it() -> None:
    pool = TaskPool()
    never = asyncio.Event()
    pool.spawn(never.wait(), name="long")
    waiting = asyncio.ensure_future(pool.wait())  # no timeout: only a wake ends it
    await asyncio.sleep(0)
    pool.wake()
    assert await asyncio.wait_for(waiting, 5) == set()  # woken: no task ended
    pool.wake()  # before the next wait: that wait does not sleep either
    assert await asyncio.wait_for(pool.wait(), 5) == set()
    with pytest.raises(TimeoutError):  # the wake was used up: this one sleeps
        await asyncio.wait_for(pool.wait(), 0.05)
    await pool.close(0)
