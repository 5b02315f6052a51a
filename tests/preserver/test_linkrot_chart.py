"""The link-rot chart (``views.linkrot.html.chart``) as Chromium draws it, in the right to
left page of ``preserver linkrot --format html``: its labels inside it, its legend coloured."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from preserver.views.linkrot.html import _CSS, COLORS, chart
from preserver.views.linkrot.report import Counts, DayCounts


@pytest.mark.slow
def test_the_chart_s_labels_are_inside_it_on_a_right_to_left_page() -> None:
    history = tuple(DayCounts(day=f"2026-01-0{d}", counts=Counts(up=d, down=1, restricted=2,
                                                                  unknown=3)) for d in (1, 2, 3))
    html = (f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
            f"<style>{_CSS}</style></head><body>{chart(history)}</body></html>")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 400})
            page.set_content(html)
            svg, labels, swatches = page.evaluate("""() => {
              const box = r => [r.left, r.right];
              const svg = document.querySelector("svg");
              return [box(svg.getBoundingClientRect()),
                      [...svg.querySelectorAll(":scope > text")].map(
                        t => [t.textContent, ...box(t.getBoundingClientRect())]),
                      [...document.querySelectorAll(".swatch")].map(
                        s => getComputedStyle(s).backgroundColor)];
            }""")
        finally:
            browser.close()
    assert [text for text, _, _ in labels] == ["2026-01-01", "2026-01-03", "9"]
    for text, left, right in labels:
        assert svg[0] <= left and right <= svg[1], (text, left, right, svg)
    first, last, top = labels
    assert first[1] < last[1] and top[2] <= first[1] + 30  # dates under the bars, the top left
    rgb = [tuple(int(COLORS[k][i:i + 2], 16) for i in (1, 3, 5)) for k in COLORS]
    assert swatches == [f"rgb({r}, {g}, {b})" for r, g, b in rgb]
