"""Export one report's evidence package: a BagIt bag (RFC 8493) that verifies alone.

The layout is ``manifests.package_layout``'s; ``manifests.verify_package`` (and the
standalone ``data/verify_package.py`` in every package) checks it without this
archive. The package holds only what concerns this report: its
``report_ingested`` event, the ``capture_stored`` and ``availability_changed``
events of the targets it cites, the archive key's ``key_created`` event, each
with an inclusion proof to one signed (and, when TSAs are configured,
timestamped) checkpoint. The checkpoint's root commits to the whole ledger and
reveals nothing of other reports.

Steps of ``export_package``:
  (1) refuse an OUT that exists and is not an empty folder;
  (2) find the report; checkpoint the ledger (``ledger.make_checkpoint``);
  (3) gather this report's events, captures, the checkpoint to prove against (the
      newest that covers the events and, with TSAs configured, is timestamped), its
      tokens, and the first timestamped checkpoint that held each event;
  (4) write the payload into a staging folder beside OUT, copying blobs as streams
      and re-hashing them on the way (a blob that does not hash to its name stops
      the export);
  (5) write VERIFY.md, the standalone verifier, the signed package index;
  (6) make the bag (bagit-python, SHA-256 manifests), zip it if asked, move it to OUT;
  (7) record a ``package_exported`` event naming the bag's tag manifest.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bagit
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from manifests import (
    CaptureManifest,
    Finding,
    InvalidManifest,
    InvalidPackage,
    Package,
    consistency_proof,
    inclusion_proof,
    sign,
    verify_package,
)
from manifests import package_layout as layout
from preserver.app import Archive
from preserver.config import Config
from preserver.errors import InputError, IntegrityError, RunError
from preserver.events import record_event, rfc3339
from preserver.export_readme import render_verify_md
from preserver.ledger import leaf_hashes, make_checkpoint, origin, trusted_roots
from preserver.models import (
    Capture,
    Checkpoint,
    CheckpointTimestamp,
    Citation,
    Event,
    Report,
    Target,
    utc_now,
)
from preserver.version import __version__
from preserver.views import _reports_named
from storage import BlobNotFound, StorageError

_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class ExportResult:
    path: Path  # the bag folder, or the ZIP file
    report: str
    report_sha256: str
    captures: int
    files: int
    events: int
    checkpoint_size: int
    timestamped_by: tuple[str, ...]  # TSA URLs whose tokens the package carries
    warning: str  # "" or why the package's time is not proven by a TSA
    tagmanifest_sha256: str


@dataclass(frozen=True, kw_only=True)
class _Capture:
    id: str
    target: str
    manifest_sha256: str
    signature_sha256: str


@dataclass(frozen=True, kw_only=True)
class _Stamped:
    row: Checkpoint
    tokens: list[CheckpointTimestamp]


@dataclass(frozen=True, kw_only=True)
class _Gathered:
    report: Report
    targets: list[Target]
    events: list[Event]
    captures: list[_Capture]
    checkpoint: _Stamped
    earlier: list[_Stamped]
    leaves: list[bytes]


async def export_package(archive: Archive, *, report: str, out: Path, zip: bool) -> ExportResult:
    """Write the evidence package of ``report`` (a name or a SHA-256 prefix) to ``out``."""
    # (1)
    out = Path(out).absolute()
    if out.exists() and not (out.is_dir() and not zip and not any(out.iterdir())):
        raise InputError(f"{out} already exists; give a new path (or an empty folder)")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a folder")
    # (2)
    async with archive.db.session() as session:
        ids = await _reports_named(session, report)
    if len(ids) > 1:
        raise InputError(f"{len(ids)} reports match {report!r}; give its SHA-256 (8+ hex digits)")
    outcome = await make_checkpoint(archive)
    # (3)
    async with archive.db.session() as session:
        got = await _gather(archive, session, ids[0], outcome.size)
    warning = _warning(archive, got.checkpoint, outcome.pending)
    # (4)-(6) on disk; bagit-python changes the working directory, so no thread here
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        os.chmod(staging, 0o755)
        counts = _write_payload(archive, got, staging, warning)
        bagit.make_bag(str(staging), checksums=["sha256"], bag_info={
            "Bag-Software-Agent": f"preserver {__version__} (bagit-python {bagit.VERSION})",
            "External-Identifier": got.report.sha256,
            "External-Description": f"Evidence package for the report {got.report.name}; "
                                    "see data/VERIFY.md to verify it with standard tools.",
        })
        tagmanifest = _sha256_file(staging / "tagmanifest-sha256.txt")
        if zip:
            _zip(staging, out)
        else:
            if out.exists():
                out.rmdir()
            staging.rename(out)
    except (bagit.BagError, OSError) as exc:
        raise RunError(f"cannot write the package at {out}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # (7)
    async with archive.db.session() as session:
        await record_event(session, action="package_exported", subject=got.report.sha256,
                           operator=archive.operator,
                           details={"tagmanifest_sha256": tagmanifest,
                                    "checkpoint_size": got.checkpoint.row.size,
                                    "events": len(got.events), "captures": len(got.captures),
                                    "zip": zip})
    return ExportResult(path=out, report=got.report.name, report_sha256=got.report.sha256,
                        captures=len(got.captures), files=counts, events=len(got.events),
                        checkpoint_size=got.checkpoint.row.size,
                        timestamped_by=tuple(t.tsa_url for t in got.checkpoint.tokens),
                        warning=warning, tagmanifest_sha256=tagmanifest)


def verify_exported(path: Path, *, config: Config | None = None, tsa_roots: Path | None = None,
                    key_id: str | None = None) -> list[Finding]:
    """Verify the package at ``path`` alone (``manifests.verify_package``): no archive is
    opened. TSA roots: ``tsa_roots``, else ``custody.tsa_roots``, else the system's store.
    ``InputError`` (exit 2) when ``path`` is not a package that can be opened."""
    config = config or Config()
    if tsa_roots is not None:
        config = replace(config, custody=replace(config.custody, tsa_roots=str(tsa_roots)))
    roots = trusted_roots(config)
    try:
        with Package.open(path) as package:
            return verify_package(package, trust_roots=roots, expected_key_id=key_id)
    except InvalidPackage as exc:
        raise InputError(str(exc)) from exc


async def _gather(archive: Archive, session: AsyncSession, report_id: int,
                  size: int) -> _Gathered:
    report = await session.get_one(Report, report_id)
    targets = list((await session.scalars(select(Target).where(col(Target.id).in_(
        select(Citation.target_id).where(col(Citation.report_id) == report_id)))
        .order_by(col(Target.key)))).all())
    keys = [t.key for t in targets]
    events = list((await session.scalars(select(Event).where(
        col(Event.seq).is_not(None), col(Event.seq) < size,
        ((col(Event.action) == "report_ingested") & (col(Event.subject) == report.sha256))
        | (col(Event.action).in_(("capture_stored", "availability_changed"))
           & col(Event.subject).in_(keys))
        | ((col(Event.action) == "key_created") & (col(Event.subject) == archive.key.key_id)))
        .order_by(col(Event.seq)))).all())
    if not any(e.action == "report_ingested" for e in events):
        raise IntegrityError(f"the ledger holds no report_ingested event for {report.name} "
                             "(run `preserver verify`)")
    stored = {e.subject for e in events if e.action == "capture_stored"}
    rows = (await session.execute(select(Capture, Target.key).join(
        Target, col(Target.id) == col(Capture.target_id)).where(col(Target.key).in_(stored))
        .order_by(col(Target.key), col(Capture.finished_at)))).all()
    recorded = {str(_details(e).get("capture_id")) for e in events if e.action == "capture_stored"}
    captures = [_Capture(id=c.id, target=key, manifest_sha256=c.manifest_sha256,
                         signature_sha256=c.signature_sha256)
                for c, key in rows if c.id in recorded]
    need = max(e.seq or 0 for e in events) + 1
    checkpoints = list((await session.scalars(select(Checkpoint).where(
        col(Checkpoint.size) <= size).order_by(col(Checkpoint.size)))).all())
    with_tokens = set((await session.scalars(
        select(CheckpointTimestamp.checkpoint_id).distinct())).all())
    covering = [c for c in checkpoints if c.size >= need]
    if not covering:
        raise RunError(f"no checkpoint covers the report's events ({need} leaves needed)")
    stamped = [c for c in checkpoints if c.id in with_tokens]
    main = ([c for c in covering if c.id in with_tokens] or covering)[-1]
    # the first timestamped checkpoint that held each event: it existed then, at the latest
    firsts = {first.size: first for e in events if (first := next(
        (c for c in stamped if c.size > (e.seq or 0)), None)) is not None
        and first.size < main.size}
    chosen = [main, *(firsts[s] for s in sorted(firsts))]
    tokens: dict[int, list[CheckpointTimestamp]] = {c.id or 0: [] for c in chosen}
    for t in (await session.scalars(select(CheckpointTimestamp).where(
            col(CheckpointTimestamp.checkpoint_id).in_(list(tokens)))
            .order_by(col(CheckpointTimestamp.id)))).all():
        tokens[t.checkpoint_id].append(t)
    stamps = [_Stamped(row=c, tokens=tokens[c.id or 0]) for c in chosen]
    return _Gathered(report=report, targets=targets, events=events, captures=captures,
                     checkpoint=stamps[0], earlier=stamps[1:],
                     leaves=await leaf_hashes(session, main.size))


def _details(event: Event) -> dict[str, Any]:
    value = json.loads(event.body).get("details")
    return value if isinstance(value, dict) else {}


def _warning(archive: Archive, chosen: _Stamped, pending: tuple[str, ...]) -> str:
    if chosen.tokens:
        return ""
    if not archive.config.custody.tsa_urls:
        return ("not timestamped: no RFC 3161 authority is configured (custody.tsa_urls), so "
                "nothing but the archive's own signature says when the checkpoint was made")
    why = "; ".join(pending) or "no authority has answered yet"
    return (f"not timestamped: the configured authorities gave no token ({why}); run "
            "`preserver checkpoint` later and export again")


def _copy_blob(archive: Archive, sha256: str, dest: Path) -> int:
    """Stream blob ``sha256`` to ``dest``, re-hashing it; IntegrityError if it is altered."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with archive.store.open(sha256) as src, dest.open("xb") as fh:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                fh.write(chunk)
                size += len(chunk)
    except BlobNotFound as exc:
        raise IntegrityError(f"blob {sha256} is missing from the store (run `preserver "
                             "verify`)") from exc
    except StorageError as exc:
        raise RunError(f"cannot read blob {sha256}: {exc}") from exc
    if digest.hexdigest() != sha256:
        raise IntegrityError(f"blob {sha256} re-hashes to {digest.hexdigest()}: it was altered "
                             "(run `preserver verify`)")
    return size


