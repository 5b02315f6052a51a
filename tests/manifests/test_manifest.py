"""The capture manifest v1: exact bytes, parsing, invariants, and verification of a capture."""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from manifests import (
    Agent,
    CaptureManifest,
    InvalidKey,
    InvalidManifest,
    ManifestFile,
    ManifestTarget,
    Outcome,
    SigningKey,
    VerificationError,
    agent_details,
    canonical_json,
    load_or_create_signing_key,
    sanitize_collection,
    sanitize_metadata,
    sign,
    verify_capture,
)
from storage import LocalBlobStore

MEDIA = b"\x00\x00\x00\x18ftypisom fixture clip"
INFO = b'{"id":"45WIwFETn3E"}'
TITLE = "1- \u0643\u0627\u0633\u0645 \u0627\u0644\u0645\u0646\u0633\u064a"  # 1- كاسم المنسي

# The manifest of ``make_manifest()``, byte for byte (docs/design.md, "Capture manifest"):
# keys sorted, no whitespace, UTF-8, only '"', '\' and controls escaped.
EXPECTED = (
    '{"agent":{"host":"archive-1","operator":"archivist","python":"3.11.7",'
    '"software":"preserver 0.1.0","yt_dlp":"2026.08.19"},'
    '"capture_id":"6f1c2e4a-8b3d-4c5e-9f60-7a8b9c0d1e2f",'
    '"files":[{"media_type":"video/mp4","name":"youtube-45WIwFETn3E.mp4","role":"media",'
    '"sha256":"e959e0455d89094f2bc9ed28b5ccab10e6bd26cfeeb39414553fffab9639d11c","size":25},'
    '{"media_type":"application/json","name":"youtube-45WIwFETn3E.info.json","role":"info",'
    '"sha256":"d82b97ac5d7eb67de7494ef253443a564daf4cddaf87822db767059835c8896a","size":20}],'
    '"finished_at":"2026-03-01T09:15:42.250Z","manifest_version":1,'
    '"metadata":{"duration":73,"tags":["douma","\u2028"],'
    '"title":"' + TITLE + '","upload_date":"20180408",'
    '"uploader":"Douma \\"Media\\" Center"},'
    '"outcome":{"message":"","state":"complete","status":"available"},'
    '"requested_url":"https://youtu.be/45WIwFETn3E?t=12","started_at":"2026-03-01T09:15:00Z",'
    '"target":{"key":"youtube:45WIwFETn3E","platform":"youtube",'
    '"url":"https://www.youtube.com/watch?v=45WIwFETn3E"}}'
).encode("utf-8")


def make_manifest(**changes: Any) -> CaptureManifest:
    fields: dict[str, Any] = {
        "capture_id": "6f1c2e4a-8b3d-4c5e-9f60-7a8b9c0d1e2f",
        "target": ManifestTarget(
            key="youtube:45WIwFETn3E",
            url="https://www.youtube.com/watch?v=45WIwFETn3E",
            platform="youtube",
        ),
        "requested_url": "https://youtu.be/45WIwFETn3E?t=12",
        "started_at": "2026-03-01T09:15:00Z",
        "finished_at": "2026-03-01T09:15:42.250Z",
        "agent": Agent(
            software="preserver 0.1.0",
            yt_dlp="2026.08.19",
            python="3.11.7",
            host="archive-1",
            operator="archivist",
        ),
        "outcome": Outcome(state="complete", status="available", message=""),
        "files": (
            ManifestFile(
                role="media",
                name="youtube-45WIwFETn3E.mp4",
                sha256=hashlib.sha256(MEDIA).hexdigest(),
                size=len(MEDIA),
                media_type="video/mp4",
            ),
            ManifestFile(
                role="info",
                name="youtube-45WIwFETn3E.info.json",
                sha256=hashlib.sha256(INFO).hexdigest(),
                size=len(INFO),
                media_type="application/json",
            ),
        ),
        "metadata": {
            "title": TITLE,
            "uploader": 'Douma "Media" Center',
            "upload_date": "20180408",
            "duration": 73,
            "tags": ["douma", "\u2028"],
        },
    }
    return CaptureManifest(**(fields | changes))


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    s = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    s.put_bytes(MEDIA)
    s.put_bytes(INFO)
    return s


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return load_or_create_signing_key(tmp_path / "keys")


