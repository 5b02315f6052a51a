"""How long an S3 object is locked: ``Retention``, read from ``"10y"`` or ``"3650d"``.

S3 Object Lock keeps an object version until a date (``RetainUntilDate``); the store
computes that date for each object it writes, from the moment it writes it. Years are
calendar years, not 365 days: ``"10y"`` written on 2026-11-27 holds until 2036-11-27,
same time of day (29 February becomes 1 March, never earlier). The bound of 100 years
keeps a typo ("1000y") from locking an object for ever: in ``COMPLIANCE`` mode nobody,
not even the bucket's owner, can shorten a retention once it is set.

    >>> from datetime import UTC, datetime
    >>> Retention.parse("10y").until(datetime(2024, 2, 29, tzinfo=UTC)).date()
    datetime.date(2034, 3, 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["MAX_RETENTION_YEARS", "Retention"]

MAX_RETENTION_YEARS = 100
_TEXT = re.compile(r"\s*([0-9]{1,6})\s*([yd])\s*")  # ASCII digits only


@dataclass(frozen=True, kw_only=True)
class Retention:
    """A retention period: ``years`` calendar years plus ``days`` days, more than zero."""

    years: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if self.years < 0 or self.days < 0 or (self.years, self.days) == (0, 0):
            raise ValueError(f"a retention must be longer than zero, got {self!r}")
        if self.years + self.days / 365 > MAX_RETENTION_YEARS:
            raise ValueError(f"a retention may not exceed {MAX_RETENTION_YEARS} years, "
                             f"got {self!r}")

    @classmethod
    def parse(cls, text: str) -> Retention:
        """``"10y"`` (calendar years) or ``"3650d"`` (days); ``ValueError`` otherwise."""
        m = _TEXT.fullmatch(text)
        if m is None:
            raise ValueError(f"expected a retention like '10y' or '3650d', got {text!r}")
        n = int(m[1])
        try:
            return cls(years=n) if m[2] == "y" else cls(days=n)
        except ValueError as exc:
            raise ValueError(f"{str(exc).partition(', got ')[0]}, got {text!r}") from exc

    def until(self, now: datetime) -> datetime:
        """The end of a retention that starts at ``now`` (timezone-aware)."""
        year = now.year + self.years
        try:
            end = now.replace(year=year)
        except ValueError:  # 29 February in a year without one: 1 March, never earlier
            end = now.replace(year=year, month=3, day=1)
        return end + timedelta(days=self.days)

    def __str__(self) -> str:
        parts = [f"{self.years}y" if self.years else "", f"{self.days}d" if self.days else ""]
        return "".join(parts)
