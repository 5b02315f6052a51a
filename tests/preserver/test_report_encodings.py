"""HTML reports in any encoding, decoded as browsers decode them; text reports stay UTF-8."""

from __future__ import annotations

import html
import random
import re
import time
from pathlib import Path

import pytest

from preserver.errors import InvalidReport
from preserver.ingest.links import extract_links
from preserver.ingest.readers import read_report
from preserver.ingest.readers._labels import by_codec, lookup
from preserver.ingest.readers._prescan import declared_charset
from tests.support.douma import DOUMA

ENTRY = "4- الطفل مازن الحسن"
URL = "https://youtu.be/Xq3vT9aLm2Q"
# Arabic that ISO-8859-6 can encode (it has no Persian letters and no Arabic digits).
BODY = "".join(f"<p>{n}- الطفل مازن الحسن من مدينة دوما <a href='{URL}'>فيديو</a></p>"
               for n in range(4, 9))


def page(head: str = "", body: str = BODY) -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>تقرير</title></head><body>{body}</body></html>"


def write(tmp_path: Path, source: str, codec: str, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_bytes(source.encode(codec))
    return path


def entries(path: Path) -> list[tuple[str, str]]:
    return [(link.label, link.url) for link in extract_links(read_report(path).text)]


EXPECTED = [(f"{n}- الطفل مازن الحسن من مدينة دوما فيديو", URL) for n in range(4, 9)]


@pytest.mark.parametrize(
    ("head", "codec", "encoding"),
    [
        ('<meta charset="windows-1256">', "cp1256", "windows-1256"),
        ("<meta charset=cp1256>", "cp1256", "windows-1256"),
        ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">',
         "cp1256", "windows-1256"),
        ("<META HTTP-EQUIV=content-type CONTENT='text/html;charset=\"x-cp1256\"'>",
         "cp1256", "windows-1256"),
        ("", "cp1256", "windows-1256"),  # no declaration: the detector
        ('<meta charset="ISO-8859-6">', "iso8859_6", "ISO-8859-6"),
        ('<meta charset="arabic">', "iso8859_6", "ISO-8859-6"),
        ("", "iso8859_6", "ISO-8859-6"),
        ("", "utf-16-le", "UTF-16LE"),  # no BOM: the detector
        ("", "utf-16-be", "UTF-16BE"),
        ("", "utf-16", "UTF-16LE"),  # with a BOM
        ('<meta charset="windows-1256">', "utf-8-sig", "UTF-8"),  # the BOM wins
        ('<meta charset="utf-16">', "utf-8", "UTF-8"),  # utf-16 in an ASCII-readable file
        ("", "utf-8", "UTF-8"),
    ],
)
def test_html_in_any_encoding(tmp_path: Path, head: str, codec: str, encoding: str) -> None:
    path = write(tmp_path, page(head), codec)
    report = read_report(path)
    assert report.encoding == encoding
    assert [(link.label, link.url) for link in extract_links(report.text)] == EXPECTED
    assert report.media_type == "text/html"


def test_http_equiv_is_needed_for_content(tmp_path: Path) -> None:
    # "content" without http-equiv="Content-Type" declares nothing (the detector decides)
    found = declared_charset(b'<meta name="x" content="text/html; charset=koi8-r">')
    assert found is None
    path = write(tmp_path, page('<meta name="x" content="charset=koi8-r">'), "cp1256")
    assert read_report(path).encoding == "windows-1256"


@pytest.mark.parametrize(
    ("head", "label"),
    [
        ('<meta charset="windows-1256">', "windows-1256"),
        ('<!-- <meta charset="koi8-r"> --><meta charset="windows-1256">', "windows-1256"),
        ('<a title="<meta charset=koi8-r>"><meta charset="windows-1256">', "windows-1256"),
        ('<meta charset="klingon"><meta charset="windows-1256">', "windows-1256"),
        ('<meta charset="windows-1256" charset="koi8-r">', "windows-1256"),
        ('<meta http-equiv="content-type" content="charset=\'iso-8859-6">', None),
        ("<meta charset", None),  # cut off
        ("<!-- <meta charset=windows-1256>", None),  # an unclosed comment hides it
        ('<meta charset="x-user-defined">', "x-user-defined"),
    ],
)
def test_prescan(head: str, label: str | None) -> None:
    found = declared_charset(f"<html><head>{head}</head>".encode("ascii"))
    assert (found and found.label) == label
    if label == "x-user-defined":
        assert found is not None and found.encoding.name == "windows-1252"


