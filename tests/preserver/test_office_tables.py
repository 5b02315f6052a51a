"""Lists of links kept as tables: CSV (any delimiter, UTF-8, UTF-16 or windows-1256) and
XLSX (written by openpyxl): one citation per row, its line the row's line in the file
(its row in the sheet), its label the label cell, else the row's own words."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from pathlib import Path

import openpyxl
import pytest

from preserver.errors import InvalidReport
from preserver.ingest.links import extract_links
from preserver.ingest.readers import ReportText, read_report, xlsx
from preserver.ingest.readers._zip import Package
from tests.support.cli import run_in
from tests.support.office import docx_parts, raw_part, raw_zip, sheet_xml, with_shared_strings

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_SHEET = "xl/worksheets/sheet1.xml"
ROWS = [
    ("سمير", "https://youtu.be/u7qI99N8OM8", "قصف السوق"),
    ("خالد", "https://www.facebook.com/902054899875426", ""),
    ("هدى", "youtu.be/aS2aYAJEb0M", "ملاحظة"),
]


def found(report: ReportText) -> list[tuple[int, str, str]]:
    return [(link.line, link.label, link.url)
            for link in extract_links(report.text, tables=report.tables)]


def test_a_csv_with_arabic_headers(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    lines = ["ملاحظات,الاسم,الرابط"] + [f"{note},{name},{url}" for name, url, note in ROWS]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")
    report = read_report(path)
    assert (report.media_type, report.tables) == ("text/csv", (1,))
    assert found(report) == [
        (2, "سمير", "https://youtu.be/u7qI99N8OM8"),
        (3, "خالد", "https://www.facebook.com/902054899875426"),
        (4, "هدى", "https://youtu.be/aS2aYAJEb0M"),
    ]
    # the label first, the notes last; a line per line of the file
    assert report.text.split("\n")[1] == "سمير\thttps://youtu.be/u7qI99N8OM8\tقصف السوق"


def test_a_csv_without_a_header_labels_a_row_by_its_words(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text("5- سمير,https://youtu.be/u7qI99N8OM8\n"
                    "https://youtu.be/aS2aYAJEb0M,فيديو القصف على دوما\n"
                    ",example.org/a\n,https://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    assert found(read_report(path)) == [
        (1, "5- سمير", "https://youtu.be/u7qI99N8OM8"),  # a numbered entry
        (2, "فيديو القصف على دوما", "https://youtu.be/aS2aYAJEb0M"),  # the row's words
        # no words: the entry above, as in a text report; "example.org/a" is a URL
        # only in the URL column (found by content): the column most rows link in
        (3, "5- سمير", "https://example.org/a"),
        (4, "5- سمير", "https://youtu.be/45WIwFETn3E"),
    ]


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("windows-1256", ","), ("windows-1256", ";"), ("utf-16", "\t"), ("utf-8", ";")],
)
def test_excel_encodings_and_delimiters(tmp_path: Path, encoding: str, delimiter: str) -> None:
    """Excel saves CSV in the office's code page (windows-1256 in Arabic), with ";"
    where "," is the decimal separator, and "Unicode text" as tab-separated UTF-16."""
    path = tmp_path / ("links.tsv" if delimiter == "\t" else "links.csv")
    lines = [delimiter.join(("الاسم", "الرابط", "ملاحظات"))] + [
        delimiter.join((name, url, note or "ملاحظة طويلة عن الفيديو والقصف"))
        for name, url, note in ROWS]
    path.write_bytes("\r\n".join(lines).encode(encoding))
    assert [label for _, label, _ in found(read_report(path))] == ["سمير", "خالد", "هدى"]


def test_a_quoted_line_break_keeps_line_numbers_those_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text('name,url,notes\r\n"سمير\r\nأبو علي",https://youtu.be/u7qI99N8OM8,"a\nb\rc"\r\n'
                    "\r\nخالد,https://youtu.be/aS2aYAJEb0M\r\nragged,https://youtu.be/45WIwFETn3E,"
                    "x,y,z,w\r\n", encoding="utf-8")
    assert found(read_report(path)) == [
        (2, "سمير أبو علي", "https://youtu.be/u7qI99N8OM8"),  # spans lines 2-5 ("\r" too)
        (7, "خالد", "https://youtu.be/aS2aYAJEb0M"),
        (8, "ragged", "https://youtu.be/45WIwFETn3E"),
    ]


def test_hyperlink_formulas_give_their_url(tmp_path: Path) -> None:
    """A cell ``=HYPERLINK("url","words")``: the URL is cited, the words kept; any other
    formula is only text (never evaluated)."""
    path = tmp_path / "links.csv"
    path.write_text('name,link\r\nسمير,"=HYPERLINK(""https://youtu.be/u7qI99N8OM8"",""شاهد"")"\r\n'
                    '"=cmd|\' /C calc\'!A0",=1+1\r\n', encoding="utf-8")
    report = read_report(path)
    assert found(report) == [(2, "سمير", "https://youtu.be/u7qI99N8OM8")]
    assert report.text.split("\n")[1:] == ["سمير\tشاهد <https://youtu.be/u7qI99N8OM8>",
                                           "=cmd|' /C calc'!A0\t=1+1"]


def test_a_hyperlink_formula_joining_a_cell_to_a_url_is_not_that_url(tmp_path: Path) -> None:
    """``=HYPERLINK("https://twitter.com/"&B2, B2)``, filled down a column, links each row to
    its own account: the string before ``&`` is no row's URL, and was cited for each."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["name", "account", "profile"])
    sheet.append(["سمير", "samir", '=HYPERLINK("https://twitter.com/"&B2, B2)'])
    sheet.append(["خالد", "khaled", '=HYPERLINK("https://twitter.com/khaled", "خالد")'])
    path = tmp_path / "accounts.xlsx"
    book.save(path)
    assert found(read_report(path)) == [(3, "خالد", "https://twitter.com/khaled")]


