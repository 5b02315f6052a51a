"""Verify the custody ledger against its own checkpoints and their timestamps.

Steps (each records findings; nothing stops at the first failure):
  (1) the sequenced events are leaves 0..N-1 with no gap, and each event's body
      names the action and subject its row says;
  (2) every checkpoint is a signed note by the archive's key under the ledger's
      origin, and states the size and root recorded for it;
  (3) the events hash to each checkpoint's root at its size: a checkpoint larger
      than the ledger means history was truncated, a different root that it was
      rewritten (an event edited, deleted, reordered or inserted);
  (4) each checkpoint is consistent with the one before it (RFC 9162 2.1.4 proof
      from the current events);
  (5) every kept RFC 3161 token verifies over its checkpoint's exact text against
      the trusted roots;
  (6) the stored subtree hashes that checkpoints and proofs are computed from
      (``ledger_nodes``) equal the tree recomputed from the bodies (``verify.nodes``).
"""

from __future__ import annotations

import json

from sqlmodel import col, select

from manifests import (
    Finding,
    FindingOutcome,
    InvalidCertificate,
    InvalidCheckpoint,
    InvalidTimestamp,
    VerificationError,
    consistency_proof,
    root_hash,
    verify_checkpoint,
    verify_consistency,
    verify_timestamp,
)
from preserver.archive import Archive
from preserver.custody.ledger import leaf_hashes, origin
from preserver.custody.tsa import trusted_roots
from preserver.db.models import CheckpointRow, CheckpointTimestamp, Event
from preserver.errors import ConfigError
from preserver.verify.nodes import verify_nodes


def _f(subject: str, check: str, ok: bool, detail: str = "") -> Finding:
    outcome = FindingOutcome.PASSED if ok else FindingOutcome.FAILED
    return Finding(subject=subject, check=check, outcome=outcome, detail="" if ok else detail)


async def verify_ledger(archive: Archive) -> list[Finding]:
    out: list[Finding] = []
    async with archive.db.session() as session:
        events = (await session.scalars(
            select(Event).where(col(Event.seq).is_not(None)).order_by(col(Event.seq)))).all()
        leaves = await leaf_hashes(session)
        checkpoints = (await session.scalars(
            select(CheckpointRow).order_by(col(CheckpointRow.size)))).all()
        stamps = (await session.scalars(select(CheckpointTimestamp))).all()
        unsequenced = len((await session.scalars(
            select(Event.id).where(col(Event.seq).is_(None)))).all())
        stored_nodes = await verify_nodes(session, leaves)

    # (1) leaves in order, bodies agreeing with their rows
    gaps = [i for i, e in enumerate(events) if e.seq != i]
    if not events:
        out.append(Finding(subject="ledger", check="sequence", outcome=FindingOutcome.NOT_CHECKED,
                           detail="no sequenced events yet"))
    else:
        out.append(_f("ledger", "sequence", not gaps,
                      f"leaf {gaps[0]} is missing or out of place (an event was deleted or "
                      "moved)" if gaps else ""))
    for event in events:
        try:
            body = json.loads(event.body)
            agrees = body.get("action") == event.action and body.get("subject") == event.subject
        except (ValueError, AttributeError):
            agrees = False
        if not agrees:
            out.append(_f(f"event {event.seq}", "event", False,
                          f"row says {event.action} of {event.subject}; its signed body does not"))
    out.append(stored_nodes)
    if unsequenced:
        out.append(Finding(subject="ledger", check="checkpoint", outcome=FindingOutcome.NOT_CHECKED,
                           detail=f"{unsequenced} events newer than the last checkpoint"))
    if not checkpoints:
        out.append(Finding(subject="ledger", check="checkpoint", outcome=FindingOutcome.NOT_CHECKED,
                           detail="no checkpoint yet (run `preserver checkpoint`)"))

    previous: CheckpointRow | None = None
    for row in checkpoints:
        subject = f"checkpoint {row.size}"
        # (2) signature and recorded values
        try:
            checkpoint = verify_checkpoint(row.text, public_key_pem=archive.key.public_key_pem,
                                           name=origin(archive))
            agrees = checkpoint.size == row.size and checkpoint.root.hex() == row.root
            out.append(_f(subject, "signature", agrees,
                          "signed text and database disagree on size or root"))
        except (VerificationError, InvalidCheckpoint) as exc:
            out.append(_f(subject, "signature", False, str(exc)))
            continue
        # (3) the events still hash to it
        if checkpoint.size > len(leaves):
            out.append(_f(subject, "history", False, f"history truncated: the ledger has "
                          f"{len(leaves)} events, this checkpoint signed {checkpoint.size}"))
            continue
        actual = root_hash(leaves[: checkpoint.size])
        out.append(_f(subject, "history", actual == checkpoint.root,
                      f"history rewritten: events 0..{checkpoint.size - 1} hash to "
                      f"{actual.hex()[:16]}…, the checkpoint signed {checkpoint.root.hex()[:16]}…"
                      + (f" (checkpoint {previous.size} before it still matches)"
                         if previous is not None else "")))
        # (4) consistency with the previous checkpoint
        if previous is not None and actual == checkpoint.root:
            try:
                verify_consistency(
                    old_size=previous.size, new_size=checkpoint.size,
                    old_root=bytes.fromhex(previous.root), new_root=checkpoint.root,
                    proof=consistency_proof(leaves[: checkpoint.size], previous.size))
                out.append(_f(subject, "consistency", True))
            except VerificationError as exc:
                out.append(_f(subject, "consistency", False,
                              f"not an extension of checkpoint {previous.size}: {exc}"))
        previous = row

    # (5) timestamps: every checkpoint has its tokens, or says why not
    stamped_ids = {t.checkpoint_id for t in stamps}
    configured = bool(archive.config.custody.tsa_urls)
    for row in checkpoints:
        if row.id in stamped_ids:
            continue
        subject = f"checkpoint {row.size}"
        if row.timestamps_pending:
            out.append(Finding(subject=subject, check="timestamp",
                               outcome=FindingOutcome.NOT_CHECKED,
                               detail="timestamp pending: a TSA has not answered yet"))
        elif configured:
            out.append(_f(subject, "timestamp", False,
                          "no timestamp kept, though TSAs are configured and none is pending "
                          "(tokens deleted?)"))
        else:
            out.append(Finding(subject=subject, check="timestamp",
                               outcome=FindingOutcome.NOT_CHECKED,
                               detail="no TSA configured ([custody] tsa_urls)"))
    if stamps:
        by_id = {c.id: c for c in checkpoints}
        try:
            roots = trusted_roots(archive.config)
        except ConfigError as exc:
            return [*out, _f("timestamps", "timestamp", False, str(exc))]
        for stamp in stamps:
            stamped = by_id.get(stamp.checkpoint_id)
            subject = (f"timestamp of checkpoint {stamped.size if stamped else '?'} "
                       f"by {stamp.tsa_url}")
            if stamped is None:
                out.append(_f(subject, "timestamp", False, "its checkpoint is gone"))
                continue
            try:
                verify_timestamp(stamp.token, stamped.text, roots)
                out.append(_f(subject, "timestamp", True))
            except (VerificationError, InvalidTimestamp, InvalidCertificate) as exc:
                out.append(_f(subject, "timestamp", False, str(exc)))
    return out
