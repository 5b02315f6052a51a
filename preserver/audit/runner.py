"""Availability audits: re-check cited links on a schedule, record every answer.

- Which targets: those whose ``next_check_at`` has come (``preserver audit``), or all
  (``--all``). They are read ``BATCH`` at a time and a new batch is read when fewer
  than ``BATCH`` checks are left, so an audit of any size runs in bounded memory and
  without waiting for the slowest check of each batch.
- Each probe uses its group's access for probes (``Access.for_probes``): the client of
  that access (``preserver.net.Clients``: through its proxy or direct; with a session a
  client of its own sends its cookies, the file read for that probe) and, for the yt-dlp
  probe, its cookies and proxy; notices (webhook, Wayback) go direct.
- Probes (``workers.probe``) run concurrently under a global limit, a per-group limit
  and a per-group request rate (``[audit]`` settings); 429s and bot checks back the
  group off. Every answer is a row; the state changes only as
  ``preserver.audit.availability`` allows (inconclusive never; down only after
  ``confirmations`` spaced ``confirm_after`` apart).
- The next check: ``preserver.audit.schedule.next_check``, stored with the answer.
- Stopping (``stop``, set by ``preserver serve`` on SIGTERM): no new check starts,
  running checks get ``grace`` seconds and are recorded (``TaskPool.close``); every
  target not checked keeps its ``next_check_at``, so the next audit picks it up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from preserver.archive import Archive
from preserver.audit.availability import record_check
from preserver.audit.notify import on_lost, post_webhook
from preserver.audit.schedule import next_check
from preserver.concurrency import TaskPool
from preserver.config import Config
from preserver.custody.events import rfc3339
from preserver.db.models import Target, utc_now
from preserver.errors import PreserverError
from preserver.net import Clients, access_for
from workers import (
    HostLimiter,
    Limits,
    ProbeResult,
    ProbeSettings,
    ProbeTarget,
    RateLimiter,
    Status,
    host_group,
    probe,
)

log = logging.getLogger(__name__)

BATCH = 500
LISTED = 1000  # state changes listed in a summary; all are counted, and all are events


@dataclass(kw_only=True)
class AuditSummary:
    checked: int = 0
    changed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # key, from, to;
    # the first LISTED only (the first audit of a large archive changes every target)
    stopped: bool = False  # ``stop`` ended the audit before every due target was checked
    interrupted: int = 0  # checks cancelled under way (their targets stay due)
    unrecorded: int = 0  # answers the database refused (their targets stay due)


Progress = Callable[[int, int, str], None]  # done, total, current key


def _settings(config: Config) -> ProbeSettings:
    return ProbeSettings(
        oembed_url=config.probes.youtube_oembed_url,
        limits=Limits(max_bytes=1 << 20, timeout_seconds=max(60.0, config.capture.socket_timeout),
                      socket_timeout_seconds=config.capture.socket_timeout),
        allow_private=config.network.allow_private,
        allow_networks=config.network.allow_networks,
    )


def _due(*, everything: bool, now: datetime) -> ColumnElement[bool]:
    return sa.true() if everything else col(Target.next_check_at) <= now


def _target(config: Config, row: Target) -> ProbeTarget:
    """The probe of ``row``, with its group's access for probes (``audit = false``: anonymous)."""
    access = access_for(config, host_group(row.url)).for_probes()
    return ProbeTarget(key=row.key, url=row.url, platform=row.platform, access=access)


async def _batches(archive: Archive, selected: ColumnElement[bool]
                   ) -> AsyncGenerator[list[ProbeTarget], None]:
    """The ``selected`` targets, ``BATCH`` at a time, in id order (keyset paging: a target
    checked meanwhile, whose ``next_check_at`` moved, is neither skipped nor read twice)."""
    last = 0
    while True:
        async with archive.db.session() as session:
            rows = (await session.scalars(
                select(Target).where(col(Target.id) > last, selected)
                .order_by(col(Target.id)).limit(BATCH))).all()
        if not rows:
            return
        last = rows[-1].id or last
        yield [_target(archive.config, t) for t in rows]


