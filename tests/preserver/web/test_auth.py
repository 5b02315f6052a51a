"""Signing in and out, sessions, bearer tokens, roles, CSRF and the login rate limit, over
real HTTP against ``preserver web`` on a real archive."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.preserver.web.conftest import WebArchive, write_web_config
from tests.support.cli import run_cli
from tests.support.web import PASSWORD, csrf_of, serve_web, sign_in


def test_anonymous_pages_redirect_to_login_and_api_answers_401(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        page = client.get("/reports?x=1")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Freports%3Fx%3D1"
        api = client.get("/api/reports")
        assert api.status_code == 401
        assert api.json() == {"error": "sign in first"}
        assert api.headers["www-authenticate"] == "Bearer"


def test_sign_in_sets_a_hardened_cookie_and_shows_the_reports(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        response = sign_in(client, "viewer")
        assert response.status_code == 303
        assert response.headers["location"] == "/reports"
        cookie = next(v for k, v in response.headers.multi_items()
                      if k == "set-cookie" and v.startswith("preserver_session="))
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain http here; see the HTTPS test
        page = client.get("/reports")
        assert page.status_code == 200
        assert "report-a.txt" in page.text
        assert "Signed in as viewer (viewer)" in page.text


def test_a_session_behind_https_gets_a_secure_cookie(web_archive: WebArchive) -> None:
    with web_archive.site.client(headers={"X-Forwarded-Proto": "https"}) as client:
        form = client.get("/login")
        assert "Secure" in form.headers["set-cookie"]  # the login form's CSRF cookie too
        # httpx keeps Secure cookies for https; the proxy in front would pass it on
        response = client.post("/login", data={"csrf": csrf_of(form.text), "name": "viewer",
                                               "password": PASSWORD},
                               headers={"Cookie": f"preserver_login_csrf={csrf_of(form.text)}"})
        cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
        assert any(c.startswith("preserver_session=") and "Secure" in c for c in cookies)


def test_wrong_password_and_unknown_name_fail_alike(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        wrong = sign_in(client, "viewer", "not the password at all")
        unknown = sign_in(client, "nobody-at-all", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong name or password." in wrong.text
    assert "preserver_session" not in wrong.headers.get("set-cookie", "")


def test_a_forged_login_csrf_token_is_refused(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        client.get("/login")
        response = client.post("/login", data={"csrf": "forged", "name": "viewer",
                                               "password": PASSWORD})
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_sign_out_needs_the_session_csrf_and_ends_the_session(web_archive: WebArchive) -> None:
    with closing(web_archive.site.signed_in("viewer")) as client:
        forged = client.post("/logout", data={"csrf": "0" * 64})
        assert forged.status_code == 403
        assert client.get("/reports").status_code == 200  # still signed in
        token = csrf_of(client.get("/reports").text)
        assert client.post("/logout", data={"csrf": token}).status_code == 303
        assert client.get("/reports").status_code == 303  # back to the login page


def test_a_stolen_cookie_value_is_not_a_session(web_archive: WebArchive) -> None:
    with web_archive.site.client(cookies={"preserver_session": "x" * 43}) as client:
        assert client.get("/api/me").status_code == 401


def test_bearer_tokens_act_with_their_role(web_archive: WebArchive) -> None:
    secret = web_archive.site.token("legal", "ci-legal")
    assert secret.startswith("pvt_")
    with web_archive.site.client(headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.get("/api/me").json() == {"name": "ci-legal", "role": "legal",
                                                "via": "token"}
        reports = client.get("/api/reports").json()
    assert [r["name"] for r in reports] == ["report-a.txt"]
    assert reports[0]["links"] == 2


@pytest.mark.parametrize("header", ["Bearer pvt_not-a-token", "Basic dmlld2VyOng=", "Token x"])
def test_a_bad_authorization_header_is_401(web_archive: WebArchive, header: str) -> None:
    with web_archive.site.client(headers={"Authorization": header}) as client:
        response = client.get("/api/me")
    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_off_the_site(web_archive: WebArchive, target: str) -> None:
    with web_archive.site.client() as client:
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"csrf": token, "name": "viewer",
                                               "password": PASSWORD, "next": target})
    assert response.headers["location"] == "/reports"


@pytest.mark.slow
def test_failed_logins_are_rate_limited_per_name(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    config.write_text(config.read_text() + '[web]\nlogin_attempts = 3\n', encoding="utf-8")
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/a\n", check=0)
    with serve_web(config) as site:
        site.add_user("ana", "viewer")
        with site.client() as client:
            codes = [sign_in(client, "ana", "wrong password here").status_code for _ in range(3)]
            blocked = sign_in(client, "ana", PASSWORD)  # even the right password, for now
        assert codes == [401, 401, 401]
        assert blocked.status_code == 429
        assert blocked.headers["retry-after"] == "900"
        assert "Too many failed sign-ins" in blocked.text
        with site.client() as other:  # another name is not blocked by ana's failures
            site.add_user("ben", "viewer")
            assert sign_in(other, "ben").status_code == 303


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("user", "add", "ana", "--role", "boss", "--password-stdin"), PASSWORD, "no role 'boss'"),
    (("user", "add", "../ana", "--role", "viewer", "--password-stdin"), PASSWORD,
     "is not allowed"),
    (("user", "add", "ana", "--role", "viewer", "--password-stdin"), "short", "too short"),
    (("user", "add", "ana", "--role", "viewer"), "", "--password-stdin"),
    (("token", "create", "--role", "root", "--label", "x"), "", "no role 'root'"),
])
def test_account_commands_refuse_bad_input(tmp_path: Path, args: tuple[str, ...], stdin: str,
                                           message: str) -> None:
    config = write_web_config(tmp_path)
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/a\n", check=0)
    result = run_cli(*args, config=config, stdin=f"{stdin}\n".encode(), check=2)
    assert message in result.stderr


def test_a_name_is_added_once(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/a\n", check=0)
    args = ("user", "add", "ana", "--role", "viewer", "--password-stdin")
    run_cli(*args, config=config, stdin=f"{PASSWORD}\n".encode(), check=0)
    again = run_cli(*args, config=config, stdin=f"{PASSWORD}\n".encode(), check=2)
    assert "exists already" in again.stderr


def test_web_refuses_a_missing_archive(tmp_path: Path) -> None:
    config = write_web_config(tmp_path)
    result = run_cli("web", "--port", "1", config=config, check=1)
    assert "no archive at" in result.stderr


def test_an_oversized_form_is_413(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        response = client.post("/login", content=b"a=" + b"x" * 70_000,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_the_openapi_document_lists_the_api(web_archive: WebArchive) -> None:
    with httpx.Client(base_url=web_archive.site.url) as client:
        spec = client.get("/api/openapi.json").json()
    assert "/api/reports" in spec["paths"]
    assert all(path.startswith("/api/") for path in spec["paths"])


@pytest.mark.slow
def test_failures_older_than_the_window_are_deleted(tmp_path: Path) -> None:
    """``login_failures`` keeps only the window's rows: an old failure goes at the next
    sign-in attempt, and no longer counts."""
    import sqlite3

    config = write_web_config(tmp_path)
    config.write_text(config.read_text() + '[web]\nlogin_attempts = 1\n', encoding="utf-8")
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/a\n", check=0)
    with serve_web(config) as site:
        site.add_user("ana", "viewer")
        db = sqlite3.connect(tmp_path / "archive" / "preserver.db")
        with db:
            db.execute("INSERT INTO login_failures (name, address, time) VALUES "
                       "('ana', '127.0.0.1', '2026-01-01 00:00:00.000000')")
        with site.client() as client:
            assert sign_in(client, "ana").status_code == 303  # the old one counts no more
        assert db.execute("SELECT count(*) FROM login_failures").fetchone() == (0,)
        db.close()
