"""One target in full, for ``preserver show KEY``: citations, captures with their files,
how each was seen and its collection record, checks, custody events and the witness.

Every value printed here may come from a report or a platform: printed literally
(``markup=False``), never as rich markup.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

from preserver.cli.render import clip, page


def show(console: Console, item: dict[str, Any]) -> None:
    console.print(Text(item["key"], style="bold") + Text(f"  {item['url']}"))
    say = console.print
    say(f"status: {item['status']} (since {item['status_since'] or '-'})", markup=False)
    for c in item["citations"]:
        say(f"cited: {c['report']} line {c['line']}{page(c)}: {c['label']} — {c['raw_url']}",
            markup=False, highlight=False)
    for cap in item["captures"]:
        say(f"capture {cap['id']} {cap['state']} {cap['status']} at {cap['finished_at']}"
            f" manifest {cap['manifest_sha256']}", markup=False, highlight=False)
        if cap["message"]:
            say(f"  message: {cap['message']}", markup=False, highlight=False)
        say(f"  seen as: {cap['seen_as']}", markup=False, highlight=False)
        for f in cap["files"]:
            say(f"  {f['role']:<10} {f['sha256']} {f['size']:>12}  {f['name']}",
                markup=False, highlight=False)
        for line in collection_lines(cap.get("collection")):
            say(f"  {line}", markup=False, highlight=False)
    for check in item["checks"]:
        say(f"check {check['checked_at']} {check['probe']}: {check['status']} "
            f"{check['message'][:120]}", markup=False, highlight=False)
    for event in item["events"]:
        say(f"event #{event['id']} {event['time']} {event['action']}", markup=False)
    for line in witness_lines(item.get("witness")):
        say(line, markup=False, highlight=False)


def witness_lines(witness: dict[str, Any] | None) -> list[str]:
    """The independent witness (docs/design.md "Independent witness"): each snapshot, and
    the witness job while it waits or after it failed."""
    if not witness:
        return []
    lines = [f"witness: {s['service']} snapshot {s['time']} {s['url']}"
             for s in witness["snapshots"]]
    job = witness.get("job")
    if job and job["state"] != "done":
        error = f": {job['last_error']}" if job["last_error"] else ""
        when = f" (next try from {job['run_after']})" if job["state"] in ("queued", "retry") \
            else ""
        lines.append(f"witness job {job['state']} after {job['attempts']} "
                     f"attempt{'s' if job['attempts'] != 1 else ''}{when}{error}"[:400])
    return lines


def collection_lines(record: dict[str, Any] | None) -> list[str]:
    """A capture's collection record (docs/design.md "Collection record") in a few lines."""
    if not record:
        return []
    def part(name: str) -> dict[str, Any]:
        value = record.get(name)
        return value if isinstance(value, dict) else {}
    where, clock, versions = part("outside_address"), part("clock"), part("versions")
    address = where.get("address") or f"unknown ({where.get('error') or 'not asked'})"
    offset = (f"{clock['offset_ms']} ms from {clock.get('server')} (round trip "
              f"{clock.get('delay_ms')} ms)" if isinstance(clock.get("offset_ms"), int)
              else f"unknown ({clock.get('error') or 'not measured'})")
    lines = [(f"collected by {record.get('operator') or '-'} on {record.get('host') or '-'}, "
              f"outside address {address}"), f"clock offset {offset}",
             "software: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v)]
    known = {"operator", "host", "outside_address", "clock", "versions", "access"}
    lines += [f"{k}: {clip(json.dumps(v, ensure_ascii=False, sort_keys=True))}"
              for k, v in sorted(record.items()) if k not in known]
    return [clip(line, 300) for line in lines]
