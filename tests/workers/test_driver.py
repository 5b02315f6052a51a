"""Node options reach Playwright's driver and nothing else (``workers._driver``): read
back from a real driver's ``/proc/<pid>/environ``; a Playwright whose driver no longer
starts through the wrapped hook fails loudly."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright._impl import transport

from tests.support.browser import CHROMIUM, browser_settings
from tests.support.procs import descendants
from workers._driver import NODE_OPTIONS, DriverHookMissing, driver_options
from workers.browser import Browser, BrowserUnavailable, launch_chromium

USERS = "--no-deprecation --no-warnings"  # a user's own


def _driver_env() -> dict[str, str]:
    """The environment Playwright's next driver would get (the wrapped hook)."""
    build: Callable[[], dict[str, str]] = transport.get_driver_env  # type: ignore[attr-defined]
    return build()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _anonymous_executable(pid: int) -> list[str]:
    """The anonymous executable mappings of a process: where a JIT puts its code."""
    return [line for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
            if "x" in line.split()[1] and len(line.split()) == 5]


def test_the_options_are_added_within_the_block_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE_OPTIONS", USERS)
    with driver_options("--max-semi-space-size=1"):
        inside = _driver_env()
        with driver_options("--jitless"):  # nested: the inner block's alone
            nested = _driver_env()
    after = _driver_env()
    assert inside["NODE_OPTIONS"] == f"{USERS} --max-semi-space-size=1"
    assert nested["NODE_OPTIONS"] == f"{USERS} --jitless"
    assert after["NODE_OPTIONS"] == USERS == os.environ["NODE_OPTIONS"]
    monkeypatch.delenv("NODE_OPTIONS")
    with driver_options("--jitless"):
        assert _driver_env()["NODE_OPTIONS"] == "--jitless"
        assert "NODE_OPTIONS" not in os.environ
    assert "NODE_OPTIONS" not in _driver_env()


def test_wrapping_twice_adds_the_options_once() -> None:
    with driver_options("--jitless"), driver_options("--jitless"):
        wrapped = vars(transport)["get_driver_env"]
        with driver_options("--jitless"):
            assert vars(transport)["get_driver_env"] is wrapped
            assert _driver_env().get("NODE_OPTIONS", "").split().count(
                "--jitless") == 1 + os.environ.get("NODE_OPTIONS", "").split().count("--jitless")


def test_a_playwright_that_no_longer_calls_the_hook_fails_loudly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def connect(self: object) -> None:  # a Playwright that builds the env otherwise
        raise AssertionError("never called")

    monkeypatch.setattr(transport.PipeTransport, "connect", connect)
    with (pytest.raises(DriverHookMissing, match="no longer builds the driver's environment"),
          driver_options("--jitless")):
        pass


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
async def test_on_such_a_playwright_chromium_is_unavailable_and_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def connect(self: object) -> None:
        raise AssertionError("never called")

    monkeypatch.setattr(transport.PipeTransport, "connect", connect)
    async with Browser(browser_settings()) as browser:
        with pytest.raises(BrowserUnavailable, match="did not start: .* check workers._driver"):
            async with browser.context():
                pass


def test_a_playwright_without_the_hook_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(transport, "get_driver_env")
    with pytest.raises(DriverHookMissing, match="check workers._driver"), driver_options(""):
        pass


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
@pytest.mark.slow
async def test_a_real_driver_gets_the_options_and_chromium_does_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver started by ``launch_chromium`` has the user's ``NODE_OPTIONS`` then
    ours, and its V8 took them; Chromium and this process's environment do not have
    ours."""
    monkeypatch.setenv("NODE_OPTIONS", USERS)
    assert CHROMIUM is not None
    browser, stop = await launch_chromium(CHROMIUM)
    try:
        page = await browser.new_page()
        await page.set_content("<p>a page</p>")  # the driver has run a while
        processes = descendants()
        drivers = [pid for pid, cmdline in processes if "run-driver" in cmdline]
        chromium = [pid for pid, cmdline in processes if "--remote-debugging-pipe" in cmdline]
        assert len(drivers) == 1 and chromium
        driver_env, jit_code = _environ(drivers[0]), _anonymous_executable(drivers[0])
        chromium_envs = [_environ(pid) for pid in chromium]
    finally:
        await browser.close()
        await stop()
    assert driver_env["NODE_OPTIONS"] == f"{USERS} {NODE_OPTIONS}"
    # V8 took --jitless: it never made executable memory to compile into
    assert "--jitless" not in NODE_OPTIONS or not jit_code
    assert not [env for env in chromium_envs  # Chromium's children get a cleaned environment
                if NODE_OPTIONS in env.get("NODE_OPTIONS", "")]
    assert os.environ["NODE_OPTIONS"] == USERS
