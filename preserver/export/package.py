"""Export one report's evidence package: a BagIt bag (RFC 8493) that verifies alone.

The layout is ``manifests.package_layout``'s; ``manifests.verify_package`` (and the
standalone ``data/verify_package.py`` in every package) checks it without this
archive. The package holds only what concerns this report: its
``report_ingested`` event, the ``capture_stored``, ``availability_changed`` and
``witness_saved`` events of the targets it cites, the archive key's ``key_created`` event, each
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
  (5) write each capture's certificate (HTML, and PDF printed by Chromium when it can),
      VERIFY.md, the standalone verifier, the signed package index;
  (6) make the bag (bagit-python, SHA-256 manifests), zip it if asked, move it to OUT;
  (7) record a ``package_exported`` event naming the bag's tag manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from manifests import FindingOutcome, Package, verify_package
from preserver.archive import Archive
from preserver.custody import nodes
from preserver.custody.events import EventAction, record_event
from preserver.custody.ledger import make_checkpoint, session_fetch
from preserver.custody.tsa import trusted_roots
from preserver.db.models import (
    Capture,
    CheckpointRow,
    CheckpointTimestamp,
    Citation,
    Event,
    Report,
    Target,
)
from preserver.errors import InputError, IntegrityError, RunError
from preserver.export.certificate import Cited
from preserver.export.write import (
    CaptureRef,
    Gathered,
    Proofs,
    Stamped,
    sha256_file,
    write_payload,
    write_zip,
)
from preserver.version import __version__
from preserver.views.targets import reports_named


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
    notice: str  # "" or which capture certificates have no PDF, and why
    tagmanifest_sha256: str


async def export_package(archive: Archive, *, report: str, out: Path, zip: bool,
                         self_check: bool = True) -> ExportResult:
    """Write the evidence package of ``report`` (a name or a SHA-256 prefix) to ``out``.

    The package is verified as a recipient would before it is published; a package that
    would fail is not written (``IntegrityError``). ``self_check=False`` exists for tests
    that play a dishonest archive whose package the recipient must catch.
    """
    # (1)
    out = Path(out).absolute()
    if out.exists() and not (out.is_dir() and not zip and not any(out.iterdir())):
        raise InputError(f"{out} already exists; give a new path (or an empty folder)")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a folder")
    # (2)
    async with archive.db.reader() as reader:
        ids = await reports_named(reader, report)
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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it 0700; evidence follows the umask
        payload = await write_payload(archive, got, staging, warning)
        bagit.make_bag(str(staging), checksums=["sha256"], bag_info={
            "Bag-Software-Agent": f"preserver {__version__} (bagit-python {bagit.VERSION})",
            "External-Identifier": got.report.sha256,
            "External-Description": f"Evidence package for the report {got.report.name}; "
                                    "see data/VERIFY.md to verify it with standard tools.",
        })
        tagmanifest = sha256_file(staging / "tagmanifest-sha256.txt")
        if self_check:
            _self_check(archive, staging)  # nothing leaves that would fail at the recipient
        if zip:
            write_zip(staging, out)
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
        await record_event(session, action=EventAction.PACKAGE_EXPORTED, subject=got.report.sha256,
                           operator=archive.operator,
                           details={"tagmanifest_sha256": tagmanifest,
                                    "checkpoint_size": got.checkpoint.row.size,
                                    "events": len(got.events), "captures": len(got.captures),
                                    "zip": zip})
    return ExportResult(path=out, report=got.report.name, report_sha256=got.report.sha256,
                        captures=len(got.captures), files=payload.files, events=len(got.events),
                        checkpoint_size=got.checkpoint.row.size,
                        timestamped_by=tuple(t.tsa_url for t in got.checkpoint.tokens),
                        warning=warning, notice=payload.notice, tagmanifest_sha256=tagmanifest)


def _self_check(archive: Archive, staging: Path) -> None:
    """Verify the package as a recipient would, with the archive's key pinned; a failure
    here is the archive's (a damaged blob or row), and nothing is published."""
    roots: list[bytes] = []
    if archive.config.custody.tsa_urls:
        roots = trusted_roots(archive.config)
    with Package.open(staging) as package:
        findings = verify_package(package, trust_roots=roots,
                                  expected_key_id=archive.key.key_id)
    failed = [f for f in findings if f.outcome == FindingOutcome.FAILED
              and not (f.check == "timestamp" and not roots)]
    if failed:
        first = failed[0]
        raise IntegrityError(f"the package would not verify, so it was not written: "
                             f"{first.subject}: {first.check}: {first.detail} "
                             f"({len(failed)} failures; run `preserver verify`)")


