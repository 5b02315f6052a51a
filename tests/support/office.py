"""Office reports for the tests, written by the real producers (python-docx, openpyxl) and,
for what those cannot write (footnotes, endnotes, field codes, broken and hostile
ZIPs), by adding the parts and the XML ourselves.

- ``add_hyperlink``, ``add_simple_field``, ``add_complex_field``: a link in a python-docx
  paragraph, as Word writes each kind;
- ``add_notes``: footnotes and endnotes parts, with their own ``.rels``, into a DOCX;
- ``raw_zip``: a ZIP written byte by byte from (name, data) parts, so that a test
  controls what the headers state; ``deflate_bomb``: a deflate stream that inflates to
  ``size`` bytes from about ``size / 1000``;
- ``douma_docx``: a text report as a DOCX, one paragraph per line.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.text.paragraph import Paragraph

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_NOTE_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.{}+xml"
_NOTE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/{}"


def add_hyperlink(paragraph: Paragraph, url: str, words: str) -> None:
    """``<w:hyperlink r:id>`` around a run of ``words``, the URL in the part's rels."""
    r_id = paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
    paragraph._p.append(parse_xml(
        f'<w:hyperlink {nsdecls("w", "r")} r:id="{r_id}"><w:r><w:t xml:space="preserve">'
        f'{words}</w:t></w:r></w:hyperlink>'))


def add_simple_field(paragraph: Paragraph, url: str, words: str) -> None:
    paragraph._p.append(parse_xml(
        f'<w:fldSimple {nsdecls("w")} w:instr=" HYPERLINK &quot;{url}&quot; \\o &quot;tip&quot; ">'
        f'<w:r><w:t>{words}</w:t></w:r></w:fldSimple>'))


def add_complex_field(paragraph: Paragraph, url: str, words: str) -> None:
    """begin / instrText (split over two runs, as Word does) / separate / result / end."""
    half = len(url) // 2
    for run in (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>',
        f'<w:r><w:instrText xml:space="preserve"> HYPERLINK "{url[:half]}</w:instrText></w:r>',
        f'<w:r><w:instrText xml:space="preserve">{url[half:]}" </w:instrText></w:r>',
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>',
        f'<w:r><w:t>{words}</w:t></w:r>',
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>',
    ):
        paragraph._p.append(parse_xml(run.replace("<w:r>", f'<w:r {nsdecls("w")}>', 1)))


@dataclass(frozen=True, kw_only=True)
class Note:
    text: str
    url: str | None = None  # a hyperlink after the text, through the notes part's rels
    words: str = "المصدر"


def add_notes(path: Path, footnotes: list[Note], endnotes: list[Note]) -> None:
    """Add footnotes.xml and endnotes.xml (each with its ``.rels``) to the DOCX at ``path``,
    with the separator notes Word writes, and relate them from the document."""
    parts = _parts(path)
    rels = parts["word/_rels/document.xml.rels"].decode()
    types = parts["[Content_Types].xml"].decode()
    for kind, notes in (("footnote", footnotes), ("endnote", endnotes)):
        links = []
        body = [
            (f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
             f'</w:{kind}>'),
            (f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r>'
             f'<w:continuationSeparator/></w:r></w:p></w:{kind}>'),
        ]
        for number, note in enumerate(notes, start=1):
            link = ""
            if note.url is not None:
                links.append(f'<Relationship Id="rIdN{number}" Type="{HYPERLINK}" '
                             f'Target="{note.url}" TargetMode="External"/>')
                link = (f'<w:hyperlink r:id="rIdN{number}"><w:r><w:t>{note.words}</w:t>'
                        '</w:r></w:hyperlink>')
            body.append(f'<w:{kind} w:id="{number}"><w:p><w:r><w:t xml:space="preserve">'
                        f'{note.text} </w:t></w:r>{link}</w:p></w:{kind}>')
        parts[f"word/{kind}s.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:{kind}s xmlns:w="{W}" xmlns:r="{R}">{"".join(body)}</w:{kind}s>').encode()
        parts[f"word/_rels/{kind}s.xml.rels"] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns='
            f'"http://schemas.openxmlformats.org/package/2006/relationships">{"".join(links)}'
            '</Relationships>').encode()
        rels = rels.replace("</Relationships>", f'<Relationship Id="rId{kind}" Type="'
                            f'{_NOTE_REL.format(kind + "s")}" Target="{kind}s.xml"/>'
                            "</Relationships>")
        types = types.replace("</Types>", f'<Override PartName="/word/{kind}s.xml" '
                              f'ContentType="{_NOTE_TYPE.format(kind + "s")}"/></Types>')
    parts["word/_rels/document.xml.rels"] = rels.encode()
    parts["[Content_Types].xml"] = types.encode()
    write_zip(path, parts)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path: Path, parts: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def replace_part(path: Path, name: str, data: bytes) -> None:
    parts = _parts(path)
    parts[name] = data
    write_zip(path, parts)


