"""The link-rot report as text: ``json``, ``csv`` or ``html`` (``linkrot --format``).

The report itself is built by ``report.linkrot``; the table form is the CLI's.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

from preserver.views.linkrot.html import render_html
from preserver.views.linkrot.report import Counts, DayCounts, LinkrotLink, LinkrotReport

__all__ = ["CSV_COLUMNS", "as_text", "to_csv", "to_json"]

CSV_COLUMNS = ("report", "label", "key", "url", "status", "kind", "since", "copy_sha256",
               "copy_size", "copied_at", "lost", "copy", "witness_url", "witness_time")


def _counts_json(counts: Counts) -> dict[str, int]:
    return {**asdict(counts), "total": counts.total}


def to_json(result: LinkrotReport) -> dict[str, Any]:
    """Plain data with stable keys (``linkrot --format json``)."""
    def link(item: LinkrotLink) -> dict[str, Any]:
        return {**asdict(item), "labels": list(item.labels), "lost": item.lost}

    def history(days: tuple[DayCounts, ...]) -> list[dict[str, Any]]:
        return [{"day": d.day, **asdict(d.counts)} for d in days]

    return {
        "generated_at": result.generated_at,
        "totals": _counts_json(result.totals),
        "down_by_reason": dict(result.down_by_reason),
        "history": history(result.history),
        "reports": [{"name": r.name, "sha256": r.sha256, "counts": _counts_json(r.counts),
                     "down_by_reason": dict(r.down_by_reason), "history": history(r.history),
                     "links": [link(item) for item in r.links]} for r in result.reports],
    }


def to_csv(result: LinkrotReport) -> str:
    """One row per cited link per report; several files' hashes and sizes space-separated."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in result.reports:
        for item in r.links:
            held = item.copy.files if item.copy else ()
            writer.writerow([
                r.name, " | ".join(item.labels), item.key, item.url, item.status, item.kind,
                item.since or "", " ".join(f.sha256 for f in held),
                " ".join(str(f.size) for f in held),
                item.copy.captured_at if item.copy else "", "true" if item.lost else "false",
                item.copy.held if item.copy else "",
                item.witness.url if item.witness else "", item.witness.time if item.witness else ""])
    return buf.getvalue()


def as_text(result: LinkrotReport, fmt: str) -> str:
    """The report as ``json``, ``csv`` or ``html`` text."""
    if fmt == "json":
        return json.dumps(to_json(result), ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return to_csv(result)
    return render_html(result)
