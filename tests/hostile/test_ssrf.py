"""SSRF: every spelling of a non-public address is refused, by one rule, in both fetchers.

The rule is ``workers._netguard.address_allowed``; the page snapshot's httpx
transport (``workers.net.SafeTransport``) and the getaddrinfo wrapper in yt-dlp's
child process both apply it. The hostile site is the fixture site on 127.0.0.1
(allowed, as ``allow_networks`` allows a local test site); the "internal service"
is a second fixture site on 127.0.0.2, never allowed, serving everything a
successful attack would fetch: any request it receives is a guard failure.
Addresses that cannot be reached from a test machine (private ranges, metadata,
IPv6 ranges) are refused before any connection, so literals of them are safe to
use; names that resolve to them come from a fake resolver (DNS cannot exist
offline) feeding the real guard.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixture_site import FixtureSite, Media, add_directory, make_hls
from workers import _netguard
from workers._netguard import address_allowed
from workers.errors import AddressRefused
from workers.media import capture_media
from workers.net import make_client
from workers.page import snapshot_page
from workers.types import CaptureJob, Limits, Status

LOCAL = ("127.0.0.1/32",)

# (address, why it is refused); marked * where the rule before issue 9 allowed it, ** where
# the rule before global unicast (2000::/3) became the only IPv6 that passes allowed it.
REFUSED = [
    ("::7f00:1", "IPv4-compatible ::127.0.0.1 *"),
    ("::127.0.0.2", "IPv4-compatible *"),
    ("::a9fe:a9fe", "IPv4-compatible metadata address *"),
    ("::8.8.8.8", "IPv4-compatible, deprecated whatever it embeds *"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:8.8.8.8", "IPv4-mapped: never on the wire *"),
    ("::ffff:0:7f00:1", "SIIT-translated loopback (RFC 6145) **"),
    ("::ffff:0:127.0.0.2", "SIIT-translated (RFC 6145) **"),
    ("::ffff:0:808:808", "SIIT-translated: IPv4 spelt as IPv6 **"),
    ("64:ff9b:1::a00:1", "local-use NAT64 *"),
    ("64:ff9b:1::808:808", "local-use NAT64 *"),
    ("64:ff9b::a9fe:a9fe", "well-known NAT64 of the metadata address"),
    ("64:ff9b::7f00:1", "well-known NAT64 of loopback"),
    ("2002:a9fe:a9fe::1", "6to4 of the metadata address"),
    ("2002:c0a8:101::1", "6to4 of 192.168.1.1"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffd", "Teredo, client 127.0.0.2"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo, public client"),
    ("fec0::1", "site-local, deprecated *"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"),
    ("fe80::1%lo", "link-local with a scope"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "global-scope multicast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("100::1", "discard-only"),
    ("2001:db8::1", "documentation"),
    ("1::1", "outside global unicast 2000::/3 **"),
    ("4000::1", "outside global unicast 2000::/3 **"),
    ("8000::1", "outside global unicast 2000::/3 **"),
    ("e000::1", "outside global unicast 2000::/3 **"),
    ("100:0:0:1::1", "outside global unicast 2000::/3, next to discard-only **"),
    ("0.0.0.0", "this host"),
    ("0.1.2.3", "this network"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.0.1", "private"),
    ("127.0.0.1", "loopback"),
    ("169.254.169.254", "cloud metadata"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.254", "shared address space (CGNAT)"),
    ("192.0.0.1", "IETF protocol assignments"),
    ("192.0.0.9", "IETF protocol assignments *"),
    ("192.0.0.10", "IETF protocol assignments *"),
    ("192.88.99.1", "6to4 relay anycast, deprecated *"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.254", "benchmarking"),
    ("192.0.2.1", "documentation"),
    ("203.0.113.1", "documentation"),
    ("224.0.0.1", "multicast"),
    ("233.252.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700:4700::1111",
           "2002:808:808::1", "64:ff9b::808:808"]
REFUSED_IDS = [f"{ip} {why}" for ip, why in REFUSED]

# Spellings of 127.0.0.2, the internal site's address, in a URL's host.
INTERNAL_HOSTS = {
    "dotted": "127.0.0.2",
    "decimal": "2130706434",
    "hex": "0x7f000002",
    "hex-dotted": "0x7f.0.0.2",
    "octal": "0177.0.0.2",
    "short": "127.2",
    "mapped": "[::ffff:127.0.0.2]",
    "mapped-hex": "[::ffff:7f00:2]",
    "compatible": "[::127.0.0.2]",
    "compatible-hex": "[::7f00:2]",
    "nat64": "[64:ff9b::7f00:2]",
    "teredo": "[2001:0:4136:e378:8000:63bf:80ff:fffd]",
}


@pytest.fixture
def internal() -> Iterator[FixtureSite]:
    s = FixtureSite.start("127.0.0.2")
    try:
        yield s
    finally:
        s.close()


def internal_url(internal: FixtureSite, spelling: str, path: str) -> str:
    return f"http://{INTERNAL_HOSTS[spelling]}:{internal.server.server_address[1]}{path}"


# -- (1) the rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(("ip", "why"), REFUSED, ids=REFUSED_IDS)
def test_every_non_global_range_is_refused(ip: str, why: str) -> None:
    assert address_allowed(ip, allow_private=False, allow_networks=()) is False
    assert address_allowed(ip, allow_private=True, allow_networks=()) is True  # as documented


@pytest.mark.parametrize("ip", ALLOWED)
def test_public_addresses_pass(ip: str) -> None:
    assert address_allowed(ip, allow_private=False, allow_networks=()) is True


@pytest.mark.parametrize(
    ("ip", "networks"),
    [("10.1.2.3", ("10.0.0.0/8",)), ("fec0::1", ("fec0::/10",)),
     ("::ffff:127.0.0.1", LOCAL), ("64:ff9b:1::a00:1", ("64:ff9b:1::/48",)),
     ("::7f00:1", LOCAL), ("::ffff:0:7f00:1", LOCAL), ("64:ff9b::7f00:1", LOCAL),
     ("1::1", ("1::/16",)), ("2002:7f00:1::1", ("2002::/16",)),
     ("169.254.169.254", ("169.254.169.254/32",))],
)
def test_allow_networks_still_allows(ip: str, networks: tuple[str, ...]) -> None:
    assert address_allowed(ip, allow_private=False, allow_networks=networks) is True
    assert address_allowed(ip, allow_private=False, allow_networks=("8.8.8.0/24",)) is False


@pytest.mark.parametrize("ip", ["2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe"],
                         ids=["6to4", "Teredo"])
def test_allow_networks_does_not_allow_a_tunnel_to_an_allowed_ipv4(ip: str) -> None:
    """An allowed IPv4 network allows the IPv6 spellings of its addresses (mapped,
    compatible, SIIT, NAT64), not a 6to4 or Teredo address that carries one (127.0.0.1)."""
    assert address_allowed(ip, allow_private=False, allow_networks=LOCAL) is False


def test_allow_networks_allows_an_ipv6_spelling_only_of_its_own_addresses() -> None:
    siit = "::ffff:0:808:808"  # 8.8.8.8, SIIT-translated
    assert address_allowed(siit, allow_private=False, allow_networks=("8.8.8.8/32",)) is True
    assert address_allowed(siit, allow_private=False, allow_networks=LOCAL) is False


async def test_both_fetchers_apply_the_one_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refusing 8.8.8.8 in ``address_allowed`` alone refuses it in httpx and in the child."""
    real = _netguard.address_allowed
    monkeypatch.setattr(_netguard, "address_allowed",
                        lambda ip, **kw: ip != "8.8.8.8" and real(ip, **kw))

    async def to_8888(host: str, port: int) -> list[str]:
        return ["8.8.8.8"]

    async with make_client(allow_private=False, resolver=to_8888) as client:
        with pytest.raises(AddressRefused, match=r"^refused: 8\.8\.8\.8 is not a public"):
            await client.get("http://dns.test/")
    with pytest.raises(AddressRefused, match=r"^refused: 8\.8\.8\.8 is not a public"):
        _netguard._guarded(_answers("8.8.8.8"), False, ())("dns.test", 80)


