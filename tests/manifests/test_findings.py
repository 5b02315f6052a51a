"""Findings: the three outcomes, and what a finding's outcome accepts."""

from __future__ import annotations

import json

import pytest

from manifests import Finding, FindingOutcome


def test_the_outcomes_are_the_strings_reports_print() -> None:
    assert [str(o) for o in FindingOutcome] == ["passed", "failed", "not_checked"]


def test_an_outcome_given_as_a_string_becomes_its_member() -> None:
    finding = Finding(subject="blob ab", check="fixity",
                      outcome="not_checked")  # type: ignore[arg-type]
    assert finding.outcome is FindingOutcome.NOT_CHECKED
    assert finding == Finding(subject="blob ab", check="fixity",
                              outcome=FindingOutcome.NOT_CHECKED)


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="outcome 'skipped' is not one of passed, failed, "
                                         "not_checked"):
        Finding(subject="blob ab", check="fixity", outcome="skipped")  # type: ignore[arg-type]


def test_a_finding_in_json_holds_the_plain_outcome() -> None:
    """``verify --json`` prints ``f.__dict__``: the outcome is the string it always was."""
    finding = Finding(subject="blob ab", check="fixity", outcome=FindingOutcome.FAILED,
                      detail="content hashes to cd")
    assert json.dumps(finding.__dict__) == ('{"subject": "blob ab", "check": "fixity", '
                                            '"outcome": "failed", "detail": "content hashes to cd"}')
