"""The command line: parse, call one function, render a table or JSON.

One error boundary (``main``) turns ``PreserverError`` into a one-line message
and its exit code (2 bad input, 1 failed check or run); ``--verbose`` shows the
traceback. ``verify PACKAGE`` alone exits 3 when no check failed but some were not done.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console

from preserver.cli import render, render_audit, render_show
from preserver.cli.capturing import run_queued
from preserver.cli.options import ActingOpt, JsonOpt, OperatorOpt, ReportsArg
from preserver.errors import InputError, PreserverError

if TYPE_CHECKING:
    from preserver.archive import Archive, ReadArchive
    from preserver.config import Config

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Preserve the links cited in human-rights reports, with proof of custody.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


class _State:
    config_path: Path | None = None
    verbose: bool = False


state = _State()


@app.callback()
def _global(
    config: Annotated[Path | None, typer.Option("--config", help="Config file (or PRESERVER_CONFIG).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details; tracebacks on errors.")] = False,
) -> None:
    state.config_path = config
    state.verbose = verbose
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _config() -> Config:
    from preserver.config import load_config  # here: `--help` reads no configuration

    return load_config(state.config_path)


def _collecting(operator: str | None, *, audit_only: bool = False) -> Config:
    """A collecting command's configuration: its operator (not for ``audit_only``) and a
    usable ``[access.<group>]`` (``preserver.access_check``: exit 2 before any capture);
    for captures, the capture server starts loading yt-dlp now, in the background."""
    from preserver.access_check import require_access
    from preserver.config import with_operator

    config = _config() if audit_only else with_operator(_config(), operator)
    render.warnings(err, require_access(config, audit_only=audit_only))
    if not audit_only:
        from workers import start_capture_server

        start_capture_server()
    return config


# preserver.archive.Access by value: the CLI starts without importing the database layer
_AccessName = Literal["create", "update", "record", "read"]


def _with_archive(fn: Callable[[Archive], Awaitable[T]], *, access: _AccessName = "create",
                  config: Config | None = None) -> T:
    import asyncio

    from preserver.archive import Access, open_archive

    async def go() -> T:
        async with open_archive(config or _config(), access=Access(access)) as archive:
            return await fn(archive)

    return asyncio.run(go())


def _reading(query: Callable[[ReadArchive], Awaitable[T]]) -> T:
    """``query(archive)`` on the archive opened read-only (``archive.db``: the read path)."""
    import asyncio

    from preserver.archive import read_archive

    async def go() -> T:
        async with read_archive(_config()) as archive:
            return await query(archive)

    return asyncio.run(go())


def _json(value: Any) -> None:
    render.print_json(out, value)


def _acting(operator: str | None) -> Config | None:
    """The configuration with ``operator`` over the file's and the environment's, when given."""
    from preserver.config import with_operator

    return None if operator is None else with_operator(_config(), operator)


@app.command()
def ingest(
    reports: ReportsArg,
    as_json: JsonOpt = False,
    operator: ActingOpt = None,
    require_links: Annotated[bool, typer.Option(
        "--require-links", help="Refuse (exit 2, record nothing) a report citing no link "
                                "that can be preserved.")] = False,
) -> None:
    """Extract and record the citations of REPORTS (files or URLs) and queue their captures."""
    from dataclasses import asdict

    from preserver.ingest.urls import ingest_sources, parse_arguments
    sources = parse_arguments(reports, on_terminal=err.print)

    async def go(archive: Archive) -> list[Any]:
        results = await ingest_sources(archive, sources, require_links=require_links)
        for result in results:
            render.ingest_result(err, result)
        return results

    results = _with_archive(go, config=_acting(operator))
    if as_json:
        _json([asdict(result) for result in results])


@app.command()
def audit(
    everything: Annotated[bool, typer.Option("--all", help="Check every target now, not only those due.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-check the availability of cited links now (those due, or --all)."""
    from preserver.audit.runner import audit as run_audit

    async def go(archive: Archive) -> Any:
        return await render.with_audit_progress(err, archive, run_audit, everything=everything)

    summary = _with_archive(go, access="update", config=_collecting(None, audit_only=True))
    if as_json:
        _json({"checked": summary.checked, "changed": summary.changed,
               "statuses": dict(summary.statuses),
               "changes": [{"key": k, "from": a, "to": b} for k, a, b in summary.changes],
               "changes_listed": len(summary.changes), "stopped": summary.stopped,
               "interrupted": summary.interrupted, "unrecorded": summary.unrecorded})
    else:
        render_audit.audit_summary(out, summary)


