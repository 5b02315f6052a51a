"""The httpx clients through the operator's proxy (``workers._upstream`` under ``workers.net``).

Real httpx, a real forward proxy (tests/support/proxy.py: HTTP CONNECT and SOCKS5, with
and without credentials) and the fixture site, all on loopback. The proxy connects
onwards from 127.0.0.2, and the site's ``/who`` answers with the client address it saw,
so every test knows which way a request went. Names that resolve to refused addresses
come from a fake resolver (no DNS offline) feeding the real guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from warcio.archiveiterator import ArchiveIterator

from tests.support.fixture_site import FixtureSite, send
from tests.support.proxy import ForwardProxy, dead_proxy_url
from tests.support.tls import make_pki
from workers import _upstream
from workers._upstream import Upstream
from workers.errors import AddressRefused
from workers.net import make_client
from workers.page import snapshot_page
from workers.types import Status

LOCAL = ("127.0.0.1/32",)
PASSWORD = "s3cret-proxy-pw"
Proxies = Callable[..., ForwardProxy]


def who(req: BaseHTTPRequestHandler) -> None:
    send(req, 200, req.client_address[0].encode(), "text/plain")


def client(proxy: str | None, **kwargs: object) -> httpx.AsyncClient:
    return make_client(allow_private=False, allow_networks=LOCAL, timeout=5.0, proxy=proxy,
                       **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("scheme", ["http", "socks5"])
@pytest.mark.parametrize("login", [False, True], ids=["anonymous", "login"])
async def test_every_request_goes_through_the_proxy_to_the_checked_ip(
    scheme: str, login: bool, site: FixtureSite, proxies: Proxies
) -> None:
    proxy = proxies(username="u", password=PASSWORD) if login else proxies()
    url = site.add("/who", who)

    async with client(proxy.url if scheme == "http" else proxy.socks_url) as c:
        first = await c.get(url)
        second = await c.get(url)

    assert (first.text, second.text) == ("127.0.0.2", "127.0.0.2")  # the proxy's way out
    port = site.base_url.rpartition(":")[2]
    assert proxy.targets == [f"127.0.0.1:{port}"]  # an IP, never a name; one kept-alive tunnel
    if scheme == "socks5":
        assert proxy.socks_address_types == [1]  # IPv4 address, not a domain name (3)
    # the server address recorded is the target's, not the proxy's
    assert first.extensions["network_stream"].get_extra_info("server_addr") == (
        "127.0.0.1", int(port))


async def test_without_a_proxy_requests_go_direct(site: FixtureSite, proxies: Proxies) -> None:
    proxy = proxies()
    url = site.add("/who", who)

    async with client(None) as c:
        assert (await c.get(url)).text == "127.0.0.1"
    assert proxy.targets == []


async def test_tls_stays_end_to_end_through_the_tunnel(tmp_path: Path, proxies: Proxies) -> None:
    pki = make_pki(tmp_path)
    site = FixtureSite.start(tls=pki.server_context())
    proxy = proxies(username="u", password=PASSWORD)
    try:
        url = site.add("/who", who)
        async with client(proxy.url, verify=pki.client_context()) as c:
            response = await c.get(url)
        async with client(proxy.url) as untrusting:  # certifi's roots: the test CA is unknown
            with pytest.raises(httpx.ConnectError, match="(?i)certificate verify failed"):
                await untrusting.get(url)
    finally:
        site.close()
    assert response.text == "127.0.0.2"
    ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
    assert ssl_object.getpeercert(binary_form=True) == pki.server.public_bytes(Encoding.DER)


async def test_a_name_resolving_to_a_refused_address_never_reaches_the_proxy(
    proxies: Proxies
) -> None:
    proxy = proxies()

    async def rebinding(host: str, port: int) -> list[str]:
        return ["127.0.0.2"]

    async with client(proxy.url, resolver=rebinding) as c:
        with pytest.raises(AddressRefused, match=r"^refused: 127\.0\.0\.2 is not a public"):
            await c.get("http://internal.test/")
    async with client(proxy.socks_url) as c:
        for literal in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                        "http://[::1]/"):
            with pytest.raises(AddressRefused, match="^refused: "):
                await c.get(literal)
    assert proxy.connections == 0


@pytest.mark.parametrize("internal", ["http://169.254.169.254/latest/meta-data/",
                                      "http://10.1.2.3/admin"])
async def test_a_redirect_through_the_proxy_to_an_internal_address_is_refused(
    internal: str, site: FixtureSite, proxies: Proxies, tmp_path: Path
) -> None:
    proxy = proxies(username="u", password=PASSWORD)
    url = site.add_redirect("/r", internal)

    async with client(proxy.url) as c:
        with (tmp_path / "page.warc.gz").open("wb") as out:
            outcome = await snapshot_page(url, client=c, out=out, max_bytes=1 << 20)

    assert outcome.status is Status.ERROR and outcome.transient is False
    assert outcome.message.startswith("refused: "), outcome.message
    assert [t.rpartition(":")[0] for t in proxy.targets] == ["127.0.0.1"]  # the first hop only


async def test_environment_proxies_are_ignored(
    site: FixtureSite, proxies: Proxies, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured, environment = proxies(), proxies()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.setenv(name, environment.url)
    monkeypatch.setenv("NO_PROXY", "")
    url = site.add("/who", who)

    async with client(None) as direct:
        assert (await direct.get(url)).text == "127.0.0.1"
    async with client(configured.url) as proxied:
        assert (await proxied.get(url)).text == "127.0.0.2"
    assert environment.connections == 0
    assert len(configured.targets) == 1


async def test_a_page_snapshot_through_the_proxy_keeps_no_proxy_secret(
    site: FixtureSite, proxies: Proxies, tmp_path: Path
) -> None:
    proxy = proxies(username="operator", password=PASSWORD)
    url = site.add("/who", who)

    async with client(proxy.url) as c:
        with (tmp_path / "page.warc.gz").open("wb") as out:
            outcome = await snapshot_page(url, client=c, out=out, max_bytes=1 << 20)

    assert outcome.status is Status.AVAILABLE and outcome.ip_address == "127.0.0.1"
    data = (tmp_path / "page.warc.gz").read_bytes()
    with (tmp_path / "page.warc.gz").open("rb") as f:
        records = [(r, r.content_stream().read())[0] for r in ArchiveIterator(f)]
    assert gzip.decompress(data).count(b"127.0.0.2") == 1  # the body /who answered, only
    for needle in (PASSWORD.encode(), b"operator", str(proxy.port).encode()):
        assert needle not in gzip.decompress(data), needle
    (request,) = [r for r in records if r.rec_type == "request"]
    assert request.http_headers.get_header("Proxy-Authorization") is None
    assert [r.rec_headers.get_header("WARC-IP-Address") for r in records
            if r.rec_type == "response"] == ["127.0.0.1"]
    assert proxy.proxy_authorizations  # the proxy did get the credentials, in the tunnel's set-up


@pytest.mark.slow
async def test_a_dead_proxy_is_one_transient_line_naming_it_without_the_password(
    site: FixtureSite, tmp_path: Path
) -> None:
    dead = dead_proxy_url()
    url = site.add("/who", who)

    async with client(dead) as c:
        with (tmp_path / "page.warc.gz").open("wb") as out:
            outcome = await snapshot_page(url, client=c, out=out, max_bytes=1 << 20)

    shown = dead.replace("user:dead-proxy-pw@", "***@")
    assert outcome.status is Status.ERROR and outcome.transient is True
    assert outcome.message.startswith(f"ProxyError: proxy {shown}: cannot connect"), outcome.message
    assert "\n" not in outcome.message and "dead-proxy-pw" not in outcome.message
    assert site.hits == []


@pytest.mark.parametrize("scheme", ["http", "socks5"])
async def test_wrong_credentials_are_named_without_echoing_them(
    scheme: str, site: FixtureSite, proxies: Proxies
) -> None:
    proxy = proxies(username="u", password=PASSWORD)
    url = f"{scheme}://u:wrong-pw@127.0.0.1:{proxy.port}"

    async with client(url) as c:
        with pytest.raises(httpx.ProxyError, match="refused the credentials") as caught:
            await c.get(site.add("/who", who))

    assert "wrong-pw" not in str(caught.value) and f"{scheme}://***@127.0.0.1" in str(caught.value)
    assert proxy.targets == [] and site.hits == []


async def test_a_proxy_speaking_nonsense_is_a_proxy_error(site: FixtureSite) -> None:
    """A fixture site is not a proxy: its answer to CONNECT is not a 2xx."""
    url = site.add("/who", who)
    async with client(f"http://u:{PASSWORD}@{site.base_url.removeprefix('http://')}") as c:
        with pytest.raises(httpx.ProxyError, match=r"refused the tunnel to 127\.0\.0\.1:\d+: HTTP"):
            await c.get(url)


def test_upstream_hides_its_credentials() -> None:
    up = Upstream.parse(f"socks5h://user:{PASSWORD}@proxy.example:1080")
    assert (up.host, up.port, up.username, up.password) == ("proxy.example", 1080, "user",
                                                            PASSWORD)
    assert PASSWORD not in repr(up) and up.shown == "socks5h://***@proxy.example:1080"
    with pytest.raises(ValueError, match=r"^not a proxy URL .*ftp://\*\*\*@h:21$"):
        Upstream.parse(f"ftp://u:{PASSWORD}@h:21")
    with pytest.raises(ValueError, match="not a proxy URL") as caught:
        Upstream.parse(f"http://u:{PASSWORD}@h:99999")
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("url", [
    f"http://agent7:{PASSWORD}/x@proxy.example:3128",  # "/" in a password not percent-encoded
    f"http://agent7:80/{PASSWORD}@proxy.example:3128",
    f"socks5://agent7:{PASSWORD}?x@proxy.example:1080", f"http://agent7:{PASSWORD}#x@proxy.example:1",
    f"agent7:{PASSWORD}@proxy.example:3128",  # the scheme forgotten
])
def test_an_unreadable_proxy_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        Upstream.parse(url)
    assert PASSWORD not in str(caught.value) and "agent7" not in str(caught.value)



async def test_a_proxy_that_sends_data_before_the_tunnel_is_used_is_refused() -> None:
    """A hostile proxy that answers CONNECT and at once sends bytes of its own: they would
    pass for the target's, so the tunnel is refused."""
    writers: list[asyncio.StreamWriter] = []

    async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake")
        await writer.drain()

    server = await asyncio.start_server(hostile, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(f"http://127.0.0.1:{port}") as c:
            with pytest.raises(httpx.ProxyError, match="sent data before the tunnel was used"):
                await c.get("http://127.0.0.1:9/")
    finally:
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()


async def test_an_https_proxy_is_reached_over_tls_with_tls_to_the_target_inside(
    tmp_path: Path, proxies: Proxies
) -> None:
    """TLS to the proxy (its certificate checked), then TLS to the site inside the tunnel."""
    pki = make_pki(tmp_path)
    site = FixtureSite.start(tls=pki.server_context())
    proxy = proxies(username="u", password=PASSWORD, tls=pki.server_context())
    try:
        url = site.add("/who", who)
        async with client(proxy.url, verify=pki.client_context()) as c:
            response = await c.get(url)
    finally:
        site.close()
    assert proxy.url.startswith("https://") and response.text == "127.0.0.2"
    assert len(proxy.targets) == 1


@pytest.mark.slow
async def test_a_proxy_that_trickles_its_answer_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile proxy that answers CONNECT one byte at a time, each just inside the read
    timeout: the whole handshake is bounded (``HANDSHAKE_READS`` read timeouts)."""
    monkeypatch.setattr(_upstream, "HANDSHAKE_READS", 2)
    writers: list[asyncio.StreamWriter] = []

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        async with make_client(allow_private=False, allow_networks=LOCAL, timeout=0.5,
                               proxy=f"http://127.0.0.1:{port}") as c:
            with pytest.raises(httpx.ConnectTimeout, match="handshake timed out"):
                await c.get("http://127.0.0.1:9/")
        assert time.monotonic() - started < 5  # 2 x 0.5 s, not 1,000 bytes x 0.1 s
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()