async def audit(archive: Archive, *, everything: bool = False, progress: Progress | None = None,
                stop: asyncio.Event | None = None, grace: float = 0.0) -> AuditSummary:
    """Check the due targets (or all of them) now; record every result.

    Setting ``stop`` ends the audit early: checks waiting for their turn are dropped
    (their targets stay due), running ones get ``grace`` seconds to answer and are
    recorded; those still running then are cancelled and counted as ``interrupted``.
    Targets added while the audit runs wait for the next one.
    """
    cfg = archive.config
    started = utc_now()
    async with archive.db.session() as session:
        upto = await session.scalar(sa.select(sa.func.max(col(Target.id)))) or 0
        selected = sa.and_(_due(everything=everything, now=started), col(Target.id) <= upto)
        total = await session.scalar(
            sa.select(sa.func.count()).select_from(Target).where(selected)) or 0
    clients = Clients(cfg.network, timeout=cfg.capture.socket_timeout)
    run = _Run(archive, clients, total=total, progress=progress, pool=TaskPool(stop=stop))
    batches = _batches(archive, selected)
    try:
        await run.run(batches)
        await run.close(grace)  # stopped: the checks under way get the grace
    finally:
        try:
            await run.close(0)  # an error, a cancellation: at once (after the above: nothing)
            await batches.aclose()
        finally:
            await clients.aclose()
    summary = run.summary
    if summary.stopped:
        log.warning("audit stopped: %d checked, %d interrupted, %d left for the next audit",
                    summary.checked, summary.interrupted, total - summary.checked)
    return summary


_Check = asyncio.Task[tuple[ProbeTarget, ProbeResult]]


@dataclass(frozen=True, kw_only=True)
class _Change:
    target: ProbeTarget
    result: ProbeResult
    previous: str
    current: str
    at: datetime


