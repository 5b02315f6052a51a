"""URLs given directly (``preserve URL…``, ``preserve -``, ``ingest``) through the real CLI:
one report of their own whose bytes are the URLs as given; hostile standard input exits 2
with one line and records nothing."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import select
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from preserver.ingest.urls import is_url
from tests.support.cli import (
    OFFLINE,
    OPERATOR,
    assert_one_line_error,
    default_config,
    run_cli,
    run_cli_process,
    start_cli,
)
from tests.support.fixture_site import FixtureSite, Media

A = "https://youtu.be/Xq3vT9aLm2Q"
B = "https://www.facebook.com/watch/?v=1234567890"
NAME = re.compile(r"^urls-\d{4}-\d{2}-\d{2}-[0-9a-f]{12}\.txt$")


def cli(root: Path, *args: str, stdin: bytes | None = None) -> Any:
    return run_cli(*args, config=default_config(root), cwd=root, stdin=stdin)


def status(root: Path) -> dict[str, Any]:
    if not (root / "archive").exists():  # never opened: read commands do not create one
        return {"reports": 0}
    return json.loads(cli(root, "status", "--json").stdout)


def citations(root: Path) -> list[dict[str, Any]]:
    rows = json.loads(cli(root, "links", "--json").stdout)
    return sorted((c for row in rows for c in row["citations"]),
                  key=lambda c: (c["report"], c["line"]))


def url_report(body: bytes) -> tuple[str, str]:
    """The report a list of URLs becomes: (name pattern's hash part, SHA-256)."""
    digest = hashlib.sha256(body).hexdigest()
    return digest[:12], digest


@pytest.mark.parametrize(
    ("text", "url"),
    [
        (A, True), ("http://example.org/x?y=1", True), ("www.example.org/page", True),
        ("youtu.be/Xq3vT9aLm2Q", True), ("m.facebook.com/story.php?id=1", True),
        ("example.org/page", False),  # a bare host reports do not cite without a scheme
        ("report.txt", False), ("https://", False), (f"{A} {B}", False), (f" {A}", False),
        (f"see {A}", False), ("", False), (f"{A}\n{B}", False),
    ],
)
def test_what_is_a_url(text: str, url: bool) -> None:
    assert is_url(text) is url


def test_urls_as_arguments_are_one_report_of_their_own(tmp_path: Path) -> None:
    done = cli(tmp_path, "ingest", A, "youtu.be/AAAAAAAAAAA", B)
    assert done.code == 0, done.stderr
    short, digest = url_report(f"{A}\nyoutu.be/AAAAAAAAAAA\n{B}\n".encode())
    cited = citations(tmp_path)
    assert {c["report"] for c in cited} == {f"urls-{_today(cited)}-{short}.txt"}
    assert {c["report_sha256"] for c in cited} == {digest}
    assert [(c["line"], c["raw_url"]) for c in cited] == [
        (1, A), (2, "youtu.be/AAAAAAAAAAA"), (3, B)]
    assert NAME.match(cited[0]["report"])
    assert f"{cited[0]['report']}: 3 citations of 3 targets (3 new)" in done.stderr
    # the same URLs again are the same report: nothing added
    again = cli(tmp_path, "ingest", A, "youtu.be/AAAAAAAAAAA", B)
    assert "already ingested" in again.stderr
    assert status(tmp_path)["reports"] == 1
    assert not list((tmp_path / "archive" / "tmp").glob("urls-*"))  # nothing left behind


def test_paths_and_urls_in_one_command(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text(f"1- الأول\n{B}\n", encoding="utf-8")
    named_like_a_url = tmp_path / "www.example.org"  # an existing file is a path
    named_like_a_url.write_text(f"2- الثاني\n{A}\n", encoding="utf-8")
    done = cli(tmp_path, "ingest", A, str(report), "www.example.org", "youtu.be/AAAAAAAAAAA")
    assert done.code == 0, done.stderr
    reports = [line.split(":")[0] for line in done.stderr.splitlines()]
    assert reports[1:] == ["report.txt", "www.example.org"]
    assert NAME.match(reports[0])  # the URLs' report, where the first URL stood
    by_report = {c["report"]: c for c in citations(tmp_path)}
    assert set(by_report) == {reports[0], "report.txt", "www.example.org"}
    assert status(tmp_path)["reports"] == 3


def test_a_missing_path_is_still_no_such_file(tmp_path: Path) -> None:
    assert_one_line_error(cli(tmp_path, "ingest", "example.org/page"), 2,
                          "example.org/page: no such file")
    assert_one_line_error(cli(tmp_path, "ingest", "reprot.txt"), 2, "reprot.txt: no such file")
    assert status(tmp_path)["reports"] == 0
    # reports are ingested in the order given, each whole or not at all: the URLs' report
    # before the missing file is recorded, as a report file before it would be
    assert_one_line_error(cli(tmp_path, "ingest", A, "reprot.txt"), 2, "no such file")
    assert status(tmp_path)["reports"] == 1


def test_urls_from_standard_input(tmp_path: Path) -> None:
    given = (f"# the Douma list\n\n  {A}  \r\nnot a url\n{B}\n" + "https://example.org/"
             + "a" * 20_000 + "\nwww.example.org/last").encode()  # no newline at the end
    done = cli(tmp_path, "ingest", "-", stdin=given)
    assert done.code == 0, done.stderr
    body = f"{A}\n{B}\nhttps://example.org/{'a' * 20_000}\nwww.example.org/last\n".encode()
    short, digest = url_report(body)
    cited = citations(tmp_path)
    assert {c["report_sha256"] for c in cited} == {digest}
    assert cited[0]["report"].endswith(f"-{short}.txt")
    assert [c["raw_url"] for c in cited] == [A, B, "www.example.org/last"]
    # skipped lines are numbered as on standard input: the line that is not a URL, and
    # the URL too long to capture
    skipped = [line for line in done.stderr.splitlines() if "skipped line" in line]
    assert skipped[0].startswith("  skipped line 4: 'not a url': not a URL")
    assert skipped[1].startswith("  skipped line 6: ") and "long" in skipped[1]
    assert len(skipped) == 2


def test_stdin_and_url_arguments_make_one_report(tmp_path: Path) -> None:
    done = cli(tmp_path, "ingest", A, "-", stdin=f"{B}\n".encode())
    assert done.code == 0, done.stderr
    assert {c["report_sha256"] for c in citations(tmp_path)} == {url_report(
        f"{A}\n{B}\n".encode())[1]}


@pytest.mark.parametrize(
    ("stdin", "args", "match"),
    [
        (b"", ("-",), "standard input: no URL (one URL per line"),
        (b"\n\n# only a comment\n   \n", ("-",), "standard input: no URL"),
        (b"not a url\nnor this\n", ("-",), "standard input: no URL: line 1 is not a URL"),
        (b"\x00\x01\x02\xff" * 1000, ("-",), "standard input: binary content"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100, ("-",), "standard input: binary"),
        ("https://example.org/é\n".encode("latin-1"), ("-",),
         "standard input: not valid UTF-8"),
        (b"x" * 1024 * 1024, ("-",), "standard input: no URL: line 1 is not a URL"),
        (f"{A}\n".encode(), ("-", "-"), "standard input (-) given twice"),
    ],
    ids=["empty", "blank", "no-url", "binary", "png", "latin-1", "1mb-line", "twice"],
)
def test_bad_standard_input_exits_2_and_records_nothing(tmp_path: Path, stdin: bytes,
                                                        args: tuple[str, ...],
                                                        match: str) -> None:
    assert_one_line_error(cli(tmp_path, "ingest", *args, stdin=stdin), 2, match)
    assert status(tmp_path)["reports"] == 0


@pytest.mark.slow
def test_100_mb_on_standard_input_is_refused_through_a_pipe(tmp_path: Path) -> None:
    flood = (A + "\n").encode() * (100 * 1024 * 1024 // (len(A) + 1))
    done = run_cli_process("ingest", "-", config=default_config(tmp_path), cwd=tmp_path,
                           stdin=flood)
    assert_one_line_error(done, 2, "standard input: over the limit of 52428800 bytes")
    assert status(tmp_path)["reports"] == 0


@pytest.mark.slow
def test_a_1_mb_url_line_is_skipped_with_its_line(tmp_path: Path) -> None:
    done = cli(tmp_path, "ingest", "-",
               stdin=f"{A}\nhttps://example.org/{'a' * 1024 * 1024}\n".encode())
    assert done.code == 0, done.stderr
    assert "  skipped line 2: " in done.stderr and "long" in done.stderr
    assert [c["raw_url"] for c in citations(tmp_path)] == [A]


@pytest.mark.slow
def test_preserve_urls_end_to_end(tmp_path: Path, site: FixtureSite, media: Media) -> None:
    """``preserve URL URL`` captures from the fixture site; ``preserve -`` (a real pipe)
    the same; the URLs' report is in ``links``, in the custody ledger and in its export."""
    clip = site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    page = site.add_bytes("/post", b"<html><body><p>statement</p></body></html>", "text/html")
    config = tmp_path / "config.toml"
    config.write_text('data_dir = "archive"\n' + OPERATOR + "[capture]\nmax_attempts = 1\n"
                      '[network]\nallow_networks = ["127.0.0.1/32"]\n' + OFFLINE, "utf-8")
    done = run_cli("preserve", clip, page, "--json", config=config, cwd=tmp_path, check=0)
    rows = json.loads(done.stdout)
    assert {row["url"] for row in rows} == {clip, page}
    assert all(c["state"] in ("complete", "partial") for r in rows for c in r["captures"])
    assert any(c["state"] == "complete" for r in rows for c in r["captures"])
    (report,) = {c["report"] for r in rows for c in r["citations"]}
    assert NAME.match(report) and report.endswith(
        f"-{url_report(f'{clip}{chr(10)}{page}{chr(10)}'.encode())[0]}.txt")
    # through a pipe, in a process of its own: the same URLs are the same report
    piped = run_cli_process("preserve", "-", "--json", config=config, cwd=tmp_path,
                            stdin=f"{clip}\n{page}\n".encode(), check=0)
    assert {c["report"] for r in json.loads(piped.stdout) for c in r["citations"]} == {report}
    out = tmp_path / "pkg"
    run_cli("export", "--report", report, str(out), config=config, cwd=tmp_path, check=0)
    (carried,) = [p for p in out.rglob(report)]
    assert carried.read_bytes() == f"{clip}\n{page}\n".encode()


def test_a_url_with_a_space_is_named_as_given(tmp_path: Path) -> None:
    # not read as the path "https:/example.org/a b" (which "no such file" would name)
    assert_one_line_error(cli(tmp_path, "ingest", "https://example.org/a b"), 2,
                          "https://example.org/a b: not one URL (a space or a quote in it")
    assert status(tmp_path)["reports"] == 0


def test_the_same_urls_on_another_day_name_the_first_days_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import preserver.ingest.urls

    with monkeypatch.context() as patched:
        patched.setattr(preserver.ingest.urls, "utc_now",
                        lambda: datetime(2026, 1, 1, 12, tzinfo=UTC))
        first = cli(tmp_path, "ingest", A, B)
    assert first.stderr.startswith("urls-2026-01-01-"), first.stderr
    again = cli(tmp_path, "ingest", A, B)  # today: the report recorded on 1 January
    name = first.stderr.split(":")[0]
    assert again.stderr.startswith(f"{name}: already ingested"), again.stderr
    assert {c["report"] for c in citations(tmp_path)} == {name}


@pytest.mark.slow
def test_standard_input_on_a_terminal_says_how_to_end_it(tmp_path: Path) -> None:
    terminal, its_side = os.openpty()
    proc = start_cli("ingest", "-", config=default_config(tmp_path), cwd=tmp_path,
                     stdin=its_side)
    os.close(its_side)
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "nothing said while waiting for the terminal"
        assert "end with Ctrl-D" in proc.stderr.readline()
        os.write(terminal, f"{A}\n".encode() + b"\x04")
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(terminal)
        if proc.stderr is not None:
            proc.stderr.close()
    assert status(tmp_path)["reports"] == 1


def test_a_killed_ingests_work_directory_is_removed_by_the_next(tmp_path: Path) -> None:
    # what SIGKILL leaves: tmp/urls-<hex>/ with the report file, its lock gone with it
    assert cli(tmp_path, "ingest", A).code == 0
    tmp = tmp_path / "archive" / "tmp"
    dead = tmp / f"urls-{'0' * 32}"
    dead.mkdir()
    (dead / "urls-2026-01-01-000000000000.txt").write_bytes(b"x" * 1000)
    alive = tmp / f"urls-{'1' * 32}"  # a running ingest holds the lock of its own
    alive.mkdir()
    held = os.open(alive, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cli(tmp_path, "ingest", B).code == 0
        assert sorted(p.name for p in tmp.iterdir()) == [alive.name]
    finally:
        os.close(held)


def test_a_url_argument_after_standard_input_is_numbered_by_its_place(tmp_path: Path) -> None:
    # skipped "line" of a URL argument: its place among the URL arguments (1), not
    # counted on from the URLs standard input gave
    long = "https://example.org/" + "a" * 9000
    done = cli(tmp_path, "ingest", "-", long, stdin=f"{A}\n{B}\n".encode())
    assert done.code == 0, done.stderr
    assert "  skipped line 1: " in done.stderr and "long" in done.stderr, done.stderr


def _today(cited: list[dict[str, Any]]) -> str:
    return cited[0]["report"].split("-", 1)[1][:10]
