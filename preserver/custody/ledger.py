"""The custody ledger: custody events as the leaves of an append-only Merkle tree
(RFC 9162 section 2.1), with signed checkpoints (C2SP tlog-checkpoint) timestamped
by RFC 3161 authorities.

- Events are *sequenced* (given their leaf index, ``seq``) in id order, under a
  table lock, only when a checkpoint is made: an event whose transaction commits
  late can never slip in below a checkpointed size. The same transaction stores the
  subtree hashes the new leaves complete (``ledger_nodes``, ``custody.nodes``), from
  which a checkpoint's root is read: O(log n) rows, not every body. A new root is signed
  only if a consistency proof from the rows extends the last checkpoint; else the
  bodies' root is (``_checked_root``).
- A checkpoint is made after every run and on ``preserver checkpoint``; a size
  already checkpointed is not signed again. One process makes it at a time, whatever
  the machine (an advisory lock on PostgreSQL: ``preserver.db.singleton``).
- Every configured TSA is asked for a token over the checkpoint's exact text; a
  token is kept only after it verifies against the trusted roots. A TSA that is
  down does not stop anything: the checkpoint stays ``timestamps_pending`` and the
  next checkpoint (or run) asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from manifests import (
    Checkpoint,
    VerificationError,
    leaf_hash,
    root_hash,
    sign_checkpoint,
    verify_consistency,
)
from preserver.custody import nodes
from preserver.custody.nodes import (
    Fetch,
    Key,
    frontier,
    grow,
    leaf,
    leaves_query,
    nodes_query,
    resolve,
)
from preserver.custody.tsa import TsaFailed, ask_tsa, trusted_roots
from preserver.db.models import (
    CheckpointRow,
    CheckpointTimestamp,
    Event,
    LedgerNode,
    core_table,
    utc_now,
)
from preserver.db.singleton import singleton
from preserver.net import http_client

if TYPE_CHECKING:
    from preserver.archive import Archive

log = logging.getLogger(__name__)

_TSA_TIMEOUT = 30.0
_BATCH = 5000  # events sequenced per statement batch (bodies held at once)


@dataclass(frozen=True, kw_only=True)
class CheckpointOutcome:
    size: int
    root: str  # hex
    created: bool  # False when this size was already checkpointed
    timestamped_by: tuple[str, ...]  # TSA URLs whose verified tokens the checkpoint holds
    pending: tuple[str, ...]  # TSA URLs still to answer (with the reason)


def origin(archive: Archive) -> str:
    return archive.config.custody.origin or f"preserver/{archive.key.key_id[:16]}"


async def sequence_events(session: AsyncSession) -> int:
    """Give every unsequenced event its leaf index, in id order, and store the subtree
    hashes (``ledger_nodes``) that the new leaves complete. Returns the tree size.

    Both happen under the lock that orders sequencing (PostgreSQL: a table lock that a
    second sequencer waits on; SQLite: the database's write lock), in the caller's
    transaction, so the nodes always describe exactly the committed sequence."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(sa.text("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite: a write statement takes the database's write lock before we count
        await session.execute(sa.update(Event).where(col(Event.id).is_(None)).values(seq=None))
    size = int(await session.scalar(select(sa.func.count()).where(col(Event.seq).is_not(None)))
               or 0)
    await _drop_stale_nodes(session, size)
    pending = list((await session.scalars(
        select(Event.id).where(col(Event.seq).is_(None)).order_by(col(Event.id)))).all())
    if not pending:
        return size
    fetch = session_fetch(session)
    known = await resolve(fetch, frontier(size))
    stack = [(k, known[k]) for k in frontier(size)]
    done = size
    for at in range(0, len(pending), _BATCH):
        ids = pending[at:at + _BATCH]
        # by id range (two parameters, not one per id): under the lock, the unsequenced
        # events between this batch's first and last id are exactly the batch
        bodies = {int(i): bytes(b) for i, b in (await session.execute(
            select(Event.id, Event.body).where(col(Event.seq).is_(None),
                                               col(Event.id).between(ids[0], ids[-1])))).all()}
        await session.execute(sa.text("UPDATE events SET seq = :seq WHERE id = :id"),
                              [{"seq": done + n, "id": i} for n, i in enumerate(ids)])
        grown, stack = grow(stack, done, [leaf(bodies[i]) for i in ids])
        await session.execute(sa.insert(core_table(LedgerNode)), [
            {"level": level, "idx": idx, "hash": h} for (level, idx), h in grown])
        done += len(ids)
    return done


async def _drop_stale_nodes(session: AsyncSession, size: int) -> None:
    """Nodes over leaves at or beyond ``size`` (the events under them were deleted, which
    ``verify`` reports) are dropped, at every level a node can be written at, so the
    leaves given those indexes now are stored (a stale row would collide with them)."""
    dropped = 0
    for level in range(64):  # a key range per level (the primary key): cheap when none
        result = await session.execute(
            sa.text("DELETE FROM ledger_nodes WHERE level = :l AND idx >= :i"),
            {"l": level, "i": size >> level})
        dropped += max(getattr(result, "rowcount", 0) or 0, 0)
    if dropped:
        log.warning("custody ledger: %d node hashes beyond the %d sequenced events (events "
                    "were deleted: run `preserver verify`); dropped them", dropped, size)


def session_fetch(session: AsyncSession) -> Fetch:
    """A ``custody.nodes.Fetch`` reading the ledger's rows in ``session``."""

    async def read_nodes(keys: Sequence[Key]) -> dict[Key, bytes]:
        sql, params = nodes_query(keys)
        rows = await session.execute(sa.text(sql), params)
        return {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}

    async def read_leaves(indexes: Sequence[int]) -> dict[int, bytes]:
        sql, params = leaves_query(indexes)
        return {int(r[0]): leaf(bytes(r[1])) for r in await session.execute(sa.text(sql), params)}

    return Fetch(nodes=read_nodes, leaves=read_leaves)


async def leaf_hashes(session: AsyncSession, size: int | None = None) -> list[bytes]:
    """The ledger's leaf hashes in order (the first ``size`` of them), from the event
    bodies: O(ledger size), for ``verify``, which checks the stored nodes against them."""
    query = select(Event.body).where(col(Event.seq).is_not(None)).order_by(col(Event.seq))
    if size is not None:
        query = query.limit(size)
    return [leaf_hash(body) for body in (await session.scalars(query)).all()]


async def make_checkpoint(archive: Archive) -> CheckpointOutcome:
    """Sequence new events, sign a checkpoint of the whole ledger if it grew, timestamp it.

    One process at a time, among all machines (``preserver.db.singleton``): a second
    waits, then finds the size checkpointed and only asks for what is still pending."""
    async with singleton(archive.db.engine, "checkpoint", wait=True):
        return await _make_checkpoint(archive)


async def _make_checkpoint(archive: Archive) -> CheckpointOutcome:
    async with archive.db.session() as session:
        size = await sequence_events(session)
        root = await nodes.root(session_fetch(session), size)
        row = await session.scalar(select(CheckpointRow).where(CheckpointRow.size == size))
        created = row is None
        if row is None:
            root = await _checked_root(session, size, root)
            checkpoint = Checkpoint(origin=origin(archive), size=size, root=root)
            text = sign_checkpoint(checkpoint, archive.key, name=origin(archive))
            row = CheckpointRow(size=size, root=root.hex(), text=text, created_at=utc_now(),
                                timestamps_pending=bool(archive.config.custody.tsa_urls))
            session.add(row)
            await session.flush()
    stamped, pending = await timestamp_checkpoints(archive)
    return CheckpointOutcome(size=size, root=root.hex(), created=created,
                             timestamped_by=stamped.get(size, ()),
                             pending=tuple(pending.get(size, ())))


async def _checked_root(session: AsyncSession, size: int, root: bytes) -> bytes:
    """``root`` (read from the stored nodes) if it extends the last signed checkpoint by
    a consistency proof from the same nodes, O(log² n) rows; else the bodies' root, as
    before the nodes were stored: a node row altered is never signed into a checkpoint.
    ``verify`` reports the row (``verify.nodes``)."""
    last = await session.scalar(select(CheckpointRow).where(col(CheckpointRow.size) < size)
                                .order_by(col(CheckpointRow.size).desc()).limit(1))
    if last is None:  # every node under this root was written now, from the bodies
        return root
    try:
        verify_consistency(old_size=last.size, new_size=size, old_root=bytes.fromhex(last.root),
                           new_root=root, proof=await nodes.consistency_proof(
                               session_fetch(session), last.size, size))
        return root
    except (VerificationError, ValueError):
        log.warning("custody ledger: the stored subtree hashes do not extend checkpoint %d "
                    "(run `preserver verify`); the root is computed from the %d events",
                    last.size, size)
        return root_hash(await leaf_hashes(session, size))


async def timestamp_checkpoints(
    archive: Archive,
) -> tuple[dict[int, tuple[str, ...]], dict[int, list[str]]]:
    """Ask every configured TSA for each checkpoint still missing its token.

    Returns ({size: urls that timestamped it}, {size: ["url: reason", …] still pending}).
    """
    urls = archive.config.custody.tsa_urls
    stamped: dict[int, tuple[str, ...]] = {}
    pending: dict[int, list[str]] = {}
    if not urls:
        return stamped, pending
    roots = trusted_roots(archive.config)
    async with archive.db.session() as session:
        rows = (await session.scalars(select(CheckpointRow).where(
            col(CheckpointRow.timestamps_pending)).order_by(col(CheckpointRow.size)))).all()
        have = {(t.checkpoint_id, t.tsa_url) for t in (await session.scalars(
            select(CheckpointTimestamp))).all()}
    async with http_client(archive.config.network, timeout=_TSA_TIMEOUT) as http:
        for row in rows:
            assert row.id is not None
            missing = [u for u in urls if (row.id, u) not in have]
            for url in missing:
                try:
                    token, chain, when = await ask_tsa(http, url, row.text, roots)
                except TsaFailed as exc:
                    log.warning("timestamp from %s for checkpoint %d: %s", url, row.size, exc)
                    pending.setdefault(row.size, []).append(f"{url}: {exc}")
                    continue
                async with archive.db.session() as session:
                    session.add(CheckpointTimestamp(checkpoint_id=row.id, tsa_url=url,
                                                    token=token, chain=chain, gen_time=when))
            async with archive.db.session() as session:
                fresh = await session.get_one(CheckpointRow, row.id)
                fresh.timestamps_pending = row.size in pending
            stamped[row.size] = tuple(u for u in urls if u not in
                                      {p.split(": ", 1)[0] for p in pending.get(row.size, [])})
    return stamped, pending
