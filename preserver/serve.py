"""``preserver serve``: the long-running service.

APScheduler 3 (``AsyncIOScheduler``) runs the jobs of ``[serve]``, each on its cron
schedule, with ``misfire_grace`` and coalescing (a missed run is run once, not once
per missed slot) and never two of one job at a time:

- ``captures``: queued and due capture jobs (``preserver run``, without forcing
  retries that are not due), then a checkpoint;
- ``audit``: the availability checks that are due;
- ``checkpoint``: a checkpoint of the custody ledger (retries pending timestamps);
- ``fixity``: ``preserver verify`` of the whole archive (re-hash every blob).

Several ``serve`` processes (on several machines, one PostgreSQL database) may run: the
captures are claimed job by job, the audit and the fixity check run in one process at
a time (the others skip their turn: ``preserver.db.singleton``), and checkpoints are
made one at a time. Capture workers (``preserver worker``, ``preserver.worker``) need
no schedule.

What must survive a restart lives in the database (jobs, ``next_check_at``,
checkpoints), so the schedule itself needs no store. SIGTERM or SIGINT stops the
scheduler, lets a running capture or availability check finish within the grace
period and records it (targets not yet checked stay due), then exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from manifests import FindingOutcome
from preserver.archive import Archive, open_archive
from preserver.concurrency import TaskPool
from preserver.config import Config
from preserver.errors import ConfigError, PreserverError

log = logging.getLogger(__name__)


def _jobs(archive: Archive, stop: asyncio.Event) -> dict[str, Callable[[], Awaitable[Any]]]:
    from preserver.audit.runner import audit
    from preserver.capture.run import run_jobs
    from preserver.custody.ledger import make_checkpoint
    from preserver.verify.archive import verify_archive

    async def captures() -> None:
        summary = await run_jobs(archive, stop=stop, retry_everything=False,
                                 grace=archive.config.serve.grace)
        log.info("captures: %d captured, %d failed", summary.captured, summary.failed)
        await make_checkpoint(archive)

    async def audit_due() -> None:
        summary = await audit(archive, stop=stop, grace=archive.config.serve.grace)
        log.info("audit: %d checked, %d changed", summary.checked, summary.changed)

    async def checkpoint() -> None:
        result = await make_checkpoint(archive)
        log.info("checkpoint of %d events%s", result.size,
                 f", {len(result.pending)} timestamps pending" if result.pending else "")

    async def fixity() -> None:
        findings = await verify_archive(archive)
        failed = [f for f in findings if f.outcome == FindingOutcome.FAILED]
        (log.error if failed else log.info)("fixity: %d checks, %d failed", len(findings),
                                            len(failed))

    return {"captures": captures, "audit": _alone(archive, "audit", audit_due),
            "checkpoint": checkpoint, "fixity": _alone(archive, "fixity", fixity)}


def _alone(archive: Archive, name: str,
           job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """``job``, run by one ``serve`` at a time among all machines (``db.singleton``);
    another that holds it makes this turn a skip."""
    from preserver.db.singleton import singleton

    async def run() -> None:
        async with singleton(archive.db.engine, name) as held:
            if not held:
                log.warning("%s: running in another process; skipped this time", name)
                return
            await job()

    return run


def _guarded(name: str, job: Callable[[], Awaitable[Any]],
             pool: TaskPool) -> Callable[[], Awaitable[None]]:
    async def logged() -> None:
        try:
            await job()
        except PreserverError as exc:  # one failed run of a job never stops the service
            log.error("%s: %s", name, exc)

    async def run() -> None:
        if pool.stopped:  # started in the same instant as the signal
            return
        # a task of the pool (awaited on a stop), waited for here without taking its
        # outcome: a bug is logged once, by the pool
        await asyncio.wait([pool.spawn(logged(), name=name)])

    return run


def build_scheduler(config: Config, jobs: dict[str, Callable[[], Awaitable[Any]]],
                    pool: TaskPool | None = None) -> AsyncIOScheduler:
    """The scheduler with every job of ``[serve]`` that has a schedule; each run of a job
    is a task of ``pool``, and none starts once the pool is stopped."""
    pool = TaskPool() if pool is None else pool
    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1,
        "misfire_grace_time": int(config.serve.misfire_grace)})
    for name, job in jobs.items():
        cron = getattr(config.serve, name)
        if not cron:
            continue
        try:
            trigger = CronTrigger.from_crontab(cron, timezone="UTC")
        except ValueError as exc:
            raise ConfigError(f"serve.{name}: not a cron schedule: {cron!r} ({exc})") from exc
        scheduler.add_job(_guarded(name, job, pool), trigger, id=name, name=name)
    return scheduler


async def serve(config: Config, *, ready: Callable[[AsyncIOScheduler], None] | None = None
                ) -> None:
    """Run until SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _serve(config, stop, ready)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.warning("stopped")


async def _serve(config: Config, stop: asyncio.Event,
                 ready: Callable[[AsyncIOScheduler], None] | None) -> None:
    async with open_archive(config) as archive:
        pool = TaskPool(stop=stop)
        scheduler = build_scheduler(config, _jobs(archive, stop), pool)
        scheduler.start()
        log.warning("serving: %s", ", ".join(
            f"{j.id} next at {j.next_run_time:%Y-%m-%d %H:%M} UTC"
            for j in scheduler.get_jobs()) or "no job scheduled")
        if ready:
            ready(scheduler)
        await stop.wait()
        log.warning("stopping: waiting for running jobs")
        scheduler.pause()  # no new runs; shutdown() would cancel the running ones at once
        # a capture or audit stops itself within the grace; a fixity check or a
        # checkpoint still running 5 s later is cancelled (done again next time)
        await pool.close(config.serve.grace + 5)
        scheduler.shutdown(wait=False)