def _put(staging: Path, path: str, data: bytes) -> None:
    dest = staging / path.removeprefix("data/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


def _read_blob(archive: Archive, sha256: str) -> bytes:
    with archive.store.open(sha256) as fh:
        return fh.read()


def _write_payload(archive: Archive, got: _Gathered, staging: Path, warning: str) -> int:
    """Steps (4) and (5): every payload file, written under ``staging`` (bagit-python
    moves them into ``data/``). Returns the number of captured files."""
    report_name = layout.report_file_name(got.report.name)
    _copy_blob(archive, got.report.blob_sha256, staging / "report" / report_name)
    files, manifests = 0, []
    for cap in got.captures:
        directory = layout.capture_dir(cap.target, cap.id).removeprefix("data/")
        data = _read_blob(archive, cap.manifest_sha256)
        try:
            manifest = CaptureManifest.from_bytes(data)
        except InvalidManifest as exc:
            raise IntegrityError(f"capture {cap.id}: its manifest is unreadable: {exc}") from exc
        _copy_blob(archive, cap.manifest_sha256, staging / directory / "manifest.json")
        _copy_blob(archive, cap.signature_sha256, staging / directory / "manifest.json.sig")
        for f in manifest.files:
            _copy_blob(archive, f.sha256, staging / directory / "files" / f.name)
            files += 1
        manifests.append((cap, manifest))
    _put(staging, layout.PUBLIC_KEY, archive.key.public_key_pem)
    main = got.checkpoint
    _put_checkpoint(staging, layout.CUSTODY, main)
    for e in got.events:
        seq = e.seq or 0
        _put(staging, layout.event_path(seq), e.body)
        _put(staging, layout.proof_path(seq), layout.InclusionProof(
            leaf_index=seq, tree_size=main.row.size,
            hashes=inclusion_proof(got.leaves, seq)).to_bytes())
    for early in got.earlier:
        directory = layout.earlier_dir(early.row.size)
        _put_checkpoint(staging, directory, early)
        _put(staging, directory + "consistency.json", layout.ConsistencyProof(
            old_size=early.row.size, new_size=main.row.size,
            hashes=consistency_proof(got.leaves, early.row.size)).to_bytes())
    exported_at = rfc3339(utc_now())
    verify_md = render_verify_md(archive=archive, report=got.report, report_name=report_name,
                                 exported_at=exported_at,
                                 targets=got.targets, captures=manifests, events=got.events,
                                 checkpoint=main.row, tokens=main.tokens,
                                 earlier=[e.row for e in got.earlier], warning=warning)
    verifier = importlib.resources.files("manifests").joinpath("_standalone.py").read_bytes()
    _put(staging, layout.VERIFY_MD, verify_md)
    _put(staging, layout.VERIFIER, verifier)
    index = _index(archive, got, report_name, exported_at, {
        "VERIFY.md": hashlib.sha256(verify_md).hexdigest(),
        "verify_package.py": hashlib.sha256(verifier).hexdigest()})
    _put(staging, layout.INDEX, index)
    _put(staging, layout.INDEX_SIG, sign(archive.key, index))
    return files


def _put_checkpoint(staging: Path, directory: str, stamped: _Stamped) -> None:
    _put(staging, directory + "checkpoint", stamped.row.text)
    for n, t in enumerate(stamped.tokens, 1):
        _put(staging, layout.token_path(directory, n), t.token)
        _put(staging, layout.chain_path(directory, n), t.chain)


def _index(archive: Archive, got: _Gathered, report_name: str, exported_at: str,
           tools: dict[str, str]) -> bytes:
    def cp(s: _Stamped) -> layout.IndexCheckpoint:
        return layout.IndexCheckpoint(size=s.row.size, root=s.row.root, timestamps=len(s.tokens))

    return layout.PackageIndex(
        origin=origin(archive), key_id=archive.key.key_id, exported_at=exported_at,
        report_name=report_name, report_sha256=got.report.sha256, report_size=got.report.size,
        checkpoint=cp(got.checkpoint), earlier=tuple(cp(e) for e in got.earlier),
        events=tuple(layout.IndexEvent(index=e.seq or 0, action=e.action, subject=e.subject)
                     for e in got.events),
        captures=tuple(layout.IndexCapture(capture_id=c.id, target=c.target,
                                           manifest_sha256=c.manifest_sha256)
                       for c in got.captures),
        tools=tools).to_bytes()


def _sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _zip(bag: Path, out: Path) -> None:
    """The bag as one ZIP, under a folder named after ``out``; written beside, then renamed."""
    folder = out.stem if out.suffix.lower() == ".zip" else out.name
    partial = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(partial, "x", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for path in sorted(p for p in bag.rglob("*") if p.is_file()):
            zf.write(path, f"{folder}/{path.relative_to(bag).as_posix()}")
    partial.rename(out)
