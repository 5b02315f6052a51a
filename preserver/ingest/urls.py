"""URLs given directly (``preserver preserve URL…``, ``preserver preserve -``) as a report.

The URLs a command is given become one report of their own, recorded like any other:
a plain-text file whose bytes are exactly the URLs as given, one per line (each ended
by ``\\n``), named ``urls-<UTC date>-<first 12 hex of its SHA-256>.txt``. It is kept
in the blob store and has its ``report_ingested`` event, so ``links``, ``export`` and
certificates treat it as any report. The same URLs in the same order are the same
report, ingested once: given again on another day, it is the report of the first day,
and the result names it so.

Which argument is what (``parse_arguments``):

- ``-`` is standard input, one URL per line (at most once per command);
- an argument naming an existing file (or directory, or link) is a path, whatever
  it looks like;
- otherwise an argument the link finder reads whole as one link (``https://…``,
  ``http://…``, ``www.…``, ``youtu.be/…`` and the other platform hosts reports cite
  without a scheme) is a URL;
- anything else that begins ``http://`` or ``https://`` is refused as not one URL (a
  space or quote in it) rather than read as a path (where "//" would become "/");
- anything else is a path, so a mistyped file name still says "no such file".

All the URLs of one command, from arguments and standard input in the order given,
make one report, ingested where the first of them stood; every path is a report of
its own. Standard input is read to at most the report size limit (over it: exit 2,
nothing ingested); it must be text (UTF-8, or with a BOM; no NUL bytes); surrounding
whitespace is dropped, blank lines and lines starting with ``#`` are ignored. A line
that is not one whole URL is listed as skipped (its line number on standard input and
why), as an unresolvable link of a report is, and is not part of the report; a
standard input with no URL at all exits 2. Skipped lines are numbered as given: the
line of standard input, or the URL's place among the URL arguments.

The report file is written to a directory of its own under the data directory's
``tmp/``, ingested (the blob store copies it; the rows commit in one transaction),
then removed. A crash before the commit records nothing and the URLs are still in the
user's command; after it, the report is recorded whole. Either way at most that
directory is left in ``tmp/``, and the next URLs ingested remove it (``_workdir``: it
is locked while in use, and a dead process's lock is gone).
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from sqlmodel import col, select

from preserver.archive import Archive
from preserver.db.models import Report
from preserver.db.values import utc_now
from preserver.errors import InputError, InvalidReport, RunError
from preserver.ingest._workdir import work_dir
from preserver.ingest.links import extract_links
from preserver.ingest.readers import DEFAULT_MAX_BYTES
from preserver.ingest.readers._base import decode_text
from preserver.ingest.report import LISTED, IngestResult, SkippedLink, ingest_report

STDIN = "-"
TERMINAL_HINT = ("reading URLs from standard input, one a line; end with Ctrl-D "
                 "(Ctrl-Z Enter on Windows)")
_SCHEME = re.compile(r"(?i)https?://")
_NOT_A_URL = "not a URL (one URL per line; blank lines and # comments are ignored)"


@dataclass(frozen=True, kw_only=True)
class UrlList:
    """URLs given directly, to be recorded as one report."""

    urls: tuple[str, ...]  # as given, surrounding whitespace dropped; one report line each
    lines: tuple[int, ...]  # where each was given: its line of stdin, or place among the URLs
    skipped: tuple[SkippedLink, ...] = ()  # input lines that are not URLs (all of them)

    def report_bytes(self) -> bytes:
        return "".join(f"{url}\n" for url in self.urls).encode("utf-8")

    def report_name(self) -> str:
        digest = hashlib.sha256(self.report_bytes()).hexdigest()
        return f"urls-{utc_now():%Y-%m-%d}-{digest[:12]}.txt"


Source = Path | UrlList


def is_url(text: str) -> bool:
    """Is ``text`` one whole link, as the link finder reads links in a report?"""
    if not text or text != text.strip() or "\n" in text:
        return False
    found = extract_links(text)
    return len(found) == 1 and found[0].offset == 0 and found[0].raw_url == text


def parse_arguments(args: Sequence[str], stdin: BinaryIO | None = None,
                    *, max_bytes: int = DEFAULT_MAX_BYTES,
                    on_terminal: Callable[[str], object] | None = None) -> list[Source]:
    """The reports a command's arguments name: paths, and at most one ``UrlList`` (at the
    place of the first URL) with the URLs of the arguments and of ``-`` (``stdin``, by
    default this process's standard input, read only for ``-``). Standard input that is
    a terminal waits for the user: ``on_terminal`` is given ``TERMINAL_HINT`` first.
    Raises ``InputError`` for ``-`` given twice and ``InvalidReport`` for a standard input
    that is too large, not text, or holds no URL."""
    sources: list[Source] = []
    urls: list[str] = []
    lines: list[int] = []
    skipped: list[SkippedLink] = []
    place: int | None = None
    read_stdin = False
    url_args = 0
    for arg in args:
        if arg == STDIN:
            if read_stdin:
                raise InputError("standard input (-) given twice")
            read_stdin = True
            stream = stdin or _process_stdin()
            if on_terminal is not None and stream is not None and stream.isatty():
                on_terminal(TERMINAL_HINT)
            given = read_url_lines(stream, max_bytes=max_bytes)
            urls += given.urls
            lines += given.lines
            skipped += given.skipped
        elif not _exists(arg) and is_url(arg):
            urls.append(arg)
            url_args += 1
            lines.append(url_args)  # its place among the URL arguments
        elif not _exists(arg) and _SCHEME.match(arg):  # as a path, "//" would read "/"
            raise InputError(f"{arg}: not one URL (a space or a quote in it must be "
                             "percent-encoded) and no such file")
        else:
            sources.append(Path(arg))
            continue
        place = len(sources) if place is None else place
    if place is not None:
        sources.insert(place, UrlList(urls=tuple(urls), lines=tuple(lines),
                                      skipped=tuple(skipped)))
    return sources


def read_url_lines(stream: BinaryIO | None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> UrlList:
    """One URL per line from ``stream`` (see the module docstring)."""
    if stream is None:
        raise InvalidReport("standard input: not available")
    try:
        data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidReport(f"standard input: cannot read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise InvalidReport(f"standard input: over the limit of {max_bytes} bytes")
    try:
        text = decode_text(data) if data else ""
    except InvalidReport as exc:
        raise InvalidReport(f"standard input: {exc}") from exc
    urls: list[str] = []
    lines: list[int] = []
    skipped: list[SkippedLink] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            urls.append(line)
            lines.append(number)
        else:
            skipped.append(SkippedLink(line=number, raw_url=line, reason=_NOT_A_URL))
    if not urls:
        first = f": line {skipped[0].line} is {_NOT_A_URL}" if skipped else \
            " (one URL per line; blank lines and # comments are ignored)"
        raise InvalidReport(f"standard input: no URL{first}")
    return UrlList(urls=tuple(urls), lines=tuple(lines), skipped=tuple(skipped))


async def ingest_sources(archive: Archive, sources: Sequence[Source], *,
                         require_links: bool = False) -> list[IngestResult]:
    """Ingest each report: a path with ``ingest_report``, a ``UrlList`` with ``ingest_urls``
    (``require_links``: a report citing no link that has a target is ``InvalidReport``)."""
    return [await (ingest_report(archive, source, require_links=require_links)
                   if isinstance(source, Path)
                   else ingest_urls(archive, source, require_links=require_links))
            for source in sources]


async def ingest_urls(archive: Archive, given: UrlList, *, require_links: bool = False
                      ) -> IngestResult:
    """Record ``given`` as a report of its own (see the module docstring)."""
    tmp_dir = archive.config.tmp_dir
    try:
        with work_dir(tmp_dir, "urls-") as work:
            path = work / given.report_name()
            try:
                with path.open("xb") as fh:
                    fh.write(given.report_bytes())
            except OSError as exc:
                raise RunError(f"cannot write the URLs' report in {tmp_dir}: "
                               f"{exc.strerror or exc}") from exc
            result = await ingest_report(archive, path, require_links=require_links)
    except OSError as exc:  # the work directory: made, locked
        raise RunError(f"cannot make a work directory in {tmp_dir}: "
                       f"{exc.strerror or exc}") from exc
    if result.already_ingested:  # on another day, under the name of that day
        result = replace(result, report=await _recorded_name(archive, result.report_sha256)
                         or result.report)
    # Skipped links are numbered as the user gave them, with the lines that were not URLs.
    ingested = [replace(s, line=given.lines[s.line - 1]) for s in result.skipped]
    skipped = sorted([*given.skipped, *ingested], key=lambda s: s.line)
    return replace(result, skipped=tuple(skipped[:LISTED]),
                   skipped_count=result.skipped_count + len(given.skipped))


async def _recorded_name(archive: Archive, sha256: str) -> str | None:
    async with archive.db.session() as session:
        name: str | None = await session.scalar(
            select(Report.name).where(col(Report.sha256) == sha256))
        return name


def _process_stdin() -> BinaryIO | None:
    return sys.stdin.buffer if sys.stdin is not None else None


def _exists(arg: str) -> bool:
    try:
        return Path(arg).exists() or Path(arg).is_symlink()
    except (OSError, ValueError):  # a name too long, a NUL: not a file
        return False
