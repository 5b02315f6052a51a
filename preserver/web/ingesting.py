"""An archivist's upload, ingested by ``preserver ingest`` in a child process, in their name.

``upload_report`` receives the form's file (``uploads``) into a work directory of its
own under the archive's ``tmp/`` (``ingest._workdir``: removed after, and swept by the
next upload if this process is killed meanwhile), checks the CSRF token before anything
is ingested, then runs ``preserver ingest --require-links --json --operator USER FILE``
(``launcher.run_preserver``): the file is ingested under its uploaded (sanitised) name,
refused when it is not a report citing at least one link that can be preserved, and its
``report_ingested`` custody event names the signed-in user (``Principal.operator``).

Reading a report (a large DOCX, PDF or CSV) takes seconds of CPU; in a child it holds up
no other request, as it would in the server's event loop (or, holding the GIL, in one of
its threads), and a reader that crashes or runs out of memory takes down the child only.
At most ``context.INGESTS_AT_ONCE`` (2) such children run at once; a received upload
waits for a slot, so uploads sent at once cannot start a reader each.

The child's input error about the file (exit 2 and a line that starts with the file's
path: not a report, no link, a corrupt or bomb-like file) is 422 with its one line, the
file named by its name, not where it waited in ``tmp/``; any other exit 2 (the server's
configuration file no longer valid, say) is the server's failure. The
server's own failures (its disk full: 507; any other: 500) are ``WebError`` too, with a
one-line message; the child's own words go to the log. Whatever is refused leaves
nothing behind: no report row, no blob, no file in ``tmp/``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING

from preserver.errors import RunError
from preserver.web.auth import check_csrf
from preserver.web.context import web_state
from preserver.web.errors import WebError, server_error
from preserver.web.launcher import Finished, run_preserver
from preserver.web.uploads import Upload, receive_upload

if TYPE_CHECKING:
    from starlette.requests import Request

    from preserver.accounts.roles import Principal
    from preserver.archive import Archive
    from preserver.ingest import IngestResult

FILE_FIELD = "report"
CSRF_HEADER = "x-csrf-token"
log = logging.getLogger("preserver.web")


async def upload_report(request: Request, principal: Principal) -> IngestResult:
    """Receive, check and ingest the form's ``report`` file (see the module docstring)."""
    from preserver.ingest._workdir import work_dir

    archive = web_state(request).archive
    header = request.headers.get(CSRF_HEADER)
    if header is not None:  # a script's upload: refused before its body is read
        check_csrf(principal, header)
    elif not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        check_csrf(principal, None)  # no header and no form to carry the secret: refused

    def before_file(fields: dict[str, str]) -> None:
        if header is None and "csrf" in fields:  # a form's token came before its file
            check_csrf(principal, fields["csrf"])

    tmp_dir = archive.config.tmp_dir
    try:
        with work_dir(tmp_dir, "upload-") as work:
            upload = await receive_upload(request, work, limit=archive.config.web.max_upload,
                                          file_field=FILE_FIELD, before_file=before_file)
            if header is None:
                check_csrf(principal, upload.fields.get("csrf"))
            async with web_state(request).ingests:  # INGESTS_AT_ONCE children at most
                return await ingest_upload(archive, upload, operator=principal.operator)
    except (OSError, RunError) as exc:  # the work directory, the file in it, the blob store
        raise server_error(exc, "the upload cannot be received or stored") from exc


async def ingest_upload(archive: Archive, upload: Upload, *, operator: str) -> IngestResult:
    """``preserver ingest`` of the uploaded file in a child process, its custody event in
    ``operator``'s name; a file that is not a report citing a link is ``WebError(422)`` and
    records nothing."""
    path = str(upload.path.resolve())
    try:
        done = await run_preserver(archive.config, "ingest", "--require-links", "--json", "--",
                                   path, operator=operator)
    except RunError as exc:
        raise server_error(exc, "the report cannot be ingested here") from exc
    if done.exit_code == 0:
        return _result(done)
    log.error("preserver ingest of upload %r (exit %s): %s", upload.name, done.exit_code,
              done.stderr.strip())
    line = done.last_line
    if done.exit_code == 2 and line.startswith(f"{path}: "):  # the file's fault
        # the message names the file by its name, not where it waited in tmp/; an input
        # error about anything else (the server's config file edited into an invalid one,
        # a usage error) is the server's, and its words may name the server's files
        line = line.replace(path, upload.name)
        raise WebError(422, line.replace(str(upload.path.resolve().parent) + os.sep, ""))
    if done.disk_full:
        raise WebError(507, "the upload cannot be received or stored: the server's disk is "
                            "full; tell the archive's administrator")
    raise WebError(500, "the upload cannot be ingested: the server's log says why")


def _result(done: Finished) -> IngestResult:
    """The one result ``preserver ingest --json`` printed."""
    from preserver.ingest import IngestResult, SkippedLink

    try:
        [given] = json.loads(done.stdout)
        skipped = tuple(SkippedLink(**item) for item in given.pop("skipped"))
        return IngestResult(**given, skipped=skipped)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise server_error(RunError(f"preserver ingest printed no result: {exc}"),
                           "the upload cannot be ingested") from exc
