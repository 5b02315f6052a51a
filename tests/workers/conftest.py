"""Fixtures the worker tests share: a blob store in the test's directory, and a guarded
HTTP client that may reach the fixture site (127.0.0.1) and nothing else private."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from storage.local import LocalBlobStore
from workers.net import make_client

LOOPBACK = ("127.0.0.1/32",)


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5.0) as c:
        yield c
