"""yt-dlp through the operator's proxy: the guard proxy of the child (``workers._guard_proxy``).

Real yt-dlp in its real child process, the fixture site and a real forward proxy
(tests/support/proxy.py) on loopback. The proxy connects onwards from 127.0.0.2, so the
requests it carried are told apart from direct ones; it counts every target it was asked
for. The "internal service" is 127.0.0.2 or an address no test machine reaches
(169.254.169.254, 10.x): refused before the proxy sees anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fixture_site import FixtureSite, Media, add_directory, make_hls
from tests.support.proxy import ForwardProxy, dead_proxy_url
from tests.support.tls import make_pki
from workers import _guard_proxy
from workers._probe_child import ProbeRequest, run_ytdlp_probe
from workers._upstream import Upstream
from workers.access import Access
from workers.media import capture_media
from workers.net import _GuardedBackend, _Policy, system_resolver
from workers.types import CaptureJob, Limits, Status

LOCAL = ("127.0.0.1/32",)
PASSWORD = "s3cret-proxy-pw"
Proxies = Callable[..., ForwardProxy]


def job(url: str, work_dir: Path, proxy: str | None) -> CaptureJob:
    work_dir.mkdir(parents=True, exist_ok=True)
    return CaptureJob(
        job_id=7, capture_id="00000000-0000-4000-8000-000000000007", target_key=f"web:{url}",
        url=url, platform="web", work_dir=work_dir,
        limits=Limits(max_bytes=5_000_000, timeout_seconds=30.0, socket_timeout_seconds=5.0),
        allow_private=False, allow_networks=LOCAL, ffmpeg=None,
        access=Access(group="127.0.0.1", label="proxy-test", proxy=proxy),
    )


def stored_text(work_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in work_dir.rglob("*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["http", "socks5"])
async def test_media_goes_through_the_proxy(
    scheme: str, site: FixtureSite, media: Media, proxies: Proxies, tmp_path: Path
) -> None:
    proxy = proxies(username="u", password=PASSWORD)
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")

    outcome = await capture_media(job(url, tmp_path / "w", proxy.url if scheme == "http"
                                      else proxy.socks_url))

    assert outcome.status is Status.AVAILABLE, outcome.message
    (mp4,) = [f for f in outcome.files if f.role == "media"]
    assert mp4.path.read_bytes() == media.mp4.read_bytes()
    assert site.hits and {h.client for h in site.hits} == {"127.0.0.2"}  # none direct
    assert proxy.hits("127.0.0.1") == len(site.hits)  # one tunnel each
    assert PASSWORD.encode() not in stored_text(tmp_path / "w")
    assert PASSWORD not in json.dumps(outcome.metadata) + json.dumps(outcome.responses)


@pytest.mark.slow
async def test_every_hls_fragment_goes_through_the_proxy(
    site: FixtureSite, media: Media, proxies: Proxies, tmp_path: Path
) -> None:
    add_directory(site, "/hls", make_hls(media.mp4, tmp_path / "hls" / "hls").parent)
    proxy = proxies()

    outcome = await capture_media(job(site.url("/hls/index.m3u8"), tmp_path / "w", proxy.url))

    assert outcome.status is Status.AVAILABLE, outcome.message
    fragments = [h for h in site.hits if h.path.endswith(".ts")]
    assert len(fragments) >= 2
    assert {h.client for h in site.hits} == {"127.0.0.2"}
    assert proxy.hits("127.0.0.1") == len(site.hits)


async def test_a_refused_target_never_reaches_the_proxy(
    site: FixtureSite, media: Media, proxies: Proxies, tmp_path: Path
) -> None:
    proxy = proxies(username="u", password=PASSWORD)
    internal = site.url("/clip.mp4").replace("127.0.0.1", "127.0.0.2")
    site.add_file("/clip.mp4", media.mp4, "video/mp4")

    outcome = await capture_media(job(internal, tmp_path / "w", proxy.url))

    assert outcome.status is Status.ERROR and outcome.transient is False
    assert outcome.message == "refused: 127.0.0.2 is not a public address"
    assert proxy.connections == 0 and site.hits == []


@pytest.mark.parametrize("internal", ["http://169.254.169.254/latest/meta-data/video.mp4",
                                      "http://10.1.2.3/video.mp4"])
async def test_a_redirect_to_an_internal_address_is_refused_in_the_guard(
    internal: str, site: FixtureSite, proxies: Proxies, tmp_path: Path
) -> None:
    proxy = proxies()
    url = site.add_redirect("/hop.mp4", internal)

    outcome = await capture_media(job(url, tmp_path / "w", proxy.url))

    assert outcome.status is Status.ERROR, outcome
    assert outcome.message.startswith("refused: "), outcome.message
    assert {t.rpartition(":")[0] for t in proxy.targets} == {"127.0.0.1"}  # never the internal one
    assert not [f for f in outcome.files if f.role == "media"]


async def test_a_dead_proxy_is_one_transient_line(
    site: FixtureSite, media: Media, tmp_path: Path
) -> None:
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")
    dead = dead_proxy_url()

    outcome = await capture_media(job(url, tmp_path / "w", dead))

    shown = dead.replace("user:dead-proxy-pw@", "***@")
    assert outcome.status is Status.ERROR and outcome.transient is True
    assert outcome.message.startswith(f"proxy {shown}: cannot connect"), outcome.message
    assert "\n" not in outcome.message and "dead-proxy-pw" not in outcome.message
    assert site.hits == []


@pytest.mark.slow
async def test_the_probe_child_goes_through_the_proxy(
    site: FixtureSite, media: Media, proxies: Proxies
) -> None:
    proxy = proxies(username="u", password=PASSWORD)
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")
    request = ProbeRequest(url=url, socket_timeout=5.0, allow_private=False,
                           allow_networks=LOCAL, proxy=proxy.url)

    answer = await run_ytdlp_probe(request, timeout=30.0)
    refused = await run_ytdlp_probe(
        ProbeRequest(url=url.replace("127.0.0.1", "127.0.0.2"), socket_timeout=5.0,
                     allow_private=False, allow_networks=LOCAL, proxy=proxy.url), timeout=30.0)

    assert answer.status is Status.AVAILABLE, answer
    assert site.hits and {h.client for h in site.hits} == {"127.0.0.2"}
    assert refused.status is Status.ERROR and refused.message.startswith("refused: 127.0.0.2")
    assert proxy.hits("127.0.0.2") == 0


_ENV_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from workers.access import Access
from workers._upstream import Upstream
from workers.media import capture_media
from workers.net import _GuardedBackend, _Policy, system_resolver
from workers.types import CaptureJob, Limits

url, work, proxy = sys.argv[1], Path(sys.argv[2]), sys.argv[3] or None
job = CaptureJob(job_id=1, capture_id="c", target_key="web:x", url=url, platform="web",
                 work_dir=work, limits=Limits(max_bytes=5_000_000, timeout_seconds=30.0,
                 socket_timeout_seconds=5.0), allow_networks=("127.0.0.1/32",),
                 access=Access(group="g", proxy=proxy))
outcome = asyncio.run(capture_media(job))
print(json.dumps({"status": outcome.status.value, "message": outcome.message}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("configured", [False, True], ids=["direct", "proxied"])
def test_environment_proxies_are_ignored_by_ytdlp(
    configured: bool, site: FixtureSite, media: Media, proxies: Proxies, tmp_path: Path
) -> None:
    """A new process (and so a new forkserver) started with every proxy variable set."""
    environment, named = proxies(), proxies()
    url = site.add_file("/clip.mp4", media.mp4, "video/mp4")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]), NO_PROXY="")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        env[name] = environment.url
    (tmp_path / "w").mkdir()

    done = subprocess.run(
        [sys.executable, "-c", _ENV_SCRIPT, url, str(tmp_path / "w"),
         named.url if configured else ""],
        env=env, capture_output=True, text=True, timeout=120, check=True)

    assert json.loads(done.stdout.splitlines()[-1])["status"] == "available", done.stdout
    assert environment.connections == 0
    assert (named.hits("127.0.0.1") > 0) is configured


# -- the guard proxy itself, served in this process's loop (``_guard_proxy.serve``) --------


@contextlib.asynccontextmanager
async def guard_proxy(upstream: str) -> AsyncIterator[_guard_proxy.Guard]:
    """The guard proxy as the child runs it, minus the process-wide getaddrinfo wrapper
    (never installed in the test process): the same ``serve`` and ``_GuardedBackend``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    guard = _guard_proxy.Guard(url=f"http://preserver:tok@127.0.0.1:{sock.getsockname()[1]}")
    policy = _Policy(allow_private=False, allow_networks=LOCAL, resolver=system_resolver)
    server = await _guard_proxy.serve(guard, _GuardedBackend(policy, Upstream.parse(upstream)),
                                      "tok", sock, timeout=5.0)
    try:
        yield guard
    finally:
        server.close()