@app.command()
def serve(operator: OperatorOpt = None) -> None:
    """Run the scheduler: captures, audits, checkpoints and fixity checks (\\[serve])."""
    config = _collecting(operator)
    import asyncio

    from preserver.serve import serve as run_service

    asyncio.run(run_service(config))


@app.command()
def checkpoint(as_json: JsonOpt = False) -> None:
    """Sign a checkpoint of the custody ledger and timestamp it with the configured TSAs."""
    from preserver.custody.ledger import make_checkpoint

    result = _with_archive(make_checkpoint, access="update")
    _json(result.__dict__) if as_json else render.checkpoint_result(out, result)


@app.command()
def run(operator: OperatorOpt = None) -> None:
    """Process queued capture jobs until none is left."""
    config = _collecting(operator)

    async def go(archive: Archive) -> None:
        summary = await run_queued(err, archive)
        render.run_summary(err, summary)

    _with_archive(go, config=config)


@app.command()
def preserve(reports: ReportsArg, as_json: JsonOpt = False, operator: OperatorOpt = None) -> None:
    """Ingest REPORTS (files or URLs) and capture every link they cite; print what was captured."""
    config = _collecting(operator)
    from preserver import views
    from preserver.custody.events import rfc3339
    from preserver.db.values import utc_now
    from preserver.ingest.urls import ingest_sources, parse_arguments
    sources = parse_arguments(reports, on_terminal=err.print)

    async def go(archive: Archive) -> tuple[list[dict[str, Any]], list[Any], str]:
        results = await ingest_sources(archive, sources)
        for result in results:
            render.ingest_result(err, result)
        started = rfc3339(utc_now())
        await run_queued(err, archive)
        items: dict[str, dict[str, Any]] = {}
        async with archive.db.reader() as reader:
            for result in results:
                for item in await views.links(reader, report=result.report_sha256):
                    items.setdefault(item["key"], item)
        return list(items.values()), [s for r in results for s in r.skipped], started

    items, skipped, started = _with_archive(go, config=config)
    if as_json:
        _json(items)
    else:
        render.preserve_table(out, items, skipped=skipped, run_started=started)


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Counts of reports, targets, captures and jobs by state."""
    from preserver import views

    result = _reading(lambda archive: views.status(archive.db, config=archive.config))
    _json(result) if as_json else render.status(out, result)


@app.command()
def links(
    report: Annotated[str | None, typer.Option("--report", help="Only links cited by this report (name or SHA-256).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Targets with their citations, status and captures."""
    from preserver import views

    items = _reading(lambda archive: views.links(archive.db, report=report))
    _json(items) if as_json else render.links_table(out, items)