def douma_docx(text: str, path: Path) -> None:
    """The text report ``text`` as a DOCX: one paragraph per line."""
    document = docx.Document()
    for line in text.split("\n"):
        document.add_paragraph(line)
    document.save(str(path))


def deflate_bomb(prefix: bytes, filler: bytes, size: int) -> bytes:
    """A raw deflate stream of ``prefix`` then ``filler`` repeated to ``size`` bytes: 1 MiB
    blocks compressed once and repeated (each refers back only to the filler)."""
    block = 1 << 20
    pack = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = pack.compress(prefix + filler * (block // len(filler))) + pack.flush(zlib.Z_FULL_FLUSH)
    again = pack.compress(filler * (block // len(filler))) + pack.flush(zlib.Z_FULL_FLUSH)
    return first + again * (size // block - 1) + pack.flush(zlib.Z_FINISH)


@dataclass(frozen=True, kw_only=True)
class RawPart:
    name: str
    data: bytes  # as stored: deflated when ``deflated``
    size: int  # what the headers state
    crc: int
    deflated: bool = True


def raw_part(name: str, content: bytes) -> RawPart:
    pack = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return RawPart(name=name, data=pack.compress(content) + pack.flush(), size=len(content),
                   crc=zlib.crc32(content))


def raw_zip(parts: list[RawPart]) -> bytes:
    """A ZIP of ``parts`` exactly as given (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.16)."""
    out, central = bytearray(), bytearray()
    for part in parts:
        name = part.name.encode()
        method = 8 if part.deflated else 0
        fields = (20, 0, method, 0, 0x21, part.crc, len(part.data), part.size, len(name), 0)
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0,
                               len(out)) + name
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields) + name + part.data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(central),
                      len(out), 0)
    return bytes(out + central + end)


def docx_parts(path: Path) -> list[RawPart]:
    """The parts of a real DOCX, to be written again by ``raw_zip`` (a test then swaps one)."""
    return [raw_part(name, data) for name, data in _parts(path).items()]


CONTENT_TYPES_DOCX = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>')


def document_xml(body: str, doctype: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<w:document xmlns:w="{W}" '
            f'xmlns:r="{R}"><w:body>{body}</w:body></w:document>').encode()


def paragraph_xml(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


SHARED_STRINGS_REL = (
    '<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/>')


def with_shared_strings(parts: list[RawPart], items: str) -> list[RawPart]:
    """The parts of a workbook (openpyxl writes inline strings) with ``xl/sharedStrings.xml``
    holding the ``<si>`` ``items``, related from the workbook as Excel relates it."""
    rels_name = "xl/_rels/workbook.xml.rels"
    rels = next(zlib.decompress(p.data, -zlib.MAX_WBITS) for p in parts if p.name == rels_name)
    rels = rels.replace(b"</Relationships>", SHARED_STRINGS_REL.encode() + b"</Relationships>")
    strings = ('<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
               f'spreadsheetml/2006/main">{items}</sst>').encode()
    return [raw_part(rels_name, rels) if p.name == rels_name else p for p in parts] + [
        raw_part("xl/sharedStrings.xml", strings)]


def sheet_xml(rows: str) -> bytes:
    return ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>').encode()
