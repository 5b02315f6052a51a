"""The capture certificate as HTML (``preserver.export.certificate``): what it states,
and that nothing from a report, a platform or a manifest can act on the page."""

from __future__ import annotations

import base64
import hashlib
import html
import re

import pytest

from manifests import Agent, CaptureManifest, JsonValue, ManifestFile, ManifestTarget, Outcome
from preserver.export.certificate import (
    MAX_EMBEDDED,
    Cited,
    Screenshot,
    json_html,
    render_certificate,
    screenshot_of,
)
from tests.support.html_tags import start_tags

HOSTILE = "<script>alert(1)</script>\u202egnp.exe\u2066 \x07 \"'&"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _file(role: str, name: str, data: bytes, media_type: str) -> ManifestFile:
    return ManifestFile(role=role, name=name, sha256=hashlib.sha256(data).hexdigest(),
                        size=len(data), media_type=media_type)


def _manifest(*, title: str = "clip", message: str = "") -> CaptureManifest:
    return CaptureManifest(
        capture_id="0a189b44-97ec-4098-8643-202552f52a05",
        target=ManifestTarget(key="web:https://example.org/a?x=<b>", platform="web",
                              url="https://example.org/a?x=<b>"),
        requested_url="https://example.org/a?x=<b>",
        started_at="2026-11-26T10:00:00.000000Z", finished_at="2026-11-26T10:00:05.000000Z",
        agent=Agent(software="preserver 0.1.0", yt_dlp="2026.10.26", python="3.11.7",
                    host="vm", operator="أمل <i>"),
        outcome=Outcome(state="partial", status="available", message=message),
        files=(_file("page", "web-1.page.warc.gz", b"warc", "application/warc"),
               _file("screenshot", "web-1.screenshot.png", PNG, "image/png"),
               _file("media", "web-1 it's.media.mp4", b"mp4", "video/mp4")),
        metadata={"title": title, "tags": ["أ", "b"], "duration": 12})


def _render(manifest: CaptureManifest | None = None, *, collection: JsonValue = None,
            cited: tuple[Cited, ...] = (), screenshot: Screenshot | None = None) -> str:
    m = manifest or _manifest()
    return render_certificate(
        manifest=m, collection=collection, manifest_sha256="a" * 64,
        signature_sha256="b" * 64, key_id="c" * 64, report_name="بلاغ <1>.txt",
        report_sha256="d" * 64, cited=cited,
        folder="data/captures/web-example.org-a-123/0a189b44-97ec-4098-8643-202552f52a05/",
        exported_at="2026-11-26T11:00:00.000000Z", screenshot=screenshot)




def test_states_the_target_citations_capture_files_and_how_to_check() -> None:
    m = _manifest(message="media: HLS segment 2 of 3 answered HTTP 404")
    page = _render(m, cited=(Cited(line=34, label="1- كاسم المنسي", raw_url="https://youtu.be/x",
                                   start_seconds=75),))
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    for needed in ("web:https://example.org/a?x=<b>", "line", "34", "1- كاسم المنسي",
                   "https://youtu.be/x", "75 s", m.capture_id, "2026-11-26T10:00:00.000000Z",
                   "2026-11-26T10:00:05.000000Z", "partial", "available",
                   "HLS segment 2 of 3 answered HTTP 404", "أمل <i>", "بلاغ <1>.txt",
                   "a" * 64, "b" * 64, "c" * 64, "d" * 64):
        assert needed in text, needed
    for f in m.files:
        assert f"{f.sha256}  files/{f.name}" in text  # in the sha256sum -c listing
        assert f.role in text and f"{f.size:,} bytes" in text
    assert "openssl pkeyutl -verify -pubin -inkey ../../../custody/public-key.pem -rawin" in text
    assert "-in manifest.json -sigfile manifest.json.sig" in text
    assert "python3 data/verify_package.py . --key-id " + "c" * 64 in text
    assert "cd data/captures/web-example.org-a-123/0a189b44-97ec-4098-8643-202552f52a05/" in text
    assert "Collection record" not in page  # absent from the manifest: no section


