"""Playwright's driver, the ``node`` process that drives Chromium, started with Node
options that shrink it.

It only relays messages, so ``NODE_OPTIONS`` (below) gives it V8's interpreter alone
(``--jitless``: no compiled code, no compiler's memory) and a young generation of 1 MB
semi-spaces (16 MB by default): its PSS at the peak of ``bench/browser_cost.py`` goes from
about 140 MB to about 100 MB, with no time per target that shows (docs/design.md
"Browser evidence"). ``--jitless`` also turns off WebAssembly, which the driver uses
only for WebP images (a WebP screenshot, screenshot comparison): never asked here.

    starting = start_driver()  # a future of the started Playwright (async_api)

Playwright's Python starts its driver with an environment it builds from a copy of
``os.environ`` (``playwright._impl._driver.get_driver_env``, called by
``PipeTransport.connect`` in ``playwright._impl.transport``) and offers no way to add to
it. ``driver_options(...)`` adds Node options to the environment of the drivers started
within it, and nowhere else: ``os.environ`` is not touched, so neither preserver's other
children (yt-dlp, ffmpeg) nor Chromium (``workers.browser.chromium_env``) see them. A
user's own ``NODE_OPTIONS`` is kept, ours after it. The driver is started in a task that
``PlaywrightClient`` creates as ``start()`` begins, within the task ``start_driver``
creates, and a task copies the context it is created in.

This wraps the name ``get_driver_env`` in Playwright's private ``transport`` module,
checked at every start: an upgrade of Playwright that no longer starts its driver
through it raises ``DriverHookMissing`` (from ``start_driver``: Playwright's ``Error``,
as a driver that did not start), rather than silently dropping the options
(``tests/workers/test_driver.py`` reads them back from a driver's ``/proc/<pid>/environ``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Playwright

__all__ = ["NODE_OPTIONS", "DriverHookMissing", "driver_options", "start_driver"]

NODE_OPTIONS = "--jitless --max-semi-space-size=1"  # the driver's (above)

_OPTIONS: ContextVar[str] = ContextVar("preserver_driver_node_options", default="")
_MARK = "_preserver_node_options"
_HOOKING = threading.Lock()  # loops in two threads would wrap it twice


class DriverHookMissing(RuntimeError):
    """Playwright no longer builds its driver's environment where preserver adds to it
    (``workers._driver``): check this module against the installed Playwright."""


def _hook() -> None:
    """Check that the driver's start (``PipeTransport.connect``) still calls
    ``playwright._impl.transport.get_driver_env``, and wrap that once."""
    missing = DriverHookMissing("playwright._impl.transport.PipeTransport.connect no longer "
                                "builds the driver's environment with get_driver_env; "
                                "check workers._driver against this Playwright")
    try:
        from playwright._impl import transport  # private: checked below
    except ImportError as exc:
        raise missing from exc
    current: Any = getattr(transport, "get_driver_env", None)
    connect = getattr(getattr(transport, "PipeTransport", None), "connect", None)
    names = getattr(getattr(connect, "__code__", None), "co_names", ())
    if not callable(current) or "get_driver_env" not in names:
        raise missing
    if getattr(current, _MARK, False):  # wrapped already
        return
    original: Callable[[], dict[str, str]] = current

    def get_driver_env() -> dict[str, str]:
        env = original()
        ours = _OPTIONS.get()
        if ours:
            env["NODE_OPTIONS"] = " ".join(filter(None, (env.get("NODE_OPTIONS", ""), ours)))
        return env

    setattr(get_driver_env, _MARK, True)
    transport.get_driver_env = get_driver_env  # type: ignore[attr-defined]


@contextmanager
def driver_options(options: str) -> Iterator[None]:
    """Playwright drivers started within: ``options`` added to their ``NODE_OPTIONS``."""
    with _HOOKING:
        _hook()
    token = _OPTIONS.set(options)
    try:
        yield
    finally:
        _OPTIONS.reset(token)


def start_driver() -> asyncio.Future[Playwright]:
    """Start Playwright's driver with ``NODE_OPTIONS``: the future of its ``Playwright``.
    Playwright's ``Error`` when the hook is missing (``DriverHookMissing``)."""
    from playwright.async_api import Error, async_playwright

    try:
        with driver_options(NODE_OPTIONS):
            return asyncio.ensure_future(async_playwright().start())
    except DriverHookMissing as exc:
        raise Error(str(exc)) from exc
