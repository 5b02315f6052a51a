"""Export, the archive side: which report, which checkpoint, what is said when no
authority timestamped it, and the ``package_exported`` event recorded after the bag."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from manifests import Finding
from preserver.archive import open_archive
from preserver.config import Config, load_config
from preserver.db.models import Event
from preserver.errors import InputError, IntegrityError
from preserver.export.package import export_package
from preserver.ingest.report import ingest_report
from preserver.verify.package import verify_exported


def _config(tmp_path: Path) -> Config:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\noperator = "test-archivist"\n', encoding="utf-8")
    return load_config(cfg, env={})


def _roots(tmp_path: Path) -> Path:
    """A trusted root for a package without tokens: any test CA will do."""
    from tests.support.tsa import make_tsa_keys

    roots = tmp_path / "roots.pem"
    roots.write_bytes(make_tsa_keys(tmp_path / "ca").root_pem)
    return roots


def _failed(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.outcome == "failed"]


async def test_untimestamped_export_says_so_and_still_verifies(tmp_path: Path) -> None:
    config = _config(tmp_path)
    report = tmp_path / "بلاغ.txt"
    report.write_text("1- شاهد\nhttps://www.youtube.com/watch?v=45WIwFETn3E\n", encoding="utf-8")
    async with open_archive(config) as archive:
        await ingest_report(archive, report)  # not run: the target has no capture yet
        result = await export_package(archive, report="بلاغ.txt", out=tmp_path / "pkg",
                                      zip=False)
        async with archive.db.session() as session:
            exported = (await session.scalars(sa.select(Event).where(
                col(Event.action) == "package_exported"))).one()
    assert result.warning.startswith("not timestamped: no RFC 3161 authority is configured")
    assert result.timestamped_by == () and result.captures == 0 and result.events == 2
    assert "not timestamped" in (tmp_path / "pkg" / "data" / "VERIFY.md").read_text("utf-8")
    assert (tmp_path / "pkg" / "data" / "report" / "بلاغ.txt").read_bytes() == report.read_bytes()
    # recorded after the bag, naming its tag manifest
    tagmanifest = hashlib.sha256((tmp_path / "pkg" / "tagmanifest-sha256.txt").read_bytes())
    assert exported.subject == result.report_sha256
    assert json.loads(exported.body)["details"]["tagmanifest_sha256"] == tagmanifest.hexdigest()
    findings = verify_exported(tmp_path / "pkg", tsa_roots=_roots(tmp_path))
    assert _failed(findings) == []
    stamp = [f for f in findings if f.check == "timestamp"]
    assert [(f.subject, f.outcome) for f in stamp] == [("data/custody/checkpoint", "not_checked")]
    assert stamp[0].detail.startswith("not timestamped")


async def test_export_picks_the_report_by_name_or_hash_and_refuses_ambiguity(
        tmp_path: Path) -> None:
    config = _config(tmp_path)
    first, second = tmp_path / "a" / "report.txt", tmp_path / "b" / "report.txt"
    for path, url in ((first, "https://example.org/one"), (second, "https://example.org/two")):
        path.parent.mkdir()
        path.write_text(f"1- x\n{url}\n", encoding="utf-8")
    async with open_archive(config) as archive:
        await ingest_report(archive, first)
        result = await ingest_report(archive, second)
        with pytest.raises(InputError, match=r"2 reports match 'report.txt'; give its SHA-256"):
            await export_package(archive, report="report.txt", out=tmp_path / "x", zip=False)
        with pytest.raises(InputError, match=r"no report named 'nothing'"):
            await export_package(archive, report="nothing", out=tmp_path / "x", zip=False)
        exported = await export_package(archive, report=result.report_sha256[:12],
                                        out=tmp_path / "two.zip", zip=True)
    assert exported.report_sha256 == result.report_sha256
    assert not (tmp_path / "x").exists()
    findings = verify_exported(tmp_path / "two.zip", tsa_roots=_roots(tmp_path))
    assert _failed(findings) == []
    keys = [f.detail for f in findings if f.check == "event"]
    assert any("report_ingested" in d for d in keys)
    assert not any("example.org/one" in d for d in keys)


async def test_export_refuses_an_altered_blob(tmp_path: Path) -> None:
    config = _config(tmp_path)
    report = tmp_path / "report.txt"
    report.write_text("1- x\nhttps://example.org/one\n", encoding="utf-8")
    async with open_archive(config) as archive:
        result = await ingest_report(archive, report)
        blob = archive.store.path_of(result.report_sha256)
        blob.chmod(0o644)
        blob.write_bytes(b"1- x\nhttps://example.org/two\n")
        altered = hashlib.sha256(blob.read_bytes()).hexdigest()
        with pytest.raises(IntegrityError, match=f"blob {result.report_sha256} re-hashes to "
                                                 f"{altered}: it was altered"):
            await export_package(archive, report="report.txt", out=tmp_path / "pkg", zip=False)