# -- bytes ------------------------------------------------------------------------------


def test_canonical_bytes() -> None:
    assert make_manifest().to_bytes() == EXPECTED


def test_round_trip() -> None:
    manifest = CaptureManifest.from_bytes(EXPECTED)
    assert manifest == make_manifest()
    assert manifest.to_bytes() == EXPECTED
    assert isinstance(manifest.files, tuple)


def test_files_keep_their_order() -> None:
    files = make_manifest().files
    reordered = make_manifest(files=list(reversed(files)))
    assert reordered.files == tuple(reversed(files))
    assert CaptureManifest.from_bytes(reordered.to_bytes()).files == reordered.files


def test_failed_capture_without_files() -> None:
    manifest = make_manifest(
        outcome=Outcome(
            state="failed",
            status="removed_policy",
            message="This video has been removed for violating YouTube's policy",
        ),
        files=(),
        metadata={},
    )
    assert CaptureManifest.from_bytes(manifest.to_bytes()) == manifest


# -- the collection record (docs/design.md "Collection record") ------------------------------

COLLECTION = {"operator": "Rim Haddad", "host": "archive-1",
              "clock": {"server": "pool.ntp.org", "offset_ms": -3, "delay_ms": 18,
                        "measured_at": "2026-03-01T09:14:58.000000Z", "error": ""},
              "page": {"server_address": "203.0.113.9"}}


def test_a_manifest_written_before_the_collection_record_keeps_its_bytes(
        store: LocalBlobStore, key: SigningKey) -> None:
    """EXPECTED is a manifest as written before ``collection`` existed: it parses, has no
    record, serializes to the same bytes, and its signature still verifies."""
    assert b"collection" not in EXPECTED
    manifest = CaptureManifest.from_bytes(EXPECTED)
    assert manifest.collection is None and manifest.to_bytes() == EXPECTED
    assert verify_capture(EXPECTED, sign(key, EXPECTED), key.public_key_pem, store) == manifest


def test_the_collection_record_in_the_bytes() -> None:
    manifest = make_manifest(collection=COLLECTION)
    data = manifest.to_bytes()
    # members sorted: "collection" between "capture_id" and "files"
    assert data.startswith(EXPECTED[:EXPECTED.index(b',"files"')] + b',"collection":{"clock":'
                           b'{"delay_ms":18,"error":"","measured_at":"2026-03-01T09:14:58.000000Z",'
                           b'"offset_ms":-3,"server":"pool.ntp.org"},"host":"archive-1",'
                           b'"operator":"Rim Haddad","page":{"server_address":"203.0.113.9"}},'
                           b'"files":')
    assert CaptureManifest.from_bytes(data) == manifest
    assert CaptureManifest.from_bytes(data).collection == COLLECTION


def test_an_empty_collection_record_is_kept_as_present() -> None:
    data = make_manifest(collection={}).to_bytes()
    assert b'"collection":{}' in data and CaptureManifest.from_bytes(data).collection == {}


# -- verification of a capture ----------------------------------------------------------------


def test_verify_capture(store: LocalBlobStore, key: SigningKey) -> None:
    data = make_manifest().to_bytes()
    assert verify_capture(data, sign(key, data), key.public_key_pem, store) == make_manifest()


def test_tampered_field(store: LocalBlobStore, key: SigningKey) -> None:
    signature = sign(key, EXPECTED)
    edited = EXPECTED.replace(b'"status":"available"', b'"status":"removed_policy"')
    assert edited != EXPECTED
    with pytest.raises(VerificationError, match="manifest: bad signature: .*does not verify"):
        verify_capture(edited, signature, key.public_key_pem, store)


def test_swapped_signature(store: LocalBlobStore, key: SigningKey) -> None:
    other = make_manifest(capture_id="00000000-0000-4000-8000-000000000000").to_bytes()
    with pytest.raises(VerificationError, match="manifest: bad signature"):
        verify_capture(EXPECTED, sign(key, other), key.public_key_pem, store)


def test_signed_by_another_key(store: LocalBlobStore, key: SigningKey, tmp_path: Path) -> None:
    other = load_or_create_signing_key(tmp_path / "other-keys")
    with pytest.raises(VerificationError, match=f"bad signature.*with key {key.key_id}"):
        verify_capture(EXPECTED, sign(other, EXPECTED), key.public_key_pem, store)


