"""SafeTransport and make_client: every hop to a non-public address is refused.

Refused targets here are loopback only (127.0.0.2, ::1): traffic to real
private ranges or 169.254.x is not allowed from the test machine, so those
ranges are tested through ``address_allowed`` as a pure function.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support.fixture_site import FixtureSite, send
from workers._netguard import address_allowed
from workers.errors import AddressRefused
from workers.net import SafeTransport, make_client, system_resolver

LOOPBACK = ("127.0.0.1/32",)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5.0) as c:
        yield c


def port(site: FixtureSite) -> int:
    return int(site.server.server_address[1])


async def test_allowed_network_is_fetched(site: FixtureSite, client: httpx.AsyncClient) -> None:
    site.add_bytes("/p", b"hello", "text/plain")
    response = await client.get(site.url("/p"))
    assert response.status_code == 200 and response.content == b"hello"


async def test_first_hop_refused_without_allowance(site: FixtureSite) -> None:
    site.add_bytes("/p", b"hello", "text/plain")
    async with make_client(allow_private=False, timeout=5.0) as c:
        with pytest.raises(AddressRefused, match=r"^refused: 127\.0\.0\.1 is not a public addr"):
            await c.get(site.url("/p"))
    assert site.hits == []  # refused before anything was sent


async def test_allow_private_allows_everything(site: FixtureSite) -> None:
    site.add_bytes("/p", b"hello", "text/plain")
    async with make_client(allow_private=True, timeout=5.0) as c:
        assert (await c.get(site.url("/p"))).status_code == 200


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/p", "http://[::1]:{port}/p"])
async def test_redirect_hop_refused(
    site: FixtureSite, client: httpx.AsyncClient, target: str
) -> None:
    site.add_redirect("/r", target.format(port=port(site)))
    with pytest.raises(AddressRefused, match=r"^refused: (127\.0\.0\.2|::1) is not a public"):
        await client.get(site.url("/r"))
    assert [h.path for h in site.hits] == ["/r"]


async def test_hostname_resolving_to_loopback_is_refused(site: FixtureSite) -> None:
    site.add_bytes("/p", b"hello", "text/plain")
    async with make_client(allow_private=False, timeout=5.0) as c:
        with pytest.raises(AddressRefused, match=r"^refused: (127\.0\.0\.1|::1) is not a public"):
            await c.get(f"http://localhost:{port(site)}/p")
    async with make_client(
        allow_private=False, allow_networks=("127.0.0.0/8", "::1/128"), timeout=5.0
    ) as c:
        assert (await c.get(f"http://localhost:{port(site)}/p")).content == b"hello"


async def test_connection_goes_to_the_checked_address(site: FixtureSite) -> None:
    """The name is resolved once per connection; the socket goes to the address checked.

    A rebinding DNS server that answers 127.0.0.2 the second time is never asked again.
    """
    site.add_bytes("/p", b"hello", "text/plain")
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    calls: list[tuple[str, int]] = []

    async def rebinding(host: str, port_: int) -> list[str]:
        calls.append((host, port_))
        return next(answers)

    async with make_client(
        allow_private=False, allow_networks=LOOPBACK, timeout=5.0, resolver=rebinding
    ) as c:
        for _ in range(3):  # keep-alive: one connection, one lookup
            response = await c.get(f"http://pinned.test:{port(site)}/p")
            assert response.content == b"hello"
    assert calls == [("pinned.test", port(site))]
    assert all(h.headers["Host"] == f"pinned.test:{port(site)}" for h in site.hits)


async def test_host_with_any_refused_address_is_refused(site: FixtureSite) -> None:
    async def mixed(host: str, port_: int) -> list[str]:
        return ["127.0.0.1", "127.0.0.2"]

    transport = SafeTransport(allow_networks=LOOPBACK, resolver=mixed)
    async with httpx.AsyncClient(transport=transport) as c:
        with pytest.raises(AddressRefused, match=r"127\.0\.0\.2"):
            await c.get(f"http://mixed.test:{port(site)}/")
    assert site.hits == []


async def test_resolution_failures_are_connect_errors() -> None:
    async def failing(host: str, port_: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def empty(host: str, port_: int) -> list[str]:
        return []

    for resolver, text in ((failing, "not known"), (empty, "no addresses")):
        async with make_client(allow_private=False, resolver=resolver) as c:
            with pytest.raises(httpx.ConnectError, match=f"cannot resolve nowhere.test: .*{text}"):
                await c.get("http://nowhere.test/")


async def test_slow_resolution_is_a_connect_timeout() -> None:
    import asyncio

    async def hanging(host: str, port_: int) -> list[str]:
        await asyncio.sleep(30)
        return []

    async with make_client(allow_private=False, timeout=0.2, resolver=hanging) as c:
        with pytest.raises(httpx.ConnectTimeout, match="resolving slow.test timed out"):
            await c.get("http://slow.test/")


async def test_connect_falls_through_to_the_next_checked_address(site: FixtureSite) -> None:
    # Nothing listens on 127.0.0.2 (the site is bound to 127.0.0.1): refused, next address.
    site.add_bytes("/p", b"second", "text/plain")

    async def two(host: str, port_: int) -> list[str]:
        return ["127.0.0.2", "127.0.0.1"]

    async with make_client(allow_private=False, allow_networks=("127.0.0.0/8",), resolver=two) as c:
        assert (await c.get(f"http://two.test:{port(site)}/p")).content == b"second"
        with pytest.raises(httpx.ConnectError, match="."):
            await c.get(f"http://two.test:{_closed_port()}/p")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_system_resolver_finds_localhost() -> None:
    assert "127.0.0.1" in await system_resolver("localhost", 80)


async def test_scheme_other_than_http_is_refused() -> None:
    transport = SafeTransport()
    with pytest.raises(httpx.UnsupportedProtocol, match="scheme 'ftp'"):
        await transport.handle_async_request(httpx.Request("GET", "ftp://example.org/"))
    await transport.aclose()


async def test_no_cookies_are_kept_or_sent(site: FixtureSite, client: httpx.AsyncClient) -> None:
    site.add_bytes("/set", b"", "text/plain", headers={"Set-Cookie": "session=secret; Path=/"})
    site.add_bytes("/next", b"", "text/plain")
    await client.get(site.url("/set"))
    await client.get(site.url("/next"))
    assert len(client.cookies) == 0
    assert "Cookie" not in site.hits[-1].headers


async def test_environment_proxies_are_ignored(
    site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.2:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.2:9")
    site.add_bytes("/p", b"direct", "text/plain")
    async with make_client(allow_private=False, allow_networks=LOOPBACK) as c:
        assert (await c.get(site.url("/p"))).content == b"direct"


async def test_user_agent_and_redirect_limit(site: FixtureSite) -> None:
    def loop(req: BaseHTTPRequestHandler) -> None:
        send(req, 302, b"", "text/plain", {"Location": "/loop"})

    site.add("/loop", loop)
    async with make_client(
        allow_private=False, allow_networks=LOOPBACK, max_redirects=2, user_agent="preserver-test"
    ) as c:
        with pytest.raises(httpx.TooManyRedirects, match="Exceeded maximum allowed redirects"):
            await c.get(site.url("/loop"))
    assert len(site.hits) == 3
    assert {h.headers["User-Agent"] for h in site.hits} == {"preserver-test"}


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space
        ("127.0.0.2", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", False),  # IPv4-mapped: refused whatever it maps (tests/hostile)
        ("224.0.0.1", False),
        ("not an ip", False),
    ],
)
def test_address_allowed_pure(ip: str, allowed: bool) -> None:
    assert address_allowed(ip, allow_private=False, allow_networks=()) is allowed
    assert address_allowed(ip, allow_private=True, allow_networks=()) is True


def test_address_allowed_networks() -> None:
    assert address_allowed("10.1.2.3", allow_private=False, allow_networks=("10.0.0.0/8",))
    assert not address_allowed("10.1.2.3", allow_private=False, allow_networks=("10.9.0.0/16",))
    assert address_allowed("::1", allow_private=False, allow_networks=("::1/128",))


# -- TLS: the pinned connection still verifies the certificate for the hostname ------------


def _self_signed(tmp_path: Path, hostname: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[int, Path, list[str | None]]]:
    """An HTTPS server on 127.0.0.1 with a certificate for pinned.test; records the SNI."""
    cert, key = _self_signed(tmp_path, "pinned.test")
    server_names: list[str | None] = []
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    def remember(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        server_names.append(name)

    ctx.sni_callback = remember

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            send(self, 200, self.headers["Host"].encode(), "text/plain")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1]), cert, server_names
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def pinned(host: str, port_: int) -> list[str]:
    return ["127.0.0.1"]


async def test_tls_to_the_pinned_address_verifies_the_hostname(
    tls_site: tuple[int, Path, list[str | None]],
) -> None:
    tls_port, cert, server_names = tls_site
    trust = ssl.create_default_context(cafile=str(cert))
    transport = SafeTransport(allow_networks=LOOPBACK, verify=trust, resolver=pinned)
    async with httpx.AsyncClient(transport=transport) as c:
        response = await c.get(f"https://pinned.test:{tls_port}/")
    assert response.text == f"pinned.test:{tls_port}"
    assert server_names == ["pinned.test"]  # SNI is the hostname, not the IP


async def test_tls_certificate_for_another_name_is_rejected(
    tls_site: tuple[int, Path, list[str | None]],
) -> None:
    tls_port, cert, _ = tls_site
    trust = ssl.create_default_context(cafile=str(cert))
    transport = SafeTransport(allow_networks=LOOPBACK, verify=trust, resolver=pinned)
    async with httpx.AsyncClient(transport=transport) as c:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|hostname"):
            await c.get(f"https://other.test:{tls_port}/")


def test_bad_allow_network_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        SafeTransport(allow_networks=("127.0.0.1/33",))


# -- a session's cookies (``cookies_file``): sent where a browser would, nothing kept --------

SESSION_FILE = (
    "# Netscape HTTP Cookie File\n"
    "site.test\tFALSE\t/\tFALSE\t0\thost_only\tA1\n"
    ".site.test\tTRUE\t/\tFALSE\t0\tdomain_wide\tB2\n"
    "site.test\tFALSE\t/private\tFALSE\t0\tin_path\tC3\n"
    "site.test\tFALSE\t/\tTRUE\t0\tsecure_only\tD4\n"
    "site.test\tFALSE\t/\tFALSE\t1000\texpired\tE5\n"
    "other.test\tFALSE\t/\tFALSE\t0\telsewhere\tF6\n"
)


def sent_cookies(site: FixtureSite) -> list[tuple[str, str, str]]:
    """(host, path, the cookies sent, sorted) per request the site got."""
    return [(h.headers.get("Host", "").split(":")[0], h.path,
             "; ".join(sorted(h.headers.get("Cookie", "").split("; ")))) for h in site.hits]


async def test_a_session_is_sent_by_domain_path_secure_and_expiry(
    site: FixtureSite, tmp_path: Path
) -> None:
    """Names resolve to the fixture site through an injected resolver (no DNS offline)."""
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(SESSION_FILE, encoding="utf-8")

    async def names(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    site.add_bytes("/p", b"", "text/plain", headers={"Set-Cookie": "server=Z9; Path=/"})
    site.add_bytes("/private/x", b"", "text/plain")
    site.add_redirect("/away", f"http://other.test:{port(site)}/p")
    async with make_client(allow_private=False, allow_networks=LOOPBACK, resolver=names,
                           cookies_file=cookies) as c:
        for url in ("http://site.test:{}/p", "http://site.test:{}/private/x",
                    "http://www.site.test:{}/p", "http://site.test:{}/away"):
            await c.get(url.format(port(site)))
        assert len(c.cookies) == 0  # the server's cookie was not kept
    assert sent_cookies(site) == [
        ("site.test", "/p", "domain_wide=B2; host_only=A1"),
        ("site.test", "/private/x", "domain_wide=B2; host_only=A1; in_path=C3"),
        ("www.site.test", "/p", "domain_wide=B2"),  # a host-only cookie stays on its host
        ("site.test", "/away", "domain_wide=B2; host_only=A1"),
        ("other.test", "/p", "elsewhere=F6"),  # the redirect's hop gets only its own
    ]


async def test_without_a_session_still_nothing_is_sent(site: FixtureSite, tmp_path: Path) -> None:
    site.add_bytes("/p", b"", "text/plain", headers={"Set-Cookie": "server=Z9; Path=/"})
    async with make_client(allow_private=False, allow_networks=LOOPBACK) as c:
        await c.get(site.url("/p"))
        await c.get(site.url("/p"))
    assert [h.headers.get("Cookie") for h in site.hits] == [None, None]


def test_a_bad_cookies_file_fails_the_client_in_one_line(tmp_path: Path) -> None:
    from workers.errors import CookiesFileError

    bad = tmp_path / "cookies.json"
    bad.write_text('[{"name": "sid", "value": "SECRET-VALUE"}]', encoding="utf-8")
    with pytest.raises(CookiesFileError, match="^a JSON cookie export") as info:
        make_client(allow_private=False, cookies_file=bad)
    assert "SECRET-VALUE" not in str(info.value)
    with pytest.raises(CookiesFileError, match="^not found$"):
        make_client(allow_private=False, cookies_file=tmp_path / "gone.txt")
