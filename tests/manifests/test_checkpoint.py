"""Checkpoints (c2sp.org/tlog-checkpoint) in signed notes (c2sp.org/signed-note)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from manifests import (
    Checkpoint,
    InvalidCheckpoint,
    InvalidKey,
    NoteSignature,
    SignedCheckpoint,
    SigningKey,
    VerificationError,
    sign_checkpoint,
    verify_checkpoint,
)
from manifests.signing import key_id, public_key_pem

# The key of the golang.org/x/mod/sumdb/note examples: signer key
# "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALV…", verifier key
# "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".
GO_NAME = "PeterNeumann"
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_PUBLIC = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]
GO_KEY_ID = bytes.fromhex("c74f20a3")
GO_TEXT = (b"If you think cryptography is the answer to your problem,\n"
           b"then you don't know what your problem is.\n")
GO_SIGNATURE = base64.b64decode(
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)

ORIGIN = "preserver.example/custody"
ROOT = hashlib.sha256(b"custody").digest()

# sign_checkpoint(Checkpoint(origin=ORIGIN, size=42, root=ROOT), go key, name=GO_NAME)
EXPECTED_NOTE = (
    "preserver.example/custody\n"
    "42\n"
    "Iaf2HBXO9N3trgdta3OT8dPUqbXIcN9gygxZsZXvFgI=\n"
    "\n"
    "\u2014 PeterNeumann x08go2xEGKOnMgbZXW1m4PyRtpm9GfcJtcwqIfXB1c4Wbjqupd7+0vsvbwjAFoFV79hquty77W"
    "to0DYZ06Sk5lJowQI=\n"
).encode()


def make_key(seed: bytes) -> SigningKey:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return SigningKey(private_key=private, public_key_pem=public_key_pem(private.public_key()),
                      key_id=key_id(private.public_key()), created=False)


def note_key_id(name: str, public_key_pem: bytes) -> bytes:
    """signed-note "Ed25519 signatures", written here apart from the module under test."""
    public = serialization.load_pem_public_key(public_key_pem)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]


@pytest.fixture
def go_key() -> SigningKey:
    return make_key(GO_SEED)


@pytest.fixture
def key() -> SigningKey:
    return make_key(bytes(range(32)))


@pytest.fixture
def note(key: SigningKey) -> bytes:
    return sign_checkpoint(Checkpoint(origin=ORIGIN, size=42, root=ROOT), key, name=ORIGIN)


def verify(data: bytes, key: SigningKey, name: str = ORIGIN) -> Checkpoint:
    return verify_checkpoint(data, public_key_pem=key.public_key_pem, name=name)


def resign(body: bytes, key: SigningKey, name: str = ORIGIN) -> bytes:
    """A note over arbitrary ``body`` bytes, validly signed: isolates the parser's rules."""
    raw = note_key_id(name, key.public_key_pem) + key.private_key.sign(body)
    return body + f"\n\u2014 {name} {base64.b64encode(raw).decode()}\n".encode()


# --- the format -------------------------------------------------------------------


def test_the_go_vector_anchors_our_key_id_and_signature() -> None:
    # the independent key-ID formula of this file, against the Go reference's key
    public = Ed25519PrivateKey.from_private_bytes(GO_SEED).public_key()
    assert public.public_bytes(serialization.Encoding.Raw,
                               serialization.PublicFormat.Raw) == GO_PUBLIC
    assert note_key_id(GO_NAME, public_key_pem(public)) == GO_KEY_ID
    assert GO_SIGNATURE[:4] == GO_KEY_ID
    public.verify(GO_SIGNATURE[4:], GO_TEXT)


def test_signed_note_is_byte_exact(go_key: SigningKey) -> None:
    checkpoint = Checkpoint(origin=ORIGIN, size=42, root=ROOT)
    assert sign_checkpoint(checkpoint, go_key, name=GO_NAME) == EXPECTED_NOTE
    assert verify(EXPECTED_NOTE, go_key, GO_NAME) == checkpoint


def test_body_is_origin_size_root_extensions() -> None:
    checkpoint = Checkpoint(origin=ORIGIN, size=0, root=bytes(32), extensions=("a b", "c"))
    root = base64.b64encode(bytes(32)).decode()
    assert checkpoint.body() == f"{ORIGIN}\n0\n{root}\na b\nc\n".encode()
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint


