"""``preserver worker``: a long-running capture worker.

Any number of workers, on any number of machines, share one database (PostgreSQL; see
docs/deploy.md) and one blob store. Each is a ``CaptureWorker`` run ``forever``: it
claims due capture jobs (``FOR UPDATE SKIP LOCKED``), holds a lease on each and renews
it while working, takes over the jobs whose lease passed, records each result only
while its claim still holds (the attempt is the fencing token), and when the queue is
empty waits for ``NOTIFY`` of a new job (``preserver.db.notify``) instead of polling.
The schedules (audits, checkpoints, fixity) stay with ``preserver serve``.

On SQLite (one machine) a worker works too; with no ``LISTEN`` there it looks for new
jobs every ``[queue] poll``. A worker never creates an archive: the data directory
must hold the archive's signing key (``keys/signing.key``, copied to every machine),
so that every manifest is signed with the one key the archive's ledger names.

SIGTERM or SIGINT stops claiming; running captures get ``[serve] grace`` seconds and
are recorded (or go back to the queue), then the worker exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from preserver.archive import Access, open_archive
from preserver.capture.run import CaptureWorker, Progress, RunSummary
from preserver.config import Config

log = logging.getLogger(__name__)


async def work(config: Config, *, progress: Progress | None = None,
               ready: Callable[[CaptureWorker], None] | None = None) -> RunSummary:
    """Capture jobs as they come, until SIGTERM/SIGINT; what was done."""
    # UPDATE: the archive must exist, with its signing key. A worker never makes a key:
    # one made on a new machine would sign with a key the archive does not know
    async with open_archive(config, access=Access.UPDATE) as archive:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            worker = CaptureWorker(archive, progress=progress, stop=stop,
                                   retry_everything=False, grace=config.serve.grace,
                                   forever=True)
            if not worker.notices.enabled:
                log.warning("%s has no LISTEN: looking for new jobs every %g s",
                            archive.db.engine.dialect.name, config.queue.poll)
            if ready:
                ready(worker)
            log.warning("worker started: lease %g s", config.queue.lease)
            summary = await worker.run()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    log.warning("stopped: %d captured, %d partial, %d failed, %d retrying", summary.captured,
                summary.partial, summary.failed, summary.retrying)
    return summary
