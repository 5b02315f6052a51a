"""Custody events with their place in the custody ledger: each event's leaf index and its
Merkle inclusion proof (RFC 9162 section 2.1.3) in the newest signed checkpoint.

An event is in a checkpoint once the ledger has sequenced it (given its ``seq``) and a
checkpoint of a larger size has been made (``preserver checkpoint``, or after a run);
until then its ``proof`` is None. The proof is built from the ledger's stored subtree
hashes (``custody.nodes``: the same bytes as ``manifests.inclusion_proof`` over every
leaf) and checked against the checkpoint's root with ``manifests.verify_inclusion``
before it is shown (``verified``). Building it reads O(log² n) node rows of a ledger of
n events (a few hundred at a million), never the other events' bodies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from preserver.custody import nodes
from preserver.custody.events import rfc3339
from preserver.db.reading import Reader, in_list
from preserver.db.values import as_utc
from preserver.errors import IntegrityError


async def ledger_entries(reader: Reader, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For each event id: its operator, leaf index, and inclusion proof (or None)."""
    from manifests import ManifestError, leaf_hash, verify_inclusion

    if not event_ids:
        return {}
    ids, params = in_list("event", event_ids)
    events = await reader.rows(f"SELECT id, seq, body FROM events WHERE id IN {ids}", params)
    newest = await reader.rows("SELECT size, root, created_at FROM checkpoints "
                               "ORDER BY size DESC LIMIT 1")
    checkpoint = newest[0] if newest else None
    size = int(checkpoint["size"]) if checkpoint else 0
    fetch = reader_fetch(reader)
    entries: dict[int, dict[str, Any]] = {}
    for e in events:
        body = bytes(e["body"])
        entry: dict[str, Any] = {"operator": _operator(body), "leaf_index": e["seq"],
                                 "leaf_hash": leaf_hash(body).hex(), "proof": None}
        seq = e["seq"]
        if checkpoint is not None and seq is not None and seq < size:
            try:
                hashes = await nodes.inclusion_proof(fetch, seq, size)
            except IntegrityError:  # events under the checkpoint are gone: `verify` says so
                entries[e["id"]] = entry
                continue
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


def reader_fetch(reader: Reader) -> nodes.Fetch:
    """A ``custody.nodes.Fetch`` reading the ledger's rows through the read path."""

    async def read_nodes(keys: Sequence[nodes.Key]) -> dict[nodes.Key, bytes]:
        rows = await reader.rows(*nodes.nodes_query(keys))
        return {(int(r["level"]), int(r["idx"])): bytes(r["hash"]) for r in rows}

    async def read_leaves(indexes: Sequence[int]) -> dict[int, bytes]:
        rows = await reader.rows(*nodes.leaves_query(indexes))
        return {int(r["seq"]): nodes.leaf(bytes(r["body"])) for r in rows}

    return nodes.Fetch(nodes=read_nodes, leaves=read_leaves)


def _operator(body: bytes) -> str:
    try:
        actor = json.loads(body).get("actor", {})
        return str(actor.get("operator", "")) if isinstance(actor, dict) else ""
    except (ValueError, AttributeError):
        return ""
