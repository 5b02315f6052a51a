"""A command imports only what it uses (issue 12: `--help` and the read commands start
fast). Each case runs the command in a new interpreter and lists which heavy modules it
loaded; ``bench/startup.py`` gives the times. No timing is asserted here.

The read commands take the read path (docs/design.md "The read path"): SQLite through the
standard library's ``sqlite3``, PostgreSQL through asyncpg, and no SQLAlchemy at all."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import OFFLINE, OPERATOR, default_config, run_in
from tests.support.fixture_site import FixtureSite, Media
from tests.support.postgres import BACKENDS, create_database, drop_database

# Capture-only (yt-dlp, Playwright, httpx), PostgreSQL's driver, Alembic, the package verifier
HEAVY = ("yt_dlp", "playwright", "httpx", "asyncpg", "alembic", "ctypes", "rfc3161_client",
         "manifests.package_verify")
# The ORM and its drivers: what a writing command loads, and a read command must not
ORM = ("sqlalchemy", "sqlalchemy.orm", "sqlmodel", "aiosqlite", "preserver.db.models")
# What a read command loads but --help need not
DATABASE = (*ORM, "sqlite3", "asyncio")
DRAWING = ("rich.table", "rich.progress")
CONFIG = ("preserver.config",)  # read by every command that runs, not by `--help`


def loaded(cwd: Path, *args: str) -> set[str]:
    """Which of HEAVY, DATABASE and DRAWING ``preserver ARGS`` imported, run as the CLI does."""
    code = ("import sys; sys.argv = ['preserver', *sys.argv[1:]]\n"
            "from preserver.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            f"print(*sorted(set({HEAVY + DATABASE + DRAWING + CONFIG!r}) & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.strip().splitlines()[-1].split()) if proc.stdout.strip() else set()


@pytest.fixture(scope="module", params=BACKENDS)
def archive(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An archive holding one ingested report of a YouTube and a web link, on each backend."""
    root = tmp_path_factory.mktemp("startup")
    report = root / "r.txt"
    report.write_text("1- a video\nhttps://youtu.be/45WIwFETn3E\n2- a post\n"
                      "https://example.org/post\n", encoding="utf-8")
    if request.param == "sqlite":
        assert run_in(root, "ingest", str(report)).code == 0
        yield root
        return
    name, url = asyncio.run(create_database())
    try:
        (root / "config.toml").write_text(f'data_dir = "archive"\ndatabase_url = "{url}"\n'
                                          + OPERATOR + OFFLINE,
                                          encoding="utf-8")
        assert run_in(root, "ingest", str(report)).code == 0
        yield root
    finally:
        asyncio.run(drop_database(name))


def test_help_loads_no_database_asyncio_or_capture_code(tmp_path: Path) -> None:
    """typer's own help draws a rich table; nothing else of ours is needed to list commands."""
    assert loaded(tmp_path, "--help") & {*HEAVY, *DATABASE, *CONFIG, "rich.progress"} == set()


def test_a_commands_help_loads_no_database(tmp_path: Path) -> None:
    assert loaded(tmp_path, "run", "--help") & {*HEAVY, *DATABASE} == set()


@pytest.mark.slow
@pytest.mark.parametrize("args", [["status"], ["links"], ["show", "web:https://example.org/post"],
                                  ["linkrot"]], ids=lambda a: a[0])
def test_read_commands_load_no_capture_code_and_no_orm(archive: Path, args: list[str]) -> None:
    """The read path: no yt-dlp, Playwright, httpx, Alembic, nor the timestamp and package
    verifiers; no SQLAlchemy; asyncpg only for a PostgreSQL archive."""
    got = loaded(archive, "--config", str(default_config(archive)), *args)
    postgres = "database_url" in default_config(archive).read_text(encoding="utf-8")
    assert "sqlite3" in got or postgres, got  # the command did run
    assert got & {*HEAVY, *ORM} == ({"asyncpg"} if postgres else set()), got


@pytest.mark.slow
def test_a_writing_command_loads_the_orm(tmp_path: Path) -> None:
    """The guard above can fail: ``ingest`` writes through the ORM, and so loads it."""
    report = tmp_path / "r.txt"
    report.write_text("https://example.org/post\n", encoding="utf-8")
    got = loaded(tmp_path, "--config", str(default_config(tmp_path)), "ingest", str(report))
    assert set(ORM) <= got, got


@pytest.mark.slow
@pytest.mark.parametrize("args", [["status", "--json"], ["links", "--json"],
                                  ["show", "youtube:45WIwFETn3E"]], ids=" ".join)
def test_output_without_a_table_loads_no_table(archive: Path, args: list[str]) -> None:
    got = loaded(archive, "--config", str(default_config(archive)), *args)
    assert "asyncio" in got  # the command did run
    assert got & set(DRAWING) == set(), got


@pytest.mark.slow
def test_a_table_is_loaded_by_the_command_that_draws_it(archive: Path) -> None:
    """The guard above can fail: ``status`` draws a table and so loads rich.table."""
    got = loaded(archive, "--config", str(default_config(archive)), "status")
    assert "rich.table" in got and "rich.progress" not in got


@pytest.mark.slow
def test_a_capture_run_never_loads_yt_dlp_in_preservers_process(
        tmp_path: Path, site: FixtureSite, media: Media) -> None:
    """yt-dlp runs in the capture processes only (their server has it loaded): preserver's
    own process neither imports it (about 0.4 s and 45 MB) nor needs it to record which
    version captured; the capture is whole all the same."""
    url = site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    report = tmp_path / "r.txt"
    report.write_text(f"1- a video\n{url}\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        'data_dir = "archive"\n' + OPERATOR + OFFLINE
        + '[network]\nallow_networks = ["127.0.0.1/32"]\n', encoding="utf-8")
    got = loaded(tmp_path, "--config", str(tmp_path / "config.toml"), "preserve", str(report))
    assert "yt_dlp" not in got and "httpx" in got, got  # it did capture, through httpx too
    done = run_in(tmp_path, "--config", str(tmp_path / "config.toml"), "links", "--json")
    (row,) = json.loads(done.stdout)
    (capture,) = row["captures"]
    assert capture["state"] == "complete", capture
    import yt_dlp.version

    shown = run_in(tmp_path, "--config", str(tmp_path / "config.toml"), "show", row["key"],
                   "--json")
    assert yt_dlp.version.__version__ in shown.stdout  # the collection record's versions
