"""The link-rot report, on a real archive with a history of checks over several days:
counts by kind, down reasons, copies held or lost, since dates, and each format."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from preserver.archive import open_archive, read_archive
from preserver.audit.availability import record_check
from preserver.config import load_config
from preserver.db.models import Capture, CaptureFile, Target
from preserver.errors import UnknownKey
from preserver.ingest.report import ingest_report
from preserver.views.linkrot import CSV_COLUMNS, LinkrotReport, as_text, linkrot, to_json
from preserver.views.linkrot.html import render_html
from tests.support.cli import CliResult, run_cli
from workers import Status

D0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = D0 + timedelta(days=5, hours=12)
HOSTILE = "<script>alert(1)</script>"
REPORT = f"""تقرير عن الهجوم

1- كاسم المنسي
https://youtu.be/AAAAAAAAAAA

2- {HOSTILE}
https://youtu.be/BBBBBBBBBBB

3- محمود محضر الشامية
https://youtu.be/CCCCCCCCCCC

4- أبو صياح
https://youtu.be/DDDDDDDDDDD

5- مجهول
https://youtu.be/EEEEEEEEEEE
"""
SHA = {name: name * 64 for name in "abcdef"}


def _at(days: float) -> datetime:
    return D0 + timedelta(days=days)


async def _check(session: AsyncSession, key: str, status: Status,
                 days: float) -> None:
    target = await session.scalar(select(Target).where(col(Target.key) == key))
    assert target is not None
    await record_check(session, target, status=status, message=status.value, probe="test",
                       confirmations=2, confirm_after=6 * 3600.0, operator="t", now=_at(days))


async def _capture(session: AsyncSession, key: str, state: str, days: float,
                   files: list[tuple[str, str, int]]) -> None:
    target_id = await session.scalar(select(Target.id).where(col(Target.key) == key))
    assert target_id is not None
    cid = str(uuid.uuid4())
    session.add(Capture(id=cid, target_id=target_id, state=state, status="available",
                        requested_url="u", started_at=_at(days), finished_at=_at(days),
                        manifest_sha256=uuid.uuid4().hex * 2, signature_sha256="0" * 64,
                        key_id="0" * 64))
    await session.flush()
    for role, sha, size in files:
        session.add(CaptureFile(capture_id=cid, role=role, name=f"{role}.bin", sha256=sha,
                                size=size, media_type="application/octet-stream"))


async def _build(tmp_path: Path) -> Path:
    """Report r1 cites five links, r2 one of them; checks over six days."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n', encoding="utf-8")
    (tmp_path / "r1.txt").write_text(REPORT, encoding="utf-8")
    (tmp_path / "r2.txt").write_text("1- كاسم المنسي\nhttps://youtu.be/AAAAAAAAAAA\n",
                                     encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, tmp_path / "r1.txt")
        await ingest_report(archive, tmp_path / "r2.txt")
        async with archive.db.session() as s:
            a, b, c, d, e = (f"youtube:{x * 11}" for x in "ABCDE")
            for key in (a, b, d):
                await _check(s, key, Status.AVAILABLE, 0.25)
            # A: down, confirmed by a second check 8 h later; complete capture held
            await _capture(s, a, "complete", 0.3, [("media", SHA["a"], 1000),
                                                   ("info", SHA["f"], 10),
                                                   ("page", SHA["e"], 50)])
            await _check(s, a, Status.REMOVED_UPLOADER, 1 + 10 / 24)
            await _check(s, a, Status.REMOVED_UPLOADER, 1 + 18 / 24)
            # B: not found, confirmed on day 2; only a partial capture (the page)
            await _capture(s, b, "partial", 0.3, [("page", SHA["b"], 200)])
            await _check(s, b, Status.NOT_FOUND, 2 + 8 / 24)
            await _check(s, b, Status.NOT_FOUND, 2 + 20 / 24)
            # C: private on day 1, nothing held
            await _capture(s, c, "failed", 1, [("page", SHA["c"], 30)])
            await _check(s, c, Status.PRIVATE, 1.5)
            # D: one unconfirmed down result: still up
            await _check(s, d, Status.REMOVED_POLICY, 3.5)
            # E: only inconclusive results: unknown
            await _check(s, e, Status.RATE_LIMITED, 2)
    return cfg


