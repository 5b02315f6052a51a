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

import hashlib
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from manifests import CaptureManifest, InvalidManifest
from storage.s3 import S3BlobStore, S3Settings
from tests.hostile.test_workers import SEED, Trickle, _captures, _holding, _ingest, _states
from tests.support.cli import run_cli
from tests.support.fixture_site import FixtureSite, make_clip
from tests.support.postgres import PG_URL
from tests.support.s3 import MotoServer
from tests.support.workers import Workers, pg_database, query, wait_for, worker_config

pytestmark = pytest.mark.slow

KILLS = 30
BATCHES = 6
PER_BATCH = 5


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(config=tmp_path / "config.toml", logs=tmp_path / "logs")
    try:
        yield started
    finally:
        started.close()


@pytest.mark.skipif(not PG_URL, reason="PRESERVER_TEST_POSTGRES_URL not set")
def test_three_workers_and_random_sigkills_on_s3(
        tmp_path: Path, site: FixtureSite, workers: Workers, moto: MotoServer,
        bucket: str) -> None:
    rng = random.Random(SEED)
    with pg_database() as url:
        config = worker_config(tmp_path, database_url=url, lease="3s", extra=(
            f'[storage]\nbackend = "s3"\nendpoint_url = "{moto.url}"\nbucket = "{bucket}"\n'
            'region = "us-east-1"\n'))
        config.write_text(config.read_text(encoding="utf-8").replace(
            "[capture]\n", "[capture]\nper_host = 9\nconcurrency = 3\n"), encoding="utf-8")
        served: dict[str, str] = {}
        batches: list[list[str]] = []
        for n in range(BATCHES * PER_BATCH):
            clip = make_clip(tmp_path / "clips" / f"{n}.mp4", freq=200 + 37 * n, duration=1)
            body = clip.read_bytes()
            link = site.add(f"/v/{n}.mp4", Trickle(body, pause=0.1, pieces=10))
            served[link] = hashlib.sha256(body).hexdigest()
            if n % PER_BATCH == 0:
                batches.append([])
            batches[-1].append(link)
        _ingest(tmp_path, config, batches.pop(0))
        for _ in range(3):
            workers.start()
        mid_job = 0
        started = time.monotonic()
        for kill in range(KILLS):
            if batches and kill % (KILLS // (BATCHES + 1)) == 0 and kill:
                _ingest(tmp_path, config, batches.pop(0))
            time.sleep(rng.uniform(0.3, 2.4))
            holding = _holding(url, workers, within=2.0)
            victim = rng.choice(holding or workers.live())
            mid_job += victim in holding
            workers.kill(victim)
            workers.start()
        for batch in batches:
            _ingest(tmp_path, config, batch)
        killing = time.monotonic() - started
        wait_for("every job done", lambda: set(_states(url)) == {"done"}, timeout=120)
        for worker in workers.live():
            assert workers.stop(worker) == 0, worker.text
        keys = dict(query(url, "SELECT url, key FROM targets"))
        assert _captures(url) == {keys[link]: [("complete", sha)] for link, sha in served.items()}
        assert mid_job >= KILLS // 2, f"only {mid_job} of {KILLS} kills hit a worker at work"
        print(f"{KILLS} kills in {killing:.0f} s on S3, {mid_job} of them mid-job")

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
