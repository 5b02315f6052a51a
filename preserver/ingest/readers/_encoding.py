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
   It reads a sample from the first non-ASCII byte (a long ASCII head hides nothing)
   and is not asked at all about a file that is mostly UTF-8 with a bad byte (refused
   at that byte: a UTF-8 file is never read as another encoding). When another
   encoding that reads the bytes as other text scores as well (Spanish in
   windows-1252 reads as windows-1250, short Arabic in ISO-8859-6 as Thai), the file
   is refused with both names: declare the charset.

Decoding is strict throughout: a report is evidence, so no byte is replaced. Binary
content is refused as the text reader refuses it: NUL bytes in a file that is not
UTF-16, NUL characters, or more control characters than text has. The result's
newlines are normalized to ``\\n`` and it records the encoding used by its WHATWG name
("windows-1256", "UTF-16LE").
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

from preserver.errors import InvalidReport
from preserver.ingest.readers._base import checked_text, refuse_binary
from preserver.ingest.readers._labels import Encoding, by_codec, lookup

_BOMS = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
)
DETECT_BYTES = 1024 * 1024  # the detector samples at most this much of the file
_CONTEXT = 4096  # ASCII bytes the sample keeps before the first non-ASCII one
# Detector scores this close are a tie: chaos (how much of the text is a mess) and
# coherence (how well it matches a language's letter frequencies; noisy on short text).
_CHAOS_TIE = 0.02
_COHERENCE_TIE = 0.1
_NON_ASCII = re.compile(rb"[\x80-\xff]+")
# A well-formed multi-byte UTF-8 sequence (RFC 3629 section 4).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")


@dataclass(frozen=True, kw_only=True)
class Decoded:
    text: str  # newlines normalized to "\n"
    encoding: str  # WHATWG name: "UTF-8", "windows-1256", "UTF-16LE", …


def decode_any(data: bytes, *, declared: Encoding | None = None,
               declared_as: str = "", keep_text: bool = True) -> Decoded:
    """``data`` as text (see the module docstring); ``InvalidReport`` if it is not text.

    ``declared_as`` says where the declaration was, for the error message
    ("<meta charset='utf-8'>"). ``keep_text=False``: only the encoding is wanted (the
    text is checked, then let go, with ``Decoded.text`` empty): a reader that decodes as
    it goes then never holds the whole text twice.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding = lookup(name)
            assert encoding is not None
            return _checked(keep_text, _decode(data, encoding, skip=len(bom),
                                    after=" after its byte order mark"), encoding)
    if declared is not None:
        said = f"declares charset {declared_as or declared.name} but is "
        if not declared.codec:  # "replacement": ISO-2022-KR, HZ-GB-2312, …
            raise InvalidReport(f"declares charset {declared_as or declared.name}, an "
                                "encoding browsers refuse to decode")
        if b"\x00" in data and not declared.name.startswith("UTF-16"):
            raise InvalidReport(f"{said}binary content (NUL bytes), not a text report")
        return _checked(keep_text, _decode(data, declared, before=said), declared)
    utf8 = lookup("utf-8")
    assert utf8 is not None
    try:
        text = utf8.decode(data)
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" not in text:
            return _checked(keep_text, text, utf8)
    encoding = _detect(data)
    return _checked(keep_text, _decode(data, encoding, after=" (the encoding detected; declare the "
                                                  "charset if it is another)"), encoding)


def _detect(data: bytes) -> Encoding:
    sample = _sample(data)
    if b"\x00" not in sample and (bad := _broken_utf8(data, sample)) is not None:
        raise InvalidReport(f"not valid UTF-8 text (bad byte at offset {bad}); most of it is "
                            "UTF-8, so no other encoding is guessed: save the report as UTF-8")
    # preemptive_behaviour=False: the detector does not read declarations (only the
    # prescan does, within its 1024 bytes, as browsers do)
    found = [(match, encoding) for match in charset_normalizer.from_bytes(
                 sample, preemptive_behaviour=False)
             if (encoding := _known(match.could_be_from_charset)) is not None]
    if b"\x00" in data and (not found or not found[0][1].name.startswith("UTF-16")):
        raise InvalidReport("binary content (NUL bytes), not a text report")
    if not found:
        raise InvalidReport("cannot tell the text encoding; save the report as UTF-8 or "
                            "declare its charset")
    (best, encoding), *others = found
    # A rival that reads the bytes as other text (the detector merges encodings that read
    # them alike) and scores as well: the detector cannot tell them apart ("niño" in
    # windows-1252 is "nińo" in windows-1250, "łamaniu" in windows-1250 is "³amaniu" in
    # windows-1252; short Arabic in ISO-8859-6 reads as Thai in windows-874).
    rivals = [other.name for match, other in others
              if match.chaos <= best.chaos + _CHAOS_TIE
              and match.coherence >= best.coherence - _COHERENCE_TIE]
    if rivals:
        names = ", ".join(dict.fromkeys([encoding.name, *rivals]))
        raise InvalidReport(f"cannot tell the text encoding (it reads as {names} alike); "
                            "save it as UTF-8 (an HTML report may instead declare its charset: "
                            "<meta charset=\"…\">)")
    return encoding


def _known(codecs_: list[str]) -> Encoding | None:
    """The first of a detector's codec names that browsers know ("euc_jis_2004" no,
    "euc_jp" yes: the same bytes read alike)."""
    return next((e for c in codecs_ if (e := by_codec(c)) is not None), None)


def _sample(data: bytes) -> bytes:
    """What the detector reads: ``DETECT_BYTES`` from the line of the first non-ASCII
    byte (at most ``_CONTEXT`` before it), so a long ASCII head (scripts, styles) does
    not hide the text that decides. UTF-16 without a BOM (NUL bytes) from the start."""
    first = _NON_ASCII.search(data)
    if first is None or data.find(b"\x00", 0, first.start()) >= 0:
        return data[:DETECT_BYTES]
    start = max(data.rfind(b"\n", 0, first.start()) + 1, first.start() - _CONTEXT)
    return data[start:start + DETECT_BYTES]


def _broken_utf8(data: bytes, sample: bytes) -> int | None:
    """The offset of the first bad byte of a file that is mostly UTF-8 (at least half of
    the non-ASCII bytes of its ``sample`` are in well-formed UTF-8 sequences); else None."""
    non_ascii = len(sample) - len(_NON_ASCII.sub(b"", sample))
    well_formed = len(sample) - len(_UTF8_SEQUENCE.sub(b"", sample))
    if not non_ascii or 2 * well_formed < non_ascii:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def _decode(data: bytes, encoding: Encoding, *, skip: int = 0, before: str = "",
            after: str = "") -> str:
    try:
        return encoding.decode(data[skip:])
    except UnicodeDecodeError as exc:
        raise InvalidReport(f"{before}not valid {encoding.name} text{after} "
                            f"(bad byte at offset {skip + exc.start})") from exc


def _checked(keep_text: bool, text: str, encoding: Encoding) -> Decoded:
    if keep_text:
        return Decoded(text=checked_text(text), encoding=encoding.name)
    refuse_binary(text)
    return Decoded(text="", encoding=encoding.name)
