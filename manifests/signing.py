"""Ed25519 signatures (RFC 8032) over exact bytes, detached, and ``verify_capture``,
which checks a signed manifest against the files it lists.

A manifest's signature is 64 bytes over the manifest's canonical bytes; a
verifier needs only the public key PEM (SubjectPublicKeyInfo, RFC 8410), which
standard tools read too::

    openssl pkeyutl -verify -pubin -inkey signing.pub -rawin \\
        -in manifest.json -sigfile manifest.sig

A key is named by its ``key_id``: the hex SHA-256 of the raw 32-byte public key.

    >>> signature = sign(key, data)
    >>> verify_signature(key.public_key_pem, data, signature) == key.key_id
    True
    >>> verify_capture(data, signature, key.public_key_pem, store)   # or VerificationError
    CaptureManifest(...)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from manifests.errors import InvalidKey, InvalidManifest, VerificationError
from manifests.manifest import CaptureManifest
from storage import BlobNotFound, BlobStore

_SIGNATURE_SIZE = 64  # RFC 8032 section 5.1.6


@dataclass(frozen=True, kw_only=True)
class SigningKey:
    """The archive's Ed25519 signing key, as loaded from (or just created in) ``keys/``.

    ``created`` is True when this call made the key: the caller records that event.
    """

    private_key: Ed25519PrivateKey = field(repr=False)
    public_key_pem: bytes
    key_id: str
    created: bool


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of ``public_key``."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(key: SigningKey, data: bytes) -> bytes:
    """The 64-byte detached Ed25519 signature of ``data``."""
    return key.private_key.sign(data)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Read an Ed25519 public key from SubjectPublicKeyInfo PEM; ``InvalidKey`` otherwise."""
    try:
        public_key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKey(f"not a PEM public key: {exc}") from exc
    if not isinstance(public_key, Ed25519PublicKey):
        raise InvalidKey(f"not an Ed25519 public key: a {type(public_key).__name__}")
    return public_key


def verify_signature(public_key_pem: bytes, data: bytes, signature: bytes) -> str:
    """Check ``signature`` over exactly ``data``; return the verifying key's ``key_id``.

    Raises ``InvalidKey`` when ``public_key_pem`` is not an Ed25519 public key (the
    verifier's own input is wrong) and ``VerificationError`` when the signature is
    not a valid signature of these bytes by this key.
    """
    public_key = load_public_key(public_key_pem)
    kid = key_id(public_key)
    if len(signature) != _SIGNATURE_SIZE:
        raise VerificationError(
            f"signature is {len(signature)} bytes; an Ed25519 signature has {_SIGNATURE_SIZE}"
        )
    try:
        public_key.verify(bytes(signature), bytes(data))
    except InvalidSignature as exc:
        raise VerificationError(f"signature does not verify with key {kid}") from exc
    return kid


def verify_capture(
    manifest_bytes: bytes, signature: bytes, public_key_pem: bytes, store: BlobStore
) -> CaptureManifest:
    """Verify one capture against its evidence and return the verified manifest.

    Raises ``VerificationError`` naming the step and what is false;
    ``InvalidKey`` if ``public_key_pem`` (the verifier's trust anchor) is not a
    key; a ``storage.StorageError`` other than a missing blob if the store
    cannot be read.
    """
    # Steps:
    # (1) the signature is valid over exactly ``manifest_bytes`` under the given key;
    # (2) those bytes are a canonical version 1 manifest;
    # (3) every listed file is in the store, with the listed size, and its bytes
    #     re-hash to the listed SHA-256.

    # (1) signature over the exact bytes
    try:
        verify_signature(public_key_pem, manifest_bytes, signature)
    except VerificationError as exc:
        raise VerificationError(f"manifest: bad signature: {exc}") from exc

    # (2) parse; after a good signature, an unreadable manifest is a failed check
    try:
        manifest = CaptureManifest.from_bytes(manifest_bytes)
    except InvalidManifest as exc:
        raise VerificationError(f"manifest: signed but not a valid manifest: {exc}") from exc

    # (3) the files: presence, size, content
    for f in manifest.files:
        label = f"file {f.name!r} ({f.role})"
        try:
            size = store.size(f.sha256)
            if size != f.size:
                raise VerificationError(
                    f"{label}: size is {size} bytes, the manifest says {f.size}"
                )
            actual = store.rehash(f.sha256)
        except BlobNotFound as exc:
            raise VerificationError(f"{label}: missing from the store (sha256 {f.sha256})") from exc
        if actual != f.sha256:
            raise VerificationError(
                f"{label}: content re-hashes to {actual}, the manifest says {f.sha256}"
            )
    return manifest
