"""workers.cookies.read_cookies: the Netscape cookies file of a session, and hostile ones.

Real files on disk; every error is checked to be one line that quotes nothing of the
file (the file holds the account's secrets).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import pytest

from workers.cookies import MAX_BYTES, read_cookies
from workers.errors import CookiesFileError

HEADER = "# Netscape HTTP Cookie File\n"
SECRET = "s3cr3t" + secrets.token_hex(12)
FUTURE = int(time.time()) + 86400 * 365


def write(tmp_path: Path, text: str | bytes, name: str = "cookies.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def line(domain: str = ".example.org", sub: str = "TRUE", path: str = "/", secure: str = "FALSE",
         expires: str = str(FUTURE), name: str = "sid", value: str = SECRET) -> str:
    return f"{domain}\t{sub}\t{path}\t{secure}\t{expires}\t{name}\t{value}\n"


def refused(path: Path, match: str) -> str:
    with pytest.raises(CookiesFileError, match=match) as info:
        read_cookies(path)
    message = str(info.value)
    assert "\n" not in message and SECRET not in message and "example.org" not in message
    return message


def test_reads_every_field_and_the_httponly_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "# a comment\n\n" + line()
                 + "#HttpOnly_" + line(domain="www.example.org", sub="FALSE", path="/p",
                                       secure="TRUE", expires="0", name="csrf", value="v2")
                 + line(name="old", expires="1000"))  # expired: left out
    a, b = read_cookies(path)
    assert (a.domain, a.domain_specified, a.domain_initial_dot, a.path, a.secure, a.expires,
            a.discard, a.name, a.value) == (".example.org", True, True, "/", False, FUTURE,
                                            False, "sid", SECRET)
    assert (b.domain, b.domain_specified, b.path, b.secure, b.expires, b.discard, b.name,
            b.value) == ("www.example.org", False, "/p", True, None, True, "csrf", "v2")
    assert b.has_nonstandard_attr("HttpOnly") and not a.has_nonstandard_attr("HttpOnly")


def test_windows_line_ends_a_bom_and_the_short_header(tmp_path: Path) -> None:
    text = "\ufeff# HTTP Cookie File\r\n" + line().replace("\n", "\r\n")
    (cookie,) = read_cookies(write(tmp_path, text))
    assert cookie.value == SECRET


def test_the_file_is_read_again_each_time_and_never_written(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + line(value="first"))
    os.chmod(path, 0o600)
    before = path.stat()
    assert read_cookies(path)[0].value == "first"
    assert (path.stat().st_mtime_ns, path.stat().st_size, path.stat().st_mode) == (
        before.st_mtime_ns, before.st_size, before.st_mode)
    replacement = write(tmp_path, HEADER + line(value="second"), name="new.txt")
    replacement.replace(path)
    assert read_cookies(path)[0].value == "second"


@pytest.mark.parametrize(("content", "match"), [
    (b"", "^empty: holds no cookie$"),
    (b"  \n\n", "^empty"),
    (bytes(range(256)) * 64, "^line 2 is not UTF-8 text: not a Netscape-format"),
    (b"\x00" * 300, "^line 1 is not text \\(a NUL byte\\): not a Netscape-format"),
    (b"# Netscape HTTP Cookie File\n\n\xff\xfe", "^line 3 is not UTF-8 text: not a Netscape"),
    ("\u00e9t\u00e9".encode("utf-16-le"), "^line 1 is not UTF-8 text"),
    (json.dumps([{"domain": ".example.org", "name": "sid", "value": SECRET}]).encode(),
     ("^a JSON cookie export, not a Netscape-format cookies file: export the cookies as "
     "cookies.txt")),
    (json.dumps({"cookies": [{"value": SECRET}]}).encode(), "JSON cookie export"),
    (line().encode(), ("^not a Netscape-format cookies file: its first line must be "
                      "'# Netscape HTTP Cookie File'$")),
    (b"sid=" + SECRET.encode() + b"; Path=/\n", "^not a Netscape-format cookies file"),
    (HEADER.encode(), "^holds no cookie: not a Netscape-format cookies file$"),
    (HEADER.encode() + b"# only comments\n", "^holds no cookie"),
])
def test_files_that_are_no_cookies_file(tmp_path: Path, content: bytes, match: str) -> None:
    refused(write(tmp_path, content), match)


@pytest.mark.parametrize(("bad", "match"), [
    (line().replace("\t", " "), "^line 3 has 1 tab-separated fields, not 7: not a Netscape-"),
    (line().rstrip("\n") + "\textra\n", "line 3 has 8 tab-separated fields"),
    (f"example.org\tTRUE\t/\t{SECRET}\n", "line 3 has 4 tab-separated"),
    (line(domain=""), "line 3: the domain is not a host name"),
    (line(domain="exa mple.org"), "line 3: the domain"),
    (line(sub="yes"), "line 3: the include-subdomains field is not TRUE or FALSE"),
    (line(path="p"), "line 3: the path does not start with /"),
    (line(secure="1"), "line 3: the https-only field"),
    (line(expires="tomorrow"), "line 3: the expiry is not a number"),
    (line(name=""), "line 3: the cookie's name is empty or not a token"),
    (line(name="a b"), "line 3: the cookie's name"),
    (line(value=SECRET + "\x07"), "line 3: the cookie's value"),
    (line(value=SECRET + "\r\nX-Injected: 1"), "line 4 has 1 tab-"),  # a line of its own
    (line(value=SECRET + ";admin=1"), "line 3: the cookie's value"),
    (line(value=SECRET + "é"), "line 3: the cookie's value is not printable ASCII"),
])
def test_bad_lines_are_named_by_number_never_quoted(tmp_path: Path, bad: str, match: str) -> None:
    refused(write(tmp_path, HEADER + line(name="good") + bad), match)


def test_only_expired_cookies(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + line(expires="1") + line(name="b", expires="1700000000"))
    refused(path, "^every cookie in it has expired: export the session again$")
    assert len(read_cookies(path, now=1000)) == 1  # at another moment, one is still valid


def test_a_50_mb_file_is_refused_after_reading_the_bound(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.write(HEADER.encode())
        chunk = line().encode() * 1000
        while f.tell() < 50 * 1024 * 1024:
            f.write(chunk)
    started = time.monotonic()
    refused(path, f"^larger than {MAX_BYTES >> 20} MiB: not a session's cookies file$")
    assert time.monotonic() - started < 1.0


def test_missing_directory_and_fifo(tmp_path: Path) -> None:
    refused(tmp_path / "nowhere.txt", "^not found$")
    refused(tmp_path, "not a regular file|unreadable")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    refused(fifo, "^not a regular file$")  # opened without blocking: no writer needed
    assert time.monotonic() - started < 1.0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + line())
    os.chmod(path, 0)
    refused(path, r"^not readable \(permission denied\)$")
