"""Hostile DOCX, XLSX and CSV reports: each is refused in one line naming the file and the
fault, quickly and in bounded memory, or read within bounds; nothing is partly ingested.
The ZIPs are written byte by byte (tests/support/office.py ``raw_zip``), so that what
their headers state is what the test says."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import docx
import openpyxl
import pytest

from preserver.errors import InvalidReport
from preserver.ingest.readers import _table as table
from preserver.ingest.readers import read_report, xlsx
from preserver.ingest.readers._zip import Package
from tests.support.cli import assert_one_line_error, run_in
from tests.support.office import (
    CONTENT_TYPES_DOCX,
    RawPart,
    deflate_bomb,
    document_xml,
    docx_parts,
    paragraph_xml,
    raw_part,
    raw_zip,
    sheet_xml,
    with_shared_strings,
)

ROOT = Path(__file__).parents[2]
GIB = 1 << 30
XLSX_SHEET = "xl/worksheets/sheet1.xml"


def small_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("5- سمير https://youtu.be/u7qI99N8OM8")
    document.save(str(path))
    return path


def small_xlsx(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.active.append(["سمير", "https://youtu.be/u7qI99N8OM8"])
    book.save(path)
    return path


def swapped(parts: list[RawPart], name: str, part: RawPart) -> list[RawPart]:
    return [part if p.name == name else p for p in parts]


def refused(path: Path, match: str) -> None:
    with pytest.raises(InvalidReport, match=match) as caught:
        read_report(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_a_docx_bomb_is_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    """word/document.xml inflates to 2 GiB (its headers say so) from 2 MiB: refused after
    a few MiB, in a process of its own whose peak memory is measured."""
    prefix = document_xml("").split(b"<w:body>")[0] + b"<w:body><w:p><w:r><w:t>"
    bomb = deflate_bomb(prefix, b"A", 2 * GIB)
    parts = swapped(docx_parts(small_docx(tmp_path / "base.docx")), "word/document.xml",
                    RawPart(name="word/document.xml", data=bomb, size=2 * GIB - 1, crc=0))
    path = tmp_path / "bomb.docx"
    path.write_bytes(raw_zip(parts))
    assert path.stat().st_size < 4 << 20
    code = ("import json, sys, time; from pathlib import Path\n"
            "from preserver.errors import InvalidReport\n"
            "from preserver.ingest.readers import read_report\n"
            "from tests.support.ingest_memory import peak_kib\n"
            "before, start = peak_kib(), time.perf_counter()\n"
            "try:\n    read_report(Path(sys.argv[1])); error = None\n"
            "except InvalidReport as exc:\n    error = str(exc)\n"
            "print(json.dumps({'error': error, 'seconds': time.perf_counter() - start,\n"
            "                  'growth_kib': peak_kib() - before}))\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert "word/document.xml: a decompression bomb" in result["error"]
    assert result["seconds"] < 5, result
    assert result["growth_kib"] < 64 * 1024, result  # measured: ~10 MiB


def test_an_xlsx_bomb_and_a_part_over_its_bound_are_refused(tmp_path: Path) -> None:
    parts = docx_parts(small_xlsx(tmp_path / "base.xlsx"))
    prefix = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>')
    bomb = deflate_bomb(prefix, b"B", GIB)
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(raw_zip(swapped(parts, XLSX_SHEET, RawPart(
        name=XLSX_SHEET, data=bomb, size=GIB, crc=0))))
    refused(path, f"{XLSX_SHEET}: a decompression bomb")
    # stored (no ratio to see): 300 MiB stated, bounded by what a part may hold
    stored = RawPart(name=XLSX_SHEET, data=b" " * 1024, size=300 << 20, crc=0, deflated=False)
    path.write_bytes(raw_zip(swapped(parts, XLSX_SHEET, stored)))
    refused(path, rf"{XLSX_SHEET}: a corrupt part \(its size or CRC")


def test_twenty_thousand_parts_are_refused_before_they_are_listed(tmp_path: Path) -> None:
    parts = docx_parts(small_docx(tmp_path / "base.docx"))
    many = parts + [raw_part(f"word/media/x{n}.xml", b"") for n in range(20_000)]
    path = tmp_path / "many.docx"
    path.write_bytes(raw_zip(many))
    refused(path, f"the ZIP container has {len(many)} parts, more than 10000")
    # an end record that says 7 parts does not hide the 20,000 more in the directory
    data = bytearray(path.read_bytes())
    data[-14:-10] = struct.pack("<HH", 7, 7)  # APPNOTE.TXT 4.3.16: entries on disk, in all
    path.write_bytes(bytes(data))
    refused(path, f"the ZIP container has {len(many)} parts, more than 10000")


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
@pytest.mark.parametrize("cut", [0.5, 0.98, 1.0])
def test_a_truncated_or_corrupt_file_is_refused(tmp_path: Path, kind: str, cut: float) -> None:
    source = (small_docx if kind == "docx" else small_xlsx)(tmp_path / f"base.{kind}")
    data = source.read_bytes()
    path = tmp_path / f"broken.{kind}"
    if cut < 1.0:
        path.write_bytes(data[: int(len(data) * cut)])
        refused(path, "a truncated or corrupt ZIP container")
    else:  # every part there, one's deflated bytes overwritten
        main = "word/document.xml" if kind == "docx" else XLSX_SHEET
        parts = [RawPart(name=p.name, data=b"\xff" * len(p.data), size=p.size, crc=p.crc)
                 if p.name == main else p for p in docx_parts(source)]
        path.write_bytes(raw_zip(parts))
        refused(path, f"{main}: a (corrupt|truncated) part")


@pytest.mark.parametrize(
    ("fault", "part", "match"),
    [
        ("size", RawPart(name="word/document.xml", data=b"", size=0, crc=0), "size or CRC"),
        ("method", RawPart(name="word/document.xml", data=b"BZh9", size=4, crc=0),
         "compressed with method 12"),
        ("missing", raw_part("word/other.xml", b"<x/>"), "the part word/document.xml is missing"),
    ],
)
def test_parts_that_lie_are_refused(tmp_path: Path, fault: str, part: RawPart,
                                    match: str) -> None:
    body = document_xml(paragraph_xml("https://youtu.be/u7qI99N8OM8"))
    real = raw_part("word/document.xml", body)
    if fault == "size":  # the real bytes, a stated size that is not theirs
        part = RawPart(name=real.name, data=real.data, size=real.size - 10, crc=real.crc)
    data = raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX), part])
    if fault == "method":
        data = data.replace(struct.pack("<H", 8) + struct.pack("<HH", 0, 0x21),
                            struct.pack("<H", 12) + struct.pack("<HH", 0, 0x21))
    path = tmp_path / "lies.docx"
    path.write_bytes(data)
    refused(path, match)


LAUGHS = ('<!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
          + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">'
                    for n in range(9)) + "]>")
XXE = '<!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize(("doctype", "text"), [(LAUGHS, "&j;"), (XXE, "&x;")],
                         ids=["billion-laughs", "external-entity"])
def test_a_dtd_is_refused_and_nothing_expanded(tmp_path: Path, doctype: str, text: str) -> None:
    body = document_xml(paragraph_xml(f"{text} https://youtu.be/u7qI99N8OM8"), doctype)
    path = tmp_path / "entities.docx"
    path.write_bytes(raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
                              raw_part("word/document.xml", body)]))
    refused(path, r"word/document.xml: a document type declaration \(DTD\) or entity, "
                  "which is never read")


def test_elements_nested_too_deeply_are_refused(tmp_path: Path) -> None:
    nested = "<w:sdt><w:sdtContent>" * 5_000 + paragraph_xml("x") + \
        "</w:sdtContent></w:sdt>" * 5_000
    path = tmp_path / "deep.docx"
    path.write_bytes(raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
                              raw_part("word/document.xml", document_xml(nested))]))
    refused(path, "nested too deeply")


@pytest.mark.parametrize(
    ("cell", "match"),
    [
        ('<row r="1"><c r="A1" t="s"><v>7</v></c></row>', "no shared string 7"),
        ('<row r="2000000"><c r="A1"><v>1</v></c></row>', "row 2000000 is outside"),
        ('<row r="1"><c r="XFE1"><v>1</v></c></row>', r"cell XFE1: past the last column"),
        ('<row r="1"><c r="A1" t="s"><v>x</v></c></row>', "not a number where"),
        # row 3 after row 5 was written on line 6 and its links cited there
        ('<row r="5"><c r="A5"><v>5</v></c></row><row r="3"><c r="A3"><v>3</v></c></row>',
         r"row 3 after row 5 \(rows ascend"),
        ('<row r="2"><c r="A2"><v>1</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>',
         "row 2 after row 2"),
    ],
)
def test_a_sheet_that_lies_is_refused(tmp_path: Path, cell: str, match: str) -> None:
    parts = docx_parts(small_xlsx(tmp_path / "base.xlsx"))
    sheet = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main"><sheetData>' + cell.encode() + b"</sheetData></worksheet>")
    path = tmp_path / "lies.xlsx"
    path.write_bytes(raw_zip(swapped(parts, XLSX_SHEET, raw_part(XLSX_SHEET, sheet))))
    refused(path, match)


def test_refusals_through_the_cli_add_nothing(tmp_path: Path) -> None:
    small_docx(tmp_path / "base.docx")
    cut = tmp_path / "cut.docx"
    cut.write_bytes((tmp_path / "base.docx").read_bytes()[:2000])
    assert_one_line_error(run_in(tmp_path, "ingest", str(cut)), 2,
                          "cut.docx: a truncated or corrupt ZIP container")
    status = json.loads(run_in(tmp_path, "status", "--json").stdout)
    assert status["reports"] == 0 and status["citations"] == 0


@pytest.mark.slow
def test_a_million_row_csv_is_ingested_in_bounded_memory(tmp_path: Path) -> None:
    """1,000,000 rows (51 MB, Arabic labels) in a process of its own: the citations all
    recorded; the peak memory of the ingest is bounded by that of the same text as a .txt
    report (the reader holds no list of rows and never the text twice: lines are appended
    to one string in chunks, ``_table.Lines``), and by the issue's 300 MB in all."""
    csv_path = tmp_path / "million.csv"
    txt_path = tmp_path / "million.txt"
    with csv_path.open("w", encoding="utf-8") as out, txt_path.open("w", encoding="utf-8") as txt:
        out.write("الاسم,الرابط,ملاحظات\n")
        for n in range(1_000_000):
            row = f"ضحية {n},https://youtu.be/{n % 1000:011d},قصف\n"
            out.write(row)
            txt.write(row.replace(",", " "))
    results = {}
    for path in (csv_path, txt_path):
        root = tmp_path / path.suffix[1:]
        root.mkdir()
        cfg = root / "config.toml"
        cfg.write_text(f'data_dir = "{root / "archive"}"\n', encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "tests.support.ingest_memory", str(cfg),
                               str(path)], capture_output=True, text=True, timeout=900,
                              check=False, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-3000:]
        results[path.suffix] = json.loads(done.stdout)
    csv, txt = results[".csv"], results[".txt"]
    assert (csv["citations"], csv["targets"], csv["skipped"]) == (1_000_000, 1_000, 0)
    csv_growth, txt_growth = (r["end_kib"] - r["opened_kib"] for r in (csv, txt))
    assert csv_growth < txt_growth * 1.1 + 16 * 1024, results
    assert csv["end_kib"] < 300e6 / 1024, results