def through(guard_url: str, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(proxy=guard_url, trust_env=False, timeout=5.0, **kwargs)


async def test_guard_proxy_tunnels_https_end_to_end(tmp_path: Path, proxies: Proxies) -> None:
    pki = make_pki(tmp_path)
    site = FixtureSite.start(tls=pki.server_context())
    proxy = proxies(username="u", password=PASSWORD)
    try:
        url = site.add_bytes("/p", b"over tls", "text/plain")
        async with guard_proxy(proxy.url) as guard, through(
                guard.url, verify=pki.client_context()) as c:
            response = await c.get(url)
    finally:
        site.close()
    assert response.content == b"over tls"
    assert [h.client for h in site.hits] == ["127.0.0.2"]
    assert proxy.hits("127.0.0.1") == 1 and guard.problem() is None


async def test_guard_proxy_plain_requests_lose_the_proxy_headers(
    site: FixtureSite, proxies: Proxies
) -> None:
    proxy = proxies()
    url = site.add_bytes("/p", b"plain", "text/plain")
    async with guard_proxy(proxy.socks_url) as guard, through(guard.url) as c:
        response = await c.get(url)
    assert response.content == b"plain" and response.headers["Connection"] == "close"
    (hit,) = site.hits
    assert hit.client == "127.0.0.2"
    assert not {k.lower() for k in hit.headers} & {"proxy-authorization", "proxy-connection"}


async def test_guard_proxy_refuses_before_the_operators_proxy(
    site: FixtureSite, proxies: Proxies
) -> None:
    proxy = proxies()
    async with guard_proxy(proxy.url) as guard, through(guard.url) as c:
        with pytest.raises(httpx.ProxyError, match="403"):  # a CONNECT is answered
            await c.get("https://127.0.0.2/")
        with pytest.raises(httpx.RemoteProtocolError):  # a plain request: the socket closes
            await c.get("http://169.254.169.254/latest/meta-data/")
    assert guard.problem() == ("refused: 127.0.0.2 is not a public address", False)
    assert proxy.connections == 0


async def test_guard_proxy_wants_its_password_and_names_a_dead_proxy(site: FixtureSite) -> None:
    dead = dead_proxy_url()
    url = site.add_bytes("/p", b"plain", "text/plain")
    async with guard_proxy(dead) as guard:
        async with through(guard.url.replace(":tok@", ":wrong@")) as c:
            assert (await c.get(url)).status_code == 407
        async with through(guard.url) as c:
            with pytest.raises(httpx.ProxyError, match="502"):
                await c.get(url.replace("http://", "https://"))
    message, transient = guard.problem() or ("", False)
    assert transient is True and message.startswith("proxy http://***@127.0.0.1:")
    assert "dead-proxy-pw" not in message and site.hits == []


_HTTPS_SCRIPT = """
import json, sys
from workers import _guard_proxy
from yt_dlp import YoutubeDL
from yt_dlp.networking import Request

url, proxy = sys.argv[1], sys.argv[2]
guard = _guard_proxy.start(proxy=proxy, allow_private=False, allow_networks=("127.0.0.1/32",),
                           timeout=5.0)
bodies = []
for handler in ("Requests", "Urllib"):
    with YoutubeDL({"proxy": guard.url, "nocheckcertificate": True, "quiet": True}) as ydl:
        ydl._request_director.preferences.add(lambda rh, rq, h=handler: 1000 * (rh.RH_KEY == h))
        bodies.append(ydl.urlopen(Request(url)).read().decode())
print(json.dumps(bodies))
"""


@pytest.mark.slow
def test_ytdlp_https_goes_through_the_guard_proxys_connect(
    tmp_path: Path, proxies: Proxies
) -> None:
    """yt-dlp's two HTTP handlers (requests, urllib) tunnel https with CONNECT through the
    guard proxy, in a process of its own (the guard installs the getaddrinfo wrapper).
    The test CA is not yt-dlp's, so only this test skips its certificate check."""
    pki = make_pki(tmp_path)
    site = FixtureSite.start(tls=pki.server_context())
    proxy = proxies(username="u", password=PASSWORD)
    try:
        url = site.add_bytes("/p", b"over tls", "text/plain")
        done = subprocess.run([sys.executable, "-c", _HTTPS_SCRIPT, url, proxy.url],
                              env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])),
                              capture_output=True, text=True, timeout=60, check=True)
    finally:
        site.close()
    assert json.loads(done.stdout) == ["over tls", "over tls"]
    assert [h.client for h in site.hits] == ["127.0.0.2", "127.0.0.2"]
    assert proxy.hits("127.0.0.1") == 2
