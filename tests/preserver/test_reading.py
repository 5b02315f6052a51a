"""The read path (preserver/db/reading.py): the views read the same through the fast
readers (sqlite3, asyncpg) as through SQLAlchemy; it opens read-only, refuses a schema
behind or ahead of the code in the words every other open uses, and a file that is not a
database, or a damaged one, is one line of error that changes nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from preserver.archive import open_archive
from preserver.config import load_config
from preserver.db import pauses
from preserver.db.engine import Database
from preserver.db.models import Capture, CaptureFile, Target
from preserver.db.reading import Reader, open_reader, safe_url
from preserver.db.values import utc_now
from preserver.errors import RunError, SchemaBehind, SchemaNewer
from preserver.ingest.report import ingest_report
from preserver.views import links, lookup, reports_named, show, status
from preserver.views.linkrot import linkrot, to_json
from tests.support.cli import assert_one_line_error, default_config, run_in
from tests.support.schema import HEAD, downgrade, set_revision

REPORT = ("1- «كاسم»\nhttps://youtu.be/AAAAAAAAAAA\n2- a post\nhttps://example.org/post?a=1\n"
          "3- again\nhttps://youtu.be/AAAAAAAAAAA\n")
SHA = hashlib.sha256(b"a clip").hexdigest()


@pytest.fixture
async def filled(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """``db_url`` holding a report, a capture with a file, a check, a pause: every view has
    rows, times and bytes to read."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "archive"}"\ndatabase_url = "{db_url}"\n',
                   encoding="utf-8")
    (tmp_path / "r.txt").write_text(REPORT, encoding="utf-8")
    async with open_archive(load_config(cfg, env={})) as archive:
        await ingest_report(archive, tmp_path / "r.txt")
        async with archive.db.session() as s:
            target = (await s.execute(
                Target.__table__.select().where(Target.__table__.c.key  # type: ignore[attr-defined]
                                                == "youtube:AAAAAAAAAAA"))).one()
            now = utc_now()
            capture_id = str(uuid.uuid4())
            s.add(Capture(id=capture_id, target_id=target.id, state="complete",
                          status="available", requested_url="u", started_at=now,
                          finished_at=now + timedelta(seconds=1), manifest_sha256="a" * 64,
                          signature_sha256="0" * 64, key_id="0" * 64))
            await s.flush()
            s.add(CaptureFile(capture_id=capture_id, role="media", name="clip.mp4", sha256=SHA,
                              size=6, media_type="video/mp4"))
            await pauses.note(s, "youtube", wall=True, bot_check=True, success=False,
                              policy=pauses.PausePolicy(pause_after=1), message="bot", now=now)
    yield db_url


async def _every_view(reader: Reader) -> dict[str, Any]:
    now = utc_now()
    return {"status": await status(reader), "links": await links(reader),
            "by_report": await links(reader, report="r.txt"),
            "show": await show(reader, "youtube:AAAAAAAAAAA"), "lookup": await lookup(reader, SHA),
            "reports": await reports_named(reader, "r.txt"),
            "linkrot": to_json(await linkrot(reader, report=None, now=now))}


async def test_the_fast_readers_read_what_sqlalchemy_reads(filled: str) -> None:
    async with open_reader(filled) as reader:
        assert reader.dialect in ("sqlite", "postgresql")
        fast = await _every_view(reader)
    db = await Database.open(filled, read_only=True)
    try:
        async with db.reader() as reader:
            slow = await _every_view(reader)
    finally:
        await db.close()
    for view in ("linkrot",):  # generated now, a moment apart
        fast[view].pop("generated_at"), slow[view].pop("generated_at")
    assert fast == slow
    assert fast["show"]["captures"][0]["files"][0]["sha256"] == SHA  # there was data to read
    assert [p["group"] for p in fast["status"]["paused"]] == ["youtube"]
    assert fast["lookup"][0]["captured_at"].endswith("Z")


async def test_a_url_with_options_reads_through_sqlalchemy(filled: str) -> None:
    """A URL the fast readers do not take whole (query options) still reads, the same."""
    sep = "&" if "?" in filled else "?"
    option = "timeout=5" if filled.startswith("sqlite") else "command_timeout=30"
    async with open_reader(f"{filled}{sep}{option}") as reader, open_reader(filled) as fast:
        assert type(reader) is not type(fast)
        assert await links(reader) == await links(fast)