async def _report(cfg: Path, report: str | None) -> LinkrotReport:
    async with read_archive(load_config(cfg, env={})) as archive:
        return await linkrot(archive.db, report=report, now=NOW)


@pytest.fixture
async def archive_cfg(tmp_path: Path) -> Path:
    return await _build(tmp_path)


async def test_counts_reasons_copies_and_since(archive_cfg: Path) -> None:
    result = await _report(archive_cfg, None)
    r1, r2 = result.reports
    assert (r1.name, r2.name) == ("r1.txt", "r2.txt")
    assert (r1.counts.up, r1.counts.down, r1.counts.restricted, r1.counts.unknown) == (1, 2, 1, 1)
    assert r1.down_by_reason == (("not_found", 1), ("removed_uploader", 1))
    assert (r2.counts.down, r2.counts.total) == (1, 1)
    assert result.totals.total == 5  # distinct targets over both reports
    links = {link.key: link for link in r1.links}
    a, b, c, d, e = (links[f"youtube:{x * 11}"] for x in "ABCDE")
    assert a.labels == ("1- كاسم المنسي",)
    assert (a.status, a.kind, a.since) == ("removed_uploader", "down",
                                           "2026-01-02T18:00:00.000000Z")
    assert a.copy is not None and a.copy.held == "complete" and not a.lost
    assert [(f.sha256, f.size) for f in a.copy.files] == [(SHA["a"], 1000)]  # media only
    assert a.copy.captured_at == "2026-01-01T07:12:00.000000Z"
    assert (b.status, b.since) == ("not_found", "2026-01-03T20:00:00.000000Z")
    assert b.copy is not None and b.copy.held == "page only" and b.lost
    assert [f.sha256 for f in b.copy.files] == [SHA["b"]]
    assert (c.kind, c.copy, c.lost) == ("restricted", None, True)  # a failed capture is no copy
    assert (d.status, d.kind, d.last_status) == ("available", "up", "removed_policy")
    assert (e.status, e.kind, e.since, e.last_status) == ("unknown", "unknown", None,
                                                          "rate_limited")


async def test_history_replays_the_confirmed_changes_per_day(archive_cfg: Path) -> None:
    r1 = (await _report(archive_cfg, "r1.txt")).reports[0]
    days = {h.day: (h.counts.up, h.counts.down, h.counts.restricted, h.counts.unknown)
            for h in r1.history}
    assert list(days) == [f"2026-01-0{n}" for n in range(1, 7)]  # first change .. now
    assert days["2026-01-01"] == (3, 0, 0, 2)
    assert days["2026-01-02"] == (2, 1, 1, 1)
    assert days["2026-01-03"] == (1, 2, 1, 1)
    assert days["2026-01-06"] == (1, 2, 1, 1)


async def test_one_report_by_name_or_hash_and_an_unknown_one(archive_cfg: Path) -> None:
    result = await _report(archive_cfg, "r2.txt")
    assert [r.name for r in result.reports] == ["r2.txt"]
    by_hash = await _report(archive_cfg, result.reports[0].sha256[:12])
    assert [r.name for r in by_hash.reports] == ["r2.txt"]
    with pytest.raises(UnknownKey, match="no report named"):
        await _report(archive_cfg, "nope.txt")


async def test_json_shape(archive_cfg: Path) -> None:
    data = json.loads(as_text(await _report(archive_cfg, None), "json"))
    assert list(data) == ["generated_at", "totals", "down_by_reason", "history", "reports"]
    assert data["totals"] == {"up": 1, "down": 2, "restricted": 1, "unknown": 1, "total": 5}
    r1 = data["reports"][0]
    assert list(r1) == ["name", "sha256", "counts", "down_by_reason", "history", "links"]
    assert r1["down_by_reason"] == {"not_found": 1, "removed_uploader": 1}
    assert r1["history"][1] == {"day": "2026-01-02", "up": 2, "down": 1, "restricted": 1,
                                "unknown": 1}
    link = r1["links"][0]
    assert sorted(link) == sorted(["key", "url", "labels", "status", "kind", "since",
                                   "last_checked_at", "last_status", "copy", "lost", "witness"])
    assert link["copy"]["files"] == [{"role": "media", "sha256": SHA["a"], "size": 1000}]
    again = await _report(archive_cfg, None)
    assert data == json.loads(json.dumps(to_json(again)))  # deterministic


