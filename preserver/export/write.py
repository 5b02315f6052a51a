"""Writing an evidence package's payload (steps (4) to (6) of ``preserver.export``):
blobs streamed out of the store and re-hashed on the way, the custody files, the capture
certificates (``preserver.export.certify``), VERIFY.md, the standalone verifier and the
signed package index, then the ZIP when asked for."""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from manifests import (
    CaptureManifest,
    InvalidManifest,
    sign,
)
from manifests import package_layout as layout
from preserver.archive import Archive
from preserver.custody.events import rfc3339
from preserver.custody.ledger import origin
from preserver.db.models import CheckpointRow, CheckpointTimestamp, Event, Report, Target, utc_now
from preserver.errors import IntegrityError, RunError
from preserver.export.certificate import Cited
from preserver.export.certify import Certified, Written, write_certificates
from preserver.export.readme import render_verify_md
from storage import BlobNotFound, DigestMismatch, HashingReader, StorageError, hash_stream

_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class CaptureRef:
    id: str
    target: str
    manifest_sha256: str
    signature_sha256: str


@dataclass(frozen=True, kw_only=True)
class Stamped:
    row: CheckpointRow
    tokens: list[CheckpointTimestamp]


@dataclass(frozen=True, kw_only=True)
class Proofs:
    inclusion: dict[int, tuple[bytes, ...]]  # leaf index -> its inclusion proof in the checkpoint
    consistency: dict[int, tuple[bytes, ...]]  # an earlier size -> its proof to the checkpoint


@dataclass(frozen=True, kw_only=True)
class Gathered:
    report: Report
    targets: list[Target]
    events: list[Event]
    captures: list[CaptureRef]
    checkpoint: Stamped
    earlier: list[Stamped]
    proofs: Proofs
    cited: dict[str, list[Cited]]  # target key -> this report's citations of it


