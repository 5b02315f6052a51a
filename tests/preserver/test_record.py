"""Recording a worker's result. Facebook's servers cannot exist offline, so the result of
capturing a short fb.watch link is built here; the database and store are real."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from preserver import views
from preserver.archive import Archive, open_archive
from preserver.capture.record import JobRecord, record_result
from preserver.config import load_config
from preserver.db import runs
from preserver.db.models import Capture, Job
from preserver.db.queue import claim
from preserver.ingest.report import ingest_report
from workers import CaptureResult, CaptureState, Status


async def test_a_short_facebook_link_records_what_it_resolved_to(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n', encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text("1- الضحية\nhttps://fb.watch/aBcD3fGh1/\n", encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, report)
        async with archive.db.session() as s:
            job = await claim(s)
        assert job is not None and job.target_key.startswith("facebook-url:")
        result = CaptureResult(
            state=CaptureState.FAILED, status=Status.LOGIN_REQUIRED,
            message="This video is only available for registered users",
            resolved_url="https://www.facebook.com/watch/?v=10153231379946729",
            started_at="2026-11-21T10:00:00.000000Z", finished_at="2026-11-21T10:00:05.000000Z")
        record = JobRecord(job_id=job.id, target_id=job.target_id, target_key=job.target_key,
                           url=job.url, platform=job.platform)
        manifest_sha = await record_result(archive, record, result, retry_in=None)
        async with archive.db.reader() as s:
            [item] = await views.links(s)
        assert item["key"] == job.target_key  # the key its manifests name stays
        assert item["resolved_key"] == "facebook:10153231379946729"
        assert manifest_sha is not None
        with archive.store.open(manifest_sha) as fh:
            manifest = json.loads(fh.read())
        assert manifest["target"]["key"] == job.target_key
        assert manifest["outcome"]["message"] == result.message


async def test_a_run_that_lost_its_job_records_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Its job was requeued (the run looked dead) and claimed by another run: that run
    records the result; this one's is refused, with a warning."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n', encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text("1- أ\nhttps://example.org/a\n", encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, report)
        async with archive.db.session() as s:
            claimant = await runs.start_run(s, runs.this_process())
        async with archive.db.session() as s:
            job = await claim(s, run_id=claimant)
        assert job is not None
        result = CaptureResult(state=CaptureState.FAILED, status=Status.NOT_FOUND,
                               message="gone", started_at="2026-11-21T10:00:00.000000Z",
                               finished_at="2026-11-21T10:00:05.000000Z")
        record = JobRecord(job_id=job.id, target_id=job.target_id, target_key=job.target_key,
                           url=job.url, platform=job.platform, run_id="the-run-cut-off")
        with caplog.at_level(logging.WARNING):
            assert await record_result(archive, record, result, retry_in=None) is None
        assert "refused" in caplog.text
        async with archive.db.session() as s:
            assert (await s.get_one(Job, job.id)).state == "running"
            assert (await s.scalars(sa.select(Capture))).all() == []


@asynccontextmanager
async def _one_job(tmp_path: Path, url: str) -> AsyncIterator[tuple[Archive, JobRecord]]:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\noperator = "Rim Haddad"\n', encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text(f"1- أ\n{url}\n", encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, report)
        async with archive.db.session() as s:
            job = await claim(s)
        assert job is not None
        yield archive, JobRecord(job_id=job.id, target_id=job.target_id,
                                 target_key=job.target_key, url=job.url, platform=job.platform)


async def test_the_manifest_carries_the_run_record_and_the_workers_parts(tmp_path: Path) -> None:
    """Run-level keys win over a worker's; the worker's parts keep their names; no URL
    keeps its credentials; a float becomes text (the manifest is float-free)."""
    run_level = {"operator": "Rim Haddad", "host": "archive-1",
                 "clock": {"server": "s", "offset_ms": 12, "delay_ms": 3,
                           "measured_at": "2026-11-21T10:00:00.000000Z", "error": ""}}
    worker = {"operator": "someone else",
              "page": {"url": "https://user:secret@example.org/a", "server_address": "1.2.3.4",
                       "elapsed": 0.25, "note": "redirected to http://u:pw@example.org/b"},
              "media_response": {"status": 200, "headers": [["content-type", "video/mp4"]]}}
    result = CaptureResult(state=CaptureState.FAILED, status=Status.NOT_FOUND, message="gone",
                           started_at="2026-11-21T10:00:00.000000Z",
                           finished_at="2026-11-21T10:00:05.000000Z", collection=worker)
    async with _one_job(tmp_path, "https://example.org/a") as (archive, record):
        sha = await record_result(archive, record, result, retry_in=None, collection=run_level)
        assert sha is not None
        with archive.store.open(sha) as fh:
            data = fh.read()
        async with archive.db.reader() as s:
            item = await views.show(s, record.target_key, store=archive.store)
    manifest = json.loads(data)
    assert b"secret" not in data and b"pw@" not in data
    assert manifest["collection"] == {
        **run_level,
        "page": {"url": "https://example.org/a", "server_address": "1.2.3.4",
                 "elapsed": "0.25", "note": "redirected to http://example.org/b"},
        "media_response": {"status": 200, "headers": [["content-type", "video/mp4"]]}}
    assert manifest["agent"]["operator"] == "Rim Haddad"  # agent is kept as it was
    assert item["captures"][0]["collection"] == manifest["collection"]


async def test_without_a_record_the_manifest_has_no_collection_member(tmp_path: Path) -> None:
    result = CaptureResult(state=CaptureState.FAILED, status=Status.NOT_FOUND, message="gone",
                           started_at="2026-11-21T10:00:00.000000Z",
                           finished_at="2026-11-21T10:00:05.000000Z")
    async with _one_job(tmp_path, "https://example.org/a") as (archive, record):
        sha = await record_result(archive, record, result, retry_in=None)
        assert sha is not None
        with archive.store.open(sha) as fh:
            assert b'"collection"' not in fh.read()
        async with archive.db.reader() as s:
            item = await views.show(s, record.target_key, store=archive.store)
            without_store = await views.show(s, record.target_key)
    assert item["captures"][0]["collection"] is None  # read, and there is none
    assert "collection" not in without_store["captures"][0]
