"""A report's evidence package as a download: ``GET /reports/{sha256}/package.zip``.

The package is exported by ``export_package`` (what ``preserver export --zip`` does:
checkpointed, self-verified, a ``package_exported`` custody event naming the signed-in
user as operator) into a work directory of its own under the archive's ``tmp/``, sent,
and the directory removed once the response has been sent (or failed to be). A process
killed while sending leaves that directory locked by nobody; the next download sweeps
it (``ingest._workdir``). A package that cannot be written (the disk full: 507) or that
fails its own verification (500) is a ``WebError`` with a one-line message, and leaves
no directory behind.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from dataclasses import replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from starlette.responses import FileResponse

from preserver.config import with_operator
from preserver.errors import InputError, IntegrityError, RunError, UnknownKey
from preserver.web.errors import WebError, server_error

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from preserver.accounts.roles import Principal
    from preserver.archive import Archive

SHA256 = re.compile(r"[0-9a-f]{64}")


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
    from preserver.export.package import export_package
    from preserver.ingest._workdir import work_dir

    if not SHA256.fullmatch(sha256):
        raise WebError(404, "no such report: give its SHA-256 (64 lowercase hex digits)")
    async with archive.db.reader() as reader:  # by its SHA-256 only, never by its name
        if not await reader.rows("SELECT 1 FROM reports WHERE sha256 = :sha", {"sha": sha256}):
            raise WebError(404, f"no report with SHA-256 {sha256} in the archive")
    as_user = replace(archive, config=with_operator(archive.config, principal.operator))
    cleanup = ExitStack()
    try:
        work = cleanup.enter_context(work_dir(archive.config.tmp_dir, "package-"))
        result = await export_package(as_user, report=sha256, zip=True,
                                      out=work / f"package-{sha256[:12]}.zip")
    except UnknownKey as exc:
        cleanup.close()
        raise WebError(404, str(exc)) from exc
    except InputError as exc:
        cleanup.close()
        raise WebError(400, str(exc)) from exc
    except IntegrityError as exc:  # the package failed its own check: nothing is sent
        cleanup.close()
        raise server_error(exc, "the package failed its own verification and is not sent"
                           ) from exc
    except (OSError, RunError) as exc:  # tmp/ unwritable or full (507)
        cleanup.close()
        raise server_error(exc, "the package cannot be written") from exc
    except BaseException:
        cleanup.close()
        raise
    stem = PurePath(result.report).stem or "report"
    return _Package(result.path, media_type="application/zip", filename=f"{stem}.package.zip",
                    headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
                    cleanup=cleanup)
