"""The custody ledger's tree head and proofs from its stored subtree hashes (the
``ledger_nodes`` table), reading O(log n) rows instead of every event body.

A *node* ``(level, idx)`` is the hash of the complete subtree of ``2**level`` leaves that
starts at leaf ``idx * 2**level``; level 0 holds the leaf hashes. Sequencing
(``custody.ledger.sequence_events``) writes each node once, when its last leaf is
sequenced, in the transaction that gives the leaves their indexes.

Promised: ``root``, ``inclusion_proof`` and ``consistency_proof`` return byte for byte
what ``manifests.root_hash``, ``manifests.inclusion_proof`` and
``manifests.consistency_proof`` return over the ledger's leaf hashes (RFC 9162 section
2.1; property tests hold them equal). Every range the RFC's recursion names, MTH(D[lo:hi]),
starts at a multiple of the smallest power of two >= its size, so it is the fold, from the
right, of the aligned complete subtrees of its binary decomposition (``cover``): at most
log2(n) nodes. A root reads at most log2(n) nodes, a proof O(log² n).

The math is pure; the rows are read through a ``Fetch`` (``custody.ledger`` gives one on
an SQLAlchemy session, ``views.custody`` one on the read path's ``Reader``) with the SQL
of ``nodes_query``/``leaves_query``. A node row that is missing is computed from its
children, down to the event bodies: slower, never wrong. This module imports neither
SQLAlchemy nor the ORM (the read path loads it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from preserver.errors import IntegrityError

Key = tuple[int, int]  # (level, idx)
Range = tuple[int, int]  # leaves [lo, hi)
EMPTY_ROOT = hashlib.sha256(b"").digest()
_CHUNK = 250  # keys per query: 500 parameters, below every SQLite build's limit


@dataclass(frozen=True, kw_only=True)
class Fetch:
    """How to read rows: ``nodes(keys)`` returns the stored hashes it has of those keys;
    ``leaves(indexes)`` the leaf hashes of those sequenced events' bodies."""

    nodes: Callable[[Sequence[Key]], Awaitable[dict[Key, bytes]]]
    leaves: Callable[[Sequence[int]], Awaitable[dict[int, bytes]]]


def node(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): RFC 9162 section 2.1.1."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf(body: bytes) -> bytes:
    """SHA-256(0x00 || body): RFC 9162 section 2.1.1."""
    return hashlib.sha256(b"\x00" + body).digest()


def cover(lo: int, hi: int) -> list[Key]:
    """The aligned complete subtrees that make up leaves [lo, hi), largest first: one per
    set bit of ``hi - lo``. ``lo`` must be aligned (a multiple of the smallest power of two
    >= hi - lo), as every range of RFC 9162's recursion is."""
    n = hi - lo
    if n <= 0 or lo % (1 << (n - 1).bit_length()):
        raise IntegrityError(f"ledger nodes: leaves [{lo}, {hi}) are not an aligned range")
    keys: list[Key] = []
    pos = lo
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            keys.append((level, pos >> level))
            pos += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its cover's hashes: HASH(0x01 || c1 || HASH(0x01 || c2 || …))."""
    out = hashes[-1]
    for h in reversed(hashes[:-1]):
        out = node(h, out)
    return out


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)  # 2.1.1: largest power of two k < n


def path_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTH make up PATH(index, D[size]) (section 2.1.3.1), deepest first."""
    if not 0 <= index < size:
        raise IntegrityError(f"inclusion proof: index {index} outside 0..{size - 1}")
    out: list[Range] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m = lo + k, m - k
    return out[::-1]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The ranges whose MTH make up PROOF(old, D[new]) (section 2.1.4.1); none for old 0
    or old == new."""
    if not 0 <= old <= new:
        raise IntegrityError(f"consistency proof: old size {old} outside 0..{new}")
    if old in (0, new):
        return []
    out: list[Range] = []
    lo, hi, m, whole = 0, new, old, True
    while hi - lo != m:
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        out.append((lo, hi))
    return out[::-1]


async def hashes_of(fetch: Fetch, ranges: Iterable[Range]) -> dict[Range, bytes]:
    """The MTH of each range, from the fewest rows: its cover's nodes."""
    ranges = list(ranges)
    known = await resolve(fetch, {k for r in ranges for k in cover(*r)})
    return {r: fold([known[k] for k in cover(*r)]) for r in ranges}


