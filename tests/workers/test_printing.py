"""Printing a page to PDF with the real Chromium (``workers.printing``): the text and
``data:`` images come out, nothing the page names is fetched, and a missing, slow or
killed browser is one ``PrintFailed`` line with no process left behind."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.support.fixture_site import FixtureSite
from tests.support.procs import descendants
from workers import Printer, PrintFailed, print_pdf

pytestmark = pytest.mark.slow
CHROMIUM = "chromium"


def _red_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 120), (230, 0, 0)).save(out, format="PNG")
    return out.getvalue()


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _page_image(pdf: bytes, tmp_path: Path) -> Image.Image:
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True)
    [png] = tmp_path.glob("page*.png")
    return Image.open(png).convert("RGB")


def _red_pixels(image: Image.Image) -> int:
    rgb = image.convert("RGB").tobytes()
    return sum(1 for i in range(0, len(rgb), 3)
               if rgb[i] > 200 and rgb[i + 1] < 60 and rgb[i + 2] < 60)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _descendants() -> list[int]:
    """Processes below this one that are Playwright's driver, or Chromium and its
    helpers (other tests in this process may leave a forkserver of their own)."""
    return [pid for pid, line in descendants() if re.search("playwright|chrom", line)]


async def _none_left() -> list[int]:
    for _ in range(50):  # processes exit shortly after the browser is closed
        if not (left := _descendants()):
            return left
        await asyncio.sleep(0.1)
    return _descendants()


async def test_prints_both_scripts_and_data_uri_images(tmp_path: Path) -> None:
    uri = "data:image/png;base64," + base64.b64encode(_red_png()).decode()
    pdf = await print_pdf(f'<p dir="auto">شاهد على الهجوم</p><p>witness statement</p>'
                          f'<img src="{uri}" style="width:300px">', executable=CHROMIUM,
                          timeout=60)
    assert pdf.startswith(b"%PDF-")
    text = _pdf_text(pdf, tmp_path)
    assert "witness statement" in text and "الهجوم" in text
    page = _page_image(pdf, tmp_path)
    assert page.size in {(413, 585), (414, 586), (414, 585), (413, 586)}  # A4 at 50 dpi
    red = _red_pixels(page)
    assert red > 500, red  # the embedded image is on the page
    assert await _none_left() == []


async def test_nothing_the_page_names_is_fetched(site: FixtureSite, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    base = site.base_url
    monkeypatch.setenv("HTTP_PROXY", base)  # a proxy from the environment is not used either
    monkeypatch.setenv("https_proxy", base)
    # (no <meta http-equiv="refresh">: a navigation away races the print itself, and the
    # certificates, the one thing printed, hold no markup from their data)
    page = (f'<html><head><link rel="stylesheet" href="{base}/style.css"><link rel="prefetch" '
            f'href="{base}/prefetch"><link rel="icon" href="{base}/favicon.ico">'
            f"<style>@import url({base}/import.css); @font-face {{ font-family: x; src: "
            f"url({base}/font.woff2); }} body {{ background: url({base}/bg.png); "
            f'font-family: x; }}</style><script src="{base}/script.js"></script></head><body>'
            f'<p>offline</p><img src="{base}/img.png"><img src="http://example.invalid/x.png">'
            f'<iframe src="{base}/frame"></iframe><video poster="{base}/poster.png" '
            f'src="{base}/video.mp4"></video><object data="{base}/object"></object>'
            f'<script>fetch("{base}/fetch")</script></body></html>')
    pdf = await print_pdf(page, executable=CHROMIUM, timeout=60)
    assert "offline" in _pdf_text(pdf, tmp_path)
    await asyncio.sleep(0.5)  # anything late would have arrived by now
    assert site.hits == []


async def test_missing_chromium_is_one_line() -> None:
    with pytest.raises(PrintFailed) as caught:
        await print_pdf("<p>x</p>", executable="/nonexistent/chromium", timeout=10)
    assert str(caught.value) == ("Chromium was not found ('/nonexistent/chromium'); install "
                                 "Debian's chromium package or set [browser] executable")


async def test_a_print_out_of_time_fails_and_leaves_no_process() -> None:
    with pytest.raises(PrintFailed, match=r"timed out after 0\.2 s"):
        await print_pdf("<p>x</p>", executable=CHROMIUM, timeout=0.2)
    assert await _none_left() == []


async def test_one_printer_prints_many_pages_then_stops(tmp_path: Path) -> None:
    async with Printer(executable=CHROMIUM, timeout=60) as printer:
        pdfs = [await printer.print(f"<p>page number {n}</p>") for n in range(3)]
        assert _descendants()  # one browser, still running between pages
    for n, pdf in enumerate(pdfs):
        assert f"page number {n}" in _pdf_text(pdf, tmp_path)
    assert await _none_left() == []


async def test_a_killed_browser_fails_the_next_print_and_is_cleaned_up() -> None:
    async with Printer(executable=CHROMIUM, timeout=30) as printer:
        await printer.print("<p>first</p>")
        browsers = [p for p in _descendants() if "chromium" in _cmdline(p)]
        assert browsers
        for pid in browsers:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(PrintFailed, match="Chromium could not print the page"):
            await printer.print("<p>second</p>")
    assert await _none_left() == []


async def test_printing_without_starting_is_an_error() -> None:
    with pytest.raises(PrintFailed, match="not started"):
        await Printer(executable=CHROMIUM, timeout=5).print("<p>x</p>")
