"""The run loop against the fixture site, in process: a full disk during capture
records nothing partial and loses nothing; the next run, with space again, captures."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import preserver.capture.run as run_module
from preserver.archive import Archive, open_archive
from preserver.capture.record import JobRecord
from preserver.capture.run import JobEvent, run_jobs
from preserver.config import load_config
from preserver.db.models import AvailabilityCheck, Capture, CaptureFile, Job
from preserver.errors import RunError
from preserver.ingest.report import ingest_report
from preserver.verify.archive import verify_archive
from storage import LocalBlobStore, StorageUnavailable
from tests.support.cli import OFFLINE
from tests.support.fixture_site import FixtureSite, Media, send


def _fill(where: Path, leave: int) -> Path:
    """Take all free space of ``where``'s filesystem but ``leave`` bytes."""
    st = os.statvfs(where)
    filler = where / "filler"
    with filler.open("wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


async def test_disk_full_during_capture_keeps_nothing_partial(
    tmp_path: Path, small_disk: tuple[Path, bool], site: FixtureSite, media: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    where, mounted = small_disk
    url = site.add_file("/v/clip-b.mp4", media.mp4_b, "video/mp4")
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(
        f'data_dir = "{where / "archive"}"\n'
        f'database_url = "sqlite+aiosqlite:///{tmp_path / "db.sqlite"}"\n'
        '[capture]\nmax_attempts = 1\ntimeout = "20s"\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE, encoding="utf-8")
    config = load_config(cfg_file, env={})
    report = tmp_path / "report.txt"
    report.write_text(f"1- الضحية الأولى\n{url}\n", encoding="utf-8")

    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        if mounted:  # a real full filesystem: 20 KiB left for a 52 KB video
            filler = _fill(where, leave=20 * 1024)
        else:  # no mount permitted here: the store's writes fail as a full disk's would
            def full(self: LocalBlobStore, *args: object, **kwargs: object) -> object:
                raise StorageUnavailable(f"cannot store blob: {os.strerror(errno.ENOSPC)}")

            monkeypatch.setattr(LocalBlobStore, "put_file", full)
        summary = await run_jobs(archive)
        assert summary.captured == 0

        async with archive.db.session() as s:
            files = (await s.scalars(sa.select(CaptureFile))).all()
            captures = (await s.scalars(sa.select(Capture))).all()
            job = (await s.scalars(sa.select(Job))).one()
        assert files == []  # nothing recorded that is not wholly stored
        assert all(c.state == "failed" for c in captures)
        assert job.state in ("retry", "failed")
        assert "No space left on device" in (job.last_error or "")
        assert list((where / "archive" / "tmp").iterdir()) == []  # work dirs cleaned
        findings = await verify_archive(archive)
        assert [f for f in findings if f.outcome == "failed"] == []

        # space again: the next run captures it, nothing was lost
        if mounted:
            filler.unlink()
        else:
            monkeypatch.undo()
        summary = await run_jobs(archive)
        assert summary.captured == 1
        async with archive.db.session() as s:
            media_rows = (await s.scalars(
                sa.select(CaptureFile).where(CaptureFile.role == "media"))).all()
        assert [r.sha256 for r in media_rows] == [media.sha256("mp4_b")]
        assert [f for f in await verify_archive(archive) if f.outcome == "failed"] == []


# -- the run loop's own guarantees ----------------------------------------------------------


def _config(tmp_path: Path, **capture: str) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in capture.items())
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[capture]\ntimeout = "20s"\n' + extra
                   + '[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE, encoding="utf-8")
    return cfg


@asynccontextmanager
async def _archive_with(tmp_path: Path, urls: list[str], **capture: str) -> AsyncIterator[Archive]:
    config = load_config(_config(tmp_path, **capture), env={})
    report = tmp_path / "report.txt"
    report.write_text("".join(f"{i}- الضحية {i}\n{u}\n" for i, u in enumerate(urls, 1)),
                      encoding="utf-8")
    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        yield archive


async def _rows(archive: Archive) -> tuple[list[Job], list[Capture], list[AvailabilityCheck]]:
    async with archive.db.session() as s:
        return ((await s.scalars(sa.select(Job).order_by(Job.id))).all(),  # type: ignore[return-value]
                (await s.scalars(sa.select(Capture))).all(),
                (await s.scalars(sa.select(AvailabilityCheck))).all())


@pytest.mark.slow
async def test_transient_failure_is_retried_within_the_run_and_kept_once(
    tmp_path: Path, site: FixtureSite, media: Media,
) -> None:
    calls = {"n": 0}
    body = media.mp4.read_bytes()

    def flaky(req: BaseHTTPRequestHandler) -> None:
        calls["n"] += 1
        if calls["n"] <= 4:  # the first attempt: page and media both get a 503
            send(req, 503, b"busy", "text/plain")
        else:
            send(req, 200, body, "video/mp4")

    url = site.add("/v/flaky.mp4", flaky)
    async with _archive_with(tmp_path, [url], max_attempts="3", retry_delay='"100ms"') as archive:
        summary = await run_jobs(archive)
        jobs, captures, checks = await _rows(archive)
    assert summary.captured == 1 and summary.retrying >= 1
    assert [j.state for j in jobs] == ["done"]
    assert [c.state for c in captures] == ["complete"]  # the failed attempt left no capture
    assert [c.status for c in checks][-1] == "available"


@pytest.mark.slow
async def test_a_cancelled_run_still_records_what_it_was_doing(
    tmp_path: Path, site: FixtureSite, media: Media,
) -> None:
    url = site.add_slow("/v/slow.mp4", media.mp4.read_bytes(), "video/mp4", delay=0.05)
    async with _archive_with(tmp_path, [url]) as archive:
        started = asyncio.Event()

        def on_event(event: JobEvent) -> None:
            if event.result is None:
                started.set()

        task = asyncio.create_task(run_jobs(archive, progress=on_event))
        await started.wait()
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        jobs, captures, checks = await _rows(archive)
    assert [j.state for j in jobs] == ["retry"]  # not left "running"
    assert jobs[0].last_error == "interrupted: the run was stopped"
    assert captures == [] and checks == []  # an interruption says nothing about the link


async def test_a_database_error_while_recording_does_not_stop_the_run(
    tmp_path: Path, site: FixtureSite, media: Media, monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = site.add_file("/v/a.mp4", media.mp4, "video/mp4")
    b = site.add_file("/v/b.mp4", media.mp4_b, "video/mp4")
    real = run_module.record_result
    failed: list[str] = []

    async def flaky_record(archive: Archive, job: JobRecord, *args: Any, **kw: Any) -> Any:
        if not failed:
            failed.append(job.url)
            raise RunError("database error: database or disk is full")
        return await real(archive, job, *args, **kw)

    monkeypatch.setattr(run_module, "record_result", flaky_record)
    async with _archive_with(tmp_path, [a, b], concurrency="1") as archive:
        summary = await run_jobs(archive)
        jobs, captures, _ = await _rows(archive)
    assert summary.captured == 1 and summary.failed == 1
    states = {j.id: j.state for j in jobs}
    assert sorted(states.values()) == ["done", "retry"]  # the unrecorded one waits, not lost
    assert "database or disk is full" in next(j.last_error for j in jobs if j.state == "retry")
    assert len(captures) == 1


async def test_a_manifest_that_cannot_be_stored_is_retried_not_lost(
    tmp_path: Path, site: FixtureSite, media: Media, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = site.add_file("/v/a.mp4", media.mp4, "video/mp4")
    async with _archive_with(tmp_path, [url], max_attempts="1") as archive:
        def full(self: LocalBlobStore, data: bytes) -> object:
            raise StorageUnavailable(f"cannot store blob: {os.strerror(errno.ENOSPC)}")

        monkeypatch.setattr(LocalBlobStore, "put_bytes", full)
        await run_jobs(archive)
        jobs, captures, checks = await _rows(archive)
        assert [j.state for j in jobs] == ["retry"]
        assert "manifest not stored" in (jobs[0].last_error or "")
        assert captures == [] and checks == []
        monkeypatch.undo()
        assert (await run_jobs(archive)).captured == 1


@pytest.mark.slow
def test_a_run_without_chromium_keeps_every_capture_and_says_why(
        tmp_path: Path, site: FixtureSite, media: Media) -> None:
    """``[browser] enabled`` (the default) and no Chromium: the run still captures (the
    media may be gone tomorrow), warns once with the fix, and every page's capture is
    partial with the reason, so a later run with Chromium captures it whole. A direct
    media link needs no browser (nothing is rendered for it): it is complete."""
    from tests.support.cli import NO_COLLECTION, OPERATOR, run_cli

    url = site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    page = site.add_bytes("/post", b"<html><body><p>statement</p></body></html>", "text/html")
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "archive"\n' + OPERATOR + '[capture]\nmax_attempts = 1\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n' + NO_COLLECTION
        + '[browser]\nexecutable = "/nonexistent/chromium"\n', encoding="utf-8")
    report = tmp_path / "report.txt"
    report.write_text(f"1- الأول\n{url}\n2- الثاني\n{page}\n", encoding="utf-8")
    result = run_cli("preserve", str(report), "--json", config=config, cwd=tmp_path, check=0)
    lines = result.stderr.splitlines()
    # the warning once; each finished target's own line ("  <key>: ...") says why as well
    warnings = [line for line in lines if "Chromium not found" in line
                and not line.startswith("  ")]
    assert len(warnings) == 1 and "apt-get install chromium" in warnings[0]
    assert f"  web:{page}: partial: available: browser: Chromium not found" in result.stderr
    rows = json.loads(result.stdout)
    captures = [c for row in rows for c in row["captures"]]
    by_url = {row["url"]: row["captures"] for row in rows}
    assert len(captures) == 2, rows
    (media_capture,), (page_capture,) = by_url[url], by_url[page]
    assert (media_capture["state"], media_capture["message"]) == ("complete", "")
    assert page_capture["state"] == "partial"
    assert "browser: Chromium not found" in page_capture["message"]


@pytest.mark.slow
async def test_a_host_never_serves_more_jobs_at_once_than_per_host(
        tmp_path: Path, site: FixtureSite, media: Media) -> None:
    """The politeness limit holds while results are recorded concurrently: a job's
    group slot is given back once it stops fetching (before its result is recorded),
    and still no more than ``per_host`` targets of one host are fetched at once."""
    import threading
    import time

    lock, in_flight, most = threading.Lock(), {}, [0]
    data = media.mp4.read_bytes()

    def handler(req: BaseHTTPRequestHandler) -> None:
        path = req.path
        with lock:
            in_flight[path] = in_flight.get(path, 0) + 1
            most[0] = max(most[0], sum(1 for n in in_flight.values() if n))
        try:
            time.sleep(0.15)  # every request of a job overlaps the job's others
            send(req, 200, data, "video/mp4")
        finally:
            with lock:
                in_flight[path] -= 1

    urls = [site.add(f"/slow/v{i}.mp4", handler) for i in range(8)]
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(
        f'data_dir = "{tmp_path / "archive"}"\n'
        '[capture]\nconcurrency = 4\nper_host = 2\nmax_attempts = 1\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE, encoding="utf-8")
    config = load_config(cfg_file, env={})
    report = tmp_path / "report.txt"
    report.write_text("".join(f"{i}- ضحية\n{u}\n" for i, u in enumerate(urls)), encoding="utf-8")
    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        summary = await run_jobs(archive)
    assert summary.captured == 8
    assert most[0] == 2  # two targets at once, as configured: never three
