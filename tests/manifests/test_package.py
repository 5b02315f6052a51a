"""Evidence packages, end to end: a report preserved in process against the fixture
site, checkpointed and timestamped by a local TSA, exported by the real exporter, then
verified by ``preserver verify PACKAGE`` (in process), bagit-python, ``sha256sum -c``,
``openssl ts -verify`` and the standalone script in a Python that has never seen
preserver. Each tampering is caught, named (what and where), and exits 1; what
cannot be opened as a package exits 2."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col

from manifests import (
    InvalidPackage,
    Package,
    SignedCheckpoint,
    SigningKey,
    canonical_json,
    inclusion_proof,
    leaf_hash,
    parse_canonical,
    sign,
    sign_checkpoint,
    timestamp_request,
    tsa_chain_pem,
    verify_package,
)
from manifests.package_layout import InclusionProof, PackageIndex
from manifests.signing import key_id, public_key_pem
from preserver.archive import open_archive
from preserver.config import load_config
from preserver.custody.events import record_event
from preserver.db.models import Event
from preserver.errors import IntegrityError
from preserver.export.package import export_package
from tests.support.cli import run_cli
from tests.support.evidence import Built
from tests.support.tsa import LocalTsa, TsaKeys

pytestmark = pytest.mark.slow


# -- helpers ------------------------------------------------------------------------------


def verify(built: Built, path: Path,
           *extra: str) -> tuple[int, list[dict[str, str]]]:
    done = run_cli("verify", str(path), "--tsa-roots", str(built.roots), "--json", *extra)
    return done.code, json.loads(done.stdout) if done.stdout.strip() else []


def caught(findings: list[dict[str, str]], subject: str, detail: str, check: str = "") -> None:
    """Some failed finding names ``subject`` (where) and ``detail`` (what) - regexes."""
    failed = [f for f in findings if f["outcome"] == "failed"]
    assert any(re.search(subject, f["subject"]) and re.search(detail, f["detail"])
               and (not check or f["check"] == check) for f in failed), json.dumps(failed, indent=1)


def tampered(built: Built, tmp_path: Path) -> Path:
    """A fresh copy of the genuine package, to break."""
    return Path(shutil.copytree(built.pkg, tmp_path / "pkg"))


def rebag(path: Path) -> None:
    """Recompute the bag's manifests, as someone covering their tracks would."""
    bagit.Bag(str(path)).save(manifests=True)


def index(path: Path) -> PackageIndex:
    return PackageIndex.from_bytes((path / "data" / "package.json").read_bytes())


def events_of(path: Path, action: str) -> list[int]:
    return [e.index for e in index(path).events if e.action == action]


def captures(path: Path) -> list[Path]:
    return sorted(p.parent for p in (path / "data" / "captures").glob("*/*/manifest.json"))


