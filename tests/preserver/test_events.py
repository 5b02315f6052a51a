"""Custody events: the action vocabulary, and bodies that do not depend on it being an enum."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from manifests import package_checks
from preserver.custody import events
from preserver.custody.events import EventAction, record_event
from preserver.db.engine import Database

MOMENT = datetime(2026, 11, 21, 16, 24, 51, 123456, tzinfo=UTC)


def test_the_actions_are_the_strings_the_ledger_has_always_held() -> None:
    assert sorted(EventAction) == ["availability_changed", "capture_failed", "capture_stored",
                                   "fixity_checked", "key_created", "package_exported",
                                   "report_ingested", "snapshot_found", "witness_saved"]


async def test_an_event_recorded_with_the_enum_is_byte_identical_to_the_string_form(
    db: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row and its canonical body (what the Merkle leaf hashes) are the same bytes
    whether the action was given as the member or as its plain string."""
    monkeypatch.setattr(events.secrets, "token_hex", lambda n: "5a" * n)  # a fixed salt
    async with db.session() as s:
        for action in EventAction:
            for given in (action, action.value):
                await record_event(s, action=given, subject="web:a", operator="op",
                                   details={"outcome": action, "n": 1}, time=MOMENT)
    async with db.session() as s:
        rows = (await s.execute(sa.text("SELECT action, body FROM events ORDER BY id"))).all()
    assert len(rows) == 2 * len(EventAction)
    for (action, body), (again, again_body) in zip(rows[::2], rows[1::2], strict=True):
        assert type(action) is str and action == again
        assert bytes(body) == bytes(again_body)
        assert json.loads(body)["action"] == action
        assert f'"action":"{action}"'.encode() in bytes(body)


def test_every_action_a_package_verifier_has_a_rule_for_is_recorded() -> None:
    """``manifests`` (which cannot import ``preserver``) names the actions it checks by
    their strings; a rename on either side would leave those events unchecked."""
    assert set(package_checks._KNOWN) <= set(EventAction)