def test_a_zip_version_no_reader_knows_is_refused(tmp_path: Path) -> None:
    """A central directory entry needing version 9.9 (zipfile raises NotImplementedError)."""
    data = raw_zip(docx_parts(small_docx(tmp_path / "base.docx")))
    path = tmp_path / "version.docx"
    path.write_bytes(data.replace(b"PK\x01\x02\x14\x00\x14\x00", b"PK\x01\x02\x14\x00\x63\x00", 1))
    refused(path, "a truncated or corrupt ZIP container: zip file version 9.9")


def test_a_sheet_of_cells_far_apart_and_a_repeated_long_string_are_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows each with a cell at XFD (16,384 cells a row, counted) and a long shared string
    in every cell (the text bound), each refused before it costs much; the bounds are
    lowered here so that the test stays fast, the counting is the reader's own."""
    parts = docx_parts(small_xlsx(tmp_path / "base.xlsx"))
    rows = "".join(f'<row r="{n}"><c r="XFD{n}"><v>1</v></c></row>' for n in range(1, 101))
    sheet = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main"><sheetData>' + rows.encode() + b"</sheetData></worksheet>")
    path = tmp_path / "wide.xlsx"
    path.write_bytes(raw_zip(swapped(parts, XLSX_SHEET, raw_part(XLSX_SHEET, sheet))))
    monkeypatch.setattr(xlsx, "MAX_CELLS", 50 * 16_384)
    refused(path, rf"{XLSX_SHEET}: more than {50 * 16_384} cells")
    monkeypatch.setattr(table, "MAX_TEXT", 1 << 20)
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="s"><v>0</v></c></row>' for n in range(1, 101))
    parts = with_shared_strings(swapped(parts, XLSX_SHEET, raw_part(XLSX_SHEET, sheet_xml(rows))),
                                f"<si><t>{'x' * 30_000}</t></si>")
    path.write_bytes(raw_zip(parts))
    refused(path, "the table's text is longer than 1048576 characters")


