"""``[network] source_address``: the local address captures connect from, as an outside
address would be on a machine with several. Real sockets on the loopback range: the
fixture site sees the client's address."""

from __future__ import annotations

from pathlib import Path

import pytest

from preserver.config import NetworkConfig
from preserver.net import http_client
from tests.support.cli import OFFLINE, OPERATOR, run_cli
from tests.support.fixture_site import FixtureSite, Media


async def test_httpx_connects_from_the_source_address(site: FixtureSite) -> None:
    echo = site.add_echo()
    for source, seen in (("127.0.0.2", "127.0.0.2"), ("", "127.0.0.1")):
        network = NetworkConfig(allow_networks=("127.0.0.0/8",), source_address=source)
        async with http_client(network, timeout=5) as http:
            assert (await http.get(echo)).text.strip() == seen


@pytest.mark.slow
def test_a_capture_fetches_from_the_source_address(tmp_path: Path, site: FixtureSite,
                                                   media: Media) -> None:
    """yt-dlp's download and the page snapshot both come from 127.0.0.3."""
    (tmp_path / "config.toml").write_text(
        'data_dir = "archive"\n' + OPERATOR + OFFLINE
        + '[network]\nallow_networks = ["127.0.0.0/8"]\nsource_address = "127.0.0.3"\n',
        encoding="utf-8")
    clip = site.add_bytes("/v/clip.mp4", media.mp4.read_bytes(), "video/mp4")
    report = tmp_path / "r.txt"
    report.write_text(f"1- الضحية\n{clip}\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    run_cli("preserve", str(report), config=config, cwd=tmp_path, check=0)
    gets = [hit for hit in site.hits if hit.path == "/v/clip.mp4" and hit.method == "GET"]
    assert gets and {hit.client for hit in gets} == {"127.0.0.3"}, site.hits
    assert {hit.client for hit in site.hits} == {"127.0.0.3"}
