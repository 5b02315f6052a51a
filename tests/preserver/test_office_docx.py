"""DOCX reports: every kind of link Word writes, in every part, with the labels the text
rules give; the Douma report as a DOCX reads as its text does; a file is read for
what its content is, whatever its name. Each document is written by python-docx (and
the parts it cannot write by tests/support/office.py) and read by the real reader."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import docx
import openpyxl
import pytest

from preserver.errors import InvalidReport
from preserver.ingest.links import extract_links
from preserver.ingest.readers import read_report
from preserver.ingest.targets import canonical_target
from tests.support.cli import run_in
from tests.support.douma import DOUMA
from tests.support.office import (
    Note,
    add_complex_field,
    add_hyperlink,
    add_notes,
    add_simple_field,
    douma_docx,
)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
WATCH = "شاهد الفيديو"


def full_docx(path: Path) -> Path:
    """A report with a link of each kind Word writes, in each part that holds text."""
    document = docx.Document()
    add_hyperlink(document.sections[0].header.paragraphs[0], "https://www.dchrs.org/",
                  "موقع المركز")
    document.sections[0].footer.paragraphs[0].text = "تذييل https://example.org/footer"
    document.add_heading("مجزرة دوما", 1)
    add_hyperlink(document.add_paragraph("الضحية الأولى "), "https://youtu.be/u7qI99N8OM8", WATCH)
    add_simple_field(document.add_paragraph("صفحة "), "https://www.facebook.com/902054899875426",
                     "فيسبوك")
    add_complex_field(document.add_paragraph("مقطع آخر "), "https://youtu.be/aS2aYAJEb0M",
                      "شاهد")
    document.add_heading("الضحايا", 2)
    add_hyperlink(document.add_paragraph("سمير ", style="List Number"),
                  "https://youtu.be/45WIwFETn3E", "الفيديو")
    document.add_paragraph("خالد https://youtu.be/apzgDTEUO4g", style="List Number")
    document.add_paragraph("نقطة بلا رقم", style="List Bullet")
    document.add_paragraph("5- محمود https://youtu.be/d4BS79nOs3w")
    shown = document.add_paragraph("ظاهر ")
    add_hyperlink(shown, "https://youtu.be/VHQc6Y3b-Rg", "youtu.be/VHQc6Y3b-Rg")
    add_hyperlink(document.add_paragraph("راسلنا "), "mailto:info@dchrs.org", "بالبريد")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "هدى"
    add_hyperlink(table.cell(0, 1).paragraphs[0], "https://youtu.be/x9KVKh6g1M0", WATCH)
    table.cell(1, 0).text = "عمر"
    table.cell(1, 1).text = "https://www.facebook.com/100004521987310"
    document.save(str(path))
    add_notes(path, [Note(text="تقرير الشبكة", url="https://example.org/footnote")],
              [Note(text="مصدر إضافي", url="https://example.org/endnote")])
    return path


def test_every_link_of_a_docx_is_found_with_its_label(tmp_path: Path) -> None:
    report = read_report(full_docx(tmp_path / "report.docx"))
    assert report.media_type == DOCX_TYPE
    found = [(link.label, link.url) for link in extract_links(report.text)]
    assert found == [
        ("موقع المركز", "https://www.dchrs.org/"),  # header: before the body, its own words
        ("تذييل", "https://example.org/footer"),  # footer, likewise
        ("مجزرة دوما", "https://youtu.be/u7qI99N8OM8"),  # w:hyperlink under Heading 1
        ("مجزرة دوما", "https://www.facebook.com/902054899875426"),  # w:fldSimple
        ("مجزرة دوما", "https://youtu.be/aS2aYAJEb0M"),  # complex field, instr in two runs
        ("1- سمير الفيديو", "https://youtu.be/45WIwFETn3E"),  # List Number: computed 1-
        ("2- خالد", "https://youtu.be/apzgDTEUO4g"),  # bare URL in a numbered paragraph
        ("5- محمود", "https://youtu.be/d4BS79nOs3w"),  # literal "5- name" stays
        ("5- محمود", "https://youtu.be/VHQc6Y3b-Rg"),  # words showing the URL: once
        ("5- محمود", "https://youtu.be/x9KVKh6g1M0"),  # table cell hyperlink
        ("5- محمود", "https://www.facebook.com/100004521987310"),
        ("1) تقرير الشبكة المصدر", "https://example.org/footnote"),  # footnote.xml.rels
        ("1) مصدر إضافي المصدر", "https://example.org/endnote"),  # endnotes.xml.rels
    ]
    lines = report.text.split("\n")
    assert "# مجزرة دوما" in lines and "## الضحايا" in lines
    assert f"الضحية الأولى {WATCH} <https://youtu.be/u7qI99N8OM8>" in lines
    assert "هدى\t" + WATCH + " <https://youtu.be/x9KVKh6g1M0>" in lines  # a row, one line
    assert "نقطة بلا رقم" in lines  # a bullet gets no number
    assert report.text.count("VHQc6Y3b-Rg") == 1
    assert "mailto" not in report.text and "راسلنا بالبريد" in lines
    assert "HYPERLINK" not in report.text and "tip" not in report.text


def test_a_numbered_list_counts_from_its_start_and_per_list(tmp_path: Path) -> None:
    """numbering.xml decides: a list whose level starts at 5 and a second list (another
    numId, same abstract list) restarting at 1 with a startOverride."""
    document = docx.Document()
    for name in ("أحمد", "سمير", "هدى"):
        document.add_paragraph(f"{name} https://youtu.be/u7qI99N8OM8", style="List Number")
    path = tmp_path / "lists.docx"
    document.save(str(path))
    with zipfile.ZipFile(path) as archive:
        numbering = archive.read("word/numbering.xml").decode()
        body = archive.read("word/document.xml").decode()
    num = re.search(r'<w:style [^>]*w:styleId="ListNumber".*?<w:numId w:val="(\d+)"/>',
                    archive_styles(path), re.DOTALL)
    assert num is not None
    abstract = re.search(rf'<w:num w:numId="{num.group(1)}"[^>]*>\s*<w:abstractNumId '
                         r'w:val="(\d+)"', numbering)
    assert abstract is not None
    numbering = re.sub(  # the list's first level starts at 5
        rf'(<w:abstractNum [^>]*w:abstractNumId="{abstract.group(1)}".*?<w:lvl w:ilvl="0"'
        r'[^>]*>\s*<w:start w:val=")1(")', r"\g<1>5\2", numbering, count=1, flags=re.DOTALL)
    numbering = numbering.replace(
        "</w:numbering>", f'<w:num w:numId="99"><w:abstractNumId w:val="{abstract.group(1)}"/>'
        '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
        "</w:numbering>")
    last = body.rindex('<w:pStyle w:val="ListNumber"/>')  # the third item: a list of its own
    body = (body[:last] + '<w:pStyle w:val="ListNumber"/><w:numPr><w:ilvl w:val="0"/>'
            '<w:numId w:val="99"/></w:numPr>' + body[last + len('<w:pStyle w:val="ListNumber"/>'):])
    rewrite(path, {"word/numbering.xml": numbering.encode(), "word/document.xml": body.encode()})
    labels = [link.label for link in extract_links(read_report(path).text)]
    assert labels == ["5- أحمد", "6- سمير", "1- هدى"]


def archive_styles(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("word/styles.xml").decode()


def rewrite(path: Path, parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as archive:
        old = {name: archive.read(name) for name in archive.namelist()}
    old.update(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in old.items():
            archive.writestr(name, data)


def test_a_numbered_list_goes_on_through_a_table_and_numbers_its_cells(
        tmp_path: Path) -> None:
    """Reports number their incidents in a table's first column as often as in the body:
    an item in a cell shows its number and counts, so the items after the table go on."""
    document = docx.Document()
    document.add_paragraph("First incident", style="List Number")
    table = document.add_table(rows=2, cols=2)
    for row, (words, url) in enumerate((("Second incident", "https://a.example/2"),
                                        ("Third incident", "https://a.example/3"))):
        cell = table.cell(row, 0).paragraphs[0]
        cell.style = document.styles["List Number"]
        cell.add_run(words)
        add_hyperlink(table.cell(row, 1).paragraphs[0], url, WATCH)
    after = document.add_paragraph("Fourth incident ", style="List Number")
    add_hyperlink(after, "https://a.example/4", WATCH)
    path = tmp_path / "table.docx"
    document.save(str(path))
    text = read_report(path).text
    assert f"2- Second incident\t{WATCH} <https://a.example/2>" in text
    assert [(link.url, link.label.split(" ")[0]) for link in extract_links(text)] == [
        ("https://a.example/2", "2-"), ("https://a.example/3", "3-"),
        ("https://a.example/4", "4-")]


def test_a_table_in_a_table_in_a_table_is_read_once(tmp_path: Path) -> None:
    """A cell's nested tables are flattened into it: the innermost was read once for each
    table around it, and its link cited twice."""
    document = docx.Document()
    middle = document.add_table(rows=1, cols=1).cell(0, 0).add_table(rows=1, cols=1)
    middle.cell(0, 0).add_table(rows=1, cols=1).cell(0, 0).text = "inner https://a.example/"
    path = tmp_path / "nested.docx"
    document.save(str(path))
    assert [link.url for link in extract_links(read_report(path).text)] == [
        "https://a.example/"]


def test_the_douma_report_as_docx_reads_as_its_text(tmp_path: Path) -> None:
    if not DOUMA.exists():
        pytest.skip(f"the shared Douma report is not here: {DOUMA}")
    text = DOUMA.read_text(encoding="utf-8")
    path = tmp_path / "douma.docx"
    douma_docx(text, path)
    as_text = extract_links(read_report(DOUMA).text)
    as_docx = extract_links(read_report(path).text)
    assert len(as_docx) == len(as_text) == 42
    assert len({canonical_target(link.url).key for link in as_docx}) == 41
    assert [(link.label, link.url, link.raw_url, link.start_seconds) for link in as_docx] == [
        (link.label, link.url, link.raw_url, link.start_seconds) for link in as_text]


def test_content_decides_over_the_name(tmp_path: Path) -> None:
    """A DOCX named .txt is read as a DOCX, a workbook named .docx as a workbook; a .docx
    that is text, an ODT and a plain ZIP are refused, each saying what it is."""
    named_txt = full_docx(tmp_path / "report.docx").rename(tmp_path / "report.txt")
    assert read_report(named_txt).media_type == DOCX_TYPE
    workbook = openpyxl.Workbook()
    workbook.active.append(["https://youtu.be/u7qI99N8OM8"])
    workbook.save(tmp_path / "sheet.docx")
    assert read_report(tmp_path / "sheet.docx").media_type.endswith("spreadsheetml.sheet")
    (tmp_path / "sheet.docx").rename(tmp_path / "sheet.csv")
    assert read_report(tmp_path / "sheet.csv").media_type.endswith("spreadsheetml.sheet")
    (tmp_path / "text.xlsx").write_text("name,url\n", encoding="utf-8")
    with pytest.raises(InvalidReport, match=r"text\.xlsx: the content is not an Excel \(XLSX\) "
                                            "workbook: not a ZIP container"):
        read_report(tmp_path / "text.xlsx")
    (tmp_path / "text.docx").write_text("5- سمير https://youtu.be/u7qI99N8OM8\n", encoding="utf-8")
    with pytest.raises(InvalidReport, match=r"text\.docx: the content is not a Word \(DOCX\) "
                                            "document: not a ZIP container"):
        read_report(tmp_path / "text.docx")
    with zipfile.ZipFile(tmp_path / "odt.docx", "w") as odt:
        odt.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        odt.writestr("content.xml", "<office:document-content/>")
    with zipfile.ZipFile(tmp_path / "plain.docx", "w") as plain:
        plain.writestr("report.txt", "https://youtu.be/u7qI99N8OM8")
    for name in ("odt.docx", "plain.docx"):
        with pytest.raises(InvalidReport, match=rf"{name}: the content is a ZIP container that"
                                                r" is neither a Word \(DOCX\) nor an Excel"):
            read_report(tmp_path / name)
    with zipfile.ZipFile(tmp_path / "odt.odt", "w") as odt:
        odt.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    with pytest.raises(InvalidReport, match=r"odt\.odt: OpenDocument \(ODT\) reports are not"):
        read_report(tmp_path / "odt.odt")


@pytest.mark.slow
def test_ingest_of_a_docx_through_the_cli(tmp_path: Path) -> None:
    path = full_docx(tmp_path / "report.docx")
    proc = run_in(tmp_path, "ingest", str(path))
    assert proc.code == 0, proc.stderr
    assert "report.docx: 13 citations of 13 targets (13 new)" in proc.stderr
    links = json.loads(run_in(tmp_path, "links", "--json").stdout)
    labels = {c["label"] for link in links for c in link["citations"]}
    assert {"مجزرة دوما", "1- سمير الفيديو", "1) تقرير الشبكة المصدر"} <= labels
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    blob = tmp_path / "archive" / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest
    assert blob.read_bytes() == path.read_bytes()
    status = json.loads(run_in(tmp_path, "status", "--json").stdout)
    assert (status["reports"], status["citations"]) == (1, 13)
