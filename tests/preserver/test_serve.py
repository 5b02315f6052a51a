"""`preserver serve`: schedules from config, clean stop on SIGTERM without losing a
running capture."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from preserver.config import load_config
from preserver.db.models import Job
from preserver.errors import ConfigError
from preserver.serve import build_scheduler, serve
from tests.support.cli import OFFLINE, OPERATOR, start_cli
from tests.support.fixture_site import FixtureSite, Media


def _config(tmp_path: Path, **serve_keys: str) -> Path:
    cfg = tmp_path / "config.toml"
    extra = "".join(f'{k} = "{v}"\n' for k, v in serve_keys.items())
    cfg.write_text('data_dir = "archive"\n' + OPERATOR + OFFLINE
                   + '[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   f"[serve]\n{extra}", encoding="utf-8")
    return cfg


def test_a_bad_cron_schedule_is_a_config_error(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, audit="every minute"), env={})

    async def nothing() -> None:
        pass

    with pytest.raises(ConfigError, match="serve.audit: not a cron schedule"):
        build_scheduler(config, {"audit": nothing})


def test_jobs_come_from_config_with_coalescing(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, fixity=""), env={})

    async def nothing() -> None:
        pass

    scheduler = build_scheduler(config, {n: nothing for n in
                                         ("captures", "audit", "checkpoint", "fixity")})
    assert sorted(j.id for j in scheduler.get_jobs()) == ["audit", "captures", "checkpoint"]
    defaults = scheduler._job_defaults  # applied to every job as it is scheduled
    assert defaults == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


@pytest.mark.slow
def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    proc = start_cli("serve", config=cfg)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    line = ""
    while "serving:" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    assert "serving:" in line and "captures next at" in line, proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, rest
    assert "stopped" in rest


@pytest.mark.slow
async def test_sigterm_during_a_capture_records_it(tmp_path: Path, site: FixtureSite,
                                                   media: Media) -> None:
    """The capture job is started at once; SIGTERM arrives while it downloads a slow
    video; the job ends recorded (done or waiting to retry), never left running."""
    from preserver.archive import open_archive
    from preserver.ingest.report import ingest_report

    url = site.add_slow("/v/slow.mp4", media.mp4.read_bytes(), "video/mp4", delay=0.01)
    config = load_config(_config(tmp_path, audit="", checkpoint="", fixity="", grace="2s"),
                         env={})
    report = tmp_path / "r.txt"
    report.write_text(f"1- الضحية\n{url}\n", encoding="utf-8")
    async with open_archive(config) as archive:
        await ingest_report(archive, report)

    def start_now(scheduler: object) -> None:
        job = scheduler.get_job("captures")  # type: ignore[attr-defined]
        job.modify(next_run_time=datetime.now(UTC))
        asyncio.get_running_loop().call_later(1.5, os.kill, os.getpid(), signal.SIGTERM)

    await asyncio.wait_for(serve(config, ready=start_now), timeout=60)
    async with open_archive(config) as archive, archive.db.session() as s:
        jobs = (await s.scalars(select(Job))).all()
    assert [j.state for j in jobs] in (["done"], ["retry"], ["queued"])
