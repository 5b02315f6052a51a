"""The capture manifest, version 1 (docs/design.md, "Capture manifest", contract).

A manifest says what one capture holds: the target, when it ran, who ran it with
what software, the outcome, and each file's role, name, SHA-256, size and media
type. It is written as canonical JSON (``manifests.canonical``), stored as a
blob whose SHA-256 names the capture, and signed (Ed25519, detached) over
exactly those bytes.

A manifest may carry a ``collection`` member: how the content was collected (who, from
which host and outside address, the clock's offset, the software's versions, and what
the fetches saw; docs/design.md "Collection record"). It is optional: a manifest
without it (every manifest written before it existed) has exactly its old bytes.

The classes' constructors enforce the format's invariants, so a
``CaptureManifest`` in hand is well formed. ``from_bytes`` is the one way in
from bytes (``manifests.signing.verify_capture`` the one way in from evidence).

    >>> manifest = CaptureManifest(capture_id=..., target=ManifestTarget(...), ...)
    >>> CaptureManifest.from_bytes(manifest.to_bytes()) == manifest
    True
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from manifests.canonical import JsonValue, canonical_json, parse_canonical
from manifests.errors import CanonicalizationError, InvalidManifest

MANIFEST_VERSION = 1
STATES = ("complete", "partial", "failed")
MAX_NAME_CHARS = 200

_SHA256 = re.compile(r"[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_WORD = re.compile(r"[a-z][a-z0-9_-]{0,63}")  # roles and statuses
# RFC 3339 section 5.6, restricted to UTC written as "Z".
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_INT = 2**53 - 1


def _text(value: object, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidManifest(f"{where} must be a string, not {type(value).__name__}")
    if not empty and not value:
        raise InvalidManifest(f"{where} must not be empty")
    return value


def _word(value: object, where: str) -> str:
    if _WORD.fullmatch(_text(value, where)) is None:
        raise InvalidManifest(f"{where} {value!r} is not a lowercase identifier")
    return str(value)


def _instant(value: object, where: str) -> tuple[datetime, int]:
    """Parse an RFC 3339 UTC timestamp ("...Z") into (whole seconds, nanoseconds)."""
    m = _TIMESTAMP.fullmatch(_text(value, where))
    if m is None:
        raise InvalidManifest(f"{where} {value!r} is not an RFC 3339 UTC timestamp ending in Z")
    try:
        year, month, day, hour, minute, second = (int(part) for part in m.groups()[:6])
        whole = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidManifest(f"{where} {value!r} is not a real date and time: {exc}") from exc
    return whole, int((m.group(7) or "0").ljust(9, "0"))


def _safe_name(value: object, where: str) -> str:
    """A name that is one ordinary path component on every system, so an exported
    package can use it as a file name (no path is built from remote text: docs/design.md,
    "Network and safety")."""
    name = _text(value, where, empty=False)
    problem = None
    if "/" in name or "\\" in name:
        problem = "contains '/' or '\\'"
    elif ".." in name or name == ".":
        problem = "is '.' or contains '..'"
    elif _CONTROL.search(name):
        problem = "contains a control character"
    elif len(name) > MAX_NAME_CHARS:
        problem = f"is longer than {MAX_NAME_CHARS} characters"
    elif len(name.encode("utf-8", "replace")) > 255:
        problem = "is longer than 255 bytes in UTF-8"
    if problem:
        raise InvalidManifest(f"{where} {name!r:.80} is not a safe file name: it {problem}")
    return name


@dataclass(frozen=True, kw_only=True)
class ManifestTarget:
    """What was captured: the target key (``youtube:<id>``), its canonical URL, its platform."""

    key: str
    url: str
    platform: str

    def __post_init__(self) -> None:
        for name in ("key", "url", "platform"):
            _text(getattr(self, name), f"target.{name}", empty=False)


@dataclass(frozen=True, kw_only=True)
class Agent:
    """Who captured it, with what: ``software`` is "preserver <version>"."""

    software: str
    yt_dlp: str
    python: str
    host: str
    operator: str

    def __post_init__(self) -> None:
        for name in ("software", "yt_dlp", "python", "host", "operator"):
            _text(getattr(self, name), f"agent.{name}")


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """``state`` is complete, partial or failed; ``status`` the availability status;
    ``message`` the platform's own words when it failed, else ""."""

    state: str
    status: str
    message: str

    def __post_init__(self) -> None:
        if _text(self.state, "outcome.state") not in STATES:
            raise InvalidManifest(f"outcome.state {self.state!r} is not one of {', '.join(STATES)}")
        _word(self.status, "outcome.status")
        _text(self.message, "outcome.message")


@dataclass(frozen=True, kw_only=True)
class ManifestFile:
    """One file of the capture, held in the blob store under ``sha256``."""

    role: str
    name: str
    sha256: str
    size: int
    media_type: str

    def __post_init__(self) -> None:
        _word(self.role, "file.role")
        _safe_name(self.name, "file.name")
        if _SHA256.fullmatch(_text(self.sha256, "file.sha256")) is None:
            raise InvalidManifest(f"file.sha256 {self.sha256!r:.80} is not 64 lowercase hex")
        if type(self.size) is not int or not 0 <= self.size <= MAX_INT:
            raise InvalidManifest(f"file.size {self.size!r} is not a non-negative integer")
        media_type = _text(self.media_type, "file.media_type", empty=False)
        if "/" not in media_type or _CONTROL.search(media_type):
            raise InvalidManifest(f"file.media_type {media_type!r:.80} is not a media type")


