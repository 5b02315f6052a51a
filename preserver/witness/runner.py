"""The witness run: each queued ``witness`` job's URL submitted to Save Page Now, one at
a time, and the snapshot recorded as a ``witness_saved`` custody event.

docs/design.md "Independent witness". A capture recorded while ``[witness]
save_page_now`` is on queues a ``witness`` job for its target
(``preserver.capture.record``); this runner, started beside the capture run
(``preserver.capture.run.run_jobs``), takes them. It never touches a capture:

- one Save Page Now request at a time, ``interval`` apart; a 429's Retry-After holds
  back every waiting witness job (``queue.defer``);
- a refusal, an outage, a job still pending after ``poll_timeout`` (``WitnessFailed``)
  is the job's ``last_error``; the job waits ``retry_delay`` (doubling, at most a day,
  at least the Retry-After) and fails after ``max_attempts``, or at once when the
  Archive refuses the URL for good. ``show`` shows the job's state and error;
- any other exception is logged and handled as a transient failure: the witness is
  never fatal to the run.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from preserver.archive import Archive
from preserver.concurrency import sleep_or_stop
from preserver.config import Config
from preserver.custody.events import EventAction, record_event
from preserver.db import queue
from preserver.db.models import JobState, utc_now
from preserver.db.queue import ClaimedJob
from preserver.errors import PreserverError, WitnessFailed
from preserver.net import http_client
from preserver.witness.spn import Snapshot, keys_from_env, save

log = logging.getLogger(__name__)
T = TypeVar("T")

HOST = "web.archive.org"  # the politeness group of witness jobs
MAX_DELAY = 86400.0
MAX_WAIT = 120.0  # the run waits for witness jobs due within this; later ones wait for the next


@dataclass(kw_only=True)
class WitnessSummary:
    saved: int = 0
    retrying: int = 0
    failed: int = 0


def backoff(config_delay: float, attempts: int, retry_after: float | None) -> float:
    """Seconds before the next try: ``retry_delay`` doubling per attempt, at most a day,
    never sooner than the server's Retry-After."""
    delay = min(config_delay * 2.0 ** max(0, attempts - 1), MAX_DELAY)
    return max(delay, retry_after or 0.0)


async def queue_witness(session: AsyncSession, config: Config, *, target_id: int,
                        url: str) -> bool:
    """Queue the witness of a target just captured, when ``[witness] save_page_now`` is on
    (inside the caller's transaction). The Archive's own pages are not sent back to it.
    True when a job was queued (none of the target's was waiting)."""
    if not config.witness.save_page_now or httpx.URL(url).host == HOST:
        return False
    return await queue.enqueue(session, target_id=target_id, host=HOST, kind=queue.WITNESS)


