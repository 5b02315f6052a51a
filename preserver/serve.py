"""``preserver serve``: the long-running service.

APScheduler 3 (``AsyncIOScheduler``) runs the jobs of ``[serve]``, each on its cron
schedule, with ``misfire_grace`` and coalescing (a missed run is run once, not once
per missed slot) and never two of one job at a time:

- ``captures``: queued and due capture jobs (``preserver run``, without forcing
  retries that are not due), then a checkpoint;
- ``audit``: the availability checks that are due;
- ``checkpoint``: a checkpoint of the custody ledger (retries pending timestamps);
- ``fixity``: ``preserver verify`` of the whole archive (re-hash every blob).

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

    return {"captures": captures, "audit": audit_due, "checkpoint": checkpoint,
            "fixity": fixity}


def _guarded(name: str, job: Callable[[], Awaitable[Any]], running: set[asyncio.Task[Any]],
             stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if stop.is_set():  # started in the same instant as the signal
            return
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await job()
        except PreserverError as exc:  # one failed run of a job never stops the service
            log.error("%s: %s", name, exc)
        finally:
            running.discard(task)

    return run


def build_scheduler(config: Config, jobs: dict[str, Callable[[], Awaitable[Any]]],
                    running: set[asyncio.Task[Any]] | None = None,
                    stop: asyncio.Event | None = None) -> AsyncIOScheduler:
    """The scheduler with every job of ``[serve]`` that has a schedule; each run of a job
    is in ``running`` while it runs, and none starts once ``stop`` is set."""
    running = set() if running is None else running
    stop = stop or asyncio.Event()
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
        scheduler.add_job(_guarded(name, job, running, stop), trigger, id=name, name=name)
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
        running: set[asyncio.Task[Any]] = set()
        scheduler = build_scheduler(config, _jobs(archive, stop), running, stop)
        scheduler.start()
        log.warning("serving: %s", ", ".join(
            f"{j.id} next at {j.next_run_time:%Y-%m-%d %H:%M} UTC"
            for j in scheduler.get_jobs()) or "no job scheduled")
        if ready:
            ready(scheduler)
        await stop.wait()
        log.warning("stopping: waiting for running jobs")
        scheduler.pause()  # no new runs; shutdown() would cancel the running ones at once
        deadline = asyncio.get_running_loop().time() + config.serve.grace + 5
        while running:
            _, late = await asyncio.wait(set(running), timeout=max(
                0.0, deadline - asyncio.get_running_loop().time()))
            for task in late:  # a fixity check or checkpoint: done again next time
                log.warning("stopping: cancelling %s", task.get_name())
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        scheduler.shutdown(wait=False)
