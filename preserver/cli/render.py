"""Human-readable output: rich tables and progress bars for the CLI.

Progress and notices go to stderr, results to stdout, so ``--json`` output and
tables can be piped. ``rich.table`` and ``rich.progress`` are imported by the function
that draws one, so a command that prints neither starts without them (issue 12).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.markup import escape as esc
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from preserver.archive import Archive
    from preserver.export.package import ExportResult
    from preserver.verify.fixity import FixityProgress

T = TypeVar("T")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def clip(text: str, limit: int = 200) -> str:
    """At most ``limit`` characters of ``text`` (a cited URL may be megabytes long)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def page(citation: dict[str, Any]) -> str:
    """What follows a citation's line: ' (page 3)' in a paged report (PDF), else ''."""
    return "" if citation.get("page") is None else f" (page {citation['page']})"


def new_table(**options: Any) -> Table:
    """A rich ``Table`` (``rich.table`` is imported by the first one drawn)."""
    from rich.table import Table

    return Table(**options)


def _progress(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[current]}", markup=False), console=console,
                    transient=False)


def with_migrate_progress(console: Console, migrate: Callable[..., T]) -> T:
    """Run ``migrate(progress=...)`` (``preserver.blobs.migrate_blobs``) under a bar of the
    blobs done; each failure is a line of its own above it, as it happens."""
    with _progress(console) as bar:
        task = bar.add_task("copying", total=None, current="")

        def on_blob(done: int, total: int, sha: str, outcome: str, detail: str) -> None:
            if detail:
                console.print(f"{sha}: {outcome}: {detail}", markup=False, highlight=False)
            bar.update(task, completed=done, total=total, current=f"{outcome} {sha[:16]}")

        return migrate(progress=on_blob)


def ingest_result(console: Console, result: Any) -> None:
    if result.already_ingested:
        console.print(f"{esc(result.report)}: already ingested ({result.citations} citations, "
                      f"{result.targets} targets); nothing added")
    else:
        console.print(f"{esc(result.report)}: {result.citations} citations of {result.targets} targets "
                      f"({result.new_targets} new), {result.queued} captures queued")
    for skipped in result.skipped:
        console.print(f"  skipped line {skipped.line}: {esc(repr(clip(skipped.raw_url)))}: "
                      f"{esc(skipped.reason)}",
                      highlight=False)
    if (more := result.skipped_count - len(result.skipped)) > 0:
        console.print(f"  … and {more} more skipped links")


async def with_run_progress(console: Console, archive: Archive, total: int,
                            run_jobs: Callable[..., Awaitable[T]]) -> T:
    """Run ``run_jobs`` under a progress bar of ``total`` jobs (queued, retrying, running).

    Where ``console`` is not a terminal (a log, a pipe) the bar shows only at the end, so
    each finished target also gets a line as soon as its result is recorded:
    ``  <target>: captured`` (or ``partial``/``failed`` with the status and message)."""
    from preserver.capture.run import RecoveredRun

    with _progress(console) as bar:
        task = bar.add_task("capturing", total=total or None, current="")
        active: set[str] = set()

        def on_event(event: Any) -> None:
            if isinstance(event, RecoveredRun):  # a dead run's jobs, back in the queue
                console.print(esc(event.message), highlight=False)
                return
            if event.result is None:
                active.add(event.target_key)
            else:
                active.discard(event.target_key)
                if event.retry_in is None:
                    bar.advance(task)
                    if not console.is_terminal:
                        console.print(f"  {esc(event.target_key)}: {_finished(event.result)}",
                                      highlight=False, soft_wrap=True)
                else:
                    console.print(f"  {esc(event.target_key)}: {event.result.status.value}: "
                                  f"{esc(event.result.message[:120])} (retrying in "
                                  f"{event.retry_in:.0f} s)", highlight=False)
            bar.update(task, current=", ".join(sorted(active))[:80])

        return await run_jobs(archive, progress=on_event)


def _finished(result: Any) -> str:
    if result.state.value == "complete":
        return "captured"
    return f"{result.state.value}: {result.status.value}: {esc(result.message[:120])}"


def checkpoint_result(console: Console, result: Any) -> None:
    what = "new checkpoint" if result.created else "checkpoint"
    line = f"custody ledger: {what} of {result.size} events, root {result.root[:16]}…"
    if result.timestamped_by:
        line += f", timestamped by {len(result.timestamped_by)} TSA(s)"
    console.print(line, highlight=False)
    for problem in result.pending:
        console.print(f"  [yellow]timestamp pending[/] {esc(problem)} (asked again on the next "
                      "run or `preserver checkpoint`)", highlight=False)


def schema_change(console: Console, change: Any) -> None:
    if change.before == change.after:
        console.print(f"database schema: already at revision {change.after}", highlight=False)
    else:
        console.print(f"database schema: migrated from revision {change.before or '(none)'} "
                      f"to {change.after}", highlight=False)


