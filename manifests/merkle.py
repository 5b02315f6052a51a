"""The ledger's append-only Merkle tree: RFC 9162 (Certificate Transparency 2.0) section 2.1.

The ledger is a list of leaf hashes. This module computes its tree head
(``root_hash``), proves that a leaf is in the tree (``inclusion_proof``) and that a
larger tree extends a smaller one (``consistency_proof``), and checks such proofs
(``verify_inclusion``, ``verify_consistency``). The hashing is RFC 6962's, kept by
RFC 9162: SHA-256 with 0x00 before a leaf and 0x01 before two children. Roots and
proofs therefore match every Certificate Transparency implementation byte for byte.

    >>> leaves = [leaf_hash(entry) for entry in (b"first", b"second", b"third")]
    >>> root = root_hash(leaves)
    >>> proof = inclusion_proof(leaves, 1)
    >>> verify_inclusion(leaf=leaves[1], index=1, size=3, proof=proof, root=root) == root
    True
    >>> old_root = root_hash(leaves[:2])
    >>> verify_consistency(old_size=2, new_size=3, old_root=old_root, new_root=root,
    ...                    proof=consistency_proof(leaves, 2)) == root
    True

A checker returns the root it verified, or raises ``VerificationError`` for any
false or unreadable claim (a hash not 32 bytes, an index outside the tree). A
builder given leaves or an index that no proof exists for raises ``InvalidProof``.

A proof binds a leaf to a root, not a root to a size: trees of different sizes
can share a proof's shape. Take the size and the root from the same signed checkpoint.

Builders recurse over index ranges, never copies: each is O(n) hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from manifests.errors import InvalidProof, VerificationError

_HASH_SIZE = 32  # SHA-256, the HASH of RFC 6962 section 2.1 that this ledger uses
_EMPTY_ROOT = hashlib.sha256(b"").digest()  # 2.1.1: MTH({}) = HASH(), no leaves


def leaf_hash(data: bytes) -> bytes:
    """The hash of one ledger entry: SHA-256(0x00 || data), RFC 9162 section 2.1.1."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of two subtrees: SHA-256(0x01 || left || right), section 2.1.1."""
    _check_hashes("child", (left, right))
    return _node(left, right)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head MTH(D[n]) of these leaf hashes (section 2.1.1); SHA-256("") if none."""
    _check_hashes("leaf hash", leaf_hashes)
    if not leaf_hashes:
        return _EMPTY_ROOT
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def roots_for_sizes(leaf_hashes: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The root of each prefix ``leaf_hashes[:size]``, in one pass over the leaves.

    Equal to ``{s: root_hash(leaf_hashes[:s]) for s in sizes}``, in O(n + k log n) hashes.
    """
    _check_hashes("leaf hash", leaf_hashes)
    wanted = sorted(set(sizes))
    if wanted and not (wanted[0] >= 0 and wanted[-1] <= len(leaf_hashes)):
        raise InvalidProof(f"roots: a size in {wanted} is outside 0..{len(leaf_hashes)}")
    roots: dict[int, bytes] = {}
    # The perfect subtrees of the first `count` leaves, largest first: one per set bit
    # of `count`, which are the left subtrees that 2.1.1's split k peels off in turn.
    stack: list[bytes] = []
    count = 0
    for size in wanted:
        while count < size:
            stack.append(leaf_hashes[count])
            count += 1
            merges = (count & -count).bit_length() - 1  # two equal subtrees join per 0 bit
            for _ in range(merges):
                right = stack.pop()
                stack.append(_node(stack.pop(), right))
        root = stack[-1] if stack else _EMPTY_ROOT
        for left in reversed(stack[:-1]):  # 2.1.1: MTH = HASH(0x01 || MTH(D[0:k]) || ...)
            root = _node(left, root)
        roots[size] = root
    return roots


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """The audit path PATH(index, D[n]) for leaf ``index`` (section 2.1.3.1), deepest first."""
    _check_hashes("leaf hash", leaf_hashes)
    if not 0 <= index < len(leaf_hashes):
        raise InvalidProof(f"inclusion proof: index {index} outside 0..{len(leaf_hashes) - 1}")
    path: list[bytes] = []
    _path(leaf_hashes, index, 0, len(leaf_hashes), path)
    return tuple(path)


