"""Every request body is read with one idle bound (``preserver/web/bodies.py``): a client
that sends its headers and then stalls mid-body gets 408, and the server answers the
other clients meanwhile. Over a real socket, against the real app."""

from __future__ import annotations

import http.client
import select
import socket
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


def _closed_after_answer(sock: socket.socket, more: bytes) -> tuple[bytes, bool]:
    """The answer read to its end, then ``more`` of the body sent: whether the server has
    closed the connection (an end of file, or a reset, within 30 s; not a time measured:
    a connection it keeps open is one it holds for as long as the client trickles)."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return answer, True
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return answer, True
        body += chunk
    try:
        sock.sendall(more)  # the slow client goes on, one byte at a time
        sock.settimeout(30)
        return head, sock.recv(65536) == b""
    except TimeoutError:
        return head, False
    except OSError:  # reset: closed
        return head, True


@pytest.mark.slow  # waits for the idle bound
def test_a_408_closes_the_connection(web_archive: WebArchive,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9110 15.5.9: a 408 says ``Connection: close``, and the server closes it. Before,
    the connection stayed open after the 408, and a client sending one more byte every few
    seconds (or once, and then nothing) held it for ever: uvicorn's keep-alive timer is
    stopped by each byte of a body nobody reads."""
    from preserver.web import bodies

    monkeypatch.setattr(bodies, "IDLE_SECONDS", 1.0)  # 60 s in service
    netloc = urlsplit(web_archive.site.url).netloc
    host, port = netloc.rsplit(":", 1)
    with closing(socket.create_connection((host, int(port)), timeout=60)) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: " + netloc.encode()
                     + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 200\r\n\r\n" + STALL_AFTER)
        head, closed = _closed_after_answer(sock, b"x")
    assert head.startswith(b"HTTP/1.1 408 "), head
    assert b"\r\nconnection: close" in head.lower()
    assert closed