class WitnessRunner:
    """Takes due ``witness`` jobs one by one until none is due within ``max_wait`` after
    ``captures_done`` is set (captures may still queue more until then), or ``stop``."""

    def __init__(self, archive: Archive, *, stop: asyncio.Event | None = None,
                 env: Mapping[str, str] | None = None, max_wait: float = MAX_WAIT) -> None:
        self.archive, self.max_wait = archive, max_wait
        self.stop = stop or asyncio.Event()
        self.env = os.environ if env is None else env
        self.summary = WitnessSummary()

    async def run(self, captures_done: asyncio.Event) -> WitnessSummary:
        cfg = self.archive.config
        async with http_client(cfg.network, timeout=cfg.capture.socket_timeout) as http:
            while not self.stop.is_set():
                async with self.archive.db.session() as session:
                    claimed = await queue.claim(session, kind=queue.WITNESS)
                if claimed is None:
                    if not await self._wait(captures_done):
                        break
                    continue
                retry_after = await self._process(http, claimed)
                if retry_after is not None and retry_after > self.max_wait:
                    break  # the service asks for a longer pause: the next run goes on
                await sleep_or_stop(self.stop, max(cfg.witness.interval, retry_after or 0.0))
        return self.summary

    async def _wait(self, captures_done: asyncio.Event) -> bool:
        """Wait for the next witness job; False when there is none to wait for."""
        if not captures_done.is_set():  # a capture may queue one any moment
            await sleep_or_stop(self.stop, 1.0)
            return True
        async with self.archive.db.session() as session:
            due = await queue.next_due(session, kind=queue.WITNESS)
        if due is None or (due - utc_now()).total_seconds() > self.max_wait:
            return False
        await sleep_or_stop(self.stop, max(0.0, (due - utc_now()).total_seconds()) + 0.05)
        return True

    async def _process(self, http: httpx.AsyncClient, claimed: ClaimedJob) -> float | None:
        """Witness one job and record the outcome; returns a Retry-After to honour."""
        cfg = self.archive.config
        failure: WitnessFailed | None = None
        snapshot: Snapshot | None = None
        try:
            keys = keys_from_env(self.env)
            deadline = cfg.witness.poll_timeout + cfg.witness.poll_interval \
                + 4 * cfg.capture.socket_timeout
            snapshot = await asyncio.wait_for(
                save(http, cfg.witness, keys, claimed.url), timeout=deadline)
        except WitnessFailed as exc:
            failure = exc
        except TimeoutError:
            failure = WitnessFailed("Save Page Now took too long to answer")
        except Exception as exc:  # never fatal: recorded and retried like an outage
            log.exception("witness of %s failed unexpectedly", claimed.target_key)
            failure = WitnessFailed(f"{type(exc).__name__}: {exc}")
        await asyncio.shield(self._record(claimed, snapshot, failure))
        return failure.retry_after if failure is not None else None

    async def _record(self, claimed: ClaimedJob, snapshot: Snapshot | None,
                      failure: WitnessFailed | None) -> None:
        try:
            async with self.archive.db.session() as session:
                if snapshot is not None:
                    await queue.finish(session, claimed.id, state=JobState.DONE)
                    await record_event(session, action=EventAction.WITNESS_SAVED,
                                       subject=claimed.target_key,
                                       operator=self.archive.operator,
                                       details=snapshot.as_details(claimed.url))
                    self.summary.saved += 1
                    log.info("witness of %s: %s", claimed.target_key, snapshot.url)
                    return
                assert failure is not None
                await self._failed(session, claimed, failure)
        except PreserverError as exc:  # the database is unusable: requeue_stale brings it back
            log.error("witness of %s not recorded: %s", claimed.target_key, exc)

    async def _failed(self, session: AsyncSession, claimed: ClaimedJob,
                      failure: WitnessFailed) -> None:
        cfg = self.archive.config.witness
        message = str(failure)
        log.warning("witness of %s (attempt %d): %s", claimed.target_key, claimed.attempts,
                    message)
        if failure.retry_after:
            await queue.defer(session, kind=queue.WITNESS,
                              until=utc_now() + timedelta(seconds=failure.retry_after))
        if not failure.transient or claimed.attempts >= cfg.max_attempts:
            if failure.transient:
                message = f"gave up after {claimed.attempts} attempts: {message}"
            await queue.finish(session, claimed.id, state=JobState.FAILED,
                               error=message)
            self.summary.failed += 1
            return
        await queue.finish(session, claimed.id, state=JobState.QUEUED,
                           error=message,
                           retry_in=backoff(cfg.retry_delay, claimed.attempts, failure.retry_after))
        self.summary.retrying += 1


async def run_witness(archive: Archive, *, stop: asyncio.Event | None = None,
                      captures_done: asyncio.Event | None = None,
                      env: Mapping[str, str] | None = None,
                      max_wait: float = MAX_WAIT) -> WitnessSummary:
    """Witness the due ``witness`` jobs (see ``WitnessRunner``); with ``captures_done``
    unset, also those queued until it is set."""
    done = captures_done or asyncio.Event()
    if captures_done is None:
        done.set()
    return await WitnessRunner(archive, stop=stop, env=env, max_wait=max_wait).run(done)


async def alongside(archive: Archive, captures: Awaitable[T], *, stop: asyncio.Event,
                    max_wait: float = MAX_WAIT) -> tuple[T, WitnessSummary | None]:
    """Await ``captures`` (a capture run) with the witness runner beside it when ``[witness]
    save_page_now`` is on; the witness goes on after the captures while its jobs are due
    within ``max_wait``. A capture run that fails or is cancelled takes the witness with
    it; a witness that fails is logged, never the run's failure (its summary is then
    None, as when the witness is off)."""
    if not archive.config.witness.save_page_now:
        return await captures, None
    captures_done = asyncio.Event()
    witness = asyncio.create_task(run_witness(archive, stop=stop, captures_done=captures_done,
                                              max_wait=max_wait), name="witness")
    try:
        result = await captures
    except BaseException:
        witness.cancel()
        await asyncio.gather(witness, return_exceptions=True)
        raise
    captures_done.set()
    try:
        return result, await witness
    except Exception:  # never fatal to the run
        log.exception("the witness run failed")
        return result, None
