"""Findings: what one verification check concluded about one subject.

Archive and package verification run every check and record a finding for each,
never stopping at the first failure (warcio ``checker.py``). A finding's outcome
has three values: ``passed``, ``failed``, or ``not_checked`` when there was
nothing to check or the check could not run; "nothing to check" is never
``passed``.

    >>> f = Finding(subject="data/custody/checkpoint", check="signature", outcome="passed")
    >>> f.outcome is FindingOutcome.PASSED
    True
    >>> any(f.outcome == FindingOutcome.FAILED for f in findings)     # exit 1

``FindingOutcome`` is a ``StrEnum``: each member is its string, so JSON output
(``json.dumps``, ``canonical_json``) is the same as for the plain string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class FindingOutcome(StrEnum):
    """What a check concluded; the value is what ``--json`` and reports print."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"  # nothing to check, or the check could not run


# Short names for the many ``Run.add(...)`` calls of the package checks.
PASSED: Final = FindingOutcome.PASSED
FAILED: Final = FindingOutcome.FAILED
NOT_CHECKED: Final = FindingOutcome.NOT_CHECKED


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
    outcome: FindingOutcome
    detail: str = ""

    def __post_init__(self) -> None:
        # A plain string (from a caller mypy does not see) becomes the member it names.
        try:
            outcome = FindingOutcome(self.outcome)
        except ValueError:
            raise ValueError(f"outcome {self.outcome!r} is not one of "
                             f"{', '.join(FindingOutcome)}") from None
        object.__setattr__(self, "outcome", outcome)
