"""A report's evidence package as a download: ``GET /reports/{sha256}/package.zip``.

The package is exported by ``preserver export --zip`` in a child process (checkpointed,
self-verified, a ``package_exported`` custody event naming the signed-in user as
operator), so the server goes on answering meanwhile, into a work directory of its own
under the archive's ``tmp/``, sent,
and the directory removed once the response has been sent (or failed to be). A process
killed while sending leaves that directory locked by nobody; the next download sweeps
it (``ingest._workdir``). A package that cannot be written (the disk full: 507) or that
fails its own verification (500) is a ``WebError`` with a one-line message, and leaves
no directory behind.
"""

from __future__ import annotations

import logging
import re
from contextlib import ExitStack
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from starlette.responses import FileResponse

from preserver.errors import RunError
from preserver.web.errors import WebError, server_error
from preserver.web.launcher import run_preserver

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from preserver.accounts.roles import Principal
    from preserver.archive import Archive

SHA256 = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger("preserver.web")


class _Package(FileResponse):
    """The ZIP sent, then its work directory removed: sent whole, cut short, or not sent."""

    def __init__(self, *args: Any, cleanup: ExitStack, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.cleanup.close()


async def package_download(archive: Archive, *, sha256: str, principal: Principal
                           ) -> FileResponse:
    """The ZIP of report ``sha256``'s package, exported now in ``principal``'s name."""
    from preserver.ingest._workdir import work_dir

    if not SHA256.fullmatch(sha256):
        raise WebError(404, "no such report: give its SHA-256 (64 lowercase hex digits)")
    async with archive.db.reader() as reader:  # by its SHA-256 only, never by its name
        rows = await reader.rows("SELECT name FROM reports WHERE sha256 = :sha", {"sha": sha256})
    if not rows:
        raise WebError(404, f"no report with SHA-256 {sha256} in the archive")
    cleanup = ExitStack()
    try:
        work = cleanup.enter_context(work_dir(archive.config.tmp_dir, "package-"))
        out = work / f"package-{sha256[:12]}.zip"
        await _export(archive, sha256=sha256, out=out, operator=principal.operator)
    except OSError as exc:  # tmp/ unwritable or full (507)
        cleanup.close()
        raise server_error(exc, "the package cannot be written") from exc
    except BaseException:
        cleanup.close()
        raise
    stem = PurePath(rows[0]["name"]).stem or "report"
    # nosniff and no-store: every answer has them (web/headers.py)
    return _Package(out, media_type="application/zip", filename=f"{stem}.package.zip",
                    cleanup=cleanup)


async def _export(archive: Archive, *, sha256: str, out: Path, operator: str) -> None:
    """``preserver export --report SHA256 OUT --zip`` as ``operator``, in a child process:
    bagit changes the working directory as it writes, so an export cannot run in a thread
    of the server, and in its event loop it would hold up every other request. A download
    given up while the package is made stops the child (its work directory is removed by
    the caller). Its failure is translated from its exit code and last line."""
    try:
        done = await run_preserver(archive.config, "export", "--report", sha256, str(out),
                                   "--zip", operator=operator)
    except RunError as exc:
        raise server_error(exc, "the package cannot be made here") from exc
    if done.exit_code == 0:
        return
    line = done.last_line
    log.error("preserver export of report %s (exit %s): %s", sha256, done.exit_code,
              done.stderr.strip())
    if done.exit_code == 2 and line.startswith("no report"):  # the request's fault
        raise WebError(404, line)
    # any other input error is the server's (the report was looked up, its work
    # directory is its own): its config file no longer valid, say, whose path it names
    if done.disk_full:
        raise WebError(507, "the package cannot be written: the server's disk is full; tell "
                            "the archive's administrator")
    if "would not verify" in line:
        raise WebError(500, "the package failed its own verification and is not sent")
    raise WebError(500, "the package cannot be written: the server's log says why")
