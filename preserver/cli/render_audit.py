"""Human-readable output of the audit commands: ``audit``'s summary and ``linkrot``'s
tables (the rest of the CLI's output is in ``render``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from preserver.cli.render import new_table


def audit_summary(console: Console, summary: Any) -> None:
    console.print(f"{summary.checked} links checked, {summary.changed} changed state")
    for status, n in sorted(summary.statuses.items()):
        console.print(f"  {status}: {n}", markup=False)
    for key, before, after in summary.changes:
        console.print(Text(f"  {key}: {before} -> {after}"))
    if (more := summary.changed - len(summary.changes)) > 0:
        console.print(f"  … and {more} more changes (preserver links --json lists every link)")
    if summary.unrecorded:
        console.print(f"{summary.unrecorded} answers could not be recorded (see the log); "
                      "those links stay due")
    if summary.stopped:
        console.print(f"stopped early: {summary.interrupted} checks interrupted; the links "
                      "not checked stay due for the next audit")


def linkrot_table(console: Console, result: Any) -> None:
    """``linkrot``: per report, counts by kind and down reasons, then one row per link."""
    styles = {"up": "green", "down": "red", "restricted": "yellow", "unknown": "dim"}

    def counts_line(title: str, counts: Any, reasons: Sequence[tuple[str, int]]) -> Text:
        line = Text(f"{title}: {counts.total} links — ")
        for kind in ("up", "down", "restricted", "unknown"):
            line.append(f"{kind} {getattr(counts, kind)}  ", style=styles[kind])
        if reasons:
            line.append("(down: " + ", ".join(f"{s} {n}" for s, n in reasons) + ")")
        return line

    for r in result.reports:
        console.print(counts_line(r.name, r.counts, r.down_by_reason), highlight=False)
        table = new_table(show_lines=False)
        for name in ("label", "key", "status", "since", "copy held"):
            table.add_column(name, overflow="fold")
        for link in r.links:
            if link.copy is None:
                held = Text("LOST", style="bold red") if link.lost else Text("-")
            else:
                held = Text(f"{link.copy.held} {link.copy.captured_at[:10]} ")
                held.append(" ".join(f.sha256[:16] + "…" for f in link.copy.files), style="dim")
                if link.lost:
                    held.append(" (media lost)", style="red")
            table.add_row(Text(" | ".join(link.labels)), Text(link.key),
                          Text(link.status, style=styles[link.kind]),
                          Text((link.since or "-")[:19]), held)
        console.print(table)
        for link in r.links:  # the independent witness, one line per link that has one
            if link.witness is not None:
                console.print(Text(f"{link.key}: witness: {link.witness.service} snapshot "
                                   f"{link.witness.time} {link.witness.url}"), soft_wrap=True)
    console.print(counts_line("all reports", result.totals, result.down_by_reason),
                  highlight=False)
