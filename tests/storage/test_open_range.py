"""``open_range``: ranged reads of a blob, on the local store and on S3 (moto_server):
the same bytes as slicing the blob, fewer at its end, none past it, and clear errors."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import BlobNotFound, BlobStore, InvalidAddress, InvalidRange, LocalBlobStore
from tests.support.s3 import MotoServer

MiB = 1 << 20
DATA = os.urandom(3 * MiB + 123)  # spans several of the stores' 1 MiB buffers


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
        return
    from storage.s3 import S3BlobStore, S3Settings

    moto: MotoServer = request.getfixturevalue("moto")
    bucket: str = request.getfixturevalue("bucket")
    yield S3BlobStore(S3Settings(bucket=bucket, endpoint_url=moto.url, region="us-east-1",
                                 prefix="ranges"), tmp_path / "tmp")


@pytest.fixture
def address(store: BlobStore) -> str:
    return store.put_bytes(DATA).sha256


def read_range(store: BlobStore, address: str, start: int, length: int, chunk: int) -> bytes:
    parts = []
    with store.open_range(address, start, length) as stream:
        while piece := stream.read(chunk):
            assert len(piece) <= chunk
            parts.append(piece)
    return b"".join(parts)


@pytest.mark.parametrize(("start", "length"), [
    (0, 1), (0, len(DATA)), (1, 10), (MiB - 1, 2), (MiB, MiB + 7), (len(DATA) - 1, 1),
    (2 * MiB + 5, 5 * MiB),  # runs past the end: what there is
    (len(DATA), 10), (len(DATA) + 5 * MiB, 1),  # at or past the end: nothing
    (17, 0),
])
def test_a_range_is_the_slice_of_the_blob(store: BlobStore, address: str, start: int,
                                          length: int) -> None:
    expected = DATA[start:start + length]
    assert read_range(store, address, start, length, 64 * 1024) == expected
    assert read_range(store, address, start, length, 3 * MiB) == expected


def test_reading_all_of_a_range_at_once(store: BlobStore, address: str) -> None:
    with store.open_range(address, 1000, 2 * MiB) as stream:
        assert hashlib.sha256(stream.read()).digest() == \
            hashlib.sha256(DATA[1000:1000 + 2 * MiB]).digest()
        assert stream.read(10) == b""


def test_a_negative_start_or_length_is_refused(store: BlobStore, address: str) -> None:
    with pytest.raises(InvalidRange, match="start and a length >= 0"):
        store.open_range(address, -1, 10)
    with pytest.raises(InvalidRange, match="start and a length >= 0"):
        store.open_range(address, 0, -10)
    with pytest.raises(InvalidRange, match="start and a length >= 0"):
        store.open_range(address, True, 10)  # type: ignore[arg-type]


def test_an_absent_blob_or_a_bad_address_is_not_found(store: BlobStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(BlobNotFound, match="no blob"):
        store.open_range(absent, 0, 10)
    with pytest.raises(BlobNotFound, match="no blob"):
        store.open_range(absent, 0, 0)
    with pytest.raises(InvalidAddress, match="not a SHA-256 address"):
        store.open_range("../" + "0" * 61, 0, 10)


def test_closing_the_range_closes_the_blob(store: BlobStore, address: str) -> None:
    stream = store.open_range(address, 0, 10)
    assert stream.read(3) == DATA[:3]
    stream.close()
    assert stream.closed
    with pytest.raises(ValueError, match="closed"):
        stream.read(1)
