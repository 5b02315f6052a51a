"""Archive verification: each kind of tampering is found and named; nothing else fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from manifests import Finding
from preserver.archive import Archive, open_archive
from preserver.capture.run import run_jobs
from preserver.config import load_config
from preserver.db.models import Capture, CaptureFile
from preserver.ingest.report import ingest_report
from preserver.verify.archive import verify_archive
from tests.support.cli import OFFLINE
from tests.support.fixture_site import FixtureSite, Media


@pytest.fixture
async def archive(tmp_path: Path, site: FixtureSite, media: Media) -> AsyncIterator[Archive]:
    url = site.add_file("/v/a.mp4", media.mp4, "video/mp4")
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE,
                   encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text(f"1- الضحية\n{url}\n", encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        await ingest_report(opened, report)
        assert (await run_jobs(opened)).captured == 1
        yield opened


def failures(findings: list[Finding]) -> list[str]:
    return [f"{f.subject}: {f.check}: {f.detail}" for f in findings if f.outcome == "failed"]


async def _capture(archive: Archive) -> Capture:
    async with archive.db.session() as s:
        return (await s.scalars(sa.select(Capture))).one()


def _writable(archive: Archive, sha: str) -> Path:
    path = archive.store.path_of(sha)
    path.chmod(0o644)
    return path


async def test_a_genuine_archive_verifies(archive: Archive) -> None:
    findings = await verify_archive(archive)
    assert failures(findings) == []
    assert {f.check for f in findings} >= {"fixity", "signature", "manifest", "files", "present"}


async def test_an_edited_database_row_is_caught(archive: Archive) -> None:
    async with archive.db.session() as s:
        await s.execute(sa.update(Capture).values(status="removed_policy"))
    assert any("status: manifest 'available', database 'removed_policy'" in f
               for f in failures(await verify_archive(archive)))


async def test_a_tampered_manifest_fails_its_signature(archive: Archive) -> None:
    capture = await _capture(archive)
    path = _writable(archive, capture.manifest_sha256)
    path.write_bytes(path.read_bytes().replace(b'"available"', b'"not_found"', 1))
    found = failures(await verify_archive(archive))
    assert any(capture.manifest_sha256 in f and "fixity" in f for f in found)
    assert any("signature" in f for f in found)


async def test_a_missing_media_blob_is_named(archive: Archive) -> None:
    async with archive.db.session() as s:
        media = (await s.scalars(sa.select(CaptureFile).where(CaptureFile.role == "media"))).one()
    archive.store.path_of(media.sha256).unlink()
    assert any(f"blob {media.sha256} is missing" in f and media.name in f
               for f in failures(await verify_archive(archive)))


async def test_a_capture_signed_by_another_key_is_caught(archive: Archive) -> None:
    async with archive.db.session() as s:
        await s.execute(sa.update(Capture).values(key_id="0" * 64))
    assert any("signed by key 0000000000000000" in f
               for f in failures(await verify_archive(archive)))
