"""When to retry a capture: a pure function of the last result and the attempt count.

Modelled on procrastinate's ``retry.py``: the run loop calls ``decide_retry``
after each attempt and either schedules the job again after ``delay_seconds``
or records the result as final. Nothing here sleeps, reads a clock or touches
the database, so every rule is a plain unit test.

    >>> from workers.types import CaptureResult, CaptureState, Status
    >>> r = CaptureResult(state=CaptureState.FAILED, status=Status.ERROR,
    ...                   message="HTTP 503", transient=True)
    >>> decide_retry(r, 1, random=lambda: 0.0)
    RetryDecision(delay_seconds=15.0, reason='error: HTTP 503')
    >>> decide_retry(r, 4) is None  # attempts used up
    True

Rules:

- A complete capture, or one that is not ``transient``, is final (``None``):
  a removed video, a 404 or a refused address will not change by waiting.
- After ``max_attempts`` attempts the result is final.
- Otherwise the delay grows exponentially, ``base_delay * 2**(attempts-1)``,
  capped at ``max_delay``, with "equal jitter" (half fixed, half random) so a
  batch of jobs that failed together does not come back together.
- ``rate_limited`` starts four times higher: YouTube rate-limits an IP for a
  while after a burst, and hammering it again extends the block.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass

from workers.types import CaptureResult, CaptureState, Status

__all__ = ["RetryDecision", "decide_retry"]

_RATE_LIMIT_FACTOR = 4.0
_REASON_MAX = 200


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    """Retry the job after ``delay_seconds``; ``reason`` says why (for the log and the job row)."""

    delay_seconds: float
    reason: str


def decide_retry(
    result: CaptureResult,
    attempts: int,
    *,
    max_attempts: int = 4,
    base_delay: float = 30.0,
    max_delay: float = 3600.0,
    random: Callable[[], float] = _random.random,
) -> RetryDecision | None:
    """Return when to retry after ``attempts`` attempts (the last gave ``result``), or None.

    ``random`` returns a float in [0, 1); tests inject a constant.
    """
    if attempts < 1:
        raise ValueError(f"attempts counts attempts made, so it is at least 1, not {attempts}")
    if result.state is CaptureState.COMPLETE or not result.transient:
        return None
    if attempts >= max_attempts:
        return None
    base = base_delay * (_RATE_LIMIT_FACTOR if result.status is Status.RATE_LIMITED else 1.0)
    ceiling = min(max_delay, base * 2.0 ** (attempts - 1))
    delay = ceiling / 2.0 + ceiling / 2.0 * min(max(random(), 0.0), 1.0)
    reason = result.status.value
    if result.message:
        reason = f"{reason}: {result.message}"
    if len(reason) > _REASON_MAX:
        reason = reason[: _REASON_MAX - 1] + "…"
    return RetryDecision(delay_seconds=delay, reason=reason)
