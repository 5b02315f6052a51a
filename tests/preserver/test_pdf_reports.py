"""PDF reports: made by real producers (Chromium's print; fpdf2 with arabic-reshaper and
python-bidi; PDFs written object by object for hostile cases), read by the real reader.

Chromium prints once per session (``printed``), so its tests are quick after the first.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import html
import io
import json
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from preserver.errors import InvalidReport
from preserver.ingest.links import extract_links
from preserver.ingest.readers import Extracted, pdf, read_report
from preserver.ingest.readers._base import read
from preserver.ingest.readers._pdf_layout import Glyph, Link, page_lines
from tests.support.cli import assert_one_line_error, run_in
from tests.support.douma import DOUMA
from tests.support.pdf_reports import (
    CHROMIUM,
    Line,
    RawPage,
    html_page,
    print_pages,
    raw_pdf,
    raw_pdf_bytes,
    reshaped_pdf,
)

VIDEO = "https://youtu.be/u7qI99N8OM8"
WRAPPED = "https://www.example.org/a/very/long/path/that/wraps/over/two/lines/report.html"
ARABIC = html_page(f"""
<h1>تقرير عن مجزرة دوما</h1>
<p>وكما هي العادة، وفي نزيف مستمر للدماء السورية</p>
<p>5- سمير الحموري أبو صلاح</p>
<p><a href="{VIDEO}">شاهد الفيديو</a></p>
<p>6- عمر محضر الشامية أبو فارس</p>
<p><a href="https://youtu.be/aS2aYAJEb0M">https://youtu.be/aS2aYAJEb0M</a></p>
<p style="width:180px;word-break:break-all" dir="ltr">{WRAPPED}</p>
<h2>الجدول:</h2>
<table><tr><td>7- إبراهيم سويدان</td>
<td><a href="https://www.facebook.com/902054899875426">رابط</a></td></tr></table>
<p style="break-before:page">8- محمود راتب حجازي ابو عطا</p>
<p>قتل في 16-8-2015م (في السوق) <a href="https://youtu.be/d4BS79nOs3w">شاهد الفيديو</a></p>
""")


@pytest.fixture(scope="session")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Chromium-printed reports, made once: the Arabic sample, and the Douma report
    (its lines, each its own block) when the shared report is here."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    pages = {"arabic": ARABIC}
    if DOUMA.exists():
        lines = DOUMA.read_text(encoding="utf-8").splitlines()
        pages["douma"] = html_page("".join(f"<p>{html.escape(line)}</p>" for line in lines))
    root = tmp_path_factory.mktemp("printed")
    paths = {}
    for (name, _), data in zip(pages.items(), print_pages(list(pages.values())), strict=True):
        paths[name] = root / f"{name}.pdf"
        paths[name].write_bytes(data)
    return paths


def links_of(path: Path) -> list[tuple[str, str]]:
    return [(link.label, link.url) for link in extract_links(read_report(path).text)]


@pytest.mark.slow
def test_chromium_arabic_links_labels_and_pages(printed: dict[str, Path]) -> None:
    report = read_report(printed["arabic"])
    assert report.media_type == "application/pdf"
    assert links_of(printed["arabic"]) == [
        ("5- سمير الحموري أبو صلاح", VIDEO),  # behind "شاهد الفيديو"
        ("6- عمر محضر الشامية أبو فارس", "https://youtu.be/aS2aYAJEb0M"),  # once, not twice
        ("6- عمر محضر الشامية أبو فارس", WRAPPED),  # wrapped over four lines, rejoined
        ("7- إبراهيم سويدان رابط", "https://www.facebook.com/902054899875426"),  # in a table
        ("8- محمود راتب حجازي ابو عطا", "https://youtu.be/d4BS79nOs3w"),
    ]
    lines = report.text.split("\n")
    assert "شاهد الفيديو <https://youtu.be/u7qI99N8OM8>" in lines
    assert "## تقرير عن مجزرة دوما" in lines  # larger type: a heading
    assert "قتل في 16-8-2015م (في السوق) شاهد الفيديو <https://youtu.be/d4BS79nOs3w>" in lines
    assert report.text == unicodedata.normalize("NFKC", report.text)
    assert len(report.page_lines) == 2
    found = {link.url: link.line for link in extract_links(report.text)}
    assert report.page_of(found[VIDEO]) == 1
    assert report.page_of(found["https://youtu.be/d4BS79nOs3w"]) == 2
    assert lines[report.page_lines[1] - 1] == "8- محمود راتب حجازي ابو عطا"


@pytest.mark.slow
def test_douma_as_pdf_gives_what_the_text_gives(printed: dict[str, Path]) -> None:
    if "douma" not in printed:
        pytest.skip(f"the shared Douma report is not here: {DOUMA}")
    as_text = extract_links(read_report(DOUMA).text)
    as_pdf = extract_links(read_report(printed["douma"]).text)
    assert len(as_pdf) == 42
    assert len({link.target.key for link in as_pdf if link.target}) == 41
    assert [(link.label, link.url) for link in as_pdf] == \
        [(link.label, link.url) for link in as_text]


@pytest.mark.slow
def test_visual_order_presentation_forms_come_out_logical(tmp_path: Path) -> None:
    path = tmp_path / "reshaped.pdf"
    path.write_bytes(reshaped_pdf([
        Line(text="تقرير عن مجزرة دوما:"),
        Line(text="5- سمير الحموري أبو صلاح"),
        Line(text=VIDEO),
        Line(text="6- عمر محضر الشامية أبو فارس"),
        Line(text="شاهد الفيديو", link="https://youtu.be/aS2aYAJEb0M"),
        Line(text="9- عمر خليل كريم (أبو خليل)", new_page=True),
        Line(text="https://youtu.be/VHQc6Y3b-Rg"),
    ]))
    report = read_report(path)
    assert not any(0xFB50 <= ord(c) <= 0xFDFF or 0xFE70 <= ord(c) <= 0xFEFF
                   for c in report.text)
    assert links_of(path) == [
        ("5- سمير الحموري أبو صلاح", VIDEO),
        ("6- عمر محضر الشامية أبو فارس", "https://youtu.be/aS2aYAJEb0M"),
        ("9- عمر خليل كريم (أبو خليل)", "https://youtu.be/VHQc6Y3b-Rg"),
    ]
    assert "تقرير عن مجزرة دوما:" in report.text.split("\n")
    last = extract_links(report.text)[-1]
    assert (report.page_of(1), report.page_of(last.line)) == (1, 2)


def glyphs(text: str, *, x: float = 0.0, y: float = 700.0) -> list[Glyph]:
    """One glyph per character, placed left to right as given."""
    return [Glyph(text=c, left=x + 6 * i, bottom=y, right=x + 6 * i + 6, top=y + 12,
                  origin=x + 6 * i, baseline=y) for i, c in enumerate(text)]


def test_presentation_forms_shown_unreversed_are_left_in_order() -> None:
    word = "\ufeb3\ufee4\ufef4\ufeae"  # سمير: initial, medial, medial, final forms
    # read left to right initial-before-final: the producer did not reverse it
    assert page_lines(glyphs(word), []) == ["سمير"]
    # visual order (final form leftmost): reversed into logical order
    assert page_lines(glyphs(word[::-1]), []) == ["سمير"]


def test_wrapped_url_is_rejoined_but_words_are_not_glued() -> None:
    lines = [*glyphs("see https://example.org/a/", y=700), *glyphs("b/c.html and", y=686),
             *glyphs("https://example.org/x", y=672), *glyphs("and more", y=658)]
    assert page_lines(lines, []) == ["see https://example.org/a/b/c.html", "and",
                                     "https://example.org/x", "and more"]


@pytest.mark.parametrize(
    ("uri", "kept"),
    [
        (b"javascript:alert(1)", False),
        (b"file:///etc/passwd", False),
        (b"mailto:someone@example.org", False),
        (b"https://example.org/a b", False),  # a space: not a URL
        (b"https://example.org/" + b"a" * (pdf.MAX_URI_BYTES + 1), False),  # not even read
        (b"https://example.org/" + b"a" * 5000, True),  # ingest lists it as too long
        (b"HTTPS://example.org/ok", True),
    ],
)
def test_hostile_uris(tmp_path: Path, uri: bytes, kept: bool) -> None:
    path = tmp_path / "hostile.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",), uris=(uri,))]))
    text = read_report(path).text
    assert (f"<{uri.decode()}>" in text) is kept
    assert text.startswith("1- name")


@pytest.mark.slow
def test_many_annotations_are_refused_in_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "annotations.pdf"
    uris = tuple(f"https://example.org/{n}".encode() for n in range(100_000))
    with path.open("wb") as out:
        raw_pdf(out, [RawPage(text=("1- name",), uris=uris)])
    started = time.monotonic()
    with pytest.raises(InvalidReport, match=f"^{path}: over {pdf.MAX_LINKS} link annotations$"):
        read_report(path)
    assert time.monotonic() - started < 10


def test_annotations_under_the_limit_are_all_read(tmp_path: Path) -> None:
    path = tmp_path / "annotations.pdf"
    uris = tuple(f"https://example.org/{n}".encode() for n in range(2_000))
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",), uris=uris)]))
    found = extract_links(read_report(path).text)
    assert [link.url for link in found] == [uri.decode() for uri in uris]


def encrypted(tmp_path: Path, user: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(
        raw_pdf_bytes([RawPage(text=("1- name",), uris=(VIDEO.encode(),))]))))
    writer.encrypt(user_password=user, owner_password="owner", algorithm="AES-256")
    path = tmp_path / "encrypted.pdf"
    with path.open("wb") as out:
        writer.write(out)
    return path


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    path = encrypted(tmp_path, "secret")
    with pytest.raises(InvalidReport,
                       match=f"^{path}: encrypted PDF: a password is needed to open it$"):
        read_report(path)


def test_encrypted_pdf_with_an_empty_user_password_is_read(tmp_path: Path) -> None:
    assert links_of(encrypted(tmp_path, "")) == [("1- name", VIDEO)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (raw_pdf_bytes([RawPage(text=("1- name",))])[:-300], "truncated or damaged PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n",
         r"not a readable PDF \(damaged, or not a PDF document\)"),
        (raw_pdf_bytes([RawPage(image_bytes=3000)]), r"no text layer \(scanned images\?\)"),
    ],
    ids=["truncated", "garbage_after_header", "scanned"],
)
def test_broken_pdfs(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    with pytest.raises(InvalidReport, match=f"^{path}: {message}") as caught:
        read_report(path)
    assert "\n" not in str(caught.value)


def test_too_many_pages(tmp_path: Path) -> None:
    path = tmp_path / "pages.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage()] * (pdf.MAX_PAGES + 1)))
    with pytest.raises(InvalidReport, match=f"{pdf.MAX_PAGES + 1} pages, over the limit"):
        read_report(path)


def test_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit in force when the report is read holds; the child's start alone takes
    longer than 0.01 s (test_pdf_bounds: a PDF that makes PDFium itself spin)."""
    path = tmp_path / "report.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",))] * 3))
    monkeypatch.setattr(pdf, "TIME_LIMIT", 0.01)
    with pytest.raises(InvalidReport, match=r"^.*report\.pdf: took longer than 0\.01 s to read$"):
        read_report(path)