def test_flipped_byte_in_store(store: LocalBlobStore, key: SigningKey) -> None:
    path = store.path_of(hashlib.sha256(MEDIA).hexdigest())
    path.chmod(0o644)
    path.write_bytes(MEDIA[:-1] + bytes([MEDIA[-1] ^ 1]))
    with pytest.raises(
        VerificationError,
        match=r"file 'youtube-45WIwFETn3E\.mp4' \(media\): content re-hashes to [0-9a-f]{64}, "
        r"the manifest says e959e045",
    ):
        verify_capture(EXPECTED, sign(key, EXPECTED), key.public_key_pem, store)


def test_file_missing_from_store(store: LocalBlobStore, key: SigningKey) -> None:
    store.path_of(hashlib.sha256(INFO).hexdigest()).unlink()
    with pytest.raises(
        VerificationError,
        match=r"file 'youtube-45WIwFETn3E\.info\.json' \(info\): missing from the store",
    ):
        verify_capture(EXPECTED, sign(key, EXPECTED), key.public_key_pem, store)


def test_file_size_differs(store: LocalBlobStore, key: SigningKey) -> None:
    media = make_manifest().files[0]
    data = make_manifest(files=(dataclasses.replace(media, size=26),)).to_bytes()
    with pytest.raises(
        VerificationError, match=r"\(media\): size is 25 bytes, the manifest says 26"
    ):
        verify_capture(data, sign(key, data), key.public_key_pem, store)


def test_signed_garbage(store: LocalBlobStore, key: SigningKey) -> None:
    data = b'{"manifest_version":1}'
    with pytest.raises(VerificationError, match="signed but not a valid manifest: .*lacks"):
        verify_capture(data, sign(key, data), key.public_key_pem, store)


def test_verifier_key_is_garbage(store: LocalBlobStore, key: SigningKey) -> None:
    with pytest.raises(InvalidKey, match="not a PEM public key"):
        verify_capture(EXPECTED, sign(key, EXPECTED), b"not a key", store)


# -- malformed manifests ------------------------------------------------------------------


def edited(edit: Callable[[dict[str, Any]], object]) -> bytes:
    """EXPECTED with one fault, still canonical, so only that fault is found."""
    value = make_manifest().to_json()
    edit(value)
    return canonical_json(value)


