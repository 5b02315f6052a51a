"""Verify the custody ledger's stored subtree hashes (``ledger_nodes``) against the tree
recomputed from the event bodies.

Checkpoints, the web's inclusion proofs and packages' proofs are computed from these
rows (``preserver.custody.nodes``), so ``verify`` holds every row equal to the hash the
bodies give (``leaves``: ``custody.ledger.leaf_hashes``, never the rows themselves).
One finding, ``ledger``/``nodes``: passed, or failed naming the first node that was
altered, is missing, or lies beyond the ledger's leaves, with how many of each.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manifests import Finding, FindingOutcome, node_hash


async def verify_nodes(session: AsyncSession, leaves: list[bytes]) -> Finding:
    altered: list[str] = []
    missing: list[str] = []
    extra: list[str] = []
    # every level that holds a row, not only those the leaves reach: a row above them
    # (or at a negative level) is never read, but sequencing would collide with it later
    levels = {int(lv) for lv in (await session.scalars(sa.text(
        "SELECT DISTINCT level FROM ledger_nodes"))).all()}
    levels.update(range(len(leaves).bit_length()))  # consecutive from 0: `expected` halves
    expected = leaves
    for level in sorted(levels):
        rows = (await session.execute(sa.text(
            "SELECT idx, hash FROM ledger_nodes WHERE level = :l ORDER BY idx"),
            {"l": level})).all()
        if level < 0:
            extra.extend(f"node (level {level}, index {int(i)})" for i, _ in rows)
            continue
        stored = {int(i): bytes(h) for i, h in rows}
        for i, want in enumerate(expected):
            got = stored.pop(i, None)
            if got is None:
                missing.append(f"node (level {level}, index {i})")
            elif got != want:
                altered.append(f"node (level {level}, index {i}) is {got.hex()[:16]}…, the "
                               f"events hash to {want.hex()[:16]}…")
        extra.extend(f"node (level {level}, index {i})" for i in sorted(stored))
        expected = [node_hash(expected[j], expected[j + 1])
                    for j in range(0, len(expected) - 1, 2)]
    problems = [(altered, "altered"), (missing, "missing"),
                (extra, f"beyond the ledger's {len(leaves)} events")]
    if not any(found for found, _ in problems):
        return Finding(subject="ledger", check="nodes", outcome=FindingOutcome.PASSED)
    detail = "; ".join(f"{len(found)} stored subtree hashes {what}, first {found[0]}"
                       for found, what in problems if found)
    return Finding(subject="ledger", check="nodes", outcome=FindingOutcome.FAILED,
                   detail=detail)