def test_bytes_and_path_read_alike(tmp_path: Path) -> None:
    data = raw_pdf_bytes([RawPage(text=("1- name", "two"), uris=(VIDEO.encode(),)),
                          RawPage(text=("2- other",))])
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    from_path = pdf.READER.extract_path(path) if pdf.READER.extract_path else None
    assert from_path == pdf.READER.extract(data)
    assert isinstance(from_path, Extracted) and from_path.page_lines == (1, 4)
    assert from_path.text == f"1- name <{VIDEO}>\ntwo\n\n2- other"


def test_content_decides_over_the_name(tmp_path: Path) -> None:
    lying = tmp_path / "report.txt"
    lying.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",), uris=(VIDEO.encode(),))]))
    report = read_report(lying)
    assert report.media_type == "application/pdf"
    assert (report.sha256, report.size) == (hashlib.sha256(lying.read_bytes()).hexdigest(),
                                            lying.stat().st_size)
    assert links_of(lying) == [("1- name", VIDEO)]
    text = tmp_path / "report.pdf"
    text.write_text(f"1- name\n{VIDEO}\n", encoding="utf-8")
    with pytest.raises(InvalidReport, match=r"named \.pdf, but not a PDF document"):
        read_report(text)


@pytest.mark.slow
def test_large_pdf_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A PDF of 180 MB (over the in-memory readers' 50 MiB): read from its path, hashed
    streaming, the document reopened as PDFium's cache of parsed images grows. The
    process that reads the report grows by under 16 MiB; the reader's child, where
    PDFium runs, by less than half the file."""
    path = tmp_path / "large.pdf"
    with path.open("wb") as out:
        raw_pdf(out, [RawPage(text=(f"{n}- name",), uris=(VIDEO.encode(),),
                              image_bytes=1_500_000) for n in range(1, 121)])
    size = path.stat().st_size
    assert size > 180_000_000
    # VmHWM, not ru_maxrss: that one keeps the peak of the process forked (pytest) across
    # exec, so the child's "before" would be pytest's size. RUSAGE_CHILDREN is the
    # reader's child's peak (or the small process that started it, if larger).
    child = ("import json, resource, sys\n"
             "from pathlib import Path\n"
             "from preserver.ingest.readers import read_report\n"
             "def hwm():\n"
             "    with open('/proc/self/status') as status:\n"
             "        return next(int(line.split()[1]) for line in status\n"
             "                    if line.startswith('VmHWM:'))\n"
             "before = hwm()\n"
             "report = read_report(Path(sys.argv[1]))\n"
             "after = hwm()\n"
             "child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
             "print(json.dumps([before, after, child, report.size, len(report.page_lines)]))\n")
    done = subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True,
                          text=True, check=True, env=os.environ | {"PYTHONPATH": str(
                              Path(__file__).parents[2])}, timeout=120)
    before, after, child, read_size, pages = json.loads(done.stdout)
    assert (read_size, pages) == (size, 120)
    assert (after - before) * 1024 < 16 << 20  # KiB; PDFium is in the child
    assert 0 < child * 1024 < size / 2 + (64 << 20)  # about 45 MiB before it reads


@pytest.mark.slow
def test_cli_ingests_a_pdf_and_keeps_it_byte_for_byte(tmp_path: Path,
                                                       printed: dict[str, Path]) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(printed["arabic"].read_bytes())
    proc = run_in(tmp_path, "ingest", str(report))
    assert proc.code == 0, proc.stderr
    assert "report.pdf: 5 citations of 5 targets (5 new), 5 captures queued" in proc.stderr
    status = json.loads(run_in(tmp_path, "status", "--json").stdout)
    assert (status["reports"], status["citations"]) == (1, 5)
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    [blob] = [p for p in (tmp_path / "archive").rglob(digest) if p.is_file()]
    assert blob.read_bytes() == report.read_bytes()


def test_cli_refuses_an_encrypted_pdf_with_exit_2(tmp_path: Path) -> None:
    path = encrypted(tmp_path, "secret")
    assert_one_line_error(run_in(tmp_path, "ingest", str(path)), 2, "encrypted PDF")
    status = json.loads(run_in(tmp_path, "status", "--json").stdout)
    assert status["reports"] == 0


def test_a_glyph_name_beyond_unicode_is_dropped(tmp_path: Path) -> None:
    """``/uFFFFFF`` gives a code over U+10FFFF, which ``chr`` refuses (was ValueError)."""
    path = tmp_path / "names.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- ABname",))],
                                   font=b"/Encoding << /Differences [65 /uFFFFFF] >>"))
    assert read_report(path).text == "1- Bname"


@pytest.mark.parametrize(
    ("uri", "cited"),
    [
        # .value stopped at the NUL: https://example.org/a was cited, not in the PDF
        (b"https://example.org/a\x00https://evil.example/b", None),
        # an IRI (UTF-8), as producers write it: percent-encoded, not dropped
        ("https://ar.wikipedia.org/wiki/دوما".encode(),
         "https://ar.wikipedia.org/wiki/%D8%AF%D9%88%D9%85%D8%A7"),
        # a UTF-16BE text string with its BOM
        (codecs.BOM_UTF16_BE + "https://example.org/u".encode("utf-16-be"),
         "https://example.org/u"),
    ],
    ids=["nul", "utf8", "utf16"],
)
def test_uri_bytes_are_read_whole(tmp_path: Path, uri: bytes, cited: str | None) -> None:
    path = tmp_path / "uri.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",), uris=(uri,))]))
    assert read_report(path).text == ("1- name" if cited is None else f"1- name <{cited}>")


def test_a_page_with_too_many_characters_is_refused(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A page's layout is held whole (about 500 bytes a glyph): a 25 KB PDF with one page
    of 4,000,000 glyphs took 83 s and 2 GB, the document-wide limit being 20,000,000."""
    path = tmp_path / "dense.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",)), RawPage(text=("x" * 40,))]))
    monkeypatch.setattr(pdf, "MAX_PAGE_CHARS", 39)
    with pytest.raises(InvalidReport, match=r"^.*dense\.pdf: over 39 characters on page 2$"):
        read_report(path)
    monkeypatch.setattr(pdf, "MAX_PAGE_CHARS", 40)
    assert read_report(path).text == "1- name\n\n" + "x" * 40


