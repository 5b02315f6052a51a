"""The custody ledger's stored subtree hashes (``custody.nodes``, ``ledger_nodes``): roots
and proofs from them equal ``manifests``' over every leaf, byte for byte; sequencing
writes them under its lock (two sequencers at once leave one consistent tree); a node
row altered is a failed ``verify`` finding; migration 0011 backfills an archive built at
0010."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from manifests import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from preserver.custody import nodes
from preserver.custody.ledger import leaf_hashes, sequence_events, session_fetch
from preserver.db.engine import Database, make_engine, migrate
from preserver.db.models import Event, LedgerNode, utc_now
from preserver.verify.nodes import verify_nodes
from tests.support.schema import HEAD, downgrade


def _tree(leaves: Sequence[bytes]) -> dict[nodes.Key, bytes]:
    stack: list[nodes.Node] = []
    out: dict[nodes.Key, bytes] = {}
    for i, h in enumerate(leaves):
        grown, stack = nodes.grow(stack, i, [h])
        out.update(grown)
    return out


def _fetch(tree: dict[nodes.Key, bytes], leaves: Sequence[bytes],
           reads: list[int] | None = None) -> nodes.Fetch:
    async def read_nodes(keys: Sequence[nodes.Key]) -> dict[nodes.Key, bytes]:
        if reads is not None:
            reads.append(len(keys))
        return {k: tree[k] for k in keys if k in tree}

    async def read_leaves(indexes: Sequence[int]) -> dict[int, bytes]:
        return {i: leaves[i] for i in indexes if i < len(leaves)}

    return nodes.Fetch(nodes=read_nodes, leaves=read_leaves)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"event {i}".encode()) for i in range(n)]


def _sizes() -> list[int]:
    rng = random.Random(9162)
    return [*range(1, 71), *(rng.randrange(71, 3000) for _ in range(6))]


def test_grow_in_batches_equals_grow_one_at_a_time() -> None:
    leaves = _leaves(300)
    stack: list[nodes.Node] = []
    batched: dict[nodes.Key, bytes] = {}
    at = 0
    for step in (1, 2, 5, 64, 100, 128):
        grown, stack = nodes.grow(stack, at, leaves[at:at + step])
        batched.update(grown)
        at += step
    assert batched == _tree(leaves)
    assert [k for k, _ in stack] == nodes.frontier(300)
    assert len(batched) == 2 * 300 - (300).bit_count()  # every complete aligned subtree


@pytest.mark.slow
async def test_roots_and_proofs_equal_manifests_for_every_size() -> None:
    all_leaves = _leaves(3000)
    tree = _tree(all_leaves)
    for size in _sizes():
        leaves = all_leaves[:size]
        fetch = _fetch(tree, all_leaves)
        root = await nodes.root(fetch, size)
        assert root == root_hash(leaves), size
        for index in (range(size) if size <= 70 else random.Random(size).sample(range(size), 8)):
            proof = await nodes.inclusion_proof(fetch, index, size)
            assert proof == inclusion_proof(leaves, index), (index, size)
            assert verify_inclusion(leaf=leaves[index], index=index, size=size, proof=proof,
                                    root=root) == root
        for old in (range(size + 1) if size <= 70 else (0, 1, size // 3, size - 1, size)):
            proof = await nodes.consistency_proof(fetch, old, size)
            assert proof == consistency_proof(leaves, old), (old, size)
            assert verify_consistency(old_size=old, new_size=size, old_root=root_hash(
                leaves[:old]), new_root=root, proof=proof) == root


@pytest.mark.slow
async def test_every_root_and_every_proof_equal_manifests_up_to_300_leaves() -> None:
    """Exhaustive where the sampled test above is not: every root of sizes 0..300, every
    inclusion and consistency proof for sizes 1..130 and around 256 and 300."""
    all_leaves = _leaves(300)
    fetch = _fetch(_tree(all_leaves), all_leaves)
    for size in range(301):
        assert await nodes.root(fetch, size) == root_hash(all_leaves[:size]), size
    for size in [*range(1, 131), 255, 256, 257, 299, 300]:
        leaves = all_leaves[:size]
        for index in range(size):
            assert await nodes.inclusion_proof(fetch, index, size) == inclusion_proof(
                leaves, index), (index, size)
        for old in range(size + 1):
            assert await nodes.consistency_proof(fetch, old, size) == consistency_proof(
                leaves, old), (old, size)


async def test_a_root_reads_log_n_nodes_and_a_missing_row_is_computed() -> None:
    leaves = _leaves(1000)
    tree = _tree(leaves)
    reads: list[int] = []
    assert await nodes.root(_fetch(tree, leaves, reads), 1000) == root_hash(leaves)
    assert reads == [(1000).bit_count()]  # 6 rows, not 1000 bodies
    reads.clear()
    await nodes.inclusion_proof(_fetch(tree, leaves, reads), 999, 1000)
    assert sum(reads) <= 10 * 10
    del tree[(9, 0)], tree[(3, 124)], tree[(0, 992)]  # rows lost: computed from below
    assert await nodes.root(_fetch(tree, leaves), 1000) == root_hash(leaves)
    assert await nodes.inclusion_proof(_fetch(tree, leaves), 5, 1000) == inclusion_proof(
        leaves, 5)


async def test_a_lost_event_under_a_missing_node_is_an_integrity_error() -> None:
    leaves = _leaves(8)
    tree = _tree(leaves)
    del tree[(3, 0)], tree[(2, 1)], tree[(1, 3)], tree[(0, 7)]
    with pytest.raises(Exception, match=r"no event at leaf 7 \(run `preserver verify`\)"):
        await nodes.root(_fetch(tree, leaves[:7]), 8)


async def _add_events(db: Database, count: int, tag: str) -> None:
    if not count:
        return
    async with db.session() as s:
        await s.execute(sa.insert(Event), [
            {"time": utc_now(), "action": "report_ingested", "subject": f"{tag}{i}",
             "body": f'{{"n": "{tag}{i}"}}'.encode()} for i in range(count)])


async def _stored(db: Database) -> dict[nodes.Key, bytes]:
    async with db.session() as s:
        return {(n.level, n.idx): n.hash for n in (await s.scalars(select(LedgerNode))).all()}


async def _body_leaves(db: Database) -> list[bytes]:
    async with db.session() as s:
        return await leaf_hashes(s)


async def test_sequencing_stores_every_complete_subtree(db: Database) -> None:
    for count in (1, 6, 0, 37):  # across several sequencings: the frontier is carried on
        await _add_events(db, count, f"b{count}-")
        async with db.session() as s:
            await sequence_events(s)
    leaves = await _body_leaves(db)
    assert len(leaves) == 44 and await _stored(db) == _tree(leaves)
    async with db.session() as s:
        assert await nodes.root(session_fetch(s), 44) == root_hash(leaves)
        assert (await verify_nodes(s, leaves)).outcome == "passed"


async def test_two_sequencers_at_once_leave_one_consistent_tree(db: Database,
                                                                db_url: str) -> None:
    other = await Database.open(db_url)
    try:
        async def sequence(database: Database, tag: str) -> int:
            total = 0
            for round_ in range(4):
                await _add_events(database, 25, f"{tag}{round_}-")
                async with database.session() as s:
                    total = await sequence_events(s)
            return total

        await asyncio.gather(sequence(db, "a"), sequence(other, "b"))
    finally:
        await other.close()
    leaves = await _body_leaves(db)
    async with db.session() as s:
        seqs = (await s.scalars(select(Event.seq).order_by(col(Event.seq)))).all()
    assert list(seqs) == list(range(200))
    assert await _stored(db) == _tree(leaves)


async def test_an_altered_node_row_is_a_failed_finding(db: Database) -> None:
    await _add_events(db, 11, "e")
    async with db.session() as s:
        await sequence_events(s)
    async with db.session() as s:
        await s.execute(sa.update(LedgerNode).where(col(LedgerNode.level) == 2,
                                                    col(LedgerNode.idx) == 1)
                        .values(hash=b"\x07" * 32))
    leaves = await _body_leaves(db)
    async with db.session() as s:
        finding = await verify_nodes(s, leaves)
    assert finding.outcome == "failed"
    assert finding.detail.startswith("1 stored subtree hashes altered, first node (level 2, "
                                     "index 1) is 0707070707070707…"), finding.detail


async def test_migration_0011_backfills_an_archive_built_at_0010(db: Database,
                                                                 db_url: str) -> None:
    await _add_events(db, 23, "m")
    async with db.session() as s:
        await sequence_events(s)  # 23 sequenced ...
    await _add_events(db, 4, "late")  # ... and 4 not yet
    before = await _stored(db)
    async with db.engine.begin() as conn:
        await conn.run_sync(downgrade, "0010")
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert "ledger_nodes" not in tables
    engine = make_engine(db_url)
    try:
        assert (await migrate(engine)).after == HEAD
    finally:
        await engine.dispose()
    reopened = await Database.open(db_url)
    try:
        assert await _stored(reopened) == before == _tree(await _body_leaves(reopened))
        async with reopened.session() as s:
            assert await sequence_events(s) == 27
        assert await _stored(reopened) == _tree(await _body_leaves(reopened))
    finally:
        await reopened.close()


async def test_the_read_path_proofs_equal_manifests_and_lost_rows_are_computed(
    db: Database, db_url: str,
) -> None:
    from preserver.db.models import CheckpointRow
    from preserver.db.reading import open_reader
    from preserver.views.custody import ledger_entries

    await _add_events(db, 45, "r")
    async with db.session() as s:
        await sequence_events(s)
    leaves = await _body_leaves(db)
    async with db.session() as s:
        s.add(CheckpointRow(size=45, root=root_hash(leaves).hex(), text=b"-",
                            created_at=utc_now()))
        await s.execute(sa.delete(LedgerNode).where(  # lost rows: (5, 0) and a leaf under it
            ((col(LedgerNode.level) == 5) & (col(LedgerNode.idx) == 0))
            | ((col(LedgerNode.level) == 0) & (col(LedgerNode.idx) == 3))))
        ids = list((await s.scalars(select(Event.id).order_by(col(Event.seq)))).all())
    async with open_reader(db_url) as reader:
        entries = await ledger_entries(reader, ids)
    for seq, event_id in enumerate(ids):
        proof = entries[event_id]["proof"]
        assert proof["verified"] and proof["checkpoint"]["size"] == 45
        assert proof["hashes"] == [h.hex() for h in inclusion_proof(leaves, seq)]
    async with db.session() as s:
        finding = await verify_nodes(s, leaves)
    assert finding.outcome == "failed"
    assert finding.detail == "2 stored subtree hashes missing, first node (level 0, index 3)"


async def test_an_extra_node_row_above_every_level_in_use_is_a_failed_finding(
    db: Database,
) -> None:
    """A row at a level no complete subtree reaches yet (here level 9 over 5 leaves) is
    never read, but it would collide with the node sequencing writes at 512 leaves:
    verify reports it, whatever levels lie empty between."""
    await _add_events(db, 5, "x")
    async with db.session() as s:
        await sequence_events(s)
        await s.execute(sa.insert(LedgerNode), [{"level": 9, "idx": 0, "hash": b"\x09" * 32}])
    leaves = await _body_leaves(db)
    async with db.session() as s:
        finding = await verify_nodes(s, leaves)
    assert finding.outcome == "failed"
    assert finding.detail == ("1 stored subtree hashes beyond the ledger's 5 events, first "
                              "node (level 9, index 0)"), finding.detail


async def test_a_failure_in_a_later_batch_leaves_no_seq_and_no_node_of_the_earlier(
    db: Database,
) -> None:
    """Sequencing is one transaction: 5002 events (two batches) whose second batch's
    node insert fails (a database trigger refuses (1, 2500), over leaves 5000-5001) leave
    every event unsequenced and no node written, the first batch's included."""
    from preserver.errors import RunError

    async with db.session() as s:
        await s.execute(sa.insert(Event), [
            {"time": utc_now(), "action": "report_ingested", "subject": f"t{i}",
             "body": f'{{"n": {i}}}'.encode()} for i in range(5002)])
    async with db.engine.begin() as conn:
        for sql in _REFUSE[db.engine.dialect.name]:
            await conn.execute(sa.text(sql))
    with pytest.raises(RunError, match=r"database error: .*node refused"):
        async with db.session() as s:
            await sequence_events(s)
    async with db.session() as s:
        sequenced = await s.scalar(select(sa.func.count()).where(col(Event.seq).is_not(None)))
    assert sequenced == 0
    assert await _stored(db) == {}


