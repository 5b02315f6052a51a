"""What a ZIP package with very many members costs ``preserver verify PACKAGE``.

    .venv/bin/python bench/hostile_zip.py [--members 200000] [--baseline /path/to/old/tree]

Writes a ZIP of ``--members`` empty files beside a bagit.txt and an empty manifest,
then, in a child process each, opens and verifies it with this tree's ``manifests``
and, given ``--baseline``, with another checkout's (e.g. a worktree of the commit
before the bounds), and prints side by side: the outcome, the findings, the wall
time and the child's peak memory (ru_maxrss). Times vary by machine; the point is
that the bounded verifier refuses the package before reading its members.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys
from pathlib import Path
from manifests import InvalidPackage, Package, verify_package
try:
    with Package.open(Path(sys.argv[1])) as package:
        findings = verify_package(package, trust_roots=[])
    print(json.dumps({"outcome": "verified", "findings": len(findings)}))
except InvalidPackage as exc:
    print(json.dumps({"outcome": "refused: " + str(exc)[-90:], "findings": 0}))
"""


def make_zip(path: Path, members: int) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        zf.writestr("pkg/manifest-sha256.txt", "")
        for n in range(members):
            zf.writestr(f"pkg/data/{n}", b"")


def run(tree: Path, path: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, check=True, cwd=tree,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result: dict[str, object] = json.loads(done.stdout)
    # ru_maxrss of children is the largest so far: run the smaller one first
    result.update(seconds=round(seconds, 2), peak_mib=round(max(peak, before) / 1024))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "many.zip"
        make_zip(path, args.members)
        print(f"{args.members} members, {path.stat().st_size >> 20} MiB")
        for name, tree in [("this tree", HERE), ("baseline", args.baseline)]:
            if tree is not None:
                print(f"{name:10} {run(tree, path)}")


if __name__ == "__main__":
    main()
