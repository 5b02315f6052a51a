"""http_client: every HTTP client of the application is built from ``[network]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from preserver.config import load_config
from preserver.doctor import check_tsas
from preserver.net import Clients, http_client
from tests.support.fixture_site import FixtureSite
from workers import Access
from workers.errors import AddressRefused


def _config(tmp_path: Path, network: str) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[network]\n{network}", encoding="utf-8")
    return cfg


async def test_client_follows_network_settings(tmp_path: Path, site: FixtureSite) -> None:
    cfg = load_config(_config(tmp_path, 'allow_networks = ["127.0.0.1/32"]\nmax_redirects = 1\n'),
                      env={"PRESERVER_NETWORK_USER_AGENT": "preserver-test/1"})
    site.add_bytes("/p", b"hello", "text/plain")
    site.add_redirect("/r2", "/r1")
    site.add_redirect("/r1", "/p")
    async with http_client(cfg.network, timeout=5.0) as http:
        assert (await http.get(site.url("/p"))).content == b"hello"
        assert (await http.get(site.url("/r1"))).content == b"hello"
        with pytest.raises(httpx.TooManyRedirects, match="Exceeded maximum allowed redirects"):
            await http.get(site.url("/r2"))
    assert {h.headers["User-Agent"] for h in site.hits} == {"preserver-test/1"}


async def test_default_client_refuses_private_addresses(tmp_path: Path,
                                                        site: FixtureSite) -> None:
    site.add_bytes("/p", b"hello", "text/plain")
    async with http_client(load_config(None, env={}).network, timeout=5.0) as http:
        with pytest.raises(AddressRefused, match=r"127\.0\.0\.1 is not a public addr"):
            await http.get(site.url("/p"))
    assert site.hits == []


async def test_doctor_asks_tsas_with_the_configured_user_agent(tmp_path: Path,
                                                               site: FixtureSite) -> None:
    site.add_bytes("/tsa", b"no", "text/plain", status=500)
    cfg = _config(tmp_path, 'allow_networks = ["127.0.0.1/32"]\nuser_agent = "preserver-test/2"\n'
                  f'[custody]\ntsa_urls = ["{site.url("/tsa")}"]\n')
    [check] = await check_tsas(load_config(cfg, env={}))
    assert check.outcome == "warn"
    assert [h.headers.get("User-Agent") for h in site.hits] == ["preserver-test/2"]


async def test_clients_one_per_proxy_closed_together(tmp_path: Path, site: FixtureSite,
                                                     proxies: Any) -> None:
    """``Clients``: the direct client for accesses without a proxy (or with one used only
    after a block), one client per proxy URL, all closed by ``aclose``."""
    proxy = proxies()
    cfg = load_config(_config(tmp_path, 'allow_networks = ["127.0.0.1/32"]\n'), env={})
    clients = Clients(cfg.network, timeout=5.0)
    through = Access(group="a", proxy=proxy.url)
    later = Access(group="b", proxy=proxy.url, proxy_on_failure_only=True)
    assert clients.get(Access(group="x")) is clients.direct is clients.get(later)
    assert clients.get(through) is clients.get(Access(group="c", proxy=proxy.url))
    assert clients.get(through) is not clients.direct
    url = site.add_bytes("/p", b"hello", "text/plain")
    assert (await clients.get(through).get(url)).content == b"hello"
    assert (await clients.direct.get(url)).content == b"hello"
    made = [clients.direct, clients.get(through)]
    await clients.aclose()
    assert all(c.is_closed for c in made)
    assert len(proxy.targets) == 1 and [h.client for h in site.hits] == ["127.0.0.2", "127.0.0.1"]