_REFUSE = {
    "sqlite": [("CREATE TRIGGER refuse BEFORE INSERT ON ledger_nodes WHEN NEW.level = 1 "
               "AND NEW.idx = 2500 BEGIN SELECT RAISE(ABORT, 'node refused'); END")],
    "postgresql": [("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "IF NEW.level = 1 AND NEW.idx = 2500 THEN RAISE EXCEPTION 'node refused'; "
                   "END IF; RETURN NEW; END $$"),
                   ("CREATE TRIGGER refuse BEFORE INSERT ON ledger_nodes FOR EACH ROW "
                   "EXECUTE FUNCTION refuse()")],
}


async def test_an_event_committed_late_below_a_sequenced_id_waits_for_the_sequencer(
    db: Database, db_url: str,
) -> None:
    """PostgreSQL: an event whose transaction took id 1 and commits after id 2's: the
    sequencer waits on its table lock until id 1 commits, then gives 1 leaf 0 and 2 leaf
    1, and the nodes are those of the bodies in that order (SQLite's one writer cannot
    interleave so)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: an insert cannot stay open beside another")
    row = {"time": utc_now(), "action": "report_ingested", "body": b'{"n": "late"}'}
    async with db.engine.connect() as late:
        transaction = await late.begin()
        first = (await late.execute(sa.insert(Event).returning(col(Event.id)),
                                    [{**row, "subject": "late"}])).scalar_one()
        async with db.session() as s:
            second = (await s.execute(sa.insert(Event).returning(col(Event.id)), [
                {**row, "subject": "early", "body": b'{"n": "early"}'}])).scalar_one()
        assert first < second

        async def sequence() -> int:
            async with db.session() as s:
                return await sequence_events(s)

        task = asyncio.create_task(sequence())
        async with db.engine.connect() as watch:
            while not await watch.scalar(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = "
                    "'ShareRowExclusiveLock'")):
                assert not task.done(), task
                await asyncio.sleep(0.01)
        await transaction.commit()
    assert await task == 2
    async with db.session() as s:
        order = (await s.scalars(select(Event.id).order_by(col(Event.seq)))).all()
    assert list(order) == [first, second]
    assert await _stored(db) == _tree(await _body_leaves(db))


async def test_stale_rows_above_level_0_over_deleted_events_do_not_block_sequencing(
    db: Database,
) -> None:
    """Events 6 and 7 of 8 deleted with their leaf rows, but not the rows above them
    ((1, 3), (2, 1), (3, 0)): the next sequencing drops those too instead of failing on
    the key of the first node it completes, and the rows are the new bodies' tree."""
    await _add_events(db, 8, "d")
    async with db.session() as s:
        await sequence_events(s)
        await s.execute(sa.delete(Event).where(col(Event.seq) >= 6))
        await s.execute(sa.delete(LedgerNode).where(col(LedgerNode.level) == 0,
                                                    col(LedgerNode.idx) >= 6))
    await _add_events(db, 3, "n")
    async with db.session() as s:
        assert await sequence_events(s) == 9
    assert await _stored(db) == _tree(await _body_leaves(db))


