"""Hostile evidence packages, each run through both verifiers: ``preserver verify
PACKAGE`` and the package's own ``data/verify_package.py`` in a subprocess. Each is
built from a real exported package (``tests/support/evidence.py``) and must end in
the exit code the case names, the same for both, with no traceback:

- 1: a check failed (a file no manifest or signed index lists, a number or a nesting beyond what
  a package's file may hold, a hard link to a file outside the package);
- 2: the package cannot be opened safely (folders too deep, too many members, a
  FIFO, a device node, a symbolic link);
- 3: no check failed, but one could not be done (a checkpoint with no RFC 3161 token,
  no Payload-Oxum), though the key is pinned and the TSA roots given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import bagit
import pytest

from manifests import canonical_json, load_or_create_signing_key, parse_canonical, sign
from tests.support.cli import run_cli
from tests.support.evidence import Built

pytestmark = pytest.mark.slow


@pytest.fixture
def work() -> Iterator[Path]:
    """A folder outside pytest's temporary tree, removed with ``rm -rf``: pytest's own
    clean-up recurses, and a 1,500-level tree would break it for every later session."""
    path = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)


def rebag(path: Path) -> None:
    """Re-make the bag's manifests, as someone covering their tracks would."""
    bagit.Bag(str(path)).save(manifests=True)


def long_size_line(pkg: Path, tmp: Path, built: Built) -> Path:
    checkpoint = pkg / "data" / "custody" / "checkpoint"
    origin, _size, rest = checkpoint.read_text(encoding="utf-8").split("\n", 2)
    checkpoint.write_text(f"{origin}\n{'9' * 5000}\n{rest}", encoding="utf-8")
    rebag(pkg)
    return pkg


def deep_folders(pkg: Path, tmp: Path, built: Built) -> Path:
    here = Path.cwd()
    os.chdir(pkg / "data" / "captures")
    try:
        for _ in range(1500):  # one level at a time: the whole path is too long for mkdir
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(here)
    return pkg


def deep_json(pkg: Path, tmp: Path, built: Built) -> Path:
    """Signed with the archive's own key, so that the index is parsed, not just refused
    for its signature."""
    index = b"[" * 200_000
    key = load_or_create_signing_key(built.tmp / "archive" / "keys")
    (pkg / "data" / "package.json").write_bytes(index)
    (pkg / "data" / "package.json.sig").write_bytes(sign(key, index))
    rebag(pkg)
    return pkg


def many_members(pkg: Path, tmp: Path, built: Built) -> Path:
    path = tmp / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        zf.writestr("pkg/manifest-sha256.txt", "")
        for n in range(100_001):
            zf.writestr(f"pkg/data/{n}", b"")
    return path


def untimestamped(pkg: Path, tmp: Path, built: Built) -> Path:
    """The latest checkpoint's tokens removed, and the signed index saying it has none."""
    custody = pkg / "data" / "custody"
    for path in [*custody.glob("checkpoint.*.tsr"), *custody.glob("tsa-*.pem")]:
        path.unlink()
    index = parse_canonical((pkg / "data" / "package.json").read_bytes())
    assert isinstance(index, dict) and isinstance(index["checkpoint"], dict)
    index["checkpoint"]["timestamps"] = 0
    key = load_or_create_signing_key(built.tmp / "archive" / "keys")
    (pkg / "data" / "package.json").write_bytes(canonical_json(index))
    (pkg / "data" / "package.json.sig").write_bytes(sign(key, canonical_json(index)))
    rebag(pkg)
    return pkg


def no_oxum(pkg: Path, tmp: Path, built: Built) -> Path:
    """bag-info.txt without Payload-Oxum (optional in RFC 8493 section 2.2.2); the tag
    manifest updated by hand, as bagit-python's save would write the field back."""
    info = pkg / "bag-info.txt"
    info.write_bytes(b"".join(line for line in info.read_bytes().splitlines(keepends=True)
                              if not line.startswith(b"Payload-Oxum:")))
    tags = pkg / "tagmanifest-sha256.txt"
    digest = hashlib.sha256(info.read_bytes()).hexdigest()
    tags.write_text("".join(f"{digest}  bag-info.txt\n" if line.split()[1:] == ["bag-info.txt"]
                            else line + "\n" for line in tags.read_text().splitlines()))
    return pkg


