"""Verify a preserver evidence package with Python's standard library and ``cryptography``.

This file (``manifests/_standalone.py`` in preserver's source) is copied into every
package as ``data/verify_package.py``. It needs no preserver, no database, no network:
run it from the bag's folder::

    python3 -m venv /tmp/v && /tmp/v/bin/pip install cryptography
    /tmp/v/bin/python data/verify_package.py . [--tsa-roots ROOTS.pem] [--key-id HEX]

Python 3.9 or later. It checks: every file against the bag's SHA-256 manifests, and
Payload-Oxum (RFC 8493); the package index's and each capture manifest's Ed25519 signature
(RFC 8032); the checkpoint's signed note (c2sp.org/signed-note, tlog-checkpoint);
each event's inclusion proof to the checkpoint's root and each earlier checkpoint's
consistency proof (RFC 9162 section 2.1, RFC 6962 hashing); each captured file's SHA-256
and size; each capture's capture_stored event and certificates; the report's SHA-256.
RFC 3161 tokens are checked with ``openssl ts -verify`` when ``--tsa-roots`` names
your trusted TSA roots. The files under ``data/`` must be exactly those the signed index
names; links and special files, and depths, counts and numbers beyond bounds are refused.
Exit 0: every check passed; 1: one failed; 2: the package cannot be opened (safely);
3: none failed, but some were not done (no ``--key-id``, ``--tsa-roots``, token, Payload-Oxum).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_FILES = 100_000  # files in a package (as preserver's Package.open)
MAX_DEPTH = 16  # folder levels
MAX_JSON_DEPTH = 64  # nesting in a JSON file
MAX_FAILED = 1000  # FAIL lines printed; the rest are counted
MAX_SMALL = 1 << 20  # a checkpoint
failures = skipped = 0


class Unsafe(Exception):
    """The package cannot be opened safely (exit 2): nothing in it was verified."""


def say(outcome: str, subject: str, check: str, detail: str = "") -> None:
    global failures, skipped
    failures += outcome == "FAIL"
    skipped += outcome == "SKIP"
    if outcome != "FAIL" or failures <= MAX_FAILED:
        print(f"{outcome:4}  {subject}  [{check}]  {detail}".rstrip())


def walk(bag: Path) -> dict[str, int]:
    """Each file ("/"-separated): its hard links; Unsafe if a link, special, too deep or many."""
    files: dict[str, int] = {}
    stack = [""]
    while stack:
        folder = stack.pop()
        for rel in sorted(f"{folder}{n}" for n in os.listdir(bag / folder)):
            st = os.lstat(bag / rel)
            if stat.S_ISDIR(st.st_mode) and rel.count("/") < MAX_DEPTH:
                stack.append(rel + "/")
            elif stat.S_ISREG(st.st_mode):
                files[rel] = st.st_nlink
            else:
                raise Unsafe(f"{rel} is " + ("a symbolic link" if stat.S_ISLNK(st.st_mode) else
                             f"nested deeper than {MAX_DEPTH} levels" if stat.S_ISDIR(st.st_mode)
                             else "not a regular file"))
            if len(files) + len(stack) > MAX_FILES:
                raise Unsafe(f"more than {MAX_FILES} files")
    return files


def number(text: str, what: str) -> int:
    """A decimal of at most 20 digits (a uint64), its digits counted before int()."""
    if len(text) > 20 or not re.fullmatch(r"0|[1-9][0-9]*", text):
        raise ValueError(f"{what} {text[:24]!r} ({len(text)} chars) is not a uint64 decimal")
    return int(text)


def load_json(data: bytes) -> Any:
    """json.loads, once nesting (brackets outside strings) and integers' digits are bounded."""
    depth, others = 0, bytes(b for b in range(256) if b not in b"[]{}")
    for bracket in re.sub(rb'"(?:[^"\\]|\\.)*"', b"", data).translate(None, others):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(data, parse_int=lambda t: int(t) if len(t) <= 20 else number(t, "int"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()  # RFC 9162 2.1.1


def inclusion_root(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root the audit path leads to (ValueError if malformed)."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("too many hashes")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("too few hashes")
    return r


def consistent(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2 for 0 < m <= n."""
    if m == n:
        return not proof and old == new
    if not 0 < m < n or not proof:
        return False
    path = [old, *proof] if m & (m - 1) == 0 else list(proof)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old and sr == new


def ed25519_ok(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        return key.verify(signature, data) is None
    except InvalidSignature:
        return False


def checkpoint(path: Path, key: Ed25519PublicKey) -> tuple[int, bytes] | None:
    """The (size, root) of a signed checkpoint note that ``key`` signed under its origin."""
    note = path.read_bytes()[:MAX_SMALL + 1].decode("utf-8")
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    origin, size_text, root = text.split("\n")[:3]
    size = number(size_text, "tree size")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_hash = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4]  # signed-note
    for line in signatures.splitlines():
        name, _, blob = line.removeprefix("\u2014 ").partition(" ")
        signed = base64.b64decode(blob)
        if name == origin and signed[:4] == key_hash:
            if ed25519_ok(key, text.encode(), signed[4:]):
                return size, base64.b64decode(root)
            break
    return None


def check_bag(bag: Path, files: dict[str, int]) -> None:
    listed: set[str] = set()
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        for line in filter(str.strip, (bag / manifest).read_text("utf-8").splitlines()):
            expected, name = line.split(None, 1)
            name = name.replace("%0D", "\r").replace("%0A", "\n")
            listed.add(name)
            if name.startswith("/") or "\\" in name or ".." in name.split("/"):  # never opened
                say("FAIL", name, "fixity", f"{manifest} names a path outside the package")
            elif name not in files:
                say("FAIL", name, "fixity", f"listed in {manifest} but missing")
            elif (actual := sha256_file(bag / name)) != expected.lower():
                say("FAIL", name, "fixity", f"SHA-256 is {actual}, {manifest} says {expected}")
            else:
                say("PASS", name, "fixity")
    for name, links in sorted(files.items()):
        if name not in listed and not re.fullmatch(r"tagmanifest-\w+\.txt", name):
            say("FAIL", name, "fixity", "not listed in the bag's manifests (added?)")
        if links > 1:
            say("FAIL", name, "fixity", f"has {links} hard links: shared with a file outside")
    info = (bag / "bag-info.txt").read_text("utf-8-sig") if "bag-info.txt" in files else ""
    oxum = [v.strip() for v in re.findall(r"(?m)^Payload-Oxum[ \t]*:(.*)$", info)]
    payload = [(bag / n).stat().st_size for n in files if n.startswith("data/")]
    actual = f"{sum(payload)}.{len(payload)}"
    say("SKIP" if not oxum else "PASS" if oxum == [actual] else "FAIL", "bag-info.txt", "oxum",
        "no Payload-Oxum" if not oxum else f"Payload-Oxum {', '.join(oxum)}, payload {actual}")


def check_custody(bag: Path, key: Ed25519PublicKey, roots: str | None) -> dict[int, Any]:
    custody = bag / "data" / "custody"
    main = checkpoint(custody / "checkpoint", key)
    if main is None:
        say("FAIL", "data/custody/checkpoint", "signature", "not signed by the package's key")
        return {}
    size, root = main
    say("PASS", "data/custody/checkpoint", "signature", f"size {size}, root {root.hex()}")
    check_tokens(bag, custody, roots)
    earlier = custody / "earlier"
    for folder in sorted(p for p in (earlier.iterdir() if earlier.is_dir() else ()) if p.is_dir()):
        where = f"data/custody/earlier/{folder.name}/"
        old = checkpoint(folder / "checkpoint", key)
        proof = load_json((folder / "consistency.json").read_bytes())
        if old is None:
            say("FAIL", where + "checkpoint", "signature", "not signed by the package's key")
        elif (proof["old_size"], proof["new_size"]) == (old[0], size) and consistent(
                old[0], size, old[1], root, [bytes.fromhex(h) for h in proof["hashes"]]):
            say("PASS", where + "consistency.json", "consistency", f"{size} extends {old[0]}")
            check_tokens(bag, folder, roots)
        else:
            say("FAIL", where + "consistency.json", "consistency",
                f"checkpoint {size} does not extend checkpoint {old[0]}: history rewritten")
    events: dict[int, Any] = {}
    for path in sorted((custody / "events").glob("*.json"), key=lambda p: number(p.stem, "event")):
        index, name = number(path.stem, "event"), f"data/custody/events/{path.name}"
        proof_path = custody / "proofs" / path.name
        if not proof_path.is_file():
            say("FAIL", name, "inclusion", "no inclusion proof")
            continue
        data, proof = path.read_bytes(), load_json(proof_path.read_bytes())
        leaf = hashlib.sha256(b"\x00" + data).digest()
        try:
            ok = proof["leaf_index"] == index and proof["tree_size"] == size and inclusion_root(
                leaf, index, size, [bytes.fromhex(h) for h in proof["hashes"]]) == root
        except ValueError:
            ok = False
        say("PASS" if ok else "FAIL", name, "inclusion",
            f"leaf {index} of checkpoint {size}" if ok else "does not lead to the checkpoint's "
            "root: the event was edited, moved or inserted")
        if ok:
            events[index] = load_json(data)
    return events  # an event deleted, its proof left: check_listing names it


def check_tokens(bag: Path, folder: Path, roots: str | None) -> None:
    tokens, openssl = sorted(folder.glob("checkpoint.*.tsr")), shutil.which("openssl")
    if not tokens:
        say("SKIP", f"{folder.relative_to(bag).as_posix()}/checkpoint", "timestamp",
            "not timestamped: no RFC 3161 token proves when this checkpoint existed")
    for token in tokens:
        name = token.relative_to(bag).as_posix()
        if roots is None or openssl is None:
            say("SKIP", name, "timestamp", "give --tsa-roots (and have openssl) to check it")
            continue
        chain = folder / f"tsa-{token.name.split('.')[1]}.pem"
        done = subprocess.run([openssl, "ts", "-verify", "-data", str(folder / "checkpoint"), "-in",
                               str(token), "-CAfile", roots, "-untrusted", str(chain)],
                              capture_output=True, text=True, check=False)
        said = (done.stdout if done.returncode == 0 else done.stderr).strip().splitlines()
        say("PASS" if done.returncode == 0 else "FAIL", name, "timestamp", " ".join(said[-2:]))


def check_captures(bag: Path, files: dict[str, int], key: Ed25519PublicKey,
                   events: dict[int, Any]) -> None:
    stored = {e["details"].get("capture_id"): e for e in events.values()
              if e["action"] == "capture_stored"}
    for manifest_path in sorted((bag / "data" / "captures").glob("*/*/manifest.json")):
        folder = manifest_path.parent
        where = folder.relative_to(bag).as_posix() + "/"
        data, sig_path = manifest_path.read_bytes(), folder / "manifest.json.sig"
        signature = sig_path.read_bytes() if sig_path.is_file() else b""
        ok = ed25519_ok(key, data, signature)
        say("PASS" if ok else "FAIL", where + "manifest.json", "signature")
        manifest = load_json(data)
        for f in manifest["files"]:
            rel = where + "files/" + f["name"]
            if rel not in files:  # never a path outside the bag
                say("FAIL", rel, "files", "missing")
            else:
                ok = (bag / rel).stat().st_size == f["size"] and sha256_file(
                    bag / rel) == f["sha256"]
                say("PASS" if ok else "FAIL", rel, "files", "" if ok else "differs from the manifest")
        details = (stored.get(manifest["capture_id"]) or {}).get("details", {})
        ok = (details.get("manifest_sha256"), details.get("signature_sha256")) == (
            hashlib.sha256(data).hexdigest(), hashlib.sha256(signature).hexdigest())
        say("PASS" if ok else "FAIL", where, "event", "recorded by a proven capture_stored "
            "event" if ok else "no proven capture_stored event names this manifest")


def guard(subject: str, check: str, step: Callable[[], object]) -> None:
    """Run one step; a file it cannot read or parse is a failed check, not a crash."""
    try:
        step()
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        say("FAIL", subject, check, f"unreadable: {type(exc).__name__}: {exc}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path, help="the package's folder (holding bagit.txt)")
    parser.add_argument("--tsa-roots", help="PEM file of the TSA roots you trust")
    parser.add_argument("--key-id", help="the archive's key id (SHA-256 of the raw key), hex")
    args = parser.parse_args()
    try:
        if not args.bag.is_dir() or not (args.bag / "bagit.txt").is_file():
            raise Unsafe(f"{args.bag} is not a bag's folder (holding bagit.txt); unzip a ZIP "
                         "package first")
        files = walk(args.bag)
        guard(str(args.bag), "package",
              lambda: verify(args.bag, files, args.tsa_roots, args.key_id))
    except (Unsafe, OSError) as exc:
        print(f"CANNOT VERIFY: the package cannot be opened safely: {exc}", file=sys.stderr)
        return 2
    if failures > MAX_FAILED:
        print(f"FAIL  and {failures - MAX_FAILED} more failed checks, not listed")
    if failures:
        print(f"FAILED: {failures} check(s) failed", file=sys.stderr)
        return 1
    if skipped:  # without a pinned key and roots anyone could build a package that passes
        print(f"INCOMPLETE: {skipped} check(s) not done (SKIP above)", file=sys.stderr)
        return 3
    print("VERIFIED: every check passed", file=sys.stderr)
    return 0


def check_listing(bag: Path, files: dict[str, int], index: dict[str, Any]) -> None:
    """The files under data/ are exactly those the signed index (and the manifests it lists)
    names: a re-made bag manifest hides a removed or added file from sha256sum -c only.
    The tools, and each capture's certificates, have the SHA-256 the index gives them."""
    custody, hashed = "data/custody/", {f"data/{t}": h for t, h in index["tools"].items()}
    named = {"data/package.json", "data/package.json.sig", custody + "public-key.pem",
             f"data/report/{index['report']['name']}"}
    for folder, tokens in [(custody, index["checkpoint"]["timestamps"]), *(
            (f"{custody}earlier/{e['size']}/", e["timestamps"]) for e in index["earlier"])]:
        named |= {folder + "checkpoint", *([folder + "consistency.json"] * (folder != custody))}
        for n in range(1, min(tokens, 100) + 1):
            named |= {f"{folder}checkpoint.{n}.tsr", f"{folder}tsa-{n}.pem"}
    for e in index["events"]:
        named |= {f"{custody}events/{e['index']}.json", f"{custody}proofs/{e['index']}.json"}
    for c in index["captures"]:
        folder = c["path"].rstrip("/") + "/"
        named |= {folder + "manifest.json", folder + "manifest.json.sig"}
        hashed |= {folder + n: h for n, h in c.get("certificates", {}).items()
                   if n in ("certificate.html", "certificate.pdf")}
        if folder + "manifest.json" in files:
            manifest = load_json((bag / folder / "manifest.json").read_bytes())
            named |= {f"{folder}files/{f['name']}" for f in manifest["files"]}
    for name, expected in sorted(hashed.items()):  # in files first: never read outside
        ok = name in files and sha256_file(bag / name) == expected
        say("PASS" if ok else "FAIL", name, "certificate" if name.startswith(
            "data/captures/") else "tool", "" if ok else "edited, or missing")
    named.update(hashed)
    for name in sorted(named - set(files)):
        say("FAIL", name, "index", "package.json lists it, but it is missing (removed?)")
    for name in sorted(n for n in files if n.startswith("data/") and n not in named):
        say("FAIL", name, "index", "not a file the signed package.json lists (added?)")


def verify(bag: Path, files: dict[str, int], tsa_roots: str | None,
           pinned_key: str | None) -> None:
    guard("bag", "fixity", lambda: check_bag(bag, files))
    key = serialization.load_pem_public_key((bag / "data/custody/public-key.pem").read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        say("FAIL", "data/custody/public-key.pem", "key", "not an Ed25519 key")
        return
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(raw).hexdigest()
    outcome = "SKIP" if pinned_key is None else "PASS" if pinned_key.lower() == key_id else "FAIL"
    say(outcome, "data/custody/public-key.pem", "key", key_id if outcome != "SKIP" else
        f"{key_id} not pinned: compare it with the archive's published key id (--key-id)")
    index_bytes = (bag / "data" / "package.json").read_bytes()
    ok = ed25519_ok(key, index_bytes, (bag / "data" / "package.json.sig").read_bytes())
    say("PASS" if ok else "FAIL", "data/package.json", "signature")
    index = load_json(index_bytes)
    guard("data/", "index", lambda: check_listing(bag, files, index))
    events: dict[int, Any] = {}
    guard("data/custody/", "custody", lambda: events.update(check_custody(bag, key, tsa_roots)))
    if sorted(events) != sorted(e["index"] for e in index["events"]):
        say("FAIL", "data/custody/events/", "index", "not the events package.json lists")
    guard("data/captures/", "captures", lambda: check_captures(bag, files, key, events))
    report = bag / "data" / "report" / index["report"]["name"]
    ingested = [e["subject"] for e in events.values() if e["action"] == "report_ingested"]
    ok = report.relative_to(bag).as_posix() in files and ingested == [sha256_file(report)]
    say("PASS" if ok else "FAIL", report.relative_to(bag).as_posix(), "report",
        "is the report its report_ingested event names" if ok else "not the report ingested")


if __name__ == "__main__":
    sys.exit(main())
