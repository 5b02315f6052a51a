"""Three ``preserver worker`` processes and random SIGKILLs with the blobs in a bucket
under Object Lock (``[storage] backend = "s3"`` on the session's moto server,
tests/support/s3.py; real PostgreSQL, skipped without PRESERVER_TEST_POSTGRES_URL).

A worker killed mid-upload leaves at most an aborted or unfinished multipart upload and
objects no capture records; a capture is recorded only after its blobs are in the
bucket. So after KILLS kills: every target has exactly one complete capture whose media
file is the bytes the site served, every capture's media object in the bucket has a
retention date (``COMPLIANCE``, in the future), ``verify`` passes, and ``gc --dry-run``
lists only blobs nothing names: never one a manifest in the bucket names (every object
that parses as a capture manifest is read here, recorded or not), never a manifest, a
signature, a capture file or a report the database records.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from manifests import CaptureManifest, InvalidManifest
from storage.s3 import S3BlobStore, S3Settings
from tests.hostile.test_workers import KILLS, kill_three_workers
from tests.support.cli import run_cli
from tests.support.fixture_site import FixtureSite
from tests.support.postgres import PG_URL
from tests.support.s3 import MotoServer
from tests.support.workers import Workers, pg_database, query, worker_config

pytestmark = pytest.mark.slow

@pytest.mark.skipif(not PG_URL, reason="PRESERVER_TEST_POSTGRES_URL not set")
def test_three_workers_and_random_sigkills_on_s3(
        tmp_path: Path, site: FixtureSite, workers: Workers, moto: MotoServer,
        bucket: str) -> None:
    with pg_database() as url:
        config = worker_config(tmp_path, database_url=url, lease="3s", extra=(
            f'[storage]\nbackend = "s3"\nendpoint_url = "{moto.url}"\nbucket = "{bucket}"\n'
            'region = "us-east-1"\n'))
        killed = kill_three_workers(tmp_path, site, workers, url, config, done_within=120)
        served = killed.served
        print(f"{KILLS} kills in {killed.seconds:.0f} s on S3, {killed.mid_job} of them mid-job")

        store = S3BlobStore(S3Settings(bucket=bucket, endpoint_url=moto.url,
                                       region="us-east-1"), tmp_path / "raw-tmp",
                            read_only=True)
        now = datetime.now(UTC)
        for sha in served.values():
            lock = store.lock_of(sha)
            assert lock is not None and lock.mode == "COMPLIANCE" and lock.until > now, sha

        run_cli("verify", config=config, cwd=tmp_path, check=0)

        recorded = {row[0] for row in query(url, (
            "SELECT blob_sha256 FROM reports UNION SELECT sha256 FROM files "
            "UNION SELECT manifest_sha256 FROM captures "
            "UNION SELECT signature_sha256 FROM captures"))}
        in_bucket = set(store.iter_blobs())
        manifests: set[str] = set()
        named: set[str] = set()
        for sha in in_bucket:
            with store.open(sha) as fh:
                data = fh.read((1 << 20) + 1)
            try:
                named |= {f.sha256 for f in CaptureManifest.from_bytes(data).files}
            except InvalidManifest:
                continue
            manifests.add(sha)
        found = json.loads(run_cli("gc", "--dry-run", "--json", config=config, cwd=tmp_path,
                                   check=0).stdout)
        garbage = {g["sha256"] for g in found["garbage"]}
        assert garbage <= in_bucket
        assert not garbage & (recorded | named | manifests), garbage & (recorded | named
                                                                          | manifests)
        assert all(g["locked_until"] for g in found["garbage"])
        print(f"bucket: {len(in_bucket)} blobs, {len(garbage)} listed by gc, "
              f"{len(manifests - recorded)} unrecorded manifests kept")