def extra_file(pkg: Path, tmp: Path, built: Built) -> Path:
    (pkg / "data" / "custody" / "notes.txt").write_text("planted\n", encoding="utf-8")
    rebag(pkg)
    return pkg


def tag_manifest_lookalike(pkg: Path, tmp: Path, built: Built) -> Path:
    """Only a top-level ``tagmanifest-<alg>.txt`` may go unlisted, not all it prefixes."""
    (pkg / "tagmanifest-x").mkdir()
    (pkg / "tagmanifest-x" / "planted.txt").write_text("planted\n", encoding="utf-8")
    return pkg


def many_extra_files(pkg: Path, tmp: Path, built: Built) -> Path:
    for n in range(1500):
        (pkg / "data" / f"planted-{n}.txt").write_text(f"{n}\n", encoding="utf-8")
    rebag(pkg)
    return pkg


def fifo(pkg: Path, tmp: Path, built: Built) -> Path:
    os.mkfifo(pkg / "data" / "custody" / "pipe")
    return pkg


def device(pkg: Path, tmp: Path, built: Built) -> Path:
    try:
        os.mknod(pkg / "data" / "custody" / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    return pkg


def symlinked_directory(pkg: Path, tmp: Path, built: Built) -> Path:
    outside = tmp / "outside"
    shutil.copytree(pkg / "data" / "custody" / "events", outside)
    shutil.rmtree(pkg / "data" / "custody" / "events")
    (pkg / "data" / "custody" / "events").symlink_to(outside, target_is_directory=True)
    return pkg


def hard_link_to_outside(pkg: Path, tmp: Path, built: Built) -> Path:
    outside = tmp / "outside.txt"
    outside.write_text("not part of the package\n", encoding="utf-8")
    os.link(outside, pkg / "data" / "custody" / "notes.txt")
    rebag(pkg)
    return pkg


CASES: dict[str, tuple[Callable[[Path, Path, Built], Path], int, str]] = {
    # name: (make it, expected exit code, what both verifiers' output must say)
    "long-size-line": (long_size_line, 1, "tree size"),
    "deep-folders": (deep_folders, 2, "cannot be opened safely: "),
    "deep-json": (deep_json, 1, "nested deeper than"),
    "many-members": (many_members, 2, "cannot be opened safely: "),
    "extra-file": (extra_file, 1, "data/custody/notes.txt"),
    "many-extra-files": (many_extra_files, 1, "and 500 more"),
    "tag-manifest-lookalike": (tag_manifest_lookalike, 1, "tagmanifest-x/planted.txt"),
    "fifo": (fifo, 2, "data/custody/pipe is not a regular file"),
    "device": (device, 2, "data/custody/null is not a regular file"),
    "symlinked-directory": (symlinked_directory, 2, "data/custody/events is a symbolic link"),
    "hard-link-to-outside": (hard_link_to_outside, 1, "hard link"),
    "untimestamped": (untimestamped, 3, "not timestamped"),
    "no-oxum": (no_oxum, 3, "no Payload-Oxum"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_both_verifiers_agree_on_a_hostile_package(built: Built, work: Path, case: str) -> None:
    make, expected, said = CASES[case]
    pkg = make(Path(shutil.copytree(built.pkg, work / "pkg", symlinks=True)), work, built)
    by_preserver = run_cli("verify", str(pkg), "--tsa-roots", str(built.roots),
                           "--key-id", built.key_id)
    script = (pkg / "data" if pkg.is_dir() else built.pkg / "data") / "verify_package.py"
    by_script = subprocess.run([sys.executable, "-I", str(script), str(pkg), "--tsa-roots",
                                str(built.roots), "--key-id", built.key_id],
                               capture_output=True, text=True, check=False, timeout=300)
    for who, code, out in (("preserver verify", by_preserver.code,
                            by_preserver.stdout + by_preserver.stderr),
                           ("verify_package.py", by_script.returncode,
                            by_script.stdout + by_script.stderr)):
        assert "Traceback" not in out, f"{who}: {out[-3000:]}"
        assert code == expected, f"{who} exited {code}, not {expected}: {out[-3000:]}"
        assert said in out.replace("\n", " "), f"{who}: {out[-3000:]}"
        fails = [line for line in out.splitlines() if line.startswith("FAIL ")]
        assert len(fails) <= 1001, f"{who}: {len(fails)} FAIL lines"
