"""Audits against the fixture site: every answer recorded, state changed only on
conclusive, confirmed evidence, the next checks spread over the interval and kept in
the database, and a stopped audit (SIGTERM to serve) losing no check."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from preserver.archive import Archive, open_archive
from preserver.audit.availability import record_check
from preserver.audit.runner import audit, jitter
from preserver.audit.schedule import next_check
from preserver.config import load_config
from preserver.db.engine import Database
from preserver.db.models import AvailabilityCheck, Event, Job, Target, utc_now
from preserver.ingest.report import ingest_report
from preserver.serve import serve
from tests.support.cli import OFFLINE, OPERATOR, run_cli_process
from tests.support.fixture_site import FixtureSite, send
from workers import Status


@pytest.fixture
async def archive(tmp_path: Path, site: FixtureSite) -> AsyncIterator[Archive]:
    site.add_bytes("/up", b"<html><body>up</body></html>", "text/html")
    site.add_bytes("/flaky", b"busy", "text/plain", status=429)
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   '[audit]\nconfirm_after = "0s"\nrate = 50\n', encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text(f"1- أ\n{site.url('/up')}\n2- ب\n{site.url('/flaky')}\n",
                      encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        await ingest_report(opened, report)
        yield opened


async def _states(archive: Archive) -> dict[str, str]:
    async with archive.db.session() as s:
        return {t.url.rsplit("/", 1)[-1]: t.status for t in (await s.scalars(select(Target)))}


@pytest.mark.slow
async def test_audit_records_every_answer_and_confirms_down(
    archive: Archive, site: FixtureSite,
) -> None:
    first = await audit(archive, everything=True)
    assert first.checked == 2
    assert await _states(archive) == {"up": "available", "flaky": "unknown"}
    site.add_bytes("/up", b"gone", "text/plain", status=404)  # the link dies
    await audit(archive, everything=True)
    assert (await _states(archive))["up"] == "available"  # one down answer: not yet
    third = await audit(archive, everything=True)
    assert (await _states(archive))["up"] == "not_found"  # confirmed
    assert ("web:" in third.changes[0][0]) and third.changes[0][1:] == ("available", "not_found")
    async with archive.db.session() as s:
        checks = (await s.scalars(select(AvailabilityCheck))).all()
    assert len(checks) == 6
    # the flapping 429 link was never declared anything but unknown
    assert (await _states(archive))["flaky"] == "unknown"


async def test_only_due_targets_are_checked(archive: Archive) -> None:
    assert (await audit(archive)).checked == 2  # new targets are due at once
    assert (await audit(archive)).checked == 0  # then not before their next slot
    async with archive.db.session() as s:
        nexts = (await s.scalars(select(Target.next_check_at))).all()
    assert all(n is not None and n > utc_now() for n in nexts)


def _stable(key: str, now: datetime) -> Target:
    return Target(key=key, url="u", platform="youtube", status="available",
                  status_since=now - timedelta(days=30), created_at=now - timedelta(days=30))


@pytest.mark.slow
def test_checks_spread_over_the_day_and_keep_their_place() -> None:
    """10,000 stable targets all checked at one moment (as after a mass ingest) next come
    up spread over the following week, evenly over the hours of the day, and from then on
    exactly every ``interval_stable``."""
    cfg = load_config(None, env={})
    day, week = 86_400.0, cfg.audit.interval_stable
    now = utc_now()
    hours: Counter[int] = Counter()
    weekdays: Counter[int] = Counter()
    for i in range(10_000):
        target = _stable(f"youtube:{i:011d}", now)
        when = next_check(cfg, target, Status.AVAILABLE, now)
        assert day <= (when - now).total_seconds() < day + week  # never sooner than a day
        assert next_check(cfg, target, Status.AVAILABLE, when) - when == timedelta(seconds=week)
        hours[when.hour] += 1
        weekdays[when.weekday()] += 1
    # every hour of the day gets its share (10,000 / 24 ≈ 417), none more than 25 % off
    assert all(abs(n - 10_000 / 24) < 0.25 * 10_000 / 24 for n in hours.values()), hours
    assert all(abs(n - 10_000 / 7) < 0.1 * 10_000 / 7 for n in weekdays.values()), weekdays


def test_new_targets_are_checked_daily_at_their_hour() -> None:
    cfg = load_config(None, env={})
    now = utc_now()
    target = Target(key="youtube:aaaaaaaaaaa", url="u", platform="youtube", status="available",
                    status_since=now, created_at=now)
    first = next_check(cfg, target, Status.AVAILABLE, now)
    assert 0.5 * cfg.audit.interval_recent <= (first - now).total_seconds() < 1.5 * 86_400
    assert next_check(cfg, target, Status.AVAILABLE, first) - first == timedelta(days=1)


def test_a_fresh_down_result_is_rechecked_after_confirm_after() -> None:
    cfg = load_config(None, env={})
    now = utc_now()
    target = _stable("youtube:aaaaaaaaaaa", now)
    delay = (next_check(cfg, target, Status.REMOVED_UPLOADER, now) - now).total_seconds()
    assert cfg.audit.confirm_after <= delay <= 1.25 * cfg.audit.confirm_after


async def test_following_the_schedule_confirms_a_dead_link(db: Database) -> None:
    """With the default rule (2 down answers ``confirm_after`` apart) and the times
    ``next_check`` gives, a link that died is declared down at its second check, and a
    link that answers down once and up again never is."""
    cfg = load_config(None, env={})
    audit_rule = {"confirmations": cfg.audit.confirmations,
                  "confirm_after": cfg.audit.confirm_after, "operator": "t", "probe": "t"}

    async def follow(key: str, answers: list[Status]) -> list[str]:
        now = utc_now() - timedelta(days=60)
        states = []
        async with db.session() as s:
            target = Target(key=key, url="u", platform="youtube", created_at=now)
            s.add(target)
            await s.flush()
            for answer in answers:
                outcome = await record_check(s, target, status=answer, message="",
                                             now=now, **audit_rule)
                states.append(outcome.current)
                now = next_check(cfg, target, answer, now)
        return states

    died = await follow("youtube:dieddiedAAA", [Status.AVAILABLE] + [Status.NOT_FOUND] * 2)
    assert died == ["available", "available", "not_found"]
    blip = await follow("youtube:blipblipAAA", [Status.AVAILABLE, Status.NOT_FOUND,
                                                 Status.AVAILABLE, Status.NOT_FOUND])
    assert blip == ["available"] * 4


@pytest.mark.slow
async def test_a_lost_link_gets_its_wayback_snapshot_queued_and_the_webhook_told(
    tmp_path: Path, site: FixtureSite,
) -> None:
    """The Internet Archive and the webhook receiver are stood in for by the fixture site
    (their real hosts cannot be reached offline); the requests are real HTTP."""
    snapshot = site.url("/web/20150816/page")
    site.add_bytes("/wayback", json.dumps({"archived_snapshots": {"closest": {
        "available": True, "url": snapshot, "timestamp": "20150816120000",
        "status": "200"}}}).encode(), "application/json")
    site.add_bytes("/hook", b"ok", "text/plain")
    site.add_bytes("/page", b"gone", "text/plain", status=410)
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   f'[audit]\nconfirm_after = "0s"\nrate = 50\nwebhook_url = "{site.url("/hook")}"\n'
                   f'[probes.wayback]\nurl = "{site.url("/wayback")}"\n', encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text(f"1- أ\n{site.url('/page')}\n", encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, report)
        await audit(archive, everything=True)
        summary = await audit(archive, everything=True)  # the second down answer confirms
        assert summary.changes and summary.changes[0][2] == "not_found"
        async with archive.db.session() as s:
            events = (await s.scalars(select(Event).where(
                col(Event.action) == "snapshot_found"))).all()
            queued = (await s.scalars(select(Target).join(Job, col(Job.target_id) == col(
                Target.id)).where(col(Job.state) == "queued"))).all()
    assert len(events) == 1 and b"20150816120000" in events[0].body
    assert snapshot in [t.url for t in queued]  # the snapshot waits for the next run
    posts = [h for h in site.hits if h.method == "POST" and h.path == "/hook"]
    assert len(posts) == 1
    body = json.loads(posts[0].body)
    assert (body["from"], body["to"], body["url"]) == ("unknown", "not_found", site.url("/page"))


# -- stopping and restarting -----------------------------------------------------------------


def _slow_then_others(tmp_path: Path, site: FixtureSite, entered: threading.Event,
                      **serve: str) -> Path:
    """A report whose first link answers after 1.5 s, then five quick ones on the same
    host; one check at a time, so the quick ones wait for the slow one."""

    def slow(req: BaseHTTPRequestHandler) -> None:
        entered.set()
        time.sleep(1.5)
        send(req, 200, b"<html><body>up, slowly</body></html>", "text/html")

    site.add("/slow", slow)
    site.add_bytes("/quick", b"<html><body>up</body></html>", "text/html")
    report = tmp_path / "r.txt"
    report.write_text(f"1- أ\n{site.url('/slow')}\n" + "".join(
        f"{n}- ب\n{site.url('/quick')}?n={n}\n" for n in range(2, 7)), encoding="utf-8")
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n' + OPERATOR + OFFLINE
                   + '[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   '[audit]\nconcurrency = 1\nper_host = 1\nrate = 50\n[serve]\n'
                   + "".join(f'{k} = "{v}"\n' for k, v in serve.items()), encoding="utf-8")
    return report


async def _checked_and_due(archive: Archive) -> tuple[list[str], int]:
    async with archive.db.session() as s:
        checked = (await s.scalars(select(Target.url).join(
            AvailabilityCheck, col(AvailabilityCheck.target_id) == col(Target.id)))).all()
        due = (await s.scalars(select(Target).where(
            col(Target.next_check_at) <= utc_now()))).all()
    return [u.rsplit("/", 1)[-1] for u in checked], len(due)


@pytest.mark.slow
@pytest.mark.parametrize(("grace", "recorded"), [(10.0, ["slow"]), (0.0, [])])
async def test_stop_records_the_running_check_and_leaves_the_rest_due(
    tmp_path: Path, site: FixtureSite, grace: float, recorded: list[str],
) -> None:
    entered = threading.Event()
    report = _slow_then_others(tmp_path, site, entered)
    async with open_archive(load_config(tmp_path / "config.toml", env={})) as archive:
        await ingest_report(archive, report)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(target=lambda: entered.wait(10) and loop.call_soon_threadsafe(
            stop.set), daemon=True).start()

        summary = await audit(archive, stop=stop, grace=grace)

        assert summary.stopped and summary.checked == len(recorded)
        assert summary.interrupted == 1 - len(recorded)  # cancelled under way, unrecorded
        checked, due = await _checked_and_due(archive)
        assert checked == recorded and due == 6 - len(recorded)
        # the next audit takes up exactly what was left
        assert (await audit(archive)).checked == 6 - len(recorded)
        assert (await _checked_and_due(archive))[1] == 0


@pytest.mark.slow
async def test_sigterm_to_serve_during_an_audit_loses_no_check(
    tmp_path: Path, site: FixtureSite,
) -> None:
    """The real signal, sent while the slow check is under way: serve stops the audit,
    records that check, and leaves the five others due."""
    entered = threading.Event()
    report = _slow_then_others(tmp_path, site, entered, captures="", checkpoint="",
                               fixity="", grace="10s")
    config = load_config(tmp_path / "config.toml", env={})
    async with open_archive(config) as archive:
        await ingest_report(archive, report)

    def start_now(scheduler: Any) -> None:
        scheduler.get_job("audit").modify(next_run_time=datetime.now(UTC))
        def kill_when_entered() -> None:
            if entered.wait(10):
                os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=kill_when_entered, daemon=True).start()

    await asyncio.wait_for(serve(config, ready=start_now), timeout=60)
    async with open_archive(config) as archive:
        assert await _checked_and_due(archive) == (["slow"], 5)


@pytest.mark.slow
def test_the_schedule_survives_a_restart(tmp_path: Path, site: FixtureSite) -> None:
    """Each audit is a new process: what is due comes from the database alone."""
    site.add_bytes("/up", b"<html><body>up</body></html>", "text/html")
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   '[audit]\nrate = 50\n', encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text("".join(f"{n}- أ\n{site.url('/up')}?n={n}\n" for n in range(1, 6)),
                      encoding="utf-8")

    def preserver(*args: str) -> dict[str, Any]:
        done = run_cli_process(*args, config=cfg, check=0)
        return json.loads(done.stdout) if "--json" in args else {}

    preserver("ingest", str(report))
    assert preserver("audit", "--json")["checked"] == 5  # new links are due at once
    assert preserver("audit", "--json")["checked"] == 0  # then at their slot, days later

    async def time_passes_for_the_third() -> None:
        async with open_archive(load_config(cfg, env={})) as archive, \
                archive.db.session() as s:
            targets = (await s.scalars(select(Target).order_by(col(Target.id)))).all()
            targets[2].next_check_at = utc_now() - timedelta(minutes=1)

    asyncio.run(time_passes_for_the_third())
    before = asyncio.run(_nexts(cfg))
    assert preserver("audit", "--json")["checked"] == 1
    after = asyncio.run(_nexts(cfg))
    assert [a == b for a, b in zip(before, after, strict=True)] == [True, True, False, True, True]


async def _nexts(cfg: Path) -> list[datetime | None]:
    async with open_archive(load_config(cfg, env={})) as archive, archive.db.session() as s:
        return list((await s.scalars(select(Target.next_check_at).order_by(col(Target.id)))).all())


# -- scale -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_10000_targets_are_audited_in_bounded_memory(tmp_path: Path) -> None:
    """10,000 web links on 5 fixture hosts, audited in a process of its own. From 2,000
    checks on (every batch held at once has been read by then) the count of live Python
    allocations stays flat: one object kept per target would add 8,000. The process's
    peak memory grows by a few MiB over what the open archive already takes."""
    sites = [FixtureSite.start(f"127.0.0.{2 + i}") for i in range(5)]
    try:
        for site in sites:
            site.add_bytes("/up", b"<html><body>up</body></html>", "text/html")
        cfg = tmp_path / "config.toml"
        cfg.write_text('data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.0/8"]\n'
                       "[audit]\nconcurrency = 32\nper_host = 32\nrate = 100000\n",
                       encoding="utf-8")
        report = tmp_path / "big.txt"
        report.write_text("".join(f"{n}- رابط {n}\n{sites[n % 5].url('/up')}?n={n}\n"
                                  for n in range(10_000)), encoding="utf-8")

        async def ingest() -> None:
            async with open_archive(load_config(cfg, env={})) as archive:
                await ingest_report(archive, report)

        asyncio.run(ingest())
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRESERVER_")}
        done = subprocess.run([sys.executable, "-m", "tests.support.audit_memory", str(cfg)],
                              capture_output=True, text=True, env=env, timeout=600, check=False,
                              cwd=Path(__file__).parents[2])
        assert done.returncode == 0, done.stderr[-3000:]
        got = json.loads(done.stdout)
    finally:
        for site in sites:
            site.close()
    assert got["checked"] == got["changed"] == 10_000
    # sampled every 1,000 checks; a sample falls anywhere in a batch of answers waiting for
    # their commit, so it moves by up to a batch's objects (measured here: ±4,000 from
    # 2,000 on); a leak of one block per check would pass 8,000 by the end
    blocks = got["blocks"]
    assert len(blocks) == 10 and all(b - blocks[1] < 6_000 for b in blocks[1:]), blocks
    assert got["end_kib"] - got["opened_kib"] < 48 * 1024, got  # measured here: ~10 MiB


@pytest.mark.parametrize("as_raised", ["driver", "session"])
async def test_an_answer_the_database_refuses_does_not_stop_the_audit(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, as_raised: str,
) -> None:
    """The database failing on one answer (injected: a real one cannot be made to refuse
    a single row) is logged and counted; the other answers are recorded. The failure
    comes as the driver raises it, or as ``Database.session`` translates it."""
    from sqlalchemy.exc import OperationalError

    from preserver.audit import runner as audit_module
    from preserver.errors import RunError

    real = audit_module._store

    async def refuse_flaky(archive: Archive, answers: Any) -> Any:
        # a batch holding the flaky answer is refused whole, then it alone
        if any(a.target.url.endswith("/flaky") for a in answers):
            refused = OperationalError("INSERT", {}, Exception("disk I/O error"))
            if as_raised == "driver":
                raise refused
            raise RunError(f"database error: {refused}") from refused
        return await real(archive, answers)

    monkeypatch.setattr(audit_module, "_store", refuse_flaky)
    summary = await audit(archive)
    assert (summary.checked, summary.unrecorded) == (1, 1)
    assert await _states(archive) == {"up": "available", "flaky": "unknown"}
    assert (await audit(archive)).unrecorded == 1  # the refused one is still due


def test_a_probes_jitter_is_a_fifth_of_its_groups_interval_at_most_0_2_s() -> None:
    """At the default rate (1 a second) and slower, 0.2 s as before; an audit configured
    for 1,000 a second waits at most 0.2 ms at random, not 0.2 s (which held 64 probes at
    once to about 640 checks a second)."""
    assert jitter(1.0) == jitter(0.1) == 0.2
    assert jitter(2.0) == 0.1
    assert jitter(1000.0) == pytest.approx(0.0002)
