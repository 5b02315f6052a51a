"""A citation's page: recorded for a paged report, shown by ``links``/``show`` (JSON and
human), carried into capture certificates; databases from before pages migrate with
page NULL. The paged format here is a test-only reader registered beside the real ones:
plain text whose pages are separated by form feeds (as ``pdftotext`` writes them)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

import preserver.ingest.readers
from preserver.archive import Archive, open_archive
from preserver.cli import render
from preserver.config import load_config
from preserver.db.engine import migrate
from preserver.export.certificate import Cited
from preserver.ingest.readers import Extracted, Reader, read_report
from preserver.ingest.readers._base import decode_text
from preserver.ingest.report import ingest_report
from tests.preserver.test_certificate import _render
from tests.support.cli import default_config, run_cli
from tests.support.schema import HEAD, downgrade

A = "https://youtu.be/Xq3vT9aLm2Q"
B = "https://youtu.be/AAAAAAAAAAA"
C = "https://www.facebook.com/watch/?v=1234567890"
# page 1: lines 1-2; page 2: lines 3-5; page 3: lines 6-7
PAGED = f"1- الأول\n{A}\f2- الثاني\nنص\n{B}\f3- الثالث\n{C}\n"


def _extract(data: bytes) -> Extracted:
    pages = [decode_text(page) for page in data.split(b"\f")]  # (decode_text reads \f as \n)
    starts, line = [], 1
    for text in pages:
        starts.append(line)
        line += text.count("\n") + 1
    return Extracted(text="\n".join(pages), page_lines=tuple(starts))


PAGED_READER = Reader(media_type="text/x-paged", extensions=frozenset({".paged"}),
                      sniff=lambda head: False, extract=_extract)


@pytest.fixture
def paged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preserver.ingest.readers, "_READERS",
                        (PAGED_READER, *preserver.ingest.readers._READERS))


def test_the_test_reader_is_paged(tmp_path: Path, paged: None) -> None:
    path = tmp_path / "report.paged"
    path.write_text(PAGED, encoding="utf-8")
    report = read_report(path)
    assert report.page_lines == (1, 3, 6)
    lines = report.text.split("\n")
    assert [(lines[n - 1], report.page_of(n)) for n in (2, 5, 7)] == [(A, 1), (B, 2), (C, 3)]


def _citations(root: Path, *args: str) -> list[tuple[str, int, int | None]]:
    rows = json.loads(run_cli("links", "--json", *args, config=default_config(root),
                              cwd=root, check=0).stdout)
    return sorted((c["raw_url"], c["line"], c["page"]) for row in rows for c in row["citations"])


def test_a_paged_report_records_each_citations_page(tmp_path: Path, paged: None) -> None:
    (tmp_path / "report.paged").write_text(PAGED, encoding="utf-8")
    (tmp_path / "plain.txt").write_text(f"1- نص\n{A}\n", encoding="utf-8")
    cfg = default_config(tmp_path)
    run_cli("ingest", "report.paged", "plain.txt", config=cfg, cwd=tmp_path, check=0)
    assert _citations(tmp_path, "--report", "report.paged") == [
        (C, 7, 3), (B, 5, 2), (A, 2, 1)]
    assert _citations(tmp_path, "--report", "plain.txt") == [(A, 2, None)]
    rows = json.loads(run_cli("links", "--json", config=cfg, cwd=tmp_path, check=0).stdout)
    # the contract's shape (docs/design.md "links --json"): page added, nothing removed
    assert {tuple(c) for row in rows for c in row["citations"]} == {(
        "report", "report_sha256", "line", "label", "raw_url", "start_seconds", "page")}
    wide = Console(file=io.StringIO(), width=400)
    render.links_table(wide, rows)
    table = wide.file.getvalue()  # type: ignore[attr-defined]
    assert "report.paged:5 (page 2) 2- الثاني" in table
    assert "plain.txt:2 1- نص" in table
    shown = run_cli("show", "youtube:Xq3vT9aLm2Q", config=cfg, cwd=tmp_path, check=0).stdout
    assert "cited: report.paged line 2 (page 1): 1- الأول" in shown
    assert "cited: plain.txt line 2: 1- نص" in shown


def test_a_certificate_shows_the_page() -> None:
    page = _render(cited=(Cited(line=5, label="2- الثاني", raw_url=B, page=2),
                          Cited(line=2, label="1- نص", raw_url=A)))
    assert "<td>5 (page 2)</td>" in page and "<td>2</td>" in page


@pytest.fixture
async def archive(db_url: str, tmp_path: Path) -> AsyncIterator[Archive]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "archive"}"\ndatabase_url = "{db_url}"\n',
                   encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as opened:
        yield opened


async def test_citations_from_before_pages_migrate_with_page_null(
        archive: Archive, tmp_path: Path, paged: None) -> None:
    path = tmp_path / "report.paged"
    path.write_text(PAGED, encoding="utf-8")
    await ingest_report(archive, path)
    query = sa.text('SELECT line, page FROM citations ORDER BY "offset"')
    async with archive.db.engine.begin() as conn:
        assert [tuple(r) for r in await conn.execute(query)] == [(2, 1), (5, 2), (7, 3)]
        await conn.run_sync(downgrade, "0006")  # as preserver left it before pages
        columns = await conn.run_sync(
            lambda sync: [c["name"] for c in sa.inspect(sync).get_columns("citations")])
        assert "page" not in columns
    change = await migrate(archive.db.engine)
    assert (change.before, change.after) == ("0006", HEAD)
    async with archive.db.engine.connect() as conn:
        assert [tuple(r) for r in await conn.execute(query)] == [(2, None), (5, None), (7, None)]