def test_labels() -> None:
    assert lookup(" Windows-1256\t") == lookup("x-cp1256") == by_codec("cp1256")
    assert lookup("latin1") == lookup("us-ascii") == by_codec("ascii") == by_codec("latin_1")
    assert lookup("utf-16") == by_codec("utf_16_le")
    assert lookup("klingon") is None and by_codec("no-such-codec") is None
    # windows-1252 decodes the bytes cp1252 leaves undefined, as browsers do
    latin1 = lookup("iso-8859-1")
    assert latin1 is not None and latin1.decode(b"\x81\x80") == "\x81\u20ac"


def test_a_lying_meta_is_an_error_that_names_it(tmp_path: Path) -> None:
    # declared wins, as in a browser: cp1256 bytes declared UTF-8 are not decoded by guess
    source = page('<meta charset="utf-8">')
    path = write(tmp_path, source, "cp1256")
    offset = len(source.split("تقرير")[0].encode("ascii"))
    with pytest.raises(InvalidReport, match=(
            f'^{re.escape(str(path))}: declares charset "utf-8" in a <meta> but is not valid '
            rf"UTF-8 text \(bad byte at offset {offset}\)$")):
        read_report(path)


def test_a_declared_single_byte_charset_with_undefined_bytes(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(page('<meta charset="iso-8859-6">').encode("iso8859_6") + b"\xff")
    with pytest.raises(InvalidReport, match='declares charset "iso-8859-6" .* not valid '
                                            r"ISO-8859-6 text \(bad byte at offset \d+\)"):
        read_report(path)


def test_an_encoding_browsers_refuse(tmp_path: Path) -> None:
    path = write(tmp_path, page('<meta charset="iso-2022-kr">'), "cp1256")
    with pytest.raises(InvalidReport, match='"iso-2022-kr" in a <meta>, an encoding browsers '
                                            "refuse to decode$"):
        read_report(path)


def test_an_unknown_label_is_passed_over(tmp_path: Path) -> None:
    path = write(tmp_path, page('<meta charset="klingon-8">'), "cp1256")
    assert read_report(path).encoding == "windows-1256"


def test_a_meta_beyond_1024_bytes_is_not_seen(tmp_path: Path) -> None:
    # the meta would say koi8-r (it would decode without error, to nonsense): not seen,
    # the detector reads the Arabic
    head = "<!--" + "x" * 1100 + '--><meta charset="koi8-r">'
    path = write(tmp_path, page(head), "cp1256")
    report = read_report(path)
    assert report.encoding == "windows-1256"
    assert [(link.label, link.url) for link in extract_links(report.text)] == EXPECTED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>\x00\x01\x02 binary \x00 junk" * 50, r"binary content \(NUL bytes\)"),
        (b'<meta charset="windows-1256"><p>a\x00b</p>',
         r'declares charset "windows-1256" in a <meta> but is binary content \(NUL bytes\)'),
        (b"<html><body>" + bytes(range(1, 9)) * 200 + b"</body></html>",
         "binary content .*control characters"),
        (b"\xff\xfe<\x00p\x00>\x00a", r"not valid UTF-16LE text after its byte order mark"),
        (page().encode("utf-16-le")[:-1], r"binary content \(NUL bytes\)"),  # cut UTF-16
        (random.Random(1).randbytes(2_000_000).replace(b"\x00", b"\x01"),
         "cannot tell the text encoding; save the report as UTF-8 or declare its charset$"),
    ],
    ids=["nul", "nul-declared", "controls", "bom-cut", "utf16-cut", "random"],
)
def test_binary_html_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(data)
    with pytest.raises(InvalidReport, match=f"^{re.escape(str(path))}: {message}") as caught:
        read_report(path)
    assert "\n" not in str(caught.value)


def test_text_reports_stay_utf8(tmp_path: Path) -> None:
    # The plain-text reader does not guess: a cp1256 .txt is refused, as before.
    path = tmp_path / "report.txt"
    path.write_bytes(f"{ENTRY}\n{URL}\n".encode("cp1256"))
    with pytest.raises(InvalidReport, match="not valid UTF-8 text .*save the report as UTF-8"):
        read_report(path)
    path.write_bytes(f"{ENTRY}\n{URL}\n".encode())
    assert read_report(path).encoding is None


def test_html_without_extension_in_cp1256_is_sniffed(tmp_path: Path) -> None:
    path = write(tmp_path, page('<meta charset="windows-1256">'), "cp1256", name="report")
    report = read_report(path)
    assert (report.media_type, report.encoding) == ("text/html", "windows-1256")


