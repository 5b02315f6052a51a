"""Text from reports and platforms is printed as written, never read as rich markup:
a label like "[/]" or "[bold]" must neither crash a command nor change the output."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from preserver.cli import render, render_show

HOSTILE = "[/] [bold]الضحية[/bold] [link=http://x]y[/link]"


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=400, color_system=None), buf


def _item() -> dict[str, Any]:
    return {
        "key": "web:https://example.org/[x]", "url": "https://example.org/[x]",
        "status": "available", "status_since": None,
        "citations": [{"report": "r[/].txt", "line": 3, "label": HOSTILE, "raw_url": "u[/]"}],
        "captures": [{"id": "c", "state": "failed", "status": "not_found", "finished_at": "t",
                      "manifest_sha256": "m", "message": HOSTILE, "seen_as": f"session {HOSTILE}",
                      "files": [{"role": "page", "sha256": "s", "size": 1, "name": "n[/]",
                                 "media_type": "x"}]}],
        "checks": [{"checked_at": "t", "probe": "page", "status": "not_found",
                    "message": HOSTILE}],
        "events": [], "last_check": {"status": "not_found", "message": HOSTILE},
        "job": None,
    }


def test_show_links_and_lookup_print_hostile_text_literally() -> None:
    console, buf = _console()
    render_show.show(console, _item())
    render.links_table(console, [_item()])
    render.lookup(console, [{"file": "clip[/].mp4", "sha256": "s", "matches": [{
        "name": "n", "target": "t[/]", "captured_at": "t", "capture_id": "c",
        "manifest_sha256": "m", "citations": _item()["citations"]}]}])
    out = buf.getvalue()
    assert out.count(HOSTILE) >= 5 and f"seen as: session {HOSTILE}" in out, out


def test_ingest_and_verify_lines_print_hostile_text_literally() -> None:
    console, buf = _console()
    render.ingest_result(console, SimpleNamespace(
        already_ingested=False, report="r[/].txt", citations=1, targets=1, new_targets=1,
        queued=1, skipped=[SimpleNamespace(line=1, raw_url="http://[/]", reason=HOSTILE)],
        skipped_count=1))
    render.verify_result(console, [SimpleNamespace(outcome="failed", subject="blob [/]",
                                                   check="fixity", detail=HOSTILE)])
    out = buf.getvalue()
    assert "r[/].txt" in out and out.count(HOSTILE) == 2, out


def test_status_says_which_groups_are_paused_and_why() -> None:
    console, buf = _console()
    message = "youtube paused until 2026-11-26 19:40 UTC, 3 bot checks in a row"
    render.status(console, {
        "reports": 0, "citations": 0, "targets": {}, "availability": {}, "captures": {},
        "jobs": {}, "files": 0, "bytes": 0,
        "ledger": {"events": 0, "checkpoint": None, "timestamps": 0,
                   "timestamps_pending_for": []},
        "paused": [{"group": "youtube", "message": message},
                   {"group": "[/]", "message": f"{HOSTILE} paused until …"}]})
    out = buf.getvalue()
    assert message in out
    assert f"{HOSTILE} paused until" in out  # a web host's name printed as written


async def _events(on_event: Any) -> None:
    from preserver.capture.run import JobEvent
    from workers.types import CaptureResult, CaptureState, Status

    done = CaptureResult(state=CaptureState.COMPLETE, status=Status.AVAILABLE, message="")
    lost = CaptureResult(state=CaptureState.FAILED, status=Status.NOT_FOUND, message=HOSTILE)
    for key, result in (("web:https://example.org/a", done), ("web:https://example.org/[b]", lost)):
        on_event(JobEvent(job_id=1, target_key=key))
        on_event(JobEvent(job_id=1, target_key=key, result=result))


async def test_run_progress_prints_a_line_per_finished_target_when_not_a_terminal() -> None:
    """A log or a pipe gets one line per target as soon as its result is recorded (the
    bar shows only at the end there); a terminal gets the bar alone."""
    console, buf = _console()
    await render.with_run_progress(console, None, 2,  # type: ignore[arg-type]
                                   lambda archive, progress: _events(progress))
    lines = buf.getvalue().splitlines()
    assert "  web:https://example.org/a: captured" in lines
    assert f"  web:https://example.org/[b]: failed: not_found: {HOSTILE}" in lines

    terminal = io.StringIO()
    await render.with_run_progress(Console(file=terminal, width=400, force_terminal=True), None,
                                   2, lambda archive, progress: _events(progress))  # type: ignore[arg-type]
    assert ": captured" not in terminal.getvalue()
