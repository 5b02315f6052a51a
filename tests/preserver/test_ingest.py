"""Reading report files: text, Markdown and HTML; every kind of bad input is an InvalidReport."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

import preserver.ingest.readers
from preserver.errors import InputError, InvalidReport
from preserver.ingest.links import extract_links
from preserver.ingest.readers import ReportText, read_report
from preserver.ingest.readers.html import html_to_text
from preserver.ingest.readers.markdown import markdown_to_text

DATA = Path(__file__).parent / "data"


def labels(report: ReportText) -> list[tuple[str, str]]:
    return [(link.label, link.url) for link in extract_links(report.text)]


def test_public_names() -> None:
    assert preserver.ingest.readers.__all__ == ["Extracted", "Reader", "ReportText", "read_report"]


def test_plain_text_report() -> None:
    path = DATA / "market_strike.ar.txt"
    report = read_report(path)
    raw = path.read_bytes()
    assert report.name == "market_strike.ar.txt"
    assert report.media_type == "text/plain"
    assert report.size == len(raw)
    assert report.sha256 == hashlib.sha256(raw).hexdigest()
    assert report.text == raw.decode("utf-8").rstrip("\n")  # text is kept as written
    assert ("1- سليم عبد الرحمن الخطيب", "https://youtu.be/Xq3vT9aLm2Q") in labels(report)
    with pytest.raises(AttributeError, match="cannot assign"):
        report.text = ""  # type: ignore[misc]


def test_markdown_report_keeps_labels_and_link_targets() -> None:
    report = read_report(DATA / "market_strike.md")
    assert report.media_type == "text/markdown"
    lines = report.text.split("\n")
    assert len(lines) == len((DATA / "market_strike.md").read_text(encoding="utf-8").splitlines())
    assert "## الضحايا" in lines
    assert labels(report) == [
        ("1. سليم الخطيب — الفيديو والمنشور", "https://youtu.be/Xq3vT9aLm2Q"),
        ("1. سليم الخطيب — الفيديو والمنشور", "https://www.facebook.com/100004521987310"),
        ("3. ياسين العمر", "https://youtu.be/b7RkP0wZs4E"),
        ("فيديو يظهر تشييع الضحايا", "https://example.org/thumb_(1).jpg"),
        ("فيديو يظهر تشييع الضحايا", "https://youtu.be/Rk4tY7uI9oP?t=69"),
    ]


def test_html_report_keeps_labels_hrefs_and_drops_scripts() -> None:
    report = read_report(DATA / "market_strike.html")
    assert report.media_type == "text/html"
    assert "never" not in report.text  # script, style and noscript content dropped
    assert "# قصف السوق الشعبي في بلدة الريحان" in report.text.split("\n")
    assert "وسط البلدة\u00a0& المنازل" in report.text  # character references decoded
    assert labels(report) == [
        ("1- سليم الخطيب الفيديو", "https://youtu.be/Xq3vT9aLm2Q"),  # anchor text is not the URL
        ("3- ياسين العمر", "https://www.facebook.com/100004521987310"),  # shown once, not twice
        ("فيديو يظهر تشييع الضحايا", "https://www.youtube.com/embed/Rk4tY7uI9oP?start=69"),
    ]
    assert extract_links(report.text)[-1].start_seconds == 69


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<ul>\n <li>a</li>\n <li>b</li>\n</ul>", "a\nb"),
        ("<div>a<br>b</div>", "a\nb"),
        ("<h3>Title</h3>body", "### Title\n\nbody"),
        ("<p>  many \n\t spaces  </p>", "many spaces"),
        ("<pre>  a\n  b</pre>", "a\nb"),
        ("<table><tr><td>1- a</td><td>b</td></tr></table>", "1- a\tb"),
        ('<a href="https://youtu.be/Xq3vT9aLm2Q">video</a>', "video <https://youtu.be/Xq3vT9aLm2Q>"),
        ('<a href="https://youtu.be/Xq3vT9aLm2Q"></a>', "<https://youtu.be/Xq3vT9aLm2Q>"),
        ('<a href="https://www.youtube.com/watch?v=Xq3vT9aLm2Q">youtube.com/watch?v=Xq3vT9aLm2Q</a>',
         "youtube.com/watch?v=Xq3vT9aLm2Q"),
        ('<a href="//youtu.be/Xq3vT9aLm2Q">v</a>', "v <https://youtu.be/Xq3vT9aLm2Q>"),
        ('<a href="/relative">r</a> <a href="mailto:a@b.org">m</a> <a>x</a>', "r m x"),
        ('<a href="javascript:go()">j</a>', "j"),
        ("<script>document.write('https://x.example/')</script><style>a{}</style>ok", "ok"),
        ("<svg><a href='https://x.example/'>t</a></svg>ok", "ok"),
        ("<![if !supportLists]>1- a<![endif]>", "1- a"),  # Word's HTML export
        ('<video src="https://example.org/v.mp4"></video>', "<https://example.org/v.mp4>"),
        ("a &amp; b &lt;c&gt; &#1583;", "a & b <c> د"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(source: str, text: str) -> None:
    assert html_to_text(source) == text


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("[video](https://youtu.be/Xq3vT9aLm2Q)", "video <https://youtu.be/Xq3vT9aLm2Q>"),
        ("[https://youtu.be/Xq3vT9aLm2Q](https://youtu.be/Xq3vT9aLm2Q)", "https://youtu.be/Xq3vT9aLm2Q"),
        ("[](https://youtu.be/Xq3vT9aLm2Q)", "https://youtu.be/Xq3vT9aLm2Q"),
        ('[v](https://youtu.be/Xq3vT9aLm2Q "title")', "v <https://youtu.be/Xq3vT9aLm2Q>"),
        ("[w](https://en.wikipedia.org/wiki/Douma_(city))", "w <https://en.wikipedia.org/wiki/Douma_(city)>"),
        ("<https://youtu.be/Xq3vT9aLm2Q>", "https://youtu.be/Xq3vT9aLm2Q"),
        ("# Heading\n\ntext", "# Heading\n\ntext"),
        ("[ref]: https://youtu.be/Xq3vT9aLm2Q", "[ref]: https://youtu.be/Xq3vT9aLm2Q"),
        ("not [a link] (here)", "not [a link] (here)"),
    ],
)
def test_markdown_to_text(source: str, text: str) -> None:
    assert markdown_to_text(source) == text


@pytest.mark.parametrize(
    "source",
    [
        "[" * 1_000_000,
        "[a](" * 250_000,
        "<" * 1_000_000,
        "<" * 1_000_000 + ">",
        "</" * 500_000,  # quadratic in html.parser without the escaping
        "<a" * 500_000,
        "<?" * 500_000,
        "<a href='x'>" * 100_000,
    ],
    ids=lambda source: repr(source[:8]),
)
def test_converters_are_fast_on_hostile_input(source: str) -> None:
    started = time.perf_counter()
    markdown_to_text(source)
    html_to_text(source)
    assert time.perf_counter() - started < 5.0


def test_lone_angle_brackets_stay_text() -> None:
    assert html_to_text("<p>a < b</p><p>x <3 y") == "a < b\n\nx <3 y"


@pytest.mark.parametrize(
    ("name", "media_type", "label"),
    [
        ("text_without_extension", "text/plain", "2- نادر الحلبي"),
        ("html_without_extension", "text/html", "3- ياسين فيديو"),
        ("markdown.unknownext", "text/markdown", "الضحايا"),
        ("utf16_bom.txt", "text/plain", "4- الطفل مازن الحسن"),
        ("utf8_bom_crlf.txt", "text/plain", "5-رامي النجار"),
    ],
)
def test_type_sniffing_and_encodings(name: str, media_type: str, label: str) -> None:
    report = read_report(DATA / name)
    assert report.media_type == media_type
    assert "\r" not in report.text and "\ufeff" not in report.text
    assert [link.label for link in extract_links(report.text)] == [label]
    assert [link.line for link in extract_links(report.text)] == [
        2 if media_type == "text/plain" else 3 if media_type == "text/markdown" else 1
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.txt", "empty file"),
        ("whitespace_only.txt", "no text"),
        ("binary_nul.txt", r"binary content \(NUL bytes\)"),
        ("invalid_utf8_cp1256.txt", "not valid UTF-8 text .*save the report as UTF-8"),
        ("fake_report.pdf", r"truncated or damaged PDF \(it does not end with %%EOF\)"),
        ("pdf_without_extension", r"truncated or damaged PDF"),
        ("truncated_zip.docx", "a truncated or corrupt ZIP container"),
        ("program.exe", "an executable program, not a report"),
        ("unknown_binary.dat", r"unknown report type \(extension '.dat', binary content\)"),
        ("scripts_only.html", "no text"),
        ("bad_marked_section.html", "cannot parse the HTML"),
    ],
)
def test_bad_report_files(name: str, message: str) -> None:
    path = DATA / name
    with pytest.raises(InvalidReport, match=f"^{re.escape(str(path))}: .*{message}") as caught:
        read_report(path)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, InputError)  # exit code 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidReport, match="no such file"):
        read_report(tmp_path / "missing.txt")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidReport, match="is a directory"):
        read_report(tmp_path)


def test_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "report.txt"
    link.symlink_to(tmp_path / "gone.txt")
    with pytest.raises(InvalidReport, match="broken symbolic link"):
        read_report(link)


def test_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to(loop)
    with pytest.raises(InvalidReport, match="cannot read the report"):
        read_report(loop)


def test_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InvalidReport, match="cannot read the report: Not a directory"):
        read_report(tmp_path / "file.txt" / "report.txt")


def test_nul_in_path() -> None:
    with pytest.raises(InvalidReport, match="cannot read the report: .*null"):
        read_report(Path("report\x00.txt"))


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "report.txt"
    os.mkfifo(fifo)  # opening it would block forever
    with pytest.raises(InvalidReport, match="not a regular file"):
        read_report(fifo)


def test_device_is_not_a_report() -> None:
    with pytest.raises(InvalidReport, match="not a regular file"):
        read_report(Path("/dev/null"))


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"1- name\nhttps://youtu.be/Xq3vT9aLm2Q\n" * 100)
    with pytest.raises(InvalidReport, match="3700 bytes, over the limit of 1000 bytes"):
        read_report(path, max_bytes=1000)
    assert read_report(path, max_bytes=3700).size == 3700


def test_default_limit_is_50_mib(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as stream:
        stream.truncate(50 * 1024 * 1024 + 1)  # sparse: no 50 MiB written
    with pytest.raises(InvalidReport, match="over the limit of 52428800 bytes"):
        read_report(path)


def test_many_control_characters_are_binary(tmp_path: Path) -> None:
    path = tmp_path / "controls.txt"
    path.write_bytes(b"text\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 3)
    with pytest.raises(InvalidReport, match="binary content .*control characters"):
        read_report(path)


def test_odd_utf16(tmp_path: Path) -> None:
    path = tmp_path / "odd.txt"
    path.write_bytes(b"\xff\xfea\x00b")  # UTF-16 with a cut last character
    with pytest.raises(InvalidReport, match="not valid UTF-16 text"):
        read_report(path)


def test_uppercase_extension(tmp_path: Path) -> None:
    path = tmp_path / "REPORT.HTM"
    path.write_text("<p>1- a <a href='https://youtu.be/Xq3vT9aLm2Q'>v</a></p>", encoding="utf-8")
    assert read_report(path).media_type == "text/html"
    pdf = tmp_path / "REPORT.PDF"
    pdf.write_bytes(b"%PDF-1.4\n")  # read as a PDF, and this one is cut short
    with pytest.raises(InvalidReport, match="truncated or damaged PDF"):
        read_report(pdf)


def test_text_with_pdf_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "actually_text.pdf"
    path.write_text("https://youtu.be/Xq3vT9aLm2Q", encoding="utf-8")
    with pytest.raises(InvalidReport, match=r"named \.pdf, but not a PDF document"):
        read_report(path)


def test_unknown_extension_with_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "report.log"
    path.write_text("5- أحمد\nyoutu.be/Xq3vT9aLm2Q", encoding="utf-8")
    report = read_report(path)
    assert (report.media_type, report.name) == ("text/plain", "report.log")


@pytest.mark.parametrize("raw", [
    "a\nb\n", "a\r\n", "a\r", "a\n\n", "a\r\r\n", "a", "", "\n", "\r\n", "a\u2028", "a\x0b",
    "x\r\n\r\n", "\ufeffa\n", "نص\nhttps://example.org/\n"])
def test_a_text_is_its_lines_joined_whatever_its_last_line_break(raw: str) -> None:
    """The text of a report is ``"\\n".join(its lines)``; the last line break of a UTF-8
    report is left out while decoding (dropping it from the decoded text copied a text
    of 1,000,000 links, ~80 MiB), which must give the same text."""
    from preserver.ingest.readers._base import decode_text

    assert decode_text(raw.encode("utf-8")) == "\n".join(raw.lstrip("\ufeff").splitlines())
    assert decode_text(raw.lstrip("\ufeff").encode("utf-16")) == "\n".join(raw.lstrip("\ufeff").splitlines())