def _two_documents() -> tuple[RawPart, RawPart, RawPart]:
    return (raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
            raw_part("word/document.xml", document_xml(paragraph_xml("https://shown.example/"))),
            raw_part("word/document.xml", document_xml(paragraph_xml("https://hidden.example/"))))


def test_two_parts_of_one_name_are_refused(tmp_path: Path) -> None:
    """Which of two same-named parts a reader takes is up to it: Word may show the first
    while we read the last. Part names are case-insensitive (OPC 8.1.1)."""
    types, shown, hidden = _two_documents()
    path = tmp_path / "twice.docx"
    path.write_bytes(raw_zip([types, shown, hidden]))
    refused(path, "two parts named word/document.xml")
    upper = RawPart(name="WORD/Document.xml", data=hidden.data, size=hidden.size, crc=hidden.crc)
    path.write_bytes(raw_zip([types, shown, upper]))
    refused(path, "two parts named")


def test_a_local_header_naming_another_part_is_refused(tmp_path: Path) -> None:
    types, shown, _ = _two_documents()
    data = bytearray(raw_zip([types, shown]))
    at = data.find(b"word/document.xml")  # the local header's copy, before the central one
    data[at:at + 17] = b"word/documenX.xml"
    path = tmp_path / "renamed.docx"
    path.write_bytes(bytes(data))
    refused(path, "word/document.xml: a corrupt part \\(its local header names another\\)")


