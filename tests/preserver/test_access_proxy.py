"""``[access.<group>] proxy`` in a run and an audit, as a user configures it.

In process, with real SQLite, yt-dlp, httpx and the blob store against the fixture site
and a real forward proxy on loopback (tests/support/proxy.py), which connects onwards
from 127.0.0.2. Two politeness groups reach the same site: ``127.0.0.1`` (with the
proxy) and ``localhost`` (without), so which way each fetch went shows in the client
address the site saw.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from preserver.archive import open_archive
from preserver.audit.runner import audit
from preserver.capture.run import run_jobs
from preserver.config import load_config
from preserver.db.models import Capture, Job
from preserver.ingest.report import ingest_report
from tests.support.cli import OFFLINE
from tests.support.fixture_site import FixtureSite, Media
from tests.support.proxy import ForwardProxy, dead_proxy_url

PASSWORD = "s3cret-proxy-pw"
Proxies = Callable[..., ForwardProxy]


def _config(tmp_path: Path, proxy: str, extra: str = "") -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        'data_dir = "archive"\n[capture]\ntimeout = "20s"\nmax_attempts = 1\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE
        + f'[access."127.0.0.1"]\nproxy = "{proxy}"\nlabel = "proxy-de"\n{extra}',
        encoding="utf-8")
    return cfg


def _everything(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


@pytest.mark.slow
async def test_a_run_and_an_audit_use_the_proxy_of_each_group_only(
    tmp_path: Path, site: FixtureSite, media: Media, proxies: Proxies,
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    proxy = proxies(username="operator", password=PASSWORD)
    proxied = site.add_file("/a.mp4", media.mp4, "video/mp4")
    direct = site.add_file("/b.mp4", media.mp4_b, "video/mp4").replace("127.0.0.1", "localhost")
    config = load_config(_config(tmp_path, proxy.url), env={})
    report = tmp_path / "report.txt"
    report.write_text(f"1- first\n{proxied}\n2- second\n{direct}\n", encoding="utf-8")

    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        summary = await run_jobs(archive)
        after_run = list(site.hits)
        checked = await audit(archive, everything=True)
        async with archive.db.session() as s:
            captures = (await s.scalars(sa.select(Capture))).all()
        manifests = []
        for c in captures:
            with archive.store.open(c.manifest_sha256) as blob:
                manifests.append(json.loads(blob.read()))

    assert summary.captured == 2, summary
    # the signed manifests say how each was seen: through the proxy by its label, or direct
    assert sorted((m["collection"]["access"]["proxy"], m["collection"]["access"]["label"])
                  for m in manifests) == [(False, ""), (True, "proxy-de")]
    assert checked.checked == 2 and checked.statuses["available"] == 2
    for hits in (after_run, site.hits[len(after_run):]):  # the run's, then the audit's
        assert {h.client for h in hits if h.path == "/a.mp4"} == {"127.0.0.2"}
        assert {h.client for h in hits if h.path == "/b.mp4"} == {"127.0.0.1"}
    assert proxy.hits("127.0.0.1") == len([h for h in site.hits if h.path == "/a.mp4"])
    assert len(captures) == 2
    # no stored file, no row, no log line holds the proxy's password
    assert PASSWORD.encode() not in _everything(tmp_path / "archive")
    assert PASSWORD not in caplog.text and "operator:" not in caplog.text


@pytest.mark.slow
async def test_audit_false_keeps_probes_anonymous_and_direct(
    tmp_path: Path, site: FixtureSite, media: Media, proxies: Proxies
) -> None:
    proxy = proxies()
    url = site.add_file("/a.mp4", media.mp4, "video/mp4")
    config = load_config(_config(tmp_path, proxy.url, "audit = false\n"), env={})
    report = tmp_path / "report.txt"
    report.write_text(f"1- first\n{url}\n", encoding="utf-8")

    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        checked = await audit(archive, everything=True)

    assert checked.checked == 1
    assert proxy.connections == 0 and {h.client for h in site.hits} == {"127.0.0.1"}


@pytest.mark.slow
async def test_a_dead_proxy_fails_the_job_in_one_line_and_it_is_retried(
    tmp_path: Path, site: FixtureSite, media: Media
) -> None:
    dead = dead_proxy_url()
    url = site.add_file("/a.mp4", media.mp4, "video/mp4")
    config = load_config(_config(tmp_path, dead), env={})
    report = tmp_path / "report.txt"
    report.write_text(f"1- first\n{url}\n", encoding="utf-8")

    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        summary = await run_jobs(archive, retry_everything=False, max_wait=0.0)
        async with archive.db.session() as s:
            job = (await s.scalars(sa.select(Job))).one()

    assert summary.captured == 0 and site.hits == []
    assert job.state == "retry", job.state  # transient: a later run tries again
    error = job.last_error or ""
    port = dead.rpartition(":")[2]
    # names the proxy (the "***@" of a redacted URL goes too: every message loses userinfo)
    assert f"proxy http://127.0.0.1:{port}: cannot connect" in error and "\n" not in error
    assert "dead-proxy-pw" not in error
    assert b"dead-proxy-pw" not in _everything(tmp_path / "archive")
