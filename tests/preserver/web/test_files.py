"""``GET /files/<sha256>`` over real HTTP against ``preserver web``: whole files and byte
ranges (RFC 9110), only blobs the archive names, safe headers, bad input, roles, and the
same bytes from an archive on S3 (moto_server)."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from preserver.web.blobs import disposition
from preserver.web.ranges import NotSatisfiable, Slice, wanted
from storage import LocalBlobStore
from tests.preserver.web.conftest import WebArchive
from tests.support.cli import NO_COLLECTION, run_cli
from tests.support.evidence import preserve
from tests.support.fixture_site import FixtureSite, Media
from tests.support.s3 import MotoServer
from tests.support.web import serve_web


def shown(web_archive: WebArchive, url: str) -> dict[str, Any]:
    out = run_cli("show", f"web:{url}", "--json", config=web_archive.site.config, check=0)
    item: dict[str, Any] = json.loads(out.stdout)
    return item


def file_of(item: dict[str, Any], role: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for c in item["captures"] for f in c["files"]
                                 if f["role"] == role)
    return found


@pytest.fixture(scope="module")
def clip(web_archive: WebArchive, media: Media) -> dict[str, Any]:
    media_file = file_of(shown(web_archive, web_archive.clip_url), "media")
    assert media_file["sha256"] == media.sha256("mp4")
    return media_file


def test_a_whole_file_with_its_headers(viewer: httpx.Client, clip: dict[str, Any],
                                       media: Media) -> None:
    response = viewer.get(f"/files/{clip['sha256']}")
    assert response.status_code == 200
    assert response.content == media.mp4.read_bytes()
    h = response.headers
    assert h["content-type"] == "video/mp4"
    assert h["content-length"] == str(clip["size"])
    assert h["accept-ranges"] == "bytes"
    assert h["etag"] == f'"{clip["sha256"]}"'
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-security-policy"].startswith("sandbox;")
    assert "default-src 'none'" in h["content-security-policy"]
    assert h["content-disposition"] == (f'inline; filename="{clip["name"]}"; '
                                        f"filename*=UTF-8''{clip['name']}")


@pytest.mark.parametrize(("spec", "start", "end"), [
    ("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-10", -10, None),
    ("bytes=5-999999999", 5, None), ("BYTES=7-7", 7, 7), ("bytes=-99999999", 0, None),
    ("bytes=0-99999999999999999999999", 0, None),
])
def test_one_range_is_206_with_its_content_range(viewer: httpx.Client, clip: dict[str, Any],
                                                 media: Media, spec: str, start: int,
                                                 end: int | None) -> None:
    data = media.mp4.read_bytes()
    size = len(data)
    expected = data[start:None if end is None else end + 1]
    first = start % size
    response = viewer.get(f"/files/{clip['sha256']}", headers={"Range": spec})
    assert response.status_code == 206
    assert response.content == expected
    assert response.headers["content-range"] == \
        f"bytes {first}-{first + len(expected) - 1}/{size}"
    assert response.headers["content-length"] == str(len(expected))


@pytest.mark.parametrize("spec", ["bytes={size}-", "bytes={size}-{size}", "bytes=999999999-",
                                  "bytes=-0", "bytes=99999999999999999999999-"])
def test_a_range_past_the_end_is_416(viewer: httpx.Client, clip: dict[str, Any],
                                     spec: str) -> None:
    size = clip["size"]
    response = viewer.get(f"/files/{clip['sha256']}",
                          headers={"Range": spec.format(size=size)})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("spec", ["bytes=abc", "items=0-1", "bytes=5-1", "bytes=0-1,3-4",
                                  "bytes=", "bytes 0-1", "=0-1", "bytes=--1", "bytes=1-2-3",
                                  "bytes=\u0661-\u0662", "bytes=0-1;x"])
def test_a_garbage_or_multiple_range_gets_the_whole_file(viewer: httpx.Client,
                                                          clip: dict[str, Any], media: Media,
                                                          spec: str) -> None:
    response = viewer.get(f"/files/{clip['sha256']}",
                          headers={"Range": spec.encode()})
    assert response.status_code == 200
    assert response.content == media.mp4.read_bytes()
    assert "content-range" not in response.headers


def test_if_range_and_if_none_match(viewer: httpx.Client, clip: dict[str, Any],
                                   media: Media) -> None:
    url, etag = f"/files/{clip['sha256']}", f'"{clip["sha256"]}"'
    same = viewer.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (same.status_code, same.content) == (206, media.mp4.read_bytes()[:10])
    for other in ('"' + "0" * 64 + '"', f"W/{etag}", "Fri, 27 Nov 2026 00:00:00 GMT"):
        changed = viewer.get(url, headers={"Range": "bytes=0-9", "If-Range": other})
        assert (changed.status_code, len(changed.content)) == (200, clip["size"])
    cached = viewer.get(url, headers={"If-None-Match": etag})
    assert (cached.status_code, cached.content) == (304, b"")


def test_head_sends_the_headers_alone(viewer: httpx.Client, clip: dict[str, Any]) -> None:
    response = viewer.head(f"/files/{clip['sha256']}", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.headers["content-length"] == "10"
    assert response.content == b""


def test_manifest_signature_and_report_are_served(web_archive: WebArchive,
                                                  viewer: httpx.Client) -> None:
    capture = shown(web_archive, web_archive.clip_url)["captures"][0]
    manifest = viewer.get(f"/files/{capture['manifest_sha256']}")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"] == "application/json"
    assert json.loads(manifest.content)["capture_id"] == capture["id"]
    assert hashlib.sha256(manifest.content).hexdigest() == capture["manifest_sha256"]
    signature = viewer.get(f"/files/{capture['signature_sha256'].upper()}")
    assert signature.status_code == 200
    assert len(signature.content) == 64
    assert signature.headers["content-disposition"].startswith(
        f'attachment; filename="manifest-{capture["id"]}.json.sig"')
    report = web_archive.report.read_bytes()
    served = viewer.get(f"/files/{hashlib.sha256(report).hexdigest()}")
    assert (served.status_code, served.content) == (200, report)
    assert served.headers["content-type"] == "text/plain"
    assert served.headers["content-disposition"].startswith('inline; filename="report-a.txt"')


def test_an_html_page_is_an_attachment_in_a_sandbox(web_archive: WebArchive,
                                                    viewer: httpx.Client) -> None:
    warc = file_of(shown(web_archive, web_archive.page_url), "page")
    response = viewer.get(f"/files/{warc['sha256']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/warc"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["content-security-policy"]


def test_a_blob_the_archive_does_not_name_is_404(web_archive: WebArchive,
                                                 viewer: httpx.Client) -> None:
    data_dir = web_archive.site.config.parent / "archive"
    stray = LocalBlobStore(data_dir / "blobs", data_dir / "tmp").put_bytes(b"in the store, unnamed")
    response = viewer.get(f"/files/{stray.sha256}")
    assert response.status_code == 404
    assert "names no file" in response.text
    assert viewer.get(f"/files/{'ab' * 32}").status_code == 404


@pytest.mark.parametrize("address", ["xyz", "0" * 63, "0" * 65, "g" * 64, "%20" + "0" * 61,
                                     "0" * 64 + ".mp4"])
def test_an_address_not_64_hex_digits_is_400(viewer: httpx.Client, address: str) -> None:
    response = viewer.get(f"/files/{address}")
    assert response.status_code == 400
    assert "64 hexadecimal digits" in response.text


@pytest.mark.parametrize("path", ["/files/../config.toml", "/files/%2e%2e/config.toml",
                                  "/files/%2e%2e", "/files/..%2fconfig.toml",
                                  "/files/%2e%2e%2f%2e%2e%2fconfig.toml",
                                  "/files/..%5cconfig.toml", "/files//etc/passwd"])
def test_a_path_out_of_the_store_is_refused(web_archive: WebArchive, viewer: httpx.Client,
                                            path: str) -> None:
    # http.client sends the path as written: no client-side removal of dot segments
    host = web_archive.site.url.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": "; ".join(
            f"{k}={v}" for k, v in viewer.cookies.items())})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status in (400, 404)
    assert b"data_dir" not in body and b"root:" not in body


def test_anonymous_is_sent_to_sign_in_and_a_token_is_enough(web_archive: WebArchive,
                                                            clip: dict[str, Any]) -> None:
    url = f"/files/{clip['sha256']}"
    with web_archive.site.client() as anonymous:
        response = anonymous.get(url)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
        token = web_archive.site.token("viewer", "files-test")
        with_token = anonymous.get(url, headers={"Authorization": f"Bearer {token}",
                                                 "Range": "bytes=0-3"})
        assert (with_token.status_code, len(with_token.content)) == (206, 4)
        refused = anonymous.get(url, headers={"Authorization": "Bearer pvt_not-a-token"})
        assert refused.status_code == 303  # a page: to the sign-in form, whatever the token


def test_content_disposition_cannot_carry_a_header() -> None:
    value = disposition('شاهد "1"\r\nSet-Cookie: a=b; x/../..\\evil.mp4', inline=False)
    assert "\r" not in value and "\n" not in value
    assert value == ('attachment; filename="evil.mp4"; filename*=UTF-8\'\'evil.mp4')
    arabic = disposition('شاهد "1"\r\nSet-Cookie: a=b.mp4', inline=True)
    assert arabic.startswith('inline; filename="______1___Set-Cookie__a_b.mp4"; ')
    assert arabic.endswith("filename*=UTF-8''%D8%B4%D8%A7%D9%87%D8%AF%20%221%22%0D%0A"
                           "Set-Cookie%3A%20a%3Db.mp4")
    assert disposition("..", inline=False).startswith('attachment; filename="file"')


@pytest.mark.slow
def test_an_archive_on_s3_serves_the_same_bytes(tmp_path: Path, media: Media,
                                                moto: MotoServer, bucket: str) -> None:
    site = FixtureSite.start()
    try:
        clip = site.add_file("/s3/clip.mp4", media.mp4, "video/mp4")
        config = tmp_path / "config.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "archive"}"\noperator = "test-archivist"\n'
            '[capture]\ntimeout = "20s"\nmax_attempts = 1\n'
            '[network]\nallow_networks = ["127.0.0.1/32"]\n[browser]\nenabled = false\n'
            f'[storage]\nbackend = "s3"\nendpoint_url = "{moto.url}"\nbucket = "{bucket}"\n'
            'prefix = "web"\nregion = "us-east-1"\n' + NO_COLLECTION, encoding="utf-8")
        report = tmp_path / "report.txt"
        report.write_text(f"1- clip\n{clip}\n", encoding="utf-8")
        asyncio.run(preserve(config, report))
    finally:
        site.close()
    # every blob is in the bucket
    assert not [p for p in (tmp_path / "archive" / "blobs").rglob("*") if p.is_file()]
    data = media.mp4.read_bytes()
    with serve_web(config) as web:
        web.add_user("viewer", "viewer")
        with closing(web.signed_in("viewer")) as client:
            url = f"/files/{media.sha256('mp4')}"
            whole = client.get(url)
            assert (whole.status_code, whole.content) == (200, data)
            part = client.get(url, headers={"Range": "bytes=1000-2999"})
            assert (part.status_code, part.content) == (206, data[1000:3000])
            assert part.headers["content-range"] == f"bytes 1000-2999/{len(data)}"
            tail = client.get(url, headers={"Range": "bytes=-5"})
            assert (tail.status_code, tail.content) == (206, data[-5:])
            past = client.get(url, headers={"Range": f"bytes={len(data)}-"})
            assert (past.status_code, past.headers["content-range"]) == \
                (416, f"bytes */{len(data)}")
            page = client.get("/targets/" + f"web:{clip}")
            assert page.status_code == 200
            assert f'<video controls preload="metadata" src="{url}">' in page.text


def test_ranges_of_an_empty_file() -> None:
    etag = '"' + "0" * 64 + '"'
    assert wanted("bytes=-5", None, etag=etag, size=0) is None  # the whole (empty) file
    with pytest.raises(NotSatisfiable, match="bytes=0-"):
        wanted("bytes=0-", None, etag=etag, size=0)
    assert wanted("bytes=0-0", etag, etag=etag, size=1) == Slice(start=0, length=1)
