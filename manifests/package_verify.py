"""Verify an evidence package alone: no database, no archive, no ``preserver``.

``verify_package`` runs every check and returns a ``Finding`` for each (subject,
check, outcome, detail); it does not stop at the first failure, so one run names
every file that was removed, added, edited or swapped. Any ``failed`` finding
means the package does not prove what it claims (exit 1).

    >>> with Package.open(Path("evidence")) as package:
    ...     findings = verify_package(package, trust_roots=[tsa_root_pem])
    >>> [f for f in findings if f.outcome == FindingOutcome.FAILED]
    []

The TSA roots are the verifier's own: the certificates inside the package
(``tsa-<n>.pem``) are what the TSA sent, never a trust anchor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from manifests.errors import VerificationError
from manifests.findings import FAILED, NOT_CHECKED, PASSED, Finding
from manifests.package import TAG_MANIFEST, Package
from manifests.package_checks import check_contents
from manifests.package_custody import check_checkpoint, check_earlier, check_events
from manifests.package_layout import CUSTODY, INDEX, INDEX_SIG, PUBLIC_KEY, PackageIndex
from manifests.package_run import Run
from manifests.signing import key_id, load_public_key, verify_signature


def verify_package(package: Package, *, trust_roots: Sequence[bytes],
                   expected_key_id: str | None = None) -> list[Finding]:
    """Check everything the package claims; one finding per subject and check.

    ``trust_roots`` are PEM certificates of the TSA roots the verifier trusts (none:
    every token fails). ``expected_key_id`` (hex SHA-256 of the raw Ed25519 key) pins
    the archive's key, which a package alone can only state, not prove.
    """
    # Steps (each records findings; nothing stops at the first failure):
    # (1) the bag: every file the manifests list is there with its SHA-256, nothing
    #     unlisted, Payload-Oxum agrees, no file shared with one outside by a hard link;
    # (2) the public key parses (and is the expected one); the package index is
    #     signed by it;
    # (3) the checkpoint is a signed note by that key under its origin, the index's;
    # (4) each RFC 3161 token verifies over the checkpoint file's bytes against
    #     trust_roots; each earlier checkpoint is signed, timestamped and consistent
    #     with the checkpoint (RFC 9162 2.1.4);
    # (5) each event's inclusion proof leads to the checkpoint's root, and the events
    #     are exactly the index's;
    # (6) each capture's signature, manifest, files and capture_stored event; the
    #     report against its report_ingested event; the key against key_created;
    # (7) nothing in the payload is left unexplained.
    run = Run(package=package, trust_roots=trust_roots)

    # (1) bag completeness and fixity
    _check_bag(run)

    # (2) public key, package index
    _check_key(run, expected_key_id)

    # (3) checkpoint signature, and (4) its tokens
    run.checkpoint = check_checkpoint(run, CUSTODY, main=True)

    # (4) earlier checkpoints: signature, tokens, consistency
    if run.checkpoint is not None:
        check_earlier(run, run.checkpoint)

    # (5) events and their inclusion proofs
    check_events(run)

    # (6) captures, report, key; (7) unexplained files
    check_contents(run)
    return run.finish()


def _check_bag(run: Run) -> None:
    package = run.package
    for name, expected in sorted(package.manifest.items()):
        _fixity(run, name, expected, "manifest-sha256.txt")
    for name in sorted(n for n in package.files if n.startswith("data/")):
        if name not in package.manifest:
            run.add(name, "fixity", FAILED, "not listed in manifest-sha256.txt (added?)")
    if package.tag_manifest is None:
        run.add(TAG_MANIFEST, "fixity", FAILED,
                "missing: the bag's manifest and bag-info.txt are not protected")
    else:
        for name, expected in sorted(package.tag_manifest.items()):
            _fixity(run, name, expected, TAG_MANIFEST)
        for name in sorted(n for n in package.files if not n.startswith("data/")):
            if name not in package.tag_manifest and not re.fullmatch(r"tagmanifest-\w+\.txt",
                                                                     name):
                run.add(name, "fixity", FAILED, f"not listed in {TAG_MANIFEST} (added?)")
    for name, links in sorted(package.linked.items()):
        run.add(name, "fixity", FAILED, f"has {links} hard links: a file outside the package "
                "shares its bytes and can change them")
    oxum = package.info.get("Payload-Oxum")
    payload = [size for name, size in package.files.items() if name.startswith("data/")]
    actual = f"{sum(payload)}.{len(payload)}"
    if oxum is None:
        run.add("bag-info.txt", "oxum", NOT_CHECKED, "no Payload-Oxum")
    else:
        ok = oxum == (actual,)
        run.add("bag-info.txt", "oxum", PASSED if ok else FAILED,
                "" if ok else f"Payload-Oxum says {', '.join(oxum)} (bytes.files); the "
                f"payload is {actual}")


def _fixity(run: Run, name: str, expected: str, listed_in: str) -> None:
    if name not in run.package.files:
        run.add(name, "fixity", FAILED, f"listed in {listed_in} but missing (removed?)")
        return
    with run.check(name, "fixity"):
        if (actual := run.digest(name)) != expected:
            raise VerificationError(f"content changed: SHA-256 is {actual}, {listed_in} "
                                    f"says {expected}")


def _check_key(run: Run, expected_key_id: str | None) -> None:
    with run.check(PUBLIC_KEY, "key") as c:
        pem = run.read(PUBLIC_KEY)
        kid = key_id(load_public_key(pem))
        run.public_key_pem, run.key_id = pem, kid
        c.detail = f"Ed25519 key {kid}"
        if expected_key_id is not None and kid != expected_key_id.lower():
            raise VerificationError(f"the package's key is {kid}, not the expected key "
                                    f"{expected_key_id} (public key replaced?)")
    if expected_key_id is None and run.key_id is not None:
        # Without a pinned key anyone can build a package that passes every other check
        # under a key of their own: that is not "passed".
        run.add(PUBLIC_KEY, "pin", NOT_CHECKED,
                f"key {run.key_id} not pinned: compare it with the archive's published key "
                "id (--key-id)")
    if run.public_key_pem is None:
        run.add(INDEX, "signature", NOT_CHECKED, "no usable public key")
        return
    with run.check(INDEX, "signature") as c:
        data, signature = run.read(INDEX), run.read(INDEX_SIG)
        verify_signature(run.public_key_pem, data, signature)
        index = PackageIndex.from_bytes(data)
        if index.key_id != run.key_id:
            raise VerificationError(f"names key {index.key_id}, the package's key is "
                                    f"{run.key_id}")
        run.index = index
        c.detail = f"report {index.report_name}, exported {index.exported_at}"
