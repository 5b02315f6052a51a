"""What ``[access.<group>]`` points at, checked before anything is captured.

``preserver.config_access`` checks the sections' form when the file is read; this
module checks what their values point at, which may change between runs: the
cookies file (there, readable, a file, in Netscape format with a cookie still valid,
not huge, mode 0600; read as the captures read it, ``workers.read_cookies``), the
proxy (answers a connection; a SOCKS5 proxy also answers its greeting), and the
``extractor_args`` (extractor names yt-dlp knows, and YouTube player clients it
knows). ``doctor`` lists every problem; ``preserve``, ``run``, ``serve`` and ``audit``
call ``require_access`` and stop with exit 2 on an error before any capture.

A problem is one line and never shows a secret: no line of a cookies file is ever
printed (only its path and a line number), and a proxy is named with its credentials
redacted (``redact_proxy``).
"""

from __future__ import annotations

import difflib
import socket
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from preserver.config import Config
from preserver.config_access import AccessConfig, redact_proxy
from preserver.errors import ConfigError
from workers import CookiesFileError, read_cookies

__all__ = ["AccessProblem", "Severity", "check_access", "require_access"]

MAX_COOKIES_BYTES = 10 * 1024 * 1024  # a browser's whole cookie jar is a few MB
CONNECT_TIMEOUT = 5.0  # seconds for a proxy to accept a connection and greet


class Severity(StrEnum):
    ERROR = "error"  # nothing is captured until it is fixed
    WARNING = "warning"  # captures go on; the operator should fix it


@dataclass(frozen=True, kw_only=True)
class AccessProblem:
    """One thing wrong with one ``[access.<group>]`` section, in one line."""

    group: str
    severity: Severity
    message: str  # "access.youtube.cookies_file: ... " - never a secret
    fix: str = ""


def check_access(config: Config, *, audit_only: bool = False,
                 timeout: float = CONNECT_TIMEOUT) -> list[AccessProblem]:
    """Every problem of every ``[access.<group>]`` (only those with ``audit = true``
    when ``audit_only``: the sections availability probes use)."""
    sections = [a for a in config.access.values() if a.audit or not audit_only]
    problems: list[AccessProblem] = []
    for access in sections:
        if access.cookies_file:
            problems += _cookies(access.group, Path(access.cookies_file))
        if access.proxy:
            problems += _proxy(access.group, access.proxy, timeout)
    if any(a.extractor_args for a in sections):
        known = _KnownNames.of_yt_dlp()
        for access in sections:
            problems += _extractor_args(access, known)
    return problems


def require_access(config: Config, *, audit_only: bool = False,
                   timeout: float = CONNECT_TIMEOUT) -> list[AccessProblem]:
    """``check_access``: a ``ConfigError`` (exit 2) naming every error in one line when
    there is one, else the warnings, for the caller to show."""
    problems = check_access(config, audit_only=audit_only, timeout=timeout)
    errors = [p.message for p in problems if p.severity is Severity.ERROR]
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    if errors:
        raise ConfigError("; ".join(errors))
    return warnings


# -- cookies ----------------------------------------------------------------------------


def _cookies(group: str, path: Path) -> list[AccessProblem]:
    where = f"access.{group}.cookies_file: {path}"

    def error(why: str, fix: str = "") -> list[AccessProblem]:
        return [AccessProblem(group=group, severity=Severity.ERROR, message=f"{where}: {why}",
                              fix=fix or "export the session's cookies in Netscape format "
                                         "(a cookies.txt) and chmod 600 it")]

    try:
        st = path.stat()
    except FileNotFoundError:
        return error("not found")
    except OSError as exc:
        return error(f"cannot be read ({exc.strerror or type(exc).__name__})")
    if stat.S_ISDIR(st.st_mode):
        return error("is a directory, not a cookies file")
    if not stat.S_ISREG(st.st_mode):
        return error("is not a regular file")
    if st.st_size > MAX_COOKIES_BYTES:
        return error(f"{st.st_size} bytes: larger than {MAX_COOKIES_BYTES} bytes, not a "
                     "session's cookies file")
    try:
        problem = _netscape_problem(path)
    except OSError as exc:
        return error(f"cannot be read ({exc.strerror or type(exc).__name__})")
    if problem:
        return error(problem)
    if st.st_mode & 0o077:
        return [AccessProblem(group=group, severity=Severity.WARNING,
                              message=f"{where}: mode {st.st_mode & 0o777:o} lets others read "
                                      "the session: mode should be 0600",
                              fix=f"chmod 600 {path}")]
    return []


def _netscape_problem(path: Path) -> str:
    """What makes ``path`` unusable as a session, or "": the very reader the captures use
    (``workers.read_cookies``: Netscape format, each field, no cookie left unexpired), so
    a file ``doctor`` passes is one a capture can send. Names lines by number only: a
    line of this file is a secret."""
    try:
        read_cookies(path)
    except CookiesFileError as exc:
        return str(exc)
    return ""


# -- proxy ------------------------------------------------------------------------------


