"""What an audit does when a link changes state: ask the Internet Archive for the
closest snapshot of a lost link, and tell a webhook.

- Wayback: when a target is confirmed down and the archive holds no complete capture
  of it, the availability API (``[probes.wayback] url``) is asked for the closest
  snapshot; a snapshot found is recorded as a custody event and queued for capture
  (yt-dlp and the page snapshot both handle web.archive.org URLs).
- Webhook: ``[audit] webhook_url``, when set, receives a JSON POST per state change,
  retried with backoff; a webhook that stays down is logged, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from sqlmodel import col, select

from preserver.archive import Archive
from preserver.custody.events import EventAction, record_event
from preserver.db import queue
from preserver.db.models import Capture, Target, utc_now
from workers import WorkerError, host_group

log = logging.getLogger(__name__)

WEBHOOK_TRIES = 3


async def closest_snapshot(http: httpx.AsyncClient, api: str, url: str) -> dict[str, str] | None:
    """The Wayback Machine's closest snapshot of ``url``: {"url", "timestamp", "status"}."""
    try:
        response = await http.get(api, params={"url": url})
        data: Any = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, WorkerError, ValueError) as exc:
        log.warning("wayback lookup of %s failed: %s", url, exc)
        return None
    closest = (data or {}).get("archived_snapshots", {}).get("closest") if isinstance(
        data, dict) else None
    if not isinstance(closest, dict) or not closest.get("available") or not isinstance(
            closest.get("url"), str):
        return None
    return {k: str(closest.get(k, "")) for k in ("url", "timestamp", "status")}


async def on_lost(archive: Archive, http: httpx.AsyncClient, target_key: str) -> str | None:
    """A confirmed-down target without a complete capture: find and queue a snapshot."""
    from preserver.ingest.targets import canonical_target  # the ingest side's URL rules

    async with archive.db.session() as session:
        target = await session.scalar(select(Target).where(col(Target.key) == target_key))
        if target is None or await session.scalar(select(Capture.id).where(
                col(Capture.target_id) == target.id, col(Capture.state) == "complete")):
            return None
        url = target.url
    snapshot = await closest_snapshot(http, archive.config.probes.wayback_url, url)
    if snapshot is None:
        return None
    found = canonical_target(snapshot["url"])
    async with archive.db.session() as session:
        row = await session.scalar(select(Target).where(col(Target.key) == found.key))
        if row is None:
            row = Target(key=found.key, url=found.url, platform=found.platform,
                         created_at=utc_now(), next_check_at=None)
            session.add(row)
            await session.flush()
        assert row.id is not None
        await queue.enqueue(session, target_id=row.id, host=host_group(found.url))
        await record_event(session, action=EventAction.SNAPSHOT_FOUND, subject=target_key,
                           operator=archive.operator,
                           details={"snapshot": snapshot, "queued_as": found.key})
    return found.key


async def post_webhook(http: httpx.AsyncClient, url: str, payload: dict[str, Any], *,
                       delay: float = 2.0) -> bool:
    """POST ``payload`` as JSON; retried with backoff. True when the hook took it."""
    for attempt in range(WEBHOOK_TRIES):
        try:
            response = await http.post(url, json=payload)
            if response.status_code < 300:
                return True
            problem = f"HTTP {response.status_code}"
        except (httpx.HTTPError, WorkerError) as exc:
            problem = str(exc)
        log.warning("webhook %s (try %d of %d): %s", url, attempt + 1, WEBHOOK_TRIES, problem)
        if attempt + 1 < WEBHOOK_TRIES:
            await asyncio.sleep(delay * 2**attempt)
    return False
