"""``workers.walls.login_wall``: fixture pages of several shapes, redirects to login
pages, Facebook's login page, compressed bodies, and hostile input (huge, malformed,
pathological markup) read in bounded, linear time."""

from __future__ import annotations

import gzip
import time
import zlib

import pytest

from tests.support.wall_pages import FACEBOOK_LOGIN, MENTIONS_LOGIN, NOT_WALLS, PROSE, WALLS
from workers.walls import MAX_BYTES, inflate, login_wall

URL = "https://news.example/2026/11/post"


@pytest.mark.parametrize("name", sorted(WALLS))
def test_a_page_that_is_a_password_form_is_a_wall(name: str) -> None:
    assert login_wall(WALLS[name], url=URL) == "the page is a login form"


@pytest.mark.parametrize("name", sorted(NOT_WALLS))
def test_pages_that_only_look_like_one_are_not(name: str) -> None:
    assert login_wall(NOT_WALLS[name], url=URL) is None
    assert login_wall(NOT_WALLS[name], url=URL, platform="youtube") is None


@pytest.mark.parametrize("final", [
    "https://news.example/login?next=/2026/11/post", "https://news.example/accounts/login/",
    "https://www.facebook.com/login.php?next=x", "https://news.example/users/sign_in",
    "https://news.example/SignIn.html",
])
def test_a_redirect_to_a_login_page_is_a_wall(final: str) -> None:
    got = login_wall(b"<p>anything</p>", url=URL, final_url=final)
    assert got is not None and got.startswith("redirected to a login page (")


@pytest.mark.parametrize("final", [
    URL, "https://news.example/blog/logins-are-hard", "https://news.example/loginhelp/faq",
    "https://news.example/2026/11/post?login=1",
])
def test_other_redirects_are_not(final: str) -> None:
    assert login_wall(MENTIONS_LOGIN, url=URL, final_url=final) is None


def test_a_login_page_linked_directly_is_not_a_redirect() -> None:
    page = "https://news.example/login"
    assert login_wall(MENTIONS_LOGIN, url=page, final_url=page) is None


def test_facebook_login_page_only_for_facebook_targets() -> None:
    fb = "https://www.facebook.com/watch/?v=1"
    got = login_wall(FACEBOOK_LOGIN, url=fb, platform="facebook")
    assert got is not None and got.startswith("Facebook shows its login page")
    # the same words in a web page's prose are not Facebook's wall
    prose = f"<p>You must log in to continue. {PROSE}</p>".encode()
    assert login_wall(prose, url=URL) is None


def test_compressed_bodies_are_inflated_within_the_bound() -> None:
    wall = WALLS["login_form"]
    assert inflate(gzip.compress(wall), "gzip") == wall
    assert inflate(zlib.compress(wall), "deflate") == wall
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert inflate(raw.compress(wall) + raw.flush(), "deflate") == wall
    bomb = gzip.compress(b"a" * (64 << 20))  # 64 MiB of "a" in about 64 KiB
    assert len(inflate(bomb, "gzip") or b"") == MAX_BYTES
    assert inflate(b"not gzip", "gzip") is None
    assert inflate(b"x", "br") is None  # a coding we do not read: not looked at


def test_only_the_first_256_kib_are_read() -> None:
    late = f"<p>{PROSE}</p>".encode() * 200 + WALLS["login_form"]
    assert len(late) > MAX_BYTES
    assert login_wall(late, url=URL) is None
    # a page that starts as a login form and goes on for megabytes of padding
    padded = WALLS["login_form"] + b" " * (8 << 20)
    assert login_wall(padded, url=URL) == "the page is a login form"


@pytest.mark.parametrize("body", [
    b"<" * MAX_BYTES, b"<a " * (MAX_BYTES // 3), b"<!--" * (MAX_BYTES // 4),
    b"<form>" * (MAX_BYTES // 6), b'<form><input type="' + b"x" * MAX_BYTES,
    b"<form><input type" + b" " * MAX_BYTES + b">", b"<script>" + b"<" * MAX_BYTES,
    b"\xff\xfe\x00<form>\x00<input type=password>", "<ﬁ<\u202e>".encode() * 30000,
    b"<" + b" " * (MAX_BYTES - 8) + b"0>",
    b"<form><input type=" + b" " * (MAX_BYTES - 30) + b"x>",
], ids=["lt", "open-tags", "open-comments", "forms", "open-attr", "spaces", "script",
        "binary", "unicode", "spaces-before-name", "spaces-after-equals"])
def test_hostile_markup_is_read_in_linear_time(body: bytes) -> None:
    started = time.perf_counter()
    login_wall(body, url=URL)  # never raises
    assert time.perf_counter() - started < 1.0
