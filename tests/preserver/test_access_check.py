"""``preserver.access_check``: what ``[access.<group>]`` points at, each broken input
named in one line without a secret; and the commands that capture stop with exit 2
before any request (the fixture site counts them), ``doctor`` lists the same problems.
Proxies are real loopback sockets: one refusing, one silent, one answering SOCKS5 with
"no acceptable method", one speaking HTTP where SOCKS5 is expected."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from preserver.access_check import (
    MAX_COOKIES_BYTES,
    AccessProblem,
    Severity,
    check_access,
    require_access,
)
from preserver.config import Config, load_config
from preserver.doctor import check_access as doctor_access
from preserver.errors import ConfigError
from tests.support.cli import OFFLINE, OPERATOR, assert_one_line_error, run_cli
from tests.support.fixture_site import FixtureSite

COOKIE_VALUE = "AKsecretCookieValue42"
PASSWORD = "hunter2proxy"
GOOD_COOKIES = ("# Netscape HTTP Cookie File\n"
                "# a comment\n\n"
                f".youtube.com\tTRUE\t/\tTRUE\t0\tSID\t{COOKIE_VALUE}\n"
                f"#HttpOnly_.youtube.com\tTRUE\t/\tTRUE\t0\tHSID\t{COOKIE_VALUE}\n")


def _config(tmp_path: Path, access: str) -> Config:
    cfg = tmp_path / "config.toml"
    cfg.write_text('data_dir = "archive"\n' + OPERATOR + OFFLINE + access, encoding="utf-8")
    return load_config(cfg, env={})


def _cookies(tmp_path: Path, text: str | bytes = GOOD_COOKIES, mode: int = 0o600) -> Path:
    path = tmp_path / "cookies.txt"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(mode)
    return path


def _section(cookies: Path | str = "", proxy: str = "", args: str = "") -> str:
    lines = ["[access.youtube]"]
    if cookies:
        lines.append(f'cookies_file = "{cookies}"')
    if proxy:
        lines.append(f'proxy = "{proxy}"')
    if args:
        lines.append(f"extractor_args = {args}")
    return "\n".join(lines) + "\n"


def _problems(tmp_path: Path, section: str, **kw: float) -> list[AccessProblem]:
    return check_access(_config(tmp_path, section), **kw)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def tcp_server() -> Iterator[Callable[[bytes | None], int]]:
    """A loopback server that answers each connection with ``reply`` (None: never answers)."""
    servers: list[socket.socket] = []
    stop = threading.Event()

    def start(reply: bytes | None) -> int:
        srv = socket.create_server(("127.0.0.1", 0))
        servers.append(srv)

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                with conn:
                    conn.settimeout(2)
                    try:
                        conn.recv(64)
                        if reply is not None:
                            conn.sendall(reply)
                        else:
                            stop.wait(2)
                    except OSError:
                        pass

        threading.Thread(target=serve, daemon=True).start()
        port: int = srv.getsockname()[1]
        return port

    yield start
    stop.set()
    for srv in servers:
        srv.close()


# -- cookies ------------------------------------------------------------------------------


def test_a_good_cookies_file_mode_0600_has_no_problem(tmp_path: Path) -> None:
    assert _problems(tmp_path, _section(_cookies(tmp_path))) == []


@pytest.mark.parametrize(("content", "says"), [
    ("# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\n",
     "line 2 has 6 tab-separated fields, not 7: not a Netscape-format cookies file"),
    (f'[{{"name": "SID", "value": "{COOKIE_VALUE}"}}]\n',
     "a JSON cookie export, not a Netscape-format cookies file"),
    (b"\xff\xfe" + COOKIE_VALUE.encode("utf-16-le"), "line 1 is not UTF-8 text"),
    ("# Netscape HTTP Cookie File\n# nothing else\n", "holds no cookie"),
    ("", "holds no cookie"),
    (f".youtube.com\tTRUE\t/\tTRUE\t0\tSID\t{COOKIE_VALUE}\nSID={COOKIE_VALUE}\n",
     "its first line must be '# Netscape HTTP Cookie File'"),
    ((f"# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tSID\t{COOKIE_VALUE}\n"
     f"SID={COOKIE_VALUE}\n"), "line 3 has 1 tab-separated fields"),
    (f"# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t1000\tSID\t{COOKIE_VALUE}\n",
     "every cookie in it has expired"),
], ids=["six-fields", "json-export", "utf16", "comments-only", "empty", "no-header",
        "bad-third-line", "all-expired"])
def test_a_cookies_file_not_in_netscape_format_is_an_error(
    tmp_path: Path, content: str | bytes, says: str,
) -> None:
    [problem] = _problems(tmp_path, _section(_cookies(tmp_path, content)))
    assert problem.severity is Severity.ERROR
    assert problem.message.startswith(f"access.youtube.cookies_file: {tmp_path}/cookies.txt: ")
    assert says in problem.message
    assert COOKIE_VALUE not in problem.message + problem.fix


def test_missing_directory_special_unreadable_and_huge_cookies_files_are_errors(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(MAX_COOKIES_BYTES + 1)
    cases = {tmp_path / "gone.txt": "not found",
             tmp_path: "is a directory",
             fifo: "is not a regular file",
             tmp_path / "plain" / "below-a-file.txt": "cannot be read (Not a directory)",
             huge: f"larger than {MAX_COOKIES_BYTES} bytes"}
    for path, says in cases.items():
        [problem] = _problems(tmp_path, _section(path))
        assert problem.severity is Severity.ERROR and says in problem.message, problem


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_an_unreadable_cookies_file_is_an_error(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, _section(_cookies(tmp_path, mode=0o000)))
    assert "cannot be read (Permission denied)" in problem.message


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_cookies_file_others_may_read_is_a_warning(tmp_path: Path, mode: int) -> None:
    [problem] = _problems(tmp_path, _section(_cookies(tmp_path, mode=mode)))
    assert problem.severity is Severity.WARNING
    assert problem.message.endswith(f"mode {mode:o} lets others read the session: mode "
                                    "should be 0600")
    assert problem.fix == f"chmod 600 {tmp_path}/cookies.txt"


# -- proxy --------------------------------------------------------------------------------


def test_a_proxy_that_refuses_connections_is_named_without_its_password(
    tmp_path: Path,
) -> None:
    port = _free_port()
    for scheme in ("http", "socks5"):
        [problem] = _problems(tmp_path, _section(proxy=f"{scheme}://u:{PASSWORD}@127.0.0.1:"
                                                       f"{port}"))
        assert problem.severity is Severity.ERROR
        assert problem.message == (f"access.youtube.proxy: {scheme}://***@127.0.0.1:{port}: "
                                   "refuses connections (Connection refused)")


def test_a_listening_http_proxy_passes(tmp_path: Path, tcp_server: Callable[..., int]) -> None:
    port = tcp_server(b"")
    assert _problems(tmp_path, _section(proxy=f"http://127.0.0.1:{port}")) == []


@pytest.mark.parametrize(("reply", "says"), [
    (b"\x05\x00", ""),
    (b"\x05\xff", ("accepts none of the offered SOCKS5 authentication methods (does it need "
                  "a user name and password?)")),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "does not answer as a SOCKS5 proxy"),
    (b"", "closed the connection instead of a SOCKS5 greeting"),
    (None, "no SOCKS5 answer within 0.5 s"),
], ids=["accepts", "no-method", "http", "closes", "silent"])
def test_a_socks5_proxy_must_answer_its_greeting(
    tmp_path: Path, tcp_server: Callable[..., int], reply: bytes | None, says: str,
) -> None:
    port = tcp_server(reply)
    problems = _problems(tmp_path, _section(proxy=f"socks5://127.0.0.1:{port}"), timeout=0.5)
    assert [p.message for p in problems] == (
        [f"access.youtube.proxy: socks5://127.0.0.1:{port}: {says}"] if says else [])


def test_a_socks5_proxy_with_a_password_may_ask_for_it(
    tmp_path: Path, tcp_server: Callable[..., int],
) -> None:
    port = tcp_server(b"\x05\x02")  # RFC 1929 username/password: offered, so accepted
    assert _problems(tmp_path, _section(proxy=f"socks5://u:{PASSWORD}@127.0.0.1:{port}")) == []


# -- extractor_args -----------------------------------------------------------------------


def test_extractor_args_yt_dlp_knows_pass(tmp_path: Path) -> None:
    args = ('{ youtube = { player_client = ["default", "mweb", "-tv", "all"] }, '
            'youtubetab = { skip = "webpage" }, facebook = {}, generic = { impersonate = "" } }')
    assert _problems(tmp_path, _section(args=args)) == []


@pytest.mark.parametrize(("args", "says"), [
    ('{ youtub = { player_client = "web" } }', ("'youtub' is not a yt-dlp extractor (did you "
                                                "mean youtube?)")),
    ('"nosuchsite:key=value"', "'nosuchsite' is not a yt-dlp extractor"),
    ('"youtubepot-nosuchprovider:base_url=http://127.0.0.1:1"',
     "'youtubepot-nosuchprovider' is not a yt-dlp extractor"),
    ('{ youtube = { player_client = ["default", "mwbe"] } }',
     "youtube:player_client 'mwbe' is not a YouTube client yt-dlp knows (did you mean mweb?)"),
    ('"youtube:player_client=-andriod"',
     ("youtube:player_client '-andriod' is not a YouTube client yt-dlp knows (did you mean "
     "android?)")),
], ids=["typo", "unknown", "unknown-provider", "client-typo", "exclusion-typo"])
def test_extractor_args_yt_dlp_rejects_are_errors(tmp_path: Path, args: str, says: str) -> None:
    [problem] = _problems(tmp_path, _section(args=args))
    assert problem.severity is Severity.ERROR
    assert problem.message.startswith("access.youtube.extractor_args: " + says), problem


# -- require_access and the commands ------------------------------------------------------


def test_require_access_names_every_error_in_one_line_and_returns_warnings(
    tmp_path: Path,
) -> None:
    port = _free_port()
    section = _section(tmp_path / "gone.txt", f"http://u:{PASSWORD}@127.0.0.1:{port}")
    with pytest.raises(ConfigError, match=r"cookies_file: .*gone.txt: not found; "
                                          r"access.youtube.proxy: http://\*\*\*@") as caught:
        require_access(_config(tmp_path, section))
    assert "\n" not in str(caught.value) and PASSWORD not in str(caught.value)
    warned = require_access(_config(tmp_path, _section(_cookies(tmp_path, mode=0o644))))
    assert [w.severity for w in warned] == [Severity.WARNING]


def test_audit_only_skips_sections_probes_do_not_use(tmp_path: Path) -> None:
    section = _section(tmp_path / "gone.txt") + "audit = false\n"
    assert check_access(_config(tmp_path, section), audit_only=True) == []
    assert len(check_access(_config(tmp_path, section))) == 1


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Each broken input: its section and what the one line says."""
    port = _free_port()
    return {
        "missing": (_section(tmp_path / "gone.txt"), "gone.txt: not found"),
        "directory": (_section(tmp_path), "is a directory"),
        "not-netscape": (_section(_cookies(tmp_path, f"SID={COOKIE_VALUE}\n")),
                         "not a Netscape-format cookies file"),
        "proxy-refuses": (_section(proxy=f"socks5://u:{PASSWORD}@127.0.0.1:{port}"),
                          f"socks5://***@127.0.0.1:{port}: refuses connections"),
        "extractor": (_section(args='"youtub:player_client=web"'), "'youtub' is not a yt-dlp"),
        "client": (_section(args='"youtube:player_client=mwbe"'), "'mwbe' is not a YouTube"),
    }