def douma_html() -> str:
    if not DOUMA.exists():
        pytest.skip(f"the shared Douma report is not here: {DOUMA}")
    lines = DOUMA.read_text(encoding="utf-8").split("\n")
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines)


@pytest.mark.parametrize("head", ["", '<meta charset="windows-1256">'])
def test_the_douma_report_in_windows_1256(tmp_path: Path, head: str) -> None:
    path = write(tmp_path, page(head, douma_html()), "cp1256")
    report = read_report(path)
    assert report.encoding == "windows-1256"
    links = extract_links(report.text)
    assert len(links) == 42 and len({link.url for link in links}) >= 41
    first = next(link.label for link in links if link.url.endswith("u7qI99N8OM8"))
    assert first.startswith("5- ")


@pytest.mark.slow
def test_a_huge_undeclared_html_is_read_in_bounded_time(tmp_path: Path) -> None:
    # ~30 MB of cp1256 without a declaration: the detector samples the first MiB only
    path = write(tmp_path, page("", BODY * 60_000), "cp1256")
    assert path.stat().st_size > 25_000_000
    started = time.monotonic()
    report = read_report(path)
    assert report.encoding == "windows-1256"
    assert time.monotonic() - started < 60
    assert report.text.count(URL) == 5 * 60_000


SPANISH = ("<p>El informe documenta las violaciones de los derechos humanos cometidas contra "
           "la población civil durante el año pasado. Según los testigos, los niños fueron "
           "trasladados a un centro de detención en la región montañosa.</p>")
POLISH = ("<p>Raport o łamaniu praw człowieka w mieście. Świadkowie zeznali, że żołnierze "
          "zatrzymali dzieci.</p>")


@pytest.mark.parametrize(
    ("source", "codec"),
    [
        (SPANISH, "cp1252"),  # windows-1250 would read "niños" as "nińos"
        (POLISH, "cp1250"),  # windows-1252 would read "łamaniu" as "³amaniu"
        ("<p>تقرير عن الهجوم الكيميائي في دوما</p>", "iso8859_6"),  # windows-874: Thai
    ],
    ids=["spanish-cp1252", "polish-cp1250", "short-iso-8859-6"],
)
def test_an_encoding_the_detector_cannot_tell_is_refused(tmp_path: Path, source: str,
                                                         codec: str) -> None:
    path = write(tmp_path, source, codec)
    with pytest.raises(InvalidReport, match=r"cannot tell the text encoding \(it reads as "
                                            r".*, .* alike\); save it as UTF-8 \(an HTML report may instead declare its charset"):
        read_report(path)
    # declared, it is read as written
    path = write(tmp_path, f'<meta charset="{codec.replace("_", "-")}">{source}', codec)
    assert html.unescape(source.split(">", 1)[1].split("<", 1)[0]) in read_report(path).text


@pytest.mark.parametrize("body", ["<p>café naïve résumé</p>" * 20, BODY * 4])
def test_utf8_with_a_bad_byte_is_not_decoded_as_another_encoding(tmp_path: Path,
                                                                 body: str) -> None:
    data = page("", body).encode()
    path = tmp_path / "report.html"
    path.write_bytes(data + b"\x92")  # one windows-1252 quote in a UTF-8 file
    with pytest.raises(InvalidReport, match=rf"not valid UTF-8 text \(bad byte at offset "
                                            rf"{len(data)}\); most of it is UTF-8"):
        read_report(path)


def test_a_long_ascii_head_does_not_hide_the_text_from_the_detector(tmp_path: Path) -> None:
    # an inline script over the detector's 1 MiB sample, then the Arabic (undeclared)
    script = "<script>var x = '" + "a" * (1024 * 1024 + 10) + "';</script>\n"
    path = write(tmp_path, page(script, BODY * 4), "cp1256")
    report = read_report(path)
    assert report.encoding == "windows-1256"
    assert EXPECTED[0][0].split(" فيديو")[0] in report.text


def test_euc_jp_is_named_as_browsers_name_it(tmp_path: Path) -> None:
    # the detector names it euc_jis_2004, which browsers lack; euc_jp reads it alike
    source = ("<p>本報告書は、昨年の間に民間人に対して行われた人権侵害を記録したものです。証人によると、"
              "子どもたちは山間部の拘置施設に移送され、家族と連絡を取ることができませんでした。</p>")
    report = read_report(write(tmp_path, source, "euc_jp"))
    assert (report.encoding, report.text) == ("EUC-JP", source[3:-4])
