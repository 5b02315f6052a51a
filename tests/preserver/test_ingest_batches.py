"""``ingest_report`` on reports of several batches: recorded exactly as extracted, targets
and jobs right whatever batch cites them, and in one transaction (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, func, select

from preserver.archive import Archive, open_archive
from preserver.config import load_config
from preserver.db.models import Capture, Citation, Event, Job, JobState, Report, Target, utc_now
from preserver.errors import RunError
from preserver.ingest.links import extract_links
from preserver.ingest.report import BATCH, ingest_report
from preserver.ingest.targets import canonical_target
from tests.support.ingest_memory import douma_report

A, B, C = "youtube:AAAAAAAAAAA", "youtube:BBBBBBBBBBB", "youtube:CCCCCCCCCCC"
FIRST = "1- أ\nhttps://youtu.be/AAAAAAAAAAA\n2- ب\nhttps://youtu.be/BBBBBBBBBBB\n" \
        "3- ج\nhttps://youtu.be/CCCCCCCCCCC\n"
LINKS = 5_000  # three batches
# The first report's three videos, cited again at the start and the end of the big one.
BIG = "0- أ\nhttps://youtu.be/AAAAAAAAAAA?t=5\n" + douma_report(LINKS) + \
      "9999- ب ج\nhttps://youtu.be/BBBBBBBBBBB\nhttps://youtu.be/CCCCCCCCCCC\n" \
      "https://www.youtube.com/watch?v=AAAAAAAAAAA\n"


@pytest.fixture
async def archive(db_url: str, tmp_path: Path) -> AsyncIterator[Archive]:
    """An archive that has ingested FIRST; A has a complete capture, B's job is done
    (without one), C's job waits."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "archive"}"\ndatabase_url = "{db_url}"\n',
                   encoding="utf-8")
    (tmp_path / "first.txt").write_text(FIRST, encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        await ingest_report(opened, tmp_path / "first.txt")
        async with opened.db.session() as s:
            ids = {key: id_ for key, id_ in (await s.execute(select(Target.key, Target.id))).all()}
            now = utc_now()
            s.add(Capture(id=str(uuid.uuid4()), target_id=ids[A], state="complete",
                          status="available", requested_url="u", started_at=now,
                          finished_at=now, manifest_sha256="a" * 64, signature_sha256="0" * 64,
                          key_id="0" * 64))
            await s.execute(sa.update(Job).where(col(Job.target_id).in_([ids[A], ids[B]]))
                            .values(state=JobState.DONE))
        yield opened


async def _rows(archive: Archive) -> dict[str, int]:
    async with archive.db.session() as s:
        return {model.__name__: int(await s.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Report, Citation, Target, Job, Event)}


@pytest.mark.slow
async def test_a_report_of_several_batches_is_recorded_as_extracted(
        archive: Archive, tmp_path: Path) -> None:
    assert LINKS > 2 * BATCH
    path = tmp_path / "big.ar.txt"
    path.write_text(BIG, encoding="utf-8")
    links = extract_links(BIG)
    keys = [canonical_target(link.url).key for link in links]
    distinct = sorted(set(keys))
    result = await ingest_report(archive, path)
    new = len(distinct) - 3
    assert (result.citations, result.targets, result.new_targets, result.queued) == (
        len(links), len(distinct), new, new + 1)  # + B: its job is done, it has no capture
    assert (result.skipped, result.skipped_count, result.already_ingested) == ((), 0, False)
    async with archive.db.session() as s:
        report_id = await s.scalar(select(Report.id).where(col(Report.name) == "big.ar.txt"))
        rows = (await s.execute(
            select(Citation.line, Citation.offset, Citation.raw_url, Citation.label,
                   Citation.start_seconds, Target.key)
            .join(Target, col(Target.id) == col(Citation.target_id))
            .where(col(Citation.report_id) == report_id).order_by(col(Citation.offset))
        )).all()
        assert [tuple(row) for row in rows] == [(link.line, link.offset, link.raw_url, link.label, link.start_seconds,
                         key) for link, key in zip(links, keys, strict=True)]
        waiting = (await s.execute(
            select(Target.key, func.count()).join(Job, col(Job.target_id) == col(Target.id))
            .where(col(Job.state) == JobState.QUEUED).group_by(col(Target.key)))).all()
        assert {key: n for key, n in waiting} == {key: 1 for key in distinct if key != A}
        [body] = (await s.scalars(select(Event.body).where(
            col(Event.subject) == result.report_sha256))).all()
    assert json.loads(body)["details"] == {
        "name": "big.ar.txt", "sha256": result.report_sha256, "size": path.stat().st_size,
        "citations": len(links), "targets": distinct}
    before = await _rows(archive)
    again = await ingest_report(archive, path)
    assert (again.already_ingested, again.citations, again.targets, again.queued) == (
        True, len(links), len(distinct), 0)
    assert await _rows(archive) == before


@pytest.mark.slow
async def test_a_report_the_database_refuses_midway_leaves_nothing(
        archive: Archive, tmp_path: Path) -> None:
    """The database refuses a citation in the second batch (a trigger: a real refusal,
    after the first batch's rows were written): none of the report is left, and the
    same report ingests whole afterwards."""
    path = tmp_path / "big.ar.txt"
    path.write_text(BIG, encoding="utf-8")
    refused_line = 2 * (BATCH + 500)
    async with archive.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.line = {refused_line} THEN RAISE EXCEPTION 'refused by the test'; "
                "END IF; RETURN NEW; END $$"))
            await conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON citations "
                                       "FOR EACH ROW EXECUTE FUNCTION refuse()"))
        else:
            await conn.execute(sa.text(
                f"CREATE TRIGGER refuse BEFORE INSERT ON citations WHEN NEW.line = "
                f"{refused_line} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    assert any(link.line == refused_line for link in extract_links(BIG))
    before = await _rows(archive)
    with pytest.raises(RunError, match="refused by the test"):
        await ingest_report(archive, path)
    assert await _rows(archive) == before
    async with archive.db.engine.begin() as conn:
        await conn.execute(sa.text("DROP TRIGGER refuse ON citations"
                                   if conn.dialect.name == "postgresql" else "DROP TRIGGER refuse"))
    assert (await ingest_report(archive, path)).citations == len(extract_links(BIG))


async def test_a_report_of_skipped_links_only_records_the_report(
        archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text(f"1- اسم\nhttps://example.org/{'a' * 9000}\n", encoding="utf-8")
    before = await _rows(archive)
    result = await ingest_report(archive, path)
    assert (result.citations, result.targets, result.queued, result.skipped_count) == (0, 0, 0, 1)
    assert [(s.line, s.raw_url[:20]) for s in result.skipped] == [(2, "https://example.org/")]
    after = await _rows(archive)
    assert (after["Report"], after["Citation"], after["Event"]) == (
        before["Report"] + 1, before["Citation"], before["Event"] + 1)
