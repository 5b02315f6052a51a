"""The public surface of each package is pinned: a change to it is a deliberate change here."""

from __future__ import annotations

import ast
import importlib
import inspect
import types

import pytest

import manifests
import storage
import workers

EXPORTED = {
    storage: [
        "BlobLock",
        "BlobNotFound",
        "BlobStore",
        "BlobTooLarge",
        "BucketStatus",
        "DigestMismatch",
        "HashingReader",
        "InvalidAddress",
        "InvalidRange",
        "KnownDigest",
        "LocalBlobStore",
        "Retention",
        "S3BlobStore",
        "S3Settings",
        "SourceUnreadable",
        "StorageError",
        "StorageUnavailable",
        "StoredBlob",
        "UploadRefused",
        "hash_stream",
    ],
    manifests: [
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
    ],
    workers: [
        "Access",
        "AddressRefused",
            "Browser",
        "BrowserSettings",
        "BrowserUnavailable",
        "CaptureFailed",
        "CaptureJob",
        "CaptureResult",
        "CaptureState",
        "CapturedFile",
        "Classified",
        "CookiesFileError",
        "HostLimiter",
        "HostRole",
        "Limits",
        "Platform",
        "PlatformHost",
        "Plugin",
        "Plugins",
        "PrintFailed",
        "Printer",
        "ProbeResult",
        "ProbeSettings",
        "ProbeTarget",
        "RateLimiter",
        "RetryDecision",
        "Status",
        "StoreFailed",
        "WorkerError",
        "capture",
        "cited_hosts",
        "classify",
        "decide_retry",
        "find_ffprobe",
        "host_group",
        "load_plugins",
        "loaded_plugins",
        "make_client",
        "platform_host",
        "platform_url",
        "po_token_providers",
        "print_pdf",
        "probe",
        "process_start",
        "read_cookies",
        "redact_userinfo",
        "scrub_userinfo",
        "seen_as",
        "start_capture_server",
        "without_userinfo",
        "youtube_watch_url",
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


APPLICATION = ["preserver.audit", "preserver.blobs", "preserver.capture", "preserver.custody", "preserver.db",
               "preserver.export", "preserver.ingest", "preserver.verify", "preserver.views",
               "preserver.views.linkrot"]


@pytest.mark.parametrize("name", [*APPLICATION, "workers", "manifests"])
def test_application_subpackages_state_their_public_names(name: str) -> None:
    """Each name in ``__all__`` resolves (lazily) to an object of that subpackage, and the
    ``TYPE_CHECKING`` imports type checkers read name exactly the same set. ``workers``
    and ``manifests`` are lazy the same way (their ``_lazy.py``): a read command starts
    without yt-dlp or the package verifier."""
    package = importlib.import_module(name)
    assert sorted(dir(package)) == sorted(package.__all__)
    for member in package.__all__:
        value = getattr(package, member)
        module = getattr(value, "__module__", None)
        if callable(value) and module is not None:
            assert module.startswith(name + "."), f"{member} comes from {module}"
    tree = ast.parse(inspect.getsource(package))
    typed = sorted(alias.asname or alias.name for node in tree.body if isinstance(node, ast.If)
                   and ast.unparse(node.test) == "TYPE_CHECKING" for imp in node.body
                   if isinstance(imp, ast.ImportFrom) for alias in imp.names)
    assert typed == sorted(package.__all__)


@pytest.mark.parametrize("name", ["capture", "classify"])
def test_a_name_shared_with_its_module_stays_the_function(name: str) -> None:
    """``workers.capture`` is the function even after its module ``workers.capture`` is
    imported, which binds the module on the package (``workers._lazy._shadowing``)."""
    defining = importlib.import_module(f"workers.{name}")
    assert getattr(workers, name) is getattr(defining, name)
    assert inspect.isfunction(getattr(workers, name))
