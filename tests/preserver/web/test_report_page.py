"""One report's page, ``/reports/{sha256}``, and ``/api/reports/{sha256}``, over real HTTP
against ``preserver web`` on a preserved archive: what it shows, hostile labels and
platform messages escaped, refusals, pages of citations, Arabic, roles."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest

from preserver.web.report_pages import PER_PAGE
from tests.preserver.web.conftest import WebArchive
from tests.preserver.web.report_data import (
    CAPTURE_MESSAGE,
    IMG,
    MESSAGE,
    RLO,
    RLO_LABEL,
    SCRIPT,
    HostileReport,
)
from tests.support.cli import run_cli
from tests.support.html_tags import StartTags
from tests.support.pdf_reports import Line, reshaped_pdf


class _Tags(StartTags):
    """The page's start tags, and the text of each ``dir="auto"`` cell or note."""

    def __init__(self) -> None:
        super().__init__()
        self.auto: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        if tag in ("td", "small") and dict(attrs).get("dir") == "auto":
            self.auto.append("")
            self._depth = 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "small"):
            self._depth = 0

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.auto[-1] += data


def _parsed(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_report_page_shows_the_report_and_each_citation(
        web_archive: WebArchive, viewer: httpx.Client) -> None:
    sha = _sha(web_archive.report)
    page = viewer.get(f"/reports/{sha}")
    data = viewer.get(f"/api/reports/{sha}").json()
    assert page.status_code == 200, page.text
    html = page.text
    assert data["name"] == "report-a.txt" and data["sha256"] == sha
    assert data["size"] == web_archive.report.stat().st_size
    assert data["citations"] == 2 and data["links"] == 2
    assert data["states"] == {"complete": 2}
    assert [i["line"] for i in data["items"]] == [2, 4]  # report order, each URL's line
    assert [i["raw_url"] for i in data["items"]] == [web_archive.clip_url, web_archive.page_url]
    assert data["items"][0]["label"] == "1- الضحية الأولى <b>&amp;</b>"
    assert all(i["page"] is None for i in data["items"])  # a text report has no pages
    # the CLI's view of the same archive agrees on every link's media
    links = json.loads(run_cli("links", "--json", config=web_archive.site.config,
                               check=0).stdout)
    media = {item["key"]: {f["sha256"] for c in item["captures"] for f in c["files"]
                           if f["role"] == "media"} for item in links}
    clip = data["items"][0]
    assert clip["copy"]["state"] == "complete"
    assert [f["sha256"] for f in clip["copy"]["files"]] == sorted(media[clip["key"]])
    assert clip["copy"]["files"][0]["role"] == "media"
    assert data["items"][1]["copy"]["files"][0]["role"] == "page"  # a page has no media
    # the page shows it
    assert "<h1 dir=\"auto\">report-a.txt</h1>" in html and sha in html
    assert f'href="/files/{data["blob_sha256"]}"' in html
    assert viewer.get(f"/files/{data['blob_sha256']}").content == web_archive.report.read_bytes()
    assert "1- الضحية الأولى &lt;b&gt;&amp;amp;&lt;/b&gt;" in html
    assert clip["copy"]["files"][0]["sha256"][:12] in html
    assert str(clip["copy"]["files"][0]["size"]) in html
    assert html.index(web_archive.clip_url) < html.index(web_archive.page_url)
    assert "2 citations of 2 links" in html
    assert ">Page</th>" not in html  # no page column for a report without pages
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_hostile_labels_and_platform_messages_are_shown_as_text(
        web_archive: WebArchive, viewer: httpx.Client, hostile: HostileReport) -> None:
    html = viewer.get(f"/reports/{hostile.sha256}").text
    data = viewer.get(f"/api/reports/{hostile.sha256}").json()
    labels = [i["label"] for i in data["items"]]
    assert labels == [f"1- {SCRIPT}", f"2- {IMG}", f"3- {RLO_LABEL.replace(RLO, '')}"]
    assert data["items"][0]["availability"] == "removed_policy"
    assert data["items"][0]["last_message"] == MESSAGE
    assert data["items"][1]["copy"]["message"] == CAPTURE_MESSAGE
    for raw in (SCRIPT, IMG, MESSAGE, CAPTURE_MESSAGE):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;/small&gt;&lt;script&gt;alert(&#34;platform&#34;)&lt;/script&gt;" in html
    assert "3- gpj.exe شاهد" in html
    parsed = _parsed(html)
    assert [t for t, _ in parsed.tags if t in ("script", "img")] == []
    assert not any("onerror" in attrs for _, attrs in parsed.tags)
    # the override is shown, inside an element of its own whose direction is its text's
    assert [text for text in parsed.auto if RLO in text] == [MESSAGE]
    assert "removed for a policy" in html
    assert "failed" in html


def test_target_links_encode_the_key_as_one_path_segment(
        web_archive: WebArchive, viewer: httpx.Client, hostile: HostileReport) -> None:
    html = viewer.get(f"/reports/{hostile.sha256}").text
    href = "/targets/web%3Ahttp%3A%2F%2F127.0.0.1%3A9%2Fhostile%2Fthree%3Fa%3D1%26b%3D2"
    assert f'href="{href}"' in html
    target = viewer.get(href)  # the link leads to its target's page, not a prefix of it
    assert target.status_code == 200
    assert "web:http://127.0.0.1:9/hostile/three?a=1&amp;b=2" in target.text


def test_a_bad_sha256_is_400_and_an_unknown_one_404(
        web_archive: WebArchive, viewer: httpx.Client) -> None:
    for bad in ("abc", "g" * 64, "0" * 63, "0" * 65, "%3Cscript%3E"):
        page = viewer.get(f"/reports/{bad}")
        assert page.status_code == 400, bad
        assert "64 hexadecimal characters" in page.text
        api = viewer.get(f"/api/reports/{bad}")
        assert api.status_code == 400
        assert api.json() == {"error": "a report is named by its SHA-256: "
                                       "64 hexadecimal characters"}
    unknown = viewer.get(f"/reports/{'0' * 64}")
    assert unknown.status_code == 404
    assert f"no report with SHA-256 {'0' * 64}" in unknown.text
    assert viewer.get(f"/api/reports/{'0' * 64}").status_code == 404
    # upper-case hex names the same report
    upper = viewer.get(f"/reports/{_sha(web_archive.report).upper()}")
    assert upper.status_code == 200 and "report-a.txt" in upper.text
    for page_number in ("0", "-1", "x", "1.5"):
        refused = viewer.get(f"/reports/{_sha(web_archive.report)}?page={page_number}")
        assert refused.status_code == 400, page_number
    beyond = viewer.get(f"/reports/{_sha(web_archive.report)}?page=2")
    assert beyond.status_code == 404
    assert "1 page(s) of citations, not 2" in beyond.text


@pytest.mark.slow
def test_a_big_report_is_listed_a_page_at_a_time(web_archive: WebArchive, viewer: httpx.Client,
                                                  tmp_path: Path) -> None:
    report = tmp_path / "big-report.txt"
    count = PER_PAGE + 3
    report.write_text("".join(f"{n}- شاهد {n}\nhttp://127.0.0.1:9/big/{n}\n"
                              for n in range(1, count + 1)), encoding="utf-8")
    run_cli("ingest", str(report), config=web_archive.site.config, check=0)
    sha = _sha(report)
    first = viewer.get(f"/reports/{sha}").text
    second = viewer.get(f"/reports/{sha}?page=2").text
    data = viewer.get(f"/api/reports/{sha}").json()
    assert data["citations"] == count and len(data["items"]) == count  # the API: all
    row = '<td class="u" dir="ltr">http://127.0.0.1:9/big/'  # the URL as cited, a row each
    assert first.count(row) == PER_PAGE
    assert "http://127.0.0.1:9/big/1<" in first and f"/big/{PER_PAGE}<" in first
    assert f"/big/{PER_PAGE + 1}<" not in first
    assert second.count(row) == 3
    assert f"/big/{count}<" in second
    assert f"Citations 1 to {PER_PAGE} of {count}" in first
    assert f"Citations {PER_PAGE + 1} to {count} of {count}" in second
    assert 'href="?page=2"' in first and '<strong aria-current="page">1</strong>' in first
    assert 'href="?page=1"' in second and '<strong aria-current="page">2</strong>' in second
    assert f"{count} citations of {count} links" in second  # counts are the report's


def test_a_report_of_many_pages_links_first_last_and_neighbours(
        web_archive: WebArchive, viewer: httpx.Client, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """30 pages (one citation a page here; 1,000 in service): page 15 links 1, 13, 14, 16,
    17 and 30, with a gap on each side, not all 30."""
    from preserver.web import report_pages

    report = tmp_path / "many-pages.txt"
    report.write_text("".join(f"{n}- شاهد\nhttp://127.0.0.1:9/many/{n}\n" for n in range(1, 31)),
                      encoding="utf-8")
    run_cli("ingest", str(report), config=web_archive.site.config, check=0)
    monkeypatch.setattr(report_pages, "PER_PAGE", 1)  # the server reads it per request
    sha = _sha(report)
    for number, linked in ((15, {1, 13, 14, 16, 17, 30}), (1, {2, 3, 30}), (30, {1, 28, 29}),
                           (4, {1, 2, 3, 5, 6, 30})):
        html = viewer.get(f"/reports/{sha}?page={number}").text
        pagers = re.findall(r'<nav class="pager".*?</nav>', html, re.DOTALL)
        assert len(pagers) == 2  # above and below the table
        for pager in pagers:
            assert {int(n) for n in re.findall(r'href="\?page=(\d+)"', pager)} == linked
            assert f'<strong aria-current="page">{number}</strong>' in pager
            gaps = 2 if number == 15 else 1
            assert pager.count('<span aria-hidden="true">…</span>') == gaps, number


@pytest.mark.slow
def test_a_paged_report_shows_each_citation_s_page(web_archive: WebArchive,
                                                  viewer: httpx.Client, tmp_path: Path) -> None:
    report = tmp_path / "paged.pdf"
    report.write_bytes(reshaped_pdf([
        Line(text="1- سمير الحموري"), Line(text="http://127.0.0.1:9/paged/one"),
        Line(text="2- عمر خليل", new_page=True), Line(text="http://127.0.0.1:9/paged/two")]))
    run_cli("ingest", str(report), config=web_archive.site.config, check=0)
    sha = _sha(report)
    data = viewer.get(f"/api/reports/{sha}").json()
    assert [(i["label"], i["page"]) for i in data["items"]] == [
        ("1- سمير الحموري", 1), ("2- عمر خليل", 2)]
    assert data["media_type"] == "application/pdf"
    html = viewer.get(f"/reports/{sha}").text
    assert "<th>Page</th>" in html
    assert [row.split("</td>")[1] for row in html.split("<tr><td>")[1:]] == ["<td>1", "<td>2"]


def test_the_report_page_in_arabic(web_archive: WebArchive, viewer: httpx.Client) -> None:
    viewer.cookies.set("preserver_lang", "ar")  # beside the session's cookie
    try:
        html = viewer.get(f"/reports/{_sha(web_archive.report)}").text
    finally:
        viewer.cookies.delete("preserver_lang")
    assert '<html lang="ar" dir="rtl">' in html
    for heading in ("السطر", "الاستشهاد", "الرابط كما ورد", "النسخة المحفوظة", "تنزيل ملف التقرير",
                    "كامل"):
        assert heading in html
    assert ">Line<" not in html


def test_anonymous_visitors_sign_in_first(web_archive: WebArchive) -> None:
    sha = _sha(web_archive.report)
    with web_archive.site.client() as client:
        page = client.get(f"/reports/{sha}?page=1")
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next=%2Freports%2F{sha}%3Fpage%3D1"
        api = client.get(f"/api/reports/{sha}")
        assert api.status_code == 401 and api.json() == {"error": "sign in first"}
        bad = client.get("/api/reports/abc")  # who asks comes first: nothing is said of it
        assert bad.status_code == 401


def test_a_viewer_token_reads_the_api(web_archive: WebArchive) -> None:
    token = web_archive.site.token("viewer", "report-page-reader")
    with web_archive.site.client(headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.get(f"/api/reports/{_sha(web_archive.report)}")
    assert answer.status_code == 200 and answer.json()["name"] == "report-a.txt"