async def _gather(archive: Archive, session: AsyncSession, report_id: int,
                  size: int) -> Gathered:
    report = await session.get_one(Report, report_id)
    targets = list((await session.scalars(select(Target).where(col(Target.id).in_(
        select(Citation.target_id).where(col(Citation.report_id) == report_id)))
        .order_by(col(Target.key)))).all())
    keys = [t.key for t in targets]
    events = list((await session.scalars(select(Event).where(
        col(Event.seq).is_not(None), col(Event.seq) < size,
        ((col(Event.action) == EventAction.REPORT_INGESTED) & (col(Event.subject) == report.sha256))
        | (col(Event.action).in_((EventAction.CAPTURE_STORED, EventAction.AVAILABILITY_CHANGED,
                                  EventAction.WITNESS_SAVED))
           & col(Event.subject).in_(keys))
        | ((col(Event.action) == EventAction.KEY_CREATED)
           & (col(Event.subject) == archive.key.key_id)))
        .order_by(col(Event.seq)))).all())
    if not any(e.action == EventAction.REPORT_INGESTED for e in events):
        raise IntegrityError(f"the ledger holds no report_ingested event for {report.name} "
                             "(run `preserver verify`)")
    stored = {e.subject for e in events if e.action == EventAction.CAPTURE_STORED}
    rows = (await session.execute(select(Capture, Target.key).join(
        Target, col(Target.id) == col(Capture.target_id)).where(col(Target.key).in_(stored))
        .order_by(col(Target.key), col(Capture.finished_at)))).all()
    recorded = {str(_details(e).get("capture_id")) for e in events
                if e.action == EventAction.CAPTURE_STORED}
    captures = [CaptureRef(id=c.id, target=key, manifest_sha256=c.manifest_sha256,
                         signature_sha256=c.signature_sha256)
                for c, key in rows if c.id in recorded]
    need = max(e.seq or 0 for e in events) + 1
    checkpoints = list((await session.scalars(select(CheckpointRow).where(
        col(CheckpointRow.size) <= size).order_by(col(CheckpointRow.size)))).all())
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
    stamps = [Stamped(row=c, tokens=tokens[c.id or 0]) for c in chosen]
    cited: dict[str, list[Cited]] = {}
    for citation, key in (await session.execute(select(Citation, Target.key).join(
            Target, col(Target.id) == col(Citation.target_id)).where(
            col(Citation.report_id) == report_id).order_by(col(Citation.offset)))).all():
        cited.setdefault(key, []).append(Cited(line=citation.line, label=citation.label,
                                               raw_url=citation.raw_url,
                                               start_seconds=citation.start_seconds,
                                               page=citation.page))
    return Gathered(report=report, targets=targets, events=events, captures=captures,
                    checkpoint=stamps[0], earlier=stamps[1:], cited=cited,
                    proofs=await _proofs(session, events, [c.size for c in chosen]))


async def _proofs(session: AsyncSession, events: list[Event], sizes: list[int]) -> Proofs:
    """Each event's inclusion proof in the tree of ``sizes[0]`` leaves, and each earlier
    size's consistency proof to it, from the stored subtree hashes: O(log² n) rows each."""
    fetch = session_fetch(session)
    size = sizes[0]
    return Proofs(
        inclusion={e.seq or 0: await nodes.inclusion_proof(fetch, e.seq or 0, size)
                   for e in events},
        consistency={old: await nodes.consistency_proof(fetch, old, size) for old in sizes[1:]})


def _details(event: Event) -> dict[str, Any]:
    value = json.loads(event.body).get("details")
    return value if isinstance(value, dict) else {}


def _warning(archive: Archive, chosen: Stamped, pending: tuple[str, ...]) -> str:
    if chosen.tokens:
        return ""
    if not archive.config.custody.tsa_urls:
        return ("not timestamped: no RFC 3161 authority is configured (custody.tsa_urls), so "
                "nothing but the archive's own signature says when the checkpoint was made")
    why = "; ".join(pending) or "no authority has answered yet"
    return (f"not timestamped: the configured authorities gave no token ({why}); run "
            "`preserver checkpoint` later and export again")
