"""Read-only questions about the archive, answered as plain data.

``links`` produces the objects of the ``links --json`` contract (docs/design.md "links --json");
``show`` one target in full, with each capture's collection record read from its
signed manifest; ``lookup`` finds files by SHA-256 (``status`` is in ``views.counts``).
The queries are plain SQL through ``db.reading`` (docs/design.md "The read path"):
callers get dicts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from preserver.custody.events import EventAction, rfc3339
from preserver.db.reading import Reader, Row, in_list, scalar
from preserver.db.values import CAPTURE, WITNESS, as_utc
from preserver.errors import UnknownKey
from storage import BlobStore, StorageError

MAX_MANIFEST_BYTES = 16 << 20  # larger is not a manifest preserver wrote
# The targets a ``links`` call is about: ``t`` filtered by a condition (its parameters apart)
_OF_TARGETS = "SELECT t.id FROM targets t WHERE {where}"


def _time(value: Any) -> str | None:
    return rfc3339(as_utc(value)) if value is not None else None


async def reports_named(reader: Reader, report: str) -> list[int]:
    """Report ids matching a name, a path's basename, or a SHA-256 (prefix of 8+ hex); a
    whole SHA-256 that is a report's names that report alone, whatever others are named."""
    name = report.rsplit("/", 1)[-1]
    rows = await reader.rows("SELECT id, name, sha256 FROM reports")
    if exact := [r["id"] for r in rows if len(report) == 64 and r["sha256"] == report.lower()]:
        return exact
    ids = [r["id"] for r in rows
           if r["name"] == name or (len(report) >= 8 and r["sha256"].startswith(report.lower()))]
    if not ids:
        raise UnknownKey(f"no report named {report!r} in the archive (see `preserver status`)")
    return ids


async def links(reader: Reader, *, report: str | None = None,
                target_keys: list[str] | None = None) -> list[dict[str, Any]]:
    """One object per target, with its citations and captures (``links --json``)."""
    where, of_report = ["1 = 1"], ""
    params: dict[str, Any] = {}
    if report is not None:
        ids, id_params = in_list("report", await reports_named(reader, report))
        of_report = f" AND c.report_id IN {ids}"
        where.append(f"t.id IN (SELECT target_id FROM citations WHERE report_id IN {ids})")
        params |= id_params
    if target_keys is not None:
        keys, key_params = in_list("key", target_keys)
        where.append(f"t.key IN {keys}")
        params |= key_params
    of_targets = _OF_TARGETS.format(where=" AND ".join(where))
    targets = await reader.rows(
        "SELECT t.id, t.key, t.url, t.platform, t.status, t.resolved_key, t.status_since, "
        "t.last_status, t.last_message, t.last_checked_at FROM targets t "
        f"WHERE {' AND '.join(where)} ORDER BY t.id", params)
    cites: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in await reader.rows(
            "SELECT c.target_id, r.name, r.sha256, c.line, c.page, c.label, c.raw_url, "
            "c.start_seconds "
            "FROM citations c JOIN reports r ON r.id = c.report_id "
            f"WHERE c.target_id IN ({of_targets}){of_report} ORDER BY r.id, c.\"offset\"", params):
        cites[c["target_id"]].append({
            "report": c["name"], "report_sha256": c["sha256"], "line": c["line"],
            "label": c["label"], "raw_url": c["raw_url"], "start_seconds": c["start_seconds"],
            "page": c["page"]})
    caps = await _captures(reader, of_targets, params)
    jobs = {j["target_id"]: j for j in await reader.rows(
        "SELECT target_id, state, attempts, last_error FROM jobs "
        f"WHERE target_id IN ({of_targets}) AND kind = :kind ORDER BY id",
        params | {"kind": CAPTURE})}
    return [{
        "key": t["key"], "url": t["url"], "platform": t["platform"], "status": t["status"],
        "resolved_key": t["resolved_key"], "status_since": _time(t["status_since"]),
        "last_check": None if t["last_checked_at"] is None else {
            "status": t["last_status"], "message": t["last_message"],
            "checked_at": _time(t["last_checked_at"])},
        "job": None if (job := jobs.get(t["id"])) is None else {
            "state": job["state"], "attempts": job["attempts"], "last_error": job["last_error"]},
        "citations": cites[t["id"]], "captures": caps[t["id"]]} for t in targets]