def test_a_url_at_a_line_end_is_not_glued_to_the_next_url_entry_or_word() -> None:
    """Lines 14 units apart (one block): each URL stays whole, each entry keeps its number."""
    rows = ["https://youtu.be/u7qI99N8OM8", "https://youtu.be/aS2aYAJEb0M", "6- second",
            "www.example.org/x", "Al-Nusra fighters", "https://e.org/y", "U.S. troops",
            "https://e.org/z", "2015 was the year", "https://e.org/w.", "The report"]
    lines = [g for n, row in enumerate(rows) for g in glyphs(row, y=700 - 14 * n)]
    assert page_lines(lines, []) == rows


def test_wrapped_url_pieces_are_still_joined() -> None:
    rows = ["see https://www.youtube.com/watch?v=u7qI", "99N8OM8 and", "https://facebook.com/9020",
            "54899875426", "https://example.org/a/re", "port.html"]
    lines = [g for n, row in enumerate(rows) for g in glyphs(row, y=700 - 14 * n)]
    assert page_lines(lines, []) == ["see https://www.youtube.com/watch?v=u7qI99N8OM8", "and",
                                     "https://facebook.com/902054899875426",
                                     "https://example.org/a/report.html"]


@pytest.mark.slow
def test_layout_is_linear_in_hostile_pages() -> None:
    """Each took 10-35 s before (quadratic): digits that look right for their strong
    letter, annotations that cover no text looking for their nearest line."""
    digits = [*glyphs("1 " * 40_000 + "ب"), *glyphs("ببب", y=600)]
    started = time.monotonic()
    page_lines(digits, [])
    assert time.monotonic() - started < 5  # 34 s before
    lines = [g for n in range(8000) for g in glyphs("a", y=700 - 14 * n)]
    away = [Link(url=f"https://e.org/{n}", left=1000, bottom=0, right=1001, top=1)
            for n in range(8000)]
    started = time.monotonic()
    assert len(page_lines(lines, away)) == 8000
    assert time.monotonic() - started < 5  # 10.6 s before


