"""Receiving one uploaded file (``multipart/form-data``), streamed to disk with a bound.

``receive_upload`` parses the request body as it arrives with ``multipart``'s
``PushMultipartParser`` (defnull's, never held whole in memory) and writes the file
field's bytes to ``work/<its name>``. It promises:

- the file is at most ``limit`` bytes: past it (or a ``Content-Length`` that says the
  body will pass it) the request is refused with 413 at once, and the caller's work
  directory, which holds the partial file, is removed by the caller;
- the name kept is the file's own name, sanitised (``safe_filename``): the part after
  the last ``/`` or ``\\``, NFC-normalised, with no control, line- or paragraph-separator
  or bidirectional-override character, not ``.``/``..``, at most 255 bytes; otherwise 400;
- the small text fields (the CSRF token, …) are at most ``FIELD_BYTES`` each, and the
  ``before_file`` callback sees those that came before the file, so a forged form is
  refused before its file is written;
- a body that is not ``multipart/form-data`` is 415; one that is cut short, malformed,
  or has no file, two files, or too many parts is 400; one whose next bytes do not come
  within ``bodies.IDLE_SECONDS`` (60 s) is 408 (a stalled or slowloris client). Every refusal is a
  ``WebError``. The idle bound is the one every body read has (``bodies.stream_body``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from preserver.web.bodies import stream_body
from preserver.web.errors import WebError

if TYPE_CHECKING:
    from starlette.requests import Request

FIELD_BYTES = 4096  # a text field of the form (the CSRF token is 43 characters)
OVERHEAD = 64 * 1024  # the body's bytes besides the file: boundaries, part headers, fields
MAX_PARTS = 16
MAX_NAME_BYTES = 255
# Unicode's bidirectional controls: a name shown as "report.txt" may be "txt.troper" spelled
# backwards with U+202E; no report needs them in its file name.
_BREAKS = frozenset({"Cc", "Zl", "Zp"})  # controls (NUL, LF, NEL...), U+2028, U+2029
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True, kw_only=True)
class Upload:
    path: Path  # the file as written, ``work/<name>``
    name: str  # its sanitised name
    size: int
    fields: dict[str, str]  # the text fields (first value of each)


def safe_filename(given: str | None) -> str:
    """The uploaded file's name, sanitised, or ``WebError(400)`` saying what is wrong."""
    if given is None or not given.strip():
        raise WebError(400, "the uploaded file has no name: choose a report file to upload")
    name = unicodedata.normalize("NFC", given.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if any(unicodedata.category(c) in _BREAKS or c in _BIDI for c in name):
        raise WebError(400, "the uploaded file's name has control characters: rename the "
                            "file and upload it again")
    if name in ("", ".", ".."):
        raise WebError(400, f"the uploaded file's name {given!r} is not a file name")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise WebError(400, f"the uploaded file's name is over {MAX_NAME_BYTES} bytes: "
                            "rename the file and upload it again")
    return name


def _boundary(request: Request) -> str:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != "multipart/form-data":
        raise WebError(415, "expected a file upload (multipart/form-data)")
    if not options.get("boundary"):
        raise WebError(400, "the upload's Content-Type has no boundary")
    return str(options["boundary"])


def _declared_length(request: Request, body_limit: int, limit: int) -> int:
    declared = request.headers.get("content-length")
    if declared is None:
        return -1
    if not declared.isdigit():
        raise WebError(400, "the request's Content-Length is not a number")
    if int(declared) > body_limit:
        raise WebError(413, f"the upload is over the limit of {limit} bytes ([web] max_upload)")
    return int(declared)


async def receive_upload(request: Request, work: Path, *, limit: int, file_field: str,
                         before_file: Callable[[dict[str, str]], None]) -> Upload:
    """The file of field ``file_field`` written under ``work`` (see the module docstring)."""
    boundary = _boundary(request)
    body_limit = limit + OVERHEAD
    length = _declared_length(request, body_limit, limit)
    state = _State(work=work, limit=limit, file_field=file_field, before_file=before_file)
    parser = PushMultipartParser(boundary, content_length=length, max_segment_count=MAX_PARTS,
                                 max_header_count=8)
    received = 0
    try:
        try:
            async for chunk in stream_body(request, what="upload"):
                if not chunk:
                    continue
                received += len(chunk)
                if received > body_limit:
                    raise WebError(413, f"the upload is over the limit of {limit} bytes "
                                        "([web] max_upload)")
                for event in parser.parse(chunk):
                    state.on(event)
            parser.close(check_complete=True)
        except MultipartError as exc:
            raise WebError(400, f"the upload cannot be read (cut short or malformed): {exc}"
                           ) from exc
        except ClientDisconnect as exc:
            raise WebError(400, "the upload was cut short (the client went away)") from exc
    finally:
        state.close()
    if state.path is None or state.name is None:
        raise WebError(400, f"the form has no file in its field {file_field!r}: choose a "
                            "report file to upload")
    return Upload(path=state.path, name=state.name, size=state.size, fields=state.fields)


@dataclass(kw_only=True)
class _State:
    """What has been parsed so far: the text fields, and the file being written."""

    work: Path
    limit: int
    file_field: str
    before_file: Callable[[dict[str, str]], None]
    fields: dict[str, str] = field(default_factory=dict)
    segment: MultipartSegment | None = None
    text: bytearray | None = None  # the text field being read
    out: BinaryIO | None = None  # the file being written
    path: Path | None = None
    name: str | None = None
    size: int = 0

    def on(self, event: MultipartSegment | bytes | None) -> None:
        if isinstance(event, MultipartSegment):
            self._begin(event)
        elif event is None:
            self._end()
        elif self.out is not None:
            self.size += len(event)
            if self.size > self.limit:
                raise WebError(413, f"the upload is over the limit of {self.limit} bytes "
                                    "([web] max_upload)")
            self.out.write(event)
        elif self.text is not None:
            self.text += event
            if len(self.text) > FIELD_BYTES:
                name = self.segment.name if self.segment else ""
                raise WebError(400, f"the form's field {name!r} is over {FIELD_BYTES} bytes")

    def _begin(self, segment: MultipartSegment) -> None:
        self.segment = segment
        if segment.name == self.file_field and segment.filename is not None:
            if self.path is not None:
                raise WebError(400, "upload one file at a time")
            name = safe_filename(segment.filename)
            self.before_file(dict(self.fields))
            self.path, self.name = self.work / name, name
            self.out = self.path.open("xb")
        elif segment.filename is not None:
            raise WebError(400, f"unexpected file field {segment.name!r} (the report goes in "
                                f"{self.file_field!r})")
        else:
            self.text = bytearray()

    def _end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        elif self.text is not None and self.segment is not None:
            try:
                value = self.text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise WebError(400, f"the form's field {self.segment.name!r} is not UTF-8"
                               ) from exc
            self.fields.setdefault(self.segment.name or "", value)
            self.text = None
        self.segment = None

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