async def _captures(reader: Reader, of_targets: str,
                    params: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Each target's captures, oldest first, with their files (``links --json``)."""
    of_captures = f"SELECT id FROM captures WHERE target_id IN ({of_targets})"
    files: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in await reader.rows(
            "SELECT capture_id, role, name, sha256, size, media_type FROM files "
            f"WHERE capture_id IN ({of_captures}) ORDER BY id", params):
        files[f["capture_id"]].append({"role": f["role"], "name": f["name"],
                                       "sha256": f["sha256"], "size": f["size"],
                                       "media_type": f["media_type"]})
    caps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for cap in await reader.rows(
            "SELECT id, target_id, state, status, message, started_at, finished_at, "
            "manifest_sha256, signature_sha256, seen_as FROM captures "
            f"WHERE target_id IN ({of_targets}) ORDER BY finished_at", params):
        caps[cap["target_id"]].append({
            "id": cap["id"], "state": cap["state"], "status": cap["status"],
            "message": cap["message"], "started_at": _time(cap["started_at"]),
            "finished_at": _time(cap["finished_at"]), "manifest_sha256": cap["manifest_sha256"],
            "signature_sha256": cap["signature_sha256"], "seen_as": cap["seen_as"],
            "files": files[cap["id"]]})
    return caps


def collection_of(store: BlobStore, manifest_sha256: str) -> dict[str, Any] | None:
    """The ``collection`` member of a capture's manifest (docs/design.md "Collection
    record"); None when the manifest has none (written before it existed) or cannot be
    read (``preserver verify`` says why)."""
    from manifests import CaptureManifest, ManifestError  # show alone reads manifests

    try:
        if store.size(manifest_sha256) > MAX_MANIFEST_BYTES:
            return None
        with store.open(manifest_sha256) as fh:
            return CaptureManifest.from_bytes(fh.read(MAX_MANIFEST_BYTES)).collection
    except (StorageError, OSError, ManifestError):
        return None


async def show(reader: Reader, key: str, *,
               store: BlobStore | None = None) -> dict[str, Any]:
    """One target in full: ``links`` object plus checks and custody events; with
    ``store``, each capture's ``collection`` record (read from its signed manifest)."""
    found = await links(reader, target_keys=[key])
    if not found:
        # accept a capture id or a manifest hash as well
        target_key = await scalar(
            reader, "SELECT t.key FROM targets t JOIN captures c ON c.target_id = t.id "
            "WHERE c.id = :id OR c.manifest_sha256 = :sha", {"id": key, "sha": key.lower()})
        if target_key is None:
            raise UnknownKey(f"no target, capture id or manifest named {key!r}")
        found = await links(reader, target_keys=[target_key])
    item = found[0]
    target_id = await scalar(reader, "SELECT id FROM targets WHERE key = :key",
                             {"key": item["key"]})
    checks = await reader.rows(
        "SELECT checked_at, status, probe, http_status, message FROM availability_checks "
        "WHERE target_id = :id ORDER BY checked_at", {"id": target_id})
    item["checks"] = [{"checked_at": _time(c["checked_at"]), "status": c["status"],
                       "probe": c["probe"], "http_status": c["http_status"],
                       "message": c["message"]} for c in checks]
    subjects, params = in_list("subject", [item["key"], *[c["id"] for c in item["captures"]]])
    events = await reader.rows(
        f"SELECT id, time, action, body FROM events WHERE subject IN {subjects} ORDER BY id",
        params)
    item["events"] = [{"id": e["id"], "time": _time(e["time"]), "action": e["action"]}
                      for e in events]
    item["witness"] = await _witness(reader, target_id, events)
    if store is not None:
        for capture in item["captures"]:
            capture["collection"] = collection_of(store, capture["manifest_sha256"])
    return item


async def _witness(reader: Reader, target_id: int | None, events: list[Row]) -> dict[str, Any]:
    """The independent witness of a target (docs/design.md "Independent witness"): its
    Save Page Now snapshots (from the ``witness_saved`` events) and its last witness job."""
    snapshots = []
    for e in events:
        if e["action"] != EventAction.WITNESS_SAVED:
            continue
        details = json.loads(e["body"]).get("details", {})
        snapshots.append({"url": details.get("snapshot_url"),
                          "time": details.get("snapshot_time"),
                          "service": details.get("service"), "recorded_at": _time(e["time"])})
    jobs = await reader.rows(
        "SELECT state, attempts, last_error, run_after FROM jobs "
        "WHERE target_id = :id AND kind = :kind ORDER BY id DESC LIMIT 1",
        {"id": target_id, "kind": WITNESS})
    return {"snapshots": snapshots, "job": None if not jobs else {
        "state": jobs[0]["state"], "attempts": jobs[0]["attempts"],
        "last_error": jobs[0]["last_error"], "run_after": _time(jobs[0]["run_after"])}}


async def lookup(reader: Reader, sha256: str) -> list[dict[str, Any]]:
    """Every archived file with this SHA-256, with its capture, target and citations."""
    rows = await reader.rows(
        "SELECT f.name, f.role, f.size, f.media_type, c.id AS capture_id, c.finished_at, "
        "c.manifest_sha256, t.key, t.url FROM files f JOIN captures c ON c.id = f.capture_id "
        "JOIN targets t ON t.id = c.target_id WHERE f.sha256 = :sha ORDER BY c.finished_at",
        {"sha": sha256})
    if not rows:
        return []
    cites = {t["key"]: t["citations"] for t in await links(
        reader, target_keys=sorted({r["key"] for r in rows}))}
    return [{"name": r["name"], "role": r["role"], "size": r["size"],
             "media_type": r["media_type"], "capture_id": r["capture_id"],
             "captured_at": _time(r["finished_at"]), "manifest_sha256": r["manifest_sha256"],
             "target": r["key"], "url": r["url"], "citations": cites.get(r["key"], [])}
            for r in rows]
