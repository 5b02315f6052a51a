"""Transparency-log checkpoints (c2sp.org/tlog-checkpoint) in signed notes
(c2sp.org/signed-note), signed with the archive's Ed25519 key.

A checkpoint commits to the custody ledger's Merkle tree (RFC 6962) at one size::

    preserver.example/custody           origin
    42                                  tree size, decimal
    Kl2N0dO2rXoV6Iu2TdGsk1HLhE3JgMtvL6QpbN1K0Mc=   root hash, base64

    — preserver.example/custody <base64(4-byte key ID || 64-byte Ed25519 signature)>

Parsing is strict: bytes that are not exactly one well-formed note raise
``InvalidCheckpoint``; a well-formed note that the given key did not sign raises
``VerificationError``. Key IDs and signature lines follow the Go reference
(``golang.org/x/mod/sumdb/note``); the tests check them against its example key.

    >>> note = sign_checkpoint(Checkpoint(origin=o, size=42, root=root), key, name=o)
    >>> verify_checkpoint(note, public_key_pem=key.public_key_pem, name=o)
    Checkpoint(origin=..., size=42, root=b'...', extensions=())
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from manifests.errors import InvalidCheckpoint, VerificationError
from manifests.signing import SigningKey, load_public_key, sign, verify_signature

_EM_DASH = "\u2014"
_SIGNATURE_PREFIX = _EM_DASH + " "  # signed-note "Format": em dash, space
_ED25519 = b"\x01"  # signed-note "Signature types": 0x01 is Ed25519
_KEY_ID_SIZE = 4  # signed-note "Format": a uint32 key ID, big-endian
_ROOT_SIZE = 32  # a SHA-256 Merkle tree hash (RFC 6962 section 2.1)
_MAX_SIGNATURES = 100  # signed-note "Format": verifiers SHOULD bound; the Go reference uses 100
_MAX_NOTE = 1 << 20  # a checkpoint is a few hundred bytes; 1 MiB bounds the work
_MAX_SIZE = (1 << 64) - 1  # the tree size is a uint64 in RFC 6962 and the Go reference
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # tlog-checkpoint "Note text" 2: no leading zeroes
_MAX_DIGITS = len(str(_MAX_SIZE))  # counted before int(): a long line costs no conversion
_CONTROL = re.compile(r"[\x00-\x1f]")  # signed-note "Format": no ASCII controls but newline


def _check_line(what: str, line: str) -> None:
    """A non-empty line of UTF-8 text with no control character (``\\n`` included)."""
    if not isinstance(line, str) or not line:
        raise InvalidCheckpoint(f"checkpoint: {what} must be a non-empty string")
    if _CONTROL.search(line):
        raise InvalidCheckpoint(f"checkpoint: {what} contains a control character")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidCheckpoint(f"checkpoint: {what} is not valid UTF-8 text") from exc


def _check_key_name(name: str) -> None:
    # signed-note "Format": non-empty, no Unicode spaces, no plus (U+002B)
    _check_line("key name", name)
    if "+" in name or any(c.isspace() for c in name):
        raise InvalidCheckpoint(f"checkpoint: key name {name!r} contains a space or '+'")


def _b64decode(what: str, text: str) -> bytes:
    """Standard base64 (RFC 4648 section 4), padded and canonical: one text per value."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise InvalidCheckpoint(f"checkpoint: {what} is not base64: {exc}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise InvalidCheckpoint(f"checkpoint: {what} is not canonical base64")
    return raw


def _key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key ID of an Ed25519 key under ``name``.

    signed-note "Ed25519 signatures": SHA-256(name || 0x0A || 0x01 || 32-byte key)[:4].
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519 + raw).digest()[:_KEY_ID_SIZE]


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """The note text of a checkpoint; the constructor enforces tlog-checkpoint "Note text"."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)  # 1: non-empty (a URL is only RECOMMENDED)
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise InvalidCheckpoint("checkpoint: tree size must be an integer")
        if not 0 <= self.size <= _MAX_SIZE:  # 2: the number of leaves
            raise InvalidCheckpoint(f"checkpoint: tree size {self.size} is outside 0..2**64-1")
        if not isinstance(self.root, bytes) or len(self.root) != _ROOT_SIZE:  # 3
            raise InvalidCheckpoint(f"checkpoint: root hash must be {_ROOT_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise InvalidCheckpoint("checkpoint: extensions must be a tuple of lines")
        for line in self.extensions:  # 4: extension lines, if any, MUST be non-empty
            _check_line("extension line", line)

    def body(self) -> bytes:
        """The note text: origin, size, base64 root, extension lines, each ending in ``\\n``."""
        lines = (self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"),
                 *self.extensions)
        return "".join(f"{line}\n" for line in lines).encode("utf-8")

    @classmethod
    def from_body(cls, text: bytes) -> Checkpoint:
        """Parse note text (what the signatures cover); ``InvalidCheckpoint`` if malformed."""
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidCheckpoint(f"checkpoint: not UTF-8: {exc}") from exc
        if not decoded.endswith("\n"):
            raise InvalidCheckpoint("checkpoint: note text does not end with a newline")
        # tlog-checkpoint "Note text": at least three non-empty lines
        lines = decoded[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidCheckpoint(f"checkpoint: {len(lines)} lines; at least 3 are needed")
        if "" in lines:
            raise InvalidCheckpoint("checkpoint: an empty line in the note text")
        origin, size_text, root_text, *extensions = lines
        if len(size_text) > _MAX_DIGITS:
            raise InvalidCheckpoint(f"checkpoint: tree size has {len(size_text)} digits; a "
                                    f"uint64 has at most {_MAX_DIGITS}")
        if not _DECIMAL.fullmatch(size_text):
            raise InvalidCheckpoint(
                f"checkpoint: tree size {size_text!r} is not a decimal without leading zeroes"
            )
        root = _b64decode("root hash", root_text)
        if len(root) != _ROOT_SIZE:
            raise InvalidCheckpoint(
                f"checkpoint: root hash is {len(root)} bytes; it must be {_ROOT_SIZE}"
            )
        return cls(origin=origin, size=int(size_text), root=root, extensions=tuple(extensions))


@dataclass(frozen=True, kw_only=True)
class NoteSignature:
    """One signature line: ``— <name> <base64(key_id || signature)>``, not yet verified."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, kw_only=True)
