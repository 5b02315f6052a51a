"""The custody ledger in the archive: checkpoints after runs, timestamps from a local
TSA (a down TSA never stops a run), and every kind of history tampering caught by
`verify` with a message that says what and where."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from manifests import (
    Checkpoint,
    Finding,
    load_or_create_signing_key,
    sign_checkpoint,
    timestamp_request,
)
from preserver.archive import Archive, open_archive
from preserver.capture.run import run_jobs
from preserver.config import load_config
from preserver.custody.ledger import make_checkpoint, origin
from preserver.db.models import CheckpointRow, CheckpointTimestamp, Event
from preserver.ingest.report import ingest_report
from preserver.verify.archive import verify_archive
from tests.support.cli import OFFLINE
from tests.support.fixture_site import FixtureSite, Media
from tests.support.tsa import LocalTsa


@pytest.fixture
async def archive(tmp_path: Path, site: FixtureSite, media: Media,
                  tsa: LocalTsa) -> AsyncIterator[Archive]:
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(tsa.root_pem)
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n' + OFFLINE
                   + '[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   f'[custody]\ntsa_urls = ["{tsa.url}"]\ntsa_roots = "{roots}"\n',
                   encoding="utf-8")
    urls = [site.add_file("/v/a.mp4", media.mp4, "video/mp4"),
            site.add_file("/v/b.mp4", media.mp4_b, "video/mp4")]
    report = tmp_path / "r.txt"
    report.write_text("".join(f"{i}- الضحية {i}\n{u}\n" for i, u in enumerate(urls, 1)),
                      encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        await ingest_report(opened, report)
        await run_jobs(opened)
        yield opened


def failed(findings: list[Finding]) -> list[str]:
    return [f"{f.subject}: {f.check}: {f.detail}" for f in findings if f.outcome == "failed"]


async def _events(archive: Archive) -> list[Event]:
    async with archive.db.session() as s:
        return list((await s.scalars(select(Event).order_by(col(Event.seq)))).all())


async def test_checkpoint_signed_and_timestamped(archive: Archive, tsa: LocalTsa) -> None:
    first = await make_checkpoint(archive)
    assert first.created and first.size == len(await _events(archive))
    assert first.timestamped_by == (tsa.url,) and first.pending == ()
    again = await make_checkpoint(archive)  # nothing new: the same checkpoint, not re-signed
    assert not again.created and again.size == first.size
    findings = await verify_archive(archive)
    assert failed(findings) == []
    assert {f.check for f in findings if f.outcome == "passed"} >= {
        "sequence", "signature", "history", "timestamp"}


async def test_a_down_tsa_leaves_the_checkpoint_pending_then_retries(
    archive: Archive, tsa: LocalTsa,
) -> None:
    tsa.mode = "unavailable"
    result = await make_checkpoint(archive)
    assert result.created and result.timestamped_by == ()
    assert len(result.pending) == 1 and "HTTP 503" in result.pending[0]
    async with archive.db.session() as s:
        assert (await s.scalars(select(CheckpointRow))).one().timestamps_pending
    tsa.mode = "ok"
    await verify_archive(archive)  # adds a fixity_checked event: the ledger grows
    later = await make_checkpoint(archive)  # new checkpoint; the pending one is asked again
    async with archive.db.session() as s:
        rows = (await s.scalars(select(CheckpointRow))).all()
        stamps = (await s.scalars(select(CheckpointTimestamp))).all()
    assert later.created and not any(r.timestamps_pending for r in rows)
    assert len(stamps) == len(rows) == 2


async def test_a_garbage_answer_is_not_kept(archive: Archive, tsa: LocalTsa) -> None:
    tsa.mode = "garbage"
    result = await make_checkpoint(archive)
    assert "token refused" in result.pending[0]
    async with archive.db.session() as s:
        assert (await s.scalars(select(CheckpointTimestamp))).all() == []


async def _tamper(archive: Archive, statement: sa.Executable) -> list[str]:
    await make_checkpoint(archive)
    async with archive.db.session() as s:
        await s.execute(statement)
    return failed(await verify_archive(archive))


async def test_an_edited_event_is_caught(archive: Archive) -> None:
    await make_checkpoint(archive)
    async with archive.db.session() as s:
        event = (await s.scalars(select(Event).where(col(Event.action) == "capture_stored")
                                 .order_by(col(Event.seq)))).first()
        assert event is not None
        event.body = event.body.replace(b'"complete"', b'"failed"')
    found = failed(await verify_archive(archive))
    assert any("history rewritten: events 0.." in f for f in found), found


async def test_a_deleted_event_is_caught(archive: Archive) -> None:
    found = await _tamper(archive, sa.delete(Event).where(col(Event.seq) == 1))
    assert any("leaf 1 is missing" in f for f in found), found


async def test_reordered_events_are_caught(archive: Archive) -> None:
    await make_checkpoint(archive)
    async with archive.db.session() as s:
        await s.execute(sa.update(Event).where(col(Event.seq) == 1).values(seq=-1))
        await s.execute(sa.update(Event).where(col(Event.seq) == 2).values(seq=1))
        await s.execute(sa.update(Event).where(col(Event.seq) == -1).values(seq=2))
    found = failed(await verify_archive(archive))
    assert any("history rewritten" in f for f in found), found


async def test_an_inserted_event_is_caught(archive: Archive) -> None:
    await make_checkpoint(archive)
    events = await _events(archive)
    async with archive.db.session() as s:
        await s.execute(sa.update(Event).where(col(Event.seq) >= 1).values(seq=col(Event.seq) + 1000))
        await s.execute(sa.update(Event).where(col(Event.seq) >= 1000).values(seq=col(Event.seq) - 999))
        forged = json.loads(events[1].body)
        forged["subject"] = "youtube:aaaaaaaaaaa"
        s.add(Event(time=events[1].time, action=forged["action"], subject=forged["subject"],
                    body=json.dumps(forged).encode(), seq=1))
    found = failed(await verify_archive(archive))
    assert any("history rewritten" in f for f in found), found


async def test_truncated_and_regrown_history_is_caught(archive: Archive) -> None:
    first = await make_checkpoint(archive)
    async with archive.db.session() as s:  # cut the last two events ...
        await s.execute(sa.delete(Event).where(col(Event.seq) >= first.size - 2))
    async with archive.db.session() as s:  # ... and grow the same number back, unsequenced
        for i in range(3):
            s.add(Event(time=(await _events(archive))[0].time, action="report_ingested",
                        subject=f"forged-{i}", body=json.dumps(
                            {"action": "report_ingested", "subject": f"forged-{i}"}).encode()))
    await make_checkpoint(archive)
    found = failed(await verify_archive(archive))
    assert any(f"checkpoint {first.size}: history: history rewritten" in f for f in found), found


async def test_a_truncated_history_is_caught(archive: Archive) -> None:
    first = await make_checkpoint(archive)
    found = await _tamper(archive, sa.delete(Event).where(col(Event.seq) >= first.size - 1))
    assert any("history truncated" in f for f in found), found


async def test_a_checkpoint_forged_with_another_key_is_caught(
    archive: Archive, tmp_path: Path,
) -> None:
    first = await make_checkpoint(archive)
    other = load_or_create_signing_key(tmp_path / "other-keys")
    forged = sign_checkpoint(Checkpoint(origin=origin(archive), size=first.size,
                                            root=bytes.fromhex(first.root)), other,
                             name=origin(archive))
    async with archive.db.session() as s:
        await s.execute(sa.update(CheckpointRow).values(text=forged))
    found = failed(await verify_archive(archive))
    assert any(f"checkpoint {first.size}: signature: checkpoint: no signature by" in f
               for f in found), found


async def test_an_altered_timestamp_token_is_caught(archive: Archive) -> None:
    await make_checkpoint(archive)
    async with archive.db.session() as s:
        stamp = (await s.scalars(select(CheckpointTimestamp))).one()
        token = bytearray(stamp.token)
        token[-20] ^= 0x01
        stamp.token = bytes(token)
    found = failed(await verify_archive(archive))
    assert any("timestamp of checkpoint" in f and "bad signature" in f for f in found), found


async def test_a_token_from_an_untrusted_tsa_is_caught(
    archive: Archive, rogue_tsa: LocalTsa,
) -> None:
    await make_checkpoint(archive)
    async with archive.db.session() as s:
        stamp = (await s.scalars(select(CheckpointTimestamp))).one()
        row = await s.get_one(CheckpointRow, stamp.checkpoint_id)
        stamp.token = rogue_tsa.reply(timestamp_request(row.text).der)  # signed by a rogue CA
    found = failed(await verify_archive(archive))
    assert any("does not chain to a trusted root" in f for f in found), found


def test_doctor_asks_each_tsa_for_a_real_token(tmp_path: Path, tsa: LocalTsa,
                                                rogue_tsa: LocalTsa) -> None:
    from preserver.doctor import check_tsas

    roots = tmp_path / "roots.pem"
    roots.write_bytes(tsa.root_pem)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   f'[custody]\ntsa_urls = ["{tsa.url}", "{rogue_tsa.url}"]\n'
                   f'tsa_roots = "{roots}"\n', encoding="utf-8")
    import asyncio

    good, rogue = asyncio.run(check_tsas(load_config(cfg, env={})))
    assert good.outcome == "ok" and "token verified" in good.detail
    assert rogue.outcome == "warn" and "does not chain to a trusted root" in rogue.detail


async def test_deleted_timestamps_are_caught(archive: Archive) -> None:
    result = await make_checkpoint(archive)
    found = await _tamper(archive, sa.delete(CheckpointTimestamp))
    assert any(f"checkpoint {result.size}: timestamp: no timestamp kept" in f
               for f in found), found


async def test_event_bodies_are_salted(archive: Archive) -> None:
    """Two identical actions never hash alike: a proof's neighbour hashes reveal nothing."""
    bodies = [json.loads(e.body) for e in await _events(archive)]
    salts = [b["salt"] for b in bodies]
    assert all(len(s) == 32 for s in salts) and len(set(salts)) == len(salts)


