"""The evidence package's layout and the small files in it, as types.

One place says where each thing lives in the bag, so the exporter
(``preserver.export``) writes what the verifier (``manifests.package_verify``)
reads. Inside the BagIt payload (``data/``)::

    VERIFY.md                          how to verify, step by step, with standard tools
    verify_package.py                  the standalone verifier (stdlib + cryptography)
    package.json, package.json.sig     the package index, signed by the archive's key
    report/<report file name>          the report, byte for byte as ingested
    captures/<target>/<capture id>/    manifest.json, manifest.json.sig, files/<name>,
                                       certificate.html, certificate.pdf (the capture
                                       certificate, for a reader; the PDF when Chromium
                                       printed it)
    custody/public-key.pem             the archive's Ed25519 key (SubjectPublicKeyInfo)
    custody/checkpoint                 the signed checkpoint (C2SP signed note)
    custody/checkpoint.<n>.tsr         RFC 3161 token n over the checkpoint file's bytes
    custody/tsa-<n>.pem                the certificates token n carries (not a trust anchor)
    custody/events/<leaf index>.json   an event's exact bytes (a leaf of the ledger)
    custody/proofs/<leaf index>.json   its inclusion proof to the checkpoint
    custody/earlier/<size>/            the first timestamped checkpoint that held some of
                                       these events: checkpoint, checkpoint.<n>.tsr,
                                       tsa-<n>.pem, consistency.json (proof to custody/checkpoint)

Parsers here raise ``VerificationError``: inside an opened package an unreadable
file is a failed check (docs/style.md, "Errors").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from manifests.canonical import JsonValue, canonical_json, parse_canonical
from manifests.errors import CanonicalizationError, VerificationError

PACKAGE_VERSION = 1
VERIFY_MD = "data/VERIFY.md"
VERIFIER = "data/verify_package.py"
INDEX = "data/package.json"
INDEX_SIG = "data/package.json.sig"
REPORT_DIR = "data/report/"
CAPTURES = "data/captures/"
CUSTODY = "data/custody/"
PUBLIC_KEY = CUSTODY + "public-key.pem"
CHECKPOINT = CUSTODY + "checkpoint"
EVENTS = CUSTODY + "events/"
PROOFS = CUSTODY + "proofs/"
EARLIER = CUSTODY + "earlier/"
MAX_SMALL = 16 << 20  # a manifest, an event, a proof, a token, a key: far less than this
CERTIFICATE_HTML = "certificate.html"  # in a capture's folder, beside manifest.json
CERTIFICATE_PDF = "certificate.pdf"
CERTIFICATES = (CERTIFICATE_HTML, CERTIFICATE_PDF)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SEPARATOR = re.compile(r"[-.]*-[-.]*|\.\.+")


def token_path(directory: str, n: int) -> str:
    """``<dir>checkpoint.<n>.tsr``: RFC 3161 token ``n`` (from 1) over ``<dir>checkpoint``."""
    return f"{directory}checkpoint.{n}.tsr"


def chain_path(directory: str, n: int) -> str:
    return f"{directory}tsa-{n}.pem"


def earlier_dir(size: int) -> str:
    return f"{EARLIER}{size}/"


def event_path(index: int) -> str:
    return f"{EVENTS}{index}.json"


def proof_path(index: int) -> str:
    return f"{PROOFS}{index}.json"


def target_dir(key: str) -> str:
    """A folder name for a target key: ``youtube:45WIwFETn3E`` -> ``youtube-45WIwFETn3E``.

    When the key does not survive as is (a URL), a short hash of the key is added
    so two targets never share a folder: ``web-example.org-a-b-3f1c2a9e0b7d``.
    """
    platform, _, ident = key.partition(":")
    safe_platform = _tidy(platform) or "target"
    safe = _tidy(ident)[:80].strip("-.")
    name = f"{safe_platform}-{safe}" if safe else safe_platform
    if safe != ident or safe_platform != platform:
        name += "-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return name


def _tidy(text: str) -> str:
    """Runs of anything but letters, digits, '.', '_' and '-' become one '-', and
    no run of dots survives next to a '-' (``/../`` becomes ``-``)."""
    return _SEPARATOR.sub("-", _SAFE.sub("-", text)).strip("-.")


def capture_dir(key: str, capture_id: str) -> str:
    return f"{CAPTURES}{target_dir(key)}/{capture_id}/"


def report_file_name(name: str) -> str:
    """The report's file name as ingested, made one safe path component (letters of
    any script kept; separators, controls and reserved characters replaced by ``_``)."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    kept = "".join(c if unicodedata.category(c)[0] in "LNM" or c in "._- " else "_"
                   for c in base).strip(" .")
    if len(kept.encode("utf-8")) > 200:
        stem, dot, ext = kept.rpartition(".")
        if not dot or len(ext) > 16:
            stem, ext = kept, ""
        kept = stem.encode("utf-8")[:180].decode("utf-8", "ignore").rstrip(" .")
        kept += f".{ext}" if ext else ""
    return kept or "report"


