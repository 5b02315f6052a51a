"""The run-level collection record against the fixture site's echo route and a local SNTP
server (tests/support/sntp.py; the real echo service and NTP servers are on the internet),
with the real ffmpeg and Chromium; then a whole run writing it into every manifest."""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from manifests import CaptureManifest, canonical_json
from preserver.archive import open_archive
from preserver.capture.collection import (
    ECHO_TIMEOUT,
    ask_outside_address,
    chromium_path,
    measure_clock,
    measure_collection,
    versions,
)
from preserver.capture.run import run_jobs
from preserver.config import Config, load_config
from preserver.db.models import Capture
from preserver.ingest.report import ingest_report
from tests.support.fixture_site import FixtureSite, html_page
from tests.support.sntp import LocalSntp

Sntp = Callable[..., LocalSntp]
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _config(tmp_path: Path, *, echo: str = "", ntp: str = "", allow: bool = True,
            browser: str = "") -> Config:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\noperator = "Rim Haddad"\n'
                   f'[collection]\nip_echo_url = "{echo}"\nntp_server = "{ntp}"\n'
                   + ('[network]\nallow_networks = ["127.0.0.1/32"]\n' if allow else "")
                   + ('[capture]\ntimeout = "20s"\n') + browser, encoding="utf-8")
    return load_config(cfg, env={})


# -- the outside address ------------------------------------------------------------------


async def test_the_echo_answer_is_the_outside_address(tmp_path: Path, site: FixtureSite) -> None:
    url = site.add_echo("/ip")
    found = await ask_outside_address(_config(tmp_path, echo=url))
    assert (found.url, found.address, found.error) == (url, "127.0.0.1", "")
    assert RFC3339.fullmatch(found.asked_at)


async def test_the_echo_is_held_to_the_address_rules(tmp_path: Path, site: FixtureSite) -> None:
    url = site.add_echo("/ip")
    found = await ask_outside_address(_config(tmp_path, echo=url, allow=False))
    assert found.address == "" and "refused by the address rules" in found.error
    assert site.hits == []  # nothing reached it


@pytest.mark.parametrize(("answer", "error"), [
    ("garbage", "the answer 'I am not an address' is not an IP address"),
    ("html", "is not an IP address"),
    ("huge", "the answer is longer than 256 bytes"),
    ("status", "HTTP 500"),
    ("empty", "the answer '' is not an IP address"),
])
async def test_a_broken_echo_is_recorded_not_raised(tmp_path: Path, site: FixtureSite,
                                                    answer: str, error: str) -> None:
    url = {
        "garbage": lambda: site.add_bytes("/ip", b"I am not an address\n", "text/plain"),
        "html": lambda: site.add_bytes("/ip", html_page(body="<p>1.2.3.4</p>"), "text/html"),
        "huge": lambda: site.add_endless("/ip", "text/plain"),
        "status": lambda: site.add_bytes("/ip", b"203.0.113.7", "text/plain", status=500),
        "empty": lambda: site.add_bytes("/ip", b"", "text/plain"),
    }[answer]()
    found = await ask_outside_address(_config(tmp_path, echo=url))
    assert found.address == "" and error in found.error, found
    assert found.url == url and RFC3339.fullmatch(found.asked_at)


async def test_a_silent_echo_ends_at_the_timeout(tmp_path: Path, site: FixtureSite) -> None:
    url = site.add_slow("/ip", b"203.0.113.7", "text/plain", delay=1.0)
    started = time.monotonic()
    found = await ask_outside_address(_config(tmp_path, echo=url), timeout=0.5)
    assert (found.address, found.error) == ("", "no answer within 0.5 s")
    assert time.monotonic() - started < 2


async def test_the_echo_url_keeps_no_credentials(tmp_path: Path, site: FixtureSite) -> None:
    url = site.add_echo("/ip").replace("http://", "http://user:secret@")
    found = await ask_outside_address(_config(tmp_path, echo=url))
    assert found.address == "127.0.0.1" and "secret" not in found.url


# -- the clock -----------------------------------------------------------------------------


async def test_the_clock_offset(tmp_path: Path, sntp: Sntp) -> None:
    server = sntp(offset=-5.0)
    clock = await measure_clock(_config(tmp_path, ntp=server.address))
    assert clock.offset_ms is not None and abs(clock.offset_ms + 5000) < 50
    assert (clock.server, clock.address, clock.error) == (server.address, "127.0.0.1", "")


@pytest.mark.parametrize("mode", ["short", "garbage", "wrong_mode", "silent"])
async def test_a_broken_clock_is_recorded_not_raised(tmp_path: Path, sntp: Sntp,
                                                     mode: str) -> None:
    server = sntp(mode=mode)
    clock = await measure_clock(_config(tmp_path, ntp=server.address), timeout=0.5)
    assert clock.offset_ms is None and clock.delay_ms is None and clock.error
    assert clock.server == server.address and RFC3339.fullmatch(clock.measured_at)


# -- versions ------------------------------------------------------------------------------


async def test_versions_of_the_real_programs(tmp_path: Path) -> None:
    config = _config(tmp_path)
    found = await versions(config, ffmpeg=shutil.which("ffmpeg"), chromium=chromium_path(config))
    assert found.ffmpeg.startswith("ffmpeg version ")
    assert found.chromium.startswith("Chromium ")  # Debian's /usr/bin/chromium --version
    assert found.preserver and found.yt_dlp and found.python.count(".") == 2


