"""Every request body is read with one idle bound (``preserver/web/bodies.py``): a client
that sends its headers and then stalls mid-body gets 408, and the server answers the
other clients meanwhile. Over a real socket, against the real app."""

from __future__ import annotations

import http.client
import select
from contextlib import closing
from urllib.parse import urlsplit

import httpx
import pytest

from tests.preserver.web.conftest import WebArchive
from tests.support.web import csrf_of

STALL_AFTER = b"csrf=abc&name=arch"  # part of a form; its Content-Length promises more


def _stalled(url: str, path: str, headers: dict[str, str]) -> http.client.HTTPConnection:
    """A POST to ``path`` whose headers and first bytes were sent, the rest never."""
    raw = http.client.HTTPConnection(urlsplit(url).netloc, timeout=60)
    raw.putrequest("POST", path)
    for name, value in headers.items():
        raw.putheader(name, value)
    raw.putheader("Content-Type", "application/x-www-form-urlencoded")
    raw.putheader("Content-Length", "200")
    raw.endheaders()
    raw.send(STALL_AFTER)
    return raw


@pytest.mark.slow  # waits for the idle bound
@pytest.mark.parametrize(("path", "who"), [
    ("/login", None),  # forms.read_form, before any session
    ("/runs", "session"),  # a signed-in archivist's form
    ("/api/runs", "token"),  # forms.read_body, a script's JSON
])
def test_a_body_that_stalls_is_408_and_others_are_answered_meanwhile(
        web_archive: WebArchive, clients: dict[str, httpx.Client],
        monkeypatch: pytest.MonkeyPatch, path: str, who: str | None) -> None:
    from preserver.web import bodies

    monkeypatch.setattr(bodies, "IDLE_SECONDS", 4.0)  # 60 s in service
    site = web_archive.site
    headers = {}
    if who == "session":
        cookies = clients["archivist"].cookies
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    elif who == "token":
        headers["Authorization"] = f"Bearer {site.token('archivist', 'stalled-body')}"
    with closing(_stalled(site.url, path, headers)) as raw:
        # meanwhile, another client is answered in full: signing in reads a form too
        with site.client() as other:
            token = csrf_of(other.get("/login").text)
            signed = other.post("/login", data={"csrf": token, "name": "nobody-here",
                                                "password": "wrong password here"})
            assert signed.status_code == 401, signed.text
            assert other.get("/api/openapi.json").status_code == 200
        sock = raw.sock
        assert sock is not None
        assert select.select([sock], [], [], 0)[0] == []  # the stalled one still waits
        response = raw.getresponse()
        assert response.status == 408
        assert "stalled" in response.read().decode()
