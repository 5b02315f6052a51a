"""Chain of custody: capture manifests, canonical JSON, signing keys, verification.

Usable alone: verifying needs this package and ``storage``, never ``preserver``
or a database.

    >>> from manifests import (CaptureManifest, load_or_create_signing_key, sign,
    ...                        verify_capture)
    >>> key = load_or_create_signing_key(data_dir / "keys")
    >>> data = manifest.to_bytes()                  # canonical JSON (RFC 8785 subset)
    >>> signature = sign(key, data)                 # Ed25519, detached, 64 bytes
    >>> verify_capture(data, signature, key.public_key_pem, store) == manifest
    True
    >>> with Package.open(Path("evidence.zip")) as package:   # an exported package, alone
    ...     findings = verify_package(package, trust_roots=[tsa_root_pem])
"""

from typing import TYPE_CHECKING

from manifests._lazy import exports

if TYPE_CHECKING:
    from manifests import package_layout
    from manifests.canonical import JsonValue, canonical_json, parse_canonical
    from manifests.checkpoint import (
        Checkpoint,
        NoteSignature,
        SignedCheckpoint,
        sign_checkpoint,
        verify_checkpoint,
    )
    from manifests.errors import (
        CanonicalizationError,
        InvalidCertificate,
        InvalidCheckpoint,
        InvalidKey,
        InvalidManifest,
        InvalidPackage,
        InvalidProof,
        InvalidTimestamp,
        KeyFileError,
        ManifestError,
        VerificationError,
    )
    from manifests.findings import Finding, FindingOutcome
    from manifests.keys import load_or_create_signing_key, load_signing_key
    from manifests.manifest import (
        Agent,
        CaptureManifest,
        ManifestFile,
        ManifestTarget,
        Outcome,
    )
    from manifests.merkle import (
        consistency_proof,
        inclusion_proof,
        leaf_hash,
        node_hash,
        root_hash,
        roots_for_sizes,
        verify_consistency,
        verify_inclusion,
    )
    from manifests.metadata import (
        agent_details,
        sanitize_collection,
        sanitize_metadata,
        yt_dlp_version,
    )
    from manifests.package import Package
    from manifests.package_verify import verify_package
    from manifests.signing import (
        SigningKey,
        load_public_key,
        sign,
        verify_capture,
        verify_signature,
    )
    from manifests.timestamp import (
        TimestampRequest,
        timestamp_request,
        tsa_chain_pem,
        verify_timestamp,
        verify_timestamps,
    )

__all__ = [
    "Agent",
    "CanonicalizationError",
    "CaptureManifest",
    "Checkpoint",
    "Finding",
    "FindingOutcome",
    "InvalidCertificate",
    "InvalidCheckpoint",
    "InvalidKey",
    "InvalidManifest",
    "InvalidPackage",
    "InvalidProof",
    "InvalidTimestamp",
    "JsonValue",
    "KeyFileError",
    "ManifestError",
    "ManifestFile",
    "ManifestTarget",
    "NoteSignature",
    "Outcome",
    "Package",
    "SignedCheckpoint",
    "SigningKey",
    "TimestampRequest",
    "VerificationError",
    "agent_details",
    "canonical_json",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "load_or_create_signing_key",
    "load_public_key",
    "load_signing_key",
    "node_hash",
    "package_layout",
    "parse_canonical",
    "root_hash",
    "roots_for_sizes",
    "sanitize_collection",
    "sanitize_metadata",
    "sign",
    "sign_checkpoint",
    "timestamp_request",
    "tsa_chain_pem",
    "verify_capture",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_package",
    "verify_signature",
    "verify_timestamp",
    "verify_timestamps",
    "yt_dlp_version",
]

__getattr__, __dir__ = exports(__name__)
