"""The shape of the code, checked: the rules in docs/design.md ("Layers") that
import-linter (``lint-imports``, run by ``.ci/run``) does not state itself."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("preserver", "workers", "storage", "manifests")
LIBRARIES = ("workers", "storage", "manifests")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# A function longer than MAX_FUNCTION_LINES needs a reason here.
LONG_FUNCTIONS = {
    ("preserver/db/migrations/versions/0001_initial_schema.py", "upgrade"):
        "the first schema, table by table, as Alembic writes it",
    ("preserver/export/readme.py", "render_verify_md"):
        "the text of VERIFY.md: one template, read top to bottom like the document",
    ("preserver/verify/ledger.py", "verify_ledger"):
        "the orchestrator: numbered steps, each labelled, that must run in order",
    ("workers/_media_options.py", "build_options"):
        "one dictionary of yt-dlp options, each commented where it is set",
    ("workers/page.py", "snapshot_page"):
        "one redirect loop that writes each hop's WARC records as it goes",
    ("preserver/export/package.py", "export_package"):
        "the export's steps in order: gather, write, self-check, publish, record",
    ("preserver/capture/record.py", "record_result"):
        "one transaction: rows, manifest, signature, availability, custody event",
}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", _sources(), ids=_name)
def test_modules_are_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines: split it by job"


def test_long_functions_have_a_reason() -> None:
    long = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.add((_name(path), node.name))
    assert long - LONG_FUNCTIONS.keys() == set(), "split these, or give the reason here"
    assert LONG_FUNCTIONS.keys() - long == set(), "no longer long: drop them from the list"


@pytest.mark.parametrize("path", sorted((ROOT / "preserver").rglob("*.py")), ids=_name)
def test_preserver_uses_the_libraries_through_their_public_names(path: Path) -> None:
    """``from workers import make_client``, never ``from workers.net import …``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in LIBRARIES:
                assert node.module == top, f"{_name(path)}:{node.lineno} imports {node.module}"
                public = importlib.import_module(top).__all__
                for alias in node.names:
                    assert alias.name in public, f"{_name(path)}:{node.lineno}: {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                assert top not in LIBRARIES or alias.name == top, \
                    f"{_name(path)}:{node.lineno} imports {alias.name}"
