"""The run's browser: one Chromium for all the run's captures, or none.

Without Chromium the run still captures (the media and the page snapshot matter more
than waiting for a screenshot tool): each capture is then partial and says why, and is
captured again by a later run; the run warns once (``BROWSER_MISSING``).
"""

from __future__ import annotations

import logging

from preserver.archive import Archive
from workers import Browser, BrowserSettings

log = logging.getLogger(__name__)

BROWSER_MISSING = (
    "Chromium not found ([browser] executable = {executable!r}): captures are kept without "
    "a screenshot and are partial; install Debian's chromium package (apt-get install "
    "chromium), or set [browser] enabled = false")


def open_browser(archive: Archive) -> Browser | None:
    """The run's browser (started on its first page), or None when ``[browser]`` is off;
    without Chromium, a warning and a browser that says so (module docstring)."""
    cfg = archive.config
    if not cfg.browser.enabled:
        return None
    executable = archive.chromium()
    if executable is None:
        log.warning("%s", BROWSER_MISSING.format(executable=cfg.browser.executable))
    b = cfg.browser
    return Browser(BrowserSettings(
        executable=executable or "", concurrency=b.concurrency, timeout=b.timeout,
        settle=b.settle, viewport=b.viewport, max_height=b.max_height, max_bytes=b.max_bytes,
        user_agent=cfg.network.user_agent or None))
