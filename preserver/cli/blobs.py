"""The blob store's commands: ``preserver storage migrate`` and ``preserver gc --dry-run``.

Thin like the rest of the CLI: each parses its options, calls one function of
``preserver.blobs`` and prints a progress line (stderr), then a summary or ``--json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from preserver.cli.commands import _config, _json, _with_archive, app, err, out
from preserver.cli.options import JsonOpt
from preserver.errors import InputError, IntegrityError

if TYPE_CHECKING:
    from preserver.archive import Archive
    from preserver.blobs import GcReport

storage_app = typer.Typer(no_args_is_help=True,
                          help="The blob store: copy a local archive's blobs into a bucket.")
app.add_typer(storage_app, name="storage")


@storage_app.command("migrate")
def migrate_storage(as_json: JsonOpt = False) -> None:
    """Copy every blob of the data directory into the [storage] bucket and check each one
    (size, SHA-256 checksum, Object Lock). Resumable: blobs already there are checked, not
    sent again. Exit 1 when any blob failed."""
    from preserver.blobs import migrate_blobs
    from preserver.cli import render

    config = _config()
    if as_json:  # failures still go to stderr, one line each
        def failures(done: int, total: int, sha: str, outcome: str, detail: str) -> None:
            if detail:
                err.print(f"{sha}: {outcome}: {detail}", markup=False, highlight=False)

        summary = migrate_blobs(config, progress=failures)
    else:
        summary = render.with_migrate_progress(
            err, lambda progress: migrate_blobs(config, progress=progress))
    if as_json:
        _json(summary.as_dict())
    else:
        out.print(f"{summary.copied} copied ({summary.bytes_copied} bytes), "
                  f"{summary.present} already in the bucket, {len(summary.failures)} failed: "
                  f"{summary.source} -> {summary.target}", markup=False, highlight=False)
    if summary.failures:
        raise IntegrityError(f"{len(summary.failures)} blob(s) not copied or not as sent; "
                             "run again after fixing the cause")


@app.command()
def gc(dry_run: Annotated[bool, typer.Option(
           "--dry-run", help="List the blobs nothing names; delete nothing.")] = False,
       as_json: JsonOpt = False) -> None:
    """List blobs that no report, capture or manifest names (uploaded, never recorded).
    Only --dry-run exists: gc deletes nothing, and never a locked object."""
    from preserver.blobs import find_garbage

    if not dry_run:
        raise InputError("gc only lists for now: run `preserver gc --dry-run` (nothing is "
                         "ever deleted; locked objects cannot be)")

    async def go(archive: Archive) -> GcReport:
        return await find_garbage(archive)

    report = _with_archive(go, access="read", config=_config())
    if as_json:
        _json(report.as_dict())
        return
    for g in report.garbage:
        lock = f"locked until {g.locked_until:%Y-%m-%d}" if g.locked_until else "not locked"
        out.print(f"{g.sha256}  {g.size:>12}  {lock}", markup=False, highlight=False)
    out.print(f"{len(report.garbage)} of {report.blobs} blobs named by nothing "
              f"({sum(g.size for g in report.garbage)} bytes); "
              f"{len(report.unrecorded_manifests)} unrecorded manifest(s) kept; "
              "nothing deleted (--dry-run)", markup=False, highlight=False)