async def test_csv_one_row_per_link(archive_cfg: Path) -> None:
    rows = list(csv.reader(io.StringIO(as_text(await _report(archive_cfg, None), "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0][:11] == ["report", "label", "key", "url", "status", "kind", "since",
                            "copy_sha256", "copy_size", "copied_at", "lost"]
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(body) == 6  # five links of r1, one of r2
    a = body[0]
    assert (a["report"], a["label"], a["status"], a["kind"]) == (
        "r1.txt", "1- كاسم المنسي", "removed_uploader", "down")
    assert (a["copy_sha256"], a["copy_size"], a["lost"], a["copy"]) == (
        SHA["a"], "1000", "false", "complete")
    b = body[1]
    assert b["label"] == f"2- {HOSTILE}"  # CSV carries the text as it is
    assert (b["copy_sha256"], b["lost"], b["copy"]) == (SHA["b"], "true", "page only")
    c = body[2]
    assert (c["copy_sha256"], c["copied_at"], c["lost"]) == ("", "", "true")


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_html_is_self_contained_rtl_and_escaped(archive_cfg: Path) -> None:
    result = await _report(archive_cfg, None)
    page = render_html(result)
    parser = _Collect()
    parser.feed(page)
    parser.close()
    tags = [t for t, _ in parser.tags]
    assert parser.tags[0] == ("html", {"lang": "ar", "dir": "rtl"})
    assert "svg" in tags and "rect" in tags and "script" not in tags
    assert HOSTILE not in page
    assert "2- &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"2- {HOSTILE}" in "".join(parser.text)  # read back as text, not markup
    assert "كاسم المنسي" in page and "محذوف" in page
    for bad in ("<script", "<link", "@import", "url(", "<img", "<iframe"):
        assert bad not in page.lower()
    # every http(s) in the page is a cited link, shown left to right
    urls = {link.url for r in result.reports for link in r.links}
    assert page.count("http") == sum(page.count(u) for u in urls)
    assert f'<span dir="ltr" class="ltr ">{SHA["a"]}' not in page
    assert f'<span dir="ltr" class="ltr hash">{SHA["a"]}</span>' in page


def _cli(tmp_path: Path, cfg: Path, *args: str) -> CliResult:
    return run_cli("linkrot", *args, config=cfg, cwd=tmp_path)


def _one_line_error(proc: CliResult, match: str) -> None:
    assert proc.code == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and match in lines[0], proc.stderr


async def test_cli_formats_and_usage_errors(archive_cfg: Path, tmp_path: Path) -> None:
    table = _cli(tmp_path, archive_cfg)
    assert table.code == 0, table.stderr
    assert "r1.txt" in table.stdout and "LOST" in table.stdout
    csv_out = _cli(tmp_path, archive_cfg, "--format", "csv", "--report", "r2.txt")
    assert csv_out.code == 0 and csv_out.stdout.splitlines()[1].startswith("r2.txt,")
    page = tmp_path / "rot.html"
    done = _cli(tmp_path, archive_cfg, "--format", "html", "--out", str(page))
    assert done.code == 0 and done.stdout == ""
    assert '<html lang="ar" dir="rtl">' in page.read_text(encoding="utf-8")
    _one_line_error(_cli(tmp_path, archive_cfg, "--format", "pdf"), "--format must be")
    _one_line_error(_cli(tmp_path, archive_cfg, "--format", "json", "--out",
                         str(tmp_path / "missing" / "x.json")), "cannot write")
    _one_line_error(_cli(tmp_path, archive_cfg, "--report", "nope.txt"), "no report named")


def test_every_status_has_an_arabic_name_on_the_link_rot_page() -> None:
    from preserver.views.linkrot.html import STATUS_AR
    from workers import Status

    assert set(STATUS_AR) == {s.value for s in Status}
