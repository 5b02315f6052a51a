"""The public surface of each package is pinned: a change to it is a deliberate change here."""

from __future__ import annotations

import types

import pytest

import manifests
import storage
import workers

EXPORTED = {
    storage: [
        "BlobNotFound",
        "BlobStore",
        "BlobTooLarge",
        "InvalidAddress",
        "LocalBlobStore",
        "SourceUnreadable",
        "StorageError",
        "StorageUnavailable",
        "StoredBlob",
        "hash_stream",
    ],
    manifests: [
        "Agent",
        "CanonicalizationError",
        "CaptureManifest",
        "Checkpoint",
        "Finding",
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
        "NoteSignature",
        "Outcome",
        "Package",
        "SignedCheckpoint",
        "SigningKey",
        "Target",
        "TimestampRequest",
        "VerificationError",
        "agent_details",
        "canonical_json",
        "consistency_proof",
        "inclusion_proof",
        "leaf_hash",
        "load_or_create_signing_key",
        "load_public_key",
        "node_hash",
        "parse_canonical",
        "root_hash",
        "roots_for_sizes",
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
    ],
    workers: [
        "AddressRefused",
        "CaptureFailed",
        "CaptureJob",
        "CaptureResult",
        "CaptureState",
        "CapturedFile",
        "Classified",
        "HostLimiter",
        "Limits",
        "ProbeResult",
        "ProbeSettings",
        "ProbeTarget",
        "RateLimiter",
        "RetryDecision",
        "Status",
        "StoreFailed",
        "WorkerError",
        "capture",
        "classify",
        "decide_retry",
        "host_group",
        "make_client",
        "probe",
    ],
}


@pytest.mark.parametrize("package", list(EXPORTED), ids=lambda p: p.__name__)
def test_all_is_pinned_and_sorted(package: types.ModuleType) -> None:
    assert package.__all__ == EXPORTED[package]
    assert package.__all__ == sorted(package.__all__)


@pytest.mark.parametrize("package", list(EXPORTED), ids=lambda p: p.__name__)
def test_exported_members_are_the_packages_own(package: types.ModuleType) -> None:
    for name in package.__all__:
        member = getattr(package, name)
        module = getattr(member, "__module__", None)
        if module is not None and not isinstance(member, types.GenericAlias | types.UnionType):
            assert module.split(".")[0] == package.__name__, f"{name} comes from {module}"
