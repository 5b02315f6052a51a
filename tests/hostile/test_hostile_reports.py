"""Hostile reports through the real CLI: garbage, huge, deep, mislabelled. Each is
refused with one line (exit 2) or read for what it is; nothing crashes, nothing
cited is dropped without a word, and no report is half-ingested."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import assert_one_line_error, run_in


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("report.txt", b"%PDF-1.7\n1 0 obj\n", "truncated or damaged PDF"),
        ("report.md", b"PK\x03\x04" + b"\0" * 64, "a truncated or corrupt ZIP container"),
        ("report.html", b"MZ\x90\x00" + b"\0" * 64, "a Windows program, although it is named"),
        ("report", b"\x7fELF\x02\x01" + b"\0" * 64, "the content is a Linux program"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "the content is a PNG image"),
        ("scan.md", b"\xff\xd8\xff\xe0" + b"\0" * 64, "the content is a JPEG image"),
    ],
)
def test_a_mislabelled_report_is_named_for_its_content(tmp_path: Path, name: str,
                                                       content: bytes, match: str) -> None:
    report = tmp_path / name
    report.write_bytes(content)
    assert_one_line_error(run_in(tmp_path, "ingest", str(report)), 2, match)
    # nothing recorded: the next status shows no report
    assert json.loads(run_in(tmp_path, "status", "--json").stdout)["reports"] == 0


@pytest.mark.slow
def test_a_ten_megabyte_url_is_reported_skipped_not_dropped(tmp_path: Path) -> None:
    huge = "https://example.org/" + "a" * (10 * 1024 * 1024)
    report = tmp_path / "huge-url.txt"
    report.write_text(f"1- اسم\n{huge}\n2- اسم آخر\nhttps://youtu.be/45WIwFETn3E\n",
                      encoding="utf-8")
    result = run_in(tmp_path, "ingest", str(report))
    assert result.code == 0, result.stderr
    assert "1 citations of 1 targets" in result.stderr
    skipped = [line for line in result.stderr.splitlines() if "skipped line 2" in line]
    assert len(skipped) == 1 and "over the limit of 8192" in skipped[0]
    assert len(result.stderr) < 2_000  # the URL itself is clipped, not printed whole


@pytest.mark.slow
def test_deeply_nested_html_is_read(tmp_path: Path) -> None:
    depth = 200_000
    report = tmp_path / "deep.html"
    report.write_text("<html><body>" + "<div>" * depth + "<p>1- اسم</p>"
                      "<a href='https://youtu.be/45WIwFETn3E'>شاهد</a>" + "</div>" * depth
                      + "</body></html>", encoding="utf-8")
    result = run_in(tmp_path, "ingest", str(report))
    assert result.code == 0, result.stderr
    assert "1 citations of 1 targets" in result.stderr


@pytest.mark.slow
def test_one_line_of_garbage_megabytes_long_gives_no_link_and_no_error(tmp_path: Path) -> None:
    report = tmp_path / "garbage.txt"
    report.write_text("".join(chr(0x600 + i % 200) for i in range(3_000_000)), encoding="utf-8")
    result = run_in(tmp_path, "ingest", str(report))
    assert result.code == 0, result.stderr
    assert "0 citations of 0 targets" in result.stderr


@pytest.mark.parametrize("opening", ["MZ-2024 هجوم على المدينة", "GIF89a: صورة متحركة"])
def test_text_that_begins_like_a_program_or_image_is_read(tmp_path: Path, opening: str) -> None:
    """Two-byte signatures name a file's content only when what follows is not text."""
    report = tmp_path / "report.md"
    report.write_text(f"{opening}\n\n1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    result = run_in(tmp_path, "ingest", str(report))
    assert result.code == 0, result.stderr
    assert "1 citations of 1 targets" in result.stderr
