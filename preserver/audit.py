"""Availability audits: re-check cited links on a schedule, record every answer.

- Which targets: those whose ``next_check_at`` has come (``preserver audit``), or all
  (``--all``). They are read in batches, so an audit of any size runs in bounded memory.
- Probes (``workers.probe``) run concurrently under a global limit, a per-group limit
  and a per-group request rate (``[audit]`` settings); 429s and bot checks back the
  group off. Every answer is a row; the state changes only as
  ``preserver.availability`` allows (inconclusive never; down only after
  ``confirmations`` spaced ``confirm_after`` apart).
- The next check: soon after a down result (to confirm it), often for targets new or
  changed within ``audit.recent``, rarely for stable ones; each target's slot within
  the interval is fixed by a hash of its key, so checks spread over the day instead of
  arriving together.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlmodel import col, select

from preserver.app import Archive
from preserver.availability import record_check
from preserver.config import Config
from preserver.events import rfc3339
from preserver.models import Target, utc_now
from preserver.notify import on_lost, post_webhook
from workers import HostLimiter, Limits, RateLimiter, Status, make_client
from workers.probes import ProbeResult, ProbeSettings, ProbeTarget, probe

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(kw_only=True)
class AuditSummary:
    checked: int = 0
    changed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # key, from, to


Progress = Callable[[int, int, str], None]  # done, total, current key


def next_check(config: Config, target: Target, result: Status, now: datetime) -> datetime:
    """When to check ``target`` again after ``result``."""
    audit = config.audit
    if result.kind == "down" and target.status != result.value:
        interval = audit.confirm_after  # confirm (or refute) a fresh down result
    elif result.kind == "inconclusive":
        interval = min(audit.interval_recent, 6 * 3600.0)  # try again soon
    else:
        changed = target.status_since or target.created_at
        recent = (now - changed).total_seconds() < audit.recent
        interval = audit.interval_recent if recent else audit.interval_stable
    # a fixed slot per key in the second half of the interval spreads checks evenly
    slot = int.from_bytes(hashlib.sha256(target.key.encode()).digest()[:4], "big") / 2**32
    return now + timedelta(seconds=interval * (0.5 + 0.5 * slot))


def _settings(config: Config) -> ProbeSettings:
    return ProbeSettings(
        oembed_url=config.probes.youtube_oembed_url,
        limits=Limits(max_bytes=1 << 20, timeout_seconds=max(60.0, config.capture.socket_timeout),
                      socket_timeout_seconds=config.capture.socket_timeout),
        allow_private=config.network.allow_private,
        allow_networks=config.network.allow_networks,
    )


async def _due_ids(archive: Archive, *, everything: bool, now: datetime) -> list[int]:
    async with archive.db.session() as session:
        query = select(Target.id).order_by(col(Target.next_check_at), col(Target.id))
        if not everything:
            query = query.where(col(Target.next_check_at) <= now)
        return [i for i in (await session.scalars(query)).all() if i is not None]


async def audit(archive: Archive, *, everything: bool = False,
                progress: Progress | None = None) -> AuditSummary:
    """Check the due targets (or all of them) now; record every result."""
    cfg = archive.config
    summary = AuditSummary()
    ids = await _due_ids(archive, everything=everything, now=utc_now())
    limiter = HostLimiter(cfg.audit.concurrency, cfg.audit.per_host)
    rate = RateLimiter(float(cfg.audit.rate), jitter=0.2)
    settings = _settings(cfg)
    net = cfg.network
    async with make_client(allow_private=net.allow_private, allow_networks=net.allow_networks,
                           timeout=cfg.capture.socket_timeout,
                           max_redirects=net.max_redirects) as http:

        async def one(target: ProbeTarget) -> tuple[ProbeTarget, ProbeResult]:
            async with limiter.slot(target.url):  # the probe itself keeps to the rate
                return target, await probe(target, http=http, settings=settings, rate=rate)

        for start in range(0, len(ids), BATCH):
            async with archive.db.session() as session:
                rows = (await session.scalars(select(Target).where(
                    col(Target.id).in_(ids[start:start + BATCH])))).all()
                batch = [ProbeTarget(key=t.key, url=t.url, platform=t.platform) for t in rows]
            for finished in asyncio.as_completed([one(t) for t in batch]):
                target, result = await finished
                await _record(archive, http, target, result, summary)
                if progress:
                    progress(summary.checked, len(ids), target.key)
    return summary


async def _record(archive: Archive, http: httpx.AsyncClient, target: ProbeTarget,
                  result: ProbeResult, summary: AuditSummary) -> None:
    cfg = archive.config
    now = utc_now()
    async with archive.db.session() as session:
        row = await session.scalar(select(Target).where(col(Target.key) == target.key))
        if row is None:  # removed meanwhile
            return
        outcome = await record_check(
            session, row, status=result.status, message=result.message, probe=result.probe,
            http_status=result.http_status, confirmations=cfg.audit.confirmations,
            confirm_after=cfg.audit.confirm_after, operator=archive.operator, now=now)
        row.next_check_at = next_check(cfg, row, result.status, now)
    summary.checked += 1
    summary.statuses[result.status.value] += 1
    if outcome.changed:
        summary.changed += 1
        summary.changes.append((target.key, outcome.previous, outcome.current))
        if cfg.audit.webhook_url:
            await post_webhook(http, cfg.audit.webhook_url, {
                "key": target.key, "url": target.url, "from": outcome.previous,
                "to": outcome.current, "at": rfc3339(now), "message": result.message,
                "probe": result.probe})
        if Status(outcome.current).kind == "down":
            await on_lost(archive, http, target.key)