# -- (2) names resolving to refused addresses --------------------------------------------------


def _answers(ip: str) -> Any:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [(family, socket.SOCK_STREAM, 6, "", (ip, port))]

    return getaddrinfo


@pytest.mark.parametrize(("ip", "why"), REFUSED, ids=REFUSED_IDS)
async def test_name_resolving_to_a_refused_address(ip: str, why: str, site: FixtureSite) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return [ip]

    shown = ip.split("%")[0] if ip.startswith("fe80") else ip
    async with make_client(allow_private=False, resolver=resolver) as client:  # page snapshot
        with pytest.raises(AddressRefused, match=f"^refused: {shown}"):
            await client.get("http://rebind.test/")
    with pytest.raises(AddressRefused, match=f"^refused: {shown}"):  # yt-dlp's child
        _netguard._guarded(_answers(ip), False, ())("rebind.test", 80)


@pytest.mark.parametrize("spelling", list(INTERNAL_HOSTS))
def test_system_resolver_spellings_refused_in_the_child(spelling: str) -> None:
    host = INTERNAL_HOSTS[spelling].strip("[]")
    with pytest.raises(AddressRefused, match=r"^refused: "):
        _netguard._guarded(socket.getaddrinfo, False, LOCAL)(host, 80, type=socket.SOCK_STREAM)


# -- (3) literal URLs and redirects, page snapshot (real httpx) --------------------------------


async def _snapshot(url: str, tmp_path: Path) -> Any:
    async with make_client(allow_private=False, allow_networks=LOCAL, timeout=5.0) as client:
        with (tmp_path / "page.warc.gz").open("wb") as out:
            return await snapshot_page(url, client=client, out=out, max_bytes=1 << 20)


def _refusal(spelling: str) -> str:
    """What the page snapshot says: httpx itself rejects an octal dotted host as a bad URL."""
    return "(?i)invalid" if spelling == "octal" else "^refused: "