def test_overlapping_annotations_are_refused() -> None:
    """2,000 page-sized annotations over 10,000 glyphs: 20,000,000 (glyph, link) pairs,
    and 27 s (282 s for 40,000 glyphs) before."""
    lines = [g for n in range(1000) for g in glyphs("abcdefghij", y=700 - 14 * n)]
    page = [Link(url=f"https://e.org/{n}", left=-1e9, bottom=-1e9, right=1e9, top=1e9)
            for n in range(2000)]
    started = time.monotonic()
    with pytest.raises(InvalidReport, match="^link annotations cover over 1000000 characters"):
        page_lines(lines, page)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("how", ["replaced", "appended"])
def test_a_report_changed_while_it_is_read_is_refused(tmp_path: Path, how: str) -> None:
    """A reader that opens the file itself (PDF) reads it, then it is hashed: a report
    replaced or written to in between gave the text of one file and the hash of another."""
    path = tmp_path / "report.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",), uris=(VIDEO.encode(),))]))
    other = raw_pdf_bytes([RawPage(text=("1- other",))])
    extract = pdf.READER.extract_path
    assert extract is not None

    def racing(source: Path) -> str | Extracted:
        extracted = extract(source)
        if how == "replaced":
            (tmp_path / "new.pdf").write_bytes(other)
            os.replace(tmp_path / "new.pdf", source)
        else:
            with source.open("ab") as out:
                out.write(b"%%EOF\n")
        return extracted

    reader = dataclasses.replace(pdf.READER, extract_path=racing)
    with pytest.raises(InvalidReport, match=f"^{path}: the file changed while it was read$"):
        read(path, [reader], max_bytes=1 << 20)


