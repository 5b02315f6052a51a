"""The ledger's Merkle tree (RFC 9162 section 2.1): published vectors, a reference built
from the RFC's recursive definitions, tampered proofs and bad input."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import cast

import pytest

from manifests import (
    InvalidProof,
    VerificationError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    roots_for_sizes,
    verify_consistency,
    verify_inclusion,
)

# ---------------------------------------------------------------------------------------
# Published vectors: the Certificate Transparency reference tree of 8 leaves (RFC 6962
# test data, from the CT reference implementation's merkle_tree_test.cc). Copied from
# github.com/transparency-dev/merkle: testonly/constants.go (LeafInputs, NodeHashes,
# RootHashes) and proof/verify_test.go (inclusionProofs, consistencyProofs). There the
# inclusion vectors count leaves from 1; here `index` counts from 0, as RFC 9162 does.
# ---------------------------------------------------------------------------------------
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_HASHES = [leaf_hash(d) for d in CT_LEAVES]

# (size, root): RootHashes, size 0 being SHA-256 of the empty string.
CT_ROOTS = [
    (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    (2, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    (3, "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    (4, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    (5, "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    (6, "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    (7, "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    (8, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# (level, position, hash): NodeHashes, every complete subtree; level 0 is the leaf hashes.
CT_NODES = [
    (0, 0, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    (0, 1, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
    (0, 2, "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
    (0, 3, "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
    (0, 4, "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    (0, 5, "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
    (0, 6, "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
    (0, 7, "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    (1, 0, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    (1, 1, "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
    (1, 2, "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
    (1, 3, "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    (2, 0, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    (2, 1, "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    (3, 0, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]

# (index, size, proof): inclusionProofs.
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, proof): consistencyProofs.
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


@pytest.mark.parametrize(("level", "position", "expected"), CT_NODES)
def test_ct_subtree_hashes(level: int, position: int, expected: str) -> None:
    width = 1 << level
    subtree = CT_HASHES[position * width : (position + 1) * width]
    assert root_hash(subtree).hex() == expected
    if level == 0:
        assert leaf_hash(CT_LEAVES[position]).hex() == expected
    else:
        half = width // 2
        left, right = root_hash(subtree[:half]), root_hash(subtree[half:])
        assert node_hash(left, right).hex() == expected


@pytest.mark.parametrize(("size", "expected"), CT_ROOTS)
def test_ct_roots(size: int, expected: str) -> None:
    assert root_hash(CT_HASHES[:size]).hex() == expected
    assert roots_for_sizes(CT_HASHES, [size]) == {size: bytes.fromhex(expected)}


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_ct_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    expected = tuple(bytes.fromhex(h) for h in proof)
    assert inclusion_proof(CT_HASHES[:size], index) == expected
    root = bytes.fromhex(dict(CT_ROOTS)[size])
    assert (
        verify_inclusion(leaf=CT_HASHES[index], index=index, size=size, proof=expected, root=root)
        == root
    )


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CT_CONSISTENCY)
def test_ct_consistency_proofs(old_size: int, new_size: int, proof: list[str]) -> None:
    expected = tuple(bytes.fromhex(h) for h in proof)
    assert consistency_proof(CT_HASHES[:new_size], old_size) == expected
    roots = dict(CT_ROOTS)
    old_root, new_root = bytes.fromhex(roots[old_size]), bytes.fromhex(roots[new_size])
    got = verify_consistency(
        old_size=old_size, new_size=new_size, old_root=old_root, new_root=new_root, proof=expected
    )
    assert got == new_root


# ---------------------------------------------------------------------------------------
# A reference written straight from RFC 9162 section 2.1's recursive definitions: plain
# lists and slices, over the leaf data D (not leaf hashes), sharing no code with the module.
# ---------------------------------------------------------------------------------------
def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (2.1.1), by counting."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]), 2.1.1."""
    if not d:
        return _sha256(b"")
    if len(d) == 1:
        return _sha256(b"\x00" + d[0])
    k = ref_k(len(d))
    return _sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), 2.1.3.1."""
    if len(d) == 1:
        return []
    k = ref_k(len(d))
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), 2.1.4.1."""
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = ref_k(len(d))
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), 2.1.4.1."""
    return ref_subproof(m, d, True)


def ref_root_from_path(m: int, n: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """Undo PATH(m, D[n]): the root the path leads to, or None if its shape is wrong."""
    if n == 1:
        return None if path else leaf
    if not path:
        return None
    k = ref_k(n)
    if m < k:
        sub = ref_root_from_path(m, k, leaf, path[:-1])
        return None if sub is None else _sha256(b"\x01" + sub + path[-1])
    sub = ref_root_from_path(m - k, n - k, leaf, path[:-1])
    return None if sub is None else _sha256(b"\x01" + path[-1] + sub)


def ref_roots_from_proof(
    m: int, n: int, proof: list[bytes], b: bool, old_root: bytes
) -> tuple[bytes, bytes] | None:
    """Undo SUBPROOF(m, D[n], b): the (old, new) roots it leads to, or None if misshapen."""
    if m == n:
        if b:
            return None if proof else (old_root, old_root)
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k = ref_k(n)
    if m <= k:
        sub = ref_roots_from_proof(m, k, proof[:-1], b, old_root)
        return None if sub is None else (sub[0], _sha256(b"\x01" + sub[1] + proof[-1]))
    sub = ref_roots_from_proof(m - k, n - k, proof[:-1], False, old_root)
    if sub is None:
        return None
    return _sha256(b"\x01" + proof[-1] + sub[0]), _sha256(b"\x01" + proof[-1] + sub[1])


DATA = [b"", b"\x00", *(f"ledger entry {i}".encode() * (i % 4) for i in range(2, 64))]
HASHES = [leaf_hash(d) for d in DATA]
REF_ROOTS = {n: ref_mth(DATA[:n]) for n in range(65)}


def test_reference_agrees_with_ct_vectors() -> None:
    assert [ref_mth(CT_LEAVES[:n]).hex() for n in range(9)] == [h for _, h in CT_ROOTS]


@pytest.mark.parametrize("size", range(1, 65))
def test_every_inclusion_proof_matches_the_reference(size: int) -> None:
    root = root_hash(HASHES[:size])
    assert root == REF_ROOTS[size]
    for index in range(size):
        proof = inclusion_proof(HASHES[:size], index)
        assert list(proof) == ref_path(index, DATA[:size])
        got = verify_inclusion(leaf=HASHES[index], index=index, size=size, proof=proof, root=root)
        assert got == root


@pytest.mark.parametrize("new_size", range(1, 65))
def test_every_consistency_proof_matches_the_reference(new_size: int) -> None:
    new_root = REF_ROOTS[new_size]
    for old_size in range(1, new_size + 1):
        proof = consistency_proof(HASHES[:new_size], old_size)
        expected = ref_proof(old_size, DATA[:new_size]) if old_size < new_size else []
        assert list(proof) == expected
        got = verify_consistency(
            old_size=old_size,
            new_size=new_size,
            old_root=REF_ROOTS[old_size],
            new_root=new_root,
            proof=proof,
        )
        assert got == new_root


def test_roots_for_sizes_is_root_hash_of_each_prefix() -> None:
    sizes = [64, 0, 5, 5, 1, 33, 32, 63, 2]
    assert roots_for_sizes(HASHES, sizes) == {s: REF_ROOTS[s] for s in sizes}
    assert roots_for_sizes(HASHES, range(65)) == REF_ROOTS
    assert roots_for_sizes(HASHES, []) == {}


def _accepts_inclusion(
    *, leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> bool:
    try:
        verify_inclusion(leaf=leaf, index=index, size=size, proof=proof, root=root)
    except VerificationError:
        return False
    return True


def _accepts_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    try:
        verify_consistency(
            old_size=old_size, new_size=new_size, old_root=old_root, new_root=new_root, proof=proof
        )
    except VerificationError:
        return False
    return True


@pytest.mark.parametrize("size", range(1, 17))
def test_inclusion_accepts_exactly_what_the_reference_accepts(size: int) -> None:
    # Each proof, claimed for every (index, size) up to 18: the RFC's bit-walking check
    # (2.1.3.2) must agree with undoing the recursive PATH, acceptance and rejection alike.
    root = REF_ROOTS[size]
    for index in range(size):
        proof = ref_path(index, DATA[:size])
        for claimed_size in range(19):
            for claimed_index in range(claimed_size):
                derived = ref_root_from_path(claimed_index, claimed_size, HASHES[index], proof)
                got = _accepts_inclusion(
                    leaf=HASHES[index],
                    index=claimed_index,
                    size=claimed_size,
                    proof=proof,
                    root=root,
                )
                assert got == (derived == root), (index, size, claimed_index, claimed_size)


@pytest.mark.parametrize("new_size", range(2, 17))
def test_consistency_accepts_exactly_what_the_reference_accepts(new_size: int) -> None:
    new_root = REF_ROOTS[new_size]
    for old_size in range(1, new_size):
        old_root = REF_ROOTS[old_size]
        proof = ref_proof(old_size, DATA[:new_size])
        for claimed_new in range(2, 19):
            for claimed_old in range(1, claimed_new):
                derived = ref_roots_from_proof(claimed_old, claimed_new, proof, True, old_root)
                got = _accepts_consistency(
                    old_size=claimed_old,
                    new_size=claimed_new,
                    old_root=old_root,
                    new_root=new_root,
                    proof=proof,
                )
                assert got == (derived == (old_root, new_root)), (
                    old_size,
                    new_size,
                    claimed_old,
                    claimed_new,
                )


def test_a_proof_binds_a_leaf_to_a_root_not_a_root_to_a_size() -> None:
    # Sizes 3 and 4 share the shape of leaf 0's path: the size must come with the root,
    # from one signed checkpoint (as the module docstring says).
    proof = inclusion_proof(HASHES[:3], 0)
    root = REF_ROOTS[3]
    assert verify_inclusion(leaf=HASHES[0], index=0, size=4, proof=proof, root=root) == root


# ---------------------------------------------------------------------------------------
# Tampering: every altered claim fails, with the cause in the message.
# ---------------------------------------------------------------------------------------
INCLUSION_SAMPLES = [(2, 1), (3, 2), (5, 1), (7, 6), (8, 0), (8, 5), (13, 9), (37, 20), (64, 63)]
CONSISTENCY_SAMPLES = [(1, 2), (1, 8), (2, 5), (3, 7), (4, 6), (6, 7), (7, 8), (13, 37), (32, 64)]
MISMATCH = r"root [0-9a-f]{64} does not match the path"


def _flip(h: bytes, at: int = 0) -> bytes:
    return h[:at] + bytes([h[at] ^ 0x08]) + h[at + 1 :]


@pytest.mark.parametrize(("size", "index"), INCLUSION_SAMPLES)
def test_inclusion_tampering_is_caught(size: int, index: int) -> None:
    leaf, root = HASHES[index], REF_ROOTS[size]
    proof = inclusion_proof(HASHES[:size], index)

    def check(match: str, **changes: object) -> None:
        claim = {"leaf": leaf, "index": index, "size": size, "proof": proof, "root": root}
        claim.update(changes)
        with pytest.raises(VerificationError, match=match):
            verify_inclusion(**claim)  # type: ignore[arg-type]

    for i in range(len(proof)):
        for at in (0, 31):
            check(MISMATCH, proof=(*proof[:i], _flip(proof[i], at), *proof[i + 1 :]))
    wrong_index = index + 1 if index + 1 < size else index - 1
    check(r"inclusion proof: (too (many|few) hashes|root .* does not match)", index=wrong_index)
    check(r"inclusion proof: index \d+ is not below size", index=size)
    check(r"inclusion proof: too (many|few) hashes", size=size * 2)
    check(r"inclusion proof: too few hashes", proof=proof[:-1])
    check(r"inclusion proof: too many hashes", proof=(*proof, root))
    check(r"inclusion proof: too many hashes", proof=(root, *proof))
    check(MISMATCH, leaf=HASHES[index - 1 if index else index + 1])
    check(MISMATCH, leaf=_flip(leaf, 31))
    check(MISMATCH, root=_flip(root))
    check(MISMATCH, root=REF_ROOTS[size - 1])


def test_single_leaf_tree_tampering_is_caught() -> None:
    leaf = HASHES[0]
    assert verify_inclusion(leaf=leaf, index=0, size=1, proof=(), root=leaf) == leaf
    with pytest.raises(VerificationError, match=MISMATCH):
        verify_inclusion(leaf=leaf, index=0, size=1, proof=(), root=HASHES[1])
    with pytest.raises(VerificationError, match="too many hashes"):
        verify_inclusion(leaf=leaf, index=0, size=1, proof=(HASHES[1],), root=leaf)
    with pytest.raises(VerificationError, match="index 0 is not below size 0"):
        verify_inclusion(leaf=leaf, index=0, size=0, proof=(), root=REF_ROOTS[0])


@pytest.mark.parametrize(("old_size", "new_size"), CONSISTENCY_SAMPLES)
def test_consistency_tampering_is_caught(old_size: int, new_size: int) -> None:
    old_root, new_root = REF_ROOTS[old_size], REF_ROOTS[new_size]
    proof = consistency_proof(HASHES[:new_size], old_size)

    def check(match: str, **changes: object) -> None:
        claim = {
            "old_size": old_size,
            "new_size": new_size,
            "old_root": old_root,
            "new_root": new_root,
            "proof": proof,
        }
        claim.update(changes)
        with pytest.raises(VerificationError, match=match):
            verify_consistency(**claim)  # type: ignore[arg-type]

    either = r"consistency proof: (old|new) " + MISMATCH
    check(either, old_root=_flip(old_root))
    check(either, old_root=REF_ROOTS[old_size + 1])
    check(r"consistency proof: new " + MISMATCH, new_root=_flip(new_root, 31))
    check(r"consistency proof: new " + MISMATCH, new_root=REF_ROOTS[new_size - 1])
    check(either, old_root=new_root, new_root=old_root)
    for i in range(len(proof)):
        check(either, proof=(*proof[:i], _flip(proof[i]), *proof[i + 1 :]))
    check(r"old size \d+ > new \d+", old_size=new_size, new_size=old_size)
    check(r"old size \d+ > new \d+", old_size=new_size + 1)
    check(r"consistency proof: too few hashes \(\d+\)", proof=proof[:-1])
    check(r"consistency proof: too few hashes \(0\)", proof=())
    check(r"consistency proof: too many hashes", proof=(*proof, new_root))
    check(r"consistency proof: too many hashes", proof=(old_root, *proof))
    check(r"consistency proof: too many hashes", old_size=new_size, old_root=new_root)


def test_consistency_from_empty_and_between_equal_sizes() -> None:
    empty, root = REF_ROOTS[0], REF_ROOTS[5]
    assert (
        verify_consistency(old_size=0, new_size=5, old_root=empty, new_root=root, proof=()) == root
    )
    assert (
        verify_consistency(old_size=0, new_size=0, old_root=empty, new_root=empty, proof=())
        == empty
    )
    assert (
        verify_consistency(old_size=5, new_size=5, old_root=root, new_root=root, proof=()) == root
    )
    assert consistency_proof(HASHES[:5], 0) == ()
    assert consistency_proof(HASHES[:5], 5) == ()
    with pytest.raises(VerificationError, match="old root is not the empty tree's"):
        verify_consistency(old_size=0, new_size=5, old_root=root, new_root=root, proof=())
    with pytest.raises(VerificationError, match=r"too many hashes \(1\)"):
        verify_consistency(old_size=0, new_size=5, old_root=empty, new_root=root, proof=(root,))
    with pytest.raises(VerificationError, match=r"too many hashes \(1\)"):
        verify_consistency(old_size=5, new_size=5, old_root=root, new_root=root, proof=(root,))
    with pytest.raises(VerificationError, match="equal sizes, different roots"):
        verify_consistency(old_size=5, new_size=5, old_root=root, new_root=empty, proof=())
    with pytest.raises(VerificationError, match="equal sizes, different roots"):
        verify_consistency(old_size=0, new_size=0, old_root=empty, new_root=root, proof=())


# ---------------------------------------------------------------------------------------
# Bad input: building raises InvalidProof; checking raises VerificationError.
# ---------------------------------------------------------------------------------------
SHORT, LONG = bytes(31), bytes(33)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: root_hash([HASHES[0], SHORT]), "leaf hash 1 is 31 bytes, not 32"),
        (lambda: root_hash([cast(bytes, "ab" * 16)]), "leaf hash 0 is str, not 32 bytes"),
        (lambda: node_hash(HASHES[0], LONG), "child 1 is 33 bytes, not 32"),
        (lambda: inclusion_proof([*HASHES[:4], b""], 0), "leaf hash 4 is 0 bytes"),
        (lambda: inclusion_proof(HASHES[:4], -1), r"index -1 outside 0\.\.3"),
        (lambda: inclusion_proof(HASHES[:4], 4), r"index 4 outside 0\.\.3"),
        (lambda: inclusion_proof([], 0), r"index 0 outside 0\.\.-1"),
        (lambda: consistency_proof([SHORT], 0), "leaf hash 0 is 31 bytes"),
        (lambda: consistency_proof(HASHES[:4], -1), r"old size -1 outside 0\.\.4"),
        (lambda: consistency_proof(HASHES[:4], 5), r"old size 5 outside 0\.\.4"),
        (lambda: roots_for_sizes(HASHES[:4], [2, -1]), r"a size in \[-1, 2\] is outside 0\.\.4"),
        (lambda: roots_for_sizes(HASHES[:4], [5]), r"a size in \[5\] is outside 0\.\.4"),
        (lambda: roots_for_sizes([LONG], [1]), "leaf hash 0 is 33 bytes"),
    ],
)
def test_building_from_bad_input_raises_invalid_proof(
    call: Callable[[], object], match: str
) -> None:
    with pytest.raises(InvalidProof, match=match):
        call()


def _inclusion(**changes: object) -> object:
    claim: dict[str, object] = {
        "leaf": HASHES[5],
        "index": 5,
        "size": 8,
        "proof": inclusion_proof(HASHES[:8], 5),
        "root": REF_ROOTS[8],
    }
    claim.update(changes)
    return verify_inclusion(**claim)  # type: ignore[arg-type]


def _consistency(**changes: object) -> object:
    claim: dict[str, object] = {
        "old_size": 3,
        "new_size": 8,
        "old_root": REF_ROOTS[3],
        "new_root": REF_ROOTS[8],
        "proof": consistency_proof(HASHES[:8], 3),
    }
    claim.update(changes)
    return verify_consistency(**claim)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("check", "changes", "match"),
    [
        (_inclusion, {"leaf": SHORT}, "inclusion proof: leaf is 31 bytes, not 32"),
        (_inclusion, {"root": b""}, "inclusion proof: root is 0 bytes, not 32"),
        (_inclusion, {"root": cast(bytes, None)}, "inclusion proof: root is NoneType, not 32"),
        (_inclusion, {"proof": (HASHES[1], LONG)}, r"inclusion proof: proof\[1\] is 33 bytes"),
        (_inclusion, {"index": -1}, "inclusion proof: negative index -1 or size 8"),
        (_inclusion, {"size": -8}, "inclusion proof: negative index 5 or size -8"),
        (_consistency, {"old_root": SHORT}, "consistency proof: old_root is 31 bytes"),
        (_consistency, {"new_root": LONG}, "consistency proof: new_root is 33 bytes"),
        (_consistency, {"proof": (b"",)}, r"consistency proof: proof\[0\] is 0 bytes"),
        (_consistency, {"old_size": -3}, "consistency proof: negative size -3 or 8"),
        (_consistency, {"new_size": -1}, "consistency proof: negative size 3 or -1"),
    ],
)
def test_checking_bad_input_is_a_failed_check(
    check: Callable[..., object], changes: dict[str, object], match: str
) -> None:
    with pytest.raises(VerificationError, match=match):
        check(**changes)
