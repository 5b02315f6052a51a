"""``doctor``'s operator, Chromium and clock checks: the real Chromium (/usr/bin/chromium),
stand-in programs that are missing, hang or fail, and a local SNTP server
(tests/support/sntp.py; real NTP servers are on the internet); the yt-dlp plugins and
PO-token providers, with a real plugin package (tests/support/plugins.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from preserver.config import Config, load_config
from preserver.doctor import (
    check_chromium,
    check_clock,
    check_js_runtime,
    check_operator,
    check_plugins,
    check_po_tokens,
)
from tests.support.cli import default_config, run_cli_process
from tests.support.plugins import plugin_env, write_plugin
from tests.support.sntp import LocalSntp
from workers import Plugin, Plugins

Sntp = Callable[..., LocalSntp]


def _config(tmp_path: Path, text: str) -> Config:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text, encoding="utf-8")
    return load_config(cfg, env={})


def _program(tmp_path: Path, script: str) -> Path:
    path = tmp_path / "chromium"
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_the_operator_check(tmp_path: Path) -> None:
    assert check_operator(_config(tmp_path, 'operator = " Rim "\n')).detail == "Rim"
    for text in ("", 'operator = "  "\n'):
        check = check_operator(_config(tmp_path, text))
        assert check.outcome == "fail" and "--operator NAME" in check.fix


@pytest.mark.slow
def test_the_real_chromium_starts_headless(tmp_path: Path) -> None:
    check = check_chromium(_config(tmp_path, ""))
    assert check.outcome == "ok", check
    assert check.detail.startswith("/usr/bin/chromium: Chromium ")
    assert check.detail.endswith(", starts headless")


def test_a_missing_chromium_says_how_to_install_it(tmp_path: Path) -> None:
    check = check_chromium(_config(tmp_path, '[browser]\nexecutable = "no-such-chromium"\n'))
    assert check.outcome == "fail" and "'no-such-chromium' not found" in check.detail
    assert "apt-get install chromium" in check.fix and "enabled = false" in check.fix


def test_a_disabled_browser_is_skipped(tmp_path: Path) -> None:
    check = check_chromium(_config(tmp_path, '[browser]\nenabled = false\nexecutable = "nope"\n'))
    assert check.outcome == "skip" and "enabled = false" in check.detail


def test_a_chromium_that_does_not_start_fails(tmp_path: Path) -> None:
    broken = _program(tmp_path, 'case "$1" in --version) echo "Chromium 9.9";; '
                                '*) echo "cannot open display" >&2; exit 1;; esac\n')
    check = check_chromium(_config(tmp_path, f'[browser]\nexecutable = "{broken}"\n'))
    assert check.outcome == "fail"
    assert check.detail == f"{broken}: Chromium 9.9: does not start headless (exit 1: " \
                           "cannot open display)"


def test_a_chromium_that_hangs_is_cut_off(tmp_path: Path) -> None:
    hangs = _program(tmp_path, 'case "$1" in --version) echo "Chromium 9.9";; '
                               '*) exec sleep 30;; esac\n')
    check = check_chromium(_config(tmp_path, f'[browser]\nexecutable = "{hangs}"\n'), timeout=0.5)
    assert check.outcome == "fail" and "did not start headless within 0.5 s" in check.detail


@pytest.mark.parametrize(("offset", "outcome"), [(0.0, "ok"), (5.0, "warn"), (-1.5, "warn")])
def test_the_clock_check(tmp_path: Path, sntp: Sntp, offset: float, outcome: str) -> None:
    server = sntp(offset=offset)
    check = asyncio.run(check_clock(_config(tmp_path, f'[collection]\nntp_server = '
                                                      f'"{server.address}"\n')))
    assert check.outcome == outcome, check
    measured = int(check.detail.split(" ms from ", 1)[0])
    assert abs(measured - offset * 1000) < 50 and f"from {server.address}" in check.detail
    if outcome == "warn":
        assert "more than 1000 ms off" in check.detail and "chrony" in check.fix


def test_a_clock_that_cannot_be_measured_is_a_warning(tmp_path: Path, sntp: Sntp) -> None:
    server = sntp(mode="wrong_mode")
    check = asyncio.run(check_clock(_config(tmp_path, f'[collection]\nntp_server = '
                                                      f'"{server.address}"\n')))
    assert check.outcome == "warn" and "not a server's" in check.detail


def test_no_ntp_server_skips_the_clock_check(tmp_path: Path) -> None:
    check = asyncio.run(check_clock(_config(tmp_path, '[collection]\nntp_server = ""\n')))
    assert check.outcome == "skip" and "ntp_server is empty" in check.detail


# -- yt-dlp plugins and PO tokens ----------------------------------------------------------

_PROVIDER = Plugin(name="bgutil:http", key="BgUtilHTTP",
                   module="yt_dlp_plugins.extractor.getpot_bgutil_http", version="2.0.2")
_NONE = Plugins(directories=(), extractors=(), postprocessors=(), po_token_providers=())


def test_youtube_without_session_or_provider_is_warned(tmp_path: Path) -> None:
    for text in ("", '[access.youtube]\nlabel = "proxy only"\n'):
        check = check_po_tokens(_config(tmp_path, text), _NONE)
        assert check.outcome == "warn"
        assert "from a server, YouTube answers most anonymous requests with a bot check" \
            in check.detail
        assert 'pip install "preserver[youtube-pot]"' in check.fix


def test_a_youtube_session_or_a_provider_needs_no_warning(tmp_path: Path) -> None:
    cookies = tmp_path / "c.txt"
    cookies.write_text(".youtube.com\tTRUE\t/\tTRUE\t0\tSID\tv\n", encoding="utf-8")
    session = _config(tmp_path, f'[access.youtube]\ncookies_file = "{cookies}"\n')
    assert check_po_tokens(session, _NONE).outcome == "skip"
    with_provider = Plugins(directories=("/site-packages/yt_dlp_plugins",), extractors=(),
                            postprocessors=(), po_token_providers=(_PROVIDER,))
    check = check_po_tokens(_config(tmp_path, ""), with_provider)
    assert check.outcome == "ok"
    assert check.detail == ("bgutil:http 2.0.2 (yt_dlp_plugins.extractor.getpot_bgutil_http; "
                            "extractor_args youtubepot-bgutilhttp)")
    assert check_plugins(_NONE).outcome == "skip"


@pytest.mark.slow
def test_doctor_lists_the_plugins_a_capture_loads(tmp_path: Path) -> None:
    """A fresh ``preserver doctor`` with a real plugin package on PYTHONPATH."""
    plugin = write_plugin(tmp_path / "plugin")
    proc = run_cli_process("doctor", config=default_config(tmp_path), env=plugin_env(plugin))
    text = "".join(proc.stdout.split())
    assert "OKyt-dlpplugins" in text
    assert "extractors:PreserverTest9.9.9(yt_dlp_plugins.extractor.preserver_test)" in text
    assert "postprocessors:PreserverTest(yt_dlp_plugins.postprocessor.preserver_test_pp)" in text
    assert "OKPO-tokenproviders" in text
    assert "preserver:test9.9.9(yt_dlp_plugins.extractor.preserver_test;extractor_args" \
           "youtubepot-preservertest)" in text
    assert "OKJavaScriptruntime" in text and "deno" in text


def test_the_javascript_runtime_is_found_as_yt_dlp_finds_it() -> None:
    from yt_dlp.utils._jsruntime import DenoJsRuntime

    info = DenoJsRuntime().info
    check = check_js_runtime()
    if info is None:
        assert check.outcome == "warn" and "no deno found" in check.detail
    else:
        assert check.outcome == "ok"
        assert check.detail.startswith(f"{info.path}: deno {info.version}, used by yt-dlp")
