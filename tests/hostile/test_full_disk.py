"""A real full disk during a capture loses nothing: the job waits, the next run captures.

The data directory (database included, as by default) is a small tmpfs (root only:
elsewhere these tests are skipped, saying so). The fixture site on 127.0.0.1 serves a
page with a ``<video>`` of about 1.1 MB while 512 KiB are left: the page and the
database writes fit, yt-dlp's download hits ENOSPC in the job's work directory.
Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import OFFLINE, OPERATOR, run_cli, run_in
from tests.support.disk import mount_tmpfs, unmount
from tests.support.fixture_site import FixtureSite, make_clip, video_tag_page

LEFT = 512 * 1024  # bytes left free: the page and the database fit, the video does not


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB filesystem, or a skip saying why there is none."""
    where = tmp_path / "disk"
    where.mkdir()
    if not mount_tmpfs(where, "8m"):
        pytest.skip("a real full disk needs a tmpfs, which only root may mount here")
    try:
        yield where
    finally:
        unmount(where)


def _fill(where: Path, *, leave: int) -> Path:
    """Take all the free space of ``where``'s filesystem but ``leave`` bytes."""
    st = os.statvfs(where)
    filler = where / "filler"
    with filler.open("wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


@pytest.fixture(scope="module")
def large_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "large.mp4", freq=770, pattern="testsrc2",
                     duration=4, size="640x480", rate=25)


def _setup(tmp_path: Path, disk: Path, site: FixtureSite, clip: Path) -> tuple[Path, Path]:
    video = site.add_file("/v/large.mp4", clip, "video/mp4")
    page = site.add_bytes("/post.html", video_tag_page(video, title="Douma"), "text/html")
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{disk / "archive"}"\n' + OPERATOR + OFFLINE
        + '[capture]\nmax_attempts = 2\nretry_delay = "1s"\ntimeout = "20s"\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n', encoding="utf-8")
    report = tmp_path / "report.txt"
    report.write_text(f"1- الضحية الأولى\n{page}\n", encoding="utf-8")
    return config, report


def _link(config: Path) -> dict[str, Any]:
    [link] = json.loads(run_cli("links", "--json", config=config, check=0).stdout)
    return link  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "preserve"])
def test_full_disk_capture_waits_for_space_then_completes(
    tmp_path: Path, tmpfs: Path, site: FixtureSite, large_clip: Path, command: str
) -> None:
    """``run`` (or ``preserve`` of the same report) on a full disk keeps nothing and leaves
    the job waiting; the same command, once space is freed, captures the video whole."""
    config, report = _setup(tmp_path, tmpfs, site, large_clip)
    args = (command, str(report)) if command == "preserve" else (command,)
    run_cli("ingest", str(report), config=config, check=0)
    filler = _fill(tmpfs, leave=LEFT)

    run_cli(*args, config=config, check=0)

    link = _link(config)
    assert link["job"]["state"] == "retry"  # not done: it waits for the next run
    assert "No space left on device" in link["job"]["last_error"]
    assert link["captures"] == []  # nothing recorded as the target's final state
    shown = json.loads(run_cli("show", link["key"], "--json", config=config, check=0).stdout)
    assert [e["action"] for e in shown["events"]].count("capture_failed") == 2  # both attempts
    assert run_cli("verify", config=config).code == 0  # nothing claims more than it holds
    assert not any((tmpfs / "archive" / "tmp").iterdir())  # no half-written file left

    filler.unlink()  # space again
    run_cli(*args, config=config, check=0)

    link = _link(config)
    assert link["job"]["state"] == "done"
    [capture] = link["captures"]
    assert capture["state"] == "complete"
    media = {f["sha256"] for f in capture["files"] if f["role"] == "media"}
    assert hashlib.sha256(large_clip.read_bytes()).hexdigest() in media
    run_cli("verify", config=config, check=0)


# -- doctor and status say when the largest expected capture would not fit ----------------


def _words(table: str) -> str:
    """A rendered table's text with its cell borders and line wrapping undone."""
    return " ".join(table.replace("│", " ").split())


def _archive_with_max_bytes(tmp_path: Path, max_bytes: int) -> dict[str, str]:
    report = tmp_path / "no-links.txt"
    report.write_text("تقرير بلا روابط\n", encoding="utf-8")
    env = {"PRESERVER_CAPTURE_MAX_BYTES": str(max_bytes)}
    assert run_in(tmp_path, "ingest", str(report), env=env).code == 0
    return env


def test_status_and_doctor_say_when_a_largest_capture_would_not_fit(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    env = _archive_with_max_bytes(tmp_path, free + 1024**3)  # [capture] max_bytes > free space

    disk = json.loads(run_in(tmp_path, "status", "--json", env=env).stdout)["disk"]
    assert disk["low"] is True
    assert disk["needed_bytes"] == free + 1024**3 and 0 < disk["free_bytes"] < free + 1024**3
    assert disk["path"] == str(tmp_path / "archive" / "tmp")
    assert "lower [capture] max_bytes" in disk["fix"]
    text = _words(run_in(tmp_path, "status", env=env).stdout)
    assert "low on space" in text and "free space on the disk of" in text

    doctor = _words(run_in(tmp_path, "doctor", env=env).stdout)
    assert "less than the largest expected capture" in doctor
    assert "lower [capture] max_bytes" in doctor


def test_status_is_quiet_when_a_largest_capture_fits(tmp_path: Path) -> None:
    env = _archive_with_max_bytes(tmp_path, 1024)
    disk = json.loads(run_in(tmp_path, "status", "--json", env=env).stdout)["disk"]
    assert (disk["low"], disk["fix"]) == (False, None)
    assert "low on space" not in _words(run_in(tmp_path, "status", env=env).stdout)
    assert "largest expected capture" not in _words(run_in(tmp_path, "doctor", env=env).stdout)


def test_a_first_start_on_a_full_disk_says_so_in_one_line(tmp_path: Path) -> None:
    """SQLite rolls back by itself when the disk fills; the explicit rollback after it
    ("no transaction is active") must not hide the real cause."""
    where = tmp_path / "small"
    where.mkdir()
    if not mount_tmpfs(where, "48k"):
        pytest.skip("needs root and mount for a real small filesystem")
    try:
        report = tmp_path / "r.txt"
        report.write_text("1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
        result = run_in(where, "ingest", str(report))
        assert result.code == 1
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "database or disk is full" in lines[0], result.stderr
    finally:
        unmount(where)