def _load(data: bytes, where: str) -> dict[str, JsonValue]:
    try:
        value = parse_canonical(data)
    except CanonicalizationError as exc:
        raise VerificationError(f"{where}: not canonical JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise VerificationError(f"{where}: not a JSON object")
    return value


def _fields(value: JsonValue, where: str, **kinds: type) -> dict[str, Any]:
    """Exactly these members, each of its type (``int`` never accepts a bool)."""
    if not isinstance(value, dict):
        raise VerificationError(f"{where}: not a JSON object")
    if set(value) != set(kinds):
        raise VerificationError(f"{where}: members are {sorted(value)}, expected {sorted(kinds)}")
    for name, kind in kinds.items():
        member = value[name]
        if not isinstance(member, kind) or (kind is int and isinstance(member, bool)):
            raise VerificationError(f"{where}: {name} is not a {kind.__name__}")
        if isinstance(member, int) and not 0 <= member <= 2**53 - 1:
            raise VerificationError(f"{where}: {name} {member} is out of range")
    return dict(value)


def _hashes(values: list[JsonValue], where: str) -> tuple[bytes, ...]:
    if len(values) > 64:
        raise VerificationError(f"{where}: {len(values)} hashes; a proof has at most 64")
    if not all(isinstance(h, str) and _HEX64.fullmatch(h) for h in values):
        raise VerificationError(f"{where}: hashes must be 64 lowercase hex digits each")
    return tuple(bytes.fromhex(str(h)) for h in values)


@dataclass(frozen=True, kw_only=True)
class InclusionProof:
    """``proofs/<i>.json``: leaf ``leaf_index`` is in the tree of ``tree_size`` leaves
    (RFC 9162 section 2.1.3), audit path deepest first."""

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        return canonical_json({"leaf_index": self.leaf_index, "tree_size": self.tree_size,
                               "hashes": [h.hex() for h in self.hashes]})

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> InclusionProof:
        raw = _fields(_load(data, where), where, leaf_index=int, tree_size=int, hashes=list)
        if raw["leaf_index"] >= raw["tree_size"]:
            raise VerificationError(f"{where}: leaf_index is not below tree_size")
        return cls(leaf_index=raw["leaf_index"], tree_size=raw["tree_size"],
                   hashes=_hashes(raw["hashes"], where))


@dataclass(frozen=True, kw_only=True)
class ConsistencyProof:
    """``earlier/<size>/consistency.json``: the tree of ``new_size`` extends the tree of
    ``old_size`` (RFC 9162 section 2.1.4)."""

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        return canonical_json({"old_size": self.old_size, "new_size": self.new_size,
                               "hashes": [h.hex() for h in self.hashes]})

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> ConsistencyProof:
        raw = _fields(_load(data, where), where, old_size=int, new_size=int, hashes=list)
        return cls(old_size=raw["old_size"], new_size=raw["new_size"],
                   hashes=_hashes(raw["hashes"], where))


@dataclass(frozen=True, kw_only=True)
class CustodyEvent:
    """A ledger event as the archive wrote it: canonical JSON with these five members,
    and a random ``salt`` (events written since salting was introduced)."""

    action: str
    subject: str
    time: str
    actor: dict[str, JsonValue]
    details: dict[str, JsonValue]
    salt: str = ""

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> CustodyEvent:
        loaded = _load(data, where)
        salt = ""
        if isinstance(loaded, dict) and "salt" in loaded:
            if not isinstance(loaded["salt"], str):
                raise VerificationError(f"{where}: salt is not a str")
            salt = loaded["salt"]
            loaded = {k: v for k, v in loaded.items() if k != "salt"}
        raw = _fields(loaded, where, action=str, subject=str, time=str, actor=dict,
                      details=dict)
        return cls(**raw, salt=salt)


@dataclass(frozen=True, kw_only=True)
class IndexEvent:
    index: int
    action: str
    subject: str


@dataclass(frozen=True, kw_only=True)
class IndexCapture:
    capture_id: str
    target: str
    manifest_sha256: str
    path: str  # its folder, "data/captures/<target>/<capture id>/"
    # its capture certificates (CERTIFICATES) beside manifest.json: name -> SHA-256;
    # none in packages exported before certificates, and then the member is absent
    certificates: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, JsonValue]:
        value: dict[str, JsonValue] = {"capture_id": self.capture_id, "target": self.target,
                                       "manifest_sha256": self.manifest_sha256,
                                       "path": self.path}
        if self.certificates:
            value["certificates"] = dict(self.certificates)
        return value

    @classmethod
    def from_json(cls, value: JsonValue, where: str) -> IndexCapture:
        certificates: JsonValue = {}
        if isinstance(value, dict) and "certificates" in value:
            value = dict(value)
            certificates = value.pop("certificates")
        raw = _fields(value, where, capture_id=str, target=str, manifest_sha256=str, path=str)
        kept = _fields(certificates, f"{where} certificates",
                       **{name: str for name in certificates if name in CERTIFICATES}
                       if isinstance(certificates, dict) else {})
        if not all(_HEX64.fullmatch(sha) for sha in kept.values()):
            raise VerificationError(f"{where} certificates: a SHA-256 is not 64 lowercase hex")
        return cls(**raw, certificates=kept)


