"""The CLI's error boundary: bad input exits 2 with one line and no traceback; an
unusable archive exits 1; nothing is lost or half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preserver.config import load_config
from preserver.doctor import check_ffprobe
from tests.support.cli import OFFLINE, OPERATOR, assert_one_line_error, run_in
from tests.support.web_actions import events


def init_archive(tmp_path: Path) -> None:
    """An archive holding one report without links."""
    report = tmp_path / "no-links.txt"
    report.write_text("تقرير بلا روابط\n", encoding="utf-8")
    assert run_in(tmp_path, "ingest", str(report)).code == 0


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("binary.txt", b"\x00\x01\x02\xff" * 100, "binary"),
        ("empty.txt", b"", "empty"),
        ("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        ("tool.exe", b"MZ\x90\x00\x03" + b"\x00" * 200, "not a report"),
    ],
)
def test_bad_reports_exit_2_and_add_nothing(tmp_path: Path, name: str, content: bytes,
                                            match: str) -> None:
    report = tmp_path / name
    report.write_bytes(content)
    proc = run_in(tmp_path, "ingest", str(report))
    assert_one_line_error(proc, 2, match)
    status = json.loads(run_in(tmp_path, "status", "--json").stdout)
    assert status["reports"] == 0 and status["citations"] == 0
    assert status["paused"] == []  # no group paused by walls


def test_missing_report_exits_2(tmp_path: Path) -> None:
    assert_one_line_error(run_in(tmp_path, "preserve", str(tmp_path / "nope.txt")), 2, "nope.txt")


def test_huge_report_is_refused(tmp_path: Path) -> None:
    report = tmp_path / "huge.txt"
    with report.open("wb") as fh:  # sparse: 60 MiB of nothing, larger than the limit
        fh.truncate(60 * 1024 * 1024)
    proc = run_in(tmp_path, "ingest", str(report))
    assert proc.code == 2 and "Traceback" not in proc.stderr


def test_broken_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[capture\nconcurrency = 4", encoding="utf-8")
    assert_one_line_error(run_in(tmp_path, "status", config=cfg), 2, "not valid TOML")


def test_bad_environment_override_exits_2(tmp_path: Path) -> None:
    proc = run_in(tmp_path, "status", env={"PRESERVER_CAPTURE_CONCURRENCY": "-3"})
    assert_one_line_error(proc, 2, "capture.concurrency")


def test_unusable_data_dir_exits_1(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory")
    cfg = tmp_path / "c.toml"
    cfg.write_text('data_dir = "afile/archive"\n' + OPERATOR + OFFLINE, encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text("1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    assert_one_line_error(run_in(tmp_path, "preserve", str(report), config=cfg), 1, "data directory")


def test_unknown_key_exits_2(tmp_path: Path) -> None:
    init_archive(tmp_path)
    assert_one_line_error(run_in(tmp_path, "show", "youtube:xxxxxxxxxxx"), 2, "youtube:xxxxxxxxxxx")


def test_unknown_report_filter_exits_2(tmp_path: Path) -> None:
    init_archive(tmp_path)
    assert_one_line_error(run_in(tmp_path, "links", "--report", "nope.txt"), 2, "no report named")


def test_lookup_of_missing_file_exits_2(tmp_path: Path) -> None:
    assert_one_line_error(run_in(tmp_path, "lookup", str(tmp_path / "clip.mp4")), 2, "cannot read")


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = run_in(tmp_path, "frobnicate")
    assert proc.code == 2 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["status", "links", "verify", "show youtube:xxxxxxxxxxx"])
def test_read_commands_never_create_an_archive(tmp_path: Path, command: str) -> None:
    """A mistyped data_dir is an error, not a new empty archive that "verifies"."""
    assert_one_line_error(run_in(tmp_path, *command.split()), 1, "no archive at")
    assert not (tmp_path / "archive").exists()


def test_a_missing_signing_key_is_reported(tmp_path: Path) -> None:
    init_archive(tmp_path)
    (tmp_path / "archive" / "keys" / "signing.key").unlink()
    assert_one_line_error(run_in(tmp_path, "verify"), 1, "signing key is missing")


def test_verify_of_an_empty_archive_passes(tmp_path: Path) -> None:
    init_archive(tmp_path)
    proc = run_in(tmp_path, "verify", "--json")
    assert proc.code == 0, proc.stderr
    assert json.loads(proc.stdout) == [] or all(
        f["outcome"] != "failed" for f in json.loads(proc.stdout))



def test_verify_shows_blobs_and_throughput(tmp_path: Path) -> None:
    init_archive(tmp_path)
    proc = run_in(tmp_path, "verify")
    assert proc.code == 0, proc.stderr
    blobs = sum(1 for p in (tmp_path / "archive" / "blobs" / "sha256").rglob("*") if p.is_file())
    assert blobs > 0
    assert f"{blobs}/{blobs} blobs" in proc.stderr and "MB/s" in proc.stderr

def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    init_archive(tmp_path)
    key = tmp_path / "archive" / "keys" / "signing.key"
    first = key.read_bytes()
    assert key.stat().st_mode & 0o777 == 0o600
    run_in(tmp_path, "status")
    assert key.read_bytes() == first


@pytest.mark.slow
def test_doctor_reports_each_check(tmp_path: Path) -> None:
    proc = run_in(tmp_path, "doctor")
    for name in ("operator", "ffmpeg", "ffprobe", "JavaScript runtime", "yt-dlp", "Chromium",
                 "clock", "database", "data directory", "signing key", "timestamp authorities"):
        assert name in proc.stdout


def test_doctor_warns_without_ffprobe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an ffmpeg with no ffprobe beside it, and none on PATH
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ffmpeg = bin_dir / "ffmpeg"
    ffmpeg.write_text("#!/bin/sh\necho 'ffmpeg version test'\n", encoding="utf-8")
    ffmpeg.chmod(0o755)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[capture]\nffmpeg = "{ffmpeg}"\n', encoding="utf-8")
    monkeypatch.setenv("PATH", str(bin_dir))

    check = check_ffprobe(load_config(cfg, env={}))

    assert (check.name, check.outcome) == ("ffprobe", "warn")
    assert "not checked" in check.detail
    (bin_dir / "ffprobe").write_bytes(ffmpeg.read_bytes())
    (bin_dir / "ffprobe").chmod(0o755)
    assert check_ffprobe(load_config(cfg, env={})).outcome == "ok"


# -- the operator: preserve, run and serve refuse to collect without one -----------------------

NO_OPERATOR = ("no operator: evidence needs the name of who collects it; give --operator NAME, "
               'set PRESERVER_OPERATOR, or write operator = "NAME" in config.toml')


def _collecting(command: str, tmp_path: Path) -> list[str]:
    report = tmp_path / "r.txt"
    report.write_text("1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    return [command, str(report)] if command == "preserve" else [command]


@pytest.mark.parametrize("command", ["preserve", "run", "serve"])
@pytest.mark.parametrize(("top", "env", "option"), [
    ("", {}, []),  # nowhere
    ('operator = "   "\n', {}, []),  # whitespace only, in the file
    ("", {"PRESERVER_OPERATOR": " \t"}, []),  # whitespace only, in the environment
    ('operator = "Rim"\n', {}, ["--operator", " "]),  # the option overrides, and is empty
], ids=["none", "config-blank", "env-blank", "option-blank"])
def test_an_empty_operator_is_refused_before_anything_starts(
        tmp_path: Path, command: str, top: str, env: dict[str, str], option: list[str]) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n' + top + OFFLINE, encoding="utf-8")
    proc = run_in(tmp_path, *_collecting(command, tmp_path), *option, config=cfg, env=env)
    assert_one_line_error(proc, 2, NO_OPERATOR)
    assert not (tmp_path / "archive").exists()  # no archive opened, nothing captured


@pytest.mark.parametrize(("top", "env", "option", "expected"), [
    ('operator = "  Rim Haddad "\n', {}, [], "Rim Haddad"),
    ("", {"PRESERVER_OPERATOR": "Rim Haddad"}, [], "Rim Haddad"),
    ('operator = "Rim"\n', {"PRESERVER_OPERATOR": "Env"}, ["--operator", "Opt Name"], "Opt Name"),
], ids=["config", "env", "option-overrides"])
@pytest.mark.slow
def test_the_operator_from_config_env_or_option_is_recorded(
        tmp_path: Path, top: str, env: dict[str, str], option: list[str],
        expected: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n' + top + OFFLINE, encoding="utf-8")
    report = tmp_path / "r.txt"
    report.write_text("1- اسم\nhttp://127.0.0.1:9/closed\n", encoding="utf-8")
    proc = run_in(tmp_path, "preserve", str(report), "--json", *option, config=cfg, env=env)
    assert proc.code == 0, proc.stderr
    [item] = json.loads(proc.stdout)
    shown = json.loads(run_in(tmp_path, "show", item["key"], "--json", config=cfg).stdout)
    [capture] = shown["captures"]
    assert capture["collection"]["operator"] == expected
    assert capture["collection"]["outside_address"]["error"].startswith("not asked")
    table = run_in(tmp_path, "show", item["key"], config=cfg).stdout
    assert f"collected by {expected} on " in table
    assert "clock offset unknown (not measured: [collection] ntp_server is empty)" in table


def test_doctor_flags_an_empty_operator(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n' + OFFLINE, encoding="utf-8")
    proc = run_in(tmp_path, "doctor", config=cfg)
    assert proc.code == 1
    assert "FAIL operator" in " ".join(proc.stdout.split())
    assert "PRESERVER_OPERATOR" in proc.stdout


def test_json_is_written_as_rich_printed_it(tmp_path: Path) -> None:
    """Off a terminal, ``--json`` is written by ``json.dumps`` itself (rich's highlighter
    cost 2.6 s per 1,000 links): the same bytes rich printed, indent 2, Arabic as is."""
    import io

    from rich.console import Console

    report = tmp_path / "r.txt"
    report.write_text("1- ضحية <b>&amp;</b> [bold]x[/bold] :smile:\nhttps://youtu.be/AAAAAAAAAAA\n",
                      encoding="utf-8")
    assert run_in(tmp_path, "ingest", str(report)).code == 0
    written = run_in(tmp_path, "links", "--json").stdout
    rich = io.StringIO()
    Console(file=rich, soft_wrap=True, force_terminal=False).print_json(
        json.dumps(json.loads(written), ensure_ascii=False), ensure_ascii=False)
    assert written == rich.getvalue()
    assert "ضحية" in written


def test_ingest_json_names_its_operator_and_may_require_links(tmp_path: Path) -> None:
    """``ingest --json --operator NAME --require-links`` (what the web's upload runs): the
    result as JSON, the custody event in NAME's name; a report citing no link that can be
    preserved exits 2 with one line and records nothing."""
    report = tmp_path / "r.txt"
    report.write_text("1- شاهد\nhttps://example.org/cli-json\nnot-a-url\n", encoding="utf-8")
    proc = run_in(tmp_path, "ingest", "--json", "--operator", "  Ana ", "--require-links",
                  str(report), env={"PRESERVER_OPERATOR": "env-operator"})
    assert proc.code == 0, proc.stderr
    [result] = json.loads(proc.stdout)
    assert (result["report"], result["citations"], result["already_ingested"]) == (
        "r.txt", 1, False)
    assert set(result) == {"report", "report_sha256", "already_ingested", "citations",
                           "targets", "new_targets", "queued", "skipped", "skipped_count"}
    assert [e["actor"]["operator"] for e in events(tmp_path / "archive", "report_ingested")] \
        == ["Ana"]
    no_links = tmp_path / "words.txt"
    no_links.write_text("only words\nhttp://\n", encoding="utf-8")
    assert_one_line_error(run_in(tmp_path, "ingest", "--require-links", str(no_links)), 2,
                          "no link in it that can be preserved")
    assert json.loads(run_in(tmp_path, "status", "--json").stdout)["reports"] == 1
    assert_one_line_error(run_in(tmp_path, "ingest", "--operator", " ", str(report)), 2,
                          "no operator")