def test_preserve_stops_before_any_capture_on_each_bad_input(
    tmp_path: Path, site: FixtureSite,
) -> None:
    url = site.add_bytes("/page", b"<html><body>hello</body></html>", "text/html")
    report = tmp_path / "report.txt"
    report.write_text(f"see {url}\n", encoding="utf-8")
    for name, (section, says) in _bad_inputs(tmp_path).items():
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(f'data_dir = "{tmp_path / name}"\n' + OPERATOR + OFFLINE +
                       '[network]\nallow_networks = ["127.0.0.1/32"]\n' + section,
                       encoding="utf-8")
        proc = run_cli("preserve", str(report), config=cfg)
        assert_one_line_error(proc, 2, says)
        assert COOKIE_VALUE not in proc.stdout + proc.stderr, name
        assert PASSWORD not in proc.stdout + proc.stderr, name
        assert not (tmp_path / name).exists(), f"{name}: the archive was opened"
    assert site.hits == []


@pytest.mark.parametrize("command", [["run"], ["serve"], ["audit", "--all"]])
def test_run_serve_and_audit_stop_on_a_bad_proxy(tmp_path: Path, command: list[str]) -> None:
    section = _section(proxy=f"http://u:{PASSWORD}@127.0.0.1:{_free_port()}")
    proc = run_cli(*command, config=_write(tmp_path, section))
    assert_one_line_error(proc, 2, "access.youtube.proxy: http://***@127.0.0.1:")
    assert PASSWORD not in proc.stdout + proc.stderr


