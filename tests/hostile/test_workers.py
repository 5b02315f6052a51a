"""Many ``preserver worker`` processes on one archive (issue 14): real processes, the real
fixture site on 127.0.0.1, real yt-dlp and ffmpeg, real PostgreSQL (skipped without
PRESERVER_TEST_POSTGRES_URL) and SQLite.

- A worker wakes at once on a job queued after it went idle: on PostgreSQL through
  ``NOTIFY`` (its poll is set to a minute, so a capture within seconds was woken), on
  SQLite by its poll; SIGTERM stops it with exit 0.
- A worker with a capture running is woken by ``NOTIFY`` too (PostgreSQL).
- A worker that lost its lease (SIGSTOP past it) does not record its capture: another
  worker takes the job over and records it; the first's recording is refused by the
  fencing token and logged, its blobs stay unreferenced, ``verify`` passes.
- Three workers and at least 30 random SIGKILLs (each killed worker restarted at once):
  every target ends with exactly one complete capture whose media file is the bytes the
  site served, no job is left unfinished, and ``verify`` passes.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.fixture_site import FixtureSite, Media, make_clip, send
from tests.support.postgres import PG_URL
from tests.support.workers import Worker, Workers, pg_database, query, wait_for, worker_config

pytestmark = pytest.mark.slow
needs_pg = pytest.mark.skipif(not PG_URL, reason="PRESERVER_TEST_POSTGRES_URL not set")
SEED = int(os.environ.get("PRESERVER_KILL_SEED", "14"))


@dataclass
class Trickle:
    """A file sent in small pieces while ``slow`` (looked at before every piece, so that
    switching it off sends the rest at once); counts the GETs it served."""

    body: bytes
    pause: float = 0.1
    pieces: int = 10
    slow: bool = True
    gets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, req: BaseHTTPRequestHandler) -> None:
        if req.command == "HEAD":
            send(req, 200, self.body, "video/mp4")
            return
        with self.lock:
            self.gets += 1
        req.send_response(200)
        req.send_header("Content-Type", "video/mp4")
        req.send_header("Content-Length", str(len(self.body)))
        req.end_headers()
        size = max(1, len(self.body) // self.pieces)
        try:
            for i in range(0, len(self.body), size):
                req.wfile.write(self.body[i:i + size])
                req.wfile.flush()
                if self.slow:
                    time.sleep(self.pause)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _ingest(root: Path, config: Path, urls: list[str]) -> None:
    report = root / f"report-{len(list(root.glob('report-*')))}.txt"
    report.write_text("".join(f"{n}- الضحية\n{url}\n" for n, url in enumerate(urls, 1)),
                      encoding="utf-8")
    run_cli("ingest", str(report), config=config, cwd=root, check=0)


def _url(root: Path, database: str) -> str:
    return database or f"sqlite+aiosqlite:///{root / 'archive' / 'preserver.db'}"


def _states(url: str) -> list[str]:
    return [row.state for row in query(url, "SELECT state FROM jobs ORDER BY id")]


def _captures(url: str) -> dict[str, list[tuple[str, str | None]]]:
    """target key -> [(capture state, its media file's SHA-256)] for every capture."""
    rows = query(url, "SELECT t.key, c.id, c.state, f.sha256 FROM captures c "
                      "JOIN targets t ON t.id = c.target_id "
                      "LEFT JOIN files f ON f.capture_id = c.id AND f.role = 'media' "
                      "ORDER BY t.key, c.id")
    found: dict[str, list[tuple[str, str | None]]] = {}
    for row in rows:
        found.setdefault(row.key, []).append((row.state, row.sha256))
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_pg)])
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield ""
        return
    with pg_database() as url:
        yield url


def test_a_worker_wakes_on_a_new_job_and_stops_on_sigterm(
        tmp_path: Path, database: str, site: FixtureSite, media: Media,
        workers: Workers) -> None:
    # PostgreSQL: a minute's poll, so only NOTIFY can wake it within seconds
    config = worker_config(tmp_path, database_url=database, poll="60s" if database else "1s")
    url = _url(tmp_path, database)
    run_cli("run", config=config, cwd=tmp_path, check=0)  # a worker never makes an archive
    worker = workers.start()
    wait_for("idle", lambda: "worker started" in worker.text)
    time.sleep(1.5)  # past its first look at the queue: it waits now
    body = media.mp4.read_bytes()
    queued = time.monotonic()
    _ingest(tmp_path, config, [site.add_bytes("/v/new.mp4", body, "video/mp4")])
    took = wait_for("captured", lambda: _states(url) == ["done"], timeout=40)
    assert took < 20, f"captured {took:.1f} s after it was queued"
    assert time.monotonic() - queued < 30
    assert _captures(url) == {next(iter(_captures(url))): [
        ("complete", hashlib.sha256(body).hexdigest())]}
    assert workers.stop(worker) == 0
    assert "stopped: 1 captured" in worker.text, worker.text
    assert ("has no LISTEN" in worker.text) == (not database)


