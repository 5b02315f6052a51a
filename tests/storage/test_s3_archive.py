"""The archive on the S3 backend, through the real CLI: ``preserve``, ``verify``,
``export``, ``gc --dry-run`` and ``storage migrate`` against a moto bucket with Object
Lock (tests/support/s3.py), captures from the local fixture site."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from storage import LocalBlobStore
from storage.s3 import S3BlobStore, S3Settings
from tests.support.cli import OFFLINE, CliResult, run_cli, run_cli_process
from tests.support.fixture_site import FixtureSite, Media, video_tag_page
from tests.support.s3 import MotoServer

pytestmark = pytest.mark.slow

MiB = 1 << 20


def write_config(tmp_path: Path, moto: MotoServer, bucket: str, *, backend: str = "s3",
                 part_size: str = "5MiB") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "archive"\noperator = "test-archivist"\n'
        '[capture]\nmax_bytes = "2MiB"\ntimeout = "12s"\nsocket_timeout = "3s"\n'
        'max_attempts = 1\n[network]\nallow_networks = ["127.0.0.1/32"]\n'
        f'[storage]\nbackend = "{backend}"\nendpoint_url = "{moto.url}"\nbucket = "{bucket}"\n'
        f'prefix = "team-a"\nregion = "us-east-1"\npart_size = "{part_size}"\n' + OFFLINE,
        encoding="utf-8")
    return config


def bucket_store(moto: MotoServer, bucket: str, tmp_path: Path) -> S3BlobStore:
    return S3BlobStore(S3Settings(bucket=bucket, endpoint_url=moto.url, region="us-east-1",
                                  prefix="team-a"), tmp_path / "raw-tmp")


def test_preserve_verify_export_on_s3(tmp_path: Path, site: FixtureSite, media: Media,
                                      moto: MotoServer, bucket: str) -> None:
    site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    site.add_file("/v/clip-b.mp4", media.mp4_b, "video/mp4")
    site.add_bytes("/v/page.html", video_tag_page("/v/clip-b.mp4"), "text/html")
    report = tmp_path / "report.txt"
    report.write_text(f"Witness video: {site.url('/v/clip.mp4')}\n"
                      f"The page: {site.url('/v/page.html')}\n", encoding="utf-8")
    config = write_config(tmp_path, moto, bucket)

    items = json.loads(run_cli_process("preserve", str(report), "--json", config=config,
                                       check=0).stdout)
    media_files = {f["sha256"] for i in items for c in i["captures"] for f in c["files"]
                   if f["role"] == "media"}
    assert media_files == {media.sha256("mp4"), media.sha256("mp4_b")}
    # nothing was kept on the local disk: every blob is in the bucket, locked
    archive = tmp_path / "archive"
    assert not [p for p in archive.rglob("*") if p.is_file()  # nor a spool or a work file
                and p.relative_to(archive).parts[0] in ("blobs", "tmp")]
    store = bucket_store(moto, bucket, tmp_path)
    blobs = list(store.iter_blobs())
    assert media_files <= set(blobs)
    assert hashlib.sha256(report.read_bytes()).hexdigest() in blobs
    for sha in blobs:
        lock = store.lock_of(sha)
        assert lock is not None and lock.mode == "COMPLIANCE"

    run_cli_process("verify", config=config, check=0)
    out = tmp_path / "package"
    run_cli_process("export", str(out), "--report", "report.txt", config=config, check=0)
    exported = {p.read_bytes() for p in (out / "data").rglob("*.mp4")}
    assert media.mp4.read_bytes() in exported and media.mp4_b.read_bytes() in exported
    run_cli_process("verify", str(out), config=config, check=3)  # key not pinned: 3

    # a new version over a locked one (versioning allows it): verify reads the bucket,
    # and names the blob whose bytes changed
    victim = media.sha256("mp4")
    moto.client().put_object(Bucket=bucket, Key=store.key_of(victim), Body=b"altered")
    failed = run_cli_process("verify", config=config, check=1)
    assert victim in failed.stdout


def test_gc_dry_run_lists_what_nothing_names(tmp_path: Path, site: FixtureSite, media: Media,
                                            moto: MotoServer, bucket: str) -> None:
    site.add_file("/v/clip.mp4", media.mp4, "video/mp4")
    report = tmp_path / "report.txt"
    report.write_text(f"Video: {site.url('/v/clip.mp4')}\n", encoding="utf-8")
    config = write_config(tmp_path, moto, bucket)
    run_cli("preserve", str(report), config=config, check=0)
    store = bucket_store(moto, bucket, tmp_path)
    stray = store.put_bytes(b"uploaded, never recorded").sha256

    def gc() -> dict[str, object]:
        return dict(json.loads(run_cli("gc", "--dry-run", "--json", config=config,
                                       check=0).stdout))

    found = gc()
    assert [g["sha256"] for g in found["garbage"]] == [stray]  # type: ignore[attr-defined]
    assert found["garbage"][0]["locked_until"].startswith("20")  # type: ignore[index]
    assert found["deleted"] == 0 and store.exists(stray)

    # a capture whose manifest was stored but never recorded: the manifest and every file
    # it names are kept; its signature, which no manifest names, is garbage
    db = sqlite3.connect(tmp_path / "archive" / "preserver.db")
    with db:
        capture, manifest, signature = db.execute(
            "SELECT id, manifest_sha256, signature_sha256 FROM captures").fetchone()
        db.execute("DELETE FROM files WHERE capture_id = ?", (capture,))
        db.execute("DELETE FROM captures WHERE id = ?", (capture,))
    db.close()
    found = gc()
    assert found["unrecorded_manifests"] == [manifest]
    assert {g["sha256"] for g in found["garbage"]} == {stray, signature}  # type: ignore[attr-defined]
    assert media.sha256("mp4") not in {g["sha256"] for g in found["garbage"]}  # type: ignore[attr-defined]

    refused = run_cli("gc", config=config, check=2)
    assert "gc --dry-run" in refused.stderr


def test_gc_dry_run_on_the_local_store(tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    config = write_config(tmp_path, moto, bucket, backend="local")
    report = tmp_path / "r.txt"
    report.write_text("no links at all\n", encoding="utf-8")
    run_cli("ingest", str(report), config=config, check=0)
    stray = LocalBlobStore(tmp_path / "archive" / "blobs", tmp_path / "archive" / "tmp"
                           ).put_bytes(b"stray").sha256
    found = json.loads(run_cli("gc", "--dry-run", "--json", config=config, check=0).stdout)
    assert [(g["sha256"], g["locked_until"]) for g in found["garbage"]] == [(stray, None)]
    text = run_cli("gc", "--dry-run", config=config, check=0).stdout
    assert f"{stray}" in text and "not locked" in text and "nothing deleted" in text


def migrate(config: Path, check: int) -> tuple[dict[str, object], CliResult]:
    done = run_cli("storage", "migrate", "--json", config=config, check=check)
    return json.loads(done.stdout), done


def test_storage_migrate(tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    local = LocalBlobStore(tmp_path / "archive" / "blobs", tmp_path / "archive" / "tmp")
    kept = [local.put_bytes(f"blob {i}".encode()).sha256 for i in range(3)]
    kept.append(local.put_bytes(os.urandom(6 * MiB)).sha256)  # 2 parts of 5 MiB
    altered = local.put_bytes(b"will be altered").sha256
    path = local.path_of(altered)
    path.chmod(0o644)
    path.write_bytes(b"will be Altered")
    del local
    config = write_config(tmp_path, moto, bucket)

    first, done = migrate(config, 1)
    assert (first["copied"], first["present"], first["failed"]) == (4, 0, 1)
    assert first["failures"][0]["sha256"] == altered  # type: ignore[index]
    assert f"{altered}: failed: expected SHA-256 {altered}" in done.stderr
    store = bucket_store(moto, bucket, tmp_path)
    assert sorted(store.iter_blobs()) == sorted(kept)  # the altered blob was not sent
    assert all(store.lock_of(sha) is not None for sha in kept)

    shown = run_cli("storage", "migrate", config=config, check=1).stderr.splitlines()
    # the failure is a line of its own, not glued to a progress line (rich drops "\r")
    read = hashlib.sha256(b"will be Altered").hexdigest()
    assert [line for line in shown if altered in line] == [
        f"{altered}: failed: expected SHA-256 {altered}, read {read} (15 bytes)"]
    assert sum("5/5" in line for line in shown) == 1

    again, _ = migrate(config, 1)  # resumable and idempotent: checked, not sent again
    assert (again["copied"], again["present"], again["failed"]) == (0, 4, 1)
    path.unlink()
    # another part size: the multipart blob's checksum is checked by reading it back
    config = write_config(tmp_path, moto, bucket, part_size="6MiB")
    third, done = migrate(config, 0)
    assert (third["copied"], third["present"], third["failed"]) == (0, 4, 0)
    assert len(moto.client().list_object_versions(Bucket=bucket)["Versions"]) == 4

    text = run_cli("storage", "migrate", config=config, check=0)
    assert "0 copied (0 bytes), 4 already in the bucket, 0 failed" in text.stdout
    assert "4/4" in text.stderr and "present" in text.stderr


def test_storage_migrate_needs_the_s3_backend(tmp_path: Path, moto: MotoServer,
                                              bucket: str) -> None:
    config = write_config(tmp_path, moto, bucket, backend="local")
    done = run_cli("storage", "migrate", config=config, check=2)
    assert 'set [storage] backend = "s3"' in done.stderr


def test_doctor_shows_the_bucket(tmp_path: Path, moto: MotoServer, bucket: str) -> None:
    from preserver.config import load_config
    from preserver.doctor import check_blob_store

    ok = check_blob_store(load_config(write_config(tmp_path, moto, bucket), env={}))
    assert ok.outcome == "ok"
    assert ok.detail.endswith("versioning Enabled, Object Lock on; objects COMPLIANCE for 10y")
    unlocked = moto.make_bucket(f"{bucket}-unlocked", lock=False)
    bad = check_blob_store(load_config(write_config(tmp_path, moto, unlocked), env={}))
    assert (bad.outcome, bad.fix) == ("fail", "use a bucket created with Object Lock enabled")
    assert "Object Lock off" in bad.detail
    missing = check_blob_store(load_config(write_config(tmp_path, moto, "not-there"), env={}))
    assert missing.outcome == "fail" and "does not exist" in missing.detail
    local = check_blob_store(load_config(write_config(tmp_path, moto, bucket, backend="local"),
                                         env={}))
    assert local.outcome == "ok" and local.detail.startswith("local: ")


def test_the_local_backend_never_loads_boto3(tmp_path: Path) -> None:
    """boto3 costs every command its import time: only a bucket loads it."""
    import subprocess
    import sys

    code = ("import sys, storage, preserver.cli, preserver.archive, preserver.blobs.gc\n"
            "print('boto3' in sys.modules, 'botocore' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.split() == ["False", "False"]