class SignedCheckpoint:
    """A parsed, unverified signed note holding a checkpoint; ``text`` is what was signed."""

    checkpoint: Checkpoint
    text: bytes
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def from_text(cls, data: bytes) -> SignedCheckpoint:
        """Parse a signed checkpoint note; ``InvalidCheckpoint`` names the broken rule."""
        if len(data) > _MAX_NOTE:
            raise InvalidCheckpoint(f"checkpoint: note is larger than {_MAX_NOTE} bytes")
        try:
            note = data.decode("utf-8")  # signed-note "Format": valid UTF-8 ...
        except UnicodeDecodeError as exc:
            raise InvalidCheckpoint(f"checkpoint: not UTF-8: {exc}") from exc
        if _CONTROL.search(note.replace("\n", "")):  # ... and no controls but newline
            raise InvalidCheckpoint("checkpoint: a control character (CR?) in the note")
        if not note.endswith("\n"):
            raise InvalidCheckpoint("checkpoint: note does not end with a newline")
        # signed-note "Format": text and signatures are split at the last empty line;
        # the text keeps its final newline, the blank line belongs to neither
        split = note.rfind("\n\n")
        if split < 0:
            raise InvalidCheckpoint("checkpoint: no blank line before the signatures")
        text, sig_lines = note[: split + 1], note[split + 2 :].split("\n")[:-1]
        if not sig_lines:
            raise InvalidCheckpoint("checkpoint: no signature lines")
        if len(sig_lines) > _MAX_SIGNATURES:
            raise InvalidCheckpoint(
                f"checkpoint: {len(sig_lines)} signature lines; at most {_MAX_SIGNATURES}"
            )
        signatures = tuple(_parse_signature_line(n, line) for n, line in enumerate(sig_lines, 1))
        body = text.encode("utf-8")
        return cls(checkpoint=Checkpoint.from_body(body), text=body, signatures=signatures)


def _parse_signature_line(number: int, line: str) -> NoteSignature:
    what = f"signature line {number}"
    if not line.startswith(_SIGNATURE_PREFIX):
        raise InvalidCheckpoint(f"checkpoint: {what} does not start with an em dash and a space")
    parts = line[len(_SIGNATURE_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise InvalidCheckpoint(f"checkpoint: {what} is not '— <key name> <signature>'")
    name, encoded = parts
    _check_key_name(name)
    raw = _b64decode(what, encoded)
    if len(raw) <= _KEY_ID_SIZE:  # 4-byte key ID, then at least one byte of signature
        raise InvalidCheckpoint(f"checkpoint: {what} is too short to hold a key ID and signature")
    return NoteSignature(name=name, key_id=raw[:_KEY_ID_SIZE], signature=raw[_KEY_ID_SIZE:])


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey, *, name: str) -> bytes:
    """The signed note: note text, a blank line, and one Ed25519 signature line by ``key``
    under ``name`` (tlog-checkpoint "Signatures": the name SHOULD be the origin)."""
    _check_key_name(name)
    body = checkpoint.body()
    kid = _key_id(name, key.private_key.public_key())
    signature = base64.b64encode(kid + sign(key, body)).decode("ascii")
    return body + f"\n{_SIGNATURE_PREFIX}{name} {signature}\n".encode()


def verify_checkpoint(data: bytes, *, public_key_pem: bytes, name: str) -> Checkpoint:
    """Return the checkpoint in ``data`` once a signature by this key under ``name`` holds.

    Raises ``InvalidCheckpoint`` if ``data`` is not a signed checkpoint note (or ``name``
    cannot be a key name), ``InvalidKey`` if ``public_key_pem`` is not an Ed25519 key, and
    ``VerificationError`` when no signature line has this name and key ID, or one that
    has them does not verify.
    """
    # Steps (signed-note "Signatures"):
    # (1) parse the note and the verifier's own key;
    # (2) keep the lines whose key name and key ID both match this key, ignoring others;
    # (3) every such line must verify over the note text; at least one must exist.

    # (1)
    _check_key_name(name)
    note = SignedCheckpoint.from_text(data)
    public_key = load_public_key(public_key_pem)
    kid = _key_id(name, public_key)

    # (2) a line with the same name but another key ID is another key: ignored
    ours = [s for s in note.signatures if s.name == name and s.key_id == kid]
    if not ours:
        raise VerificationError(f"checkpoint: no signature by {name} (key ID {kid.hex()})")

    # (3) "If a signature from a known key fails to verify, clients SHOULD reject the whole note"
    for s in ours:
        try:
            verify_signature(public_key_pem, note.text, s.signature)
        except VerificationError as exc:
            raise VerificationError(f"checkpoint: bad signature: {exc}") from exc
    return note.checkpoint
