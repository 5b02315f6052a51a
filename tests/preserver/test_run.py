"""The run loop against the fixture site, in process: a full disk during capture
records nothing partial and loses nothing; the next run, with space again, captures."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from preserver.app import open_archive
from preserver.config import load_config
from preserver.models import Capture, CaptureFile, Job
from preserver.reports import ingest_report
from preserver.run import run_jobs
from preserver.verify import verify_archive
from storage import LocalBlobStore, StorageUnavailable
from tests.fixture_site import FixtureSite, Media


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
        '[network]\nallow_networks = ["127.0.0.1/32"]\n', encoding="utf-8")
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