@needs_pg
def test_a_busy_worker_is_woken_by_a_new_job(
        tmp_path: Path, site: FixtureSite, media: Media, workers: Workers) -> None:
    """A worker with a capture running and room for more waits on ``NOTIFY`` too, not on a
    one-second poll: with a minute's poll, a job queued while a slow download goes on is
    captured within seconds, before the slow one ends."""
    with pg_database() as url:
        config = worker_config(tmp_path, database_url=url, lease="60s", poll="60s")
        body = media.mp4.read_bytes()
        stream = Trickle(body, pause=0.5, pieces=200)  # 100 s unless switched off
        _ingest(tmp_path, config, [site.add("/v/slow.mp4", stream)])
        worker = workers.start()
        wait_for("downloading", lambda: stream.gets >= 1)
        time.sleep(1.5)  # past its first look at the queue after the claim: it waits now
        _ingest(tmp_path, config, [site.add_bytes("/v/quick.mp4", body, "video/mp4")])
        took = wait_for("the new job captured", lambda: _states(url)[1:] == ["done"],
                        timeout=40)
        assert took < 20, f"captured {took:.1f} s after it was queued"
        assert _states(url)[0] == "running"  # the slow one still downloads
        stream.slow = False
        wait_for("both captured", lambda: _states(url) == ["done", "done"])
        assert workers.stop(worker) == 0


@needs_pg
def test_a_worker_that_lost_its_lease_does_not_record_its_capture(
        tmp_path: Path, site: FixtureSite, media: Media, workers: Workers) -> None:
    """The first worker is stopped (SIGSTOP) mid-download past its 3 s lease; a second
    takes the job over and records it; the first, resumed, finishes its capture and is
    refused: one capture, the second's; the first's manifest is an unreferenced blob."""
    with pg_database() as url:
        config = worker_config(tmp_path, database_url=url, lease="3s")
        body = media.mp4.read_bytes()
        stream = Trickle(body, pause=0.3, pieces=40)
        _ingest(tmp_path, config, [site.add("/v/stalled.mp4", stream)])
        first = workers.start()
        wait_for("downloading", lambda: stream.gets >= 1)
        os.kill(first.proc.pid, signal.SIGSTOP)  # its capture child goes on; it renews nothing
        [(lease_until,)] = query(url, "SELECT lease_until FROM jobs")
        stream.slow = False
        second = workers.start()
        wait_for("taken over and captured", lambda: _states(url) == ["done"])
        [(taken_at,)] = query(url, "SELECT claimed_at FROM jobs")
        assert taken_at >= lease_until  # not before the first's lease ended
        assert "taken over as attempt 2" in second.text, second.text
        os.kill(first.proc.pid, signal.SIGCONT)
        wait_for("refused", lambda: "refused" in first.text, timeout=30)
        [line] = [x for x in first.text.splitlines() if "refused" in x]
        assert "attempt 1" in line
        orphan = line.rsplit("manifest ", 1)[1].split()[0]
        assert list((tmp_path / "archive" / "blobs").rglob(orphan)), f"no blob {orphan}"
        [capture] = query(url, "SELECT c.manifest_sha256, j.attempts FROM captures c "
                               "JOIN jobs j ON j.id = c.job_id")
        assert capture.attempts == 2 and capture.manifest_sha256 != orphan
        assert list(_captures(url).values()) == [[("complete", hashlib.sha256(body).hexdigest())]]
        assert workers.stop(first) == 0 and workers.stop(second) == 0
        run_cli("verify", config=config, cwd=tmp_path, check=0)


KILLS = 30
BATCHES = 6  # of targets, ingested one after another while the kills go on
PER_BATCH = 5


