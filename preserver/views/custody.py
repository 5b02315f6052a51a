"""Custody events with their place in the custody ledger: each event's leaf index and its
Merkle inclusion proof (RFC 9162 section 2.1.3) in the newest signed checkpoint.

An event is in a checkpoint once the ledger has sequenced it (given its ``seq``) and a
checkpoint of a larger size has been made (``preserver checkpoint``, or after a run);
until then its ``proof`` is None. The proof is built from the ledger's leaf hashes with
``manifests.inclusion_proof`` and checked against the checkpoint's root with
``manifests.verify_inclusion`` before it is shown (``verified``). Building it reads
every leaf up to the checkpoint's size: O(ledger size) per call, as an export does.
"""

from __future__ import annotations

import json
from typing import Any

from preserver.custody.events import rfc3339
from preserver.db.reading import Reader, in_list
from preserver.db.values import as_utc


async def ledger_entries(reader: Reader, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For each event id: its operator, leaf index, and inclusion proof (or None)."""
    from manifests import ManifestError, inclusion_proof, leaf_hash, verify_inclusion

    if not event_ids:
        return {}
    ids, params = in_list("event", event_ids)
    events = await reader.rows(f"SELECT id, seq, body FROM events WHERE id IN {ids}", params)
    newest = await reader.rows("SELECT size, root, created_at FROM checkpoints "
                               "ORDER BY size DESC LIMIT 1")
    checkpoint = newest[0] if newest else None
    size = int(checkpoint["size"]) if checkpoint else 0
    leaves: list[bytes] = []
    if any(e["seq"] is not None and e["seq"] < size for e in events):
        leaves = [leaf_hash(bytes(r["body"])) for r in await reader.rows(
            "SELECT body FROM events WHERE seq IS NOT NULL AND seq < :size ORDER BY seq",
            {"size": size})]
    entries: dict[int, dict[str, Any]] = {}
    for e in events:
        body = bytes(e["body"])
        entry: dict[str, Any] = {"operator": _operator(body), "leaf_index": e["seq"],
                                 "leaf_hash": leaf_hash(body).hex(), "proof": None}
        seq = e["seq"]
        if checkpoint is not None and seq is not None and seq < size == len(leaves):
            hashes = inclusion_proof(leaves, seq)
            try:
                verify_inclusion(leaf=leaf_hash(body), index=seq, size=size, proof=hashes,
                                 root=bytes.fromhex(checkpoint["root"]))
                verified = True
            except (ManifestError, ValueError):
                verified = False
            entry["proof"] = {
                "checkpoint": {"size": size, "root": checkpoint["root"],
                               "created_at": rfc3339(as_utc(checkpoint["created_at"]))},
                "hashes": [h.hex() for h in hashes], "verified": verified}
        entries[e["id"]] = entry
    return entries


def _operator(body: bytes) -> str:
    try:
        actor = json.loads(body).get("actor", {})
        return str(actor.get("operator", "")) if isinstance(actor, dict) else ""
    except (ValueError, AttributeError):
        return ""