class _Run:
    """One audit's checks: at most ``2 * BATCH`` of them as tasks, recorded one at a time."""

    def __init__(self, archive: Archive, clients: Clients, *, total: int,
                 progress: Progress | None, pool: TaskPool) -> None:
        cfg = archive.config
        self.archive, self.clients, self.total, self.progress = archive, clients, total, progress
        self.pool = pool  # the checks, as named tasks; its stop event ends the audit
        self.summary = AuditSummary()
        self.limiter = HostLimiter(cfg.audit.concurrency, cfg.audit.per_host)
        self.rate = RateLimiter(float(cfg.audit.rate), jitter=0.2)
        self.settings = _settings(cfg)
        self.pending: set[_Check] = set()
        self.probing: set[_Check] = set()  # holding a slot: under way
        self.finished: asyncio.Queue[_Check | None] = asyncio.Queue()  # None: stop
        self.deferred: list[_Change] = []  # told once every answer is stored (on a stop)

    async def run(self, batches: AsyncIterator[list[ProbeTarget]]) -> None:
        """Start checks as batches come and record each as it ends, until none is left
        or the stop; then drop the checks waiting for their turn (``close`` gives the
        running ones their grace)."""
        stopped = asyncio.ensure_future(self.pool.stopping.wait())
        stopped.add_done_callback(lambda _: self.finished.put_nowait(None))
        try:
            more = True
            while not self.pool.stopped:
                if more and len(self.pending) < BATCH:
                    batch = await anext(batches, None)
                    more = batch is not None
                    for target in batch or ():
                        if not self.pool.stopped:
                            self._start(target)
                if not self.pending:
                    return
                task = await self.finished.get()
                if task is None:
                    break
                await self._finish(task)
        finally:
            stopped.cancel()
        self.summary.stopped = True
        for task in self.pending - self.probing:
            task.cancel()

    def _start(self, target: ProbeTarget) -> None:
        async def check() -> tuple[ProbeTarget, ProbeResult]:
            async with self.limiter.slot(target.url):  # the probe keeps to the rate itself
                if self.pool.stopped:  # a slot freed after the stop: start nothing new
                    raise asyncio.CancelledError
                self.probing.add(task)
                # a session's client is made, its cookies read, for this probe; a file
                # that cannot be used leaves the target unchecked (the pool logs why)
                async with self.clients.client(target.access) as http:
                    return target, await probe(target, http=http, settings=self.settings,
                                               rate=self.rate)

        task = self.pool.spawn(check(), name=f"check {target.key}")
        task.add_done_callback(self.finished.put_nowait)
        self.pending.add(task)

    async def _finish(self, task: _Check, *, tell: bool = True) -> None:
        if task not in self.pending:
            return
        self.pending.discard(task)
        if task.cancelled():
            if task in self.probing:
                self.summary.interrupted += 1
        elif task.exception() is None:  # a probe bug was logged by the pool: go on
            target, result = task.result()
            await self.pool.record(self._record(target, result, tell=tell),
                                   name=f"record {target.key}")
            if self.progress:
                self.progress(self.summary.checked, self.total, target.key)
        self.probing.discard(task)

    async def _record(self, target: ProbeTarget, result: ProbeResult, *, tell: bool) -> None:
        summary = self.summary
        try:
            change = await _store(self.archive, target, result)
        except (SQLAlchemyError, OSError, PreserverError) as exc:  # refused: say so, go on
            log.error("audit: could not record the check of %s: %s", target.key, exc)
            summary.unrecorded += 1
            return
        summary.checked += 1
        summary.statuses[result.status.value] += 1
        if change is None:
            return
        summary.changed += 1
        if len(summary.changes) < LISTED:
            summary.changes.append((target.key, change.previous, change.current))
        if tell:
            await self._tell(change)
        else:
            self.deferred.append(change)

    async def _tell(self, change: _Change) -> None:
        """The webhook, and the Wayback lookup for a link that went down."""
        try:
            await _notify(self.archive, self.clients.direct, change)
        except (PreserverError, SQLAlchemyError, httpx.HTTPError, OSError) as exc:
            # a notice that failed never undoes the recorded check
            log.error("audit: after %s went %s: %s", change.target.key, change.current, exc)

    async def close(self, grace: float) -> None:
        """Give the checks still running ``grace`` seconds, cancel the rest, store every
        answer, then send the notices (webhook, Wayback) those answers call for."""
        try:
            await self.pool.close(grace)
        finally:
            try:
                for task in list(self.pending):
                    await self._finish(task, tell=False)
            finally:
                self.pending.clear()
                await self.pool.drain_recordings()
        deferred, self.deferred = self.deferred, []
        for change in deferred:
            await self._tell(change)


async def _store(archive: Archive, target: ProbeTarget, result: ProbeResult) -> _Change | None:
    """Record one answer and the next check in one transaction; the change it made."""
    cfg = archive.config
    now = utc_now()
    async with archive.db.session() as session:
        row = await session.scalar(select(Target).where(col(Target.key) == target.key))
        if row is None:  # removed meanwhile
            return None
        outcome = await record_check(
            session, row, status=result.status, message=result.message, probe=result.probe,
            http_status=result.http_status, confirmations=cfg.audit.confirmations,
            confirm_after=cfg.audit.confirm_after, operator=archive.operator, now=now,
            wall=result.wall)
        # a wall is inconclusive whatever its status: asked again within hours
        row.next_check_at = next_check(cfg, row, Status.BOT_CHECK if result.wall
                                       else result.status, now)
    if not outcome.changed:
        return None
    return _Change(target=target, result=result, previous=outcome.previous,
                   current=outcome.current, at=now)


async def _notify(archive: Archive, http: httpx.AsyncClient, change: _Change) -> None:
    url = archive.config.audit.webhook_url
    if url:
        await post_webhook(http, url, {
            "key": change.target.key, "url": change.target.url, "from": change.previous,
            "to": change.current, "at": rfc3339(change.at), "message": change.result.message,
            "probe": change.result.probe})
    if Status(change.current).kind == "down":
        await on_lost(archive, http, change.target.key)
