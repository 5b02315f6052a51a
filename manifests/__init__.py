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
"""

from manifests.canonical import JsonValue, canonical_json, parse_canonical
from manifests.errors import (
    CanonicalizationError,
    InvalidKey,
    InvalidManifest,
    KeyFileError,
    ManifestError,
    VerificationError,
)
from manifests.keys import load_or_create_signing_key
from manifests.manifest import (
    Agent,
    CaptureManifest,
    ManifestFile,
    Outcome,
    Target,
)
from manifests.metadata import agent_details, sanitize_metadata
from manifests.signing import (
    SigningKey,
    load_public_key,
    sign,
    verify_capture,
    verify_signature,
)

__all__ = [
    "Agent",
    "CanonicalizationError",
    "CaptureManifest",
    "InvalidKey",
    "InvalidManifest",
    "JsonValue",
    "KeyFileError",
    "ManifestError",
    "ManifestFile",
    "Outcome",
    "SigningKey",
    "Target",
    "VerificationError",
    "agent_details",
    "canonical_json",
    "load_or_create_signing_key",
    "load_public_key",
    "parse_canonical",
    "sanitize_metadata",
    "sign",
    "verify_capture",
    "verify_signature",
]
