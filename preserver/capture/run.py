"""The run loop: claim due jobs, capture them concurrently, record each result.

- At most ``capture.concurrency`` jobs run at once, and at most
  ``capture.per_host`` per politeness group (YouTube, Facebook, each web host):
  the claim skips groups that are full, so a queue of YouTube links never
  starves the others.
- Each job is a named task, tracked until done. The loop is the single writer:
  results are recorded under ``asyncio.shield`` so a cancelled run never loses
  a finished capture.
- Transient failures are retried within the run with backoff
  (``workers.decide_retry``); when the attempts of this run are spent the job
  waits in ``retry`` for the next run (or ``serve``).
- ``stop`` (an event) ends claiming; running jobs get ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from preserver.archive import Archive
from preserver.capture.record import JobRecord, record_result
from preserver.concurrency import drain, sleep_or_stop
from preserver.custody.events import rfc3339
from preserver.db import queue
from preserver.db.models import JobState, utc_now
from preserver.db.queue import ClaimedJob
from preserver.errors import PreserverError
from preserver.net import http_client
from workers import (
    CaptureJob,
    CaptureResult,
    CaptureState,
    Limits,
    Status,
    StoreFailed,
    capture,
    decide_retry,
)

log = logging.getLogger(__name__)

# A run waits for retries due within this many seconds; later ones are left for the next run.
MAX_WAIT_SECONDS = 120.0
# A job still "running" this long after the job time limit was left by a crashed run.
STALE_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True, kw_only=True)
class JobEvent:
    """Progress report: a job started (``result`` None) or finished."""

    job_id: int
    target_key: str
    result: CaptureResult | None = None
    retry_in: float | None = None


@dataclass(kw_only=True)
class RunSummary:
    jobs: int = 0
    captured: int = 0
    partial: int = 0
    failed: int = 0
    retrying: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


Progress = Callable[[JobEvent], None]


def _job(archive: Archive, claimed: ClaimedJob) -> CaptureJob:
    cfg = archive.config
    work_dir = cfg.tmp_dir / f"job-{claimed.id}-{uuid.uuid4().hex[:12]}"
    work_dir.mkdir(parents=True)
    return CaptureJob(
        job_id=claimed.id,
        capture_id=str(uuid.uuid4()),
        target_key=claimed.target_key,
        url=claimed.url,
        platform=claimed.platform,
        work_dir=work_dir,
        limits=Limits(max_bytes=cfg.capture.max_bytes, timeout_seconds=cfg.capture.timeout,
                      socket_timeout_seconds=cfg.capture.socket_timeout,
                      max_redirects=cfg.network.max_redirects,
                      page_max_bytes=cfg.capture.page_max_bytes),
        allow_private=cfg.network.allow_private,
        allow_networks=cfg.network.allow_networks,
        user_agent=cfg.network.user_agent or None,
        ffmpeg=archive.ffmpeg(),
        cache_dir=cfg.data_dir / "cache" / "yt-dlp",
    )


def _failure(message: str, *, transient: bool) -> CaptureResult:
    now = rfc3339(utc_now())
    return CaptureResult(state=CaptureState.FAILED, status=Status.ERROR, message=message,
                         transient=transient, started_at=now, finished_at=now)


async def run_jobs(
    archive: Archive,
    *,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    retry_everything: bool = True,
    max_wait: float = MAX_WAIT_SECONDS,
    grace: float = 30.0,
) -> RunSummary:
    """Process due jobs until none is left (or ``stop`` is set)."""
    cfg = archive.config.capture
    stop = stop or asyncio.Event()
    summary = RunSummary()
    attempts: Counter[int] = Counter()  # attempts in this run, per job
    running: dict[asyncio.Task[None], ClaimedJob] = {}
    finishing: set[asyncio.Task[None]] = set()  # recordings, awaited even when cancelled
    per_host: Counter[str] = Counter()
    async with archive.db.session() as session:
        await queue.requeue_stale(session, older_than=timedelta(seconds=cfg.timeout + 60)
                                  + STALE_MARGIN)
        await queue.release_retries(session, due_only=not retry_everything)

    http = http_client(archive.config.network, timeout=cfg.socket_timeout)

    async def process(claimed: ClaimedJob) -> None:
        if progress:
            progress(JobEvent(job_id=claimed.id, target_key=claimed.target_key))
        job: CaptureJob | None = None
        result: CaptureResult
        local = True  # a failure of this machine, not an answer about the link
        try:
            job = _job(archive, claimed)
            result = await asyncio.wait_for(capture(job, archive.store, http),
                                            timeout=cfg.timeout + 60)
            local = False
        except TimeoutError:
            result = _failure(f"timed out after {cfg.timeout:.0f} s", transient=True)
        except StoreFailed as exc:  # disk full, permissions: the operator's to fix; retry later
            log.error("capture of %s not kept: %s", claimed.target_key, exc)
            result = _failure(f"not kept: {exc}", transient=True)
        except OSError as exc:  # the work directory could not be made
            log.error("capture of %s not started: %s", claimed.target_key, exc)
            result = _failure(f"work directory: {exc.strerror or exc}", transient=True)
        except asyncio.CancelledError:
            result = _failure("interrupted: the run was stopped", transient=True)
            _start_finish(claimed, result, job, local=True, may_retry=False)
            raise
        except Exception as exc:  # a worker bug must not stop the pool: record it, go on
            log.exception("capture of %s failed unexpectedly", claimed.target_key)
            result = _failure(f"{type(exc).__name__}: {exc}", transient=False)
        await asyncio.shield(_start_finish(claimed, result, job, local=local))

    def _start_finish(claimed: ClaimedJob, result: CaptureResult, job: CaptureJob | None, *,
                      local: bool, may_retry: bool = True) -> asyncio.Task[None]:
        task = asyncio.create_task(_finish(claimed, result, job, local=local,
                                           may_retry=may_retry),
                                   name=f"record-{claimed.id}")
        finishing.add(task)
        task.add_done_callback(finishing.discard)
        return task

    async def _requeue_unrecorded(claimed: ClaimedJob, exc: PreserverError) -> None:
        try:
            async with archive.db.session() as session:
                await queue.finish(session, claimed.id, state=JobState.RETRY,
                                   error=f"not recorded: {exc}", retry_in=cfg.retry_delay)
        except PreserverError:  # still unusable: a later run's requeue_stale brings it back
            log.debug("job %s left running", claimed.id, exc_info=True)

    async def _finish(claimed: ClaimedJob, result: CaptureResult, job: CaptureJob | None, *,
                      local: bool, may_retry: bool) -> None:
        attempts[claimed.id] += 1
        retry = None
        if result.transient and may_retry and not stop.is_set():
            retry = decide_retry(result, attempts[claimed.id], max_attempts=cfg.max_attempts,
                                 base_delay=cfg.retry_delay, max_delay=max_wait)
        record = JobRecord(job_id=claimed.id, target_id=claimed.target_id,
                           target_key=claimed.target_key, url=claimed.url,
                           platform=claimed.platform)
        try:
            await record_result(archive, record, result,
                                retry_in=retry.delay_seconds if retry else None,
                                capture_id=job.capture_id if job else None, local=local)
        except PreserverError as exc:  # e.g. the database's disk is full: keep going
            log.error("result for %s not recorded: %s", claimed.target_key, exc)
            await _requeue_unrecorded(claimed, exc)
            summary.failed += 1
            return
        summary.jobs += 1
        summary.statuses[result.status.value] += 1
        if retry is not None:
            summary.retrying += 1
        elif result.state is CaptureState.COMPLETE:
            summary.captured += 1
        elif result.state is CaptureState.PARTIAL:
            summary.partial += 1
        else:
            summary.failed += 1
        if progress:
            progress(JobEvent(job_id=claimed.id, target_key=claimed.target_key, result=result,
                              retry_in=retry.delay_seconds if retry else None))

    try:
        while True:
            while not stop.is_set() and len(running) < cfg.concurrency:
                busy = frozenset(h for h, n in per_host.items() if n >= cfg.per_host)
                async with archive.db.session() as session:
                    claimed = await queue.claim(session, exclude_hosts=busy)
                if claimed is None:
                    break
                per_host[claimed.host] += 1
                task = asyncio.create_task(process(claimed), name=f"capture-{claimed.id}")
                running[task] = claimed
            if not running:
                if stop.is_set():
                    break
                async with archive.db.session() as session:
                    due = await queue.next_due(session)
                if due is None or (due - utc_now()).total_seconds() > max_wait:
                    break
                await sleep_or_stop(stop, max(0.0, (due - utc_now()).total_seconds()) + 0.05)
                continue
            done, _ = await asyncio.wait(running, timeout=1.0,
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                claimed = running.pop(task)
                per_host[claimed.host] -= 1
                if not task.cancelled() and task.exception() is not None:
                    log.error("job %s: %s", claimed.id, task.exception())
            if stop.is_set() and running:
                done, _ = await asyncio.wait(running, timeout=grace)
                for task in set(running) - done:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                break
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await drain(finishing)  # finished captures are recorded, even on Ctrl-C
        await http.aclose()
    return summary
