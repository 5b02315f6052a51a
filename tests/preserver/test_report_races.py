"""A report file changed under preserver while it is read: never partly or wrongly
ingested, never waited on for ever (all formats: ``preserver.ingest.readers._base`` and
``preserver.ingest.report``)."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import func, select

import preserver.ingest.report
from preserver.archive import Archive, open_archive
from preserver.config import load_config
from preserver.db.models import Citation, Event, Report, Target
from preserver.errors import InvalidReport
from preserver.ingest.readers import ReportText, _base, pdf, read_report
from preserver.ingest.report import ingest_report
from tests.support.pdf_reports import RawPage, raw_pdf_bytes

REPORT = "1- name\nhttps://youtu.be/AAAAAAAAAAA\n"


def finishes(work: object, path: Path) -> list[BaseException]:
    """Run ``work()`` in a thread; if it is still blocked after 10 s (opening the FIFO at
    ``path``), open the FIFO for writing to free it, and fail."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        with open(os.open(path, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            thread.join(10)
        pytest.fail("blocked opening a FIFO")
    return failures


@pytest.mark.parametrize("name", ["report.txt", "report.pdf"])
def test_a_report_swapped_for_a_fifo_after_its_check_is_refused_not_waited_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The path is checked (a regular file), then replaced by a FIFO before it is opened:
    the race is made certain by answering the check with the status it had before."""
    path = tmp_path / name
    path.write_bytes(raw_pdf_bytes([RawPage(text=("1- name",))]) if name.endswith(".pdf")
                     else REPORT.encode())
    checked = _base._check_file(path)
    path.unlink()
    os.mkfifo(path)
    monkeypatch.setattr(_base, "_check_file", lambda _: checked)
    [failure] = finishes(lambda: read_report(path), path)
    assert isinstance(failure, InvalidReport)
    assert str(failure) == f"{path}: not a regular file (a FIFO, socket or device)"


def test_every_opening_of_a_report_refuses_a_fifo_or_a_device(tmp_path: Path) -> None:
    """The PDF reader's own opening (it hands the descriptor to its child) and the one
    that stores the report (``open_regular``) too."""
    fifo = tmp_path / "report.pdf"
    os.mkfifo(fifo)
    [failure] = finishes(lambda: pdf.extract_pdf(fifo), fifo)
    assert str(failure) == "not a regular file (a FIFO, socket or device)"
    [failure] = finishes(lambda: _base.open_regular(fifo), fifo)
    assert str(failure) == "not a regular file (a FIFO, socket or device)"
    with pytest.raises(InvalidReport, match="^not a regular file"):
        _base.open_regular(Path("/dev/zero"))
    regular = tmp_path / "report.txt"
    regular.write_text(REPORT, encoding="utf-8")
    with _base.open_regular(regular) as stream:  # blocking again, as any file
        assert stream.read() == REPORT.encode() and os.get_blocking(stream.fileno())


@pytest.fixture
async def archive(db_url: str, tmp_path: Path) -> AsyncIterator[Archive]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "archive"}"\ndatabase_url = "{db_url}"\n',
                   encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        yield opened


async def _rows(archive: Archive) -> dict[str, int]:
    async with archive.db.session() as s:
        return {model.__name__: int(await s.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Report, Citation, Target, Event)}


async def test_a_report_changed_between_reading_and_storing_is_refused(
        archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ingest_report`` reads the text, then reads the file again to store it (a large
    report's bytes are not held). The file is rewritten in between (same size, so only
    the hash can tell): nothing is recorded, and the report ingests once it is still."""
    path = tmp_path / "report.txt"
    path.write_text(REPORT, encoding="utf-8")
    real = read_report  # what preserver.ingest.report calls

    def then_changed(source: Path) -> ReportText:
        text = real(source)
        path.write_text(REPORT.replace("AAAA", "BBBB"), encoding="utf-8")
        return text

    monkeypatch.setattr(preserver.ingest.report, "read_report", then_changed)
    before = await _rows(archive)
    with pytest.raises(InvalidReport) as caught:
        await ingest_report(archive, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: the file changed while it was read (SHA-256 ")
    assert "\n" not in message
    assert await _rows(archive) == before
    monkeypatch.setattr(preserver.ingest.report, "read_report", real)
    result = await ingest_report(archive, path)
    assert (result.citations, result.report_sha256) == (1, read_report(path).sha256)
