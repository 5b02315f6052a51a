"""An archivist's upload, ingested as ``preserver ingest`` ingests a file, in their name.

``upload_report`` receives the form's file (``uploads``) into a work directory of its
own under the archive's ``tmp/`` (``ingest._workdir``: removed after, and swept by the
next upload if this process is killed meanwhile), checks the CSRF token before anything
is ingested, checks that the file is a report citing at least one link that can be
preserved, then ingests it with ``ingest_report``, the function behind ``preserver
ingest``, under the uploaded file's (sanitised) name. Its ``report_ingested`` custody
event names the signed-in user as operator (``Principal.operator``).

The server's own failures (its disk full: 507; any other: 500) are ``WebError`` too,
with a one-line message. Whatever is refused leaves nothing behind: no report row, no blob, no file in ``tmp/``.
The checks before ``ingest_report`` read the report once more (in a worker thread);
``ingest_report`` itself reads it again and records it in one transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from preserver.config import with_operator
from preserver.errors import InvalidReport, InvalidURL, RunError
from preserver.web.auth import check_csrf
from preserver.web.context import web_state
from preserver.web.errors import WebError, server_error
from preserver.web.uploads import Upload, receive_upload

if TYPE_CHECKING:
    from starlette.requests import Request

    from preserver.accounts.roles import Principal
    from preserver.archive import Archive
    from preserver.ingest import IngestResult

FILE_FIELD = "report"
CSRF_HEADER = "x-csrf-token"


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
            return await ingest_upload(archive, upload, operator=principal.operator)
    except (OSError, RunError) as exc:  # the work directory, the file in it, the blob store
        raise server_error(exc, "the upload cannot be received or stored") from exc


async def ingest_upload(archive: Archive, upload: Upload, *, operator: str) -> IngestResult:
    """``ingest_report`` of the uploaded file, its custody event in ``operator``'s name;
    a file that is not a report citing a link is ``WebError(422)`` and records nothing."""
    from preserver.ingest import ingest_report

    as_user = replace(archive, config=with_operator(archive.config, operator))
    try:
        await asyncio.to_thread(_check_report, upload)
        return await ingest_report(as_user, upload.path)
    except InvalidReport as exc:
        # the message names the file by its name, not where it waited in tmp/
        raise WebError(422, str(exc).replace(str(upload.path), upload.name)) from exc


def _check_report(upload: Upload) -> None:
    """A report we can read, with at least one link that has a target; else ``InvalidReport``."""
    from preserver.ingest import canonical_target, iter_links, read_report

    text = read_report(upload.path)
    for link in iter_links(text.text, tables=text.tables):
        try:
            link.target or canonical_target(link.url)
        except InvalidURL:
            continue
        return
    raise InvalidReport(f"{upload.name}: no link in it that can be preserved: this is not "
                        "a report citing links")
