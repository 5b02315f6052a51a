"""Audits of YouTube links against a switchable fixture platform.

YouTube's servers cannot exist offline, so they are stood in for twice: the oEmbed
endpoint is the fixture site's (``[probes.youtube] oembed_url``, as a user would point
it), and yt-dlp's YouTube extractor is preceded by the stand-in of
``tests.support.platforms``, which raises YouTube's real texts per video id. The
audit, the probes, yt-dlp's child process, the database and the HTTP are real.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from preserver.archive import Archive, open_archive
from preserver.audit import runner as audit_module
from preserver.audit.runner import audit
from preserver.config import Config, load_config
from preserver.db.models import AvailabilityCheck, Event, Target
from preserver.ingest.report import ingest_report
from tests.support.fixture_site import FixtureSite
from tests.support.platforms import HERE, OK_JSON, OEmbed
from workers.probes import ProbeSettings

IDS = ("removedUplr", "privateVidA", "botCheckAAA", "okVideoAAAA")


@pytest.fixture
def oembed(site: FixtureSite) -> OEmbed:
    endpoint = OEmbed(site)
    for video_id in IDS:
        endpoint.answers[video_id] = [(200, OK_JSON)]  # every video starts up
    return endpoint


@pytest.fixture
async def archive(tmp_path: Path, oembed: OEmbed,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Archive]:
    real = audit_module._settings

    def with_stand_ins(config: Config) -> ProbeSettings:  # YouTube's extractor, offline
        return dataclasses.replace(real(config), extractors=(f"{HERE}:OfflineYoutubeIE",))

    monkeypatch.setattr(audit_module, "_settings", with_stand_ins)
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
                   '[audit]\nconfirmations = 2\nconfirm_after = "0s"\nrate = 50\n'
                   f'[probes.youtube]\noembed_url = "{oembed.url}"\n', encoding="utf-8")
    report = tmp_path / "douma.txt"
    report.write_text("".join(f"{n}- الضحية {n}\nhttps://youtu.be/{video_id}\n"
                              for n, video_id in enumerate(IDS, 1)), encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        await ingest_report(opened, report)
        yield opened


async def _state(archive: Archive) -> dict[str, tuple[str, str | None]]:
    async with archive.db.session() as s:
        return {t.key.removeprefix("youtube:"): (t.status, t.last_status)
                for t in await s.scalars(select(Target))}


@pytest.mark.slow
async def test_videos_switched_between_audits(archive: Archive, oembed: OEmbed) -> None:
    await audit(archive, everything=True)
    assert {k: v[0] for k, v in (await _state(archive)).items()} == dict.fromkeys(
        IDS, "available")
    assert sorted(oembed.asked) == sorted(IDS)  # one oEmbed request each, nothing else

    # between audits: one removed by its uploader, one made private, one behind a bot
    # check (oEmbed 404, so yt-dlp is asked and meets "Sign in to confirm ...")
    oembed.answers["removedUplr"] = [(404, b"Not Found")]
    oembed.answers["privateVidA"] = [(403, b"Forbidden")]
    oembed.answers["botCheckAAA"] = [(404, b"Not Found")]
    await audit(archive, everything=True)
    state = await _state(archive)
    assert state["removedUplr"] == ("available", "removed_uploader")  # 1 of 2 confirmations
    assert state["privateVidA"] == ("private", "private")  # restricted: no confirmation
    assert state["botCheckAAA"] == ("available", "bot_check")  # inconclusive
    assert state["okVideoAAAA"] == ("available", "available")

    for _ in range(3):
        await audit(archive, everything=True)
    state = await _state(archive)
    assert state["removedUplr"] == ("removed_uploader", "removed_uploader")
    assert state["botCheckAAA"] == ("available", "bot_check")  # never declared dead

    async with archive.db.session() as s:
        checks = (await s.scalars(select(AvailabilityCheck).order_by(
            col(AvailabilityCheck.id)))).all()
        changes = (await s.scalars(select(Event).where(
            col(Event.action) == "availability_changed"))).all()
        removed = await s.scalar(select(Target).where(col(Target.key) == "youtube:removedUplr"))
    assert len(checks) == 5 * len(IDS)  # every answer kept
    assert removed is not None
    history = [(c.status, c.probe, c.http_status) for c in checks if c.target_id == removed.id]
    assert history == [("available", "oembed", 200)] + [
        ("removed_uploader", "oembed+yt-dlp", 404)] * 4
    last = [c for c in checks if c.target_id == removed.id][-1]
    assert "removed by the uploader" in last.message  # the platform's own words
    # unknown -> available for each, then private once and removed once
    assert len(changes) == len(IDS) + 2
