"""A run with ``[access."127.0.0.1"] cookies_file``: the login-walled post of the fixture
site (``tests/support/walls.py``) captured with the session by the real CLI, the real
yt-dlp, httpx and Chromium; then the cookie's value is looked for everywhere preserver
writes: every file of the data directory (the database, blobs, WARCs decompressed),
every line the processes printed or logged (the capture children's stderr included),
and every file of the exported package. The operator's file must not change.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

from preserver.archive import open_archive
from preserver.audit.runner import audit
from preserver.capture.run import run_jobs
from preserver.config import load_config
from preserver.db.models import Job
from preserver.ingest.report import ingest_report
from tests.support.cli import NO_COLLECTION, OFFLINE, CliResult, run_cli_process
from tests.support.fixture_site import FixtureSite, Media
from tests.support.walls import COOKIE_NAME, LoginWall, add_login_wall, files_holding

LABEL = "account-3 (throwaway)"


@pytest.fixture
def wall(site: FixtureSite, media: Media) -> LoginWall:
    return add_login_wall(site, media.mp4, cookie_value="v" + secrets.token_hex(20))


def write_config(tmp_path: Path, cookies: Path, *, tables: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "archive"}"\noperator = "test-archivist"\n'
        '[capture]\nmax_attempts = 1\ntimeout = "20s"\nsocket_timeout = "5s"\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n'
        f'[access."127.0.0.1"]\ncookies_file = "{cookies}"\nlabel = "{LABEL}"\n' + tables,
        encoding="utf-8")
    return config


def cli(config: Path, *args: str) -> CliResult:
    return run_cli_process("--verbose", *args, config=config, check=0)


@pytest.mark.slow
def test_a_session_capture_says_so_and_its_cookie_is_nowhere(
    tmp_path: Path, site: FixtureSite, wall: LoginWall, media: Media,
) -> None:
    cookies = wall.write_cookies(tmp_path / "cookies.txt")
    before = (cookies.read_bytes(), cookies.stat().st_mtime_ns, cookies.stat().st_mode)
    config = write_config(tmp_path, cookies, tables=NO_COLLECTION)  # the browser part too
    report = tmp_path / "report.txt"
    report.write_text(f"1- a post behind a login wall\n{wall.post_url}\n", encoding="utf-8")

    printed = [cli(config, "preserve", str(report), "--json")]
    printed.append(cli(config, "links", "--json"))
    (link,) = json.loads(printed[-1].stdout)
    (captured,) = link["captures"]
    assert captured["seen_as"] == f"session {LABEL}, direct"
    media_file = next(f for f in captured["files"] if f["role"] == "media")
    assert media_file["sha256"] == media.sha256("mp4")
    assert {f["role"] for f in captured["files"]} >= {"page", "browser", "screenshot"}
    printed.append(cli(config, "show", link["key"], "--json"))
    printed.append(cli(config, "export", str(tmp_path / "package"), "--report", report.name))

    # the session reached the server on every request, from all three parts
    sent = [h.headers.get("Cookie", "") for h in site.hits]
    assert len(sent) >= 4 and all(f"{COOKIE_NAME}={wall.cookie_value}" in c for c in sent)
    # and nothing preserver wrote or printed holds it
    assert files_holding(tmp_path / "archive", wall.cookie_value) == []
    assert files_holding(tmp_path / "package", wall.cookie_value) == []
    marked = files_holding(tmp_path / "archive", f"[redacted: session {LABEL}]")
    for role in ("page", "browser"):  # both WARCs show the Cookie header, redacted
        sha = next(f["sha256"] for f in captured["files"] if f["role"] == role)
        assert any(path.endswith(sha) for path in marked)
    for p in printed:
        assert wall.cookie_value not in p.stdout + p.stderr
    assert any("DEBUG" in p.stderr or "INFO" in p.stderr for p in printed)  # logs were on
    assert (cookies.read_bytes(), cookies.stat().st_mtime_ns, cookies.stat().st_mode) == before
    assert sorted(os.listdir(tmp_path)) == ["archive", "config.toml", "cookies.txt", "package",
                                            "report.txt"]


async def test_a_cookies_file_gone_at_capture_time_captures_nothing_anonymously(
    tmp_path: Path, site: FixtureSite, wall: LoginWall, caplog: pytest.LogCaptureFixture,
) -> None:
    """The file is read for each capture: gone, the job is not captured (nor anonymously:
    the record would say session) and waits in retry, one line saying why."""
    cookies = wall.write_cookies(tmp_path / "cookies.txt")
    config = load_config(write_config(tmp_path, cookies, tables=OFFLINE), env={})
    report = tmp_path / "report.txt"
    report.write_text(f"{wall.post_url}\n", encoding="utf-8")
    cookies.unlink()
    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        summary = await run_jobs(archive, max_wait=0)
        async with archive.db.session() as s:
            (job,) = (await s.scalars(sa.select(Job))).all()
    assert (summary.jobs, summary.captured, summary.failed) == (1, 0, 1)
    assert (job.state, job.last_error) == ("retry", f"session {LABEL}: cookies file not found")
    assert site.hits == []  # nothing fetched without the session
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"capture of {job_key(wall)} not started: session {LABEL}: cookies file not found"]


def job_key(wall: LoginWall) -> str:
    return f"web:{wall.post_url}"


@pytest.mark.slow
@pytest.mark.parametrize("audit_too", [True, False])
async def test_audit_probes_send_the_session_unless_audit_is_false(
    tmp_path: Path, site: FixtureSite, wall: LoginWall, audit_too: bool,
) -> None:
    """The web probe of the walled post: with the session (``audit = true``, the default)
    its request carries the cookie; ``audit = false`` keeps the probe anonymous."""
    cookies = wall.write_cookies(tmp_path / "cookies.txt")
    config_file = write_config(tmp_path, cookies, tables=OFFLINE)
    if not audit_too:
        config_file.write_text(config_file.read_text(encoding="utf-8").replace(
            f'label = "{LABEL}"\n', f'label = "{LABEL}"\naudit = false\n'), encoding="utf-8")
    report = tmp_path / "report.txt"
    report.write_text(f"{wall.post_url}\n", encoding="utf-8")
    async with open_archive(load_config(config_file, env={})) as archive:
        await ingest_report(archive, report)
        summary = await audit(archive, everything=True)
    assert summary.checked == 1
    sent = [h.headers.get("Cookie", "") for h in site.hits if h.path == "/walled/post"]
    assert sent and all((f"{COOKIE_NAME}={wall.cookie_value}" in c) is audit_too for c in sent)
