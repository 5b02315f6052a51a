"""yt-dlp plugins: loaded from preserver's environment and PYTHONPATH, never from the
working directory or yt-dlp's configuration directories; loaded in the capture child,
whose report names the PO-token providers of a YouTube target. A real plugin package
(tests/support/plugins.py) in a directory of the test's own, in fresh processes (a
process loads its plugins once)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixture_site import FixtureSite, Media
from tests.support.plugins import PLUGIN_PATH, plugin_env, write_plugin

_LIST = """
import json
from workers import load_plugins
p = load_plugins()
print(json.dumps({"extractors": [x.name for x in p.extractors],
                  "postprocessors": [x.name for x in p.postprocessors],
                  "providers": [x.name for x in p.po_token_providers],
                  "directories": list(p.directories)}))
"""

# yt-dlp left to itself: the first YoutubeDL loads plugins from all its default places
_UNNARROWED = """
import json
from yt_dlp import YoutubeDL
from yt_dlp.globals import plugin_ies
YoutubeDL({"quiet": True})
print(json.dumps({"extractors": [k.removesuffix("IE") for k in plugin_ies.value]}))
"""


def _python(code: str, *, env: dict[str, str], cwd: Path) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60)
    assert done.returncode == 0, done.stderr
    answer: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return answer


def _env(tmp_path: Path, *dirs: Path) -> dict[str, str]:
    """No plugin from this machine's own config: HOME and XDG_CONFIG_HOME are the test's."""
    import os

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"), **plugin_env(*dirs)}


@pytest.mark.slow
def test_a_plugin_on_pythonpath_is_loaded(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "plugin")
    got = _python(_LIST, env=_env(tmp_path, plugin), cwd=tmp_path)
    assert got["extractors"] == ["PreserverTest"]
    assert got["postprocessors"] == ["PreserverTest"]
    assert "preserver:test" in got["providers"]
    assert str(plugin / "yt_dlp_plugins") in got["directories"]


@pytest.mark.slow
def test_plugins_in_the_working_directory_or_config_dirs_are_not_loaded(
    tmp_path: Path,
) -> None:
    """``python -c`` puts the working directory first on sys.path (``""``); yt-dlp would
    load a plugin there and in ~/.config/yt-dlp/plugins, ~/.yt-dlp-plugins; preserver
    does not."""
    cwd = write_plugin(tmp_path / "archive")
    env = _env(tmp_path)
    home = Path(env["HOME"])
    write_plugin(home / ".config" / "yt-dlp" / "plugins" / "dropped")
    write_plugin(home / ".yt-dlp-plugins" / "dropped")
    # yt-dlp on its own would load it: this test can fail
    assert _python(_UNNARROWED, env=env, cwd=cwd)["extractors"] == ["PreserverTest"]
    assert _python(_UNNARROWED, env=env, cwd=tmp_path)["extractors"] == ["PreserverTest"]
    # the working directory named absolutely on PYTHONPATH is refused too
    for where, extra in ((cwd, ()), (tmp_path, ()), (cwd, (cwd,))):
        got = _python(_LIST, env=_env(tmp_path, *extra), cwd=where)
        assert got == {"extractors": [], "postprocessors": [],
                       "providers": got["providers"], "directories": got["directories"]}
        assert "preserver:test" not in got["providers"]
        assert not any(str(tmp_path) in d for d in got["directories"])


@pytest.mark.skipif(not any(d.metadata["Name"] == "bgutil-ytdlp-pot-provider"
                            for d in importlib.metadata.distributions()),
                    reason='preserver[youtube-pot] is not installed')
@pytest.mark.slow
def test_the_youtube_pot_extra_brings_bgutils_providers(tmp_path: Path) -> None:
    got = _python(_LIST, env=_env(tmp_path), cwd=tmp_path)
    assert {"bgutil:http", "bgutil:script-deno", "bgutil:script-node"} <= set(got["providers"])


_CAPTURE = """
import asyncio, json, sys
from pathlib import Path
from typing import Any
from workers import Access, CaptureJob, Limits
from workers.media import capture_media

