"""What the run pages and ``/api/runs`` share: starting a run, listing runs, one run's
progress.

A run is either one this web process started (``launcher``: who started it, when, its
status and its log) or a row of the ``runs`` table (any ``preserver run``, ``serve`` or
``worker`` capturing now, or that ended while jobs still name it). Both have 32-hex ids;
``/runs/{id}`` looks among this process's first.
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING, Any

from preserver.errors import RunError, UnknownKey
from preserver.web.context import web_state
from preserver.web.errors import WebError, server_error
from preserver.web.launcher import Launcher, RunBusy, WebRun, log_tail

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request

    from preserver.accounts.roles import Principal

_SHA256 = re.compile(r"[0-9a-f]{64}")
_RUN_ID = re.compile(r"[0-9a-f]{32}")


def launcher(request: Request) -> Launcher:
    """The app's launcher, made on first use."""
    state = request.app.state
    found: Launcher | None = getattr(state, "launcher", None)
    if found is None:
        found = state.launcher = Launcher(web_state(request).config)
    return found


async def stop_runs(app: FastAPI) -> None:
    """Stop the runs this app started that are still going (the app is stopping)."""
    found: Launcher | None = getattr(app.state, "launcher", None)
    if found is not None:
        await found.stop()


async def start(request: Request, principal: Principal, report: str | None) -> WebRun:
    """A new run in ``principal``'s name, watching ``report`` (a SHA-256) if given."""
    from preserver.views.progress import capture_progress

    report = (report or "").strip().lower() or None
    if report is not None:
        if not _SHA256.fullmatch(report):
            raise WebError(400, "the report to watch must be given by its SHA-256 "
                                "(64 hex digits)")
        try:
            async with web_state(request).archive.db.reader() as reader:
                await capture_progress(reader, report=report)
        except UnknownKey as exc:
            raise WebError(400, str(exc)) from exc
    try:
        return await launcher(request).start(operator=principal.operator, report=report)
    except RunBusy as exc:
        raise WebError(409, str(exc)) from exc
    except RunError as exc:  # the child cannot be started, or not with this configuration
        if isinstance(exc.__cause__, OSError):
            raise server_error(exc, "the run cannot be started") from exc
        raise WebError(500, str(exc)) from exc  # launcher's own words: no path in them


async def listing(request: Request) -> dict[str, Any]:
    """This process's runs and the ``runs`` table, the former marked on the latter."""
    from preserver.views.progress import capture_runs

    ours = launcher(request).runs()
    host = socket.gethostname()
    by_pid = {r.pid: r for r in ours}
    async with web_state(request).archive.db.reader() as reader:
        table = await capture_runs(reader)
    for row in table:
        mine = by_pid.get(row["pid"]) if row["host"] == host else None
        row["web_run"] = mine.id if mine is not None else None
    return {"web_runs": [r.as_dict() for r in ours], "runs": table}


async def detail(request: Request, run_id: str) -> dict[str, Any]:
    """One run and the progress of what it watches (its report, else every target);
    ``refresh``: whether it is still going, so that its page reloads itself."""
    from preserver.views.progress import capture_progress, capture_runs

    if not _RUN_ID.fullmatch(run_id):
        raise WebError(404, "no such run")
    mine = launcher(request).get(run_id)
    async with web_state(request).archive.db.reader() as reader:
        if mine is not None:
            progress = await _progress(reader, mine.report)
            return {"run": mine.as_dict(), "web": True, "progress": progress,
                    "refresh": mine.status == "running", "log": log_tail(mine)}
        row = next((r for r in await capture_runs(reader) if r["id"] == run_id), None)
        if row is None:
            raise WebError(404, f"no run {run_id}: runs that ended with no job naming them "
                                "are forgotten, and runs started from the web are known "
                                "only to the web server that started them")
        progress = await capture_progress(reader, report=None)
    row["status"] = "running" if row["ended_at"] is None else "ended"
    return {"run": row, "web": False, "progress": progress,
            "refresh": row["ended_at"] is None, "log": ""}


async def _progress(reader: Any, report: str | None) -> dict[str, Any]:
    from preserver.views.progress import capture_progress

    try:
        return await capture_progress(reader, report=report)
    except UnknownKey:  # not possible for a report checked at the start; say all instead
        return await capture_progress(reader, report=None)
