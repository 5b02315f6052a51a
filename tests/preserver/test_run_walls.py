"""A run of walls pauses its politeness group, across runs; the other groups keep working.

YouTube's servers are the one thing stood in for (they cannot exist offline): a
YouTube job's watch page is served by the fixture site, and yt-dlp's answer is the
stub YouTube extractor's (``tests/support/platforms.py``, a stub of YouTube's servers
raising its real bot-wall messages through a real ``YoutubeDL``), read by the real
``classify``. The capture worker, the run loop, the queue, the pause table and the
web group's captures (the fixture site, real yt-dlp) are real. The pauses' clock is
moved by the test (a minute long here; the real ones are 15 minutes to 6 hours).
"""

from __future__ import annotations

import dataclasses
import importlib
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from yt_dlp import YoutubeDL
from yt_dlp.utils import DownloadError

import preserver.capture.run as run_module
from preserver.archive import Archive, open_archive
from preserver.capture import walls
from preserver.capture.run import run_jobs
from preserver.capture.walls import PauseLengths
from preserver.config import load_config
from preserver.db.engine import session_reader
from preserver.db.models import GroupPause, Job, Target
from preserver.ingest.report import ingest_report
from preserver.views.counts import status
from tests.support.cli import OFFLINE
from tests.support.fixture_site import FixtureSite, Media, html_page
from tests.support.platforms import YT_BOT, StubIE, StubYoutubeIE
from workers import CaptureJob, Status, classify
from workers.media import MediaFile, MediaOutcome

capture_module = importlib.import_module("workers.capture")


class Clock:
    """The pauses' clock: now, until a test moves it on."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Every run's pauses: a minute, doubling to a minute and a half, by this clock."""
    moment = Clock()
    monkeypatch.setattr(walls, "LENGTHS", PauseLengths(base=60.0, cap=90.0, clock=moment))
    return moment

YT_IDS = ("wallAAAAAA1", "wallAAAAAA2", "wallAAAAAA3", "wallAAAAAA4")


class _Quiet:
    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


def _stub_answer(video_id: str) -> MediaOutcome:
    """What yt-dlp says of ``video_id`` behind the stub of YouTube's servers."""
    with YoutubeDL({"quiet": True, "logger": _Quiet()}) as ydl:
        ie = StubYoutubeIE()
        ydl.add_info_extractor(ie)
        try:
            ydl.extract_info(f"stub-youtube:{video_id}", download=False, ie_key=ie.ie_key())
        except DownloadError as exc:
            c = classify(exc)
            return MediaOutcome(status=c.status, message=c.message, transient=c.transient,
                                wall=c.wall, files=(), metadata={}, resolved_url=None,
                                no_media=False)
    raise AssertionError("the stub always fails")


@pytest.fixture
def youtube(monkeypatch: pytest.MonkeyPatch, site: FixtureSite, media: Media
            ) -> Iterator[dict[str, tuple[str, str]]]:
    """Stub YouTube: ids in the returned dict fail with their (how, text); others play."""
    cases: dict[str, tuple[str, str]] = {}
    StubIE.CASES = cases
    real_job, real_media = run_module._job, capture_module.capture_media

    def job(*args: Any) -> CaptureJob:
        j = real_job(*args)
        if j.platform != "youtube":
            return j
        video_id = j.target_key.partition(":")[2]
        return dataclasses.replace(j, url=site.add_bytes(f"/watch/{video_id}", html_page(),
                                                         "text/html"))

    async def capture_media(j: CaptureJob) -> MediaOutcome:
        if j.platform != "youtube":
            return await real_media(j)
        video_id = j.target_key.partition(":")[2]
        if video_id in cases:
            return _stub_answer(video_id)
        path = j.work_dir / "clip.mp4"
        shutil.copyfile(media.mp4, path)
        return MediaOutcome(status=Status.AVAILABLE, message="", transient=False,
                            files=(MediaFile(path=path, role="media", media_type="video/mp4"),),
                            metadata={}, resolved_url=None, no_media=False)

    monkeypatch.setattr(run_module, "_job", job)
    monkeypatch.setattr(capture_module, "capture_media", capture_media)
    yield cases
    StubIE.CASES = {}