def _set(path: str, item: object) -> Callable[[dict[str, Any]], None]:
    def edit(value: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = value
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = item

    return edit


MALFORMED: list[tuple[str, bytes, str]] = [
    ("not_utf8", EXPECTED.replace(b"douma", b"d\xffuma"), "manifest: not UTF-8"),
    ("not_json", EXPECTED[:-1], "manifest: not JSON"),
    ("not_canonical_whitespace", EXPECTED.replace(b'"size":25', b'"size": 25'), "not canonical"),
    ("not_canonical_escape", EXPECTED.replace(b"douma", b"d\\u006fuma"), "not canonical"),
    ("float_size", EXPECTED.replace(b'"size":25', b'"size":25.0'), "floats are not allowed"),
    ("float_metadata", EXPECTED.replace(b'"duration":73', b'"duration":73.5'), "floats are not"),
    ("top_level_array", b"[1]", "manifest: not a JSON object"),
    ("version_2", edited(_set("manifest_version", 2)), "manifest_version 2 is not supported"),
    ("version_string", edited(_set("manifest_version", "1")), "manifest_version '1' is not"),
    ("version_true", edited(_set("manifest_version", True)), "manifest_version True is not"),
    ("missing_member", edited(lambda v: v.pop("outcome")), "manifest lacks outcome"),
    ("unknown_member", edited(_set("extra", 1)), "manifest has unknown members extra"),
    ("target_unknown_member", edited(_set("target.title", "x")), "target has unknown members"),
    ("target_not_object", edited(_set("target", "youtube")), "target must be an object"),
    ("target_key_empty", edited(_set("target.key", "")), "target.key must not be empty"),
    ("agent_not_string", edited(_set("agent.host", 7)), "agent.host must be a string, not int"),
    ("bad_state", edited(_set("outcome.state", "done")), "outcome.state 'done' is not one of"),
    ("bad_status", edited(_set("outcome.status", "Removed!")), "outcome.status 'Removed!' is not"),
    ("bad_capture_id", edited(_set("capture_id", "42")), "capture_id '42' is not a lowercase UUID"),
    (
        "timestamp_offset",
        edited(_set("started_at", "2026-03-01T09:15:00+00:00")),
        "started_at .* is not an RFC 3339 UTC timestamp ending in Z",
    ),
    (
        "timestamp_not_a_date",
        edited(_set("started_at", "2026-02-30T09:15:00Z")),
        "started_at .* is not a real date and time",
    ),
    (
        "timestamp_arabic_digits",
        edited(_set("started_at", "\u0662\u0660\u0662\u0666-03-01T09:15:00Z")),
        "not an RFC 3339 UTC timestamp",
    ),
    (
        "finished_before_started",
        edited(_set("finished_at", "2026-03-01T09:14:59.999Z")),
        "finished_at .* is before started_at",
    ),
    ("files_not_array", edited(_set("files", {})), "files must be an array"),
    (
        "file_missing_member",
        edited(lambda v: v["files"][1].pop("media_type")),
        r"files\[1\] lacks media_type",
    ),
    (
        "bad_sha_short",
        edited(_set("files.0.sha256", "e959e045")),
        r"files\[0\]: .*not 64 lowercase hex",
    ),
    (
        "bad_sha_upper",
        edited(
            _set(
                "files.0.sha256", "E959E0455D89094F2BC9ED28B5CCAB10E6BD26CFEEB39414553FFFAB9639D11C"
            )
        ),
        "not 64 lowercase hex",
    ),
    (
        "negative_size",
        edited(_set("files.0.size", -1)),
        "file.size -1 is not a non-negative integer",
    ),
    ("bool_size", edited(_set("files.0.size", True)), "file.size True is not"),
    ("string_size", edited(_set("files.0.size", "25")), "file.size '25' is not"),
    (
        "name_traversal",
        edited(_set("files.0.name", "../x")),
        "'../x' is not a safe file name: it contains '/'",
    ),
    (
        "name_dotdot",
        edited(_set("files.0.name", "..")),
        "'..' is not a safe file name: it is '.' or contains '..'",
    ),
    ("name_dot", edited(_set("files.0.name", ".")), "'.' is not a safe file name: it is '.'"),
    ("name_absolute", edited(_set("files.0.name", "/etc/passwd")), "contains '/'"),
    ("name_backslash", edited(_set("files.0.name", "..\\x")), "contains '/' or '\\\\'"),
    ("name_control", edited(_set("files.0.name", "a\nb.mp4")), "contains a control character"),
    (
        "name_c1_control",
        edited(_set("files.0.name", "a\u0085b.mp4")),
        "contains a control character",
    ),
    ("name_empty", edited(_set("files.0.name", "")), "file.name must not be empty"),
    ("name_too_long", edited(_set("files.0.name", "a" * 201)), "longer than 200 characters"),
    ("name_too_many_bytes", edited(_set("files.0.name", "\u0628" * 130)), "longer than 255 bytes"),
    (
        "duplicate_name",
        edited(_set("files.1.name", "youtube-45WIwFETn3E.mp4")),
        r"files\[1\]: name 'youtube-45WIwFETn3E\.mp4' appears twice",
    ),
    ("bad_role", edited(_set("files.0.role", "Media/x")), "file.role 'Media/x' is not"),
    ("bad_media_type", edited(_set("files.0.media_type", "mp4")), "'mp4' is not a media type"),
    ("metadata_not_object", edited(_set("metadata", [])), "metadata must be an object"),
    ("collection_null", edited(_set("collection", None)), "collection must be an object"),
    ("collection_array", edited(_set("collection", [])), "collection must be an object"),
    ("collection_string", edited(_set("collection", "x")), "collection must be an object"),
    ("collection_float", EXPECTED.replace(b'"files":', b'"collection":{"o":0.5},"files":'),
     "floats are not allowed"),
]


@pytest.mark.parametrize(
    ("data", "match"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed(data: bytes, match: str) -> None:
    with pytest.raises(InvalidManifest, match=match):
        CaptureManifest.from_bytes(data)


def test_name_of_200_characters_is_accepted() -> None:
    name = "a" * 196 + ".mp4"
    media = dataclasses.replace(make_manifest().files[0], name=name)
    assert make_manifest(files=(media,)).files[0].name == name


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"metadata": {"duration": 73.5}}, r"\$\.metadata\.duration: floats are not allowed"),
        ({"metadata": {"big": 2**60}}, "outside"),
        ({"metadata": {"s": "\ud800"}}, "lone surrogate"),
        ({"requested_url": ""}, "requested_url must not be empty"),
        ({"target": {"key": "k"}}, "target must be a ManifestTarget"),
        ({"files": ({"name": "x"},)}, r"files\[0\] must be a ManifestFile"),
        ({"manifest_version": 2}, "manifest_version 2 is not supported"),
        ({"collection": {"clock": {"offset": 0.5}}},
         r"\$\.collection\.clock\.offset: floats are not allowed"),
        ({"collection": [1]}, "collection must be an object"),
    ],
    ids=["float", "huge-int", "lone-surrogate", "empty-url", "target-dict", "file-dict", "v2",
         "collection-float", "collection-array"],
)
def test_constructor_enforces_invariants(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidManifest, match=match):
        make_manifest(**changes)