def test_excel_sep_line_names_the_delimiter_and_is_not_the_header(tmp_path: Path) -> None:
    """Excel writes (and reads) a first line ``sep=;`` naming the delimiter; the header
    is the line after it, so its label column still labels the rows."""
    path = tmp_path / "links.csv"
    path.write_bytes(b"\xef\xbb\xbfsep=;\r\nnotes;url;title\r\n"
                     + "ملاحظة;https://youtu.be/u7qI99N8OM8;سمير\r\n".encode())
    assert found(read_report(path)) == [(3, "سمير", "https://youtu.be/u7qI99N8OM8")]


@pytest.mark.parametrize("text", [
    ("título,enlace\nDetención arbitraria en Bogotá,https://example.org/a\n"
    "Niño herido en Cúcuta,https://example.org/b\nAcción policial,https://example.org/c\n"),
    "NOMBRE,ENLACE\nJOSÉ PÉREZ DÍAZ,https://example.org/a\nMARÍA GÓMEZ,https://example.org/b\n",
], ids=["spanish", "spanish-capitals"])
def test_a_spanish_csv_in_windows_1252_is_not_taken_for_arabic(tmp_path: Path,
                                                               text: str) -> None:
    """á í Á É Í Ó Ñ are Arabic letters in windows-1256: the hint for Arabic must not read
    a Spanish list saved by Excel in a Latin office as Arabic ("Bogotل"). The detector
    cannot tell a short Spanish text in windows-1252 from windows-1250 ("niño", "nińo"):
    such a file is read right, or refused, never read as something else."""
    path = tmp_path / "lista.csv"
    path.write_bytes(text.encode("cp1252"))
    try:
        report = read_report(path)
    except InvalidReport as exc:
        assert "cannot tell the text encoding" in str(exc)
        assert "windows-1256" not in str(exc)
        assert "save it as UTF-8" in str(exc)
        return
    assert report.encoding == "windows-1252"
    assert not any("\u0600" <= c <= "\u06ff" for c in report.text)
    assert ("Bogotá" if "Bogot" in text else "JOSÉ PÉREZ DÍAZ") in report.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,url\n" + b"x" * 200_000 + b",https://youtu.be/u7qI99N8OM8\n",
         "line 2: cannot read the CSV: field larger than field limit"),
        (b"name,url\nab\x00c,https://youtu.be/u7qI99N8OM8\n", r"binary content \(NUL bytes\)"),
        (b"\xff\xfe" + "a,b\n\x00,c".encode("utf-16-le"), r"binary content \(NUL characters\)"),
    ],
    ids=["huge-field", "nul", "utf16-nul"],
)
def test_hostile_csv_is_refused_in_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "links.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidReport, match=f"links.csv: {message}") as caught:
        read_report(path)
    assert "\n" not in str(caught.value)


def workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "الضحايا"
    sheet.append(["الاسم", "الرابط", "ملاحظات"])
    sheet.append(["سمير", "https://youtu.be/u7qI99N8OM8", "قصف السوق"])
    sheet.append(["خالد", "شاهد الفيديو"])
    sheet["B3"].hyperlink = "https://youtu.be/aS2aYAJEb0M"
    sheet["A4"] = "هدى"
    sheet["B4"] = '=HYPERLINK("https://www.facebook.com/902054899875426","فيسبوك")'
    sheet["B7"] = "example.org/a"
    second = book.create_sheet("مصادر")
    second.append(["1- ياسين", "https://youtu.be/45WIwFETn3E"])
    second.append([])
    second.append(["المصدر", 42, "https://youtu.be/apzgDTEUO4g"])
    book.create_sheet("فارغة")
    book.create_sheet("أخيرة").append(["https://youtu.be/d4BS79nOs3w"])
    book.save(path)
    return path


def test_an_xlsx_reads_cells_hyperlinks_and_formulas_sheet_after_sheet(tmp_path: Path) -> None:
    report = read_report(workbook(tmp_path / "links.xlsx"))
    assert (report.media_type, report.tables) == (XLSX_TYPE, (1, 8, 11, 12))
    # sheet 1 has rows 1..7: lines 1..7; sheet 2 (3 rows) starts at line 8; the empty
    # third sheet has one line, 11; the fourth starts at 12
    assert report.page_lines == (1, 8, 11, 12)
    assert found(report) == [
        (2, "سمير", "https://youtu.be/u7qI99N8OM8"),
        (3, "خالد", "https://youtu.be/aS2aYAJEb0M"),  # the cell's hyperlink
        (4, "هدى", "https://www.facebook.com/902054899875426"),  # =HYPERLINK(...)
        (7, "https://example.org/a", "https://example.org/a"),  # URL column: scheme added
        (8, "1- ياسين", "https://youtu.be/45WIwFETn3E"),
        (10, "المصدر 42", "https://youtu.be/apzgDTEUO4g"),
        (12, "https://youtu.be/d4BS79nOs3w", "https://youtu.be/d4BS79nOs3w"),
    ]
    assert [report.page_of(line) for line in (7, 8, 10, 12)] == [1, 2, 2, 4]
    assert report.text.split("\n")[2] == "خالد\tشاهد الفيديو <https://youtu.be/aS2aYAJEb0M>"