def flip(path: Path, at: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def other_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    return SigningKey(private_key=private, public_key_pem=public_key_pem(private.public_key()),
                      key_id=key_id(private.public_key()), created=False)


# -- the genuine package ------------------------------------------------------------------


def test_genuine_package_passes_preserver_verify(built: Built) -> None:
    for folder in captures(built.pkg):  # manifests with a collection record verify
        record = json.loads((folder / "manifest.json").read_bytes())["collection"]
        assert record["operator"] == "test-archivist" and "clock" in record
    code, findings = verify(built, built.pkg, "--key-id", built.key_id)
    assert code == 0, [f for f in findings if f["outcome"] == "failed"]
    passed = {(f["check"]) for f in findings if f["outcome"] == "passed"}
    assert {"fixity", "key", "signature", "timestamp", "chain", "consistency", "event",
            "inclusion", "manifest", "files", "report", "tool"} <= passed
    assert not [f for f in findings if f["outcome"] == "not_checked"]
    # each event's time is proven by the first timestamped checkpoint that held it
    assert all("in the ledger by" in f["detail"] for f in findings if f["check"] == "inclusion")


def test_genuine_package_passes_bagit_sha256sum_and_openssl(built: Built) -> None:
    bagit.Bag(str(built.pkg)).validate()
    for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
        done = subprocess.run(["sha256sum", "-c", manifest], cwd=built.pkg, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0 and "FAILED" not in done.stdout, done.stdout + done.stderr
    custody = built.pkg / "data" / "custody"
    tokens = sorted(custody.glob("checkpoint.*.tsr"))
    assert tokens
    for token in tokens:
        n = token.name.split(".")[1]
        done = subprocess.run(["openssl", "ts", "-verify", "-data", str(custody / "checkpoint"),
                               "-in", str(token), "-CAfile", str(built.roots),
                               "-untrusted", str(custody / f"tsa-{n}.pem")],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "Verification: OK" in done.stdout, done.stderr
    for folder in captures(built.pkg):
        done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                               str(custody / "public-key.pem"), "-rawin",
                               "-in", str(folder / "manifest.json"),
                               "-sigfile", str(folder / "manifest.json.sig")],
                              capture_output=True, text=True, check=False)
        assert "Signature Verified Successfully" in done.stdout, done.stdout + done.stderr


def test_verify_md_names_the_real_files_and_commands(built: Built) -> None:
    text = (built.pkg / "data" / "VERIFY.md").read_text(encoding="utf-8")
    for command in ("sha256sum -c manifest-sha256.txt",
                    ("openssl ts -verify -data data/custody/checkpoint -in "
                     "data/custody/checkpoint.1.tsr"),
                    "-untrusted data/custody/tsa-1.pem",
                    "openssl pkeyutl -verify -pubin -inkey data/custody/public-key.pem -rawin",
                    "python data/verify_package.py . --tsa-roots",
                    "2 when the package cannot be opened safely", "3 when no check failed"):
        assert command in text
    for folder in captures(built.pkg):
        assert str((folder / "manifest.json").relative_to(built.pkg)) in text


@pytest.fixture(scope="session")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A Python that has never imported preserver: a fresh virtualenv with only
    ``cryptography`` installed from the registry; else the system Python, isolated."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    made = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, check=False,
                          timeout=120)
    python = venv / "bin" / "python"
    if made.returncode == 0:
        pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "cryptography"],
                             capture_output=True, check=False, timeout=300)
        if pip.returncode == 0:
            return [str(python), "-I"]
    system = Path("/usr/bin/python3")
    if system.exists() and subprocess.run([str(system), "-I", "-c", "import cryptography"],
                                          check=False).returncode == 0:
        return [str(system), "-I"]
    pytest.skip("no Python with cryptography and without preserver could be made")


def test_standalone_script_verifies_in_a_python_without_preserver(
        built: Built, clean_python: list[str], tmp_path: Path) -> None:
    never = ("import importlib.util as u, sys; "
             "sys.exit(any(u.find_spec(m) for m in ('preserver', 'manifests', 'storage')))")
    assert subprocess.run([*clean_python, "-c", never], cwd=built.pkg,
                          check=False).returncode == 0
    done = subprocess.run([*clean_python, "data/verify_package.py", ".", "--tsa-roots",
                           str(built.roots), "--key-id", built.key_id], cwd=built.pkg,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stderr and "FAIL" not in done.stdout
    assert re.search(r"PASS  data/custody/events/\d+\.json  \[inclusion\]", done.stdout)
    assert re.search(r"PASS  data/custody/checkpoint\.1\.tsr  \[timestamp\]", done.stdout)
    # and it catches an edited event
    pkg = tampered(built, tmp_path)
    event = pkg / "data" / "custody" / "events" / f"{events_of(pkg, 'capture_stored')[0]}.json"
    event.write_bytes(event.read_bytes().replace(b'"complete"', b'"partial"'))
    done = subprocess.run([*clean_python, str(pkg / "data" / "verify_package.py"), str(pkg)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 1
    assert re.search(rf"FAIL  data/custody/events/{event.stem}\.json  \[inclusion\]", done.stdout)


def test_standalone_script_imports_only_stdlib_and_cryptography() -> None:
    import ast

    tree = ast.parse(Path(sys.modules["manifests"].__file__ or "").with_name(
        "_standalone.py").read_text(encoding="utf-8"))
    roots = {(n.module or "").split(".")[0] for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom)}
    roots |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
              for a in n.names}
    assert roots - set(sys.stdlib_module_names) == {"cryptography"}


def test_zip_round_trip(built: Built,
                        tmp_path: Path) -> None:
    code, findings = verify(built, built.zip, "--key-id", built.key_id)
    assert code == 0, [f for f in findings if f["outcome"] == "failed"]
    with zipfile.ZipFile(built.zip) as zf:
        assert {n.split("/", 1)[0] for n in zf.namelist()} == {"pkg"}
        zf.extractall(tmp_path)
    bagit.Bag(str(tmp_path / "pkg")).validate()
    # a byte flipped inside the ZIP is caught without extracting it
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(built.zip) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".mp4"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(info, data)
    code, findings = verify(built, broken)
    assert code == 1
    caught(findings, r"files/.*\.mp4$", "content changed", "fixity")


def test_package_of_one_report_reveals_nothing_of_another(built: Built) -> None:
    secrets = [s.encode() for s in (built.b_url, built.b_key, built.b_sha256, built.b_name,
                                    "/secret-b/")]
    for path in [p for p in built.pkg.rglob("*") if p.is_file()] + [built.zip]:
        data = path.read_bytes()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                data = b"".join(zf.read(n) for n in zf.namelist())
        for secret in secrets:
            assert secret not in data, f"{path} holds {secret!r}"


# -- tampering: each is caught, named, and exits 1 ------------------------------------------


def test_byte_flipped_in_a_captured_file(built: Built,
                                         tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    media = next(captures(pkg)[0].glob("files/*.mp4"))
    flip(media, 1000)
    code, findings = verify(built, pkg)
    assert code == 1
    name = re.escape(media.name)
    caught(findings, rf"files/{name}$", "content changed: SHA-256 is", "fixity")
    caught(findings, rf"files/{name}$", "re-hashes to .*the signed manifest says", "files")
    rebag(pkg)  # with the bag's manifests recomputed, the signed manifest still says no
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, rf"files/{name}$", "re-hashes to .*the signed manifest says", "files")


def test_file_removed(built: Built, tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    media = next(captures(pkg)[1].glob("files/*.mp4"))
    media.unlink()
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, rf"files/{re.escape(media.name)}$", r"missing \(removed\?\)", "fixity")
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, rf"files/{re.escape(media.name)}$", "listed in the signed manifest but "
           "missing", "files")