job = CaptureJob(job_id=1, capture_id="00000000-0000-4000-8000-000000000001",
                 target_key="k", url=sys.argv[1], platform=sys.argv[2],
                 work_dir=Path(sys.argv[3]), limits=Limits(max_bytes=10**8, timeout_seconds=60),
                 allow_private=True,
                 access=Access(extractor_args={"preservertest": {"label": ("from-config",)}}))
out = asyncio.run(capture_media(job))
print(json.dumps({"status": out.status.value, "message": out.message,
                  "media": [str(f.path) for f in out.files if f.role == "media"],
                  "extractor": out.metadata.get("extractor_key"),
                  "title": out.metadata.get("title"),
                  "providers": list(out.po_token_providers)}))
"""


@pytest.mark.slow
def test_the_capture_child_loads_plugins_and_reports_providers(
    tmp_path: Path, site: FixtureSite, media: Media,
) -> None:
    """A fixture-site page only the plugin's extractor understands: its video is kept, so
    the capture process (forkserver child) ran the plugin, with the access's
    ``extractor_args``. A YouTube target's report names the PO-token providers loaded;
    others name none."""
    plugin = write_plugin(tmp_path / "plugin")
    video = site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    page = site.add_bytes(PLUGIN_PATH + "abc", video.encode(), "text/plain")
    results = {}
    for platform in ("web", "youtube"):
        work = tmp_path / f"work-{platform}"
        work.mkdir()
        got = _python(_CAPTURE.replace("sys.argv[1]", repr(page))
                      .replace("sys.argv[2]", repr(platform))
                      .replace("sys.argv[3]", repr(str(work))),
                      env=_env(tmp_path, plugin), cwd=tmp_path)
        results[platform] = got
        assert got["status"] == "available", got
        assert got["extractor"] == "PreserverTest"
        assert got["title"] == "plugin abc from-config"  # [access] extractor_args reached it
        assert [Path(m).read_bytes() for m in got["media"]] == [media.mp4.read_bytes()]
    assert results["web"]["providers"] == []
    assert "preserver:test" in results["youtube"]["providers"]


_GUARD = """
import json, socket
from yt_dlp.extractor.youtube.pot.provider import PoTokenProvider
from workers._child_net import secure_child
from workers.errors import AddressRefused

def lookups(self=None):  # what a request resolves first, from a provider or from a page
    out = {}
    for host, port in (("127.0.0.1", 4416), ("127.0.0.2", 4999), ("127.0.0.2", 5000),
                       ("127.0.0.1", 80)):
        try:
            socket.getaddrinfo(host, port)
            out[f"{host}:{port}"] = "passes"
        except AddressRefused:
            out[f"{host}:{port}"] = "refused"
    return out

PoTokenProvider._request_webpage = lookups  # stands in for yt-dlp's request of a provider
secure_child(proxy=PROXY, allow_private=False, allow_networks=(), timeout=5,
             extractor_args=ARGS)
print(json.dumps({"provider": PoTokenProvider._request_webpage(None), "page": lookups()}))
"""


@pytest.mark.parametrize(("args", "passes"), [
    ({}, {"127.0.0.1:4416"}),  # bgutil's HTTP provider's default server
    ({"youtubepot-bgutilhttp": {"base_url": ["http://127.0.0.2:4999"]}}, {"127.0.0.2:4999"}),
])
@pytest.mark.slow
@pytest.mark.parametrize("proxy", [None, "http://u:p@127.0.0.1:9"])
def test_only_the_po_token_server_passes_the_childs_address_guard(
    tmp_path: Path, args: dict[str, Any], passes: set[str], proxy: str | None,
) -> None:
    """bgutil's HTTP provider asks its token server directly (usually on loopback): the
    capture child lets that one host and port past the address guard for the provider's
    own requests, and nothing else on loopback; a page, redirect or playlist that names
    the token server is refused like any loopback address (the guard itself, installed
    in a child process as captures do, with and without the guard proxy)."""
    code = _GUARD.replace("ARGS", repr(args)).replace("PROXY", repr(proxy))
    got = _python(code, env=_env(tmp_path), cwd=tmp_path)
    assert {k for k, v in got["provider"].items() if v == "passes"} == passes, got
    assert set(got["page"].values()) == {"refused"}, got