def verify_inclusion(
    *, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bytes:
    """Check that the leaf hash ``leaf`` is leaf ``index`` of the tree of ``size`` leaves
    whose head is ``root``, by the algorithm of section 2.1.3.2. Returns ``root``."""
    _claim("inclusion proof", proof, leaf=leaf, root=root)
    if index < 0 or size < 0:
        raise VerificationError(f"inclusion proof: negative index {index} or size {size}")
    if index >= size:  # 2.1.3.2 step 1
        raise VerificationError(f"inclusion proof: index {index} is not below size {size}")
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in proof:  # step 4
        if sn == 0:  # step 4a
            raise VerificationError(f"inclusion proof: too many hashes ({len(proof)})")
        if fn & 1 or fn == sn:  # step 4b
            r = _node(p, r)
            while not fn & 1 and fn != 0:  # step 4b.ii
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1  # step 4c
    if sn != 0:  # step 5
        raise VerificationError(f"inclusion proof: too few hashes ({len(proof)})")
    if r != root:
        raise VerificationError(f"inclusion proof: root {root.hex()} does not match the path")
    return root


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> tuple[bytes, ...]:
    """PROOF(old_size, D[n]) (section 2.1.4.1): the tree of ``leaf_hashes`` extends its
    first ``old_size`` leaves. Empty for old size 0 or n, which need nothing proven."""
    _check_hashes("leaf hash", leaf_hashes)
    n = len(leaf_hashes)
    if not 0 <= old_size <= n:
        raise InvalidProof(f"consistency proof: old size {old_size} outside 0..{n}")
    if old_size in (0, n):
        return ()
    out: list[bytes] = []
    _subproof(leaf_hashes, old_size, 0, n, True, out)  # PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
    return tuple(out)


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bytes:
    """Check that the tree of ``new_size`` leaves with head ``new_root`` extends the tree of
    ``old_size`` leaves with head ``old_root``, by section 2.1.4.2. Returns ``new_root``.

    Beyond the RFC's 0 < old < new: from size 0 the old root must be SHA-256("") and
    the proof empty; between equal sizes the proof must be empty and the roots equal.
    """
    _claim("consistency proof", proof, old_root=old_root, new_root=new_root)
    if old_size < 0 or new_size < 0:
        raise VerificationError(f"consistency proof: negative size {old_size} or {new_size}")
    if old_size > new_size:
        raise VerificationError(f"consistency proof: old size {old_size} > new {new_size}")
    if old_size == 0 and old_root != _EMPTY_ROOT:  # 2.1.1: the empty tree's head
        raise VerificationError("consistency proof: old root is not the empty tree's")
    if old_size in (0, new_size):
        if proof:
            raise VerificationError(f"consistency proof: too many hashes ({len(proof)})")
        if old_size == new_size and old_root != new_root:
            raise VerificationError("consistency proof: equal sizes, different roots")
        return new_root
    if not proof:  # 2.1.4.2 step 1
        raise VerificationError("consistency proof: too few hashes (0)")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: old size is a power of 2
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # step 6a
            raise VerificationError(f"consistency proof: too many hashes ({len(proof)})")
        if fn & 1 or fn == sn:  # step 6b
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:  # step 6b.ii
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1  # step 6c
    if sn != 0:  # step 7
        raise VerificationError(f"consistency proof: too few hashes ({len(proof)})")
    if fr != old_root:
        raise VerificationError(
            f"consistency proof: old root {old_root.hex()} does not match the path"
        )
    if sr != new_root:
        raise VerificationError(
            f"consistency proof: new root {new_root.hex()} does not match the path"
        )
    return new_root


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()  # 2.1.1: HASH(0x01 || l || r)


def _split(n: int) -> int:
    # 2.1.1: "k is the largest power of two smaller than n (i.e., k < n <= 2k)", n > 1.
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    # 2.1.1: MTH(D[lo:hi]) for hi > lo; a one-leaf tree's head is its leaf hash.
    if hi - lo == 1:
        return leaves[lo]
    k = _split(hi - lo)
    return _node(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def _path(leaves: Sequence[bytes], m: int, lo: int, hi: int, out: list[bytes]) -> None:
    # 2.1.3.1: PATH(m, D[lo:hi]), m counted from lo; PATH(0, {d0}) = {}.
    if hi - lo == 1:
        return
    k = _split(hi - lo)
    if m < k:  # PATH(m, D[0:k]) : MTH(D[k:n])
        _path(leaves, m, lo, lo + k, out)
        out.append(_mth(leaves, lo + k, hi))
    else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
        _path(leaves, m - k, lo + k, hi, out)
        out.append(_mth(leaves, lo, lo + k))


def _subproof(
    leaves: Sequence[bytes], m: int, lo: int, hi: int, whole: bool, out: list[bytes]
) -> None:
    # 2.1.4.1: SUBPROOF(m, D[lo:hi], b), with b = `whole`, m counted from lo.
    if hi - lo == m:  # SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
        if not whole:
            out.append(_mth(leaves, lo, hi))
        return
    k = _split(hi - lo)
    if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
        _subproof(leaves, m, lo, lo + k, whole, out)
        out.append(_mth(leaves, lo + k, hi))
    else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
        _subproof(leaves, m - k, lo + k, hi, False, out)
        out.append(_mth(leaves, lo, lo + k))


def _fault(h: object) -> str | None:
    if not isinstance(h, bytes):
        return f"is {type(h).__name__}, not {_HASH_SIZE} bytes"
    return None if len(h) == _HASH_SIZE else f"is {len(h)} bytes, not {_HASH_SIZE}"


def _check_hashes(what: str, hashes: Iterable[bytes]) -> None:
    for i, h in enumerate(hashes):
        if fault := _fault(h):
            raise InvalidProof(f"{what} {i} {fault}")


def _claim(what: str, proof: Sequence[bytes], **named: bytes) -> None:
    for name, h in [*named.items(), *((f"proof[{i}]", p) for i, p in enumerate(proof))]:
        if fault := _fault(h):
            raise VerificationError(f"{what}: {name} {fault}")
