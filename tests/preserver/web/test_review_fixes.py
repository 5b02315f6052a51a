"""Defects found by the review of the first web work, each pinned by a test over real HTTP
against ``preserver web`` (or the real function over a real store):

- a login name PostgreSQL cannot hold (a NUL) was a 500 with a traceback in the log;
- a user name ending in a newline was accepted by ``user add`` (``$`` before ``\\n``);
- after signing in, or switching the language, a target whose key holds a ``%`` was
  re-read with its percent-escapes decoded: a 404, or another target's page;
- a blob store failure told every viewer where the store is (its path, bucket, endpoint);
- the reports page counted a link once per capture job its target ever had;
- a byte position written with 20 digits or more (leading zeros) was taken for a huge one;
- behind a proxy that asks for HTTP Basic authentication (the browser then sends
  ``Authorization: Basic`` with every request) no page could be reached: /login itself
  redirected to /login.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pytest

from preserver.web.ranges import NotSatisfiable, Slice, wanted
from tests.preserver.web.conftest import write_web_config
from tests.support.cli import run_cli
from tests.support.fixture_site import FixtureSite
from tests.support.postgres import BACKENDS, create_database, drop_database
from tests.support.s3 import MotoServer
from tests.support.web import PASSWORD, csrf_of, serve_web

_KEY = re.compile(r'<h1>[^<]*<span dir="ltr" class="mono">([^<]*)</span></h1>')


def _archive(tmp_path: Path, report: bytes, database_url: str = "") -> Path:
    config = write_web_config(tmp_path)
    if database_url:
        config.write_text(config.read_text().replace(
            "operator =", f'database_url = "{database_url}"\noperator ='), encoding="utf-8")
    run_cli("ingest", "-", config=config, stdin=report, check=0)
    return config


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_login_name_the_database_cannot_hold_is_a_failed_sign_in(tmp_path: Path,
                                                                    backend: str) -> None:
    database = asyncio.run(create_database()) if backend == "postgresql" else ("", "")
    try:
        config = _archive(tmp_path, b"https://example.org/a\n", database[1])
        with serve_web(config) as site:
            site.add_user("ana", "viewer")
            for name in ("ana\x00", "\x00", "ana\x00" + "x" * 100):
                with site.client() as client:
                    token = csrf_of(client.get("/login").text)
                    response = client.post("/login", data={
                        "csrf": token, "name": name, "password": PASSWORD, "next": "/reports"})
                    assert response.status_code == 401, (name, response.text[:200])
                    assert "session" not in " ".join(response.cookies.keys())
            with site.client() as client:  # and the real name still signs in
                token = csrf_of(client.get("/login").text)
                assert client.post("/login", data={
                    "csrf": token, "name": "ana", "password": PASSWORD}).status_code == 303
    finally:
        if database[0]:
            asyncio.run(drop_database(database[0]))


def test_a_user_name_ending_in_a_newline_is_refused(tmp_path: Path) -> None:
    config = _archive(tmp_path, b"https://example.org/a\n")
    result = run_cli("user", "add", "ana\n", "--role", "viewer", "--password-stdin",
                     config=config, stdin=f"{PASSWORD}\n".encode(), check=2)
    assert "is not allowed" in result.stderr


@pytest.mark.slow
def test_sign_in_and_language_switch_return_to_the_same_target(tmp_path: Path) -> None:
    """Two targets whose keys differ only in ``%2F`` against ``/``: signing in from the
    first's page, and switching language on it, lead back to the first."""
    config = _archive(tmp_path, b"https://example.org/x%2Fy\nhttps://example.org/x/y\n"
                                b"https://example.org/a%20b?q=1#f\n")
    with serve_web(config) as site:
        site.add_user("ana", "viewer")
        for key in ("web:https://example.org/x%2Fy", "web:https://example.org/a%20b?q=1"):
            with site.client() as client:
                to_login = client.get("/targets/" + quote(key, safe=""))
                assert to_login.status_code == 303
                form = client.get(to_login.headers["location"])
                hidden = re.search(r'name="next" value="([^"]*)"', form.text)
                assert hidden is not None
                signed = client.post("/login", data={
                    "csrf": csrf_of(form.text), "name": "ana", "password": PASSWORD,
                    "next": hidden.group(1).replace("&amp;", "&")})
                assert signed.status_code == 303
                back = client.get(signed.headers["location"])
                assert back.status_code == 200, signed.headers["location"]
                assert _KEY.findall(back.text) == [key]
                switch = re.search(r'href="(/lang/ar\?next=[^"]*)"', back.text)
                assert switch is not None
                switched = client.get(switch.group(1).replace("&amp;", "&"))
                again = client.get(switched.headers["location"])
                assert again.status_code == 200, switched.headers["location"]
                assert _KEY.findall(again.text) == [key]
                assert 'dir="rtl"' in again.text


