"""The link-rot dashboard, ``/linkrot``, and ``/api/linkrot`` (``preserver linkrot
--format json``), over real HTTP against ``preserver web`` on a preserved archive."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.preserver.web.conftest import WebArchive
from tests.preserver.web.report_data import IMG, SCRIPT, URLS, HostileReport
from tests.support.cli import run_cli
from tests.support.html_tags import start_tags


def _without_time(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if k != "generated_at"}


def test_the_api_answers_what_the_cli_prints(web_archive: WebArchive, viewer: httpx.Client,
                                             hostile: HostileReport) -> None:
    config = web_archive.site.config
    for query, args in (("", ()), ("?report=report-a.txt", ("--report", "report-a.txt")),
                        (f"?report={hostile.sha256[:12]}", ("--report", hostile.sha256[:12]))):
        api = viewer.get(f"/api/linkrot{query}")
        assert api.status_code == 200
        cli = json.loads(run_cli("linkrot", "--format", "json", *args, config=config,
                                 check=0).stdout)
        assert _without_time(api.json()) == _without_time(cli), query
    assert [r["name"] for r in viewer.get("/api/linkrot?report=report-a.txt").json()[
        "reports"]] == ["report-a.txt"]


def test_the_dashboard_shows_counts_the_chart_and_the_rotten_links(
        web_archive: WebArchive, viewer: httpx.Client, hostile: HostileReport) -> None:
    page = viewer.get("/linkrot")
    assert page.status_code == 200
    html = page.text
    data = viewer.get("/api/linkrot").json()
    assert "<h1>Link rot</h1>" in html
    assert f"Total: {data['totals']['total']}" in html
    assert data["totals"]["down"] == 1 and f"down: {data['totals']['down']}" in html
    assert "removed for a policy" in html and "removed_policy" in html
    for report in data["reports"]:
        assert f'href="/reports/{report["sha256"]}"' in html
    # the chart: SVG bars and a legend coloured by classes, no inline style (the CSP)
    assert data["history"], "the preserved links changed state: there is a history"
    tags = start_tags(html)
    assert any(t == "svg" for t, _ in tags) and any(t == "rect" for t, _ in tags)
    swatches = [a["class"] for t, a in tags if t == "span" and "swatch" in (a.get("class") or "")]
    charts = 1 + sum(1 for r in data["reports"] if r["history"])  # all, then each report's
    assert swatches == ["swatch up", "swatch down", "swatch restricted", "swatch unknown"] * charts
    assert not any("style" in attrs for _, attrs in tags)
    assert "<style" not in html.lower()
    assert "style-src 'self'" in page.headers["content-security-policy"]
    # the one link down is listed, lost (no complete copy), its labels escaped
    rotten = html[html.index("<table class=\"rotten\">"):]
    assert URLS[0] in rotten and URLS[1] not in rotten
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rotten
    assert '<strong class="lost">lost</strong>' in rotten
    for raw in (SCRIPT, IMG):
        assert raw not in html
    assert not any(t in ("script", "img") for t, _ in tags)
    assert html.count("No cited link is down or restricted.") == len(data["reports"]) - 1


def test_the_filter_shows_one_report_and_refuses_an_unknown_one(
        web_archive: WebArchive, viewer: httpx.Client, hostile: HostileReport) -> None:
    one = viewer.get("/linkrot", params={"report": "report-a.txt"}).text
    assert re.findall(r'<section class="rot">', one) == ['<section class="rot">']
    assert 'value="report-a.txt"' in one and "hostile-report.txt" not in one
    hostile_name = viewer.get("/linkrot", params={"report": '"><script>x</script>'})
    assert hostile_name.status_code == 404
    assert "<script>x" not in hostile_name.text
    assert "no report named" in hostile_name.text
    api = viewer.get("/api/linkrot", params={"report": "nope.txt"})
    assert api.status_code == 404
    assert api.json() == {"error": "no report named 'nope.txt' in the archive "
                                   "(see `preserver status`)"}
    assert viewer.get("/api/linkrot", params={"report": "x" * 301}).status_code == 400
    everything = viewer.get("/linkrot", params={"report": ""})  # an empty filter: all
    assert everything.status_code == 200 and "hostile-report.txt" in everything.text


def test_the_dashboard_in_arabic(viewer: httpx.Client, hostile: HostileReport) -> None:
    viewer.cookies.set("preserver_lang", "ar")  # beside the session's cookie
    try:
        html = viewer.get("/linkrot").text
    finally:
        viewer.cookies.delete("preserver_lang")
    assert '<html lang="ar" dir="rtl">' in html
    for text in ("<h1>تلف الروابط</h1>", "جميع التقارير المعروضة", "المجموع", "سبب الحذف",
                 "حُذف لمخالفة سياسات المنصة", "مفقود", "حالة الروابط يوماً بيوم"):
        assert text in html
    assert "Link rot</h1>" not in html


def test_anonymous_visitors_sign_in_first(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        page = client.get("/linkrot?report=report-a.txt")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Flinkrot%3Freport%3Dreport-a.txt"
        api = client.get("/api/linkrot")
        assert api.status_code == 401 and api.json() == {"error": "sign in first"}


@pytest.mark.slow
def test_chromium_shows_both_pages_without_breaking_their_policy(
        web_archive: WebArchive, viewer: httpx.Client, hostile: HostileReport) -> None:
    """In a real browser: no Content-Security-Policy violation (the chart's colours come
    from style.css), and none of the hostile labels or messages runs."""
    from playwright.sync_api import Dialog, sync_playwright

    cookie = viewer.cookies["preserver_session"]
    complaints: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "preserver_session", "value": cookie,
                                  "url": web_archive.site.url}])
            page = context.new_page()
            page.on("console", lambda m: complaints.append(m.text) if m.type in (
                "error", "warning") and not m.text.startswith("Failed to load resource")
                else None)  # a failed load is told by its response, below
            page.on("response", lambda r: complaints.append(f"{r.status} {r.url}") if (
                r.status >= 400 and not r.url.endswith("/favicon.ico")) else None)
            page.on("pageerror", lambda e: complaints.append(str(e)))

            def dialog(d: Dialog) -> None:  # an alert() of a hostile label that ran
                complaints.append(f"dialog {d.message}")
                d.dismiss()

            page.on("dialog", dialog)
            page.goto(f"{web_archive.site.url}/linkrot")
            assert page.locator("h1").inner_text() == "Link rot"
            colour = page.eval_on_selector(".swatch.down",
                                           "e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(198, 40, 40)"
            assert page.locator("svg rect").count() > 0
            page.goto(f"{web_archive.site.url}/reports/{hostile.sha256}")
            assert page.locator("table.cites tbody tr").count() == 3
            assert SCRIPT in page.locator("table.cites").inner_text()
        finally:
            browser.close()
    assert complaints == []
