"""What the browser tests share: settings for Debian's Chromium and a job to render.

    async with Browser(browser_settings(settle=2.0)) as browser:
        outcome = await render_page(browser, browser_job(tmp, url, LOOPBACK), http, clock=...)
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from workers.browser import BrowserSettings
from workers.types import CaptureJob, Limits

CHROMIUM = shutil.which("chromium")
KEY_ID = "ab" * 32


def browser_settings(**changes: object) -> BrowserSettings:
    """Settings for test pages: a small window, short bounds; ``changes`` override."""
    assert CHROMIUM is not None
    values: dict[str, object] = {"executable": CHROMIUM, "timeout": 30.0, "settle": 3.0,
                                 "viewport": (800, 600), "max_height": 4000}
    return BrowserSettings(**(values | changes))  # type: ignore[arg-type]


def browser_job(root: Path, url: str, allow_networks: tuple[str, ...]) -> CaptureJob:
    """A web target's capture job in a fresh work directory under ``root``."""
    work_dir = root / "tmp" / f"job-{uuid.uuid4().hex[:8]}"
    work_dir.mkdir(parents=True)
    return CaptureJob(job_id=1, capture_id=str(uuid.uuid4()), target_key=f"web:{url}", url=url,
                      platform="web", work_dir=work_dir, key_id=KEY_ID,
                      limits=Limits(max_bytes=20 << 20, timeout_seconds=30.0,
                                    socket_timeout_seconds=5.0, page_max_bytes=1 << 20),
                      allow_networks=allow_networks, ffmpeg=shutil.which("ffmpeg"))
