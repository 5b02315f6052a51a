"""Package verification, the custody steps: the checkpoint and its RFC 3161 tokens,
the earlier checkpoints and their consistency (RFC 9162 section 2.1.4), and each
event's inclusion proof (section 2.1.3) to the checkpoint's root.

An event is proven when its exact bytes hash (``SHA-256(0x00 || event)``) along its
audit path to the root of the signed checkpoint: an edited event changes its leaf,
a moved one its index, an inserted one has no path. A deleted one leaves a hole
that the signed package index and the captures' checks name.
"""

from __future__ import annotations

import re

from manifests.checkpoint import Checkpoint, SignedCheckpoint, verify_checkpoint
from manifests.errors import VerificationError
from manifests.findings import FAILED, NOT_CHECKED
from manifests.merkle import leaf_hash, verify_consistency, verify_inclusion
from manifests.package_layout import (
    CUSTODY,
    EARLIER,
    EVENTS,
    MAX_SMALL,
    PROOFS,
    ConsistencyProof,
    CustodyEvent,
    InclusionProof,
    chain_path,
    earlier_dir,
    event_path,
    proof_path,
)
from manifests.package_run import Run
from manifests.timestamp import tsa_chain_pem, verify_timestamp

MAX_TOKENS = 8  # per checkpoint; more is refused, as ``verify_timestamps`` does
_TOKEN = re.compile(r"checkpoint\.([1-9][0-9]{0,2})\.tsr")
_CHAIN = re.compile(r"tsa-([1-9][0-9]{0,2})\.pem")
_LEAF = re.compile(r"(0|[1-9][0-9]{0,18})\.json")
_EARLIER = re.compile(re.escape(EARLIER) + r"(0|[1-9][0-9]{0,18})/")


def check_checkpoint(run: Run, directory: str, *, main: bool) -> Checkpoint | None:
    """Steps (3) and (4) for the checkpoint in ``directory``: its signature, and its
    tokens; the main checkpoint's verified time is recorded at once, an earlier one's
    once it is shown consistent."""
    path = directory + "checkpoint"
    if path not in run.package.files:
        run.add(path, "signature", FAILED, "missing (removed?)")
        return None
    if run.public_key_pem is None:
        run.read(path)
        run.add(path, "signature", NOT_CHECKED, "no usable public key")
        return None
    checkpoint: Checkpoint | None = None
    with run.check(path, "signature") as c:
        data = run.read(path)
        origin = SignedCheckpoint.from_text(data).checkpoint.origin
        checkpoint = verify_checkpoint(data, public_key_pem=run.public_key_pem, name=origin)
        if run.index is not None and origin != run.index.origin:
            raise VerificationError(f"checkpoint: origin {origin!r}, package.json says "
                                    f"{run.index.origin!r}")
        c.detail = f"size {checkpoint.size}, root {checkpoint.root.hex()}, origin {origin}"
    if not c.passed:
        checkpoint = None
    if main and checkpoint is not None and run.index is not None:
        said = checkpoint.size, checkpoint.root.hex()
        if said != (run.index.checkpoint.size, run.index.checkpoint.root):
            run.add(path, "index", FAILED, f"checkpoint is size {said[0]} root {said[1]}; "
                    f"package.json says size {run.index.checkpoint.size} root "
                    f"{run.index.checkpoint.root}")
    when = _check_tokens(run, directory, checkpoint)
    if checkpoint is not None and when is not None:
        run.times[checkpoint.size] = when
        if main:
            run.stamped[checkpoint.size] = when
    return checkpoint


def _check_tokens(run: Run, directory: str, checkpoint: Checkpoint | None) -> str | None:
    """Check the tokens beside ``<directory>checkpoint``; the earliest verified genTime."""
    path = directory + "checkpoint"
    names = sorted((int(m.group(1)), n) for n in run.package.files
                   if n.startswith(directory) and (m := _TOKEN.fullmatch(n[len(directory):])))
    said = _said_tokens(run, directory)
    if said is not None and said != len(names):
        run.add(path, "timestamp", FAILED, f"package.json lists {said} tokens over this "
                f"checkpoint; the package holds {len(names)} (removed or added?)")
    if not names:
        run.add(path, "timestamp", NOT_CHECKED, "not timestamped: no RFC 3161 token proves "
                "when this checkpoint existed")
        return None
    data = run.package.read(path, limit=MAX_SMALL) if path in run.package.files else b""
    seen: dict[bytes, int] = {}
    times: list[str] = []
    for n, name in names:
        token = run.read(name)
        with run.check(name, "timestamp") as c:
            if n > MAX_TOKENS:
                raise VerificationError(f"timestamp: more than {MAX_TOKENS} tokens")
            if (first := seen.setdefault(token, n)) != n:
                raise VerificationError(f"timestamp: duplicates token {first}")
            if checkpoint is None:
                raise VerificationError("timestamp: its checkpoint did not verify")
            if not run.trust_roots:
                raise VerificationError("timestamp: no trusted TSA roots given")
            times.append(verify_timestamp(token, data, run.trust_roots).isoformat())
            c.detail = f"genTime {times[-1]}"
        chain = chain_path(directory, n)
        if chain not in run.package.files:
            run.add(chain, "chain", FAILED, f"missing: the certificates of token {n}")
            continue
        with run.check(chain, "chain"):
            if run.read(chain) != tsa_chain_pem(token):
                raise VerificationError("not the certificates the token carries")
    return min(times) if times else None