def test_an_entry_overlapping_the_next_is_refused(tmp_path: Path) -> None:
    """A stored part whose stated size runs over the next part's header and data
    (David Fifield's "overlapping files" bomb reuses bytes this way)."""
    types, _, _ = _two_documents()
    body = document_xml(paragraph_xml("https://shown.example/"))
    stored = RawPart(name="word/document.xml", data=body, size=len(body),
                     crc=zlib.crc32(body), deflated=False)
    data = bytearray(raw_zip([stored, types]))
    grown = len(body) + 30 + len(types.name) + len(types.data)  # the next part too
    for at in (data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")):
        offset = 18 if data[at:at + 4] == b"PK\x03\x04" else 20
        struct.pack_into("<LL", data, at + offset, grown, grown)
    path = tmp_path / "overlap.docx"
    path.write_bytes(bytes(data))
    refused(path, "overlaps the next part")


def test_a_negative_offset_is_refused(tmp_path: Path) -> None:
    """An end record stating the central directory a file's length later than it is:
    zipfile shifts each part's offset by that, below 0, and a slice from the end of the
    file found every header where it was. A ZIP that lies is refused."""
    types, shown, _ = _two_documents()
    data = bytearray(raw_zip([types, shown]))
    end = data.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<L", data, end + 16)
    struct.pack_into("<L", data, end + 16, offset + len(data))
    path = tmp_path / "negative.docx"
    path.write_bytes(bytes(data))
    refused(path, "no local header")


@pytest.mark.parametrize("size", [131_074, 131_077])
def test_a_part_whose_deflate_stream_ends_in_a_cut_match_is_read(size: int) -> None:
    """zlib may still hold the end of a match when its output was cut at the size asked,
    all the input fed: it must be asked for, not taken for a truncated part. A root then
    a run of spaces a little over 128 KiB does it at level 6 (a 64 KiB read, or 16 KiB as
    the XML parser reads)."""
    body = b"<r/>" + b" " * (size - 4)
    package = Package.open(raw_zip([raw_part("x.xml", body)]))
    assert package.read("x.xml", limit=size) == body
    assert [element.tag for _, element in Package.open(package._data).iterparse("x.xml")] == [
        "r", "r"]


def test_fields_open_by_the_thousand_are_refused_quickly(tmp_path: Path) -> None:
    """Each open field kept a copy of every word shown after its "separate": 20,000 fields
    never ended, then 20,000 words, took 88 s and 3.3 GB from an 8 KB file."""
    opens = ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
             '<w:r><w:fldChar w:fldCharType="separate"/></w:r>') * 20_000
    words = "<w:r><w:t>a</w:t></w:r>" * 20_000
    body = document_xml(f"<w:p>{opens}</w:p><w:p>{words}</w:p>")
    path = tmp_path / "fields.docx"
    path.write_bytes(raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
                              raw_part("word/document.xml", body)]))
    started = time.monotonic()
    refused(path, "more than 64 fields open at once")
    assert time.monotonic() - started < 5


