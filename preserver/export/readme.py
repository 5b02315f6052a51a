"""``data/VERIFY.md`` of an evidence package: how to verify it, step by step, with
standard tools alone, naming the package's own files in every command."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from manifests import CaptureManifest
from manifests import package_layout as layout
from preserver.archive import Archive
from preserver.custody.events import rfc3339
from preserver.custody.ledger import origin
from preserver.db.models import CheckpointRow, CheckpointTimestamp, Event, Report, Target
from preserver.version import __version__
from workers import seen_as


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def render_verify_md(*, archive: Archive, report: Report, report_name: str, exported_at: str,
                     targets: Sequence[Target], captures: Sequence[tuple[Any, CaptureManifest]],
                     events: Sequence[Event], checkpoint: CheckpointRow,
                     tokens: Sequence[CheckpointTimestamp], earlier: Sequence[CheckpointRow],
                     warning: str, notice: str = "") -> bytes:
    key_id = archive.key.key_id
    report_path = layout.REPORT_DIR + report_name
    out: list[str] = []
    add = out.append
    add(f"# Evidence package: {report.name}\n")
    add(f"This folder is a BagIt bag (RFC 8493) exported by preserver {__version__} at "
        f"{exported_at}. It holds the report `{report_path}` (SHA-256 `{report.sha256}`), "
        f"{_n(len(captures), 'capture')} of the {_n(len(targets), 'link')} it cites, and the custody record that proves what the archive "
        "held and when: only this report's events, each with a Merkle inclusion proof to a "
        f"checkpoint of the archive's ledger (origin `{origin(archive)}`, size "
        f"{checkpoint.size}), signed with the archive's Ed25519 key `{key_id}`"
        + (f" and timestamped by {len(tokens)} RFC 3161 authorit"
           f"{'y' if len(tokens) == 1 else 'ies'}." if tokens else ".") + "\n")
    if warning:
        add(f"**This package is {warning}.**\n")
    if captures:
        add("Each capture's folder holds a **capture certificate** for a reader who is not a "
            "technician: `certificate.html` (open it in a browser) and `certificate.pdf` (the "
            "same page, printed by the Chromium the captures use). It states the target, the "
            "report's citations of it, the capture, every file with its SHA-256 and size, the "
            "collection record, the screenshot, and how to check each with standard tools. "
            "It is a reading aid written at export; the evidence is the signed manifest and "
            "its files, and the signed `package.json` holds each certificate's SHA-256."
            + (f" **{notice[0].upper()}{notice[1:]}.**" if notice else "") + "\n")
    add("Every step below uses standard tools and nothing from preserver. Run the commands "
        "in this folder (the one that holds `bagit.txt`); a package received as one ZIP file "
        "is this folder zipped: `unzip` it first.\n")
    add("## What is here\n")
    add("| path | what |\n|---|---|")
    for path, what in (
        ("bagit.txt, bag-info.txt", "the BagIt declaration and description"),
        ("manifest-sha256.txt", "SHA-256 of every payload file"),
        ("tagmanifest-sha256.txt", "SHA-256 of the files above"),
        (layout.VERIFY_MD, "this file"),
        (layout.VERIFIER, "the standalone verifier (Python standard library + cryptography)"),
        (f"{layout.INDEX}, .sig", "the package index (what this package holds), signed"),
        (report_path, "the report, byte for byte as ingested"),
        ("data/captures/<target>/<capture id>/manifest.json",
         "a capture manifest (canonical JSON), `manifest.json.sig` its Ed25519 signature"),
        ("data/captures/<target>/<capture id>/files/", "the captured files, by manifest name"),
        ("data/captures/<target>/<capture id>/certificate.html",
         "the capture certificate; `certificate.pdf` the same, printed"),
        (layout.PUBLIC_KEY, "the archive's Ed25519 public key (SubjectPublicKeyInfo PEM)"),
        (layout.CHECKPOINT, "the signed checkpoint (C2SP tlog-checkpoint in a signed note)"),
        ("data/custody/checkpoint.<n>.tsr", "RFC 3161 token n over the checkpoint file"),
        ("data/custody/tsa-<n>.pem", "the certificates token n carries (not a trust anchor)"),
        ("data/custody/events/<i>.json", "leaf i of the ledger: an event's exact bytes"),
        ("data/custody/proofs/<i>.json", "its inclusion proof (RFC 9162 2.1.3) to the checkpoint"),
        ("data/custody/earlier/<size>/", ("the first timestamped checkpoint that held some of "
         "these events, its tokens, and `consistency.json` (RFC 9162 2.1.4) to the checkpoint")),
    ):
        add(f"| `{path}` | {what} |")
    add("")
    add("## Step 1: every file is intact\n")
    add("```sh\nsha256sum -c manifest-sha256.txt\nsha256sum -c tagmanifest-sha256.txt\n```\n")
    add("Every line must end in `OK`. `sha256sum -c` does not see a file *added* to the "
        "package: compare `find data -type f | wc -l` and `du -cb` of them with "
        "`Payload-Oxum` (bytes.files) in `bag-info.txt`, or run the script of step 5, which "
        "names any capture, token or earlier checkpoint the signed index does not account "
        "for. (`bagit.py --validate .` from bagit-python checks both.)\n")
    add("## Step 2: the archive's key\n")
    add("```sh\nopenssl pkey -pubin -in data/custody/public-key.pem -outform DER | tail -c 32 "
        "| sha256sum\n```\n")
    add(f"must print `{key_id}`, the key id. A package can only *state* whose key this is: "
        "compare the id with the one the archive publishes, through another channel.\n")
    add("## Step 3: the captures and the index are signed by that key\n")
    add("Each command must print `Signature Verified Successfully` (OpenSSL 3):\n")
    add("```sh")
    for path in [layout.INDEX, *(layout.capture_dir(c.target.key, c.capture_id) + "manifest.json"
                                 for _, c in captures)]:
        add(f"openssl pkeyutl -verify -pubin -inkey {layout.PUBLIC_KEY} -rawin \\\n"
            f"    -in {path} -sigfile {path}.sig")
    add("```\n")
    add("Then each captured file must have the SHA-256 and size its signed manifest lists "
        "(`files[].sha256`, `files[].size`). For one capture folder:\n")
    add("```sh\ncd data/captures/<target>/<capture id>\n"
        "python3 -c 'import json; [print(f[\"sha256\"] + \"  files/\" + f[\"name\"]) "
        "for f in json.load(open(\"manifest.json\"))[\"files\"]]' | sha256sum -c\ncd -\n```\n")
    add("## Step 4: the checkpoint is signed by that key, and when it existed\n")
    add("The checkpoint's text is its lines above the blank line; the signature line holds "
        "base64 of a 4-byte key hash and the 64-byte Ed25519 signature of that text:\n")
    add("```sh\nsed -n '/^$/q;p' data/custody/checkpoint > /tmp/checkpoint.text\n"
        "tail -n 1 data/custody/checkpoint | awk '{print $3}' | base64 -d | tail -c 64 "
        "> /tmp/checkpoint.sig\n"
        f"openssl pkeyutl -verify -pubin -inkey {layout.PUBLIC_KEY} -rawin "
        "-in /tmp/checkpoint.text -sigfile /tmp/checkpoint.sig\n```\n")
    if tokens:
        add("Each RFC 3161 token proves the checkpoint file existed, byte for byte, at its "
            "time (`Verification: OK`):\n")
        add("```sh")
        for n, _ in enumerate(tokens, 1):
            add(f"openssl ts -verify -data {layout.CHECKPOINT} "
                f"-in {layout.token_path(layout.CUSTODY, n)} \\\n    -CAfile YOUR-TSA-ROOTS.pem "
                f"-untrusted {layout.chain_path(layout.CUSTODY, n)}")
        add(f"openssl ts -reply -in {layout.token_path(layout.CUSTODY, 1)} -text "
            "| grep 'Time stamp'")
        add("```\n")
        add("`YOUR-TSA-ROOTS.pem` must come from **your own** trust: the authority's published "
            "root, or your system's store (`/etc/ssl/certs/ca-certificates.crt`). Never use "
            "the package's `tsa-<n>.pem` as `-CAfile`: it is the chain as the authority sent "
            "it, given to openssl only as `-untrusted` intermediates (openssl may warn that "
            "the authority's own certificate in it is not a CA certificate: expected). "
            "The authorities were:\n")
        for n, t in enumerate(tokens, 1):
            add(f"- token {n}: {t.tsa_url}, time {rfc3339(t.gen_time)}")
        add("")
    else:
        add(f"No RFC 3161 token is in this package ({warning}). Only the archive's own "
            "signature vouches for the checkpoint's time.\n")
    if earlier:
        add("`data/custody/earlier/<size>/` holds the first timestamped checkpoint that held "
            "some of these events; verify it and its tokens the same way. Its "
            "`consistency.json` proves the checkpoint above extends it (step 5 checks it), so "
            "the events below that size existed by that earlier time: "
            + ", ".join(f"size {c.size}" for c in earlier) + ".\n")
    add("## Step 5: the events are in the signed ledger\n")
    add("Each `events/<i>.json` is leaf i of the archive's custody ledger, a Merkle tree "
        "hashed as in RFC 6962 (leaf `SHA-256(0x00 || event)`, node `SHA-256(0x01 || left || "
        "right)`); `proofs/<i>.json` is its audit path to the checkpoint's root. openssl "
        "cannot walk a Merkle path; the standalone script does, with Python's standard library "
        "and `cryptography` only. It checks the files against the signed index "
        "`package.json` (so a capture, token or earlier checkpoint removed or added is named "
        "even if the bag's manifests were re-made, and an edited certificate is named), the "
        "key, the signatures, the inclusion "
        "proofs and, with openssl, the tokens, and prints one line per check:\n")
    add("```sh\npython3 -m venv /tmp/verify-env && /tmp/verify-env/bin/pip install cryptography\n"
        f"/tmp/verify-env/bin/python {layout.VERIFIER} . --tsa-roots YOUR-TSA-ROOTS.pem "
        f"--key-id {key_id}\n```\n")
    add("It exits 0 only when every check passed; 1 when one failed (a file the signed "
        "index does not name, a hard link to a file outside the package, a file that cannot "
        "be parsed); 2 when the package cannot be opened safely (a symbolic link, FIFO or "
        "device in it, folders nested too deep, too many files); and 3 when no check failed "
        "but one could not be done (no `--key-id`: anyone could build a package that passes "
        "under a key of their own; no `--tsa-roots`, no openssl or a checkpoint with no "
        "token: the time is unproven; no `Payload-Oxum` in `bag-info.txt`). "
        "`preserver verify` exits with the same codes. It is short: read it before you trust "
        "it. The events:\n")
    add("| leaf | action | subject | time |\n|---|---|---|---|")
    for e in events:
        add(f"| {e.seq} | {e.action} | `{_cell(e.subject)}` | {rfc3339(e.time)} |")
    add("")
    add("## Step 6: tie the pieces together\n")
    add(f"- `sha256sum {shlex.quote(report_path)}` equals the subject of the `report_ingested` event, whose "
        "`details.targets` lists the links the report cites.")
    add("- `sha256sum` of each `manifest.json` (and `.sig`) equals `manifest_sha256` (and "
        "`signature_sha256`) in that capture's `capture_stored` event.")
    add(f"- The `key_created` event names the key id `{key_id}`.")
    add("- `preserver verify <this folder>` runs every check above, plus the package index, "
        "and names whatever fails.\n")
    add("## The captures\n")
    add("| target | capture | outcome | seen as | files | certificate |\n"
        "|---|---|---|---|---|---|")
    for _, m in captures:
        folder = layout.capture_dir(m.target.key, m.capture_id)
        access = m.collection.get("access") if isinstance(m.collection, dict) else None
        add(f"| {_cell(m.target.url)} | `{m.capture_id}` | {m.outcome.state}/{m.outcome.status} | "
            f"{_cell(seen_as(access))} | "
            + ", ".join(f"`{_cell(f.name)}`" for f in m.files)
            + f" | `{folder}{layout.CERTIFICATE_HTML}` |")
    add("")
    add("This package reveals nothing of the archive's other reports: the checkpoint commits "
        "to the whole ledger by one hash, and the proofs are hashes of other events, not "
        "their content.\n")
    return ("\n".join(out) + "\n").encode("utf-8")
