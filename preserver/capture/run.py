"""The run loop: claim due jobs, capture them concurrently, record each result.

- At most ``capture.concurrency`` jobs run at once, and at most
  ``capture.per_host`` per politeness group (YouTube, Facebook, each web host):
  the claim skips groups that are full, so a queue of YouTube links never
  starves the others.
- ``CaptureWorker`` (procrastinate ``Worker``): a claim loop; each job is a named
  task of a ``TaskPool`` (``_process``), whose result is recorded in ``finally``
  under ``asyncio.shield`` (``_record``), so a cancelled run never loses a finished
  capture nor leaves a job ``running``. ``run_jobs`` is the entry point.
- Transient failures are retried within the run with backoff
  (``workers.decide_retry``); when the attempts of this run are spent the job
  waits in ``retry`` for the next run (or ``serve``). A full, read-only or failing
  disk (``workers.StoreFailed``) is one: nothing of the attempt is kept.
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

import httpx

from preserver.archive import Archive
from preserver.capture.record import JobRecord, record_result
from preserver.concurrency import TaskPool, sleep_or_stop
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


class CaptureWorker:
    """The pool of one run: claims due jobs, captures each in a named task, records
    every result (the single writer; recordings outlive a cancelled run)."""

    http: httpx.AsyncClient  # made by ``run``, closed when it ends

    def __init__(self, archive: Archive, *, progress: Progress | None = None,
                 stop: asyncio.Event | None = None, retry_everything: bool = True,
                 max_wait: float = MAX_WAIT_SECONDS, grace: float = 30.0) -> None:
        self.archive, self.progress = archive, progress
        self.retry_everything, self.max_wait, self.grace = retry_everything, max_wait, grace
        self.pool = TaskPool(stop=stop)
        self.summary = RunSummary()
        self.attempts: Counter[int] = Counter()  # attempts in this run, per job
        self.per_host: Counter[str] = Counter()  # jobs under way, per politeness group

    def stop(self) -> None:
        """Claim nothing more; running jobs get ``grace`` seconds, then are cancelled."""
        self.pool.stop()

    async def run(self) -> RunSummary:
        """Process due jobs until none is left (or ``stop``)."""
        cfg = self.archive.config.capture
        async with self.archive.db.session() as session:
            await queue.requeue_stale(session, older_than=timedelta(seconds=cfg.timeout + 60)
                                      + STALE_MARGIN)
            await queue.release_retries(session, due_only=not self.retry_everything)
        self.http = http_client(self.archive.config.network, timeout=cfg.socket_timeout)
        try:
            await self._loop()
            await self.pool.close(self.grace)  # stopped: running jobs get the grace
        finally:
            await self.pool.close(0)  # an error, a cancellation: at once; recordings drained
            await self.http.aclose()
        return self.summary

    async def _loop(self) -> None:
        cfg = self.archive.config.capture
        while True:
            while not self.pool.stopped and self.pool.running < cfg.concurrency:
                claimed = await self._claim()
                if claimed is None:
                    break
                self.per_host[claimed.host] += 1
                self.pool.spawn(self._process(claimed), name=f"capture-{claimed.id}")
            if self.pool.stopped:
                return
            if self.pool.running:
                await self.pool.wait(timeout=1.0)
            elif not await self._wait_for_retries():
                return

    async def _claim(self) -> ClaimedJob | None:
        """The next due job whose politeness group has room."""
        limit = self.archive.config.capture.per_host
        busy = frozenset(h for h, n in self.per_host.items() if n >= limit)
        async with self.archive.db.session() as session:
            return await queue.claim(session, exclude_hosts=busy)

    async def _wait_for_retries(self) -> bool:
        """Sleep until the next retry is due; False when none is due within ``max_wait``."""
        async with self.archive.db.session() as session:
            due = await queue.next_due(session)
        if due is None or (due - utc_now()).total_seconds() > self.max_wait:
            return False
        await sleep_or_stop(self.pool.stopping,
                            max(0.0, (due - utc_now()).total_seconds()) + 0.05)
        return True

    async def _process(self, claimed: ClaimedJob) -> None:
        """Capture one job; its result is recorded in ``finally``, shielded."""
        cfg = self.archive.config.capture
        if self.progress:
            self.progress(JobEvent(job_id=claimed.id, target_key=claimed.target_key))
        job: CaptureJob | None = None
        result = _failure("interrupted: the run was stopped", transient=True)
        local, may_retry = True, False  # a failure of this machine, not about the link
        io_failure = False  # this machine's storage failed (full, read-only, failing disk)
        try:
            job = _job(self.archive, claimed)
            result = await asyncio.wait_for(capture(job, self.archive.store, self.http),
                                            timeout=cfg.timeout + 60)
            local, may_retry = False, True
        except TimeoutError:
            result, may_retry = _failure(f"timed out after {cfg.timeout:.0f} s",
                                         transient=True), True
        except StoreFailed as exc:  # disk full, read-only: the operator's to fix; retried
            log.error("capture of %s not kept: %s", claimed.target_key, exc)
            result, may_retry = _failure(f"not kept: {exc}", transient=True), True
            io_failure = True
        except OSError as exc:  # the work directory could not be made
            log.error("capture of %s not started: %s", claimed.target_key, exc)
            result, may_retry = _failure(f"work directory: {exc.strerror or exc}",
                                         transient=True), True
            io_failure = True
        except Exception as exc:  # a worker bug must not stop the pool: record it, go on
            log.exception("capture of %s failed unexpectedly", claimed.target_key)
            result, may_retry = _failure(f"{type(exc).__name__}: {exc}", transient=False), True
        finally:  # also when cancelled: the job is never left "running"
            try:
                await self.pool.record(self._record(claimed, result, job, local=local,
                                                    may_retry=may_retry, io_failure=io_failure),
                                       name=f"record-{claimed.id}")
            finally:
                self.per_host[claimed.host] -= 1

    async def _record(self, claimed: ClaimedJob, result: CaptureResult, job: CaptureJob | None,
                      *, local: bool, may_retry: bool, io_failure: bool = False) -> None:
        cfg = self.archive.config.capture
        self.attempts[claimed.id] += 1
        retry = None
        if result.transient and may_retry and not self.pool.stopped:
            retry = decide_retry(result, self.attempts[claimed.id], max_attempts=cfg.max_attempts,
                                 base_delay=cfg.retry_delay, max_delay=self.max_wait)
        record = JobRecord(job_id=claimed.id, target_id=claimed.target_id,
                           target_key=claimed.target_key, url=claimed.url,
                           platform=claimed.platform)
        try:
            await record_result(self.archive, record, result,
                                retry_in=retry.delay_seconds if retry else None,
                                capture_id=job.capture_id if job else None, local=local,
                                io_failure=io_failure)
        except PreserverError as exc:  # e.g. the database's disk is full: keep going
            log.error("result for %s not recorded: %s", claimed.target_key, exc)
            await self._requeue_unrecorded(claimed, exc)
            self.summary.failed += 1
            return
        self._count(result, retry is not None)
        if self.progress:
            self.progress(JobEvent(job_id=claimed.id, target_key=claimed.target_key,
                                   result=result,
                                   retry_in=retry.delay_seconds if retry else None))

    def _count(self, result: CaptureResult, retrying: bool) -> None:
        summary = self.summary
        summary.jobs += 1
        summary.statuses[result.status.value] += 1
        if retrying:
            summary.retrying += 1
        elif result.state is CaptureState.COMPLETE:
            summary.captured += 1
        elif result.state is CaptureState.PARTIAL:
            summary.partial += 1
        else:
            summary.failed += 1

    async def _requeue_unrecorded(self, claimed: ClaimedJob, exc: PreserverError) -> None:
        try:
            async with self.archive.db.session() as session:
                await queue.finish(session, claimed.id, state=JobState.RETRY,
                                   error=f"not recorded: {exc}",
                                   retry_in=self.archive.config.capture.retry_delay)
        except PreserverError:  # still unusable: a later run's requeue_stale brings it back
            log.debug("job %s left running", claimed.id, exc_info=True)


async def run_jobs(
    archive: Archive,
    *,
    progress: Progress | None = None,
    stop: asyncio.Event | None = None,
    retry_everything: bool = True,
    max_wait: float = MAX_WAIT_SECONDS,
    grace: float = 30.0,
) -> RunSummary:
    """Process due jobs until none is left (or ``stop`` is set); see ``CaptureWorker``."""
    return await CaptureWorker(archive, progress=progress, stop=stop,
                               retry_everything=retry_everything, max_wait=max_wait,
                               grace=grace).run()