async def resolve(fetch: Fetch, keys: Iterable[Key]) -> dict[Key, bytes]:
    """The hash of each node: its row or, when the row is missing, computed from its
    children and, at the bottom, from the event bodies."""
    want = set(keys)
    known: dict[Key, bytes] = {}
    computed: list[Key] = []  # missing nodes, to hash from their children, deepest last
    while want:
        ordered = sorted(want)
        for at in range(0, len(ordered), _CHUNK):
            known.update(await fetch.nodes(ordered[at:at + _CHUNK]))
        missing = want - known.keys()
        leaves = sorted(i for level, i in missing if level == 0)
        if leaves:
            found: dict[int, bytes] = {}
            for at in range(0, len(leaves), _CHUNK):
                found.update(await fetch.leaves(leaves[at:at + _CHUNK]))
            if len(found) != len(leaves):
                lost = min(set(leaves) - found.keys())
                raise IntegrityError(f"the custody ledger has no event at leaf {lost} "
                                     "(run `preserver verify`)")
            known.update(((0, i), h) for i, h in found.items())
        computed.extend(k for k in missing if k[0] > 0)
        want = {c for level, i in missing if level > 0
                for c in ((level - 1, 2 * i), (level - 1, 2 * i + 1))} - known.keys()
    for level, i in sorted(computed):
        known[(level, i)] = node(known[(level - 1, 2 * i)], known[(level - 1, 2 * i + 1)])
    return known


async def root(fetch: Fetch, size: int) -> bytes:
    """MTH(D[size]); SHA-256("") for the empty ledger."""
    if size == 0:
        return EMPTY_ROOT
    return (await hashes_of(fetch, [(0, size)]))[(0, size)]


async def inclusion_proof(fetch: Fetch, index: int, size: int) -> tuple[bytes, ...]:
    """PATH(index, D[size]), deepest first, as ``manifests.inclusion_proof``."""
    ranges = path_ranges(index, size)
    got = await hashes_of(fetch, ranges)
    return tuple(got[r] for r in ranges)


async def consistency_proof(fetch: Fetch, old: int, new: int) -> tuple[bytes, ...]:
    """PROOF(old, D[new]), as ``manifests.consistency_proof``."""
    ranges = consistency_ranges(old, new)
    got = await hashes_of(fetch, ranges)
    return tuple(got[r] for r in ranges)


def frontier(size: int) -> list[Key]:
    """The nodes a ledger of ``size`` leaves grows from: ``cover(0, size)``."""
    return cover(0, size) if size else []


Node = tuple[Key, bytes]


def grow(start: Sequence[Node], first: int,
         new_leaves: Sequence[bytes]) -> tuple[list[Node], list[Node]]:
    """Every node completed by appending ``new_leaves`` at leaf ``first``, given the
    frontier's hashes ``start`` (``frontier(first)`` with its hashes): a binary counter,
    amortised O(1) hashes per leaf. Returns (the new nodes, level 0 included; the
    frontier after them)."""
    stack = list(start)
    out: list[Node] = []
    for offset, h in enumerate(new_leaves):
        i = first + offset
        item: Node = ((0, i), h)
        out.append(item)
        while stack and stack[-1][0][0] == item[0][0]:  # two equal subtrees: a carry
            (level, idx), left = stack.pop()
            item = ((level + 1, idx >> 1), node(left, item[1]))
            out.append(item)
        stack.append(item)
    return out, stack


def nodes_query(keys: Sequence[Key]) -> tuple[str, dict[str, int]]:
    """SQL reading the stored hashes of ``keys`` (level, idx, hash), and its parameters."""
    terms, params = [], {}
    for n, (level, idx) in enumerate(keys):
        terms.append(f"(level = :l{n} AND idx = :i{n})")
        params[f"l{n}"], params[f"i{n}"] = level, idx
    return ("SELECT level, idx, hash FROM ledger_nodes WHERE " + (" OR ".join(terms) or "0 = 1"),
            params)


def leaves_query(indexes: Sequence[int]) -> tuple[str, dict[str, int]]:
    """SQL reading the bodies (seq, body) of the sequenced events at ``indexes``."""
    params = {f"s{n}": i for n, i in enumerate(indexes)}
    inside = ", ".join(f":{p}" for p in params) or "NULL"
    return f"SELECT seq, body FROM events WHERE seq IN ({inside})", params
