"""Uploading a report through ``preserver web`` (``POST /upload``, ``POST /api/reports``):
streamed to disk with a bound, CSRF checked before anything is ingested, ingested as
``preserver ingest`` does in the signed-in user's name; and every broken or hostile
upload refused with a clear 4xx, leaving no report row, no blob and no file in tmp/."""

from __future__ import annotations

import hashlib
import html
import http.client
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.preserver.web.conftest import WebArchive, data_dir_of, write_web_config
from tests.support.cli import run_cli
from tests.support.office import (
    CONTENT_TYPES_DOCX,
    RawPart,
    deflate_bomb,
    document_xml,
    paragraph_xml,
    raw_part,
    raw_zip,
)
from tests.support.web import WebSite, csrf_of, serve_web
from tests.support.web_actions import (
    events,
    full_disk,
    multipart_body,
    report_names,
    upload,
    written,
)

REPORT = b"1- a witness\nhttps://example.org/upload-test/%d\n"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """An archive whose uploads may be 4 KiB at most, with an archivist."""
    root = tmp_path_factory.mktemp("small")
    config = write_web_config(root)
    config.write_text(config.read_text() + '[web]\nmax_upload = "4KiB"\n', encoding="utf-8")
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/first\n", check=0)
    with serve_web(config) as site:
        site.add_user("archivist", "archivist")
        yield site


def _token(client: httpx.Client) -> str:
    return csrf_of(client.get("/upload").text)


def test_the_upload_form_is_a_multipart_form_with_a_csrf_field(archivist: httpx.Client) -> None:
    page = archivist.get("/upload")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert 'type="file" name="report"' in page.text
    assert 'name="csrf"' in page.text


def test_an_upload_is_ingested_in_the_users_name(web_archive: WebArchive,
                                                 archivist: httpx.Client) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    response = upload(archivist, "../../etc/شهادة 1.txt", REPORT % 1, csrf=_token(archivist))
    assert response.status_code == 201, response.text
    assert "Ingested: شهادة 1.txt" in response.text
    assert report_names(data_dir)[-1] == "شهادة 1.txt"  # no path components kept
    assert written(data_dir).reports == before.reports + 1
    assert written(data_dir).tmp == before.tmp  # the work directory is gone
    ingested = events(data_dir, "report_ingested")[-1]
    assert ingested["actor"]["operator"] == "archivist"
    assert ingested["details"]["name"] == "شهادة 1.txt"
    assert ingested["details"]["targets"] == ["web:https://example.org/upload-test/1"]


@pytest.mark.slow  # a preserver ingest child each: about 1.5 s
def test_the_same_report_again_is_already_ingested(archivist: httpx.Client) -> None:
    upload(archivist, "twice.txt", REPORT % 2, csrf=_token(archivist))
    again = upload(archivist, "twice.txt", REPORT % 2, csrf=_token(archivist))
    assert again.status_code == 200
    assert "Already in the archive: twice.txt" in again.text


@pytest.mark.slow  # a preserver ingest child: about 1 s
def test_a_windows_path_keeps_its_last_part(web_archive: WebArchive,
                                            archivist: httpx.Client) -> None:
    response = upload(archivist, "C:\\Users\\ana\\report.md", REPORT % 3, csrf=_token(archivist))
    assert response.status_code == 201
    assert report_names(data_dir_of(web_archive.site))[-1] == "report.md"


# -- refused, and nothing written -------------------------------------------------------

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(200)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200)
CUT_DOCX = raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
                    raw_part("word/document.xml", document_xml(paragraph_xml(
                        "https://example.org/cut")))])[:-60]  # no end of central directory
BOMB_DOCX = raw_zip([raw_part("[Content_Types].xml", CONTENT_TYPES_DOCX),
                     RawPart(name="word/document.xml", size=(256 << 20) - 1, crc=0,
                             data=deflate_bomb(document_xml("").split(b"<w:body>")[0]
                                               + b"<w:body><w:p><w:r><w:t>", b"A", 256 << 20))])


