"""Errors of the chain-of-custody package.

    ManifestError                  base
    │   malformed input: we cannot even read it (exit 2)
    ├── CanonicalizationError      a value outside the canonical JSON subset, or bytes
    │                              that are not the canonical form of their value
    ├── InvalidManifest            bytes that are not a version 1 capture manifest
    ├── InvalidKey                 a public key that is not an Ed25519 key in PEM
    ├── KeyFileError               the archive's signing key files are unusable
    │                              (permissions, corrupt, mismatched pair)
    │   a failed check: the input was readable, and a claim in it is false (exit 1)
    └── VerificationError          a signature, a size or a hash does not match

As in sigstore-python (``InvalidBundle`` vs ``VerificationError``), "cannot read
this" and "this is false" are different errors. Inside a verification the
evidence itself being unreadable is a failed check: ``verify_capture`` raises
``VerificationError`` for a manifest it cannot parse.
"""

from __future__ import annotations


class ManifestError(Exception):
    """A chain-of-custody operation failed."""


class CanonicalizationError(ManifestError):
    """The value cannot be written as canonical JSON (RFC 8785 subset: no floats,
    string keys, integers within +-(2**53 - 1)), or the bytes are not canonical."""


class InvalidManifest(ManifestError):
    """The bytes are not a well-formed version 1 capture manifest."""


class InvalidKey(ManifestError):
    """The public key is not an Ed25519 key in PEM (SubjectPublicKeyInfo) form."""


class KeyFileError(ManifestError):
    """The archive's signing key files cannot be used; the message says how to fix them."""


class VerificationError(ManifestError):
    """A verification check failed: the evidence is not what it claims to be."""
