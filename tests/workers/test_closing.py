"""A browser's stop awaited to its end through cancellations (workers/_closing.py); the
real case, a print out of time whose two deadlines expire together, is in
test_printing.py (``test_a_print_out_of_time_fails_and_leaves_no_process``)."""

from __future__ import annotations

import asyncio

import pytest

from workers._closing import close_in_turn, to_the_end


async def test_a_stop_runs_to_its_end_through_two_cancellations() -> None:
    steps: list[str] = []

    async def stop() -> None:
        steps.append("stopping")
        await asyncio.sleep(0.2)
        steps.append("stopped")

    async def owner() -> None:
        await to_the_end(stop())
        steps.append("went on")  # never: the cancellation goes on after the stop

    task = asyncio.ensure_future(owner())
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["stopping", "stopped"]


async def test_without_a_cancellation_nothing_is_raised() -> None:
    done: list[bool] = []

    async def stop() -> None:
        done.append(True)

    await to_the_end(stop())
    assert done == [True]


async def test_a_closer_that_fails_does_not_keep_the_next_from_running(
        caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    async def dead_browser() -> None:
        ran.append("browser")
        raise RuntimeError("Target page, context or browser has been closed")

    async def driver() -> None:
        ran.append("driver")

    with caplog.at_level("DEBUG", logger="workers._closing"):
        await close_in_turn(dead_browser, None, driver)
    assert ran == ["browser", "driver"]
    assert "closing a dead browser" in caplog.text


async def test_a_stop_that_hangs_holds_a_cancellation_only_for_the_grace(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A wedged driver whose stop never ends must not swallow a run's deadline for ever:
    once cancelled, the stop is given ``STOP_GRACE`` seconds, then it is cancelled too and
    the cancellation goes on (logged)."""
    import workers._closing as closing

    monkeypatch.setattr(closing, "STOP_GRACE", 0.2, raising=False)
    steps: list[str] = []

    async def hung_stop() -> None:
        steps.append("stopping")
        try:
            await asyncio.Event().wait()  # never set: the driver does not answer
        finally:
            steps.append("stop cancelled")

    async def owner() -> None:
        await to_the_end(hung_stop())
        steps.append("went on")  # never

    task = asyncio.ensure_future(owner())
    await asyncio.sleep(0.05)
    task.cancel()
    with caplog.at_level("WARNING", logger="workers._closing"):
        await asyncio.wait({task}, timeout=10)  # a hang guard, not a timing assertion
    assert task.done(), "the cancellation is held while the stop hangs"
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["stopping", "stop cancelled"]
    assert "did not end" in caplog.text


async def test_a_hung_stop_is_not_bounded_without_a_cancellation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The grace runs from a cancellation, not from the stop's start: a slow stop nobody
    cancelled is awaited to its end."""
    import workers._closing as closing

    monkeypatch.setattr(closing, "STOP_GRACE", 0.05, raising=False)
    done: list[bool] = []

    async def slow_stop() -> None:
        await asyncio.sleep(0.3)
        done.append(True)

    await to_the_end(slow_stop())
    assert done == [True]
