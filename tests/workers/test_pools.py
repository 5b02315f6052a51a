"""SafeTransport's pools (``workers._pools``): one per origin, so connections to many hosts
are kept alive and reused under concurrency, and the pools held stay bounded.

Real sockets: a minimal asyncio HTTP/1.1 server on several loopback addresses counts the
connections it accepts.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from workers import net
from workers.errors import AddressRefused
from workers.net import SafeTransport, make_client

BODY = b"<html><body>up</body></html>"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


class _Server(asyncio.Protocol):
    accepted = 0
    open = 0  # connections accepted and not yet closed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        type(self).accepted += 1
        type(self).open += 1
        self.transport, self.buffer = transport, b""

    def connection_lost(self, exc: Exception | None) -> None:
        type(self).open -= 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            self.buffer = self.buffer[end + 4:]
            self.transport.write(RESPONSE)


@pytest.fixture
async def hosts() -> AsyncIterator[list[str]]:
    """``http://127.0.0.N:PORT`` for 60 loopback addresses, one server each."""
    _Server.accepted = _Server.open = 0
    loop = asyncio.get_running_loop()
    servers, urls = [], []
    for n in range(2, 62):
        server = await loop.create_server(_Server, f"127.0.0.{n}", 0)
        servers.append(server)
        urls.append(f"http://127.0.0.{n}:{server.sockets[0].getsockname()[1]}")
    yield urls
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.mark.slow
async def test_connections_are_reused_across_many_hosts_under_concurrency(
        hosts: list[str]) -> None:
    """2,000 requests to 60 hosts in turn, 16 at a time (an audit's shape): each host's
    connections are kept and reused. httpcore's one pool closed every idle connection
    while more than ``max_keepalive_connections`` (20) were open, so nearly every request
    opened one; then, with at most 32 idle origins kept, a host's pool was closed before
    its turn came again and one request in two opened a connection."""
    limit = asyncio.Semaphore(16)
    async with make_client(allow_private=False, allow_networks=("127.0.0.0/8",),
                           timeout=10.0) as client:
        async def get(n: int) -> int:
            async with limit:
                return (await client.get(f"{hosts[n % len(hosts)]}/ok?n={n}")).status_code

        codes = await asyncio.gather(*(get(n) for n in range(2000)))
    assert codes == [200] * 2000
    assert _Server.accepted <= 120, _Server.accepted  # 16 at once, over 60 hosts


@pytest.fixture
def few_idle(monkeypatch: pytest.MonkeyPatch) -> int:
    """Idle pools kept: at most 8 origins (the connections' bound left wide)."""
    monkeypatch.setattr(net, "_IDLE_ORIGINS", 8)
    return 8


async def test_the_pools_held_stay_bounded(hosts: list[str], few_idle: int) -> None:
    """One request to each of 60 origins, one after another: only the most recently used
    ``_IDLE_ORIGINS`` keep their connections; the others are closed."""
    transport = SafeTransport(allow_networks=("127.0.0.0/8",))
    async with httpx.AsyncClient(transport=transport) as client:
        for url in hosts:
            assert (await client.get(f"{url}/ok")).status_code == 200
            assert transport.origins <= few_idle
        assert transport.origins == few_idle < len(hosts)
        await client.get(f"{hosts[-1]}/ok")  # the latest origin's connection is reused
        assert _Server.accepted == len(hosts)
    assert transport.origins == 0


async def test_the_idle_connections_held_stay_bounded(hosts: list[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Four requests at once to each of 10 origins, one origin after another: each pool
    goes idle holding four connections, and the idle pools keep at most
    ``_IDLE_CONNECTIONS`` (here 10) between them; the server sees the others closed."""
    monkeypatch.setattr(net, "_IDLE_CONNECTIONS", 10)
    transport = SafeTransport(allow_networks=("127.0.0.0/8",))
    async with httpx.AsyncClient(transport=transport) as client:
        for url in hosts[:10]:
            answers = await asyncio.gather(*(client.get(f"{url}/ok?n={n}") for n in range(4)))
            assert [a.status_code for a in answers] == [200] * 4
            await asyncio.sleep(0.05)  # the server sees closed connections closed
            assert _Server.open <= 10, _Server.open
        assert _Server.accepted == 40
        assert transport.origins == 2  # 2 idle pools of 4 connections: 8 <= 10 < 12
    await asyncio.sleep(0.05)
    assert _Server.open == 0


async def test_every_origin_is_still_guarded(hosts: list[str]) -> None:
    """A pool made for a new origin connects through the guard: a name is resolved and
    checked at connect time, so a name that resolves to a loopback address outside the
    allowance is refused, whichever pools are already open."""
    port2, port3 = (int(url.rsplit(":", 1)[1]) for url in hosts[:2])

    async def resolve(host: str, port: int) -> list[str]:
        return {"allowed.test": ["127.0.0.2"], "refused.test": ["127.0.0.3"]}[host]

    async with make_client(allow_private=False, allow_networks=("127.0.0.2/32",),
                           timeout=5.0, resolver=resolve) as client:
        assert (await client.get(f"http://allowed.test:{port2}/ok")).status_code == 200
        for _ in range(2):
            with pytest.raises(AddressRefused, match=r"127\.0\.0\.3 is not a public address"):
                await client.get(f"http://refused.test:{port3}/ok")
            with pytest.raises(AddressRefused, match=r"127\.0\.0\.3 is not a public address"):
                await client.get(f"{hosts[1]}/ok")
        assert (await client.get(f"http://allowed.test:{port2}/ok")).status_code == 200
    assert _Server.accepted == 1


async def test_requests_search_no_module_on_the_path(hosts: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """httpcore imports sniffio for each lock and event it sets up; when it is not
    installed, each import searched ``sys.path`` again (several times a request)."""
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counted(name: str, *args: Any, **kwargs: Any) -> Any:
        searched.append(name)
        return find_spec(name, *args, **kwargs)

    async with make_client(allow_private=False, allow_networks=("127.0.0.0/8",),
                           timeout=5.0) as client:
        await client.get(f"{hosts[0]}/ok")  # whatever a first request imports
        monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counted)
        for n in range(20):
            assert (await client.get(f"{hosts[n % 2]}/ok")).status_code == 200
    assert searched == []


async def test_responses_closed_after_the_transport_are_let_go(hosts: list[str],
                                                                few_idle: int) -> None:
    """Responses still open when the transport closes (a run cut off mid-request), more
    of them than ``_IDLE_ORIGINS``, each to its own origin: closing them afterwards
    raises nothing, and no pool is kept."""
    transport = SafeTransport(allow_networks=("127.0.0.0/8",))
    client = httpx.AsyncClient(transport=transport)
    responses = [await client.send(client.build_request("GET", f"{url}/ok"), stream=True)
                 for url in hosts]
    await transport.aclose()
    for response in responses:
        await response.aclose()
    assert transport.origins == 0