async def test_absent_or_disabled_programs_have_no_version(tmp_path: Path) -> None:
    config = _config(tmp_path, browser='[browser]\nexecutable = "no-chromium"\n')
    assert chromium_path(config) is None
    missing = await versions(config, ffmpeg=None, chromium=chromium_path(config))
    assert (missing.ffmpeg, missing.chromium) == ("", "")
    off = await versions(_config(tmp_path, browser="[browser]\nenabled = false\n"), ffmpeg=None,
                         chromium="/usr/bin/chromium")
    assert off.chromium == ""  # not asked


async def test_a_program_that_fails_has_no_version(tmp_path: Path) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'Chromium 1.2.3'\nexit 3\n", encoding="utf-8")
    broken.chmod(0o755)
    config = _config(tmp_path, browser=f'[browser]\nexecutable = "{broken}"\n')
    assert chromium_path(config) == str(broken)
    found = await versions(config, ffmpeg=str(broken), chromium=str(broken))
    assert (found.ffmpeg, found.chromium) == ("", "")


# -- the whole record ----------------------------------------------------------------------


async def test_with_both_disabled_it_costs_nothing_and_says_so(tmp_path: Path) -> None:
    config = _config(tmp_path, browser="[browser]\nenabled = false\n")
    started = time.monotonic()
    record = await measure_collection(config, ffmpeg=None, chromium=None)
    assert time.monotonic() - started < 0.5
    body = record.as_json()
    assert body["operator"] == "Rim Haddad" and body["host"]
    assert body["outside_address"] == {"url": "", "address": "", "asked_at": "",
                                       "error": "not asked: [collection] ip_echo_url is empty"}
    assert body["clock"] == {"server": "", "address": "", "offset_ms": None, "delay_ms": None,
                             "measured_at": "",
                             "error": "not measured: [collection] ntp_server is empty"}
    canonical_json(body)  # no floats anywhere


async def test_the_defaults_fail_fast_and_are_recorded_offline(tmp_path: Path) -> None:
    """The default echo (checkip.amazonaws.com) and NTP pool: this machine has no internet,
    so both fail; the record says why within the timeouts. (With internet both would be
    measured: either way the record holds an answer or a reason, never neither.)"""
    cfg = tmp_path / "config.toml"
    cfg.write_text('operator = "x"\n[browser]\nenabled = false\n', encoding="utf-8")
    config = load_config(cfg, env={})
    assert config.collection.ip_echo_url == "https://checkip.amazonaws.com/"
    assert config.collection.ntp_server == "pool.ntp.org"
    started = time.monotonic()
    record = await measure_collection(config, ffmpeg=None, chromium=None)
    assert time.monotonic() - started < ECHO_TIMEOUT + 1
    where, clock = record.outside_address, record.clock
    assert bool(where.address) != bool(where.error) and where.url == config.collection.ip_echo_url
    assert (clock.offset_ms is None) == bool(clock.error) and clock.server == "pool.ntp.org"


@pytest.mark.slow
async def test_a_run_records_the_collection_in_every_manifest(
        tmp_path: Path, site: FixtureSite, sntp: Sntp, caplog: pytest.LogCaptureFixture) -> None:
    """The clock 5 s off: the run warns, and each manifest records about +5000 ms, the
    echo's answer, the operator and the versions; measured once for the run."""
    server = sntp(offset=5.0)
    echo = site.add_echo("/ip")
    pages = [site.add_bytes(f"/p{n}", html_page(title=f"page {n}"), "text/html")
             for n in (1, 2)]
    config = _config(tmp_path, echo=echo, ntp=server.address)
    report = tmp_path / "r.txt"
    report.write_text("".join(f"{n}- الضحية {n}\n{u}\n" for n, u in enumerate(pages, 1)),
                      encoding="utf-8")
    async with open_archive(config) as archive:
        await ingest_report(archive, report)
        with caplog.at_level(logging.WARNING):
            summary = await run_jobs(archive)
        assert summary.jobs == 2
        async with archive.db.session() as s:
            shas = (await s.scalars(sa.select(Capture.manifest_sha256))).all()
        manifests = []
        for sha in shas:
            with archive.store.open(sha) as fh:
                manifests.append(CaptureManifest.from_bytes(fh.read()))
    assert "clock is 5.0 s behind" in caplog.text
    assert len(server.requests) == 1  # once per run
    assert [h.path for h in site.hits].count("/ip") == 1
    records = [m.collection for m in manifests]
    assert records[0] is not None and records[1] is not None
    run_level = ("operator", "host", "outside_address", "clock", "versions")
    assert [records[0][k] for k in run_level] == [records[1][k] for k in run_level]
    # the worker's parts under their own names, each capture its own page
    assert {r["page"]["url"] for r in records if isinstance(r["page"], dict)} == set(pages)
    record = records[0]
    assert record["operator"] == "Rim Haddad"
    assert isinstance(record["clock"], dict) and isinstance(record["clock"]["offset_ms"], int)
    assert abs(record["clock"]["offset_ms"] - 5000) < 50
    assert record["outside_address"] == {"url": echo, "address": "127.0.0.1",
                                         "asked_at": record["outside_address"]["asked_at"],
                                         "error": ""}
    versions_ = record["versions"]
    assert isinstance(versions_, dict) and versions_["ffmpeg"].startswith("ffmpeg version")
    assert json.loads(canonical_json(record)) == record
