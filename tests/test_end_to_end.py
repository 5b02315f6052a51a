"""End to end, offline: a report in the shape of a real human-rights report (Arabic,
numbered victims, links under names) citing videos on the fixture site, preserved by
the real CLI with the real yt-dlp, httpx, SQLite and blob store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import NO_COLLECTION, CliResult, run_cli_process
from tests.support.fixture_site import FixtureSite, Media, og_video_page, video_tag_page

pytestmark = pytest.mark.slow


def cli(config: Path, *args: str, check: int | None = 0) -> CliResult:
    """Each command as a user runs it: ``python -m preserver`` in a process of its own."""
    return run_cli_process(*args, config=config, check=check)


def write_config(tmp_path: Path, **capture: str) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in capture.items())
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "archive"\noperator = "test-archivist"\n'
        '[capture]\nconcurrency = 4\nper_host = 4\nmax_bytes = "2MiB"\ntimeout = "12s"\n'
        f'socket_timeout = "3s"\nmax_attempts = 1\n{extra}'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n' + NO_COLLECTION,
        encoding="utf-8")
    return config


@pytest.fixture
def evidence_site(site: FixtureSite, media: Media) -> FixtureSite:
    site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    site.add_file("/v/clip-b.mp4", media.mp4_b, "video/mp4")
    site.add_file("/v/thumb.jpg", media.jpg, "image/jpeg")
    site.add_file("/v/subs.vtt", media.vtt, "text/vtt")
    site.add_bytes("/v/page.html", video_tag_page("/v/clip-b.mp4", poster="/v/thumb.jpg",
                                                  tracks={"ar": "/v/subs.vtt"},
                                                  title="../../etc/passwd سوق"),
                   "text/html; charset=utf-8")
    site.add_bytes("/v/og.html", og_video_page(site.url("/v/clip.mp4"), title="منشور"),
                   "text/html")
    site.add_bytes("/v/nomedia.html", b"<html><head><title>x</title></head><body><p>"
                   b"statement</p></body></html>", "text/html")
    site.add_bytes("/v/gone410", b"gone", "text/plain", status=410)
    site.add_slow("/v/slow.mp4", media.mp4.read_bytes(), "video/mp4", delay=0.5)
    site.add_endless("/v/huge.mp4", "video/mp4")
    site.add_redirect("/v/to-private", f"http://127.0.0.2:{site.server.server_address[1]}/v/clip.mp4")
    return site


def douma_shaped_report(site: FixtureSite) -> str:
    u = site.url
    return f"""تقرير: توثيق ضحايا استهداف السوق الشعبي
