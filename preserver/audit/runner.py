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
- Recording: answers are stored in batches, one transaction for ``commit_every``
  answers (``COMMIT_EVERY``) or for those of ``COMMIT_SECONDS``, whichever comes first
  (``availability.record_answers``: one multi-row insert of the checks, one multi-row
  update of the targets, no ORM object per check; events for state changes only). A
  transaction per check cost more than the probe itself; a crash loses at most the
  answers not yet committed, and their targets keep their ``next_check_at``, so they
  stay due. Webhooks and Wayback lookups follow the commit of their answer. A batch the
  database refuses is stored again one answer at a time, so only a refused answer is
  lost (``unrecorded``).
- Stopping (``stop``, set by ``preserver serve`` on SIGTERM): no new check starts,
  running checks get ``grace`` seconds and are recorded (``TaskPool.close``), with
  every answer still waiting for its batch; every target not checked keeps its
  ``next_check_at``, so the next audit picks it up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from preserver.archive import Archive
from preserver.audit.availability import Answer, TargetState, record_answers, target_states
from preserver.audit.notify import on_lost, post_webhook
from preserver.audit.schedule import next_check
from preserver.concurrency import TaskPool
from preserver.config import Config
from preserver.custody.events import rfc3339
from preserver.db.models import Target, core_table, utc_now
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
_TARGETS = core_table(Target)
COMMIT_EVERY = 200  # answers per transaction at most
COMMIT_SECONDS = 0.5  # an answer waits at most this long for its transaction
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


JITTER = 0.2  # seconds at most, and the share of a group's interval


def jitter(rate: float) -> float:
    """A probe's longest random wait after its turn (``RateLimiter``'s jitter), so that a
    group's probes do not come in lockstep: a fifth of its interval, at most 0.2 s (0.2 s
    at the default 1/s). A fixed 0.2 s held an unthrottled audit to about 640 checks/s."""
    return min(JITTER, JITTER / rate)


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


def _target(config: Config, key: str, url: str, platform: str) -> ProbeTarget:
    """The probe of a target, with its group's access for probes (``audit = false``:
    anonymous)."""
    access = access_for(config, host_group(url)).for_probes()
    return ProbeTarget(key=key, url=url, platform=platform, access=access)


async def _batches(archive: Archive, selected: ColumnElement[bool]
                   ) -> AsyncGenerator[list[ProbeTarget], None]:
    """The ``selected`` targets, ``BATCH`` at a time, in id order (keyset paging: a target
    checked meanwhile, whose ``next_check_at`` moved, is neither skipped nor read twice);
    read as columns, not ORM rows (an ORM object a target cost an audit more than its
    probe's own code)."""
    last = 0
    t = _TARGETS.c
    while True:
        async with archive.db.session() as session:
            rows = (await session.execute(
                sa.select(t.id, t.key, t.url, t.platform).where(t.id > last, selected)
                .order_by(t.id).limit(BATCH))).all()
        if not rows:
            return
        last = rows[-1].id
        yield [_target(archive.config, r.key, r.url, r.platform) for r in rows]