def test_signature_line_holds_the_key_id_computed_independently(
    key: SigningKey, note: bytes
) -> None:
    line = note.decode().split("\n")[-2]
    dash, name, encoded = line.split(" ")
    assert (dash, name) == ("\u2014", ORIGIN)
    raw = base64.b64decode(encoded)
    assert len(raw) == 4 + 64
    assert raw[:4] == note_key_id(ORIGIN, key.public_key_pem)
    body = Checkpoint(origin=ORIGIN, size=42, root=ROOT).body()
    key.private_key.public_key().verify(raw[4:], body)  # over exactly the note text


def test_round_trip_with_extensions(key: SigningKey) -> None:
    checkpoint = Checkpoint(origin="log with spaces", size=2**64 - 1, root=ROOT,
                            extensions=("ext one", "\u00e9t\u00e9"))
    data = sign_checkpoint(checkpoint, key, name="example.com/log")
    assert verify(data, key, "example.com/log") == checkpoint
    parsed = SignedCheckpoint.from_text(data)
    assert parsed.checkpoint == checkpoint
    assert parsed.text == checkpoint.body()
    assert parsed.signatures == (NoteSignature(
        name="example.com/log", key_id=note_key_id("example.com/log", key.public_key_pem),
        signature=parsed.signatures[0].signature),)


def test_signatures_by_unknown_keys_are_ignored(key: SigningKey, go_key: SigningKey,
                                                note: bytes) -> None:
    other = sign_checkpoint(Checkpoint(origin=ORIGIN, size=42, root=ROOT), go_key, name=GO_NAME)
    cosigned = note + other.split(b"\n\n")[1]  # a second line, by a witness we do not know
    assert verify(cosigned, key).size == 42
    assert verify(cosigned, go_key, GO_NAME).size == 42


# --- verification failures ----------------------------------------------------------


def test_wrong_key_has_no_signature(go_key: SigningKey, note: bytes) -> None:
    with pytest.raises(VerificationError, match=f"checkpoint: no signature by {ORIGIN}"):
        verify(note, go_key)


def test_same_name_other_key_is_not_our_signature(go_key: SigningKey, note: bytes) -> None:
    # the name matches, the key ID does not: signed-note says to ignore it
    with pytest.raises(VerificationError, match="no signature by preserver.example/custody"):
        verify(note, go_key, ORIGIN)


def test_other_name_same_key_is_not_our_signature(key: SigningKey, note: bytes) -> None:
    with pytest.raises(VerificationError, match="no signature by example.org/other"):
        verify(note, key, "example.org/other")


@pytest.mark.parametrize(("old", "new"), [
    (b"\n42\n", b"\n43\n"),  # edited size
    (b"Iaf2", b"Jaf2"),  # edited root
    (b"preserver.example/custody\n42", b"preserver.example/custodz\n42"),  # edited origin
], ids=["edited_size", "edited_root", "edited_origin"])
def test_edited_note_text_is_a_bad_signature(go_key: SigningKey, old: bytes, new: bytes) -> None:
    edited = EXPECTED_NOTE.replace(old, new, 1)
    assert edited != EXPECTED_NOTE
    with pytest.raises(VerificationError, match="checkpoint: bad signature"):
        verify(edited, go_key, GO_NAME)


def test_flipped_signature_byte_is_a_bad_signature(go_key: SigningKey) -> None:
    line = EXPECTED_NOTE.split(b"\n")[-2]
    raw = bytearray(base64.b64decode(line.split(b" ")[2]))
    raw[-1] ^= 1
    flipped = EXPECTED_NOTE.replace(line.split(b" ")[2], base64.b64encode(bytes(raw)))
    with pytest.raises(VerificationError, match="checkpoint: bad signature"):
        verify(flipped, go_key, GO_NAME)


def test_short_signature_by_our_key_id_is_a_bad_signature(key: SigningKey, note: bytes) -> None:
    raw = note_key_id(ORIGIN, key.public_key_pem) + b"\x00" * 10
    short = note.split(b"\n\n")[0] + f"\n\n\u2014 {ORIGIN} {base64.b64encode(raw).decode()}\n".encode()
    with pytest.raises(VerificationError, match="bad signature: signature is 10 bytes"):
        verify(short, key)