@pytest.mark.slow  # a preserver ingest child each: about 1.5 s
@pytest.mark.parametrize(("name", "data", "status", "message"), [
    ("tool.txt", ELF, 422, "a Linux program"),
    ("photo.txt", PNG, 422, "a PNG image"),
    ("old.doc", DOC, 422, "(DOC) reports are not supported"),
    ("cut.docx", CUT_DOCX, 422, "a truncated or corrupt ZIP container"),
    ("bomb.docx", BOMB_DOCX, 422, "decompress"),
    ("empty.txt", b"", 422, "empty"),
    ("notes.txt", b"no links in here at all\njust words\n", 422, "no link in it"),
    # named as it is, not as a terminal's emoji (":smile:"), nor by where it waited
    ("a:smile:[b].txt", b"just words\n", 422, "a:smile:[b].txt: no link in it"),
    ("\u202etxt.exe", REPORT % 9, 400, "control characters"),
    ("..", REPORT % 9, 400, "is not a file name"),
    ("", REPORT % 9, 400, "choose a report file to upload"),
    ("x" * 300 + ".txt", REPORT % 9, 400, "over 255 bytes"),
])
def test_a_bad_upload_is_refused_and_writes_nothing(
        web_archive: WebArchive, archivist: httpx.Client, name: str, data: bytes, status: int,
        message: str) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    response = upload(archivist, name, data, csrf=_token(archivist))
    assert response.status_code == status, response.text
    assert message in html.unescape(response.text)
    assert str(data_dir) not in response.text  # named by its name, not where it waited
    assert written(data_dir) == before
    api = upload(archivist, name, data, csrf=None, path="/api/reports",
                 headers={"X-CSRF-Token": _token(archivist)})
    assert api.status_code == status
    assert message in api.json()["error"]
    assert written(data_dir) == before


@pytest.mark.parametrize("where", ["before", "after", "missing"])
def test_a_forged_csrf_token_ingests_nothing(web_archive: WebArchive, archivist: httpx.Client,
                                             where: str) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    parts: list[tuple[str, str | None, bytes]] = [("report", "forged.txt", REPORT % 4)]
    if where != "missing":
        csrf: tuple[str, str | None, bytes] = ("csrf", None, b"0" * 43)
        parts = [csrf, *parts] if where == "before" else [*parts, csrf]
    body, headers = multipart_body(parts)
    response = archivist.post("/upload", content=body, headers=headers)
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert written(data_dir) == before