async def audit(archive: Archive, *, everything: bool = False, progress: Progress | None = None,
                stop: asyncio.Event | None = None, grace: float = 0.0,
                commit_every: int = COMMIT_EVERY) -> AuditSummary:
    """Check the due targets (or all of them) now; record every result, ``commit_every``
    answers (or those of ``COMMIT_SECONDS``) per transaction (1: one per check).

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
    run = _Run(archive, clients, total=total, progress=progress, pool=TaskPool(stop=stop),
               commit_every=max(1, commit_every))
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
    """One audit's checks: at most ``2 * BATCH`` of them as tasks, their answers recorded
    ``commit_every`` (or ``COMMIT_SECONDS``' worth) per transaction."""

    def __init__(self, archive: Archive, clients: Clients, *, total: int,
                 progress: Progress | None, pool: TaskPool, commit_every: int) -> None:
        cfg = archive.config
        self.archive, self.clients, self.total, self.progress = archive, clients, total, progress
        self.pool = pool  # the checks, as named tasks; its stop event ends the audit
        self.commit_every = commit_every
        self.summary = AuditSummary()
        self.limiter = HostLimiter(cfg.audit.concurrency, cfg.audit.per_host)
        self.rate = RateLimiter(float(cfg.audit.rate), jitter=jitter(float(cfg.audit.rate)))
        self.settings = _settings(cfg)
        self.pending: set[_Check] = set()
        self.probing: set[_Check] = set()  # holding a slot: under way
        self.finished: asyncio.Queue[_Check | None] = asyncio.Queue()  # None: stop
        self.answers: list[_Answered] = []  # answers waiting for their transaction
        self.commit_by = 0.0  # loop time by which the first of them is committed
        self.deferred: list[_Change] = []  # told once every answer is stored (on a stop)

    async def run(self, batches: AsyncIterator[list[ProbeTarget]]) -> None:
        """Start checks as batches come and record each as it ends, until none is left
        or the stop; then drop the checks waiting for their turn (``close`` gives the
        running ones their grace and commits the answers still waiting)."""
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
                    await self._commit()
                    return
                try:
                    async with asyncio.timeout_at(self.commit_by if self.answers else None):
                        task = await self.finished.get()
                except TimeoutError:  # the oldest answer waited COMMIT_SECONDS
                    await self._commit()
                    continue
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
            if not self.answers:
                self.commit_by = asyncio.get_running_loop().time() + COMMIT_SECONDS
            self.answers.append(_Answered(target=target, result=result, at=utc_now()))
            if len(self.answers) >= self.commit_every:
                await self._commit(tell=tell)
        self.probing.discard(task)

    async def _commit(self, *, tell: bool = True) -> None:
        """Store the waiting answers in one transaction (``pool.record``: to the end even
        if the audit is cancelled meanwhile), then count, report and tell each."""
        answers, self.answers = self.answers, []
        if not answers:
            return
        stored = await self.pool.record(self._store(answers),
                                        name=f"record {len(answers)} checks")
        summary = self.summary
        for answered, change in zip(answers, stored, strict=True):
            if change is _REFUSED:
                summary.unrecorded += 1
                continue
            summary.checked += 1
            summary.statuses[answered.result.status.value] += 1
            if self.progress:
                self.progress(summary.checked, self.total, answered.target.key)
            if not isinstance(change, _Change):
                continue
            summary.changed += 1
            if len(summary.changes) < LISTED:
                summary.changes.append((answered.target.key, change.previous, change.current))
            if tell:
                await self._tell(change)
            else:
                self.deferred.append(change)

    async def _store(self, answers: list[_Answered]) -> list[_Change | None | _Refused]:
        """All of ``answers`` in one transaction or, if the database refuses it, one
        transaction each: only an answer refused on its own is lost (and logged)."""
        try:
            return list(await _store(self.archive, answers))
        except (SQLAlchemyError, OSError, PreserverError) as exc:
            if len(answers) == 1:
                log.error("audit: could not record the check of %s: %s",
                          answers[0].target.key, exc)
                return [_REFUSED]
            log.debug("audit: a batch of %d checks refused; one at a time", len(answers),
                      exc_info=True)
        return [stored for answered in answers for stored in await self._store([answered])]

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
                await self._commit(tell=False)
            finally:
                self.pending.clear()
                await self.pool.drain_recordings()
        deferred, self.deferred = self.deferred, []
        for change in deferred:
            await self._tell(change)


@dataclass(frozen=True, kw_only=True)
class _Answered:
    target: ProbeTarget
    result: ProbeResult
    at: datetime  # when the answer came: the check's time


class _Refused:
    """The database refused to store this answer (its target stays due)."""


_REFUSED = _Refused()


async def _store(archive: Archive, answers: Sequence[_Answered]) -> list[_Change | None]:
    """Record ``answers`` (of distinct targets) and their next checks in one transaction;
    the change each made (None: none, or its target was removed meanwhile)."""
    cfg = archive.config

    def then(row: TargetState, answer: Answer) -> datetime:
        # a wall is inconclusive whatever its status: asked again within hours
        return next_check(cfg, row, Status.BOT_CHECK if answer.wall else answer.status,
                          answer.at)

    async with archive.db.session() as session:
        rows = await target_states(session, [a.target.key for a in answers])
        outcomes = iter(await record_answers(
            session, [(rows[a.target.key], _answer(a)) for a in answers if a.target.key in rows],
            next_check=then, confirmations=cfg.audit.confirmations,
            confirm_after=cfg.audit.confirm_after, operator=archive.operator))
    changes: list[_Change | None] = []
    for a in answers:
        outcome = next(outcomes) if a.target.key in rows else None
        changes.append(None if outcome is None or not outcome.changed else _Change(
            target=a.target, result=a.result, previous=outcome.previous,
            current=outcome.current, at=a.at))
    return changes


def _answer(answered: _Answered) -> Answer:
    r = answered.result
    return Answer(status=r.status, message=r.message, probe=r.probe, at=answered.at,
                  http_status=r.http_status, wall=r.wall)


async def _notify(archive: Archive, http: httpx.AsyncClient, change: _Change) -> None:
    url = archive.config.audit.webhook_url
    if url:
        await post_webhook(http, url, {
            "key": change.target.key, "url": change.target.url, "from": change.previous,
            "to": change.current, "at": rfc3339(change.at), "message": change.result.message,
            "probe": change.result.probe})
    if Status(change.current).kind == "down":
        await on_lost(archive, http, change.target.key)