def test_audit_ignores_a_section_with_audit_false(tmp_path: Path) -> None:
    section = _section(proxy=f"http://127.0.0.1:{_free_port()}") + "audit = false\n"
    cfg = _write(tmp_path, section)
    run_cli("ingest", str(_cookies(tmp_path)), config=cfg, check=0)  # an archive to audit
    proc = run_cli("audit", "--all", config=cfg)
    assert proc.code == 0, proc.stderr


def test_a_warning_is_shown_and_the_run_goes_on(tmp_path: Path) -> None:
    proc = run_cli("run", config=_write(tmp_path, _section(_cookies(tmp_path, mode=0o644))))
    assert proc.code == 0, proc.stderr
    assert "warning: access.youtube.cookies_file:" in proc.stderr
    assert "mode should be 0600" in proc.stderr and COOKIE_VALUE not in proc.stderr


@pytest.mark.slow
def test_doctor_names_each_bad_input(tmp_path: Path) -> None:
    for name, (section, says) in _bad_inputs(tmp_path).items():
        cfg = _write(tmp_path, section)
        [check] = doctor_access(load_config(cfg, env={}))
        assert (check.name, check.outcome) == ("access.youtube", "fail"), name
        assert says in check.detail and "\n" not in check.detail, (name, check)
        proc = run_cli("doctor", config=cfg)
        assert proc.code == 1, name
        squeezed = "".join(proc.stdout.split())
        assert "FAILaccess.youtube" in squeezed and "".join(says.split()) in squeezed, name
        assert COOKIE_VALUE not in proc.stdout + proc.stderr
        assert PASSWORD not in proc.stdout + proc.stderr


def test_doctor_says_which_sections_are_fine(tmp_path: Path) -> None:
    section = _section(_cookies(tmp_path), args='"youtube:player_client=mweb"') + \
        'label = "account-3"\n'
    [check] = doctor_access(_config(tmp_path, section))
    assert check.outcome == "ok"
    assert check.detail == "youtube (label 'account-3', session, direct, extractor_args)"
    assert doctor_access(_config(tmp_path, ""))[0].outcome == "skip"


def _write(tmp_path: Path, section: str) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "archive"}"\n' + OPERATOR + OFFLINE + section,
                   encoding="utf-8")
    return cfg
