"""One report's read model (preserver/views/report.py), on SQLite and PostgreSQL alike,
through the fast readers and through SQLAlchemy: citations in report order, each link's
state as the reports list derives it, the best capture as the copy held, a window of
citations and the counts of the whole report."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from preserver.archive import open_archive
from preserver.config import load_config
from preserver.db.engine import Database
from preserver.db.models import Capture, CaptureFile, Job, Target
from preserver.db.reading import open_reader
from preserver.db.values import utc_now
from preserver.ingest.report import ingest_report
from preserver.views.report import Window, report_of
from preserver.views.reports import reports

REPORT = ("1- مقطع\nhttps://youtu.be/AAAAAAAAAAA\n2- a page\nhttps://example.org/post?a=1\n"
          "3- again\nhttps://youtu.be/AAAAAAAAAAA\n4- waiting\nhttps://example.org/later\n"
          "5- broken\nhttps://example.org/broken\n6- unqueued\nhttps://example.org/none\n"
          "7- done, nothing kept\nhttps://example.org/done\n")
SHA = hashlib.sha256(REPORT.encode()).hexdigest()
CLIP, PAGE, LATER = "youtube:AAAAAAAAAAA", "web:https://example.org/post?a=1", \
    "web:https://example.org/later"
BROKEN, NONE, DONE = ("web:https://example.org/broken", "web:https://example.org/none",
                      "web:https://example.org/done")


def _capture(target_id: int, state: str, minutes: int, name: str) -> Capture:
    now = utc_now()
    return Capture(id=name, target_id=target_id, state=state, status="available",
                   message=f"{state} {name}", requested_url="u",
                   started_at=now - timedelta(minutes=minutes),
                   finished_at=now - timedelta(minutes=minutes),
                   manifest_sha256=hashlib.sha256(name.encode()).hexdigest(),
                   signature_sha256="0" * 64, key_id="0" * 64)


def _file(capture: str, role: str, content: str) -> CaptureFile:
    return CaptureFile(capture_id=capture, role=role, name=f"{role}.bin",
                       sha256=hashlib.sha256(content.encode()).hexdigest(),
                       size=len(content), media_type="application/octet-stream")


@pytest.fixture
async def archive_url(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The clip: a complete capture (media and page) an hour ago and a failed one since;
    the page: a partial one (its page) and a newer failed one; then a link still queued,
    one that only failed, one with no job, one whose job is done with nothing kept."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "archive"}"\ndatabase_url = "{db_url}"\n',
                   encoding="utf-8")
    (tmp_path / "r.txt").write_text(REPORT, encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, tmp_path / "r.txt")
        async with archive.db.session() as s:
            ids = {row.key: row.id for row in await s.execute(
                Target.__table__.select())}  # type: ignore[attr-defined]
            s.add_all([_capture(ids[CLIP], "complete", 60, "clip-good"),
                       _capture(ids[CLIP], "failed", 5, "clip-late"),
                       _capture(ids[PAGE], "partial", 30, "page-part"),
                       _capture(ids[PAGE], "failed", 1, "page-late"),
                       _capture(ids[BROKEN], "failed", 2, "broken")])
            await s.flush()
            s.add_all([_file("clip-good", "media", "clip"), _file("clip-good", "page", "pg"),
                       _file("page-part", "page", "warc")])
            jobs = Job.__table__  # type: ignore[attr-defined]
            await s.execute(jobs.update().where(jobs.c.target_id != ids[LATER])
                            .values(state="done"))
            await s.execute(jobs.delete().where(jobs.c.target_id == ids[NONE]))
    yield db_url


async def _both(url: str, window: Window | None) -> dict[str, Any] | None:
    async with open_reader(url) as reader:
        fast = await report_of(reader, SHA, window)
    db = await Database.open(url, read_only=True)
    try:
        async with db.reader() as reader:
            slow = await report_of(reader, SHA, window)
            listed = await reports(reader)
    finally:
        await db.close()
    assert fast == slow
    assert fast is not None
    mine = next(r for r in listed if r["sha256"] == SHA)
    assert (fast["states"], fast["availability"], fast["links"]) == (
        mine["states"], mine["availability"], mine["links"])  # one definition of a state
    return fast


async def test_every_citation_with_its_state_and_best_copy(archive_url: str) -> None:
    found = await _both(archive_url, None)
    assert found is not None
    assert found["citations"] == 7 and found["links"] == 6
    assert found["states"] == {"complete": 1, "done": 1, "failed": 1, "not_queued": 1,
                               "partial": 1, "queued": 1}
    items = found["items"]
    assert [(i["line"], i["key"]) for i in items] == [
        (2, CLIP), (4, PAGE), (6, CLIP), (8, LATER), (10, BROKEN), (12, NONE), (14, DONE)]
    assert [i["state"] for i in items] == ["complete", "partial", "complete", "queued",
                                           "failed", "not_queued", "done"]
    clip = items[0]["copy"]
    assert (clip["capture_id"], clip["state"]) == ("clip-good", "complete")  # not the newer failure
    assert clip["files"] == [{"role": "media", "sha256": hashlib.sha256(b"clip").hexdigest(),
                              "size": 4}]  # the media, not the page beside it
    page = items[1]["copy"]
    assert (page["capture_id"], page["message"]) == ("page-part", "partial page-part")
    assert [f["role"] for f in page["files"]] == ["page"]
    assert items[3]["copy"] is None
    assert found["ingested_at"].endswith("Z") and clip["captured_at"].endswith("Z")


async def test_a_window_lists_its_citations_and_counts_the_whole_report(
        archive_url: str) -> None:
    found = await _both(archive_url, Window(offset=1, limit=2))
    assert found is not None
    assert [i["line"] for i in found["items"]] == [4, 6]
    assert found["offset"] == 1 and found["citations"] == 7
    assert sum(found["states"].values()) == 6  # the whole report's links
    assert found["items"][1]["copy"]["capture_id"] == "clip-good"
    past = await _both(archive_url, Window(offset=10, limit=2))
    assert past is not None and past["items"] == [] and past["citations"] == 7


async def test_an_unknown_report_is_none(archive_url: str) -> None:
    async with open_reader(archive_url) as reader:
        assert await report_of(reader, "0" * 64) is None
