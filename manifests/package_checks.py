"""Package verification, the content steps: the report against its ``report_ingested``
event, each capture (signature, manifest, files, its ``capture_stored`` event, its
certificates against the signed index), the archive's key against ``key_created``, the
verification tools against the signed index, and no file left unexplained.

Only events whose inclusion proof held (``Run.events``) count as evidence here.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from manifests.errors import VerificationError
from manifests.findings import FAILED, NOT_CHECKED
from manifests.manifest import CaptureManifest
from manifests.package_layout import (
    CAPTURES,
    CERTIFICATES,
    PUBLIC_KEY,
    REPORT_DIR,
    VERIFIER,
    VERIFY_MD,
    CustodyEvent,
    IndexCapture,
    event_path,
)
from manifests.package_run import Run
from manifests.signing import verify_signature

# witness_saved: an independent witness's snapshot of a cited target (Save Page Now);
# proven like the others, and about a target the report cites.
_ABOUT_TARGETS = ("capture_stored", "availability_changed", "witness_saved")
_KNOWN = ("report_ingested", *_ABOUT_TARGETS, "key_created")


def check_contents(run: Run) -> None:
    """Steps (6) and (7) of ``verify_package``."""
    cited = _check_report(run)
    _check_captures(run, cited)
    _check_events_belong(run, cited)
    _check_tools(run)
    for name in sorted(n for n in run.package.files if n.startswith("data/")):
        if name not in run.accounted:
            run.add(name, "contents", FAILED, "not part of the evidence package (added?)")


def _of(run: Run, action: str) -> list[tuple[int, CustodyEvent]]:
    return sorted((i, e) for i, e in run.events.items() if e.action == action)


def _check_report(run: Run) -> frozenset[str] | None:
    """The report file is the one its proven ``report_ingested`` event names; returns
    the target keys that event says the report cites."""
    files = run.package.files
    if run.index is not None:
        path = run.index.report_path
    else:
        found = sorted(n for n in files if n.startswith(REPORT_DIR))
        path = found[0] if len(found) == 1 else REPORT_DIR
    ingested = _of(run, "report_ingested")
    if path not in files:
        run.add(path, "report", FAILED, "the report file is missing (removed?)")
    run.accounted.add(path)
    if len(ingested) != 1:
        run.add(path, "report", FAILED, f"{len(ingested)} proven report_ingested events; "
                "exactly one is needed (deleted or inserted?)")
        return None
    i, event = ingested[0]
    targets = event.details.get("targets")
    cited = (frozenset(t for t in targets if isinstance(t, str))
             if isinstance(targets, list) else None)
    if path in files:
        with run.check(path, "report") as c:
            sha = run.digest(path)
            if sha != event.subject:
                raise VerificationError(f"the report hashes to {sha}; event {i} says the "
                                        f"report ingested was {event.subject} (replaced?)")
            if run.index is not None and run.index.report_sha256 != sha:
                raise VerificationError("package.json names another report")
            c.detail = f"SHA-256 {sha}: the report ingested at {event.time} (event {i})"
    if cited is None:
        run.add(event_path(i), "report", FAILED, "names no list of cited targets")
    return cited


def _check_captures(run: Run, cited: frozenset[str] | None) -> set[str]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in run.package.files:
        if name.startswith(CAPTURES) and len(parts := name[len(CAPTURES):].split("/")) >= 3:
            groups[(parts[0], parts[1])].append(name)
    stored = {str(e.details.get("capture_id")): (i, e) for i, e in _of(run, "capture_stored")}
    listed = {c.capture_id: c for c in run.index.captures} if run.index is not None else None
    present: set[str] = set()
    for (folder, capture_id), _names in sorted(groups.items()):
        present.add(capture_id)
        directory = f"{CAPTURES}{folder}/{capture_id}/"
        manifest = _check_capture(run, directory, capture_id, stored, cited)
        _check_certificates(run, directory, None if listed is None else listed.get(capture_id))
        if listed is not None:
            said = listed.get(capture_id)
            if said is None:
                run.add(directory, "index", FAILED, "not listed in package.json (added?)")
            elif said.path != directory:
                run.add(directory, "index", FAILED, f"package.json puts capture {capture_id} "
                        f"at {said.path} (moved?)")
            elif manifest is not None and (said.target, said.manifest_sha256) != (
                    manifest[0].target.key, manifest[1]):
                run.add(directory, "index", FAILED, "package.json lists another manifest here")
    for capture_id, said in sorted((listed or {}).items()):
        if capture_id not in present:
            run.add(said.path, "index", FAILED, "listed in package.json but missing (removed?)")
    for capture_id, (i, event) in sorted(stored.items()):
        if capture_id not in present:
            run.add(event_path(i), "capture", FAILED, f"records capture {capture_id} of "
                    f"{event.subject}, which the package lacks (removed?)")
    return present


def _check_capture(run: Run, directory: str, capture_id: str,
                   stored: dict[str, tuple[int, CustodyEvent]],
                   cited: frozenset[str] | None) -> tuple[CaptureManifest, str] | None:
    """One capture folder; returns its manifest and the manifest's SHA-256 if it parsed."""
    files = run.package.files
    path, sig_path = directory + "manifest.json", directory + "manifest.json.sig"
    for needed in (path, sig_path):
        if needed not in files:
            run.add(needed, "manifest", FAILED, "missing (removed?)")
    if path not in files:
        return None
    data = run.read(path)
    signature = run.read(sig_path) if sig_path in files else b""
    if run.public_key_pem is None:
        run.add(path, "signature", NOT_CHECKED, "no usable public key")
    elif sig_path in files:
        with run.check(path, "signature") as c:
            c.detail = "by key " + verify_signature(run.public_key_pem, data, signature)
    parsed: CaptureManifest | None = None
    with run.check(path, "manifest") as c:
        parsed = m = CaptureManifest.from_bytes(data)
        c.detail = f"{m.target.key}, {m.outcome.state}/{m.outcome.status}, {len(m.files)} files"
        if m.capture_id != capture_id:
            raise VerificationError(f"names capture {m.capture_id}, stored as {capture_id}")
    if parsed is None:
        return None
    m = parsed
    sha = hashlib.sha256(data).hexdigest()
    for f in m.files:
        where = f"{directory}files/{f.name}"
        run.accounted.add(where)
        if where not in files:
            run.add(where, "files", FAILED, "listed in the signed manifest but missing (removed?)")
            continue
        with run.check(where, "files"):
            if files[where] != f.size:
                raise VerificationError(f"{files[where]} bytes; the signed manifest says {f.size}")
            if (actual := run.digest(where)) != f.sha256:
                raise VerificationError(f"content re-hashes to {actual}; the signed manifest "
                                        f"says {f.sha256}")
    with run.check(directory, "event") as c:
        c.detail = _recorded(stored.get(capture_id), m, sha, signature)
    if cited is not None and m.target.key not in cited:
        run.add(directory, "cited", FAILED, f"the report does not cite {m.target.key}")
    return m, sha


