"""A capture run killed with SIGKILL: nothing of it keeps downloading, and the next run
requeues its jobs at once (not after ``timeout`` + 10 minutes), removes its work
directories, says so and captures them; a job of a run that is still alive stays its.

Real parts only: ``python -m preserver run`` processes, the forkserver and yt-dlp
children they start, the fixture site on 127.0.0.1 and SQLite.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.cli import OFFLINE, OPERATOR, run_cli, start_cli
from tests.support.fixture_site import FixtureSite, Media, send
from tests.support.procs import descendants

pytestmark = pytest.mark.slow

_DEADLINE = 30.0  # seconds any awaited state gets; none of them should take more than a few


@dataclass
class Stream:
    """A video that trickles (``slow``) until switched to whole (``slow = False``);
    counts the connections it is serving and the bytes it has sent."""

    body: bytes
    slow: bool = True
    active: int = 0
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, req: BaseHTTPRequestHandler) -> None:
        if not self.slow or req.command == "HEAD":
            send(req, 200, self.body, "video/mp4")
            return
        req.send_response(200)
        req.send_header("Content-Type", "video/mp4")
        req.send_header("Content-Length", str(len(self.body)))
        req.end_headers()
        with self.lock:
            self.active += 1
        try:
            for i in range(0, len(self.body), 16):
                req.wfile.write(self.body[i:i + 16])
                req.wfile.flush()
                with self.lock:
                    self.sent += 16
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self.lock:
                self.active -= 1


def _wait_for(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _DEADLINE
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {_DEADLINE:.0f} s")
        time.sleep(0.1)


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (forkserver, resource tracker, capture children, ffmpeg)."""
    return {child for child, _ in descendants(pid)}


def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (a dead process nobody has reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _jobs(root: Path) -> list[sa.Row[tuple[int, str]]]:
    engine = sa.create_engine(f"sqlite:///{root / 'archive' / 'preserver.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT id, state FROM jobs ORDER BY id")))
    finally:
        engine.dispose()


def _work_dirs(root: Path) -> list[Path]:
    tmp = root / "archive" / "tmp"
    return sorted(tmp.glob("job-*")) if tmp.exists() else []


def _downloading(root: Path, job_id: int) -> bool:
    """yt-dlp is writing a partial file in a work directory of job ``job_id``."""
    return any(p.name.endswith(".part") for d in _work_dirs(root)
               if d.name.startswith(f"job-{job_id}-") for p in d.rglob("*"))


@pytest.fixture
def archive_root(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(
        'data_dir = "archive"\n' + OPERATOR + OFFLINE
        + '[network]\nallow_networks = ["127.0.0.1/32"]\n'
        '[capture]\ntimeout = "10m"\n', encoding="utf-8")
    return tmp_path


def _ingest(root: Path, *urls: str) -> None:
    report = root / f"report-{len(list(root.glob('report-*')))}.txt"
    report.write_text("".join(f"{n}- الضحية\n{url}\n" for n, url in enumerate(urls, 1)),
                      encoding="utf-8")
    run_cli("ingest", str(report), config=root / "config.toml", cwd=root, check=0)


@dataclass
class Runs:
    """The ``preserver run`` processes a test starts, and every process they started."""

    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    below: set[int] = field(default_factory=set)

    def start(self, root: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = start_cli("run", config=root / "config.toml", env=env)
        self.procs.append(proc)
        return proc

    def kill_mid_download(self, proc: subprocess.Popen[str], root: Path, stream: Stream,
                          job_id: int = 1) -> set[int]:
        """SIGKILL ``proc`` while its yt-dlp child downloads job ``job_id``; returns the
        processes it had started."""
        _wait_for("downloading", lambda: _downloading(root, job_id) and stream.active > 0)
        below = _descendants(proc.pid)
        assert below, "the run started no process"
        self.below |= below
        proc.kill()
        proc.wait(timeout=30)  # reaped; its stderr may still be held open by what it started
        return below

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.below |= _descendants(proc.pid)
            proc.kill()
            proc.wait(timeout=30)
        for pid in self.below:  # whatever outlived its run (the defect this file is about)
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            assert proc.stderr is not None
            proc.stderr.close()


@pytest.fixture
def runs() -> Iterator[Runs]:
    started = Runs()
    try:
        yield started
    finally:
        started.close()


def test_a_killed_run_leaves_nothing_downloading(archive_root: Path, site: FixtureSite,
                                                 media: Media,
                                                 runs: Runs) -> None:
    stream = Stream(media.mp4.read_bytes())
    _ingest(archive_root, site.add("/v/slow.mp4", stream))
    below = runs.kill_mid_download(runs.start(archive_root), archive_root, stream)

    _wait_for("gone: every process of the killed run",
              lambda: not any(_running(pid) for pid in below))
    _wait_for("idle: the fixture stream", lambda: stream.active == 0)
    sent = stream.sent
    time.sleep(1.0)
    assert stream.sent == sent  # nothing fetches it any more


def test_the_next_run_requeues_a_killed_runs_job_at_once(
    archive_root: Path, site: FixtureSite, media: Media, runs: Runs,
) -> None:
    stream = Stream(media.mp4.read_bytes())
    _ingest(archive_root, site.add("/v/slow.mp4", stream))
    killed = runs.start(archive_root)
    runs.kill_mid_download(killed, archive_root, stream)
    [(job_id, state)] = _jobs(archive_root)
    assert state == "running" and _work_dirs(archive_root)  # as the killed run left them

    stream.slow = False
    after = run_cli("run", config=archive_root / "config.toml", cwd=archive_root, check=0)
    host = socket.gethostname()
    assert (f"requeued 1 job of run {host}:{killed.pid} (no longer running) and removed its "
            "1 work directory") in after.stderr
    assert "1 captured" in after.stderr
    assert [(j.id, j.state) for j in _jobs(archive_root)] == [(job_id, "done")]
    assert _work_dirs(archive_root) == []


def test_a_live_runs_job_is_left_to_it(
    archive_root: Path, site: FixtureSite, media: Media, runs: Runs,
) -> None:
    """Run A (alive) and run D (killed) each hold a job; the next run requeues D's only."""
    alive_stream, dead_stream = Stream(media.mp4.read_bytes()), Stream(media.mp4_b.read_bytes())
    _ingest(archive_root, site.add("/v/alive.mp4", alive_stream))
    alive = runs.start(archive_root, env={"PRESERVER_CAPTURE_PER_HOST": "1"})
    _wait_for("downloading", lambda: _downloading(archive_root, 1) and alive_stream.active > 0)
    _ingest(archive_root, site.add("/v/dead.mp4", dead_stream))
    # A works on one 127.0.0.1 job at a time (per_host 1): D takes the second
    dead = runs.start(archive_root)
    _wait_for("claimed by D", lambda: [j.state for j in _jobs(archive_root)]
              == ["running", "running"])
    runs.kill_mid_download(dead, archive_root, dead_stream, job_id=2)

    dead_stream.slow = False
    after = run_cli("run", config=archive_root / "config.toml", cwd=archive_root, check=0)
    assert f"of run {socket.gethostname()}:{dead.pid} (no longer running)" in after.stderr
    assert f":{alive.pid} " not in after.stderr
    alive_job, dead_job = _jobs(archive_root)
    assert alive_job.state == "running" and dead_job.state == "done"
    assert alive.poll() is None and alive_stream.active > 0  # A is still at it
    assert len(_work_dirs(archive_root)) == 1  # A's work directory is left alone