async def test_the_reader_refuses_writes(filled: str) -> None:
    async with open_reader(filled) as reader:
        with pytest.raises(RunError, match="(?i)^database error: .*read-?only"):
            await reader.rows("DELETE FROM events")
    async with open_reader(filled) as reader:
        assert (await status(reader))["ledger"]["events"] > 0  # nothing was deleted


async def test_an_older_schema_is_refused(db: Database, db_url: str) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(downgrade, "0001")
    with pytest.raises(SchemaBehind, match=f"^the archive's database is at revision 0001, "
                                           f"this preserver needs {HEAD}: run `preserver "
                                           "migrate`$"):
        async with open_reader(db_url):
            pass


async def test_a_newer_schema_is_refused(db: Database, db_url: str) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(set_revision, "9999")
    with pytest.raises(SchemaNewer, match=r"^the archive's database is at revision 9999, newer "
                                          r"than this preserver \(which knows revisions up to "
                                          f"{HEAD}\\): upgrade preserver$"):
        async with open_reader(db_url):
            pass


async def test_a_database_without_a_schema_is_refused(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        (tmp_path / "preserver.db").write_bytes(b"")
    with pytest.raises(SchemaBehind, match=r"at revision \(none\), .*run `preserver migrate`"):
        async with open_reader(db_url):
            pass


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = "postgresql+asyncpg://someone:s3cret@127.0.0.1:1/archive"
    assert safe_url(url) == "postgresql+asyncpg://someone:***@127.0.0.1:1/archive"
    with pytest.raises(RunError, match=r"^cannot open database postgresql\+asyncpg://someone:"
                                       r"\*\*\*@127\.0\.0\.1:1/archive: ") as caught:
        async with open_reader(url):
            pass
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("where", ["missing.db", "no-such-dir/preserver.db"])
async def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path, where: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / where}"
    with pytest.raises(RunError, match=r"^cannot use database .* does not exist$"):
        async with open_reader(url):
            pass
    assert not (tmp_path / where).exists()


# -- hostile files as the archive's database, through the CLI ------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reading-template")
    (root / "r.txt").write_text(REPORT, encoding="utf-8")
    assert run_in(root, "ingest", str(root / "r.txt")).code == 0
    return root


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _damaged(database: Path) -> bytes:
    """The database's header and first page kept, every later page overwritten."""
    data = database.read_bytes()
    return data[:4096] + b"\xff" * (len(data) - 4096)


@pytest.mark.parametrize("content", [
    pytest.param(lambda db: b"this is not a database, it is a letter\n" * 200, id="text"),
    pytest.param(lambda db: b"SQLite format 3\x00" + b"\x00" * 84, id="header-only"),
    pytest.param(_damaged, id="damaged-pages"),
])
@pytest.mark.parametrize("command", ["status --json", "links", "show youtube:AAAAAAAAAAA",
                                     "lookup r.txt", "linkrot --format json"])
def test_a_file_that_is_not_a_good_database_is_one_line(root: Path, command: str,
                                                        content: Any) -> None:
    database = root / "archive" / "preserver.db"
    database.write_bytes(content(database))
    before = database.read_bytes()
    proc = run_in(root, *command.split())
    assert_one_line_error(proc, 1, "")
    assert any(words in proc.stderr for words in (
        "cannot open database", "database error:", "at revision (none)")), proc.stderr
    assert database.read_bytes() == before


@pytest.mark.parametrize("key", ["' OR 1=1 --", "youtube:%", ":id", "$1", "x" * 10_000])
def test_hostile_keys_and_report_names_find_nothing(root: Path, key: str) -> None:
    assert_one_line_error(run_in(root, "show", key), 2, "no target, capture id or manifest")
    assert_one_line_error(run_in(root, "links", "--report", key), 2, "no report named")
    assert_one_line_error(run_in(root, "linkrot", "--report", key), 2, "no report named")


def test_a_read_command_answers_the_same_twice(root: Path) -> None:
    """One read transaction per command; the JSON contract comes out whole."""
    first = run_in(root, "links", "--json")
    assert first.code == 0, first.stderr
    assert json.loads(first.stdout)[0]["citations"][0]["label"] == "1- «كاسم»"
    assert run_in(root, "links", "--json").stdout == first.stdout
    assert default_config(root).is_file()
