"""Evidence packages from the web: ``GET /reports/{sha256}/package.zip`` exports the
report's package with the real exporter in the user's name, sends it, and leaves nothing
in tmp/; the package verifies alone (``preserver verify PACKAGE``). In httpx and in a real
Chromium's download."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import socket
import time
import zipfile
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from manifests import load_signing_key
from tests.preserver.web.conftest import WebArchive, data_dir_of, write_web_config
from tests.support.cli import run_cli
from tests.support.evidence import preserve
from tests.support.fixture_site import FixtureSite
from tests.support.web import PASSWORD, csrf_of, serve_web
from tests.support.web_actions import events, full_disk, upload, written

CHROMIUM = "/usr/bin/chromium"


def _sha256(web_archive: WebArchive) -> str:
    return hashlib.sha256(web_archive.report.read_bytes()).hexdigest()


def _key_id(web_archive: WebArchive) -> str:
    """The archive's key id, as its owner publishes it for recipients to pin."""
    key: str = load_signing_key(data_dir_of(web_archive.site) / "keys").key_id
    return key


def _tmp_settles(data_dir: Path, before: tuple[str, ...]) -> tuple[str, ...]:
    """tmp/ once the download's work directory is gone (removed after the last byte is sent,
    which the client may have read a moment before)."""
    deadline = time.monotonic() + 10
    while (now := written(data_dir).tmp) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def _verify(package: Path, web_archive: WebArchive) -> None:
    """``preserver verify PACKAGE`` pinned to the archive's key: no check fails; the
    web tests' archive has no TSA, so its timestamps are the one thing not checked."""
    result = run_cli("verify", str(package), "--key-id", _key_id(web_archive), "--json",
                     config=web_archive.site.config)
    findings = json.loads(result.stdout)
    assert not [f for f in findings if f["outcome"] == "failed"], findings
    skipped = [(f["subject"], f["check"]) for f in findings if f["outcome"] == "not_checked"]
    assert skipped == [("data/custody/checkpoint", "timestamp")]
    assert result.code == 3  # "incomplete": every check passed, one could not be done
    assert len(findings) > 50


@pytest.mark.slow  # an export and a verify: about a second
def test_legal_downloads_a_package_that_verifies(web_archive: WebArchive,
                                                 clients: dict[str, httpx.Client],
                                                 tmp_path: Path) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    sha256 = _sha256(web_archive)
    response = clients["legal"].get(f"/reports/{sha256}/package.zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="report-a.package.zip"' in response.headers["content-disposition"]
    package = tmp_path / "report-a.package.zip"
    package.write_bytes(response.content)
    assert zipfile.is_zipfile(package)
    _verify(package, web_archive)
    exported = events(data_dir, "package_exported")[-1]
    assert exported["actor"]["operator"] == "legal"
    assert exported["subject"] == sha256
    assert exported["details"]["zip"] is True
    assert _tmp_settles(data_dir, before.tmp) == before.tmp


@pytest.mark.slow  # three exports at once
def test_concurrent_downloads_of_one_report_each_get_the_package(
        web_archive: WebArchive, clients: dict[str, httpx.Client]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    exported = len(events(data_dir, "package_exported"))
    url = f"/reports/{_sha256(web_archive)}/package.zip"
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda role: clients[role].get(url),
                                ["legal", "archivist", "legal"]))
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text[:300] for a in answers]
    for answer in answers:
        with zipfile.ZipFile(io.BytesIO(answer.content)) as package:
            assert package.testzip() is None
    assert len(events(data_dir, "package_exported")) == exported + 3
    assert _tmp_settles(data_dir, before.tmp) == before.tmp


@pytest.mark.slow  # an export
def test_a_download_cut_short_leaves_nothing_in_tmp(
        web_archive: WebArchive, clients: dict[str, httpx.Client]) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir).tmp
    cookies = "; ".join(f"{k}={v}" for k, v in clients["legal"].cookies.items())
    where = urlsplit(web_archive.site.url)
    assert where.hostname is not None and where.port is not None
    with socket.create_connection((where.hostname, where.port), timeout=30) as raw:
        raw.sendall(f"GET /reports/{_sha256(web_archive)}/package.zip HTTP/1.1\r\n"
                    f"Host: x\r\nCookie: {cookies}\r\n\r\n".encode())
        assert raw.recv(12).startswith(b"HTTP/1.1 200")  # then the client goes away
    assert _tmp_settles(data_dir, before) == before


@pytest.mark.slow
def test_a_token_exports_in_its_name(web_archive: WebArchive) -> None:
    secret = web_archive.site.token("legal", "court-clerk")
    with web_archive.site.client(headers={"Authorization": f"Bearer {secret}"}) as client:
        response = client.get(f"/reports/{_sha256(web_archive)}/package.zip")
    assert response.status_code == 200
    exported = events(data_dir_of(web_archive.site), "package_exported")[-1]
    assert exported["actor"]["operator"] == "token:court-clerk"


@pytest.mark.parametrize(("path", "status"), [
    ("/reports/{sha}/package.zip", 403),
    ("/reports/{zero}/package.zip", 403),
])
def test_a_viewer_may_not_download(web_archive: WebArchive, clients: dict[str, httpx.Client],
                                  path: str, status: int) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    viewer = clients["viewer"]
    response = viewer.get(path.format(sha=_sha256(web_archive), zero="0" * 64))
    assert response.status_code == status
    assert "legal or above" in response.text
    assert "package.zip" not in viewer.get("/reports").text  # no link for a viewer
    assert written(data_dir) == before