def _copy_blob(archive: Archive, sha256: str, dest: Path) -> int:
    """Stream blob ``sha256`` to ``dest``, re-hashing it; IntegrityError if it is altered."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.store.open(sha256) as src, dest.open("xb") as fh:
            reader = HashingReader(src, expected=sha256)
            while chunk := reader.read(_CHUNK):
                fh.write(chunk)
    except BlobNotFound as exc:
        raise IntegrityError(f"blob {sha256} is missing from the store (run `preserver "
                             "verify`)") from exc
    except DigestMismatch as exc:
        raise IntegrityError(f"blob {sha256} re-hashes to {exc.actual}: it was altered "
                             "(run `preserver verify`)") from exc
    except StorageError as exc:
        raise RunError(f"cannot read blob {sha256}: {exc}") from exc
    return reader.size


def _put(staging: Path, path: str, data: bytes) -> None:
    dest = staging / path.removeprefix("data/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


def _read_blob(archive: Archive, sha256: str) -> bytes:
    with archive.store.open(sha256) as fh:
        return fh.read()


@dataclass(frozen=True, kw_only=True)
class Payload:
    files: int  # captured files written
    notice: str  # "" or which capture certificates have no PDF, and why


async def write_payload(archive: Archive, got: Gathered, staging: Path, warning: str) -> Payload:
    """Steps (4) and (5): every payload file, written under ``staging`` (bagit-python
    moves them into ``data/``)."""
    report_name = layout.report_file_name(got.report.name)
    _copy_blob(archive, got.report.blob_sha256, staging / "report" / report_name)
    files, written = 0, []
    for cap in got.captures:
        folder = layout.capture_dir(cap.target, cap.id)
        directory = folder.removeprefix("data/")
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
        written.append(Written(capture_id=cap.id, target=cap.target, folder=folder,
                               manifest=manifest, manifest_bytes=data,
                               manifest_sha256=cap.manifest_sha256,
                               signature_sha256=cap.signature_sha256))
    _put(staging, layout.PUBLIC_KEY, archive.key.public_key_pem)
    main = got.checkpoint
    _put_checkpoint(staging, layout.CUSTODY, main)
    for e in got.events:
        seq = e.seq or 0
        _put(staging, layout.event_path(seq), e.body)
        _put(staging, layout.proof_path(seq), layout.InclusionProof(
            leaf_index=seq, tree_size=main.row.size,
            hashes=got.proofs.inclusion[seq]).to_bytes())
    for early in got.earlier:
        directory = layout.earlier_dir(early.row.size)
        _put_checkpoint(staging, directory, early)
        _put(staging, directory + "consistency.json", layout.ConsistencyProof(
            old_size=early.row.size, new_size=main.row.size,
            hashes=got.proofs.consistency[early.row.size]).to_bytes())
    exported_at = rfc3339(utc_now())
    certified = await write_certificates(archive, staging, written, report_name=report_name,
                                         report_sha256=got.report.sha256, cited=got.cited,
                                         exported_at=exported_at)
    verify_md = render_verify_md(archive=archive, report=got.report, report_name=report_name,
                                 exported_at=exported_at, targets=got.targets,
                                 captures=[(w, w.manifest) for w in written], events=got.events,
                                 checkpoint=main.row, tokens=main.tokens,
                                 earlier=[e.row for e in got.earlier], warning=warning,
                                 notice=certified.notice)
    verifier = importlib.resources.files("manifests").joinpath("_standalone.py").read_bytes()
    _put(staging, layout.VERIFY_MD, verify_md)
    _put(staging, layout.VERIFIER, verifier)
    index = _index(archive, got, report_name, exported_at, {
        "VERIFY.md": hashlib.sha256(verify_md).hexdigest(),
        "verify_package.py": hashlib.sha256(verifier).hexdigest()}, certified)
    _put(staging, layout.INDEX, index)
    _put(staging, layout.INDEX_SIG, sign(archive.key, index))
    return Payload(files=files, notice=certified.notice)


def _put_checkpoint(staging: Path, directory: str, stamped: Stamped) -> None:
    _put(staging, directory + "checkpoint", stamped.row.text)
    for n, t in enumerate(stamped.tokens, 1):
        _put(staging, layout.token_path(directory, n), t.token)
        _put(staging, layout.chain_path(directory, n), t.chain)


def _index(archive: Archive, got: Gathered, report_name: str, exported_at: str,
           tools: dict[str, str], certified: Certified) -> bytes:
    def cp(s: Stamped) -> layout.IndexCheckpoint:
        return layout.IndexCheckpoint(size=s.row.size, root=s.row.root, timestamps=len(s.tokens))

    return layout.PackageIndex(
        origin=origin(archive), key_id=archive.key.key_id, exported_at=exported_at,
        report_name=report_name, report_sha256=got.report.sha256, report_size=got.report.size,
        checkpoint=cp(got.checkpoint), earlier=tuple(cp(e) for e in got.earlier),
        events=tuple(layout.IndexEvent(index=e.seq or 0, action=e.action, subject=e.subject)
                     for e in got.events),
        captures=tuple(layout.IndexCapture(capture_id=c.id, target=c.target,
                                           manifest_sha256=c.manifest_sha256,
                                           path=layout.capture_dir(c.target, c.id),
                                           certificates=certified.hashes.get(c.id, {}))
                       for c in got.captures),
        tools=tools).to_bytes()


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hash_stream(fh)[0]


def write_zip(bag: Path, out: Path) -> None:
    """The bag as one ZIP, under a folder named after ``out``; written beside under a name
    of its own (``.OUT.<random>.partial``: a killed export's leftover never blocks the
    next), then renamed to ``out``."""
    folder = out.stem if out.suffix.lower() == ".zip" else out.name
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    partial = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it 0600; evidence follows the umask
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED,
                                                        allowZip64=True) as zf:
            for path in sorted(p for p in bag.rglob("*") if p.is_file()):
                zf.write(path, f"{folder}/{path.relative_to(bag).as_posix()}")
        partial.rename(out)
    finally:
        partial.unlink(missing_ok=True)