# -- building a manifest's parts ------------------------------------------------------------


def test_sanitize_metadata() -> None:
    info = {
        "title": "title \ud800 with a lone surrogate",
        "uploader": "u",
        "id": "45WIwFETn3E",
        "duration": 72.6,
        "timestamp": 1523180400.0,
        "view_count": 12,
        "like_count": True,  # not a count
        "upload_date": "20180408",
        "description": "d" * 6000,
        "webpage_url": "https://www.youtube.com/watch?v=45WIwFETn3E",
        "channel": "x" * 5000,  # oversized: dropped
        "channel_id": None,
        "tags": [f"t{i}" for i in range(60)] + [3],
        "categories": "News",  # not a list: dropped
        "extractor": "youtube",
        "original_url": float("nan"),
        "formats": [{"url": "https://…"}],
        "http_headers": {"Cookie": "secret"},
    }
    clean = sanitize_metadata(info)
    assert clean == {
        "title": "title ? with a lone surrogate",
        "uploader": "u",
        "id": "45WIwFETn3E",
        "duration": 73,
        "timestamp": 1523180400,
        "view_count": 12,
        "upload_date": "20180408",
        "description": "d" * 5000,
        "webpage_url": "https://www.youtube.com/watch?v=45WIwFETn3E",
        "tags": [f"t{i}" for i in range(50)],
        "extractor": "youtube",
    }
    canonical_json(clean)  # always fits the canonical subset


def test_sanitize_metadata_keeps_fractions_as_text() -> None:
    clean = sanitize_metadata({"timestamp": 1523180400.25, "view_count": 2**60, "duration": "73"})
    assert clean == {"timestamp": "1523180400.25", "view_count": str(2**60)}


def test_sanitize_collection() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(20):
        node["d"] = {}
        node = node["d"]
    clean = sanitize_collection({
        "browser": {"settle_s": 1.5, "width": 1280.0, "scrolls": (1, 2), "nan": float("nan"),
                    "big": 2**60, "path": Path("/tmp/x"), 7: "seven", "s": "a\ud800b"},
        "deep": deep, "ok": True, "none": None})
    assert clean["browser"] == {"settle_s": "1.5", "width": 1280, "scrolls": [1, 2],
                                "nan": None, "big": str(2**60), "path": "/tmp/x",
                                "7": "seven", "s": "a?b"}
    assert (clean["ok"], clean["none"]) == (True, None)
    depth, node = 0, clean["deep"]
    while isinstance(node, dict):
        depth, node = depth + 1, node["d"]
    assert depth == 16 and node is None  # cut below 16 levels
    canonical_json(clean)
    assert make_manifest(collection=clean).collection == clean


def test_agent_details() -> None:
    from yt_dlp.version import __version__ as yt_dlp_version

    agent = agent_details("archivist", "0.1.0")
    assert agent == Agent(
        software="preserver 0.1.0",
        yt_dlp=yt_dlp_version,
        python=platform.python_version(),
        host=socket.gethostname(),
        operator="archivist",
    )


def test_manifests_stands_alone() -> None:
    """Verifying needs only manifests and storage: no preserver, workers or yt-dlp import."""
    code = (
        "import sys, manifests, storage\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('preserver', 'workers', 'yt_dlp', 'sqlalchemy', 'sqlmodel', 'httpx'))\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.stdout.strip() == "[]"
