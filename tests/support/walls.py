"""A post behind a login wall on the fixture site, and the cookies file that opens it.

Without the session cookie the post's page is a login form (``<form id="login_form">``
with a password field) and no video, and the video answers 403; with it the page has a
``<video>`` and the video is served. Every answer also sets a cookie of the server's
own (``SERVER_COOKIE``), which preserver must neither keep nor send back.

    wall = add_login_wall(site, media.mp4, cookie_value=secrets.token_hex(16))
    wall.write_cookies(tmp_path / "cookies.txt")   # a Netscape file, mode 0600
"""

from __future__ import annotations

import contextlib
import gzip
import html
import os
import zlib
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.support.fixture_site import FixtureSite, html_page, send

COOKIE_NAME = "c_user_session"
SERVER_COOKIE = "server_tracker"
LOGIN_FORM = ('<form id="login_form" action="/login" method="post">'
              '<input type="email" name="email"><input type="password" name="pass">'
              '<button type="submit">Log in</button></form>')


@dataclass(frozen=True, kw_only=True)
class LoginWall:
    post_url: str
    video_url: str
    cookie_value: str  # the session's secret: must appear nowhere preserver writes
    server_value: str  # the value of the server's own cookie

    def write_cookies(self, path: Path, *, host: str = "127.0.0.1", extra: str = "") -> Path:
        """A Netscape cookies file holding the session for ``host``, mode 0600."""
        path.write_text("# Netscape HTTP Cookie File\n# exported for a test\n\n"
                        f"#HttpOnly_{host}\tFALSE\t/\tFALSE\t0\t{COOKIE_NAME}\t"
                        f"{self.cookie_value}\n{extra}", encoding="utf-8")
        os.chmod(path, 0o600)
        return path


def _cookies(req: BaseHTTPRequestHandler) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(req.headers.get("Cookie") or "")
    return {name: morsel.value for name, morsel in jar.items()}


def add_login_wall(site: FixtureSite, video: Path, *, cookie_value: str,
                   prefix: str = "/walled") -> LoginWall:
    """The post ``{prefix}/post`` and its video ``{prefix}/video.mp4`` (see the module)."""
    data = video.read_bytes()
    server_value = "srv" + cookie_value[::-1]
    set_cookie = {"Set-Cookie": f"{SERVER_COOKIE}={server_value}; Path=/"}

    def logged_in(req: BaseHTTPRequestHandler) -> bool:
        return _cookies(req).get(COOKIE_NAME) == cookie_value

    def post(req: BaseHTTPRequestHandler) -> None:
        if logged_in(req):
            body = html_page(title="A post", body=(
                f'<p>The post.</p><video controls src="{html.escape(prefix)}/video.mp4">'
                "</video>"))
        else:
            body = html_page(title="Log in", body=f"<p>You must log in to continue.</p>"
                                                  f"{LOGIN_FORM}")
        send(req, 200, body, "text/html; charset=utf-8", set_cookie)

    def media(req: BaseHTTPRequestHandler) -> None:
        if logged_in(req):
            send(req, 200, data, "video/mp4", set_cookie)
        else:
            send(req, 403, b"<html><body>Forbidden</body></html>", "text/html", set_cookie)

    site.add(f"{prefix}/video.mp4", media)
    return LoginWall(post_url=site.add(f"{prefix}/post", post),
                     video_url=site.url(f"{prefix}/video.mp4"), cookie_value=cookie_value,
                     server_value=server_value)


def files_holding(root: Path, secret: str) -> list[str]:
    """Every file under ``root`` whose bytes, or whose gzip-decoded bytes (a WARC, a
    compressed blob), hold ``secret``: the paths, relative to ``root``."""
    needle = secret.encode()
    found: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            with contextlib.suppress(OSError, EOFError, zlib.error):
                data += gzip.decompress(data)
        if needle in data:
            found.append(str(path.relative_to(root)))
    return found