@pytest.mark.parametrize("sha", ["0" * 64, "ABC", "../../../etc/passwd", "a" * 65])
def test_an_unknown_report_is_404_and_writes_nothing(web_archive: WebArchive,
                                                     clients: dict[str, httpx.Client],
                                                     sha: str) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    legal = clients["legal"]
    assert f"/reports/{_sha256(web_archive)}/package.zip" in legal.get("/reports").text
    response = legal.get(f"/reports/{sha}/package.zip")
    assert response.status_code == 404
    assert written(data_dir) == before


@pytest.mark.slow  # an archive of its own on a small disk
def test_a_full_disk_is_507_with_a_message_and_leaves_nothing(tmp_path: Path) -> None:
    """The whole archive on a real 16 MiB tmpfs (tmp/ and blobs/ on one filesystem, as
    the archive requires), filled to within 1 MiB once a 3 MiB file is preserved: the
    export (a child process) runs out of space, the download is 507 with one line naming
    no path, and nothing is left in tmp/."""
    root = tmp_path / "disk"
    with full_disk(root, size="16m"):
        fixtures = FixtureSite.start()
        try:
            big = fixtures.add_bytes("/a/big.mp4", os.urandom(3 << 20), "video/mp4")
            config = write_web_config(root)
            report = root / "report-big.txt"
            report.write_text(f"1- شاهد\n{big}\n", encoding="utf-8")
            asyncio.run(preserve(config, report))
        finally:
            fixtures.close()
        data_dir = root / "archive"
        with serve_web(config) as site:
            site.add_user("legal", "legal")
            with closing(site.signed_in("legal")) as legal:
                free = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
                (root / "filler").write_bytes(b"\0" * max(0, free - (1 << 20)))
                exported = len(events(data_dir, "package_exported"))
                before = written(data_dir).tmp
                sha = hashlib.sha256(report.read_bytes()).hexdigest()
                page = legal.get(f"/reports/{sha}/package.zip")
                assert page.status_code == 507, page.text
                assert "disk is full" in page.text
                assert str(root) not in page.text
                assert len(events(data_dir, "package_exported")) == exported  # not sent
                assert written(data_dir).tmp == before  # no work directory left
                assert legal.get("/reports").status_code == 200  # the server goes on


@pytest.mark.slow  # an upload and an export
def test_a_report_named_like_another_reports_sha256_does_not_hide_it(
        web_archive: WebArchive, clients: dict[str, httpx.Client]) -> None:
    sha256 = _sha256(web_archive)
    archivist = clients["archivist"]
    token = csrf_of(archivist.get("/upload").text)
    named = upload(archivist, sha256, b"https://example.org/decoy\n", csrf=token)
    assert named.status_code == 201, named.text
    response = clients["legal"].get(f"/reports/{sha256}/package.zip")
    assert response.status_code == 200, response.text
    assert 'filename="report-a.package.zip"' in response.headers["content-disposition"]
    # and the decoy's own name, 64 hex digits that are no report's SHA-256, is no key
    decoy = "f" * 64
    assert upload(archivist, decoy, b"https://example.org/decoy-2\n",
                  csrf=token).status_code == 201
    assert clients["legal"].get(f"/reports/{decoy}/package.zip").status_code == 404


def test_anonymous_is_sent_to_sign_in(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        response = client.get(f"/reports/{_sha256(web_archive)}/package.zip")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.slow
def test_in_a_browser_a_package_downloads_and_verifies(web_archive: WebArchive,
                                                        tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(f"{web_archive.site.url}/reports")
            page.fill("input[name=name]", "legal")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/reports")
            with page.expect_download(timeout=120_000) as download:
                page.click(f'a.package[href="/reports/{_sha256(web_archive)}/package.zip"]')
            assert download.value.suggested_filename == "report-a.package.zip"
            package = tmp_path / download.value.suggested_filename
            download.value.save_as(package)
        finally:
            browser.close()
    _verify(package, web_archive)
    assert events(data_dir_of(web_archive.site), "package_exported")[-1]["actor"]["operator"] \
        == "legal"


@pytest.mark.slow  # an export child
def test_an_input_error_of_the_export_child_is_a_500_naming_no_path(tmp_path: Path) -> None:
    """The child reads the server's config file again; edited since the server started into
    one that is not TOML, ``preserver export`` exits 2 naming that file. Before, that was a
    400 with the config file's path and problem: the request's fault, said the server."""
    config = write_web_config(tmp_path)
    report = tmp_path / "report.txt"
    report.write_text("1- a witness\nhttps://example.org/export-config\n", encoding="utf-8")
    run_cli("ingest", str(report), config=config, check=0)
    data_dir = tmp_path / "archive"
    with serve_web(config) as site:
        site.add_user("legal", "legal")
        with closing(site.signed_in("legal")) as legal:
            exported = len(events(data_dir, "package_exported"))
            before = written(data_dir).tmp
            config.write_text(config.read_text() + "[web\n", encoding="utf-8")  # no TOML
            sha = hashlib.sha256(report.read_bytes()).hexdigest()
            page = legal.get(f"/reports/{sha}/package.zip")
            assert page.status_code == 500, page.text
            assert str(tmp_path) not in page.text and "config" not in page.text
            assert len(events(data_dir, "package_exported")) == exported
            assert written(data_dir).tmp == before
