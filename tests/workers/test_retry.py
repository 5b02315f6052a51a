"""decide_retry: a pure function of the last result and the attempt count."""

from __future__ import annotations

import pytest

from workers.retry import RetryDecision, decide_retry
from workers.types import CaptureResult, CaptureState, Status


def result(
    state: CaptureState = CaptureState.FAILED,
    status: Status = Status.ERROR,
    *,
    transient: bool = True,
    message: str = "HTTP 503 Service Unavailable",
) -> CaptureResult:
    return CaptureResult(state=state, status=status, message=message, transient=transient)


@pytest.mark.parametrize(
    "res",
    [
        result(CaptureState.COMPLETE, Status.AVAILABLE, transient=False, message=""),
        result(CaptureState.FAILED, Status.NOT_FOUND, transient=False),
        result(CaptureState.FAILED, Status.REMOVED_COPYRIGHT, transient=False),
        result(CaptureState.PARTIAL, Status.PRIVATE, transient=False),
        result(CaptureState.FAILED, Status.ERROR, transient=False, message="refused: x"),
        # complete is final even if some part was flaky
        result(CaptureState.COMPLETE, Status.AVAILABLE, transient=True),
    ],
    ids=["complete", "not_found", "copyright", "private", "refused", "complete_transient"],
)
def test_permanent_results_are_final(res: CaptureResult) -> None:
    assert decide_retry(res, 1) is None


def test_exponential_backoff_with_equal_jitter() -> None:
    res = result()
    low = [decide_retry(res, n, random=lambda: 0.0) for n in (1, 2, 3)]
    high = [decide_retry(res, n, random=lambda: 0.999999) for n in (1, 2, 3)]
    assert [d.delay_seconds for d in low if d] == [15.0, 30.0, 60.0]
    assert [round(d.delay_seconds, 3) for d in high if d] == [30.0, 60.0, 120.0]
    assert low[0] == RetryDecision(delay_seconds=15.0, reason="error: HTTP 503 Service Unavailable")


def test_attempts_are_bounded() -> None:
    assert decide_retry(result(), 3, max_attempts=4) is not None
    assert decide_retry(result(), 4, max_attempts=4) is None
    assert decide_retry(result(), 9, max_attempts=4) is None


def test_delay_is_capped() -> None:
    d = decide_retry(result(), 30, max_attempts=100, random=lambda: 0.999999)
    assert d is not None and d.delay_seconds <= 3600.0


def test_rate_limited_waits_longer() -> None:
    d = decide_retry(result(status=Status.RATE_LIMITED, message="HTTP 429"), 1, random=lambda: 0.0)
    assert d == RetryDecision(delay_seconds=60.0, reason="rate_limited: HTTP 429")


def test_reason_is_bounded_and_random_is_clamped() -> None:
    d = decide_retry(result(message="x" * 1000), 1, random=lambda: 7.0)
    assert d is not None and len(d.reason) == 200 and d.delay_seconds == 30.0


def test_default_random_stays_within_bounds() -> None:
    for _ in range(50):
        d = decide_retry(result(), 2)
        assert d is not None and 30.0 <= d.delay_seconds <= 60.0


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        decide_retry(result(), 0)