@pytest.mark.slow  # a preserver ingest child: about 1 s
def test_the_api_needs_the_csrf_header_from_a_session(web_archive: WebArchive,
                                                      archivist: httpx.Client) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    forged = upload(archivist, "r.txt", REPORT % 5, csrf=None, path="/api/reports",
                    headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    assert written(data_dir) == before
    done = upload(archivist, "r.txt", REPORT % 5, csrf=None, path="/api/reports",
                  headers={"X-CSRF-Token": _token(archivist)})
    assert done.status_code == 201
    assert done.json()["report"] == "r.txt"
    assert done.json()["citations"] == 1


@pytest.mark.slow  # a preserver ingest child: about 1 s
def test_a_bearer_token_uploads_in_its_name(web_archive: WebArchive) -> None:
    secret = web_archive.site.token("archivist", "ci-upload")
    with web_archive.site.client(headers={"Authorization": f"Bearer {secret}"}) as client:
        response = upload(client, "by-token.txt", REPORT % 6, csrf=None, path="/api/reports")
    assert response.status_code == 201, response.text
    summary = response.json()
    assert summary["report"] == "by-token.txt"
    assert summary["queued"] == 1
    assert summary["already_ingested"] is False
    ingested = events(data_dir_of(web_archive.site), "report_ingested")[-1]
    assert ingested["actor"]["operator"] == "token:ci-upload"
    assert ingested["subject"] == summary["report_sha256"]


@pytest.mark.parametrize(("parts", "cut", "status", "message"), [
    ([("csrf", None, b"")], 0, 400, "choose a report file to upload"),
    ([("report", None, REPORT % 7)], 0, 400, "choose a report file to upload"),
    ([("other", "r.txt", REPORT % 7)], 0, 400, "unexpected file field 'other'"),
    ([("report", "a.txt", REPORT % 7), ("report", "b.txt", REPORT % 8)], 0, 400,
     "one file at a time"),
    ([("report", "cut.txt", REPORT % 7)], 20, 400, "cut short or malformed"),
    ([("report", "cut.txt", REPORT % 7)], 80, 400, "cut short or malformed"),
    ([("note", None, b"x" * 5000), ("report", "r.txt", REPORT % 7)], 0, 400,
     "field 'note' is over 4096 bytes"),  # a text field is not a second file
    ([(f"f{i}", None, b"x") for i in range(20)], 0, 400, "Maximum segment count exceeded"),
    ([("report", "x" * 5000 + ".txt", REPORT % 7)], 0, 400,
     "Maximum segment header length exceeded"),
])
def test_a_malformed_form_is_400_and_writes_nothing(
        web_archive: WebArchive, archivist: httpx.Client,
        parts: list[tuple[str, str | None, bytes]], cut: int, status: int, message: str) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    token = _token(archivist)
    body, headers = multipart_body([("csrf", None, token.encode()), *parts])
    if cut:
        body = body[:-cut]  # the end of the body (its last boundary) never comes
    response = archivist.post("/upload", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert message in html.unescape(response.text)
    assert written(data_dir) == before


@pytest.mark.parametrize("name", ["bad\x01name.txt", "tab\tname.txt", "del\x7f.txt",
                                  "new\x85line.txt", "line\u2028sep.txt", "para\u2029sep.txt"])
def test_a_name_with_control_characters_is_400(web_archive: WebArchive, archivist: httpx.Client,
                                               name: str) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    body, headers = multipart_body([("csrf", None, _token(archivist).encode()),
                                    ("report", name, REPORT % 9)])
    response = archivist.post("/upload", content=body, headers=headers)
    assert response.status_code == 400
    assert "control characters" in response.text
    assert written(data_dir) == before


def test_not_a_multipart_body_is_415(archivist: httpx.Client) -> None:
    token = _token(archivist)
    response = archivist.post("/upload", data={"csrf": token},
                              headers={"X-CSRF-Token": token})
    assert response.status_code == 415
    # with no X-CSRF-Token and no multipart form to carry the secret: refused before reading
    assert archivist.post("/upload", data={"csrf": token}).status_code == 403
    no_boundary = archivist.post("/upload", content=b"x",
                                 headers={"Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 400


@pytest.mark.parametrize("role", ["viewer", "legal"])
def test_only_archivists_upload(web_archive: WebArchive, clients: dict[str, httpx.Client],
                                role: str) -> None:
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    client = clients[role]
    assert client.get("/upload").status_code == 403
    token = csrf_of(client.get("/reports").text)
    assert upload(client, "r.txt", REPORT % 10, csrf=token).status_code == 403
    api = upload(client, "r.txt", REPORT % 10, csrf=None, path="/api/reports",
                 headers={"X-CSRF-Token": token})
    assert api.status_code == 403
    assert "archivist" in api.json()["error"]
    assert written(data_dir) == before


# -- the size bound -----------------------------------------------------------------------


@pytest.mark.slow  # its own archive and server
def test_an_upload_within_the_bound_is_ingested(small: WebSite) -> None:
    data = (REPORT % 11).ljust(4096, b" ")  # exactly max_upload
    with closing(small.signed_in("archivist")) as client:
        response = upload(client, "fits.txt", data, csrf=_token(client))
    assert response.status_code == 201, response.text


@pytest.mark.slow  # its own archive and server
def test_an_upload_over_the_bound_is_413_declared_or_not(small: WebSite) -> None:
    data_dir = data_dir_of(small)
    data = (REPORT % 12).ljust(4097, b" ")
    with closing(small.signed_in("archivist")) as client:
        token = _token(client)
        before = written(data_dir)
        declared = upload(client, "big.txt", data, csrf=token)
        assert declared.status_code == 413
        assert "max_upload" in declared.text
        assert written(data_dir) == before
        # chunked, no Content-Length: refused once the file passes the bound
        body, headers = multipart_body([("csrf", None, token.encode()),
                                        ("report", "big.txt", data)])

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 512):
                yield body[start:start + 512]

        streamed = client.post("/upload", content=chunks(), headers=headers)
        assert streamed.status_code == 413
        assert written(data_dir) == before
        # a Content-Length past the bound: refused before a byte of the body is read
        raw = http.client.HTTPConnection(urlsplit(small.url).netloc, timeout=30)
        raw.putrequest("POST", "/upload")
        raw.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in client.cookies.items()))
        raw.putheader("Content-Type", headers["Content-Type"])
        raw.putheader("Content-Length", str(10**12))
        raw.endheaders()
        assert raw.getresponse().status == 413
        raw.close()
        assert written(data_dir) == before


def test_a_full_disk_is_507_with_a_message_and_leaves_nothing(
        web_archive: WebArchive, archivist: httpx.Client) -> None:
    """More than the 64 KiB tmpfs under tmp/ holds: the upload itself fails."""
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    token = _token(archivist)
    data = (REPORT % 13).ljust(256 * 1024, b" ")
    with full_disk(data_dir / "tmp"):
        page = upload(archivist, "big.txt", data, csrf=token)
        api = upload(archivist, "big.txt", data, csrf=None, path="/api/reports",
                     headers={"X-CSRF-Token": token})
        assert list((data_dir / "tmp").iterdir()) == []  # its work directory is gone
    assert page.status_code == 507, page.text
    assert "disk is full" in page.text
    assert "Traceback" not in page.text
    assert str(data_dir) not in page.text
    assert api.status_code == 507
    assert "disk is full" in api.json()["error"]
    assert written(data_dir) == before


@pytest.mark.slow  # an archive of its own on a small disk
def test_a_full_disk_in_the_ingest_is_507_and_leaves_nothing(tmp_path: Path) -> None:
    """The whole archive on a real 16 MiB tmpfs (tmp/ and blobs/ on one filesystem, as
    the archive requires), filled to within 1 MiB: a 700 KiB upload fits in tmp/, and the
    ingest (a child process) cannot copy it into the blob store."""
    root = tmp_path / "disk"
    with full_disk(root, size="16m"), _own_server(root) as (_, archivist):
        data_dir = root / "archive"
        token = _token(archivist)
        before = written(data_dir)
        free = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
        (root / "filler").write_bytes(b"\0" * max(0, free - (1 << 20)))
        data = (REPORT % 13).ljust(700 * 1024, b" ")
        page = upload(archivist, "big.txt", data, csrf=token)
        api = upload(archivist, "big.txt", data, csrf=None, path="/api/reports",
                     headers={"X-CSRF-Token": token})
        assert page.status_code == 507, page.text
        assert "disk is full" in page.text
        assert str(root) not in page.text
        assert api.status_code == 507
        assert "disk is full" in api.json()["error"]
        assert written(data_dir) == before
        assert archivist.get("/reports").status_code == 200  # the server goes on


@contextmanager
def _own_server(root: Path) -> Iterator[tuple[Path, httpx.Client]]:
    """A web server of its own over an archive in ``root`` holding one report: its config
    file and a signed-in archivist."""
    config = write_web_config(root)
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/first\n", check=0)
    with serve_web(config) as site:
        site.add_user("archivist", "archivist")
        with closing(site.signed_in("archivist")) as archivist:
            yield config, archivist


def test_a_client_that_goes_away_mid_upload_leaves_nothing(
        web_archive: WebArchive, archivist: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload has begun (its work directory is there) when the client goes; the server
    removes what it had. It usually sees the disconnect at once; when it does not, the
    idle bound ends the upload (2 s here, 60 s in service)."""
    from preserver.web import bodies

    monkeypatch.setattr(bodies, "IDLE_SECONDS", 2.0)
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    body, headers = multipart_body([("csrf", None, _token(archivist).encode()),
                                    ("report", "gone.txt", (REPORT % 15).ljust(200_000, b" "))])
    raw = http.client.HTTPConnection(urlsplit(web_archive.site.url).netloc, timeout=20)
    raw.putrequest("POST", "/upload")
    raw.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in archivist.cookies.items()))
    raw.putheader("Content-Type", headers["Content-Type"])
    raw.putheader("Content-Length", str(len(body)))
    raw.endheaders()
    raw.send(body[:100_000])  # half the file, then the connection is closed
    deadline = time.monotonic() + 20
    while written(data_dir).tmp == before.tmp and time.monotonic() < deadline:
        time.sleep(0.02)
    assert written(data_dir).tmp != before.tmp  # the upload had begun
    raw.close()
    deadline = time.monotonic() + 20
    while written(data_dir) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert written(data_dir) == before


@pytest.mark.slow  # waits for the idle bound
def test_a_client_that_stops_sending_is_408_and_leaves_nothing(
        web_archive: WebArchive, archivist: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from preserver.web import bodies

    monkeypatch.setattr(bodies, "IDLE_SECONDS", 0.3)  # 60 s in service
    data_dir = data_dir_of(web_archive.site)
    before = written(data_dir)
    body, headers = multipart_body([("csrf", None, _token(archivist).encode()),
                                    ("report", "stalled.txt", REPORT % 14)])
    raw = http.client.HTTPConnection(urlsplit(web_archive.site.url).netloc, timeout=20)
    try:
        raw.putrequest("POST", "/upload")
        raw.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in archivist.cookies.items()))
        raw.putheader("Content-Type", headers["Content-Type"])
        raw.putheader("Content-Length", str(len(body)))
        raw.endheaders()
        raw.send(body[:-40])  # the file has begun; the rest never comes
        response = raw.getresponse()
        assert response.status == 408
        assert "stalled" in response.read().decode()
    finally:
        raw.close()
    assert written(data_dir) == before


def test_the_action_pages_have_both_languages(archivist: httpx.Client) -> None:
    from preserver.web.messages import MESSAGES
    from preserver.web.messages_actions import ACTIONS

    assert all(set(texts) == {"en", "ar"} and all(texts.values()) for texts in ACTIONS.values())
    assert set(ACTIONS) <= set(MESSAGES)
    upload_ar = archivist.get("/upload", headers={"Accept-Language": "ar"})
    assert 'dir="rtl"' in upload_ar.text
    assert "رفع تقرير" in upload_ar.text
    runs_ar = archivist.get("/runs", headers={"Accept-Language": "ar"})
    assert "عمليات الحفظ" in runs_ar.text


@pytest.mark.slow  # reads a report that takes seconds to read
def test_other_requests_are_answered_while_a_large_report_is_ingested(
        web_archive: WebArchive, clients: dict[str, httpx.Client]) -> None:
    """The report is read by ``preserver ingest`` in a child process: a viewer's pages are
    answered while it reads (before, the reading held the server's event loop)."""
    archivist, viewer = clients["archivist"], clients["viewer"]
    data_dir = data_dir_of(web_archive.site)
    prose = b"The witness said the convoy passed the checkpoint at dawn; nobody stopped it.\n"
    data = b"1- a witness\nhttps://example.org/large-report/1\n" + prose * 40_000  # ~3 MiB
    token = _token(archivist)
    finished: list[str] = []
    with ThreadPoolExecutor(1) as pool:
        ingest = pool.submit(upload, archivist, "large.txt", data, csrf=token)
        ingest.add_done_callback(lambda _: finished.append("ingest"))
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size == len(data)
                      for p in (data_dir / "tmp").glob("upload-*/large.txt")):
            assert not ingest.done(), ingest.result().text  # received whole, being read
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert viewer.get("/reports").status_code == 200
        assert viewer.get(f"/reports/{hashlib.sha256(web_archive.report.read_bytes()).hexdigest()}").status_code == 200
        finished.append("pages")
        response = ingest.result()
    assert response.status_code == 201, response.text
    assert finished == ["pages", "ingest"]


@pytest.mark.slow  # a preserver ingest child each: about 1.5 s
@pytest.mark.parametrize("variable", ["FORCE_COLOR", "TTY_COMPATIBLE"])
def test_a_terminal_forced_in_the_servers_environment_does_not_reach_the_ingest(
        web_archive: WebArchive, archivist: httpx.Client, monkeypatch: pytest.MonkeyPatch,
        variable: str) -> None:
    """The web server was started with ``FORCE_COLOR=1`` (or ``TTY_COMPATIBLE=1``: a CI
    runner's, a container image's): its ``preserver ingest`` child must still print plain
    JSON and a plain error line, not a terminal's colours. Before, the upload was ingested
    and answered 500 (its JSON unreadable), and a refusal's 422 carried escape codes."""
    monkeypatch.setenv(variable, "1")  # this process serves the web
    data_dir = data_dir_of(web_archive.site)
    sent = upload(archivist, f"colour-{variable}.txt", REPORT % (40 + len(variable)),
                  csrf=_token(archivist))
    assert sent.status_code == 201, sent.text
    assert report_names(data_dir)[-1] == f"colour-{variable}.txt"
    refused = upload(archivist, "words.txt", b"just words\n", csrf=None, path="/api/reports",
                     headers={"X-CSRF-Token": _token(archivist)})
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("words.txt: no link in it"), refused.json()
    assert "\x1b" not in refused.text


@pytest.mark.slow  # a preserver ingest child each: about 1.5 s
def test_an_input_error_of_the_child_not_about_the_file_is_a_500_naming_no_path(
        tmp_path: Path) -> None:
    """The child reads the server's config file again; edited since the server started into
    one that is not TOML, the child exits 2 (an input error) naming that file. That is no
    fault of the upload: before, it was a 422 saying the config file's path and problem."""
    data_dir = tmp_path / "archive"
    with _own_server(tmp_path) as (config, archivist):
        token = _token(archivist)
        before = written(data_dir)
        config.write_text(config.read_text() + "[web\n", encoding="utf-8")  # no TOML
        page = upload(archivist, "fine.txt", REPORT % 50, csrf=token)
        api = upload(archivist, "fine.txt", REPORT % 50, csrf=None, path="/api/reports",
                     headers={"X-CSRF-Token": token})
        assert page.status_code == 500, page.text
        assert api.status_code == 500, api.text
        for said in (html.unescape(page.text), api.json()["error"]):
            assert str(tmp_path) not in said and "config" not in said
            assert "the server's log says why" in said
        assert written(data_dir) == before


@pytest.mark.slow  # a preserver ingest child each: about 1.5 s
def test_at_most_two_uploads_are_ingested_at_once(
        web_archive: WebArchive, archivist: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five uploads sent at once: every one is ingested, by at most two ``preserver
    ingest`` children at a time (each may read a report with hundreds of MiB). The real
    child runs; the wrapper only counts those under way."""
    from preserver.web import ingesting

    real, running, most = ingesting.run_preserver, [0], [0]

    async def counted(*args: object, **kwargs: object) -> object:
        running[0] += 1
        most[0] = max(most[0], running[0])
        try:
            return await real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            running[0] -= 1

    monkeypatch.setattr(ingesting, "run_preserver", counted)
    token = _token(archivist)
    with ThreadPoolExecutor(5) as pool:
        sent = list(pool.map(lambda n: upload(archivist, f"at-once-{n}.txt",
                                              REPORT % (60 + n), csrf=token), range(5)))
    assert [s.status_code for s in sent] == [201] * 5, [s.text for s in sent]
    assert most[0] == 2
