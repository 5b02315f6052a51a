"""Credentials in URLs are never stored: a redirect to ``http://user:secret@host/…``.

End to end through the real CLI (``preserve``), the real httpx page snapshot and the
real yt-dlp in its child process, against the fixture site. httpx and yt-dlp follow
the redirect and send the credentials as ``Authorization`` (the site cannot tell);
afterwards the word ``secret`` is in no blob (WARC records unzipped), no WARC header,
no info JSON, no manifest and not in the database.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.support.cli import OFFLINE, run_cli
from tests.support.fixture_site import FixtureSite, Media, video_tag_page
from workers import scrub_userinfo, without_userinfo

SECRET = b"secret"
BASIC = base64.b64encode(b"user:secret").rstrip(b"=")  # as an Authorization header holds it


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "archive"\noperator = "test-archivist"\n'
        '[capture]\nmax_bytes = "2MiB"\ntimeout = "20s"\nsocket_timeout = "5s"\n'
        'max_attempts = 1\n[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE,
        encoding="utf-8")
    return config


def blob_texts(archive: Path) -> dict[Path, bytes]:
    """Every blob's bytes, gzip members (WARC records) decompressed."""
    out = {}
    for path in (archive / "blobs").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            out[path] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return out


def warc_headers(path: Path) -> list[tuple[str, str]]:
    """(name, value) of every WARC and HTTP header of every record in a WARC file."""
    found: list[tuple[str, str]] = []
    with path.open("rb") as f:
        for record in ArchiveIterator(f):
            found += record.rec_headers.headers
            if record.http_headers is not None:
                found += [("http-line", record.http_headers.statusline),
                          *record.http_headers.headers]
    return found


def preserve(tmp_path: Path, report_text: str) -> tuple[list[dict[str, Any]], Path]:
    report = tmp_path / "report.txt"
    report.write_text(report_text, encoding="utf-8")
    items = json.loads(run_cli("preserve", str(report), "--json",
                               config=write_config(tmp_path), check=0).stdout)
    return items, report


def stored(archive: Path, sha256: str) -> Path:
    return archive / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256


def files_of(item: dict[str, Any]) -> dict[str, str]:
    return {f["role"]: f["sha256"] for c in item["captures"] for f in c["files"]}


@pytest.mark.slow
def test_redirect_to_a_url_with_credentials_stores_none(
    tmp_path: Path, site: FixtureSite, media: Media
) -> None:
    port = site.server.server_address[1]
    site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    site.add_file("/v/thumb.jpg", media.jpg, "image/jpeg")
    site.add_file("/v/subs.vtt", media.vtt, "text/vtt")
    site.add_bytes("/v/page.html", video_tag_page("/v/clip.mp4", poster="/v/thumb.jpg",
                                                  tracks={"en": "/v/subs.vtt"}), "text/html")
    moved_to = f"http://user:secret@127.0.0.1:{port}/v/page.html"
    site.add_redirect("/v/login", moved_to)

    items, _ = preserve(tmp_path, f"The video: {site.url('/v/login')}\n")

    # (1) it was captured: page and media, and the redirect really carried the credentials
    (item,) = items
    files = files_of(item)
    assert {"page", "media", "info"} <= set(files), item
    assert any(h.path == "/v/page.html" and "Authorization" in h.headers for h in site.hits)
    archive = tmp_path / "archive"
    # (2) the word is nowhere: every blob (WARCs unzipped), and the database
    for path, data in blob_texts(archive).items():
        assert SECRET not in data and BASIC not in data, path
    assert SECRET not in (archive / "preserver.db").read_bytes()
    # (3) the WARC still names the hops, without the userinfo
    headers = warc_headers(stored(archive, files["page"]))
    clean = f"http://127.0.0.1:{port}/v/page.html"
    assert ("Location", clean) in headers
    assert ("WARC-Target-URI", clean) in headers
    assert ("Authorization", "[removed]") in headers
    # (4) the info JSON and the manifest keep the URLs, without the userinfo
    info = json.loads(stored(archive, files["info"]).read_bytes())
    assert info["webpage_url"] == clean
    assert all("@" not in f["url"] for f in info["formats"])
    shown = json.loads(run_cli("show", item["key"], "--json", config=tmp_path / "config.toml",
                               check=0).stdout)
    manifest_sha = shown["captures"][0]["manifest_sha256"]
    manifest = json.loads(stored(archive, manifest_sha).read_bytes())
    assert manifest["metadata"]["webpage_url"] == clean
    assert manifest["requested_url"] == site.url("/v/login")