def run_summary(console: Console, summary: Any) -> None:
    console.print(f"{summary.captured} captured, {summary.partial} partial, "
                  f"{summary.failed} failed, {summary.retrying} retries")


def _outcome(item: dict[str, Any], run_started: str) -> tuple[str, str]:
    complete = [c for c in item["captures"] if c["state"] == "complete"]
    if complete and all(c["finished_at"] < run_started for c in complete):
        return "skipped", "dim"  # captured by an earlier run: not captured again
    if complete:
        return "captured", "green"
    if any(c["state"] == "partial" for c in item["captures"]):
        return "partial", "yellow"
    return "failed", "red"


def preserve_table(console: Console, items: Sequence[dict[str, Any]], *,
                   skipped: Sequence[Any] = (), run_started: str = "") -> None:
    """One row per target: captured, partial, failed (with the platform's words) or
    skipped (already archived, or a link that is not capturable)."""
    table = new_table(title="Preservation result")
    for col in ("label", "target", "result", "status", "files", "detail"):
        table.add_column(col, overflow="fold")
    tally: Counter[str] = Counter()
    for item in items:
        outcome, color = _outcome(item, run_started)
        tally[outcome] += 1
        label = item["citations"][0]["label"] if item["citations"] else ""
        best = next((c for c in reversed(item["captures"]) if c["state"] == "complete"),
                    item["captures"][-1] if item["captures"] else None)
        files = best["files"] if best else []
        detail = "already in the archive" if outcome == "skipped" else ""
        if outcome in ("failed", "partial"):
            detail = (item.get("last_check") or {}).get("message") or \
                     ((item.get("job") or {}).get("last_error") or "")
        status = (item.get("last_check") or {}).get("status") or item["status"]
        table.add_row(Text(label), Text(item["key"]), f"[{color}]{outcome}[/]", status,
                      f"{len(files)} ({_size(sum(f['size'] for f in files))})",
                      Text(detail[:200]))
    for link in skipped:
        tally["skipped"] += 1
        table.add_row(Text(f"line {link.line}"), Text(clip(link.raw_url)), "[dim]skipped[/]", "",
                      "", Text(link.reason[:200]))
    console.print(table)
    console.print(f"{tally['captured']} captured, {tally['partial']} partial, "
                  f"{tally['failed']} failed, {tally['skipped']} skipped")


def links_table(console: Console, items: Sequence[dict[str, Any]]) -> None:
    table = new_table()
    for col in ("target", "status", "citations", "captures", "sha256 (media)"):
        table.add_column(col, overflow="fold")
    for item in items:
        cites = "; ".join(f"{c['report']}:{c['line']}{page(c)} {c['label']}" for c in item["citations"])
        media = [f["sha256"][:16] for c in item["captures"] for f in c["files"] if f["role"] == "media"]
        caps = ", ".join(c["state"] for c in item["captures"]) or "-"
        table.add_row(Text(item["key"]), item["status"], Text(cites), caps, " ".join(media))
    console.print(table)


def status(console: Console, result: dict[str, Any]) -> None:
    table = new_table(show_header=False)
    table.add_column("what")
    table.add_column("count")
    table.add_row("reports", str(result["reports"]))
    table.add_row("citations", str(result["citations"]))
    for section in ("targets", "availability", "captures", "jobs", "witness_jobs"):
        for name, n in sorted(result.get(section, {}).items()):
            table.add_row(f"{section}: {name}", str(n))
    table.add_row("files", f"{result['files']} ({_size(result['bytes'])})")
    ledger = result["ledger"]
    table.add_row("custody events", str(ledger["events"]))
    cp = ledger["checkpoint"]
    table.add_row("last checkpoint", "none" if cp is None else
                  f"{cp['size']} events at {cp['created_at']}, {ledger['timestamps']} timestamps")
    if ledger["timestamps_pending_for"]:
        sizes = ", ".join(map(str, ledger["timestamps_pending_for"]))
        table.add_row("[yellow]timestamps pending[/]", f"checkpoints of {sizes} events "
                      "(a TSA did not answer; retried on the next run)")
    for pause in result.get("paused", []):
        table.add_row("[yellow]paused[/]", Text(pause["message"]))
    if disk := result.get("disk"):
        table.add_row("free space", Text(f"{_size(disk['free_bytes'])} in {disk['path']}"))
        if disk["low"]:
            table.add_row("[yellow]low on space[/]", Text(
                f"less than the largest expected capture ([capture] max_bytes = "
                f"{_size(disk['needed_bytes'])}): {disk['fix']}"))
    console.print(table)


def lookup(console: Console, results: Sequence[dict[str, Any]]) -> None:
    for r in results:
        if not r["matches"]:
            console.print(f"{esc(r['file'])}: [red]not in the archive[/] (sha256 {r['sha256']})",
                          highlight=False)
            continue
        for m in r["matches"]:
            console.print(f"{esc(r['file'])}: [green]identical[/] to {esc(m['name'])} of "
                          f"{esc(m['target'])}, "
                          f"captured {m['captured_at']} (capture {m['capture_id']}, "
                          f"manifest {m['manifest_sha256']})", highlight=False)
            for c in m["citations"]:
                console.print(f"  cited in {esc(c['report'])} line {c['line']}{page(c)}: {esc(c['label'])}",
                              highlight=False)