وثّق المركز أسماء الضحايا التالية مع المقاطع المصورة المتوفرة.
1- كاسم المثال
{u('/v/clip.mp4')}
2- سمير المثال أبو صلاح
3- أحمد المثال
{u('/v/page.html')}
4- موفق المثال
{u('/v/og.html')}،
5- محمود المثال
{u('/v/clip.mp4')}#t=69
6- عمر المثال
\u200f{u('/v/nomedia.html')}\u200f
7- خالد المثال
{u('/v/gone404')}
8- حنين المثال
{u('/v/gone410')}.
9- إبراهيم المثال
{u('/v/slow.mp4')}
10- زاهر المثال
({u('/v/huge.mp4')})
11- فهد المثال
{u('/v/to-private')}
فيديو يظهر آثار الدمار في السوق:
{u('/v/clip.mp4')}
"""


def by_key(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["url"].split("/v/")[-1]: i for i in items}


def test_preserve_report_end_to_end(tmp_path: Path, evidence_site: FixtureSite,
                                    media: Media) -> None:
    config = write_config(tmp_path)
    report = tmp_path / "douma-shaped.ar.txt"
    report.write_text(douma_shaped_report(evidence_site), encoding="utf-8")

    proc = cli(config, "preserve", str(report), "--json")
    items = json.loads(proc.stdout)
    got = by_key(items)
    assert len(items) == 9  # 11 citations of 9 distinct targets

    # every citation kept, with its label, line and time offset
    clip = got["clip.mp4"]
    assert [(c["label"], c["start_seconds"]) for c in clip["citations"]] == [
        ("1- كاسم المثال", None), ("5- محمود المثال", 69),
        ("فيديو يظهر آثار الدمار في السوق", None)]

    def media_files(item: dict[str, Any]) -> list[dict[str, Any]]:
        return [f for c in item["captures"] if c["state"] == "complete"
                for f in c["files"] if f["role"] == "media"]

    # direct mp4, <video> page and og:video page: the stored media is the served bytes
    assert [f["sha256"] for f in media_files(clip)] == [media.sha256("mp4")]
    assert [f["sha256"] for f in media_files(got["page.html"])] == [media.sha256("mp4_b")]
    assert [f["sha256"] for f in media_files(got["og.html"])] == [media.sha256("mp4")]
    # names come from ids and roles, never from the hostile title
    for item in items:
        for c in item["captures"]:
            for f in c["files"]:
                assert "/" not in f["name"] and "passwd" not in f["name"] and "سوق" not in f["name"]
    # every blob's SHA-256 equals its bytes' SHA-256
    blobs = tmp_path / "archive" / "blobs" / "sha256"
    for path in blobs.rglob("*"):
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
            assert path.stat().st_mode & 0o777 == 0o444

    # a page with no media is a complete capture of the page
    nomedia = got["nomedia.html"]
    assert nomedia["captures"][0]["state"] == "complete"
    # and of the page as a browser showed it: screenshot, rendered HTML, PDF, its requests
    assert {f["role"] for f in nomedia["captures"][0]["files"]} == {
        "page", "screenshot", "dom", "pdf", "browser"}
    for name in ("page.html", "og.html"):
        assert "screenshot" in {f["role"] for c in got[name]["captures"] for f in c["files"]}

    # failures carry their status and the server's words
    assert got["gone404"]["last_check"]["status"] == "not_found"
    assert got["gone410"]["last_check"]["status"] == "not_found"
    assert "410" in got["gone410"]["last_check"]["message"]
    assert got["slow.mp4"]["job"]["state"] == "retry"
    assert "timed out" in got["slow.mp4"]["job"]["last_error"]
    assert "limit" in got["huge.mp4"]["last_check"]["message"]
    assert not media_files(got["huge.mp4"])
    assert "not a public address" in got["to-private"]["last_check"]["message"]
    assert not media_files(got["to-private"])

    # links --json, status, show, lookup
    listed = json.loads(cli(config, "links", "--json").stdout)
    assert {i["key"] for i in listed} == {i["key"] for i in items}
    status = json.loads(cli(config, "status", "--json").stdout)
    assert status["reports"] == 1 and status["citations"] == 11
    shown = json.loads(cli(config, "show", clip["key"], "--json").stdout)
    assert [e["action"] for e in shown["events"]] == ["capture_stored", "availability_changed"]
    found = json.loads(cli(config, "lookup", str(media.mp4), "--json").stdout)
    assert found[0]["matches"][0]["target"] in (clip["key"], got["og.html"]["key"])
    unknown = tmp_path / "other.bin"
    unknown.write_bytes(b"not archived")
    assert json.loads(cli(config, "lookup", str(unknown), "--json").stdout)[0]["matches"] == []

    # preserving the same report again adds nothing and captures nothing twice
    again = cli(config, "preserve", str(report))
    assert "already ingested" in again.stderr
    # the 4 complete ones skipped; partial: huge.mp4 (over the limit) and slow.mp4, whose
    # response headers the page snapshot keeps at once while its media times out again
    assert "0 captured, 2 partial, 3 failed, 4 skipped" in again.stdout
    assert json.loads(cli(config, "status", "--json").stdout)["citations"] == 11

    # verify passes; one flipped byte in one blob is caught and named
    cli(config, "verify")
    victim = blobs / media.sha256("mp4")[:2] / media.sha256("mp4")[2:4] / media.sha256("mp4")
    victim.chmod(0o644)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    failed = cli(config, "verify", check=1)
    assert media.sha256("mp4") in failed.stdout
    assert "verification failed" in failed.stderr