@asynccontextmanager
async def _archive(tmp_path: Path, urls: list[str]) -> AsyncIterator[Archive]:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[capture]\ntimeout = "20s"\nmax_attempts = 1\n'
                   'concurrency = 1\n[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE,
                   encoding="utf-8")
    report = tmp_path / "report.txt"
    report.write_text("".join(f"{i}- الضحية {i}\n{u}\n" for i, u in enumerate(urls, 1)),
                      encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, report)
        yield archive


async def _jobs(archive: Archive) -> dict[str, str]:
    async with archive.db.session() as s:
        rows = await s.execute(sa.select(Target.key, Job.state).join(Job, Job.target_id == Target.id))
        return {key: state for key, state in rows.all()}


@pytest.mark.slow
async def test_bot_walls_pause_youtube_and_the_web_keeps_working(
    tmp_path: Path, site: FixtureSite, youtube: dict[str, tuple[str, str]], clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for video_id in YT_IDS:
        youtube[video_id] = ("reason", YT_BOT)
    web = site.add_bytes("/statement.html", html_page(body="<p>statement</p>"), "text/html")
    urls = [f"https://www.youtube.com/watch?v={v}" for v in YT_IDS] + [web]
    async with _archive(tmp_path, urls) as archive:
        # (1) three bot walls pause youtube; the fourth job waits; the web job runs
        first = await run_jobs(archive, max_wait=0)
        assert first.statuses == {"bot_check": 3, "available": 1}
        (said,) = [r.getMessage() for r in caplog.records if "paused until" in r.getMessage()]
        until = clock.now + timedelta(minutes=1)
        assert said.startswith(f"youtube paused until {until:%Y-%m-%d %H:%M} UTC, 3 bot checks"
                               " in a row; no new job of it starts before then")
        jobs = await _jobs(archive)
        assert jobs[f"web:{web}"] == "done"
        assert [jobs[f"youtube:{v}"] for v in YT_IDS] == ["retry", "retry", "retry", "queued"]
        # (2) status says so, in words and in JSON
        async with archive.db.session() as s:
            shown = (await status(session_reader(s)))["paused"]
        assert [(p["group"], p["walls"], p["bot_checks"]) for p in shown] == [("youtube", 3, 3)]
        # (3) another run honours the pause stored by the first: no youtube job starts
        second = await run_jobs(archive, max_wait=0)
        assert second.jobs == 0
        # (4) after the pause, the first wall pauses again, twice as long (capped)
        clock.now += timedelta(seconds=61)
        third = await run_jobs(archive, max_wait=0)
        assert third.statuses == {"bot_check": 1}
        async with archive.db.session() as s:
            row = await s.get_one(GroupPause, "youtube")
        assert (row.walls, row.pauses) == (4, 2)
        assert row.paused_until == clock.now + timedelta(seconds=90)  # 120 s, capped at 90
        # (5) YouTube lets us through again: a success ends the walls and the pause
        youtube.clear()
        clock.now += timedelta(seconds=91)
        fourth = await run_jobs(archive, max_wait=0)
        assert fourth.captured == 4
        async with archive.db.session() as s:
            row = await s.get_one(GroupPause, "youtube")
            assert (row.walls, row.pauses, row.paused_until) == (0, 0, None)
            assert (await status(session_reader(s)))["paused"] == []


async def test_a_wall_never_changes_the_targets_state(
    tmp_path: Path, youtube: dict[str, tuple[str, str]], clock: Clock,
) -> None:
    youtube[YT_IDS[0]] = ("reason", YT_BOT)
    async with _archive(tmp_path, [f"https://www.youtube.com/watch?v={YT_IDS[0]}"]) as archive:
        summary = await run_jobs(archive, max_wait=0)
        assert summary.statuses == {"bot_check": 1}
        async with archive.db.session() as s:
            target = (await s.scalars(sa.select(Target))).one()
        assert (target.status, target.last_status) == ("unknown", "bot_check")
