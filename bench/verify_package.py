"""What verifying an evidence package costs next to plain ``sha256sum -c``.

    .venv/bin/python bench/verify_package.py [--files 1000] [--size 2048]

Builds a real archive in a temporary folder (a report citing one link, one capture
of ``--files`` small files recorded through ``preserver.capture.record``, a checkpoint
timestamped by a local RFC 3161 authority), exports its package with the real
exporter, then times on the same bag:

- ``sha256sum -c manifest-sha256.txt`` (fixity only),
- ``verify_exported`` in process (every check of ``preserver verify PACKAGE``),
- ``preserver verify PACKAGE`` as a command (with interpreter start-up),

and prints the ratios, plus the size of one inclusion proof in a ledger of that
many events. Times vary by machine; the ratios are the result.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from manifests import inclusion_proof, leaf_hash
from manifests.package_layout import InclusionProof
from preserver.archive import open_archive
from preserver.capture.record import JobRecord, record_result
from preserver.config import load_config
from preserver.custody.ledger import make_checkpoint
from preserver.db.models import Job, Target
from preserver.export.package import export_package
from preserver.ingest.report import ingest_report
from preserver.verify.package import verify_exported
from tests.support.tsa import LocalTsa, make_tsa_keys
from workers import CapturedFile, CaptureResult, CaptureState, Status


async def build(tmp: Path, tsa_url: str, roots: Path, files: int, size: int) -> Path:
    config = tmp / "config.toml"
    config.write_text(f'data_dir = "archive"\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
                      f'[custody]\ntsa_urls = ["{tsa_url}"]\ntsa_roots = "{roots}"\n',
                      encoding="utf-8")
    report = tmp / "report.txt"
    report.write_text("1- evidence\nhttps://example.org/evidence\n", encoding="utf-8")
    async with open_archive(load_config(config, env={})) as archive:
        await ingest_report(archive, report)
        stored = [archive.store.put_bytes(os.urandom(size)) for _ in range(files)]
        async with archive.db.session() as session:
            job, target = (await session.execute(sa.select(Job, Target).join(
                Target, Target.id == Job.target_id))).one()  # type: ignore[arg-type]
        record = JobRecord(job_id=job.id, target_id=target.id, target_key=target.key,
                           url=target.url, platform=target.platform)
        result = CaptureResult(
            state=CaptureState.COMPLETE, status=Status.AVAILABLE, message="",
            files=tuple(CapturedFile(role="component", name=f"part-{i:05d}.bin",
                                     sha256=b.sha256, size=b.size,
                                     media_type="application/octet-stream")
                        for i, b in enumerate(stored)),
            started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:01:00Z")
        await record_result(archive, record, result, retry_in=None)
        await make_checkpoint(archive)
        await export_package(archive, report="report.txt", out=tmp / "pkg", zip=False)
    return tmp / "pkg"


def timed(fn: object, repeat: int = 3) -> float:
    """The median wall time of ``fn()`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2048, help="bytes per file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        keys = make_tsa_keys(tmp / "tsa")
        roots = tmp / "roots.pem"
        roots.write_bytes(keys.root_pem)
        tsa = LocalTsa.start(keys)
        try:
            pkg = asyncio.run(build(tmp, tsa.url, roots, args.files, args.size))
        finally:
            tsa.close()
        payload = sum(1 for p in (pkg / "data").rglob("*") if p.is_file())

        def sha256sum() -> None:
            subprocess.run(["sha256sum", "--quiet", "-c", "manifest-sha256.txt"], cwd=pkg,
                           check=True)

        def in_process() -> None:
            failed = [f for f in verify_exported(pkg, tsa_roots=roots)
                      if f.outcome == "failed"]
            assert not failed, failed

        def command() -> None:
            subprocess.run([sys.executable, "-m", "preserver", "verify", str(pkg),
                            "--tsa-roots", str(roots), "--json"],
                           check=True, stdout=subprocess.DEVNULL)

        base = timed(sha256sum)
        own = timed(in_process)
        cli = timed(command)
        print(f"package: {args.files} captured files of {args.size} B, {payload} payload files")
        print(f"{'sha256sum -c manifest-sha256.txt':40} {base * 1000:8.1f} ms   1.0x")
        print(f"{'verify_exported (in process)':40} {own * 1000:8.1f} ms "
              f"{own / base:5.1f}x")
        print(f"{'preserver verify PACKAGE (command)':40} {cli * 1000:8.1f} ms "
              f"{cli / base:5.1f}x")

    leaves = [leaf_hash(f"event {i}".encode()) for i in range(args.files)]
    proof = InclusionProof(leaf_index=args.files // 2, tree_size=args.files,
                           hashes=inclusion_proof(leaves, args.files // 2))
    print(f"inclusion proof in a ledger of {args.files} events: {len(proof.hashes)} hashes, "
          f"{32 * len(proof.hashes)} bytes raw, {len(proof.to_bytes())} bytes as proofs/<i>.json")


if __name__ == "__main__":
    main()
