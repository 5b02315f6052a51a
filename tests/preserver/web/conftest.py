"""The web tests' archive: report A (two clips and a page) preserved from the fixture
site, one user per role, and ``preserver web`` serving it (tests/support/web.py); built
once per session and copied for each module, as a capture costs seconds."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.preserver.web.report_data import HostileReport, ingest_hostile
from tests.support.cli import NO_COLLECTION, run_cli
from tests.support.evidence import preserve
from tests.support.fixture_site import FixtureSite, Media, html_page
from tests.support.web import PASSWORD, ROLES, WebSite, serve_web
from tests.support.web_browser import chromium  # noqa: F401 (a fixture for the browser tests)


@dataclass(frozen=True, kw_only=True)
class WebArchive:
    site: WebSite
    report: Path  # report A, as ingested
    clip_url: str  # a clip report A cites, captured
    page_url: str  # a page report A cites, captured


def write_web_config(root: Path) -> Path:
    config = root / "config.toml"
    config.write_text(
        f'data_dir = "{root / "archive"}"\noperator = "test-archivist"\n'
        '[capture]\ntimeout = "20s"\nmax_attempts = 1\n'
        '[network]\nallow_networks = ["127.0.0.1/32"]\n'
        '[browser]\nenabled = false\n' + NO_COLLECTION, encoding="utf-8")
    return config


@dataclass(frozen=True, kw_only=True)
class _Template:
    root: Path  # holds archive/ and the report file
    report_name: str
    clip_url: str
    page_url: str


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory, media: Media) -> Iterator[_Template]:
    """Report A preserved once per session, with a user per role: each module's
    ``web_archive`` is a copy of it (a capture costs seconds, a copy milliseconds). The
    fixture site stays up for the session, so the cited URLs still answer."""
    root = tmp_path_factory.mktemp("web-template")
    fixtures = FixtureSite.start()
    try:
        clip = fixtures.add_file("/a/clip.mp4", media.mp4, "video/mp4")
        page = fixtures.add_bytes("/a/statement.html",
                                  html_page(title="Statement", body="<p>statement</p>"),
                                  "text/html")
        config = write_web_config(root)
        report = root / "report-a.txt"
        report.write_text(f"1- الضحية الأولى <b>&amp;</b>\n{clip}\n2- شاهد\n{page}\n",
                          encoding="utf-8")
        with ThreadPoolExecutor(1) as pool:  # a thread: Playwright's loop may run in this one
            pool.submit(asyncio.run, preserve(config, report)).result()
        for role in ROLES:
            run_cli("user", "add", role, "--role", role, "--password-stdin", config=config,
                    stdin=f"{PASSWORD}\n".encode(), check=0)
        yield _Template(root=root, report_name=report.name, clip_url=clip, page_url=page)
    finally:
        fixtures.close()


@pytest.fixture(scope="module")
def web_archive(tmp_path_factory: pytest.TempPathFactory,
                web_template: _Template) -> Iterator[WebArchive]:
    """A preserved archive of its own for the module (a copy of ``web_template``) served by
    ``preserver web``, with users viewer, legal and archivist (their role is their name;
    password ``tests.support.web.PASSWORD``)."""
    root = tmp_path_factory.mktemp("web")
    shutil.copytree(web_template.root / "archive", root / "archive", symlinks=True)
    report = root / web_template.report_name
    shutil.copyfile(web_template.root / web_template.report_name, report)
    config = write_web_config(root)
    with serve_web(config) as site:
        yield WebArchive(site=site, report=report, clip_url=web_template.clip_url,
                         page_url=web_template.page_url)


def data_dir_of(site: WebSite) -> Path:
    """The data directory of a site served from a config file (conftest's)."""
    assert site.config is not None
    return site.config.parent / "archive"


@pytest.fixture(scope="module")
def clients(web_archive: WebArchive) -> Iterator[dict[str, httpx.Client]]:
    """A client signed in through the login form per role, for the module (signing in
    costs an argon2 check)."""
    with ExitStack() as stack:
        yield {role: stack.enter_context(closing(web_archive.site.signed_in(role)))
               for role in ROLES}


@pytest.fixture(scope="module")
def viewer(clients: dict[str, httpx.Client]) -> httpx.Client:
    return clients["viewer"]


@pytest.fixture(scope="module")
def archivist(clients: dict[str, httpx.Client]) -> httpx.Client:
    return clients["archivist"]


@pytest.fixture(scope="module")
def hostile(web_archive: WebArchive, tmp_path_factory: pytest.TempPathFactory) -> HostileReport:
    """A report of hostile labels and platform messages, ingested (report_data.py)."""
    return ingest_hostile(web_archive.site.config, tmp_path_factory.mktemp("hostile"))