def test_one_bad_line_by_our_key_rejects_the_note(key: SigningKey, note: bytes) -> None:
    raw = note_key_id(ORIGIN, key.public_key_pem) + bytes(64)
    bad = note + f"\u2014 {ORIGIN} {base64.b64encode(raw).decode()}\n".encode()
    with pytest.raises(VerificationError, match="checkpoint: bad signature"):
        verify(bad, key)


def test_verifier_key_not_ed25519(note: bytes) -> None:
    with pytest.raises(InvalidKey, match="not a PEM public key"):
        verify_checkpoint(note, public_key_pem=b"junk", name=ORIGIN)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\nb"],
                         ids=["empty", "space", "plus", "nbsp", "newline"])
def test_key_name_rules(key: SigningKey, note: bytes, name: str) -> None:
    checkpoint = Checkpoint(origin=ORIGIN, size=1, root=ROOT)
    with pytest.raises(InvalidCheckpoint, match="key name"):
        sign_checkpoint(checkpoint, key, name=name)
    with pytest.raises(InvalidCheckpoint, match="key name"):
        verify(note, key, name)


# --- malformed notes: one broken rule each ------------------------------------------

B64_ROOT = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(("body", "match"), [
    (f"{ORIGIN}\n42\n".encode(), "2 lines; at least 3"),
    (f"{ORIGIN}\n042\n{B64_ROOT}\n".encode(), "'042' is not a decimal without leading zeroes"),
    (f"{ORIGIN}\n-1\n{B64_ROOT}\n".encode(), "'-1' is not a decimal"),
    (f"{ORIGIN}\n+1\n{B64_ROOT}\n".encode(), "'\\+1' is not a decimal"),
    (f"{ORIGIN}\n1_0\n{B64_ROOT}\n".encode(), "'1_0' is not a decimal"),
    (f"{ORIGIN}\n\u0664\u0662\n{B64_ROOT}\n".encode(), "is not a decimal"),
    (f"{ORIGIN}\n{2**64}\n{B64_ROOT}\n".encode(), "outside 0..2\\*\\*64-1"),
    (f"{ORIGIN}\n{'9' * 5000}\n{B64_ROOT}\n".encode(), "tree size has 5000 digits"),
    (f"{ORIGIN}\n42\n{B64_ROOT[:-2]}!=\n".encode(), "root hash is not base64"),
    (f"{ORIGIN}\n42\n{B64_ROOT[:-1]}\n".encode(), "root hash is not base64"),
    (f"{ORIGIN}\n42\n{B64_ROOT[:-2]}J=\n".encode(), "root hash is not canonical base64"),
    (f"{ORIGIN}\n42\n{base64.b64encode(ROOT[:31]).decode()}\n".encode(),
     "root hash is 31 bytes; it must be 32"),
    (f"{ORIGIN}\n42\n{base64.b64encode(ROOT + b'x').decode()}\n".encode(),
     "root hash is 33 bytes"),
    (f"{ORIGIN}\n42\n{B64_ROOT}\n\next\n".encode(), "an empty line in the note text"),
    (f"\n42\n{B64_ROOT}\n".encode(), "an empty line"),
    (b"\xff\n42\n" + B64_ROOT.encode() + b"\n", "not UTF-8"),
    (f"{ORIGIN}\n42\n\u00e9{B64_ROOT[1:]}\n".encode(), "root hash is not base64"),
], ids=["two_lines", "size_leading_zero", "size_negative",
        "size_plus", "size_underscore", "size_arabic_digits", "size_above_uint64", "size_5000_digits",
        "root_bad_base64", "root_unpadded", "root_noncanonical_base64", "root_31_bytes",
        "root_33_bytes", "empty_extension_line", "empty_origin", "origin_not_utf8",
        "root_not_ascii"])
def test_malformed_note_text(key: SigningKey, body: bytes, match: str) -> None:
    with pytest.raises(InvalidCheckpoint, match=match):
        SignedCheckpoint.from_text(resign(body, key))
    with pytest.raises(InvalidCheckpoint, match=match):
        verify(resign(body, key), key)  # parse errors pass through verification


