"""Bytes in any encoding -> text, the order browsers use (WHATWG Encoding Standard).

``decode_any(data, declared=…)`` decides the encoding by, in order:

1. a byte order mark (UTF-8, UTF-16 LE/BE): it wins over everything;
2. the encoding the file declares (an HTML ``<meta charset>``, found by
   ``_prescan.declared_charset``; a CSV reader may pass what it knows): the
   declaration wins, as in a browser, so bytes it cannot decode are an error that
   names the declared charset and the offset of the first bad byte, never a silent
   guess;
3. strict UTF-8, when every byte decodes;
4. a detector (charset-normalizer), which tells apart windows-1256, ISO-8859-6 and
   UTF-16 without a BOM among others; what it names must then decode the whole file.

Decoding is strict throughout: a report is evidence, so no byte is replaced. Binary
content is refused as the text reader refuses it: NUL bytes in a file that is not
UTF-16, NUL characters, or more control characters than text has. The result's
newlines are normalized to ``\\n`` and it records the encoding used by its WHATWG name
("windows-1256", "UTF-16LE").
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import charset_normalizer

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import _CONTROL, _normalize_newlines
from preserver.ingest.readers._labels import Encoding, by_codec, lookup

_BOMS = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
)
DETECT_BYTES = 1024 * 1024  # the detector samples at most this much of the file


@dataclass(frozen=True, kw_only=True)
class Decoded:
    text: str  # newlines normalized to "\n"
    encoding: str  # WHATWG name: "UTF-8", "windows-1256", "UTF-16LE", …


def decode_any(data: bytes, *, declared: Encoding | None = None,
               declared_as: str = "") -> Decoded:
    """``data`` as text (see the module docstring); ``InvalidReport`` if it is not text.

    ``declared_as`` says where the declaration was, for the error message
    ("<meta charset='utf-8'>").
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = lookup(name)
            assert encoding is not None
            return _checked(_decode(data, encoding, skip=len(bom),
                                    after=" after its byte order mark"), encoding)
    if declared is not None:
        said = f"declares charset {declared_as or declared.name} but is "
        if not declared.codec:  # "replacement": ISO-2022-KR, HZ-GB-2312, …
            raise InvalidReport(f"declares charset {declared_as or declared.name}, an "
                                "encoding browsers refuse to decode")
        if b"\x00" in data and not declared.name.startswith("UTF-16"):
            raise InvalidReport(f"{said}binary content (NUL bytes), not a text report")
        return _checked(_decode(data, declared, before=said), declared)
    utf8 = lookup("utf-8")
    assert utf8 is not None
    try:
        text = utf8.decode(data)
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" not in text:
            return _checked(text, utf8)
    encoding = _detect(data)
    return _checked(_decode(data, encoding, after=" (the encoding detected; declare the "
                                                  "charset if it is another)"), encoding)


def _detect(data: bytes) -> Encoding:
    # preemptive_behaviour=False: the detector does not read declarations (only the
    # prescan does, within its 1024 bytes, as browsers do)
    best = charset_normalizer.from_bytes(data[:DETECT_BYTES], preemptive_behaviour=False).best()
    encoding = None if best is None else by_codec(best.encoding)
    if b"\x00" in data and (encoding is None or not encoding.name.startswith("UTF-16")):
        raise InvalidReport("binary content (NUL bytes), not a text report")
    if encoding is None:
        named = "" if best is None else f" (a detector says {best.encoding})"
        raise InvalidReport(f"cannot tell the text encoding{named}; save the report as UTF-8 "
                            "or declare its charset")
    return encoding


def _decode(data: bytes, encoding: Encoding, *, skip: int = 0, before: str = "",
            after: str = "") -> str:
    try:
        return encoding.decode(data[skip:])
    except UnicodeDecodeError as exc:
        raise InvalidReport(f"{before}not valid {encoding.name} text{after} "
                            f"(bad byte at offset {skip + exc.start})") from exc


def _checked(text: str, encoding: Encoding) -> Decoded:
    if "\x00" in text:
        raise InvalidReport("binary content (NUL characters), not a text report")
    controls = sum(1 for _ in _CONTROL.finditer(text))
    if controls > max(8, len(text) // 100):
        raise InvalidReport(f"binary content ({controls} control characters), not a text report")
    return Decoded(text=_normalize_newlines(text), encoding=encoding.name)