def test_hostile_label_and_title_are_escaped_and_their_controls_shown() -> None:
    page = _render(_manifest(title=HOSTILE), collection={"browser": {HOSTILE: [HOSTILE]}},
                   cited=(Cited(line=1, label=HOSTILE, raw_url=HOSTILE),))
    assert "<script" not in page and "\u202e" not in page and "\u2066" not in page
    assert "\x07" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;[U+202E]gnp.exe[U+2066] [U+0007]"
                      " &quot;&#x27;&amp;") == 5  # label, link, title, record key and value
    tags = {tag for tag, _ in start_tags(page)}
    assert "script" not in tags and tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "bdi",
        "table", "colgroup", "col", "tr", "th", "td", "code", "pre", "a", "img"}
    csp = next(a["content"] for t, a in start_tags(page) if a.get("http-equiv") ==
               "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp and "script" not in csp


def test_every_value_is_its_own_bidi_island() -> None:
    page = _render(cited=(Cited(line=2, label="2- الضحية الثانية", raw_url="https://a.example"),))
    assert '<td dir="auto"><bdi>2- الضحية الثانية</bdi></td>' in page


def test_collection_record_renders_as_nested_tables() -> None:
    collection: JsonValue = {"operator": "amal", "host": {"name": "vm", "ip": "203.0.113.9"},
                             "versions": ["chromium 156", None, True, 3], "empty": {}}
    page = _render(collection=collection)
    assert "<h2>Collection record</h2>" in page
    section = page.split("<h2>Collection record</h2>", 1)[1].split("<h2>", 1)[0]
    assert section.count('<table class="kv">') == 3  # the record, host, versions
    for text in ("203.0.113.9", "chromium 156", "<code>null</code>", "<code>true</code>",
                 "<code>{}</code>", ">3<"):
        assert text in section


def test_deep_nesting_stops_as_json_text() -> None:
    deep: JsonValue = "bottom"
    for _ in range(20):
        deep = {"k": deep}
    out = json_html(deep)
    assert out.count("<table") == 8
    assert "{&quot;k&quot;: " in out and "bottom" in out


def test_long_values_are_cut_with_the_count_said() -> None:
    out = json_html("x" * 5000)
    assert "x" * 4000 + "… (1000 more characters)" in out and "x" * 4001 not in out


def test_screenshot_in_the_html_links_the_file_and_in_the_pdf_is_embedded() -> None:
    m = _manifest()
    shot = screenshot_of(m)
    assert shot is not None and shot.role == "screenshot"
    linked = _render(m, screenshot=Screenshot(file=shot))
    img = [a for t, a in start_tags(linked) if t == "img"]
    assert img == [{"src": "files/web-1.screenshot.png", "alt": "the screenshot"}]
    embedded = _render(m, screenshot=Screenshot(file=shot, data=PNG))
    [img_attrs] = [a for t, a in start_tags(embedded) if t == "img"]
    assert img_attrs["src"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert "This capture holds no screenshot" in _render(m, screenshot=None)


@pytest.mark.parametrize(("size", "data", "why"), [
    (MAX_EMBEDDED + 1, b"", "is larger than the 8,388,608 bytes (8.0 MiB) this PDF carries"),
    (8, b"GIF89a..", "is not a PNG image"),
])
def test_a_screenshot_the_pdf_cannot_carry_is_named_not_embedded(size: int, data: bytes,
                                                                 why: str) -> None:
    shot = ManifestFile(role="screenshot", name="s.png", sha256="e" * 64, size=size,
                        media_type="image/png")
    page = _render(screenshot=Screenshot(file=shot, data=data))
    assert why in page and "<img" not in page and "e" * 64 in page


def test_a_file_name_with_quotes_is_a_safe_link() -> None:
    shot = ManifestFile(role="screenshot", name="a\" onerror=\"x.png", sha256="e" * 64,
                        size=8, media_type="image/png")
    [(_, attrs)] = [t for t in start_tags(_render(screenshot=Screenshot(file=shot)))
                    if t[0] == "img"]
    assert attrs == {"src": "files/a%22%20onerror%3D%22x.png", "alt": "the screenshot"}
