"""A command imports only what it uses (issue 12: `--help` and the read commands start
fast). Each case runs the command in a new interpreter and lists which heavy modules it
loaded; ``bench/startup.py`` gives the times. No timing is asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import default_config, run_in

# Capture-only (yt-dlp, Playwright, httpx), PostgreSQL's driver, Alembic, the package verifier
HEAVY = ("yt_dlp", "playwright", "httpx", "asyncpg", "alembic", "ctypes", "rfc3161_client",
         "manifests.package_verify")
# What a read command loads but --help need not
DATABASE = ("sqlalchemy", "sqlmodel", "aiosqlite", "asyncio")
DRAWING = ("rich.table", "rich.progress")


def loaded(cwd: Path, *args: str) -> set[str]:
    """Which of HEAVY, DATABASE and DRAWING ``preserver ARGS`` imported, run as the CLI does."""
    code = ("import sys; sys.argv = ['preserver', *sys.argv[1:]]\n"
            "from preserver.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            f"print(*sorted(set({HEAVY + DATABASE + DRAWING!r}) & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.strip().splitlines()[-1].split()) if proc.stdout.strip() else set()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding one ingested report of a YouTube and a web link."""
    root = tmp_path_factory.mktemp("startup")
    report = root / "r.txt"
    report.write_text("1- a video\nhttps://youtu.be/45WIwFETn3E\n2- a post\n"
                      "https://example.org/post\n", encoding="utf-8")
    assert run_in(root, "ingest", str(report)).code == 0
    return root


def test_help_loads_no_database_asyncio_or_capture_code(tmp_path: Path) -> None:
    """typer's own help draws a rich table; nothing else of ours is needed to list commands."""
    assert loaded(tmp_path, "--help") & {*HEAVY, *DATABASE, "rich.progress"} == set()


def test_a_commands_help_loads_no_database(tmp_path: Path) -> None:
    assert loaded(tmp_path, "run", "--help") & {*HEAVY, *DATABASE} == set()


@pytest.mark.slow
@pytest.mark.parametrize("args", [["status"], ["links"], ["show", "web:https://example.org/post"],
                                  ["linkrot"]], ids=lambda a: a[0])
def test_read_commands_load_no_capture_code(archive: Path, args: list[str]) -> None:
    """The read path opens SQLite: no yt-dlp, Playwright, httpx, asyncpg, Alembic, nor the
    timestamp and package verifiers."""
    got = loaded(archive, "--config", str(default_config(archive)), *args)
    assert {"sqlalchemy", "aiosqlite"} <= got, got  # the command did run
    assert got & set(HEAVY) == set()


@pytest.mark.slow
@pytest.mark.parametrize("args", [["status", "--json"], ["links", "--json"],
                                  ["show", "youtube:45WIwFETn3E"]], ids=" ".join)
def test_output_without_a_table_loads_no_table(archive: Path, args: list[str]) -> None:
    got = loaded(archive, "--config", str(default_config(archive)), *args)
    assert "sqlalchemy" in got
    assert got & set(DRAWING) == set(), got


@pytest.mark.slow
def test_a_table_is_loaded_by_the_command_that_draws_it(archive: Path) -> None:
    """The guard above can fail: ``status`` draws a table and so loads rich.table."""
    got = loaded(archive, "--config", str(default_config(archive)), "status")
    assert "rich.table" in got and "rich.progress" not in got
