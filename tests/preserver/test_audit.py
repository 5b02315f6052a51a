"""Audits against the fixture site: every answer recorded, state changed only on
conclusive, confirmed evidence, and the next checks spread over the interval."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from preserver.app import Archive, open_archive
from preserver.audit import audit, next_check
from preserver.config import load_config
from preserver.models import AvailabilityCheck, Event, Job, Target, utc_now
from preserver.reports import ingest_report
from tests.fixture_site import FixtureSite
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


def test_checks_spread_over_the_interval(tmp_path: Path) -> None:
    """10,000 stable targets due in a week land evenly over the second half of it."""
    cfg = load_config(None, env={})
    now = utc_now()
    hours: Counter[int] = Counter()
    for i in range(10_000):
        target = Target(key=f"youtube:{i:011d}", url="u", platform="youtube", status="available",
                        status_since=now - timedelta(days=30), created_at=now - timedelta(days=30))
        when = next_check(cfg, target, Status.AVAILABLE, now)
        delay = (when - now).total_seconds()
        assert 0.5 * cfg.audit.interval_stable <= delay <= cfg.audit.interval_stable
        hours[int(delay // 3600) % 24] += 1
    # every hour of the day gets its share (10,000 / 24 ≈ 417), none more than 25 % off
    assert all(abs(n - 10_000 / 24) < 0.25 * 10_000 / 24 for n in hours.values()), hours


def test_a_fresh_down_result_is_rechecked_after_confirm_after() -> None:
    cfg = load_config(None, env={})
    now = utc_now()
    target = Target(key="youtube:aaaaaaaaaaa", url="u", platform="youtube", status="available",
                    created_at=now - timedelta(days=60), status_since=now - timedelta(days=60))
    delay = (next_check(cfg, target, Status.REMOVED_UPLOADER, now) - now).total_seconds()
    assert 0.5 * cfg.audit.confirm_after <= delay <= cfg.audit.confirm_after


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