async def test_sequencing_a_batch_binds_few_parameters(tmp_path: Path) -> None:
    """SQLite builds before 3.32 allow 999 parameters a statement: 1,200 pending events
    are sequenced on such a limit (the batch's bodies are read by an id range, not an
    IN list of every id)."""
    import sqlite3

    db = await Database.open(f"sqlite+aiosqlite:///{tmp_path / 'limit.db'}")
    try:
        @sa.event.listens_for(db.engine.sync_engine, "connect")
        def _limit(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.driver_connection._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER,
                                                        999)

        await db.engine.dispose()  # new connections, with the limit
        await _add_events(db, 1200, "p")
        async with db.session() as s:
            assert await sequence_events(s) == 1200
        assert await _stored(db) == _tree(await _body_leaves(db))
    finally:
        await db.close()


async def test_an_altered_body_under_unchanged_rows_is_a_failed_finding(db: Database) -> None:
    """The bodies are the truth: event 3 of 11 edited, its rows still the old body's: the
    leaf row and the three above it are reported altered."""
    await _add_events(db, 11, "a")
    async with db.session() as s:
        await sequence_events(s)
        await s.execute(sa.update(Event).where(col(Event.seq) == 3).values(body=b'{"n": 0}'))
    leaves = await _body_leaves(db)
    async with db.session() as s:
        finding = await verify_nodes(s, leaves)
    assert finding.outcome == "failed"
    assert finding.detail.startswith("4 stored subtree hashes altered, first node (level 0, "
                                     "index 3)"), finding.detail


async def test_migration_0011_stops_its_backfill_at_a_gap(db: Database, db_url: str) -> None:
    """Event 5 of 10 deleted before the upgrade: the rows are the tree of leaves 0-4 only
    (nothing is guessed past a gap, which `verify` reports)."""
    await _add_events(db, 10, "g")
    async with db.session() as s:
        await sequence_events(s)
        await s.execute(sa.delete(Event).where(col(Event.seq) == 5))
    async with db.engine.begin() as conn:
        await conn.run_sync(downgrade, "0010")
    engine = make_engine(db_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    reopened = await Database.open(db_url)
    try:
        assert await _stored(reopened) == _tree((await _body_leaves(reopened))[:5])
    finally:
        await reopened.close()
