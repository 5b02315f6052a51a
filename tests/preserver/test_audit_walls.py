"""An audit that meets a wall is inconclusive: the check is recorded, the target's state
stays, the next check comes within hours. Real audits of the fixture site's pages
(``tests/support/walls.py``); a page that only mentions logging in is simply up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from preserver.archive import Archive, open_archive
from preserver.audit.availability import record_check
from preserver.audit.runner import audit
from preserver.config import load_config
from preserver.db.models import AvailabilityCheck, Event, Target, utc_now
from preserver.ingest.report import ingest_report
from tests.support.fixture_site import FixtureSite, html_page
from tests.support.wall_pages import LOGIN_FORM, MENTIONS_LOGIN
from workers import Status


@pytest.fixture
async def archive(tmp_path: Path, site: FixtureSite) -> AsyncIterator[Archive]:
    site.add_bytes("/post", html_page(body="<p>the post</p>"), "text/html")
    site.add_bytes("/prose", MENTIONS_LOGIN, "text/html")
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   '[audit]\nconfirm_after = "0s"\nrate = 50\n', encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text(f"1- أ\n{site.url('/post')}\n2- ب\n{site.url('/prose')}\n",
                      encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        await ingest_report(opened, report)
        yield opened


async def _targets(archive: Archive) -> dict[str, Target]:
    async with archive.db.session() as s:
        return {t.url.rsplit("/", 1)[-1]: t for t in (await s.scalars(select(Target)))}


async def test_a_login_wall_leaves_the_state_alone(archive: Archive, site: FixtureSite) -> None:
    await audit(archive, everything=True)
    assert {k: t.status for k, t in (await _targets(archive)).items()} == {
        "post": "available", "prose": "available"}  # mentioning "log in" is not a wall
    site.add_bytes("/post", LOGIN_FORM, "text/html")  # the site now shows a login wall
    before = utc_now()

    second = await audit(archive, everything=True)

    assert second.changes == []
    post = (await _targets(archive))["post"]
    assert (post.status, post.last_status) == ("available", "login_required")
    assert post.last_message == "wall (login): the page is a login form"
    assert post.next_check_at is not None
    assert post.next_check_at - before <= timedelta(hours=6)  # inconclusive: soon again
    async with archive.db.session() as s:
        statuses = [c.status for c in (await s.scalars(
            select(AvailabilityCheck).where(AvailabilityCheck.target_id == post.id)))]
    assert statuses == ["available", "login_required"]


@pytest.mark.slow
async def test_a_wall_never_confirms_down_nor_restricts(archive: Archive) -> None:
    """The rule itself: a wall with any status changes nothing, ever; the same status
    without the wall does (``login_required`` is restricted)."""
    async with archive.db.session() as s:
        target = (await s.scalars(select(Target))).first()
        assert target is not None
        for status in (Status.LOGIN_REQUIRED, Status.BOT_CHECK, Status.NOT_FOUND):
            outcome = await record_check(s, target, status=status, message="wall", probe="page",
                                         confirmations=1, confirm_after=0, operator="t",
                                         wall=True)
            assert not outcome.changed
        outcome = await record_check(s, target, status=Status.LOGIN_REQUIRED, message="401",
                                     probe="page", confirmations=1, confirm_after=0,
                                     operator="t")
        assert (outcome.previous, outcome.current) == ("unknown", "login_required")
        events = (await s.scalars(select(Event).where(Event.action == "availability_changed")))
        assert len(events.all()) == 1
