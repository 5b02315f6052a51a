"""One capture job for the worker tests: a fresh work directory under the test's
``tmp/`` (beside the store's), the fixture site (127.0.0.1) allowed, ffmpeg if present."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from workers.access import Access
from workers.types import CaptureJob, Limits

LOOPBACK = ("127.0.0.1/32",)


def capture_job(tmp_path: Path, url: str, *, platform: str = "web", key: str = "",
                access: Access | None = None) -> CaptureJob:
    work_dir = tmp_path / "tmp" / f"job-{uuid.uuid4().hex[:8]}"
    work_dir.mkdir(parents=True)
    return CaptureJob(
        job_id=1, capture_id=str(uuid.uuid4()), target_key=key or f"web:{url}", url=url,
        platform=platform, work_dir=work_dir,
        limits=Limits(max_bytes=20 << 20, timeout_seconds=30.0, socket_timeout_seconds=5.0),
        allow_networks=LOOPBACK, ffmpeg=shutil.which("ffmpeg"), access=access or Access(),
    )
