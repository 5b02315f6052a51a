"""``preserver worker``: registered on the one ``app`` of ``commands`` (kept apart, as
that module is at its size), with its one line per finished job."""

from __future__ import annotations

from typing import Any

from preserver.cli.commands import _collecting, app, err
from preserver.cli.options import OperatorOpt


@app.command()
def worker(operator: OperatorOpt = None) -> None:
    """Capture queued jobs as they come, until SIGTERM: any number of workers, on any
    machines, on one PostgreSQL database (\\[queue], docs/deploy.md)."""
    config = _collecting(operator)
    import asyncio

    from preserver.worker import work

    asyncio.run(work(config, progress=_job_line))


def _job_line(event: Any) -> None:
    """``<target key>: <state> <status>`` per finished job; a recovered run's message."""
    from preserver.capture.run import JobEvent

    if not isinstance(event, JobEvent):
        err.print(event.message, highlight=False, markup=False)
    elif event.result is not None:
        again = f" (again in {event.retry_in:.0f} s)" if event.retry_in is not None else ""
        err.print(f"{event.target_key}: {event.result.state.value} "
                  f"{event.result.status.value}{again}", highlight=False, markup=False)
