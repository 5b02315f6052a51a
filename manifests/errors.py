"""Errors of the chain-of-custody package.

    ManifestError                  base
    │   malformed input: we cannot even read it (exit 2)
    ├── CanonicalizationError      a value outside the canonical JSON subset, or bytes
    │                              that are not the canonical form of their value
    ├── InvalidManifest            bytes that are not a version 1 capture manifest
    ├── InvalidKey                 a public key that is not an Ed25519 key in PEM
    ├── InvalidProof               no Merkle proof can be built from these arguments
    │                              (a hash not 32 bytes, an index outside the tree)
    ├── InvalidCheckpoint          bytes that are not a C2SP signed checkpoint note, or
    │                              a checkpoint or key name that cannot be written as one
    ├── InvalidTimestamp           bytes that are not a DER RFC 3161 TimeStampResp
    │                              carrying a token
    ├── InvalidCertificate         a trusted root that is not a PEM X.509 certificate
    ├── InvalidPackage             not an evidence package we can open safely: not a
    │                              BagIt bag, bag files missing, unsafe ZIP member
    │                              paths, symbolic links, over the size limits
    ├── KeyFileError               the archive's signing key files are unusable
    │                              (permissions, corrupt, mismatched pair)
    │   a failed check: the input was readable, and a claim in it is false (exit 1)
    └── VerificationError          a signature, a size or a hash does not match

As in sigstore-python (``InvalidBundle`` vs ``VerificationError``), "cannot read
this" and "this is false" are different errors. Inside a verification the
evidence itself being unreadable is a failed check: ``verify_capture`` raises
``VerificationError`` for a manifest it cannot parse. ``verify_checkpoint`` and
``verify_timestamp`` must parse before they can check anything, so they raise
``InvalidCheckpoint`` / ``InvalidTimestamp`` for bytes that are not one; a package
verifier records those as failed checks too.
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


class InvalidProof(ManifestError):
    """A Merkle proof cannot be built from these arguments: a leaf hash is not 32 bytes,
    or an index or size lies outside the tree (RFC 9162 section 2.1). Checking a proof
    never raises this; a proof that does not hold is a ``VerificationError``."""


class InvalidCheckpoint(ManifestError):
    """The bytes are not a checkpoint (c2sp.org/tlog-checkpoint) in a signed note
    (c2sp.org/signed-note), or a value cannot be written as one; the message says which
    rule is broken."""


class InvalidTimestamp(ManifestError):
    """The bytes are not a DER-encoded RFC 3161 TimeStampResp carrying a time-stamp token."""


class InvalidCertificate(ManifestError):
    """A trusted root given to a timestamp check is not a PEM X.509 certificate."""


class InvalidPackage(ManifestError):
    """The path is not an evidence package that can be opened safely: not a BagIt bag
    (RFC 8493), a required bag file missing, a ZIP member whose path would escape the
    bag, a symbolic link, or more files or bytes than allowed. Nothing was verified."""


class KeyFileError(ManifestError):
    """The archive's signing key files cannot be used; the message says how to fix them."""


class VerificationError(ManifestError):
    """A verification check failed: the evidence is not what it claims to be."""