@pytest.mark.parametrize("spelling", list(INTERNAL_HOSTS))
async def test_literal_first_hop_refused(
    spelling: str, internal: FixtureSite, tmp_path: Path
) -> None:
    internal.add_bytes("/p", b"internal secrets", "text/plain")

    outcome = await _snapshot(internal_url(internal, spelling, "/p"), tmp_path)

    assert outcome.status is Status.ERROR and outcome.hops == 0
    assert internal.hits == []
    assert_matches(_refusal(spelling), outcome.message)


@pytest.mark.parametrize("spelling", list(INTERNAL_HOSTS))
async def test_redirect_to_a_refused_spelling(
    spelling: str, site: FixtureSite, internal: FixtureSite, tmp_path: Path
) -> None:
    internal.add_bytes("/p", b"internal secrets", "text/plain")
    url = site.add_redirect("/r", internal_url(internal, spelling, "/p"))

    outcome = await _snapshot(url, tmp_path)

    assert outcome.status is Status.ERROR
    assert internal.hits == []
    assert [h.path for h in site.hits] == ["/r"]
    assert_matches(_refusal(spelling), outcome.message)


def assert_matches(pattern: str, text: str) -> None:
    assert re.search(pattern, text), text


# -- (4) the yt-dlp child: literal URLs, redirects, HLS segments and keys ---------------------


def job(url: str, work_dir: Path) -> CaptureJob:
    work_dir.mkdir(parents=True, exist_ok=True)
    return CaptureJob(
        job_id=9, capture_id="00000000-0000-4000-8000-000000000009", target_key=f"web:{url}",
        url=url, platform="web", work_dir=work_dir,
        limits=Limits(max_bytes=5_000_000, timeout_seconds=30.0, socket_timeout_seconds=5.0),
        allow_private=False, allow_networks=LOCAL, ffmpeg=None,
    )


@pytest.mark.slow
@pytest.mark.parametrize("spelling", list(INTERNAL_HOSTS))
async def test_ytdlp_literal_and_redirect_refused(
    spelling: str, site: FixtureSite, internal: FixtureSite, media: Media, tmp_path: Path
) -> None:
    internal.add_file("/clip.mp4", media.mp4, "video/mp4")
    target = internal_url(internal, spelling, "/clip.mp4")
    hop = site.add_redirect("/hop", target)

    direct = await capture_media(job(target, tmp_path / "direct"))
    redirected = await capture_media(job(hop, tmp_path / "redirected"))

    assert internal.hits == []
    for outcome in (direct, redirected):
        assert outcome.status is Status.ERROR
        assert not [f for f in outcome.files if f.role == "media"]
        assert outcome.message.startswith("refused: "), outcome.message


@pytest.fixture(scope="module")
def hls_dir(tmp_path_factory: pytest.TempPathFactory, media: Media) -> Path:
    return make_hls(media.mp4, tmp_path_factory.mktemp("hls") / "hls").parent


@pytest.mark.slow
@pytest.mark.parametrize("spelling", ["dotted", "decimal", "mapped", "compatible"])
async def test_hls_segments_at_a_refused_address(
    spelling: str, site: FixtureSite, internal: FixtureSite, hls_dir: Path, tmp_path: Path
) -> None:
    add_directory(internal, "/hls", hls_dir)
    playlist = "\n".join(
        internal_url(internal, spelling, f"/hls/{line}") if line.endswith(".ts") else line
        for line in (hls_dir / "index.m3u8").read_text().splitlines())
    url = site.add_bytes("/evil.m3u8", playlist.encode(), "application/vnd.apple.mpegurl")

    outcome = await capture_media(job(url, tmp_path / "w"))

    assert internal.hits == []
    assert outcome.status is Status.ERROR, outcome
    assert not [f for f in outcome.files if f.role == "media"]


@pytest.mark.slow
@pytest.mark.parametrize("spelling", ["dotted", "short", "mapped-hex", "compatible-hex"])
async def test_hls_key_at_a_refused_address(
    spelling: str, site: FixtureSite, internal: FixtureSite, hls_dir: Path, tmp_path: Path
) -> None:
    add_directory(site, "/hls", hls_dir)  # the segments are on the hostile site itself
    internal.add_bytes("/key.bin", bytes(16), "application/octet-stream")
    key = f'#EXT-X-KEY:METHOD=AES-128,URI="{internal_url(internal, spelling, "/key.bin")}"'
    playlist = (hls_dir / "index.m3u8").read_text().replace(
        "#EXT-X-TARGETDURATION", f"{key}\n#EXT-X-TARGETDURATION")
    url = site.add_bytes("/hls/evil.m3u8", playlist.encode(), "application/vnd.apple.mpegurl")

    outcome = await capture_media(job(url, tmp_path / "w"))

    assert internal.hits == []
    assert outcome.status is Status.ERROR, outcome
    assert not [f for f in outcome.files if f.role == "media"]
    assert outcome.message.startswith("refused: "), outcome.message