@needs_pg
def test_three_workers_and_random_sigkills(
        tmp_path: Path, site: FixtureSite, workers: Workers) -> None:
    """Targets are ingested in batches while a worker is SIGKILLed every 0.3 to 2.4 s
    (seeded: PRESERVER_KILL_SEED), one holding jobs when one does within 2 s, and
    restarted at once, KILLS times; then the three finish. Every target has exactly one
    complete capture, byte-equal to what the site served; ``verify`` passes."""
    with pg_database() as url:
        config = worker_config(tmp_path, database_url=url, lease="3s")
        killed = kill_three_workers(tmp_path, site, workers, url, config, done_within=90)
        print(f"{KILLS} kills in {killed.seconds:.0f} s, {killed.mid_job} of them mid-job; "
              f"{query(url, 'SELECT sum(attempts) AS n FROM jobs')[0].n} attempts "
              f"for {len(killed.served)} jobs")
        run_cli("verify", config=config, cwd=tmp_path, check=0)


@dataclass(frozen=True, kw_only=True)
class Killed:
    served: dict[str, str]  # link -> SHA-256 of the bytes the site served
    mid_job: int  # kills that hit a worker holding a job
    seconds: float  # the kills took


def kill_three_workers(tmp_path: Path, site: FixtureSite, workers: Workers, url: str,
                       config: Path, *, done_within: float) -> Killed:
    """Serve BATCHES x PER_BATCH trickling clips, ingest them in batches while three
    workers run and one is SIGKILLed and restarted KILLS times, let the three finish,
    and check every target ended with exactly one complete capture of the served bytes
    and that at least half the kills hit a worker at work."""
    rng = random.Random(SEED)
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[capture]\n", "[capture]\nper_host = 9\nconcurrency = 3\n"), encoding="utf-8")
    served: dict[str, str] = {}
    batches: list[list[str]] = []
    for n in range(BATCHES * PER_BATCH):
        clip = make_clip(tmp_path / "clips" / f"{n}.mp4", freq=200 + 37 * n, duration=1)
        body = clip.read_bytes()
        link = site.add(f"/v/{n}.mp4", Trickle(body, pause=0.1, pieces=10))
        served[link] = hashlib.sha256(body).hexdigest()
        if n % PER_BATCH == 0:
            batches.append([])
        batches[-1].append(link)
    _ingest(tmp_path, config, batches.pop(0))
    for _ in range(3):
        workers.start()
    mid_job = 0
    started = time.monotonic()
    for kill in range(KILLS):
        if batches and kill % (KILLS // (BATCHES + 1)) == 0 and kill:
            _ingest(tmp_path, config, batches.pop(0))
        time.sleep(rng.uniform(0.3, 2.4))
        holding = _holding(url, workers, within=2.0)  # mostly one at work
        victim = rng.choice(holding or workers.live())
        mid_job += victim in holding
        workers.kill(victim)
        workers.start()
    for batch in batches:
        _ingest(tmp_path, config, batch)
    seconds = time.monotonic() - started
    wait_for("every job done", lambda: set(_states(url)) == {"done"}, timeout=done_within)
    for worker in workers.live():
        assert workers.stop(worker) == 0, worker.text
    keys = dict(query(url, "SELECT url, key FROM targets"))
    assert _captures(url) == {keys[link]: [("complete", sha)] for link, sha in served.items()}
    assert mid_job >= KILLS // 2, f"only {mid_job} of {KILLS} kills hit a worker at work"
    return Killed(served=served, mid_job=mid_job, seconds=seconds)


def _holding(url: str, workers: Workers, *, within: float) -> list[Worker]:
    """The live workers that hold a running job, waiting up to ``within`` for one."""
    deadline = time.monotonic() + within
    while True:
        busy = {row.pid for row in query(
            url, "SELECT DISTINCT r.pid FROM jobs j JOIN runs r ON r.id = j.run_id "
                 "WHERE j.state = 'running'")}
        holding = [w for w in workers.live() if w.proc.pid in busy]
        if holding or time.monotonic() > deadline:
            return holding
        time.sleep(0.1)


def test_a_worker_never_makes_an_archive(tmp_path: Path) -> None:
    """A machine without the archive's signing key must not sign with a key of its own."""
    config = worker_config(tmp_path)
    done = run_cli("worker", config=config, cwd=tmp_path)
    assert done.code == 1 and "no archive at" in done.stderr, done.stderr
    run_cli("run", config=config, cwd=tmp_path, check=0)
    (tmp_path / "archive" / "keys" / "signing.key").unlink()
    done = run_cli("worker", config=config, cwd=tmp_path)
    assert done.code == 1 and "signing key is missing" in done.stderr, done.stderr
    assert not (tmp_path / "archive" / "keys" / "signing.key").exists()
