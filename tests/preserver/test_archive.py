"""How commands open the archive: the read-only ones (status, links, show, lookup,
linkrot) create nothing, migrate nothing and leave the database file's bytes and
mtime alone; verify records its check but creates and migrates nothing; a schema
behind the code names `preserver migrate`, one ahead of it is refused by every
command."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from preserver.config import load_config
from preserver.doctor import Check, check_database
from tests.support.cli import assert_one_line_error, run_in
from tests.support.schema import HEAD, downgrade, set_revision

READ_COMMANDS = ["status", "links", "show youtube:45WIwFETn3E", "lookup clip.mp4", "linkrot"]
CHECKING_COMMANDS = [*READ_COMMANDS, "verify"]
SIDECARS = {"preserver.db-wal", "preserver.db-shm"}  # SQLite's, for readers of a WAL file
BEHIND = f"the archive's database is at revision 0001, this preserver needs {HEAD}: " \
         "run `preserver migrate`"

Tree = dict[str, tuple[str, int, int]]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive citing one link (config, report, a file to look up), built once."""
    root = tmp_path_factory.mktemp("archive-template")
    report = root / "report.txt"
    report.write_text("1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    (root / "clip.mp4").write_bytes(b"not archived")
    proc = run_in(root, "ingest", str(report))
    assert proc.code == 0, proc.stderr
    return root


@pytest.fixture
def archive(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path, dirs_exist_ok=True, symlinks=True)
    return tmp_path / "archive"


def snapshot(root: Path) -> Tree:
    """Every entry under ``root`` (and ``root``): content hash, mode, mtime."""
    tree: Tree = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        tree[str(path.relative_to(root))] = (digest, st.st_mode, st.st_mtime_ns)
    return tree


def assert_untouched(archive: Path, before: Tree) -> None:
    """Nothing changed, was created or removed, but SQLite's reader files beside the database
    (an empty ``-wal``; they make the archive directory's mtime move)."""
    after = snapshot(archive)
    assert after["preserver.db"] == before["preserver.db"]
    assert set(after) - set(before) <= SIDECARS
    assert {k: v for k, v in after.items() if k not in SIDECARS | {"."}} == \
        {k: v for k, v in before.items() if k != "."}
    wal = archive / "preserver.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def at_revision(archive: Path, change: Callable[[sa.Connection], None]) -> None:
    """Apply ``change`` to the archive's database, as another preserver version would."""
    engine = sa.create_engine(f"sqlite:///{archive / 'preserver.db'}")
    try:
        with engine.begin() as conn:
            change(conn)
    finally:
        engine.dispose()


# -- (a) no archive: an error, and nothing is created -------------------------------------


@pytest.mark.parametrize("command", CHECKING_COMMANDS)
def test_no_archive_creates_nothing(tmp_path: Path, command: str) -> None:
    (tmp_path / "config.toml").write_text('data_dir = "archive"\n', encoding="utf-8")
    (tmp_path / "clip.mp4").write_bytes(b"a file to look up")
    before = snapshot(tmp_path)
    assert_one_line_error(run_in(tmp_path, *command.split()), 1, "no archive at")
    assert snapshot(tmp_path) == before
    (tmp_path / "archive").mkdir()  # a mistyped data_dir that exists: still nothing made in it
    before = snapshot(tmp_path)
    assert_one_line_error(run_in(tmp_path, *command.split()), 1, "no archive database in")
    assert snapshot(tmp_path) == before


# -- (b) a database behind the code: refused, nothing written -----------------------------


@pytest.mark.parametrize("command", CHECKING_COMMANDS)
def test_an_older_schema_is_refused_and_left_alone(archive: Path, command: str) -> None:
    at_revision(archive, lambda conn: downgrade(conn, "0001"))
    before = snapshot(archive)
    assert_one_line_error(run_in(archive.parent, *command.split()), 1, BEHIND)
    assert_untouched(archive, before)


def test_migrate_brings_an_older_schema_up_to_date(archive: Path) -> None:
    at_revision(archive, lambda conn: downgrade(conn, "0001"))
    proc = run_in(archive.parent, "migrate")
    assert proc.code == 0, proc.stderr
    assert f"migrated from revision 0001 to {HEAD}" in proc.stdout
    assert json.loads(run_in(archive.parent, "migrate", "--json").stdout) == \
        {"before": HEAD, "after": HEAD}
    status = run_in(archive.parent, "status", "--json")
    assert status.code == 0, status.stderr
    assert json.loads(status.stdout)["citations"] == 1


def test_migrate_never_creates_an_archive(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('data_dir = "archive"\n', encoding="utf-8")
    assert_one_line_error(run_in(tmp_path, "migrate"), 1, "no archive at")
    assert not (tmp_path / "archive").exists()


# -- a database ahead of the code: refused by every command --------------------------------


@pytest.mark.parametrize("command", ["status", "verify", "ingest report.txt", "migrate"])
def test_a_newer_schema_is_refused(archive: Path, command: str) -> None:
    at_revision(archive, lambda conn: set_revision(conn, "9999"))
    before = snapshot(archive)["preserver.db"]
    assert_one_line_error(run_in(archive.parent, *command.split()), 1,
                          f"at revision 9999, newer than this preserver (which knows "
                          f"revisions up to {HEAD}): upgrade preserver")
    assert snapshot(archive)["preserver.db"] == before


# -- (c) a current archive: read-only commands work and write nothing ----------------------


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_read_commands_leave_the_archive_untouched(archive: Path, command: str) -> None:
    before = snapshot(archive)
    proc = run_in(archive.parent, *command.split())
    assert proc.code == 0, proc.stderr
    assert_untouched(archive, before)


def test_verify_records_its_check_and_creates_nothing(archive: Path) -> None:
    shutil.rmtree(archive / "tmp")
    (archive / "keys" / "signing.pub").unlink()
    events = json.loads(run_in(archive.parent, "status", "--json").stdout)["ledger"]["events"]
    keys, blobs = snapshot(archive / "keys"), snapshot(archive / "blobs")
    proc = run_in(archive.parent, "verify")
    assert proc.code == 0, proc.stderr
    assert not (archive / "tmp").exists()
    assert (snapshot(archive / "keys"), snapshot(archive / "blobs")) == (keys, blobs)
    after = json.loads(run_in(archive.parent, "status", "--json").stdout)["ledger"]["events"]
    assert after == events + 1  # fixity_checked



def _database_check(root: Path) -> Check:
    if not (root / "config.toml").exists():
        (root / "config.toml").write_text('data_dir = "archive"\n', encoding="utf-8")
    return asyncio.run(check_database(load_config(root / "config.toml")))


def test_doctor_never_creates_a_database(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    check = _database_check(tmp_path)
    assert check.outcome == "ok" and "created on first use" in check.detail
    assert list((tmp_path / "archive").iterdir()) == []


def test_doctor_names_migrate_for_an_older_schema_and_leaves_it(archive: Path) -> None:
    at_revision(archive, lambda conn: downgrade(conn, "0001"))
    before = snapshot(archive)
    check = _database_check(archive.parent)
    assert check.outcome == "warn" and check.detail == BEHIND
    assert "preserver migrate" in check.fix
    assert_untouched(archive, before)


def test_doctor_fails_a_newer_schema(archive: Path) -> None:
    at_revision(archive, lambda conn: set_revision(conn, "9999"))
    check = _database_check(archive.parent)
    assert check.outcome == "fail" and "newer than this preserver" in check.detail
    assert check.fix == "upgrade preserver"
    assert run_in(archive.parent, "doctor").code == 1


def test_doctor_passes_a_current_archive_and_leaves_it(archive: Path) -> None:
    before = snapshot(archive)
    assert _database_check(archive.parent).outcome == "ok"
    assert_untouched(archive, before)


def test_a_new_archive_is_private_to_its_owner(tmp_path: Path) -> None:
    report = tmp_path / "r.txt"
    report.write_text("1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    assert run_in(tmp_path, "ingest", str(report)).code == 0
    assert (tmp_path / "archive").stat().st_mode & 0o777 == 0o700


def test_an_archive_open_to_others_is_closed_when_written(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir(mode=0o755)
    (tmp_path / "archive").chmod(0o755)
    report = tmp_path / "r.txt"
    report.write_text("1- اسم\nhttps://youtu.be/45WIwFETn3E\n", encoding="utf-8")
    result = run_in(tmp_path, "ingest", str(report))
    assert result.code == 0
    assert (tmp_path / "archive").stat().st_mode & 0o777 == 0o700
    assert "was open to other users (mode 755); now 0700" in result.stderr