@pytest.mark.slow
def test_a_store_failure_does_not_say_where_the_store_is(tmp_path: Path) -> None:
    report = b"https://example.org/a\n"
    config = _archive(tmp_path, report)
    sha = hashlib.sha256(report).hexdigest()
    blob = next(p for p in (tmp_path / "archive").rglob(sha) if p.is_file())
    blob.chmod(0o644)
    blob.unlink()
    blob.mkdir()  # the blob is now unreadable: not absent, not a file
    with serve_web(config) as site:
        site.add_user("ana", "viewer")
        with closing(site.signed_in("ana")) as client:
            response = client.get(f"/files/{sha}")
    assert response.status_code == 503
    assert "the blob store cannot be read" in response.text
    assert str(tmp_path) not in response.text
    assert "blobs" not in response.text


def test_a_missing_manifest_on_s3_does_not_name_the_bucket(tmp_path: Path, moto: MotoServer,
                                                           bucket: str) -> None:
    from preserver.views.files import manifest_facts
    from storage import S3BlobStore, S3Settings

    store = S3BlobStore(S3Settings(bucket=bucket, endpoint_url=moto.url, region="us-east-1"),
                        tmp_path / "tmp", read_only=True)
    absent = "ab" * 32
    facts = manifest_facts(store, manifest_sha256=absent, signature_sha256="cd" * 32,
                           public_key_pem=b"")
    assert facts["readable"] is False
    assert facts["error"] == f"the manifest cannot be read: no blob {absent} in the blob store"
    assert bucket not in facts["error"] and moto.url not in facts["error"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_target_queued_again_is_one_link_of_its_reports(tmp_path: Path, backend: str) -> None:
    """A target whose capture failed, cited again by a later report, gets a second capture
    job: each report still has one link, in the state of the newest job."""
    database = asyncio.run(create_database()) if backend == "postgresql" else ("", "")
    fixtures = FixtureSite.start()
    try:
        gone = fixtures.url("/gone")  # never added: 404
        first, again = tmp_path / "first.txt", tmp_path / "again.txt"
        first.write_text(f"1- first\n{gone}\n", encoding="utf-8")
        again.write_text(f"2- again\n{gone}\n", encoding="utf-8")
        config = _archive(tmp_path, first.read_bytes(), database[1])
        run_cli("run", config=config, check=None)
        run_cli("ingest", str(again), config=config, check=0)
        jobs = run_cli("status", "--json", config=config, check=0).stdout
        with serve_web(config) as site:
            site.add_user("ana", "viewer")
            with closing(site.signed_in("ana")) as client:
                found = client.get("/api/reports").json()
                page = client.get("/reports").text
    finally:
        fixtures.close()
        if database[0]:
            asyncio.run(drop_database(database[0]))
    assert [(r["citations"], r["links"], sum(r["states"].values()),
             sum(r["availability"].values())) for r in found] == [(1, 1, 1, 1)] * 2, jobs
    assert [r["states"] for r in found] == [{"queued": 1}] * 2
    assert page.count('class="badge state-queued"') == 2


def test_a_range_with_leading_zeros_is_its_number() -> None:
    zeros = "0" * 30
    assert wanted(f"bytes={zeros}1-{zeros}3", None, etag='"x"', size=10) == \
        Slice(start=1, length=3)
    assert wanted(f"bytes=-{zeros}2", None, etag='"x"', size=10) == Slice(start=8, length=2)
    with pytest.raises(NotSatisfiable, match="bytes=1"):
        wanted("bytes=1" + "0" * 30 + "-", None, etag='"x"', size=10)


@pytest.mark.slow
def test_pages_behind_a_proxy_with_basic_authentication(tmp_path: Path) -> None:
    config = _archive(tmp_path, b"https://example.org/a\n")
    with serve_web(config) as site:
        site.add_user("ana", "viewer")
        with site.client(headers={"Authorization": "Basic cHJveHk6c2VjcmV0"}) as client:
            form = client.get("/login")
            assert form.status_code == 200, form.headers.get("location")
            signed = client.post("/login", data={"csrf": csrf_of(form.text), "name": "ana",
                                                 "password": PASSWORD, "next": "/reports"})
            assert signed.status_code == 303
            assert client.get("/reports").status_code == 200
            assert client.get("/api/me").json()["name"] == "ana"
        with site.client(headers={"Authorization": "Bearer pvt_not-a-token"}) as client:
            assert client.get("/api/me").status_code == 401  # a bad token is still refused