def _said_tokens(run: Run, directory: str) -> int | None:
    if run.index is None:
        return None
    if directory == CUSTODY:
        return run.index.checkpoint.timestamps
    size = int(directory[len(EARLIER):-1])
    return next((c.timestamps for c in run.index.earlier if c.size == size), None)


def check_earlier(run: Run, checkpoint: Checkpoint) -> None:
    """Each earlier checkpoint: signed, timestamped, and extended by ``checkpoint``."""
    sizes = {int(m.group(1)) for n in run.package.files if (m := _EARLIER.match(n))}
    said = {c.size: c for c in run.index.earlier} if run.index is not None else None
    for size in sorted(sizes | set(said or ())):
        directory = earlier_dir(size)
        if said is not None and size not in said:
            run.add(directory, "index", FAILED, "not listed in package.json (added?)")
        if size not in sizes:
            run.add(directory, "index", FAILED, "listed in package.json but missing (removed?)")
            continue
        earlier = check_checkpoint(run, directory, main=False)
        run.accounted.update(n for n in run.package.files if n.startswith(directory) and (
            n[len(directory):] in ("checkpoint", "consistency.json")
            or _TOKEN.fullmatch(n[len(directory):]) or _CHAIN.fullmatch(n[len(directory):])))
        if earlier is None:
            continue
        if said is not None and size in said and said[size].root != earlier.root.hex():
            run.add(directory + "checkpoint", "index", FAILED, "root differs from package.json's")
        where = directory + "consistency.json"
        with run.check(where, "consistency") as c:
            proof = ConsistencyProof.from_bytes(run.read(where), where)
            if (proof.old_size, proof.new_size) != (earlier.size, checkpoint.size):
                raise VerificationError(
                    f"proof is from size {proof.old_size} to {proof.new_size}, not from "
                    f"{earlier.size} to the checkpoint's {checkpoint.size}")
            try:
                verify_consistency(old_size=earlier.size, new_size=checkpoint.size,
                                   old_root=earlier.root, new_root=checkpoint.root,
                                   proof=proof.hashes)
            except VerificationError as exc:
                raise VerificationError(
                    f"checkpoint {checkpoint.size} does not extend checkpoint {earlier.size}: "
                    f"history was truncated or rewritten ({exc})") from exc
            c.detail = f"checkpoint {checkpoint.size} extends checkpoint {earlier.size}"
        if c.passed and size in run.times:
            run.stamped[size] = run.times[size]


def check_events(run: Run) -> None:
    """Step (5): each event parses and its inclusion proof leads to the checkpoint's root;
    the events are exactly those the package index lists."""
    files = run.package.files
    present = {int(m.group(1)) for n in files for folder in (EVENTS, PROOFS)
               if n.startswith(folder) and (m := _LEAF.fullmatch(n[len(folder):]))}
    said = {e.index: e for e in run.index.events} if run.index is not None else None
    for i in sorted(present | set(said or ())):
        path, proof_file = event_path(i), proof_path(i)
        listed = said.get(i) if said is not None else None
        if said is not None and listed is None:
            run.add(path, "index", FAILED, "not listed in package.json (inserted?)")
        if path not in files:
            run.add(path, "inclusion", FAILED, "missing (deleted?)" + (
                f": package.json lists {listed.action} of {listed.subject}" if listed else ""))
            run.accounted.add(proof_file)
            continue
        data = run.read(path)
        with run.check(path, "event") as c:
            event = CustodyEvent.from_bytes(data, path)
            c.detail = f"{event.action} of {event.subject} at {event.time}"
        if not c.passed:
            continue
        if listed is not None and (listed.action, listed.subject) != (event.action,
                                                                      event.subject):
            run.add(path, "index", FAILED, f"package.json lists {listed.action} of "
                    f"{listed.subject} here (edited or moved?)")
        if _included(run, i, data):
            run.events[i] = event


def _included(run: Run, i: int, data: bytes) -> bool:
    path, proof_file = event_path(i), proof_path(i)
    cp = run.checkpoint
    if proof_file not in run.package.files:
        run.add(path, "inclusion", FAILED, f"no inclusion proof ({proof_file} missing)")
        return False
    if cp is None:
        run.read(proof_file)
        run.add(path, "inclusion", NOT_CHECKED, "no verified checkpoint to prove it against")
        return False
    with run.check(path, "inclusion") as c:
        proof = InclusionProof.from_bytes(run.read(proof_file), proof_file)
        if (proof.leaf_index, proof.tree_size) != (i, cp.size):
            raise VerificationError(
                f"{proof_file} proves leaf {proof.leaf_index} of a tree of "
                f"{proof.tree_size}, not leaf {i} of the checkpoint's {cp.size} (moved?)")
        try:
            verify_inclusion(leaf=leaf_hash(data), index=i, size=cp.size, proof=proof.hashes,
                             root=cp.root)
        except VerificationError as exc:
            raise VerificationError(f"not leaf {i} of checkpoint {cp.size}: {exc} (the event "
                                    "was edited, moved or inserted)") from exc
        c.detail = f"leaf {i} of checkpoint {cp.size}" + _first_time(run, i)
    return c.passed


def _first_time(run: Run, index: int) -> str:
    times = [(t, size) for size, t in run.stamped.items() if size > index]
    if not times:
        return "; no timestamp proves when"
    when, size = min(times)
    return f"; in the ledger by {when} (checkpoint {size}, RFC 3161)"
