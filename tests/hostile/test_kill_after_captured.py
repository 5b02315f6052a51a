"""SIGKILL right after a target's ``captured`` line (issue 12: performance must not cost
safety): the capture is on disk, whole and verified.

A real ``python -m preserver preserve`` process, the leader of its own process group,
captures two fixture targets: a large video (8 MB, served from disk) and a second one
that trickles, so the run is still busy when the first is done. The moment stderr shows
``<first target>: captured`` (one line per finished target when stderr is not a terminal,
printed once its result is recorded) the whole group gets SIGKILL. Then ``verify``
passes, ``links --json`` lists the capture with its files, and every file's blob is on
disk and hashes to its name; the media's is the served bytes'. Real parts only:
processes, SQLite, yt-dlp, Chromium as configured by default, the fixture site.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import NO_COLLECTION, run_cli, start_cli
from tests.support.fixture_site import FixtureSite, Media

pytestmark = pytest.mark.slow

CONFIG = ('data_dir = "archive"\noperator = "kill-after-captured"\n'
          '[network]\nallow_networks = ["127.0.0.1/32"]\n' + NO_COLLECTION)
WAIT = 240.0  # seconds for the first target's line (Chromium's start included)


def _wait_for(proc: Any, chunks: list[str], needle: str) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        text = "".join(chunks)
        if needle in text:
            return text
        if proc.poll() is not None:
            pytest.fail(f"preserve ended (exit {proc.returncode}) before {needle!r}:\n{text}")
        time.sleep(0.005)
    pytest.fail(f"no {needle!r} within {WAIT:.0f} s:\n{''.join(chunks)}")


def test_a_capture_whose_line_was_printed_survives_sigkill(
        site: FixtureSite, media: Media, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    config = root / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    big = tmp_path / "big.mp4"
    big.write_bytes(media.mp4.read_bytes() + random.Random(5).randbytes(8 << 20))
    first = site.add_large("/videos/big.mp4", big, "video/mp4")
    second = site.add_trickle("/videos/slow.mp4", media.mp4_b.read_bytes(), pieces=20, pause=3.0)
    report = root / "report.txt"
    report.write_text(f"1- الأول\n{first}\n2- الثاني\n{second}\n", encoding="utf-8")

    proc = start_cli("preserve", str(report), config=config, group=True)
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.extend(proc.stderr or ()), daemon=True)
    reader.start()  # drained as it comes: a full pipe would stall the process
    try:
        seen = _wait_for(proc, chunks, f"web:{first}: captured")
        os.killpg(proc.pid, signal.SIGKILL)  # the run, its forkserver, Chromium: at once
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=10)  # every writer of the pipe is dead: it ends
        if proc.stderr is not None and not reader.is_alive():
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert f"web:{second}: captured" not in seen  # killed mid-run, not after it

    run_cli("verify", config=config, cwd=root, check=0)
    links = json.loads(run_cli("links", "--json", config=config, cwd=root, check=0).stdout)
    (item,) = [i for i in links if i["key"] == f"web:{first}"]
    (capture,) = [c for c in item["captures"] if c["state"] == "complete"]
    files = {f["role"]: f for f in capture["files"]}
    assert files["media"]["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
    blobs = root / "archive" / "blobs" / "sha256"
    for f in capture["files"]:
        blob = blobs / f["sha256"][:2] / f["sha256"][2:4] / f["sha256"]
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == f["sha256"], f
        assert blob.stat().st_size == f["size"]