async def with_verify_progress(console: Console, archive: Archive,
                               verify: Callable[..., Awaitable[T]]) -> T:
    """A bar over the bytes re-hashed, with the blobs done and the throughput (MB/s)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.fields[blobs]}"), TextColumn("{task.fields[rate]}"),
                   TimeElapsedColumn(), console=console, transient=False)
    with bar:
        task = bar.add_task("verifying blobs", total=None, blobs="", rate="")

        def update(p: FixityProgress) -> None:
            bar.update(task, completed=p.bytes_done, total=p.bytes_total or None,
                       blobs=f"{p.blobs_done}/{p.blobs_total} blobs, "
                             f"{p.bytes_done / 1e6:,.0f}/{p.bytes_total / 1e6:,.0f} MB",
                       rate=f"{p.mb_per_s:,.0f} MB/s")

        return await verify(archive, progress=update)


def verify_result(console: Console, findings: Sequence[Any]) -> None:
    from manifests import FindingOutcome

    for f in findings:
        if f.outcome == FindingOutcome.FAILED:
            console.print(f"[red]FAILED[/] {esc(f.subject)}: {f.check}: {esc(f.detail)}",
                          highlight=False)
    console.print(findings_tally(findings))


def findings_tally(findings: Sequence[Any]) -> str:
    """``3 checks passed, 1 failed, 0 not checked``."""
    from manifests import FindingOutcome

    tally = Counter(f.outcome for f in findings)
    return (f"{tally[FindingOutcome.PASSED]} checks passed, {tally[FindingOutcome.FAILED]} "
            f"failed, {tally[FindingOutcome.NOT_CHECKED]} not checked")


def export_result(out: Console, err: Console, result: ExportResult) -> None:
    """What ``export`` wrote, and its warnings."""
    out.print(f"{result.path}: {result.captures} captures, {result.files} files, "
              f"{result.events} custody events proven by checkpoint {result.checkpoint_size}"
              + (f", timestamped by {', '.join(result.timestamped_by)}"
                 if result.timestamped_by else ""), highlight=False)
    if result.warning:
        err.print(f"[yellow]warning:[/] the package is {result.warning}", highlight=False)
    if result.notice:
        err.print(f"notice: {result.notice}", highlight=False, markup=False)


def package_verdicts(out: Console, err: Console, findings: Sequence[Any]) -> None:
    """One line per check: the verdict, where, what, why (one ``Text``: fast for 10^4 lines)."""
    from manifests import FindingOutcome

    labels = {FindingOutcome.PASSED: ("PASS", "green"), FindingOutcome.FAILED: ("FAIL", "bold red"),
              FindingOutcome.NOT_CHECKED: ("SKIP", "yellow")}
    text = Text()
    for f in findings:
        label, style = labels[f.outcome]
        text.append(label, style=style)
        text.append(f" {f.subject} ")
        text.append(f"[{f.check}]", style="dim")
        text.append(f": {f.detail}\n" if f.detail else "\n")
    text.append(findings_tally(findings))
    out.print(text, highlight=False)
    if any(f.check == "pin" and f.outcome == FindingOutcome.NOT_CHECKED for f in findings):
        err.print("[yellow]warning:[/] the package's key was not pinned: give the archive's "
                  "published key id with --key-id, or a package built under any key would "
                  "pass too", highlight=False)


def warnings(console: Console, problems: Sequence[Any]) -> None:
    """One line per warning (``preserver.access_check.AccessProblem``); never markup."""
    for p in problems:
        console.print(Text.assemble(("warning: ", "bold yellow"), p.message), highlight=False)


def doctor(console: Console, checks: Sequence[Any]) -> None:
    styles = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
    table = new_table(show_header=False, box=None, padding=(0, 1))
    table.add_column("outcome", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for c in checks:
        detail = Text(c.detail)
        if c.fix:
            detail.append("\nfix: " + c.fix, style="bold")
        table.add_row(Text(c.outcome.upper(), style=styles[c.outcome]), Text(c.name), detail)
    console.print(table)


async def with_audit_progress(console: Console, archive: Archive,
                              audit: Callable[..., Awaitable[T]], **options: Any) -> T:
    with _progress(console) as bar:
        task = bar.add_task("checking links", total=None, current="")
        return await audit(archive, progress=lambda done, total, key: bar.update(
            task, completed=done, total=total, current=key[:60]), **options)


def print_json(out: Console, value: Any) -> None:
    """``value`` as JSON, indented by 2: highlighted on a terminal; elsewhere written as
    it is, the same bytes (rich's highlighter took 2.6 s per 1,000 links of ``links``)."""
    if out.is_terminal:
        out.print_json(json.dumps(value, ensure_ascii=False), ensure_ascii=False)
        return
    out.file.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