def test_a_shown_iri_is_not_cited_again_percent_encoded() -> None:
    """Chromium writes the link of a shown ``…/wiki/دوما`` percent-encoded: it was cited
    twice, once as shown and once as ``…/wiki/%D8%AF…``."""
    shown = "https://example.org/wiki/café"
    link = Link(url="https://example.org/wiki/caf%C3%A9", left=0, bottom=700, right=6 * len(shown),
                top=712)
    assert page_lines(glyphs("1- " + shown, x=-18), [link]) == ["1- " + shown]


def test_a_shown_url_wrapped_where_words_follow_is_joined_by_its_link() -> None:
    """The text alone cannot tell ``…/90205`` + ``4899875426 and more`` from ``…/x`` +
    ``2015 was``; a link over both pieces (two rectangles, one URI) can: its URL is not
    written again, so the shown URL must come out whole."""
    url = "https://www.facebook.com/902054899875426"
    rows = ["see https://www.facebook.com/90205", "4899875426 and more"]
    lines = [g for n, row in enumerate(rows) for g in glyphs(row, y=700 - 14 * n)]
    pieces = [Link(url=url, left=24, bottom=700, right=6 * len(rows[0]), top=712),
              Link(url=url, left=0, bottom=686, right=60, top=698)]
    assert page_lines(lines, pieces) == [f"see {url}", "and more"]
    assert page_lines(lines, []) == rows  # "2015 was" is not glued either
