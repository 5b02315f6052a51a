"""The blobs the archive names, and what a capture's signed manifest says.

``named_blob`` is what ``preserver web`` may serve at ``/files/<sha256>``: a blob that a
file row, a capture's manifest or signature, or a report names, with the name and media
type the archive gives it; any other blob (or none) is None, so no unnamed blob is ever
served. ``manifest_facts`` reads one manifest and its detached signature from the store
(bounded reads) and checks the signature with the archive's public key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from preserver.db.reading import Reader
from storage import BlobNotFound, BlobStore, BlobTooLarge, StorageError

log = logging.getLogger(__name__)
MAX_SIGNATURE_BYTES = 1024  # an Ed25519 signature is 64 bytes


@dataclass(frozen=True, kw_only=True)
class NamedBlob:
    """A blob the archive names: what it is (``file``, ``manifest``, ``signature`` or
    ``report``), under which name and media type."""

    sha256: str
    kind: str
    name: str
    media_type: str


async def named_blob(reader: Reader, sha256: str) -> NamedBlob | None:
    """The first thing in the archive that names blob ``sha256`` (a file row first)."""
    params = {"sha": sha256}
    for row in await reader.rows(
            "SELECT name, media_type FROM files WHERE sha256 = :sha ORDER BY id LIMIT 1", params):
        return NamedBlob(sha256=sha256, kind="file", name=row["name"],
                         media_type=row["media_type"])
    for row in await reader.rows(  # each column by its own index (no OR: a scan)
            "SELECT id FROM captures WHERE manifest_sha256 = :sha ORDER BY id LIMIT 1", params):
        return NamedBlob(sha256=sha256, kind="manifest", name=f"manifest-{row['id']}.json",
                         media_type="application/json")
    for row in await reader.rows(
            "SELECT id FROM captures WHERE signature_sha256 = :sha ORDER BY id LIMIT 1", params):
        return NamedBlob(sha256=sha256, kind="signature",
                         name=f"manifest-{row['id']}.json.sig",
                         media_type="application/octet-stream")
    for row in await reader.rows(
            "SELECT name, media_type FROM reports WHERE blob_sha256 = :sha ORDER BY id LIMIT 1",
            params):
        return NamedBlob(sha256=sha256, kind="report", name=row["name"],
                         media_type=row["media_type"])
    return None


def manifest_facts(store: BlobStore, *, manifest_sha256: str, signature_sha256: str,
                   public_key_pem: bytes) -> dict[str, Any]:
    """What a capture's manifest says (target, times, agent, outcome, files) and whether
    its signature verifies with ``public_key_pem``; ``error`` says why not, or why the
    manifest could not be read (``preserver verify`` checks every byte)."""
    from manifests import CaptureManifest, ManifestError, verify_signature
    from preserver.views.targets import MAX_MANIFEST_BYTES

    facts: dict[str, Any] = {"manifest_sha256": manifest_sha256,
                             "signature_sha256": signature_sha256, "readable": False,
                             "signed_by": None, "error": ""}
    try:
        data = _read_capped(store, manifest_sha256, MAX_MANIFEST_BYTES)
        manifest = CaptureManifest.from_bytes(data)
    except (StorageError, OSError, ManifestError) as exc:
        facts["error"] = f"the manifest cannot be read: {_why(manifest_sha256, exc)}"
        return facts
    facts |= {"readable": True, "manifest_version": manifest.manifest_version,
              "capture_id": manifest.capture_id, "target": manifest.target.key,
              "url": manifest.target.url, "requested_url": manifest.requested_url,
              "started_at": manifest.started_at, "finished_at": manifest.finished_at,
              "software": manifest.agent.software, "operator": manifest.agent.operator,
              "host": manifest.agent.host, "state": manifest.outcome.state,
              "status": manifest.outcome.status, "files": len(manifest.files),
              "bytes": sum(f.size for f in manifest.files)}
    try:
        signature = _read_capped(store, signature_sha256, MAX_SIGNATURE_BYTES)
        facts["signed_by"] = verify_signature(public_key_pem, data, signature)
    except (StorageError, OSError, ManifestError) as exc:
        facts["error"] = f"the signature does not verify: {_why(signature_sha256, exc)}"
    return facts


def _why(sha256: str, exc: Exception) -> str:
    """What a reader of the page is told: a store's own message names where it is (a
    path, a bucket, an endpoint), so that goes to the log; a manifest's is kept."""
    if isinstance(exc, BlobNotFound):
        return f"no blob {sha256} in the blob store"
    if isinstance(exc, (StorageError, OSError)) and not isinstance(exc, BlobTooLarge):
        log.error("reading blob %s failed: %s", sha256, exc)
        return "the blob store cannot be read: the server's log says why"
    return str(exc)


def _read_capped(store: BlobStore, sha256: str, cap: int) -> bytes:
    if store.size(sha256) > cap:
        raise BlobTooLarge(f"blob {sha256} is larger than {cap} bytes")
    with store.open(sha256) as fh:
        return fh.read(cap)