def _proxy(group: str, url: str, timeout: float) -> list[AccessProblem]:
    parts = urlsplit(url)
    why = _proxy_problem(parts.scheme.lower(), parts.hostname or "", parts.port or 0,
                         with_password=bool(parts.username), timeout=timeout)
    if not why:
        return []
    return [AccessProblem(group=group, severity=Severity.ERROR,
                          message=f"access.{group}.proxy: {redact_proxy(url)}: {why}",
                          fix=f"start the proxy, or correct or remove access.{group}.proxy")]


def _proxy_problem(scheme: str, host: str, port: int, *, with_password: bool,
                   timeout: float) -> str:
    """Why the proxy cannot be used, or "": it must accept a TCP connection, and a SOCKS5
    proxy must also answer its greeting (cheap: no request goes through it)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        return f"no connection within {timeout:g} s"
    except OSError as exc:
        return f"refuses connections ({exc.strerror or type(exc).__name__})"
    with sock:
        if not scheme.startswith("socks5"):
            return ""
        try:
            return _socks5_greeting(sock, with_password=with_password)
        except TimeoutError:
            return f"no SOCKS5 answer within {timeout:g} s"
        except OSError as exc:
            return f"dropped the SOCKS5 greeting ({exc.strerror or type(exc).__name__})"


def _socks5_greeting(sock: socket.socket, *, with_password: bool) -> str:
    """RFC 1928 section 3: offer "no authentication" (and username/password, RFC 1929,
    when the URL has credentials); "" when the proxy picks one of them."""
    offered = b"\x00\x02" if with_password else b"\x00"
    sock.sendall(b"\x05" + bytes([len(offered)]) + offered)
    answer = b""
    while len(answer) < 2:
        chunk = sock.recv(2 - len(answer))
        if not chunk:
            return "closed the connection instead of a SOCKS5 greeting"
        answer += chunk
    if answer[0] != 5:
        return "does not answer as a SOCKS5 proxy"
    if answer[1] == 0xFF or bytes([answer[1]]) not in offered:
        need = "" if with_password else " (does it need a user name and password?)"
        return f"accepts none of the offered SOCKS5 authentication methods{need}"
    return ""


# -- extractor_args ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _KnownNames:
    extractors: frozenset[str]  # lower-cased extractor keys, plugin ones and provider ones
    player_clients: frozenset[str]  # YouTube innertube clients a user may name

    @classmethod
    def of_yt_dlp(cls) -> _KnownNames:
        """Read from yt-dlp in this process, plugins loaded as captures load them."""
        from yt_dlp.extractor import gen_extractor_classes
        from yt_dlp.extractor.youtube._base import INNERTUBE_CLIENTS
        from yt_dlp.extractor.youtube.jsc._registry import _jsc_providers
        from yt_dlp.extractor.youtube.pot._registry import (
            _pot_cache_providers,
            _pot_pcs_providers,
            _pot_providers,
        )

        from workers import load_plugins

        load_plugins()
        names = {ie.ie_key().lower() for ie in gen_extractor_classes()}
        for prefix, registries in (("youtubepot", (_pot_providers, _pot_cache_providers,
                                                   _pot_pcs_providers)),
                                   ("youtubejsc", (_jsc_providers,))):
            names |= {f"{prefix}-{key.lower()}" for r in registries for key in r.value}
        clients = {c for c in INNERTUBE_CLIENTS if not c.startswith("_")}
        return cls(extractors=frozenset(names), player_clients=frozenset(clients))


_NAME_FIX = ("name extractors as yt-dlp's --extractor-args does (youtube, youtubetab, facebook, "
             "generic, youtubepot-bgutilhttp ...)")
_CLIENT_FIX = "player_client takes default, all, a client's name, or -name to leave one out"


def _extractor_args(access: AccessConfig, known: _KnownNames) -> list[AccessProblem]:
    where = f"access.{access.group}.extractor_args"
    found: list[tuple[str, str]] = []  # (what is wrong, how to fix it)
    for ie, args in access.extractor_args.items():
        if ie not in known.extractors:
            found.append((f"{ie!r} is not a yt-dlp extractor{_hint(ie, known.extractors)}",
                          _NAME_FIX))
        elif ie == "youtube":
            found += [(p, _CLIENT_FIX) for p in _player_clients(args, known.player_clients)]
    return [AccessProblem(group=access.group, severity=Severity.ERROR,
                          message=f"{where}: {what}", fix=fix) for what, fix in found]


def _player_clients(args: Mapping[str, tuple[str, ...]], clients: frozenset[str]) -> list[str]:
    problems = []
    for value in args.get("player_client", ()):
        word = value.strip().lower()
        if word in ("default", "all") or word.removeprefix("-") in clients:
            continue
        problems.append(f"youtube:player_client {value!r} is not a YouTube client yt-dlp "
                        f"knows{_hint(word.removeprefix('-'), clients)} (known: "
                        f"{', '.join(sorted(clients))})")
    return problems


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
