"""Defects found reviewing ``preserver web``'s sign-in, sessions and headers, each
shown first by a failing test, over real HTTP against the real app."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from preserver.web import apidocs
from tests.preserver.web.conftest import WebArchive, write_web_config
from tests.support.cli import run_cli
from tests.support.postgres import BACKENDS, database_for
from tests.support.web import PASSWORD, WebSite, csrf_of, serve_web, sign_in
from tests.support.web_browser import launch_chromium


def _limited_site(tmp_path: Path, extra: str, database_url: str = "") -> Path:
    config = write_web_config(tmp_path)
    database = f'database_url = "{database_url}"\n' if database_url else ""
    config.write_text(database + config.read_text() + f"[web]\n{extra}\n", encoding="utf-8")
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/a\n", check=0)
    return config


def _try(site: WebSite, name: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with site.client(headers=headers) as client:
        token = csrf_of(client.get("/login").text)
        return client.post("/login", data={"csrf": token, "name": name,
                                           "password": password}).status_code


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_sign_ins_cannot_outrun_the_rate_limit(tmp_path: Path, backend: str) -> None:
    # checking the count, then checking the password, then counting the failure let
    # every attempt sent at once pass the check before any failure was counted
    with database_for(backend) as url:
        config = _limited_site(tmp_path, "login_attempts = 3", url)
        with serve_web(config) as site:
            site.add_user("ana", "viewer")
            with ThreadPoolExecutor(12) as pool:
                codes = list(pool.map(lambda i: _try(site, "ana", f"wrong password {i}"),
                                      range(12)))
            codes += [_try(site, "ana", f"wrong password again {i}") for i in range(3)]
            last = _try(site, "ana", PASSWORD)
    # at most 3 passwords were checked (attempts refused unchecked count for nothing, so
    # the ones after the burst are checked until 3 have failed), then even the right one waits
    assert codes.count(401) == 3, codes
    assert last == 429
    assert set(codes) <= {401, 429}, codes


@pytest.mark.slow
def test_an_ipv6_network_is_one_address_to_the_rate_limit(tmp_path: Path) -> None:
    # a client behind the trusted proxy (127.0.0.1 here) with an IPv6 /64 has 2^64
    # addresses: counted one by one, the per-address limit never bit
    config = _limited_site(tmp_path, "login_attempts_per_address = 3")
    with serve_web(config) as site:
        codes = [_try(site, f"name{i}", "wrong password here", f"2001:db8:5:6::{i:x}")
                 for i in range(1, 5)]
        other = _try(site, "name9", "wrong password here", "2001:db8:5:7::1")
        mapped = [_try(site, f"v4name{i}", "wrong password here", addr)
                  for i, addr in enumerate(["192.0.2.7", "::ffff:192.0.2.7", "192.0.2.7",
                                            "192.0.2.7"])]
    assert codes == [401, 401, 401, 429]
    assert other == 401  # the next /64 is another client
    assert mapped == [401, 401, 401, 429]  # an IPv4-mapped address is the IPv4 one


@pytest.mark.slow
def test_the_forwarded_address_is_the_proxys_view_not_the_clients_claim(
        tmp_path: Path) -> None:
    # the proxy appends the address it saw; what the client put before it is ignored
    config = _limited_site(tmp_path, "login_attempts_per_address = 2")
    with serve_web(config) as site:
        codes = [_try(site, f"n{i}", "wrong password here", f"198.51.100.{i}, 192.0.2.1")
                 for i in range(3)]
    assert codes == [401, 401, 429]


@pytest.mark.slow
def test_signing_in_again_ends_the_session_held_before(web_archive: WebArchive) -> None:
    with closing(web_archive.site.signed_in("viewer")) as client:
        before = client.cookies["preserver_session"]
        assert sign_in(client, "legal").status_code == 303
        after = client.cookies["preserver_session"]
        assert after != before
        assert client.get("/api/me").json()["name"] == "legal"
    with web_archive.site.client(cookies={"preserver_session": before}) as old:
        assert old.get("/api/me").status_code == 401


@pytest.mark.parametrize("path", ["/reports", "/api/reports", "/api/me"])
def test_signed_in_answers_are_not_cached(viewer: httpx.Client, path: str) -> None:
    # without it a shared cache may keep a page for the next visitor, and Back after
    # signing out shows the evidence again
    response = viewer.get(path)
    assert response.status_code == 200
    assert response.headers.get("cache-control") == "no-store"


def test_error_pages_and_the_login_page_are_not_cached(web_archive: WebArchive) -> None:
    with web_archive.site.client() as client:
        for path in ["/login", "/no-such-page", "/api/nothing"]:
            assert client.get(path).headers.get("cache-control") == "no-store", path
        assert "no-store" not in client.get("/static/style.css").headers.get("cache-control", "")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil",
                                    "/\t/evil.example", "\r\nSet-Cookie: x=1", "javascript:1",
                                    "/%0d%0aSet-Cookie:%20x=1"])
def test_the_language_switch_stays_on_the_site(web_archive: WebArchive, target: str) -> None:
    with web_archive.site.client() as client:
        response = client.get("/lang/ar", params={"next": target})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert "\\" not in location and "\t" not in location
    assert not any(k == "set-cookie" and v.startswith("x=") for k, v in
                   response.headers.multi_items())


@pytest.mark.slow
def test_a_server_error_tells_nothing_of_the_code(tmp_path: Path) -> None:
    # a broken database behind a signed-in request: the answer is a bare 500
    config = write_web_config(tmp_path)
    run_cli("ingest", "-", config=config, stdin=b"https://example.org/a\n", check=0)
    with serve_web(config) as site:
        site.add_user("ana", "viewer")
        with closing(site.signed_in("ana")) as client:
            with closing(sqlite3.connect(tmp_path / "archive" / "preserver.db")) as con:
                con.execute("DROP TABLE reports")
                con.commit()
            response = client.get("/api/reports")
    assert response.status_code == 500
    assert "Traceback" not in response.text and "sqlite" not in response.text.lower()
    assert "reports" not in response.text
    assert PASSWORD not in response.text


@pytest.mark.slow
def test_a_script_may_send_the_csrf_secret_as_a_header(web_archive: WebArchive) -> None:
    # docs/web.md says a script may send the secret as X-CSRF-Token; sign-out read only the form
    with closing(web_archive.site.signed_in("viewer")) as client:
        token = csrf_of(client.get("/reports").text)
        assert client.post("/logout", headers={"X-CSRF-Token": "0" * 64}).status_code == 403
        assert client.get("/api/me").status_code == 200
        assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
        assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("path", ["/api/reports", "/api/nothing", "/static/style.css", "/login"])
def test_no_answer_is_sniffed_as_another_type(viewer: httpx.Client, path: str) -> None:
    # a JSON answer holds report names and platform titles: never to be read as HTML
    assert viewer.get(path).headers.get("x-content-type-options") == "nosniff"


def test_the_api_docs_and_their_assets_come_from_this_server(web_archive: WebArchive) -> None:
    # FastAPI's page ran whatever swagger-ui-dist@5 a CDN served: blank offline
    with web_archive.site.client() as client:
        page = client.get("/api/docs")
        assert page.status_code == 200
        assert "https://" not in page.text and "//cdn" not in page.text
        for url, digest in (apidocs.SCRIPT, apidocs.STYLESHEET):
            assert url.startswith("/static/swagger-ui/")
            assert f"{url}\" integrity=\"{digest}\">" in page.text
            asset = client.get(url)
            assert asset.status_code == 200
            algorithm, _, want = digest.partition("-")
            assert base64.b64encode(hashlib.new(algorithm, asset.content).digest()).decode() \
                == want  # the bytes pinned, as the browser checks them
            assert asset.headers["x-content-type-options"] == "nosniff"
        assert "SwaggerUIBundle" in client.get(apidocs.SCRIPT[0]).text
        assert client.get("/static/swagger-ui/nothing.js").status_code == 404
    policy = page.headers["content-security-policy"]
    assert policy == apidocs.POLICY
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                      "frame-ancestors 'none'"):  # as strict as every other page's
        assert directive in policy
    assert "unsafe" not in policy and "http" not in policy
    assert "<script>" not in page.text  # no inline script: it starts from /static/apidocs.js


@pytest.mark.slow
def test_a_browser_renders_the_api_docs_with_no_request_leaving_the_server(
        web_archive: WebArchive) -> None:
    requested: list[str] = []
    messages: list[str] = []
    with launch_chromium() as chromium:
        context = chromium.new_context(base_url=web_archive.site.url)
        page = context.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.on("console", lambda m: messages.append(m.text))
        page.goto("/api/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.eval_on_selector_all(".opblock-summary-path",
                                          "els => els.map(e => e.textContent)")
        styled = page.evaluate("() => getComputedStyle(document.querySelector('.opblock'))"
                               ".borderStyle")
    assert "/api/reports" in {p.replace("\u200b", "") for p in paths}, paths
    assert styled == "solid"  # the stylesheet applied
    assert requested and all(u.startswith((web_archive.site.url + "/", "data:"))
                             for u in requested), requested
    assert not [m for m in messages if "Content Security Policy" in m], messages


@pytest.mark.slow
def test_a_browser_refuses_other_swagger_ui_bytes(web_archive: WebArchive) -> None:
    messages: list[str] = []
    with launch_chromium() as chromium:
        context = chromium.new_context(base_url=web_archive.site.url)
        page = context.new_page()
        page.on("console", lambda m: messages.append(m.text))
        page.route("**/static/swagger-ui/swagger-ui-bundle.js", lambda route: route.fulfill(
            body="window.tampered = true; window.SwaggerUIBundle = () => null;",
            headers={"Content-Type": "application/javascript"}))
        page.goto("/api/docs")
        page.wait_for_load_state("load")
        tampered = page.evaluate("() => window.tampered === true")
    assert not tampered
    assert any("integrity" in m for m in messages), messages
