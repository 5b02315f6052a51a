"""What ``run`` and ``preserve`` do once their reports are in: capture, then checkpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console

from preserver.cli import render

if TYPE_CHECKING:
    from preserver.archive import Archive

__all__ = ["run_queued"]


async def run_queued(err: Console, archive: Archive) -> Any:
    """Capture what is queued (progress on ``err``), then checkpoint the custody ledger."""
    from preserver import views
    from preserver.capture.run import run_jobs
    from preserver.custody.ledger import make_checkpoint

    async with archive.db.reader() as reader:
        total = await views.jobs_to_run(reader)
    summary = await render.with_run_progress(err, archive, total, run_jobs)
    render.checkpoint_result(err, await make_checkpoint(archive))
    return summary
