"""Custody events: every action the archive takes, appended in order.

An event is canonical JSON (``manifests.canonical_json``) with its time, actor
(operator, host, software version), action and subject. The custody ledger
(a Merkle log over these rows) builds on this table.

``EventAction`` names every action recorded. It is a ``StrEnum``: a member is its
string, so event bodies, ``events.action`` rows and exported packages hold exactly
the plain string (``"capture_stored"``), as they did before the enum.
"""

from __future__ import annotations

import secrets
import socket
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from manifests import canonical_json
from preserver.db.values import utc_now
from preserver.version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from preserver.db.models import Event


class EventAction(StrEnum):
    """What an event records; the value is the ``action`` of its body and its row.

    A package verifier (``manifests``) checks the first four and ``witness_saved`` by
    rule and reports any other action it meets as ``not_checked``.
    """

    REPORT_INGESTED = "report_ingested"  # subject: the report's SHA-256
    CAPTURE_STORED = "capture_stored"  # subject: the target key
    AVAILABILITY_CHANGED = "availability_changed"  # subject: the target key
    KEY_CREATED = "key_created"  # subject: the signing key's id
    SNAPSHOT_FOUND = "snapshot_found"  # subject: the target key (a Wayback snapshot)
    FIXITY_CHECKED = "fixity_checked"  # subject: the archive key's id
    PACKAGE_EXPORTED = "package_exported"  # subject: the report's SHA-256
    CAPTURE_FAILED = "capture_failed"  # subject: the target key (an attempt not kept: local)
    WITNESS_SAVED = "witness_saved"  # subject: the target key (a Save Page Now snapshot)


def rfc3339(moment: datetime) -> str:
    """UTC time as ``2026-11-21T16:24:51.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor(operator: str) -> dict[str, str]:
    return {"operator": operator, "host": socket.gethostname(), "software": f"preserver {__version__}"}


def event_row(*, action: EventAction, subject: str, operator: str, details: dict[str, Any],
              time: datetime | None = None) -> dict[str, Any]:
    """One event's row (``time``, ``action``, ``subject``, its canonical ``body``), for
    ``record_event`` or, many at once, ``record_events``."""
    moment = time or utc_now()
    body = canonical_json({
        # A random salt per event: an inclusion proof in one report's package carries its
        # neighbours' leaf hashes, which must not let anyone confirm a guessed event of
        # another report.
        "salt": secrets.token_hex(16),
        "time": rfc3339(moment),
        "actor": actor(operator),
        "action": action,
        "subject": subject,
        "details": details,
    })
    return {"time": moment, "action": action, "subject": subject, "body": body}


async def record_event(
    session: AsyncSession, *, action: EventAction, subject: str, operator: str,
    details: dict[str, Any], time: datetime | None = None,
) -> Event:
    """Append one event (inside the caller's transaction)."""
    from preserver.db.models import Event  # here: the read path uses the words above alone

    event = Event(**event_row(action=action, subject=subject, operator=operator,
                              details=details, time=time))
    session.add(event)
    return event


async def record_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Append the ``event_row`` values ``rows``, in their order, with one statement and no
    ORM object (inside the caller's transaction). The ORM inserts its objects one
    statement each on SQLite (it must read back each id), so an audit whose batch changed
    200 targets' states spent more on their events than on the checks."""
    import sqlalchemy as sa  # here: the read path uses the words above alone

    from preserver.db.models import Event, core_table

    if rows:
        await session.execute(sa.insert(core_table(Event)), list(rows))
