"""A text file's lines, decoded one at a time, for readers that count the file's own lines
(CSV: a citation's line is the line its row starts on in the file).

``encoding_of(data)`` is the encoding ``_encoding.decode_any`` decides, having checked
the whole text (a BOM; strict UTF-8; else the detector; binary content refused);
``text_lines(data, encoding)`` then yields its lines
with their ends as written (``\\r\\n``, ``\\n`` or ``\\r``, as ``csv.reader`` wants them),
decoding as it goes: the whole decoded text is held only while it is checked, never
while the caller builds what it makes of the lines.

One hint is given to the detector: bytes that are not UTF-8 and read as Arabic letters
in windows-1256 (at least 80 % of the letters) are windows-1256, as Excel saves a CSV in
an Arabic office; a detector alone takes a short Arabic list for Hebrew or Cyrillic,
whose code pages use the same bytes. Not when those letters touch Latin ones: the
accented letters of a Spanish text in windows-1252 (á í Á É Í Ó Ñ) are Arabic letters in
windows-1256, each inside a Latin word ("Bogotل"), where an Arabic word has none.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator

from preserver.errors import InvalidReport
from preserver.ingest.readers._encoding import DETECT_BYTES, decode_any
from preserver.ingest.readers._labels import Encoding, lookup

_ARABIC = ("\u0600", "\u06ff")
_IN_LATIN = re.compile("[A-Za-z][\u0600-\u06ff]|[\u0600-\u06ff](?=[A-Za-z])")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHUNK = 1 << 20


def text_lines(data: bytes, encoding: Encoding) -> Iterator[str]:
    """The lines of ``data`` in ``encoding`` (from ``encoding_of``), ends kept."""
    try:
        if encoding.name == "windows-1252":  # a charmap of its own (_labels): decoded whole
            yield from io.StringIO(encoding.decode(data), newline="")
            return
        skip = next((len(bom) for bom in _BOMS if data.startswith(bom)), 0)
        stream = io.TextIOWrapper(io.BufferedReader(io.BytesIO(data[skip:]), _CHUNK),
                                  encoding=encoding.codec, newline="")
        yield from stream
    except UnicodeDecodeError as exc:  # checked whole before: a codec's own limits
        raise InvalidReport(f"not valid {encoding.name} text: {exc}") from exc


def encoding_of(data: bytes) -> Encoding:
    """The encoding of the text file ``data``; ``InvalidReport`` if it is not text."""
    decoded = decode_any(data, declared=_arabic(data), declared_as="windows-1256 (Arabic)",
                         keep_text=False)
    encoding = lookup(decoded.encoding)
    del decoded
    if encoding is None or not encoding.codec:
        raise InvalidReport(f"no codec decodes {encoding}")
    return encoding


def _arabic(data: bytes) -> Encoding | None:
    """windows-1256 for bytes without a BOM that are not UTF-8 and read as Arabic."""
    if any(data.startswith(bom) for bom in _BOMS) or b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        sample = data[:DETECT_BYTES].decode("windows-1256", errors="replace")
        letters = [c for c in sample if not c.isascii() and c.isalpha()]
        arabic = sum(_ARABIC[0] <= c <= _ARABIC[1] for c in letters)
        in_latin = sum(1 for _ in _IN_LATIN.finditer(sample))
        if letters and arabic >= 0.8 * len(letters) and in_latin <= 0.1 * arabic:
            return lookup("windows-1256")
    return None
