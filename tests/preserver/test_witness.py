"""The independent witness (preserver.witness): each capture's URL submitted to Save Page
Now, its snapshot a ``witness_saved`` custody event shown by ``show``, ``linkrot`` and the
exported package.

The Internet Archive cannot be reached from tests: a fixture SPN2 endpoint on 127.0.0.1
(``tests/support/spn.py``) stands in for it, checking the Authorization header and
recording submissions. Everything else is real: the fixture site, yt-dlp, httpx, SQLite,
the CLI.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from preserver.config import NetworkConfig, WitnessConfig, load_config
from preserver.db.models import Event, Job
from preserver.errors import ConfigError, WitnessFailed
from preserver.net import http_client
from preserver.witness.runner import backoff
from preserver.witness.spn import SpnKeys, keys_from_env, save, timedelta_text
from tests.support.cli import OFFLINE, OPERATOR, run_cli
from tests.support.fixture_site import FixtureSite, Media
from tests.support.spn import TIMESTAMP, FixtureSpn

SECRET = "S3CRET-d0-not-leak-7f3a"
ENV = {"PRESERVER_SPN_ACCESS_KEY": "AKEY", "PRESERVER_SPN_SECRET": SECRET}


@pytest.fixture
def spn() -> Iterator[FixtureSpn]:
    server = FixtureSpn.start(access="AKEY", secret=SECRET)
    yield server
    server.close()


def _config(tmp_path: Path, spn: FixtureSpn, *, on: bool = True, extra: str = "") -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        'data_dir = "archive"\n' + OPERATOR +
        '[capture]\nmax_attempts = 1\ntimeout = "30s"\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE +
        f'[witness]\nsave_page_now = {"true" if on else "false"}\nspn_url = "{spn.url}"\n'
        'interval = "0s"\npoll_interval = "20ms"\npoll_timeout = "2s"\n'
        'retry_delay = "50ms"\n' + extra, encoding="utf-8")
    return cfg


def _report(tmp_path: Path, site: FixtureSite, media: Media) -> tuple[Path, str]:
    url = site.add_file("/v/witnessed.mp4", media.mp4, "video/mp4")
    report = tmp_path / "report.txt"
    report.write_text(f"1- الضحية الأولى\n{url}\n", encoding="utf-8")
    return report, url


def _grep(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.slow
def test_witness_recorded_and_shown_everywhere_secret_nowhere(
        tmp_path: Path, site: FixtureSite, media: Media, spn: FixtureSpn) -> None:
    cfg = _config(tmp_path, spn)
    report, url = _report(tmp_path, site, media)
    preserved = run_cli("preserve", str(report), config=cfg, env=ENV, check=0)
    assert spn.submissions == [{"url": url, "if_not_archived_within": "30d"}]

    shown = run_cli("show", "--json", _key(tmp_path, cfg), config=cfg, env=ENV, check=0)
    item = json.loads(shown.stdout)
    snapshot_url = f"{spn.base}/web/{TIMESTAMP}/{url}"
    assert item["witness"]["snapshots"] == [{
        "url": snapshot_url, "time": "2026-11-26T18:30:00Z", "service": "web.archive.org",
        "recorded_at": item["witness"]["snapshots"][0]["recorded_at"]}]
    assert item["witness"]["job"]["state"] == "done"
    assert "witness_saved" in [e["action"] for e in item["events"]]
    assert item["job"]["state"] == "done"  # links' job is still the capture's
    text = run_cli("show", item["key"], config=cfg, env=ENV, check=0).stdout
    assert f"witness: web.archive.org snapshot 2026-11-26T18:30:00Z {snapshot_url}" in text

    table = run_cli("linkrot", config=cfg, env=ENV, check=0).stdout
    assert "witness: web.archive.org snapshot 2026-11-26" in table
    rot = json.loads(run_cli("linkrot", "--format", "json", config=cfg, check=0).stdout)
    assert rot["reports"][0]["links"][0]["witness"]["url"] == snapshot_url
    csv_text = run_cli("linkrot", "--format", "csv", config=cfg, check=0).stdout
    assert snapshot_url in csv_text and "witness_url,witness_time" in csv_text.splitlines()[0]
    assert snapshot_url in run_cli("linkrot", "--format", "html", config=cfg, check=0).stdout

    out = tmp_path / "package"
    run_cli("export", "--report", report.name, str(out), config=cfg, check=0)
    index = json.loads((out / "data" / "package.json").read_text(encoding="utf-8"))
    assert [e for e in index["events"] if e["action"] == "witness_saved"]
    carried = [json.loads(p.read_text(encoding="utf-8"))
               for p in (out / "data" / "custody" / "events").glob("*.json")]
    saved = [e for e in carried if e["action"] == "witness_saved"]
    assert saved[0]["details"]["snapshot_url"] == snapshot_url
    verified = run_cli("verify", "--json", str(out), config=cfg)
    assert verified.code == 3  # nothing failed; only the key is not pinned (no --key-id)
    findings = json.loads(verified.stdout)
    assert not [f for f in findings if f["outcome"] == "failed"]
    assert not [f for f in findings if "witness_saved" in f["detail"]
                and f["outcome"] == "not_checked"]

    # the secret: sent to SPN only, stored and echoed nowhere
    assert _grep(tmp_path / "archive", SECRET.encode()) == []
    assert _grep(out, SECRET.encode()) == []
    assert SECRET not in preserved.stdout + preserved.stderr + shown.stdout + text + table


def _key(tmp_path: Path, cfg: Path) -> str:
    links = json.loads(run_cli("links", "--json", config=cfg, check=0).stdout)
    return str(links[0]["key"])


@pytest.mark.slow
def test_off_by_default_sends_nothing(tmp_path: Path, site: FixtureSite, media: Media,
                                      spn: FixtureSpn) -> None:
    cfg = _config(tmp_path, spn, on=False)
    report, _ = _report(tmp_path, site, media)
    run_cli("preserve", str(report), config=cfg, env=ENV, check=0)
    assert spn.requests == []
    item = json.loads(run_cli("show", "--json", _key(tmp_path, cfg), config=cfg, check=0).stdout)
    assert item["witness"] == {"snapshots": [], "job": None}
    assert WitnessConfig().save_page_now is False


@pytest.mark.slow
def test_outage_is_retried_never_fatal_and_shown(
        tmp_path: Path, site: FixtureSite, media: Media, spn: FixtureSpn) -> None:
    cfg = _config(tmp_path, spn, extra="max_attempts = 2\n")
    report, _ = _report(tmp_path, site, media)
    spn.mode = "outage"
    preserved = run_cli("preserve", "--json", str(report), config=cfg, env=ENV, check=0)
    done = json.loads(preserved.stdout)[0]  # the capture stands
    assert (done["job"]["state"], done["captures"][0]["state"]) == ("done", "complete")
    key = _key(tmp_path, cfg)
    item = json.loads(run_cli("show", "--json", key, config=cfg, check=0).stdout)
    job = item["witness"]["job"]
    assert (job["state"], job["attempts"]) == ("failed", 2)  # retried once, then gave up
    assert "gave up after 2 attempts: Save Page Now answered HTTP 503" in job["last_error"]
    text = run_cli("show", key, config=cfg, check=0).stdout
    assert "witness job failed after 2 attempts" in text
    assert item["witness"]["snapshots"] == []


@pytest.mark.slow
def test_missing_keys_recorded_not_fatal(tmp_path: Path, site: FixtureSite, media: Media,
                                         spn: FixtureSpn) -> None:
    cfg = _config(tmp_path, spn, extra="max_attempts = 1\n")
    report, _ = _report(tmp_path, site, media)
    run_cli("preserve", str(report), config=cfg, env={}, check=0)
    item = json.loads(run_cli("show", "--json", _key(tmp_path, cfg), config=cfg, check=0).stdout)
    assert "no Save Page Now keys: set PRESERVER_SPN_ACCESS_KEY" in item["witness"]["job"][
        "last_error"]
    assert spn.requests == []


def test_spn_env_names_are_not_config_errors(tmp_path: Path) -> None:
    config = load_config(None, env={**ENV, "PRESERVER_WITNESS_SAVE_PAGE_NOW": "true"})
    assert config.witness.save_page_now is True
    assert SECRET not in repr(config)
    with pytest.raises(ConfigError, match="PRESERVER_SPN_TYPO"):
        load_config(None, env={"PRESERVER_SPN_TYPO": "x"})


# -- the client against each kind of bad answer -----------------------------------------


async def _save(spn: FixtureSpn, **settings: object) -> object:
    config = WitnessConfig(spn_url=spn.url, poll_interval=0.01, poll_timeout=0.3,
                           **settings)  # type: ignore[arg-type]
    async with http_client(NetworkConfig(allow_networks=("127.0.0.1/32",)), timeout=5) as http:
        return await save(http, config, SpnKeys(access="AKEY", secret=SECRET),
                          "https://example.org/a")


@pytest.mark.parametrize(("mode", "match", "transient"), [
    ("outage", "answered HTTP 503", True),
    ("garbage", "not JSON", True),
    ("html", "not JSON", True),
    ("huge", "more than 262144 bytes", True),
    ("pending", "still pending after 0 s", True),
    ("error", "error:service-unavailable: The server is busy", True),
    ("redirect_private", "unreachable", True),
])
@pytest.mark.slow
async def test_bad_answers_are_one_line_failures(spn: FixtureSpn, mode: str, match: str,
                                                 transient: bool) -> None:
    spn.mode = mode
    with pytest.raises(WitnessFailed, match=match) as caught:
        await _save(spn)
    assert caught.value.transient is transient
    assert SECRET not in str(caught.value) and "\n" not in str(caught.value)
    if mode == "redirect_private":  # the guard refused the hop: nothing reached it
        assert "169.254.169.254" in str(caught.value)


async def test_permanent_error_and_rate_limit(spn: FixtureSpn) -> None:
    spn.mode, spn.status_ext = "error", "error:blocked-url"
    with pytest.raises(WitnessFailed, match="error:blocked-url") as caught:
        await _save(spn)
    assert caught.value.transient is False
    spn.mode = "rate_limited"
    with pytest.raises(WitnessFailed, match="HTTP 429") as caught:
        await _save(spn)
    assert caught.value.retry_after == 7.0
    assert backoff(60.0, 1, caught.value.retry_after) == 60.0
    assert backoff(1.0, 1, caught.value.retry_after) == 7.0
    assert backoff(600.0, 30, None) == 86400.0


async def test_wrong_keys_refused_secret_not_echoed(spn: FixtureSpn) -> None:
    config = WitnessConfig(spn_url=spn.url, poll_interval=0.01)
    async with http_client(NetworkConfig(allow_networks=("127.0.0.1/32",)), timeout=5) as http:
        with pytest.raises(WitnessFailed, match="refused the keys") as caught:
            await save(http, config, SpnKeys(access="AKEY", secret="wrong-secret"), "https://x.org/")
    assert "wrong-secret" not in str(caught.value)
    assert "wrong-secret" not in repr(SpnKeys(access="AKEY", secret="wrong-secret"))


@pytest.mark.slow
async def test_if_not_archived_within_passed_and_zero_omits_it(spn: FixtureSpn) -> None:
    await _save(spn, if_not_archived_within=3 * 86400 + 5 * 3600 + 20 * 60)
    await _save(spn, if_not_archived_within=0)
    assert [s.get("if_not_archived_within") for s in spn.submissions] == ["3d 5h 20m", None]
    assert timedelta_text(45) == "45s"
    auth = {h.get("Authorization") for _, _, h in spn.requests}
    accept = {h.get("Accept") for _, _, h in spn.requests}
    assert auth == {f"LOW AKEY:{SECRET}"} and accept == {"application/json"}


def test_keys_from_env_checks_them() -> None:
    with pytest.raises(WitnessFailed, match="no Save Page Now keys"):
        keys_from_env({"PRESERVER_SPN_ACCESS_KEY": "a"})
    with pytest.raises(WitnessFailed, match="a character a key cannot have") as caught:
        keys_from_env({"PRESERVER_SPN_ACCESS_KEY": "a", "PRESERVER_SPN_SECRET": "x\r\nEvil: 1"})
    assert "Evil" not in str(caught.value)
    assert keys_from_env(ENV).authorization == f"LOW AKEY:{SECRET}"


@pytest.mark.slow
async def test_rate_limit_defers_every_waiting_witness_job(
        tmp_path: Path, spn: FixtureSpn) -> None:
    """Two witness jobs, a 429 with Retry-After 7 s: the second is not sent before then."""
    from preserver.archive import open_archive
    from preserver.db import queue
    from preserver.db.models import Target, utc_now
    from preserver.witness.runner import run_witness

    config = load_config(_config(tmp_path, spn), env={})
    spn.mode, spn.retry_after = "rate_limited", "7"
    async with open_archive(config) as archive:
        async with archive.db.session() as s:
            for n in (1, 2):
                t = Target(key=f"web:example.org/{n}", url=f"https://example.org/{n}",
                           platform="web", created_at=utc_now())
                s.add(t)
                await s.flush()
                assert t.id is not None
                await queue.enqueue(s, target_id=t.id, host="web.archive.org", kind=queue.WITNESS)
        summary = await asyncio.wait_for(run_witness(archive, env=ENV, max_wait=1.0), 20)
        async with archive.db.session() as s:
            jobs = (await s.scalars(sa.select(Job).order_by(Job.id))).all()  # type: ignore[arg-type]
            events = (await s.scalars(sa.select(Event))).all()
    assert (summary.saved, summary.retrying) == (0, 1)
    assert len([r for r in spn.requests if r[0] == "POST"]) == 1  # the second waits
    assert [j.state for j in jobs] == ["queued", "queued"]
    assert all((j.run_after - utc_now()).total_seconds() > 5 for j in jobs)
    assert [e.action for e in events if e.action == "witness_saved"] == []