@dataclass(frozen=True, kw_only=True)
class CaptureManifest:
    """A version 1 capture manifest. Construction checks every invariant of the format."""

    capture_id: str
    target: ManifestTarget
    requested_url: str
    started_at: str
    finished_at: str
    agent: Agent
    outcome: Outcome
    files: tuple[ManifestFile, ...] = ()
    metadata: dict[str, JsonValue] = field(default_factory=dict)
    # the collection record; None: the member is absent from the bytes (older manifests)
    collection: dict[str, JsonValue] | None = None
    manifest_version: int = MANIFEST_VERSION

    def __post_init__(self) -> None:
        if type(self.manifest_version) is not int or self.manifest_version != MANIFEST_VERSION:
            raise InvalidManifest(
                f"manifest_version {self.manifest_version!r} is not supported (only 1)"
            )
        if _UUID.fullmatch(_text(self.capture_id, "capture_id")) is None:
            raise InvalidManifest(f"capture_id {self.capture_id!r:.80} is not a lowercase UUID")
        _text(self.requested_url, "requested_url", empty=False)
        for name, kind in (("target", ManifestTarget), ("agent", Agent), ("outcome", Outcome)):
            if not isinstance(getattr(self, name), kind):
                raise InvalidManifest(f"{name} must be a {kind.__name__}")
        if _instant(self.finished_at, "finished_at") < _instant(self.started_at, "started_at"):
            raise InvalidManifest(f"finished_at {self.finished_at} is before started_at")
        object.__setattr__(self, "files", tuple(self.files))
        seen: set[str] = set()
        for i, f in enumerate(self.files):
            if not isinstance(f, ManifestFile):
                raise InvalidManifest(f"files[{i}] must be a ManifestFile")
            if f.name in seen:
                raise InvalidManifest(f"files[{i}]: name {f.name!r} appears twice")
            seen.add(f.name)
        if not isinstance(self.metadata, dict):
            raise InvalidManifest("metadata must be an object")
        if self.collection is not None and not isinstance(self.collection, dict):
            raise InvalidManifest("collection must be an object")
        try:
            canonical_json(self.to_json())  # every string and metadata value fits the subset
        except CanonicalizationError as exc:
            raise InvalidManifest(f"not representable as canonical JSON: {exc}") from exc

    def to_json(self) -> dict[str, JsonValue]:
        """The manifest as JSON values, in the contract's shape."""
        value: dict[str, JsonValue] = asdict(self)
        value["files"] = [asdict(f) for f in self.files]
        if self.collection is None:  # absent, not null: older manifests keep their bytes
            del value["collection"]
        return value

    def to_bytes(self) -> bytes:
        """The canonical JSON bytes: what is stored, hashed and signed."""
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> CaptureManifest:
        """Parse a manifest; ``InvalidManifest`` unless ``data`` is a canonical v1 manifest."""
        try:
            raw = parse_canonical(data)
        except CanonicalizationError as exc:
            raise InvalidManifest(f"manifest: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidManifest("manifest: not a JSON object")
        if raw.get("manifest_version") != MANIFEST_VERSION:  # before the shape: v2 may differ
            raise InvalidManifest(
                f"manifest_version {raw.get('manifest_version')!r} is not supported (only 1)"
            )
        top = _members(raw, "manifest", cls, optional=frozenset({"collection"}))
        if not isinstance(top["files"], list):
            raise InvalidManifest("files must be an array")
        if "collection" in top and not isinstance(top["collection"], dict):
            raise InvalidManifest("collection must be an object")  # present: never null
        files = []
        for i, item in enumerate(top["files"]):
            try:
                files.append(ManifestFile(**_members(item, f"files[{i}]", ManifestFile)))
            except InvalidManifest as exc:
                raise InvalidManifest(f"files[{i}]: {exc}") from exc
        parts = {
            "target": ManifestTarget(**_members(top["target"], "target", ManifestTarget)),
            "agent": Agent(**_members(top["agent"], "agent", Agent)),
            "outcome": Outcome(**_members(top["outcome"], "outcome", Outcome)),
            "files": tuple(files),
        }
        return cls(**(top | parts))


def _members(value: JsonValue, where: str, kind: type[Any],
             optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """An object with exactly the fields of ``kind`` (those in ``optional`` may be absent);
    the constructor checks the values."""
    if not isinstance(value, dict):
        raise InvalidManifest(f"{where} must be an object")
    names = {f.name for f in fields(kind)}
    if missing := names - optional - value.keys():
        raise InvalidManifest(f"{where} lacks {', '.join(sorted(missing))}")
    if extra := value.keys() - names:
        raise InvalidManifest(f"{where} has unknown members {', '.join(sorted(extra))}")
    return dict(value)
