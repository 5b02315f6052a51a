"""Findings: what one verification check concluded about one subject.

Archive and package verification run every check and record a finding for each,
never stopping at the first failure (warcio ``checker.py``). A finding's outcome
has three values: ``passed``, ``failed``, or ``not_checked`` when there was
nothing to check or the check could not run; "nothing to check" is never
``passed``.

    >>> Finding(subject="data/custody/checkpoint", check="signature", outcome="passed")
    Finding(subject='data/custody/checkpoint', check='signature', outcome='passed', detail='')
    >>> any(f.outcome == "failed" for f in findings)     # exit 1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PASSED: Final = "passed"
FAILED: Final = "failed"
NOT_CHECKED: Final = "not_checked"
OUTCOMES: Final = (PASSED, FAILED, NOT_CHECKED)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One check's conclusion about one subject.

    ``subject`` says where (a file of the package, ``capture <id>``, ``blob <sha256>``);
    ``check`` what was checked (``fixity``, ``signature``, ``inclusion``, …);
    ``outcome`` is ``passed``, ``failed`` or ``not_checked``; ``detail`` says why
    when it did not pass (and, for some checks, what was proven when it did).
    """

    subject: str
    check: str
    outcome: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")
