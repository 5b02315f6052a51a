"""PDFium's own memory and time are bounded: the whole reading runs in a child process
(``preserver.ingest.readers._pdf_child``) held to an address-space limit and a wall-time
deadline; a PDF over either, or one that crashes the reader, is refused with one line,
and the parent stays small and never loads PDFium.

The hostile PDFs are written object by object (no producer makes them on request): a
content stream of millions of drawing operators (a 127 KB one needed 1.7 GB and 12 s
to load its page before), and one small form XObject holding a text block drawn
thousands of times (1.9 KB: 458 MB to build the text layer for 2,000 draws, 4.5 GB for
20,000)."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from preserver.errors import InvalidReport
from preserver.ingest.readers import pdf, read_report
from preserver.ingest.readers._base import read
from preserver.ingest.readers._pdf_limits import Limits
from tests.support.cli import assert_one_line_error, run_in
from tests.support.pdf_reports import RawPage, raw_pdf_bytes

ROOT = Path(__file__).parents[2]
TEXT = b"BT /F1 12 Tf 72 704 Td (1- name) Tj ET\n"


def hostile_pdf(content: bytes, *, form: bytes | None = None) -> bytes:
    """One page whose content stream (Flate-compressed) is ``content``; with ``form``, a
    form XObject ``/X`` holding that stream, for ``content`` to draw."""
    font = b"<< /Font << /F1 3 0 R >> >>"
    resources = font if form is None else b"<< /Font << /F1 3 0 R >> /XObject << /X 6 0 R >> >>"
    packed = zlib.compress(content, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Count 1 /Kids [4 0 R] >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
               + resources + b" /Contents 5 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed
               + b"\nendstream"]
    if form is not None:
        objects.append(b"<< /Type /XObject /Subtype /Form /BBox [0 0 1000 1000] /Resources "
                       + font + b" /Length %d >>\nstream\n" % len(form) + form + b"\nendstream")
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def drawing_bomb(operators: int) -> bytes:
    return hostile_pdf(TEXT + b"0 0 m 1 1 l S\n" * operators)


def reused_text(draws: int) -> bytes:
    return hostile_pdf(TEXT + b"q /X Do Q\n" * draws,
                       form=b"BT /F1 1 Tf 0 0 Td (" + b"ab" * 500 + b") Tj ET")


def bounded(**changes: Any) -> Limits:
    return dataclasses.replace(pdf.limits(), **changes)


def read_with(path: Path, limits: Limits) -> object:
    reader = dataclasses.replace(pdf.READER,
                                 extract_path=functools.partial(pdf.extract_pdf, bounds=limits))
    return read(path, [reader], max_bytes=pdf.MAX_BYTES)


def resident() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "content"), [("drawing.pdf", lambda: drawing_bomb(3_000_000)),
                                               ("reused.pdf", lambda: reused_text(20_000))])
def test_memory_bombs_are_refused_by_the_childs_memory_limit(tmp_path: Path, name: str,
                                                             content: object) -> None:
    """Held to 256 MiB, each is refused quickly; the parent grows by a few MiB at most."""
    path = tmp_path / name
    path.write_bytes(content())  # type: ignore[operator]
    assert path.stat().st_size < 200_000
    before = resident()
    started = time.monotonic()
    with pytest.raises(InvalidReport) as caught:
        read_with(path, bounded(memory=256 << 20))
    assert str(caught.value) == f"{path}: needs more than 256 MiB to read (limit 256 MiB)"
    assert time.monotonic() - started < 20
    assert resident() - before < 32 << 20


@pytest.mark.slow
def test_the_reviewers_pdfs_are_refused_at_the_default_limits(tmp_path: Path) -> None:
    """5,000,000 operators in 127 KB, a text block drawn 20,000 times (4.5 GB before):
    over the 1 GiB default. Drawn 2,000 times (458 MB before), it is under it, and the
    characters-on-a-page limit refuses it."""
    for name, content in [("drawing.pdf", drawing_bomb(5_000_000)),
                          ("reused.pdf", reused_text(20_000))]:
        path = tmp_path / name
        path.write_bytes(content)
        started = time.monotonic()
        with pytest.raises(InvalidReport, match=f"^{path}: needs more than 1024 MiB to read "
                                                r"\(limit 1024 MiB\)$"):
            read_report(path)
        assert time.monotonic() - started < 60
    path = tmp_path / "fewer.pdf"
    path.write_bytes(reused_text(2_000))
    with pytest.raises(InvalidReport, match=f"^{path}: over 100000 characters on page 1$"):
        read_report(path)


@pytest.mark.slow
def test_a_pdf_that_takes_too_long_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    """1,000,000 drawing operators take PDFium over a second to load (one call: no check
    of ours runs meanwhile); held to 0.5 s, the child is killed at the deadline."""
    path = tmp_path / "slow.pdf"
    path.write_bytes(drawing_bomb(1_000_000))
    started = time.monotonic()
    with pytest.raises(InvalidReport) as caught:
        read_with(path, bounded(seconds=0.5))
    assert str(caught.value) == f"{path}: took longer than 0.5 s to read"
    assert 0.5 <= time.monotonic() - started < 1.5
    assert children() == []
    assert read_with(path, bounded(seconds=60)) is not None  # it is only slow


def children(parent: int | None = None) -> list[int]:
    """The processes whose parent is ``parent`` (this one) and that run the PDF reader."""
    parent = parent or os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"_pdf_child" in command:
            found.append(int(entry.name))
    return found


def wait_for_child(parent: int | None = None) -> int:
    deadline = time.monotonic() + 10
    while not (found := children(parent)):
        assert time.monotonic() < deadline, "the reader's child never started"
        time.sleep(0.01)
    return found[0]


@pytest.mark.slow
def test_a_crashing_reader_is_one_line(tmp_path: Path) -> None:
    """No PDF known to crash this PDFium build is at hand: the child is killed with
    SIGSEGV from outside while it reads, as a crash inside PDFium would end it."""
    path = tmp_path / "slow.pdf"
    path.write_bytes(drawing_bomb(2_000_000))
    failures: list[BaseException] = []

    def reading() -> None:
        try:
            read_with(path, bounded(seconds=60))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            failures.append(exc)

    thread = threading.Thread(target=reading)
    thread.start()
    os.kill(wait_for_child(), signal.SIGSEGV)
    thread.join(30)
    assert not thread.is_alive()
    [failure] = failures
    assert isinstance(failure, InvalidReport)
    assert str(failure) == f"{path}: the PDF reader crashed (signal 11, SIGSEGV)"


@pytest.mark.slow
def test_the_reader_dies_with_its_parent(tmp_path: Path) -> None:
    """A preserver killed while a PDF is being read leaves no reader running."""
    path = tmp_path / "slow.pdf"
    path.write_bytes(drawing_bomb(2_000_000))
    parent = subprocess.Popen(
        [sys.executable, "-c", ("import sys; from pathlib import Path; from preserver.ingest."
                                "readers import read_report; read_report(Path(sys.argv[1]))"),
         str(path)],
        env=os.environ | {"PYTHONPATH": str(ROOT)}, stderr=subprocess.DEVNULL)
    try:
        child = wait_for_child(parent.pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and b"_pdf_child" in Path(
            f"/proc/{child}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the reader outlived its parent"
        time.sleep(0.01)


@pytest.mark.slow
def test_the_parent_never_loads_pdfium_and_leaves_no_child(tmp_path: Path) -> None:
    """PDFium is loaded in the child only; the child is reaped when the text is back."""
    path = tmp_path / "report.pdf"
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",))]))
    script = ("import os, sys\n"
              "from pathlib import Path\n"
              "from preserver.ingest.readers import read_report\n"
              "print(read_report(Path(sys.argv[1])).text, 'pypdfium2' in sys.modules)\n"
              "try:\n"
              "    os.waitpid(-1, os.WNOHANG)\n"
              "except ChildProcessError:\n"
              "    print('no child')\n")
    done = subprocess.run([sys.executable, "-c", script, str(path)],
                          env=os.environ | {"PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, check=True, timeout=60)
    assert done.stdout.splitlines() == ["1- name False", "no child"]


@pytest.mark.slow
def test_cli_refuses_a_memory_bomb_with_exit_2_and_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pdf"
    path.write_bytes(reused_text(20_000))
    assert_one_line_error(run_in(tmp_path, "ingest", str(path)), 2,
                          f"{path}: needs more than 1024 MiB to read (limit 1024 MiB)")
    assert json.loads(run_in(tmp_path, "status", "--json").stdout)["reports"] == 0
