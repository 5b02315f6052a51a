"""The run loop: claim due jobs, capture them concurrently, record each result.

- At most ``capture.concurrency`` jobs run at once, and at most
  ``capture.per_host`` per politeness group (YouTube, Facebook, each web host):
  the claim skips groups that are full, or paused by a run of walls
  (``preserver.capture.walls``), so a queue of YouTube links never starves the others.
  A job holds its group's slot while it fetches; recording its result (manifest, rows,
  fsyncs) does not touch the host, so the slot is free by then (``TaskPool.wake``).
- ``CaptureWorker`` (procrastinate ``Worker``): a claim loop; each job is a named
  task of a ``TaskPool`` (``_process``), whose result is recorded in ``finally``
  under ``asyncio.shield`` (``_record``), so a cancelled run never loses a finished
  capture nor leaves a job ``running``. ``run_jobs`` is the entry point.
- Each job fetches with its group's access: ``Clients.for_capture`` (``preserver.net``):
  through its proxy or direct (and the proxied client of a second try with
  ``proxy_on_failure_only``); a session's client is its own, its cookies read now; a
  file that cannot be used captures nothing, not even anonymously: the job waits in retry.
- Transient failures are retried within the run with backoff
  (``workers.decide_retry``); when the attempts of this run are spent the job
  waits in ``retry`` for the next run (or ``serve``). A full, read-only or failing
  disk (``workers.StoreFailed``) is one: nothing of the attempt is kept.
- The run's collection record (``preserver.capture.collection``: operator, host, outside
  address, clock offset, versions) is measured once, from the first claim on, alongside
  the captures; every manifest of the run carries it.
- ``stop`` (an event) ends claiming; running jobs get ``grace`` seconds.
- Each run records itself (``preserver.db.runs``) and renews a heartbeat; its jobs
  and work directories (``tmp/job-<id>-<run>-<hex>``) name it. A run first requeues
  the jobs of every run known dead and removes that run's work directories, and
  says so (``RecoveredRun``, to ``progress`` and the log). Jobs claimed before runs
  were recorded still wait for ``timeout`` + ``STALE_MARGIN``.
- Each claim holds a lease, which the heartbeat renews; ``forever`` (``preserver
  worker``) waits for more jobs instead of ending (``preserver.capture.leases``).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from preserver.archive import Archive
from preserver.capture import leases, walls
from preserver.capture.browser import open_browser
from preserver.capture.collection import RunCollection
from preserver.capture.record import JobRecord, record_result
from preserver.concurrency import TaskPool, sleep_or_stop
from preserver.custody.events import rfc3339
from preserver.db import queue, runs
from preserver.db.models import JobState, utc_now
from preserver.db.notify import JobNotices
from preserver.db.queue import ClaimedJob, DeadRun
from preserver.errors import PreserverError
from preserver.net import Clients, access_for
from preserver.witness.runner import WitnessSummary, alongside
from workers import (
    Browser,
    CaptureJob,
    CaptureResult,
    CaptureState,
    CookiesFileError,
    Limits,
    Status,
    StoreFailed,
    capture,
    decide_retry,
)

log = logging.getLogger(__name__)

# A run waits for retries due within this many seconds; later ones are left for the next run.
MAX_WAIT_SECONDS = 120.0
# A job still "running" this long after the job time limit, claimed by a run that did not
# record itself (an older preserver), was left by a crashed run.
STALE_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True, kw_only=True)
class JobEvent:
    """Progress report: a job started (``result`` None) or finished."""

    job_id: int
    target_key: str
    result: CaptureResult | None = None
    retry_in: float | None = None


@dataclass(frozen=True, kw_only=True)
class RecoveredRun:
    """A dead run found at the start of this one: its jobs requeued, its work removed."""

    run: DeadRun
    work_dirs: int  # work directories of it removed from tmp/

    @property
    def message(self) -> str:
        jobs, dirs = len(self.run.job_ids), self.work_dirs
        return (f"requeued {jobs} job{'s' if jobs != 1 else ''} of run {self.run.label} "
                f"({self.run.reason}) and removed its {dirs} work "
                f"director{'ies' if dirs != 1 else 'y'}")


@dataclass(kw_only=True)
class RunSummary:
    jobs: int = 0
    captured: int = 0
    partial: int = 0
    failed: int = 0
    retrying: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    recovered: list[RecoveredRun] = field(default_factory=list)
    witness: WitnessSummary | None = None  # with [witness] save_page_now


Progress = Callable[[JobEvent | RecoveredRun], None]


def _job(archive: Archive, claimed: ClaimedJob, run_id: str) -> CaptureJob:
    cfg = archive.config
    work_dir = cfg.tmp_dir / f"job-{claimed.id}-{run_id}-{uuid.uuid4().hex[:8]}"
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
        key_id=archive.key.key_id,
        access=access_for(cfg, claimed.host),
        source_address=cfg.network.source_address or None,
    )


def _remove_work_dirs(tmp_dir: Path, run_id: str) -> int:
    """Remove the work directories of run ``run_id``; returns how many there were."""
    found = [d for d in tmp_dir.glob(f"job-*-{run_id}-*") if d.is_dir()]
    for work_dir in found:
        shutil.rmtree(work_dir, ignore_errors=True)
    return len(found)


def _failure(message: str, *, transient: bool) -> CaptureResult:
    now = rfc3339(utc_now())
    return CaptureResult(state=CaptureState.FAILED, status=Status.ERROR, message=message,
                         transient=transient, started_at=now, finished_at=now)


class CaptureWorker:
    """The pool of one run: claims due jobs, captures each in a named task, records
    every result (the single writer; recordings outlive a cancelled run)."""

    clients: Clients  # each access's HTTP client; made by ``run``, closed when it ends
    browser: Browser | None = None  # likewise, when [browser] is on

    def __init__(self, archive: Archive, *, progress: Progress | None = None,
                 stop: asyncio.Event | None = None, retry_everything: bool = True,
                 max_wait: float = MAX_WAIT_SECONDS, grace: float = 30.0,
                 forever: bool = False) -> None:
        self.archive, self.progress = archive, progress
        self.forever = forever
        self.lease = timedelta(seconds=archive.config.queue.lease)
        self.notices = JobNotices(archive.db.engine)
        self.retry_everything, self.max_wait, self.grace = retry_everything, max_wait, grace
        self.pool = TaskPool(stop=stop)
        self.notices.on_notice = self.pool.wake  # a job queued while captures run: claim it
        self.summary = RunSummary()
        self.attempts: Counter[int] = Counter()  # attempts in this run, per job
        self.per_host: Counter[str] = Counter()  # jobs under way, per politeness group
        self.me = runs.this_process()
        self.run_id = ""  # recorded by ``run``
        self.collection = RunCollection(archive.config, ffmpeg=archive.ffmpeg(),
                                        chromium=archive.chromium())

    def stop(self) -> None:
        """Claim nothing more; running jobs get ``grace`` seconds, then are cancelled."""
        self.pool.stop()

    async def run(self) -> RunSummary:
        """Process due jobs until none is left (or ``stop``)."""
        cfg = self.archive.config.capture
        self.browser = open_browser(self.archive)
        async with self.archive.db.session() as session:
            self.run_id = await runs.start_run(session, self.me)
        async with self.archive.db.session() as session:
            dead = await queue.requeue_dead_runs(session, me=self.me)
            await queue.requeue_stale(session, older_than=timedelta(seconds=cfg.timeout + 60)
                                      + STALE_MARGIN)
            await queue.release_retries(session, due_only=not self.retry_everything)
        for run in dead:
            self._recovered(run)
        self.clients = Clients(self.archive.config.network, timeout=cfg.socket_timeout)
        beat = asyncio.create_task(self._heartbeat(), name=f"heartbeat-{self.run_id}")
        if self.forever:
            await self.notices.start()
        try:
            await self._loop()
            await self.pool.close(self.grace)  # stopped: running jobs get the grace
        finally:
            await self.pool.close(0)  # an error, a cancellation: at once; recordings drained
            self.collection.cancel()
            await self.clients.aclose()
            if self.browser is not None:
                await self.browser.close()
            beat.cancel()
            await self.notices.close()
            await self._end()
        return self.summary

    def _recovered(self, run: DeadRun) -> None:
        recovered = RecoveredRun(run=run, work_dirs=_remove_work_dirs(self.archive.config.tmp_dir,
                                                                      run.run_id))
        log.info("%s", recovered.message)
        self.summary.recovered.append(recovered)
        if self.progress:
            self.progress(recovered)

    async def _heartbeat(self) -> None:
        await leases.keep_alive(self.archive, self.run_id, self.lease)

    async def _end(self) -> None:
        try:
            async with self.archive.db.session() as session:
                await runs.end_run(session, self.run_id)
        except PreserverError:  # on this machine its process is checked instead
            log.debug("end of run %s not recorded", self.run_id, exc_info=True)

    async def _loop(self) -> None:
        cfg = self.archive.config.capture
        while True:
            while not self.pool.stopped and self.pool.running < cfg.concurrency:
                claimed = await self._claim()
                if claimed is None:
                    break
                self.per_host[claimed.host] += 1
                self.collection.start()  # measured while the first captures run
                self.pool.spawn(self._process(claimed), name=f"capture-{claimed.id}")
            if self.pool.stopped:
                return
            if self.pool.running:  # until a capture ends, or (listening) a job is queued
                await self.pool.wait(timeout=self.archive.config.queue.poll
                                     if self.notices.listening else 1.0)
            elif not await self._wait_for_retries():
                return

    async def _claim(self) -> ClaimedJob | None:
        """The next due job whose politeness group has room and is not paused (walls)."""
        limit = self.archive.config.capture.per_host
        busy = frozenset(h for h, n in self.per_host.items() if n >= limit)
        claimed = await walls.claim_next(
            self.archive, busy, run_id=self.run_id, lease=self.lease,
            host_limit=limit if self.archive.config.queue.global_per_host else None)
        if claimed is not None and claimed.taken_over:
            log.warning("job %s (%s): the lease of run %s expired; taken over as attempt %d",
                        claimed.id, claimed.target_key, claimed.taken_over, claimed.attempts)
        return claimed

    async def _wait_for_retries(self) -> bool:
        """Sleep until the next retry is due; False when none is due within ``max_wait``
        (never while ``forever``: then until ``stop``)."""
        if self.forever:
            await leases.idle(self.archive, self.notices, self.pool.stopping)
            return not self.pool.stopped
        due = await walls.next_start(self.archive)  # a paused group's jobs wait for its end
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
            job = _job(self.archive, claimed, self.run_id)
            async with self.clients.for_capture(job.access) as (http, then):  # then: proxied
                result = await asyncio.wait_for(
                    capture(job, self.archive.store, http, browser=self.browser,
                            proxied_http=then),
                    timeout=(cfg.timeout + 60) * (1 if then is None else 2))
            local, may_retry = False, True
        except CookiesFileError as exc:  # the operator's to fix; never captured anonymously
            log.error("capture of %s not started: %s", claimed.target_key, exc)
            result, may_retry = _failure(str(exc), transient=True), True
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
            # the host is done with: its slot is free while the result is recorded
            self.per_host[claimed.host] -= 1
            self.pool.wake()
            await self.pool.record(self._record(claimed, result, job, local=local,
                                                may_retry=may_retry, io_failure=io_failure),
                                   name=f"record-{claimed.id}")

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
                           platform=claimed.platform, run_id=self.run_id,
                           attempt=claimed.attempts)
        try:
            await record_result(self.archive, record, result,
                                retry_in=retry.delay_seconds if retry else None,
                                capture_id=job.capture_id if job else None, local=local,
                                io_failure=io_failure, group=claimed.host,
                                collection=await self.collection.as_json())
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
                                   retry_in=self.archive.config.capture.retry_delay,
                                   run_id=self.run_id, attempt=claimed.attempts)
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
    """Process due jobs until none is left (or ``stop`` is set); see ``CaptureWorker``.

    With ``[witness] save_page_now`` the witness runner (``preserver.witness``) takes the
    ``witness`` jobs beside the captures, one at a time, and goes on after them while
    witness jobs are due within ``max_wait`` (``preserver.witness.runner.alongside``). Its
    failures are its jobs' errors, never the run's; ``summary.witness`` counts them."""
    stop = stop or asyncio.Event()
    worker = CaptureWorker(archive, progress=progress, stop=stop,
                           retry_everything=retry_everything, max_wait=max_wait, grace=grace)
    summary, witnessed = await alongside(archive, worker.run(), stop=stop, max_wait=max_wait)
    summary.witness = witnessed
    return summary