def _check_certificates(run: Run, directory: str, said: IndexCapture | None) -> None:
    """The certificates beside a capture are the ones the signed index names, byte for
    byte. A package exported before certificates names none, and then none may be there:
    an unnamed file stays unaccounted for, and fails as added."""
    files = run.package.files
    if run.index is None:
        for name in (directory + n for n in CERTIFICATES if directory + n in files):
            run.accounted.add(name)
            run.add(name, "certificate", NOT_CHECKED, "no verified package index")
        return
    for name, sha in sorted((said.certificates if said is not None else {}).items()):
        path = directory + name
        run.accounted.add(path)
        if path not in files:
            run.add(path, "certificate", FAILED, "listed in package.json but missing (removed?)")
            continue
        with run.check(path, "certificate") as c:
            if run.digest(path) != sha:
                raise VerificationError("differs from the one the package index signs "
                                        "(edited?)")
            c.detail = f"SHA-256 {sha}, as the package index signs"


def _recorded(stored: tuple[int, CustodyEvent] | None, m: CaptureManifest, sha: str,
              signature: bytes) -> str:
    """The capture's proven ``capture_stored`` event names exactly this manifest and
    signature; ``VerificationError`` otherwise."""
    if stored is None:
        raise VerificationError("no proven capture_stored event records this capture "
                                "(event deleted?)")
    i, event = stored
    details = event.details
    if details.get("manifest_sha256") != sha:
        raise VerificationError(f"event {i} records manifest {details.get('manifest_sha256')}; "
                                f"manifest.json hashes to {sha} (manifest replaced?)")
    signed = hashlib.sha256(signature).hexdigest()
    if details.get("signature_sha256") != signed:
        raise VerificationError(f"event {i} records signature {details.get('signature_sha256')}"
                                f"; manifest.json.sig hashes to {signed} (signature swapped?)")
    if event.subject != m.target.key:
        raise VerificationError(f"event {i} is about {event.subject}, not {m.target.key}")
    return f"recorded by event {i} at {event.time}"


def _check_events_belong(run: Run, cited: frozenset[str] | None) -> None:
    """Every proven event concerns this report, its targets, or the archive's key."""
    keys = _of(run, "key_created")
    if not keys:
        run.add(PUBLIC_KEY, "key_created", NOT_CHECKED,
                "no key_created event in the package: the key's creation is not proven")
    for i, event in keys:
        if event.subject != run.key_id:
            run.add(event_path(i), "key", FAILED, f"key_created names key {event.subject}; "
                    f"the package's key is {run.key_id} (public key replaced?)")
    for i, event in sorted(run.events.items()):
        if event.action in _ABOUT_TARGETS and cited is not None \
                and event.subject not in cited:
            run.add(event_path(i), "cited", FAILED,
                    f"about {event.subject}, which the report does not cite")
        elif event.action not in _KNOWN:
            run.add(event_path(i), "event", NOT_CHECKED, f"action {event.action}: no rule")


def _check_tools(run: Run) -> None:
    """VERIFY.md and verify_package.py are the ones the archive signed into the index."""
    for path in (VERIFY_MD, VERIFIER):
        run.accounted.add(path)
        if path not in run.package.files:
            run.add(path, "tool", FAILED, "missing (removed?)")
        elif run.index is None:
            run.add(path, "tool", NOT_CHECKED, "no verified package index")
        else:
            with run.check(path, "tool"):
                if run.digest(path) != run.index.tools.get(path[len("data/"):]):
                    raise VerificationError("differs from the one the package index signs "
                                            "(edited?)")
