"""The role matrix: every route of the real app (tests/support/web_routes.py) asked by
nobody, and by each role with a session and with a bearer token, over real HTTP.

    nobody              a page: 303 to /login?next=<the page>; /api/: 401 {"error": ...}
    a role too low      403
    the role or above   neither 401 nor 403 (a GET: below 400, so the sample is real);
                        a browser's POST without the session's CSRF secret: 403

A route without ``require(Role.X)`` must be in ``web_routes.PUBLIC``; a path parameter
needs a sample in ``web_routes.SAMPLES``: either missing fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from preserver.accounts.roles import Principal, Role
from preserver.web.auth import require
from tests.preserver.web.conftest import WebArchive
from tests.support.web import ROLES
from tests.support.web_routes import (
    PUBLIC,
    STATIC_SAMPLES,
    Endpoint,
    Facts,
    MissingSample,
    endpoints,
    endpoints_of,
    facts_of,
)

ENDPOINTS = endpoints()
GUARDED = [e for e in ENDPOINTS if (e.method, e.path) not in PUBLIC]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True, kw_only=True)
class Callers:
    anonymous: httpx.Client
    sessions: dict[Role, httpx.Client]  # signed in through the login form
    tokens: dict[Role, httpx.Client]  # Authorization: Bearer pvt_...
    facts: Facts


@pytest.fixture(scope="module")
def callers(web_archive: WebArchive) -> Iterator[Callers]:
    site = web_archive.site
    facts = facts_of(site.config, web_archive.report.name, web_archive.clip_url)
    sessions = {Role(r): site.signed_in(r) for r in ROLES}
    tokens = {Role(r): site.client(headers={"Authorization": f"Bearer {site.token(r, 'm-' + r)}"})
              for r in ROLES}
    anonymous = site.client()
    try:
        yield Callers(anonymous=anonymous, sessions=sessions, tokens=tokens, facts=facts)
    finally:
        for client in [anonymous, *sessions.values(), *tokens.values()]:
            client.close()


def test_the_samples_are_real(callers: Callers) -> None:
    assert callers.facts.page_file_sha256  # the captured page's record, for /files
    assert callers.facts.page_file_sha256 != callers.facts.file_sha256


def test_the_routes_are_listed() -> None:
    ids = {e.id for e in ENDPOINTS}
    assert {"GET /reports", "POST /logout", "GET /api/reports", "GET /login"} <= ids
    assert next(e for e in ENDPOINTS if e.id == "GET /reports").role is Role.VIEWER


def test_every_route_declares_a_role_or_is_public() -> None:
    forgotten = [e.id for e in ENDPOINTS if e.role is None and (e.method, e.path) not in PUBLIC]
    assert not forgotten, ("routes without Depends(require(Role.X)); add it, or list the "
                           f"route in web_routes.PUBLIC if anyone may reach it: {forgotten}")
    guarded_public = [f"{m} {p}" for m, p in PUBLIC
                      if any(e.role is not None and (e.method, e.path) == (m, p)
                             for e in ENDPOINTS)]
    assert not guarded_public, f"listed as public but require a role: {guarded_public}"


def test_no_route_reads_its_body_before_the_role_is_checked() -> None:
    declared = [f"{e.id}: {', '.join(e.body)}" for e in GUARDED if e.body]
    assert not declared, (
        "these routes declare a request body (a model, Body, Form or File parameter), which "
        "FastAPI reads and parses before require() runs: read it in the handler instead "
        f"(forms.read_form, forms.read_body), after the role is checked: {declared}")


class Note(BaseModel):
    text: str


def test_a_declared_body_is_found() -> None:
    app = FastAPI()

    @app.post("/notes")
    async def add(note: Note, principal: Annotated[Principal, Depends(require(Role.LEGAL))],
                  ) -> None:
        return None

    (endpoint,) = endpoints_of(app)[-1:]
    assert (endpoint.id, endpoint.role, endpoint.body) == ("POST /notes", Role.LEGAL, ("note",))


def test_every_path_parameter_has_a_sample() -> None:
    facts = Facts(report_sha256="r", report_name="n", target_key="k", target_url="u",
                  capture_id="c", manifest_sha256="m", file_sha256="f")
    missing = []
    for endpoint in ENDPOINTS:
        try:
            endpoint.url(facts)
        except MissingSample as exc:
            missing.append(str(exc))
    assert not missing, "\n".join(missing)


def test_an_unknown_parameter_asks_for_a_sample() -> None:
    endpoint = Endpoint(method="GET", path="/things/{thing_id}", role=Role.VIEWER,
                        params=("{thing_id}",), query=())
    facts = Facts(report_sha256="r", report_name="n", target_key="k", target_url="u",
                  capture_id="c", manifest_sha256="m", file_sha256="f")
    with pytest.raises(MissingSample, match=r"no sample for the path parameter \{thing_id\}"):
        endpoint.url(facts)


def _send(client: httpx.Client, endpoint: Endpoint, url: str) -> httpx.Response:
    if endpoint.method == "GET":
        return client.get(url)
    # an empty form without the CSRF secret: authorisation comes before the body
    return client.request(endpoint.method, url, content=b"", headers=FORM)


def _problems(endpoint: Endpoint, callers: Callers) -> Iterator[str]:
    for url in endpoint.urls(callers.facts):
        for problem in _problems_of(endpoint, url, callers):
            yield f"{url}: {problem}"


def _problems_of(endpoint: Endpoint, url: str, callers: Callers) -> Iterator[str]:
    assert endpoint.role is not None
    nobody = _send(callers.anonymous, endpoint, url)
    if endpoint.is_api:
        if nobody.status_code != 401 or "error" not in nobody.json():
            yield f"nobody: {nobody.status_code} {nobody.text[:200]!r}, not 401 with an error"
    else:
        login = f"/login?next={quote(url, safe='')}"
        if nobody.status_code != 303 or nobody.headers.get("location") != login:
            yield (f"nobody: {nobody.status_code} to {nobody.headers.get('location')!r}, "
                   f"not 303 to {login!r}")
    for role in Role:
        for via, client in (("session", callers.sessions[role]), ("token", callers.tokens[role])):
            got = _send(client, endpoint, url)
            who = f"{role.value} by {via}: {got.status_code} {got.text[:160]!r}"
            if not role.allows(endpoint.role):
                if got.status_code != 403:
                    yield f"{who}, not 403"
            elif endpoint.method != "GET" and via == "session":
                if got.status_code != 403 or "CSRF" not in got.text:
                    yield f"{who}, not 403 for the missing CSRF secret"
            elif got.status_code in (401, 403) or got.status_code >= 500:
                yield f"{who}, though the role is allowed"
            elif endpoint.method == "GET" and got.status_code >= 400:
                yield f"{who}: a GET by an allowed role must succeed (is the sample real?)"
            elif endpoint.method == "GET" and (problem := _unconfined(got)):
                yield f"{who}: {problem}"


# what a browser would run as a document of this site if served inline
ACTIVE = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
          "application/xml")


def _unconfined(got: httpx.Response) -> str | None:
    """Why an answer could run a captured page's scripts on this site, if it could: a
    document type shown inline without a Content-Security-Policy of ours."""
    kind = got.headers.get("content-type", "").split(";")[0].strip().lower()
    inline = not got.headers.get("content-disposition", "").lower().startswith("attachment")
    if kind in ACTIVE and inline and "content-security-policy" not in got.headers:
        return (f"{kind} shown inline without a Content-Security-Policy: a captured page "
                "would run on this site (send it as an attachment, or with "
                "'Content-Security-Policy: sandbox')")
    if got.headers.get("x-content-type-options") != "nosniff":
        return "no X-Content-Type-Options: nosniff"
    return None


# routes whose every allowed call does real work (a package exported per caller): slow
SLOW = frozenset({"GET /reports/{sha256}/package.zip"})


@pytest.mark.parametrize("endpoint", [
    pytest.param(e, id=e.id, marks=[pytest.mark.slow] if e.id in SLOW else [])
    for e in GUARDED])
def test_the_role_matrix(callers: Callers, endpoint: Endpoint) -> None:
    problems = list(_problems(endpoint, callers))
    assert not problems, f"{endpoint.id} (needs {endpoint.role}):\n" + "\n".join(problems)


def test_public_routes_answer_nobody(callers: Callers) -> None:
    for endpoint in ENDPOINTS:
        if (endpoint.method, endpoint.path) not in PUBLIC or endpoint.method != "GET":
            continue
        url = STATIC_SAMPLES.get(endpoint.path) or endpoint.url(callers.facts)
        got = callers.anonymous.get(url)
        assert got.status_code in (200, 303), f"{endpoint.id}: {got.status_code}"
        assert not got.headers.get("location", "").startswith("/login?"), endpoint.id