@pytest.mark.slow
def test_an_xlsx_read_only_workbook_of_many_rows(tmp_path: Path) -> None:
    """openpyxl's write-only mode (inline strings) and 2,000 rows: every row, in order."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["url", "title"])
    for n in range(2_000):
        sheet.append([f"https://example.org/v/{n}", f"الضحية {n}"])
    book.save(tmp_path / "many.xlsx")
    links = found(read_report(tmp_path / "many.xlsx"))
    assert len(links) == 2_000
    assert links[0] == (2, "الضحية 0", "https://example.org/v/0")
    assert links[-1] == (2_001, "الضحية 1999", "https://example.org/v/1999")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_ingest_of_a_table_through_the_cli(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"links.{kind}"
    if kind == "csv":
        lines = ["الاسم,الرابط"] + [f"{name},{url}" for name, url, _ in ROWS]
        path.write_bytes("\r\n".join(lines).encode("windows-1256"))
        expected = {("سمير", 2), ("خالد", 3), ("هدى", 4)}
    else:
        workbook(path)
        expected = {("سمير", 2), ("خالد", 3), ("هدى", 4), ("1- ياسين", 8)}
    proc = run_in(tmp_path, "ingest", str(path))
    assert proc.code == 0, proc.stderr
    count = 3 if kind == "csv" else 7
    assert f"links.{kind}: {count} citations of {count} targets ({count} new)" in proc.stderr
    links = json.loads(run_in(tmp_path, "links", "--json").stdout)
    cited = {(c["label"], c["line"]) for link in links for c in link["citations"]}
    assert expected <= cited and len(cited) == count
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    blob = tmp_path / "archive" / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest
    assert blob.read_bytes() == path.read_bytes()


def test_shared_strings_as_excel_writes_them(tmp_path: Path) -> None:
    """Excel keeps a workbook's text in xl/sharedStrings.xml (openpyxl writes it inline):
    rich text runs are joined, phonetic runs (rPh) left out."""
    book = openpyxl.Workbook()
    book.active.append(["placeholder"])
    book.save(tmp_path / "base.xlsx")
    rows = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>')
    items = ("<si><t>الاسم</t></si><si><t>الرابط</t></si>"
             "<si><r><t>سمير </t></r><r><rPr><b/></rPr><t>أبو علي</t></r>"
             "<rPh sb=\"0\" eb=\"1\"><t>phonetic</t></rPh></si>"
             "<si><t>https://youtu.be/u7qI99N8OM8</t></si>")
    parts = [raw_part(XLSX_SHEET, sheet_xml(rows)) if p.name == XLSX_SHEET else p
             for p in docx_parts(tmp_path / "base.xlsx")]
    path = tmp_path / "shared.xlsx"
    path.write_bytes(raw_zip(with_shared_strings(parts, items)))
    assert found(read_report(path)) == [(2, "سمير أبو علي", "https://youtu.be/u7qI99N8OM8")]


@pytest.mark.slow
def test_many_shared_strings_are_held_compactly_and_found_by_index(tmp_path: Path) -> None:
    """Each shared string was a Python string of its own (~50 bytes besides its text): 8
    million short ones held 550 MB. Held joined, they cost their text and 4 bytes each;
    every index, at the edges of the chunks they are joined in, finds its own string."""
    book = openpyxl.Workbook()
    book.active.append(["placeholder"])
    book.save(tmp_path / "base.xlsx")
    count = 200_000
    picks = [0, 4095, 4096, 4097, 8191, 8192, count - 1]
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="s"><v>{index}</v></c>'
                   f'<c r="B{n}" t="inlineStr"><is><t>https://x.example/{n}</t></is></c></row>'
                   for n, index in enumerate(picks, start=1))
    items = "".join(f"<si><t>s{index:x}</t></si>" for index in range(count))
    parts = [raw_part(XLSX_SHEET, sheet_xml(rows)) if p.name == XLSX_SHEET else p
             for p in docx_parts(tmp_path / "base.xlsx")]
    path = tmp_path / "strings.xlsx"
    path.write_bytes(raw_zip(with_shared_strings(parts, items)))
    assert [label for _, label, _ in found(read_report(path))] == [f"s{i:x}" for i in picks]
    tracemalloc.start()
    try:
        strings = xlsx._Workbook(Package.open(path.read_bytes())).shared
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(strings) == count and strings[count - 1] == f"s{count - 1:x}"
    assert held < 20 * count  # text (~6 characters), 4 bytes an end, the file; a list: 63