def test_file_added(built: Built, tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    extra = captures(pkg)[0] / "files" / "extra.mp4"
    extra.write_bytes(b"not evidence")
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, r"files/extra\.mp4$", r"not listed in manifest-sha256\.txt \(added\?\)")
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, r"files/extra\.mp4$", r"not part of the evidence package \(added\?\)")


def test_manifest_field_edited(built: Built,
                               tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    path = captures(pkg)[0] / "manifest.json"
    manifest = parse_canonical(path.read_bytes())
    assert isinstance(manifest, dict) and isinstance(manifest["outcome"], dict)
    manifest["outcome"]["status"] = "removed_policy"
    path.write_bytes(canonical_json(manifest))
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    where = re.escape(path.relative_to(pkg).as_posix())
    caught(findings, where, "signature does not verify", "signature")
    caught(findings, re.escape(path.parent.relative_to(pkg).as_posix()),
           r"manifest replaced\?", "event")


def test_signature_swapped(built: Built,
                           tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    first, second = captures(pkg)[:2]
    a, b = (first / "manifest.json.sig").read_bytes(), (second / "manifest.json.sig").read_bytes()
    (first / "manifest.json.sig").write_bytes(b)
    (second / "manifest.json.sig").write_bytes(a)
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    for folder in (first, second):
        where = re.escape(folder.relative_to(pkg).as_posix())
        caught(findings, where + "/manifest.json$", "signature does not verify", "signature")
        caught(findings, where, r"signature swapped\?", "event")


def test_event_deleted(built: Built, tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    i = events_of(pkg, "capture_stored")[0]
    (pkg / "data" / "custody" / "events" / f"{i}.json").unlink()
    (pkg / "data" / "custody" / "proofs" / f"{i}.json").unlink()
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, rf"events/{i}\.json$", r"missing \(deleted\?\): package.json lists "
           "capture_stored", "inclusion")
    caught(findings, r"data/captures/", r"no proven capture_stored event .*\(event deleted\?\)")


def test_events_reordered(built: Built,
                          tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    events = pkg / "data" / "custody" / "events"
    i, j = events_of(pkg, "report_ingested")[0], events_of(pkg, "capture_stored")[0]
    a, b = (events / f"{i}.json").read_bytes(), (events / f"{j}.json").read_bytes()
    (events / f"{i}.json").write_bytes(b)
    (events / f"{j}.json").write_bytes(a)
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    for n in (i, j):
        caught(findings, rf"events/{n}\.json$", rf"not leaf {n} of checkpoint \d+.*edited, "
               "moved or inserted", "inclusion")


def test_event_inserted(built: Built, tmp_path: Path) -> None:
    """A genuine event of another report, with a genuine proof to the same checkpoint."""
    pkg = tampered(built, tmp_path)
    size = index(pkg).checkpoint.size

    async def ledger() -> list[Event]:
        async with open_archive(load_config(built.config, env={})) as archive, \
                archive.db.session() as session:
            return list((await session.scalars(sa.select(Event).where(
                Event.seq < size).order_by(Event.seq))).all())  # type: ignore[operator]

    rows = asyncio.run(ledger())
    other = next(e for e in rows if e.subject == built.b_sha256)
    assert other.seq is not None
    proof = InclusionProof(leaf_index=other.seq, tree_size=size, hashes=inclusion_proof(
        [leaf_hash(e.body) for e in rows], other.seq))
    (pkg / "data" / "custody" / "events" / f"{other.seq}.json").write_bytes(other.body)
    (pkg / "data" / "custody" / "proofs" / f"{other.seq}.json").write_bytes(proof.to_bytes())
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, rf"events/{other.seq}\.json$", r"not listed in package.json \(inserted\?\)",
           "index")
    caught(findings, "data/report/", r"2 proven report_ingested events.*inserted", "report")


def test_event_edited(built: Built, tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    i = events_of(pkg, "availability_changed")[0]
    path = pkg / "data" / "custody" / "events" / f"{i}.json"
    event = parse_canonical(path.read_bytes())
    assert isinstance(event, dict)
    event["time"] = "2020-01-01T00:00:00.000000Z"
    path.write_bytes(canonical_json(event))
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, rf"events/{i}\.json$", "edited, moved or inserted", "inclusion")


def test_checkpoint_forged_with_another_key(built: Built,
                                            tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    path = pkg / "data" / "custody" / "checkpoint"
    note = SignedCheckpoint.from_text(path.read_bytes())
    origin = note.checkpoint.origin
    path.write_bytes(sign_checkpoint(note.checkpoint, other_key(), name=origin))
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, r"data/custody/checkpoint$", f"no signature by {re.escape(origin)}",
           "signature")
    caught(findings, r"data/custody/checkpoint\.1\.tsr$", "timestamp", "timestamp")


def test_timestamp_token_altered(built: Built,
                                 tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    flip(pkg / "data" / "custody" / "checkpoint.1.tsr", -5)
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, r"data/custody/checkpoint\.1\.tsr$", "timestamp", "timestamp")


def test_timestamp_from_an_untrusted_tsa(built: Built,
                                         tmp_path: Path, rogue_tsa: LocalTsa) -> None:
    pkg = tampered(built, tmp_path)
    custody = pkg / "data" / "custody"
    request = timestamp_request((custody / "checkpoint").read_bytes())
    token = httpx.post(rogue_tsa.url, content=request.der,
                       headers={"Content-Type": "application/timestamp-query"}).content
    (custody / "checkpoint.1.tsr").write_bytes(token)
    (custody / "tsa-1.pem").write_bytes(tsa_chain_pem(token))
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    caught(findings, r"data/custody/checkpoint\.1\.tsr$", "does not chain to a trusted root",
           "timestamp")


def test_no_trusted_roots_fails_the_token_not_skips_it(
        built: Built, tmp_path: Path,
        rogue_tsa_keys: TsaKeys) -> None:
    with Package.open(built.pkg) as package:
        findings = verify_package(package, trust_roots=[])
    token = next(f for f in findings if f.subject == "data/custody/checkpoint.1.tsr"
                 and f.check == "timestamp")
    assert (token.outcome, token.detail) == ("failed", "timestamp: no trusted TSA roots given")
    other = tmp_path / "other-root.pem"  # a root, but not the one that TSA is under
    other.write_bytes(rogue_tsa_keys.root_pem)
    done = run_cli("verify", str(built.pkg), "--tsa-roots", str(other))
    assert done.code == 1
    assert re.search(r"FAIL data/custody/checkpoint\.1\.tsr \[timestamp\]: timestamp: TSA "
                     "certificate does not chain to a trusted root", done.stdout)


def test_public_key_replaced(built: Built,
                             tmp_path: Path) -> None:
    """Key swapped and everything it can sign re-signed: manifests, index, checkpoint."""
    pkg = tampered(built, tmp_path)
    key = other_key()
    custody = pkg / "data" / "custody"
    (custody / "public-key.pem").write_bytes(key.public_key_pem)
    for folder in captures(pkg):
        (folder / "manifest.json.sig").write_bytes(sign(key, (folder / "manifest.json")
                                                        .read_bytes()))
    raw = parse_canonical((pkg / "data" / "package.json").read_bytes())
    assert isinstance(raw, dict)
    raw["key_id"] = key.key_id
    (pkg / "data" / "package.json").write_bytes(canonical_json(raw))
    (pkg / "data" / "package.json.sig").write_bytes(sign(key, canonical_json(raw)))
    for path in [custody / "checkpoint", *custody.glob("earlier/*/checkpoint")]:
        note = SignedCheckpoint.from_text(path.read_bytes())
        path.write_bytes(sign_checkpoint(note.checkpoint, key, name=note.checkpoint.origin))
    rebag(pkg)
    code, findings = verify(built, pkg)
    assert code == 1
    i = events_of(pkg, "key_created")[0]
    caught(findings, rf"events/{i}\.json$", r"key_created names key .*\(public key replaced\?\)",
           "key")
    caught(findings, r"data/custody/checkpoint\.1\.tsr$", "imprint", "timestamp")
    caught(findings, r"data/captures/", r"signature swapped\?", "event")
    code, findings = verify(built, pkg, "--key-id", built.key_id)
    caught(findings, r"public-key\.pem$", r"not the expected key .*\(public key replaced\?\)",
           "key")


def test_history_truncated_and_regrown(built: Built,
                                       tmp_path: Path) -> None:
    """The ledger cut back below report A's last event and grown again with that event
    rewritten: the new checkpoint and the new proofs hold, but the package carries the
    first timestamped checkpoint that held the original, and no consistency proof can
    lead from it to the re-grown tree."""
    archive_dir = Path(shutil.copytree(built.tmp / "archive", tmp_path / "archive"))
    text = built.config.read_text(encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(text.replace(str(built.tmp / "archive"), str(archive_dir)),
                      encoding="utf-8")

    async def rewrite() -> None:
        async with open_archive(load_config(config, env={})) as archive:
            async with archive.db.session() as session:
                rows = list((await session.scalars(sa.select(Event).where(
                    col(Event.seq).is_not(None)).order_by(col(Event.seq)))).all())
                last = max(e.seq for e in rows if e.action == "availability_changed"
                           and "/a/" in e.subject)
                target = next(e for e in rows if e.seq == last)
                await session.execute(sa.delete(Event).where(col(Event.seq) >= last))
                body = json.loads(target.body)
                await record_event(session, action=target.action, subject=target.subject,
                                   operator="someone", details={**body["details"],
                                                                "status": "removed_policy"})
                for n in range(len(rows) - last + 2):
                    await record_event(session, action="fixity_checked", subject="regrown",
                                       operator="someone", details={"n": n})
            with pytest.raises(IntegrityError, match="would not verify, so it was not written"):
                await export_package(archive, report="douma-a.txt", out=tmp_path / "honest",
                                     zip=False)
            assert not (tmp_path / "honest").exists()
            # a dishonest archive skips that check: the recipient must catch it
            await export_package(archive, report="douma-a.txt", out=tmp_path / "pkg", zip=False,
                                 self_check=False)

    asyncio.run(rewrite())
    code, findings = verify(built, tmp_path / "pkg")
    assert code == 1
    caught(findings, r"data/custody/earlier/\d+/consistency\.json$",
           r"does not extend checkpoint \d+: history was truncated or rewritten", "consistency")


# -- what is not a package: exit 2 ---------------------------------------------------------


def _zip_with(path: Path, members: dict[str, bytes], *, link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
    return path


BAGIT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


@pytest.mark.parametrize(("members", "link", "match"), [
    ({"bag/bagit.txt": BAGIT, "bag/manifest-sha256.txt": b"", "bag/../../evil.txt": b"x"},
     None, r"unsafe to open: it has an empty, '\.' or '\.\.' component"),
    ({"bagit.txt": BAGIT, "manifest-sha256.txt": b"", "/etc/evil": b"x"}, None,
     "unsafe to open: it has an absolute path"),
    ({"bagit.txt": BAGIT, "manifest-sha256.txt": b"", "data\\..\\evil": b"x"}, None,
     "unsafe to open: it has a backslash"),
    ({"bagit.txt": BAGIT, "manifest-sha256.txt": b""}, "data/link", "is a symbolic link"),
    ({"bagit.txt": BAGIT, "manifest-sha256.txt": b"0" * 64 + b"  data/../../x\n"}, None,
     r"names '\.\./\.\./x'|names 'data/\.\./\.\./x'"),
    ({"readme.txt": b"hello"}, None, "not a bag: no bagit.txt"),
    ({"bagit.txt": BAGIT}, None, "the bag has no manifest-sha256.txt"),
], ids=["zip-slip", "absolute", "backslash", "symlink", "manifest-escape", "not-a-bag",
        "no-manifest"])
def test_unsafe_or_broken_zip_is_refused(built: Built,
                                         tmp_path: Path, members: dict[str, bytes],
                                         link: str | None, match: str) -> None:
    path = _zip_with(tmp_path / "evil.zip", members, link=link)
    with pytest.raises(InvalidPackage, match=match):
        Package.open(path)
    done = run_cli("verify", str(path), "--tsa-roots", str(built.roots))
    assert done.code == 2 and "Traceback" not in done.stderr
    assert re.search(match, done.stderr.replace("\n", ""))
    assert not (tmp_path.parent / "evil.txt").exists()


def test_non_bag_directory_and_symlinks_are_refused(built: Built, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(InvalidPackage, match="not a bag: no bagit.txt"):
        Package.open(plain)
    done = run_cli("verify", str(plain), "--tsa-roots", str(built.roots))
    assert done.code == 2 and "not a bag" in done.stderr
    pkg = tampered(built, tmp_path)
    (pkg / "data" / "link").symlink_to("/etc/passwd")
    with pytest.raises(InvalidPackage, match=r"data/link is a symbolic link"):
        Package.open(pkg)


def test_oversized_package_is_refused(built: Built) -> None:
    with pytest.raises(InvalidPackage, match="more than 10 members"):
        Package.open(built.zip, max_files=10)
    with pytest.raises(InvalidPackage, match="more than 10 files"):
        Package.open(built.pkg, max_files=10)
    with pytest.raises(InvalidPackage, match="more than 1000 bytes uncompressed"):
        Package.open(built.zip, max_bytes=1000)


# -- export's own refusals -----------------------------------------------------------------


def test_export_of_an_unknown_report_exits_2(built: Built,
                                             tmp_path: Path) -> None:
    done = run_cli("export", "--report", "no-such-report.txt", str(tmp_path / "out"),
                   config=built.config)
    assert done.code == 2 and "no report named 'no-such-report.txt'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_export_refuses_an_existing_output(built: Built,
                                           tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine", encoding="utf-8")
    done = run_cli("export", "--report", "douma-a.txt", str(tmp_path / "out"),
                   config=built.config)
    assert done.code == 2 and "already exists" in done.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


# -- the layout's names and small files ----------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("douma.txt", "douma.txt"),
    ("تقرير دوما.html", "تقرير دوما.html"),
    ("../../etc/passwd", "passwd"),
    ("C:\\reports\\x.md", "x.md"),
    ("a\x00b|c?.txt", "a_b_c_.txt"),
    ("..", "report"),
    ("", "report"),
    ("x" * 300 + ".txt", "x" * 180 + ".txt"),
])
def test_report_file_name_is_one_safe_component(name: str, expected: str) -> None:
    from manifests.package_layout import report_file_name

    assert report_file_name(name) == expected
    assert report_file_name(expected) == expected


@pytest.mark.parametrize(("key", "expected"), [
    ("youtube:45WIwFETn3E", "youtube-45WIwFETn3E"),
    ("facebook:pfbid02abc", "facebook-pfbid02abc"),
    ("web:https://example.org/a b/../c", r"web-https-example\.org-a-b-c-[0-9a-f]{12}"),
    ("facebook-url:https://fb.watch/x/", r"facebook-url-https-fb\.watch-x-[0-9a-f]{12}"),
])
def test_target_dir_is_readable_and_unique(key: str, expected: str) -> None:
    from manifests.package_layout import target_dir

    assert re.fullmatch(expected, target_dir(key))
    assert target_dir(key) != target_dir(key + "x")


@pytest.mark.parametrize(("data", "match"), [
    (b'{"hashes":[],"leaf_index":0,"tree_size":1} ', "not canonical JSON"),
    (b"[]", "not a JSON object"),
    (b'{"hashes":[],"leaf_index":0}', r"members are \['hashes', 'leaf_index'\]"),
    (b'{"hashes":[],"leaf_index":true,"tree_size":1}', "leaf_index is not a int"),
    (b'{"hashes":[],"leaf_index":1,"tree_size":1}', "leaf_index is not below tree_size"),
    (b'{"hashes":["00"],"leaf_index":0,"tree_size":2}', "64 lowercase hex digits"),
    (b'{"hashes":[],"leaf_index":-1,"tree_size":2}', "leaf_index -1 is out of range"),
], ids=["whitespace", "array", "missing", "bool", "index", "short-hash", "negative"])
def test_malformed_inclusion_proof_is_a_failed_check(data: bytes, match: str) -> None:
    from manifests import VerificationError

    with pytest.raises(VerificationError, match=match):
        InclusionProof.from_bytes(data, "proofs/0.json")


def test_package_index_of_another_version_is_a_failed_check(built: Built) -> None:
    from manifests import VerificationError

    raw = parse_canonical((built.pkg / "data" / "package.json").read_bytes())
    assert isinstance(raw, dict)
    raw["package_version"] = 2
    with pytest.raises(VerificationError, match="package_version 2 is not supported"):
        PackageIndex.from_bytes(canonical_json(raw))


def test_standalone_script_without_a_pinned_key_is_incomplete_not_verified(
        built: Built, clean_python: list[str]) -> None:
    done = subprocess.run([*clean_python, "data/verify_package.py", ".", "--tsa-roots",
                           str(built.roots)], cwd=built.pkg, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "INCOMPLETE" in done.stderr and "VERIFIED" not in done.stderr
    assert "not pinned" in done.stdout


@pytest.mark.parametrize("damage", ["capture_removed", "tokens_removed", "capture_added"])
def test_standalone_script_checks_the_signed_index(
        built: Built, clean_python: list[str], tmp_path: Path, damage: str) -> None:
    """A re-made bag manifest hides a removed or added file from sha256sum -c; the signed
    package.json still names what belongs."""
    pkg = tampered(built, tmp_path)
    folder = captures(pkg)[0]
    if damage == "capture_removed":
        shutil.rmtree(folder)
    elif damage == "tokens_removed":
        for path in (pkg / "data" / "custody").glob("checkpoint.*.tsr"):
            path.unlink()
    else:
        shutil.copytree(folder, folder.with_name("00000000-0000-4000-8000-000000000000"))
    rebag(pkg)
    done = subprocess.run([*clean_python, "data/verify_package.py", ".", "--tsa-roots",
                           str(built.roots), "--key-id", built.key_id], cwd=pkg,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"FAIL .*\[index\]", done.stdout), done.stdout


def test_preserver_verify_reports_an_unpinned_key_as_not_checked(
        built: Built) -> None:
    """Exit 3, as data/verify_package.py: no check failed, but the key was not checked."""
    code, findings = verify(built, built.pkg)
    pin = [f for f in findings if f["check"] == "pin"]
    assert code == 3 and pin and pin[0]["outcome"] == "not_checked"
    assert "not pinned" in pin[0]["detail"]
    assert not [f for f in findings if f["outcome"] == "failed"]
    done = run_cli("verify", str(built.pkg), "--tsa-roots", str(built.roots))
    assert done.code == 3 and "the key was not checked (give --key-id)" in done.stderr


def test_standalone_script_never_reads_outside_the_package(
        built: Built, clean_python: list[str], tmp_path: Path) -> None:
    pkg = tampered(built, tmp_path)
    secret = tmp_path / "outside.txt"
    secret.write_text("not part of the package\n")
    with (pkg / "manifest-sha256.txt").open("a") as fh:
        fh.write(f"{'0' * 64}  {secret}\n{'0' * 64}  data/../../outside.txt\n")
    done = subprocess.run([*clean_python, "data/verify_package.py", ".", "--tsa-roots",
                           str(built.roots), "--key-id", built.key_id], cwd=pkg,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 1
    assert done.stdout.count("names a path outside the package") == 2, done.stdout
    assert "not part of the package" not in done.stdout


def test_a_zip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("pkg/bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        with z.open("pkg/data/zeros.bin", "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(64):  # 64 MiB of zeros, about 64 KiB compressed
                member.write(chunk)
    with pytest.raises(InvalidPackage, match="compression bomb"):
        Package.open(bomb)