@pytest.mark.parametrize(("edit", "match"), [
    (lambda n: n.replace(b"\n", b"\r\n"), "control character"),
    (lambda n: n[:-1], "note does not end with a newline"),
    (lambda n: n + b"\n", "no signature lines"),
    (lambda n: n.replace(b"\n\n", b"\n"), "no blank line before the signatures"),
    (lambda n: n.replace(b"\n\n", b"\n\n\n"), "an empty line in the note text"),
    (lambda n: n.replace("\u2014 ".encode(), b"- "), "does not start with an em dash"),
    (lambda n: n.replace("\u2014 ".encode(), "\u2014".encode()), "does not start with an em dash"),
    (lambda n: n.replace("\u2014 ".encode(), "\u2013 ".encode()), "does not start with an em dash"),
    (lambda n: n.replace(b"custody ", b"custody  "), "is not '\u2014 <key name> <signature>'"),
    (lambda n: n.replace(b"=\n", b"= extra\n"), "is not '\u2014 <key name> <signature>'"),
    (lambda n: n[: n.rindex(b" ") + 1] + b"AAAA\n", "signature line 1 is too short"),
    (lambda n: n[: n.rindex(b" ") + 1] + b"****\n", "signature line 1 is not base64"),
    (lambda n: n.replace(b"custody\n", b"cust\x07ody\n", 1), "control character"),
    (lambda n: n.replace(b"42", b"4\xc3", 1), "not UTF-8"),
    (lambda n: n.replace(b"custody ", b"cust+ody "), "key name 'preserver.example/cust\\+ody'"),
    (lambda n: n + b"\xe2\x80\x94 x " + b"A" * (1 << 20) + b"\n", "larger than 1048576 bytes"),
], ids=["crlf", "missing_final_newline", "extra_trailing_newline", "no_blank_line",
        "extra_blank_line", "hyphen_not_em_dash", "em_dash_without_space", "en_dash",
        "two_spaces", "three_fields", "signature_too_short", "signature_bad_base64",
        "bell_in_origin", "invalid_utf8", "plus_in_key_name", "oversized"])
def test_malformed_note(note: bytes, edit: Callable[[bytes], bytes], match: str) -> None:
    with pytest.raises(InvalidCheckpoint, match=match):
        SignedCheckpoint.from_text(edit(note))


def test_at_most_100_signature_lines(key: SigningKey, note: bytes) -> None:
    line = note.split(b"\n\n")[1]
    assert SignedCheckpoint.from_text(note + line * 99).signatures[99].name == ORIGIN
    with pytest.raises(InvalidCheckpoint, match="101 signature lines; at most 100"):
        SignedCheckpoint.from_text(note + line * 100)


# --- the constructor's invariants ---------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"origin": ""}, "origin must be a non-empty string"),
    ({"origin": "a\nb"}, "origin contains a control character"),
    ({"origin": "a\rb"}, "origin contains a control character"),
    ({"origin": "\ud800"}, "origin is not valid UTF-8 text"),
    ({"size": -1}, "tree size -1 is outside"),
    ({"size": 2**64}, "is outside 0..2\\*\\*64-1"),
    ({"size": True}, "tree size must be an integer"),
    ({"size": 1.0}, "tree size must be an integer"),
    ({"root": ROOT[:31]}, "root hash must be 32 bytes"),
    ({"root": ROOT.hex()}, "root hash must be 32 bytes"),
    ({"extensions": ["x"]}, "extensions must be a tuple"),
    ({"extensions": ("",)}, "extension line must be a non-empty string"),
    ({"extensions": ("a\nb",)}, "extension line contains a control character"),
], ids=["empty_origin", "newline_in_origin", "cr_in_origin", "surrogate_origin",
        "negative_size", "size_above_uint64", "bool_size", "float_size", "short_root",
        "hex_root", "extensions_list", "empty_extension", "newline_in_extension"])
def test_checkpoint_invariants(kwargs: dict[str, object], match: str) -> None:
    values: dict[str, object] = {"origin": ORIGIN, "size": 1, "root": ROOT} | kwargs
    with pytest.raises(InvalidCheckpoint, match=match):
        Checkpoint(**values)  # type: ignore[arg-type]


def test_from_body_rejects_non_utf8() -> None:
    with pytest.raises(InvalidCheckpoint, match="checkpoint: not UTF-8"):
        Checkpoint.from_body(b"\xff\n1\n" + B64_ROOT.encode() + b"\n")


def test_from_body_needs_the_final_newline() -> None:
    # inside a note this cannot happen: the blank line then goes missing instead
    with pytest.raises(InvalidCheckpoint, match="note text does not end with a newline"):
        Checkpoint.from_body(f"{ORIGIN}\n42\n{B64_ROOT}".encode())
