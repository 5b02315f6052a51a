"""The S3 server the storage tests run against: one moto server per session
(tests/support/s3.py), a new bucket with Object Lock per test, and AWS credentials in
the environment (the standard chain is how the store finds them)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.s3 import KEYS, MotoServer

_names = itertools.count()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Credentials from the environment, and no ~/.aws or instance metadata of this host."""
    env = {**KEYS, "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def bucket(moto: MotoServer, aws_env: dict[str, str]) -> str:
    return moto.make_bucket(f"evidence-{next(_names)}")
