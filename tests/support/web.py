"""``preserver web`` for the tests: the real application on uvicorn, in a thread of this
process, on a free port of 127.0.0.1, over a real archive.

    with serve_web(config) as site:
        site.add_user("ana", "viewer")
        client = site.signed_in("ana")          # an httpx.Client holding the session cookie
        client.get("/reports")
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from preserver.config import Config, load_config
from preserver.web import create_app
from tests.support.cli import run_cli

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "legal", "archivist")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True, kw_only=True)
class WebSite:
    url: str  # http://127.0.0.1:PORT
    config: Path | None  # None: a configuration from the environment (serve_web's Config)

    def add_user(self, name: str, role: str, password: str = PASSWORD) -> None:
        run_cli("user", "add", name, "--role", role, "--password-stdin", config=self.config,
                stdin=f"{password}\n".encode(), check=0)

    def token(self, role: str, label: str) -> str:
        return run_cli("token", "create", "--role", role, "--label", label,
                       config=self.config, check=0).stdout.strip()

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def signed_in(self, name: str, password: str = PASSWORD) -> httpx.Client:
        """A client that signed in through the login form, as a browser does."""
        client = self.client()
        response = sign_in(client, name, password)
        assert response.status_code == 303, response.text
        return client


def csrf_of(html: str) -> str:
    """The first form's CSRF secret on a page."""
    found = _CSRF.search(html)
    assert found is not None, "no csrf field on the page"
    return found.group(1)


def sign_in(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    """GET /login, then POST the form with its CSRF secret (redirects not followed)."""
    html = client.get("/login").text
    token = csrf_of(html[html.index('action="/login"'):])  # not the sign-out form's
    return client.post("/login", data={"csrf": token, "name": name, "password": password,
                                       "next": "/reports"})


@contextmanager
def serve_web(config: Path | Config) -> Iterator[WebSite]:
    """The app of ``config`` (a file, or a ``Config`` already loaded) served until the
    block ends."""
    app = create_app(config if isinstance(config, Config) else load_config(config, env={}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name="preserver-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "preserver web did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield WebSite(url=f"http://127.0.0.1:{port}",
                      config=None if isinstance(config, Config) else config)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
