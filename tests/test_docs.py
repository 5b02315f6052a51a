"""Every document the code cites is in the repository, with the section it names.

Docstrings and comments under ``preserver``, ``workers``, ``storage``, ``manifests``,
``tests`` and ``bench`` cite the design (``docs/design.md "Data directory"``). A
citation is any name ending in ``.md`` and any ``docs/…`` path; it must name a file
of the repository, relative to its root. When the name is followed by a section in
double quotes, that text must be a heading of the file (backticks ignored). A
maintainer who clones the repository then finds every document the code refers to.

The one ``.md`` name that is not a repository file is ``VERIFY.md``: a file inside
every exported evidence package (``manifests.package_layout.VERIFY_MD``).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from manifests.package_layout import VERIFY_MD

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("preserver", "workers", "storage", "manifests", "tests", "bench")
PACKAGE_FILES = frozenset({VERIFY_MD, PurePosixPath(VERIFY_MD).name})

_CITATION = re.compile(r"(?<![\w./-])(docs/[\w./-]*\w|\w[\w./-]*\.md)(?![\w/])")
_SECTION = re.compile(r'`*[ \t]*[,:]?\s*\(?"([^"]+)"')
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


@dataclass(frozen=True, kw_only=True)
class Citation:
    where: str  # "path:line"
    path: str  # as cited
    section: str | None


def citations_in(text: str, *, where: str, first_line: int) -> Iterator[Citation]:
    """The citations in one docstring or comment that starts at ``first_line``."""
    for match in _CITATION.finditer(text):
        section = _SECTION.match(text, match.end())
        line = first_line + text.count("\n", 0, match.start())
        yield Citation(where=f"{where}:{line}", path=match.group(1),
                       section=" ".join(section.group(1).split()) if section else None)


def _texts(source: str) -> Iterator[tuple[str, int]]:
    """(text, first line) of every comment and docstring in a module's source."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.string, token.start[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                yield body[0].value.value, body[0].lineno


def _python_files() -> list[Path]:
    return sorted(p for top in SCANNED for p in (ROOT / top).rglob("*.py"))


def headings(path: Path) -> set[str]:
    """The headings of a Markdown file, without ``#`` marks and backticks."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _HEADING.match(line):
            found.add(" ".join(match.group(1).replace("`", "").split()))
    return found


def problems(citations: list[Citation], root: Path = ROOT) -> list[str]:
    """What is wrong with these citations, one line each."""
    out = []
    for c in citations:
        if c.path in PACKAGE_FILES:
            continue
        target = root / c.path
        if not target.is_file():
            out.append(f"{c.where}: cites {c.path}, which is not a file of the repository")
        elif c.section is not None and c.section not in headings(target):
            out.append(f"{c.where}: cites {c.path} \"{c.section}\", which is not a heading there")
    return out


def all_citations() -> list[Citation]:
    found: list[Citation] = []
    for path in _python_files():
        rel = path.relative_to(ROOT).as_posix()
        for text, line in _texts(path.read_text(encoding="utf-8")):
            found += citations_in(text, where=rel, first_line=line)
    return found


@pytest.mark.slow
def test_every_cited_document_and_section_is_in_the_repository() -> None:
    found = all_citations()
    assert len([c for c in found if c.path.startswith("docs/")]) >= 20  # the scan sees them
    assert problems(found) == []


@pytest.mark.parametrize(("text", "expected"), [
    ('(DESIGN.md, "Data directory")', [("DESIGN.md", "Data directory")]),
    ('notes/yt-dlp.md §2.2', [("notes/yt-dlp.md", None)]),
    ('``docs/design.md`` "Links and\n    targets" (contract)', [("docs/design.md", "Links and targets")]),
    ("see docs/yt-dlp.md.", [("docs/yt-dlp.md", None)]),
    ('the rules in docs/design.md ("Layers") that', [("docs/design.md", "Layers")]),
    ("readers for ``.md`` and ``.markdown`` files", []),
])
def test_citations_are_found_with_their_section(
        text: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(c.path, c.section) for c in citations_in(text, where="x.py", first_line=1)] == expected


def test_a_citation_of_a_file_outside_the_repository_is_a_problem() -> None:
    cited = list(citations_in('"""Layout (DESIGN.md, "Data directory", contract)."""',
                              where="storage/local.py", first_line=3))
    assert problems(cited) == [
        "storage/local.py:3: cites DESIGN.md, which is not a file of the repository"]


def test_a_section_that_is_not_a_heading_is_a_problem() -> None:
    cited = list(citations_in('docs/design.md "Data directories"', where="x.py", first_line=1))
    assert problems(cited) == [
        'x.py:1: cites docs/design.md "Data directories", which is not a heading there']
    assert problems(list(citations_in('docs/design.md "Data directory"', where="x.py",
                                      first_line=1))) == []


def test_the_evidence_package_readme_is_not_a_repository_file() -> None:
    cited = list(citations_in("writes data/VERIFY.md and VERIFY.md", where="x.py", first_line=1))
    assert len(cited) == 2
    assert problems(cited) == []


@pytest.mark.parametrize("document", sorted(
    [*(ROOT / "docs").glob("*.md"), ROOT / "README.md"], key=str), ids=lambda p: p.name)
def test_relative_links_in_the_documents_resolve(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    broken = [link for link in _MD_LINK.findall(text)
              if "://" not in link and not link.startswith("#")
              and not (document.parent / link.split("#", 1)[0]).exists()]
    assert broken == []