@app.command()
def linkrot(
    report: Annotated[str | None, typer.Option("--report", help="Only this report (name or SHA-256).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or html (one self-contained page).")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Per report: links up, down (why), restricted or unknown, since when, and the copy we hold."""
    from preserver.views import linkrot as rot

    if fmt not in ("table", "json", "csv", "html"):
        raise InputError(f"--format must be table, json, csv or html, not {fmt!r}")
    result = _reading(lambda archive: rot.linkrot(archive.db, report=report))
    if fmt == "table":
        if out_file is None:
            render_audit.linkrot_table(out, result)
            return
        buf = io.StringIO()
        render_audit.linkrot_table(Console(file=buf, width=200, soft_wrap=True), result)
        text = buf.getvalue()
    else:
        text = rot.as_text(result, fmt)
    if out_file is None:
        sys.stdout.write(text)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out_file}: {exc.strerror or exc}") from exc


@app.command()
def show(key: Annotated[str, typer.Argument(help="Target key (youtube:ID …), capture id or manifest SHA-256.")],
         as_json: JsonOpt = False) -> None:
    """One target: citations, captures, files with SHA-256, checks and custody events."""
    from preserver import views

    item = _reading(lambda archive: views.show(archive.db, key, store=archive.store))
    _json(item) if as_json else render_show.show(out, item)


@app.command()
def lookup(files: Annotated[list[Path], typer.Argument(help="Files to look for in the archive.")],
           as_json: JsonOpt = False) -> None:
    """Is each FILE byte-identical to an archived file? Which capture and citation?"""
    from preserver import views
    from storage import hash_stream

    hashes: list[tuple[Path, str]] = []
    for path in files:
        try:
            with path.open("rb") as fh:
                hashes.append((path, hash_stream(fh)[0]))
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc

    async def go(archive: ReadArchive) -> list[dict[str, Any]]:
        return [{"file": str(path), "sha256": sha, "matches": await views.lookup(archive.db, sha)}
                for path, sha in hashes]

    results = _reading(go)
    _json(results) if as_json else render.lookup(out, results)


@app.command()
def verify(package: Annotated[Path | None, typer.Argument(help="An exported package (folder or .zip): verified alone, without the archive.")] = None,
           tsa_roots: Annotated[Path | None, typer.Option("--tsa-roots", help="PEM file of trusted TSA roots (default: custody.tsa_roots, else the system's).")] = None,
           key_id: Annotated[str | None, typer.Option("--key-id", help="The archive's key id (hex) the package must be signed with.")] = None,
           as_json: JsonOpt = False) -> None:
    """Re-hash every blob and check every manifest and signature; with PACKAGE, verify an
    exported evidence package instead. Exit 1 on any failure; with PACKAGE, exit 3 when
    every check passed but some were not done (the key not pinned with --key-id)."""
    from preserver.cli.verdict import verdict

    findings: list[Any]
    if package is not None:
        from preserver.verify.package import verify_exported

        findings = verify_exported(package, config=None if tsa_roots else _config(),
                                   tsa_roots=tsa_roots, key_id=key_id)
    else:
        from preserver.verify.archive import verify_archive

        findings = _with_archive(
            lambda archive: render.with_verify_progress(err, archive, verify_archive),
            access="record")
    if as_json:
        _json([f.__dict__ for f in findings])
    elif package is not None:
        render.package_verdicts(out, err, findings)
    else:
        render.verify_result(out, findings)
    verdict(err, findings, package=package is not None)


@app.command()
def export(
    out_path: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write the package (a new folder, or a .zip with --zip).")],
    report: Annotated[str, typer.Option("--report", help="The report: its name or SHA-256 (8+ hex digits).")],
    as_zip: Annotated[bool, typer.Option("--zip", help="Write one ZIP file instead of a folder.")] = False,
    operator: ActingOpt = None,
) -> None:
    """Export REPORT's evidence package (BagIt): files, manifests, custody proofs, VERIFY.md."""
    from preserver.export.package import export_package

    result = _with_archive(lambda archive: export_package(archive, report=report, out=out_path,
                                                          zip=as_zip), access="update",
                           config=_acting(operator))
    render.export_result(out, err, result)


@app.command()
def migrate(as_json: JsonOpt = False) -> None:
    """Bring the archive's database to the schema this preserver needs (read-only
    commands and verify refuse an older one)."""
    import asyncio

    from preserver.archive import migrate_archive

    change = asyncio.run(migrate_archive(_config()))
    _json(change.__dict__) if as_json else render.schema_change(out, change)


@app.command()
def doctor() -> None:
    """What is missing for full capture, each with the fix."""
    from preserver.doctor import run_doctor

    checks = run_doctor(_config())
    render.doctor(out, checks)
    if any(c.outcome == "fail" for c in checks):
        raise typer.Exit(1)


def main() -> None:
    """Console entry point: the one error boundary (usage errors are typer's: exit 2)."""
    try:
        app()
    except PreserverError as exc:
        if state.verbose:
            err.print_exception()
        from rich.markup import escape

        # escaped: "[storage]" is no markup; no emoji: a file "a:smile:.txt" is named as it is
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, emoji=False)
        sys.exit(exc.exit_code)