def test_nested_hyperlink_fields_keep_their_links(tmp_path: Path) -> None:
    """Below the bound, fields nest as Word nests them; only HYPERLINK fields keep words."""
    nested = ""
    for n in range(40):
        nested += ('<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>'
                   f' HYPERLINK "https://n{n}.example/" </w:instrText></w:r>'
                   '<w:r><w:fldChar w:fldCharType="separate"/></w:r>')
    nested += "<w:r><w:t>words</w:t></w:r>" + '<w:r><w:fldChar w:fldCharType="end"/></w:r>' * 40
    path = tmp_path / "nested.docx"
    path.write_bytes(raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
                              raw_part("word/document.xml", document_xml(f"<w:p>{nested}</w:p>"))]))
    text = read_report(path).text
    assert all(f"<https://n{n}.example/>" in text for n in range(40))


@pytest.mark.slow
def test_a_paragraph_of_a_million_elements_is_refused(tmp_path: Path) -> None:
    """A block (a paragraph, a table) is held whole while it is read: one paragraph of 4
    million runs, an 11 MB file, held 1.2 GB. Past a million elements it is refused."""
    words = random.Random(1)
    runs = "".join(f"<w:r><w:t>{words.randrange(1 << 20):x}</w:t></w:r>"  # not a bomb
                   for _ in range(500_001))
    path = tmp_path / "paragraph.docx"
    path.write_bytes(raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
                              raw_part("word/document.xml", document_xml(f"<w:p>{runs}</w:p>"))]))
    refused(path, "word/document.xml: a paragraph or table of more than 1000000 elements")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["row", "hyperlinks"])
def test_a_sheet_element_of_too_many_elements_is_refused(tmp_path: Path, where: str) -> None:
    """A row was held whole, and the sheet's elements after its rows all: one row of 3
    million cells (12 MB) held 1.6 GB, 3 million hyperlinks 1.4 GB. Hyperlinks are now
    dropped as read; a row of more than 200,000 elements is refused."""
    parts = docx_parts(small_xlsx(tmp_path / "base.xlsx"))
    if where == "row":
        cells = "".join(f'<c r="A1" t="inlineStr"><is><t>{n}</t></is></c>' for n in range(70_000))
        sheet = sheet_xml(f'<row r="1">{cells}</row>')
    else:
        links = "".join(f'<hyperlink ref="A{n % 1000 + 1}"/>' for n in range(300_000))
        sheet = sheet_xml('<row r="1"><c r="A1" t="inlineStr"><is><t>https://a.example/</t>'
                          '</is></c></row>').replace(
            b"</worksheet>", f"<hyperlinks>{links}</hyperlinks></worksheet>".encode())
    path = tmp_path / "held.xlsx"
    path.write_bytes(raw_zip(swapped(parts, XLSX_SHEET, raw_part(XLSX_SHEET, sheet))))
    if where == "row":
        refused(path, "sheet1.xml: more than 200000 elements in one row")
    else:
        data = path.read_bytes()
        tracemalloc.start()
        try:
            assert "https://a.example/" in xlsx._extract(data).text
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 << 20  # 300,000 elements held were ~60 MB