async def test_the_fixity_event_counts_each_outcome(archive: Archive) -> None:
    findings = await verify_archive(archive)
    async with archive.db.session() as s:
        event = (await s.scalars(select(Event).order_by(col(Event.id).desc()).limit(1))).one()
    body = json.loads(event.body)
    assert (event.action, body["action"]) == ("fixity_checked", "fixity_checked")
    assert body["details"] == {
        "blobs": body["details"]["blobs"],
        "passed": sum(f.outcome == "passed" for f in findings),
        "failed": sum(f.outcome == "failed" for f in findings),
        "not_checked": sum(f.outcome == "not_checked" for f in findings),
    }
    assert body["details"]["passed"] > 0 and body["details"]["blobs"] > 0


async def test_a_corrupt_stored_node_is_never_signed_into_a_checkpoint(archive: Archive) -> None:
    """A checkpoint's root is read from the stored subtree hashes (``ledger_nodes``); one
    of them altered (a bad disk, a hand edit) must not make the archive sign a root that
    its events do not hash to: the new root is checked against the last checkpoint and,
    when they disagree, taken from the bodies, as before the rows existed."""
    from manifests import root_hash
    from preserver.custody.ledger import leaf_hashes
    from preserver.custody.nodes import frontier
    from preserver.db.models import LedgerNode

    first = await make_checkpoint(archive)
    level, idx = frontier(first.size)[0]  # the largest subtree the next root folds in
    async with archive.db.session() as s:
        await s.execute(sa.update(LedgerNode).where(col(LedgerNode.level) == level,
                                                    col(LedgerNode.idx) == idx)
                        .values(hash=b"\x07" * 32))
        s.add(Event(time=(await _events(archive))[0].time, action="report_ingested",
                    subject="next", body=json.dumps(
                        {"action": "report_ingested", "subject": "next"}).encode()))
    second = await make_checkpoint(archive)
    async with archive.db.session() as s:
        leaves = await leaf_hashes(s)
    assert second.size == first.size + 1
    assert second.root == root_hash(leaves).hex()
    found = failed(await verify_archive(archive))
    assert found == [(f"ledger: nodes: 1 stored subtree hashes altered, first node (level "
                      f"{level}, index {idx}) is 0707070707070707…, the events hash to "
                      f"{_node_hash(leaves, level, idx)[:16]}…")], found


def _node_hash(leaves: list[bytes], level: int, idx: int) -> str:
    from manifests import root_hash

    return root_hash(leaves[idx << level:(idx + 1) << level]).hex()