@dataclass(frozen=True, kw_only=True)
class IndexCheckpoint:
    size: int
    root: str  # hex
    timestamps: int  # tokens beside it


@dataclass(frozen=True, kw_only=True)
class PackageIndex:
    """``package.json``: what the package holds, signed by the archive's key
    (``package.json.sig``), so that leaving out or adding an event or a capture is
    caught even though each event's own proof still holds."""

    origin: str
    key_id: str
    exported_at: str
    report_name: str
    report_sha256: str
    report_size: int
    checkpoint: IndexCheckpoint
    earlier: tuple[IndexCheckpoint, ...]
    events: tuple[IndexEvent, ...]
    captures: tuple[IndexCapture, ...]
    tools: dict[str, str]  # VERIFY.md and verify_package.py: path -> sha256
    package_version: int = PACKAGE_VERSION

    @property
    def report_path(self) -> str:
        return REPORT_DIR + self.report_name

    def to_bytes(self) -> bytes:
        def cp(c: IndexCheckpoint) -> dict[str, JsonValue]:
            return {"size": c.size, "root": c.root, "timestamps": c.timestamps}

        return canonical_json({
            "package_version": self.package_version, "origin": self.origin,
            "key_id": self.key_id, "exported_at": self.exported_at,
            "report": {"name": self.report_name, "sha256": self.report_sha256,
                       "size": self.report_size},
            "checkpoint": cp(self.checkpoint), "earlier": [cp(c) for c in self.earlier],
            "events": [{"index": e.index, "action": e.action, "subject": e.subject}
                       for e in self.events],
            "captures": [c.to_json() for c in self.captures],
            "tools": dict(self.tools)})

    @classmethod
    def from_bytes(cls, data: bytes) -> PackageIndex:
        where = INDEX
        raw = _load(data, where)
        if raw.get("package_version") != PACKAGE_VERSION:
            raise VerificationError(f"{where}: package_version {raw.get('package_version')!r} "
                                    f"is not supported (only {PACKAGE_VERSION})")
        top = _fields(raw, where, package_version=int, origin=str, key_id=str, exported_at=str,
                      report=dict, checkpoint=dict, earlier=list, events=list, captures=list,
                      tools=dict)
        report = _fields(top["report"], f"{where} report", name=str, sha256=str, size=int)
        if report["name"] != report_file_name(report["name"]):
            raise VerificationError(f"{where}: report name {report['name']!r} is not safe")

        def cp(value: JsonValue, at: str) -> IndexCheckpoint:
            c = _fields(value, at, size=int, root=str, timestamps=int)
            return IndexCheckpoint(**c)

        events = tuple(IndexEvent(**_fields(e, f"{where} events[{i}]", index=int, action=str,
                                            subject=str)) for i, e in enumerate(top["events"]))
        captures = tuple(IndexCapture.from_json(c, f"{where} captures[{i}]")
                         for i, c in enumerate(top["captures"]))
        return cls(origin=top["origin"], key_id=top["key_id"], exported_at=top["exported_at"],
                   report_name=report["name"], report_sha256=report["sha256"],
                   report_size=report["size"], checkpoint=cp(top["checkpoint"], where),
                   earlier=tuple(cp(c, f"{where} earlier[{i}]")
                                 for i, c in enumerate(top["earlier"])),
                   events=events, captures=captures,
                   tools=_fields(top["tools"], f"{where} tools",
                                 **{name: str for name in top["tools"]}))