@pytest.mark.slow
def test_cited_url_with_credentials_is_captured_without_them(
    tmp_path: Path, site: FixtureSite, media: Media
) -> None:
    """The target key contract drops userinfo: the capture fetches the URL without it."""
    port = site.server.server_address[1]
    site.add_file("/v/clip.mp4", media.mp4, "video/mp4")

    items, report = preserve(tmp_path, f"http://user:secret@127.0.0.1:{port}/v/clip.mp4\n")

    (item,) = items
    assert item["key"] == f"web:http://127.0.0.1:{port}/v/clip.mp4"
    assert "media" in files_of(item)
    assert not [h for h in site.hits if "Authorization" in h.headers]  # never sent
    # only the report itself, kept as evidence of what was cited, holds the word
    report_blob = stored(tmp_path / "archive", _sha256(report))
    holders = [p for p, data in blob_texts(tmp_path / "archive").items() if SECRET in data]
    assert holders == [report_blob]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("http://user:secret@h/a?b=c@d#e@f", "http://h/a?b=c@d#e@f"),
        ("HTTPS://user:secret@h:8443/", "HTTPS://h:8443/"),
        ("//user:secret@h/p", "//h/p"),
        ('<http://u:secret@h/next>; rel="next"', '<http://h/next>; rel="next"'),
        ("0; url=http://u:secret@h/", "0; url=http://h/"),
        ("mailto:someone@example.org", "mailto:someone@example.org"),
        ("http://h/path@with-at", "http://h/path@with-at"),
        # the userinfo ends at the authority's last "@" (httpx, urllib.parse.urlsplit)
        ("http://admin:p@ss@h/", "http://h/"),
        ("http://admin:p@ss@h", "http://h"),
        ("http://admin:p:s@s@h:8080/a@b?c@d#e@f", "http://h:8080/a@b?c@d#e@f"),
        ("http://admin:p%40ss@h/", "http://h/"),
        ("//a@b@c@h?q", "//h?q"),
        ("see http://u:p@ss@h/ and x@y", "see http://h/ and x@y"),
    ],
)
def test_without_userinfo(text: str, clean: str) -> None:
    assert without_userinfo(text) == clean


def test_scrub_userinfo_reaches_every_string_derived_from_a_url() -> None:
    info = {
        "webpage_url": "http://user:secret@h/v", "webpage_url_domain": "user:secret@h",
        "formats": [{"url": "http://user:secret@h/v.mp4",
                     "http_headers": {"Referer": "http://user:secret@h/v"},
                     "fragments": [{"url": "//user:secret@h/f1"}]}],
        "description": "write to data@example.org", "tags": ("user:secret@h",), "n": 3,
    }
    assert scrub_userinfo(info) == {
        "webpage_url": "http://h/v", "webpage_url_domain": "h",
        "formats": [{"url": "http://h/v.mp4", "http_headers": {"Referer": "http://h/v"},
                     "fragments": [{"url": "//h/f1"}]}],
        "description": "write to data@example.org", "tags": ("h",), "n": 3,
    }


@pytest.mark.parametrize("password", ["p@ss", "p:ss", "p%40ss", "p@s:s%40"])
def test_scrub_userinfo_takes_the_whole_password(password: str) -> None:
    """The userinfo runs to the authority's last "@", so no part of the password stays."""
    info = {"webpage_url": f"http://admin:{password}@h/v?x=a@b",
            "webpage_url_domain": f"admin:{password}@h", "title": "mail x@h"}
    scrubbed = scrub_userinfo(info)
    assert scrubbed == {"webpage_url": "http://h/v?x=a@b", "webpage_url_domain": "h",
                        "title": "mail x@h"}
