"""HashingReader: the one reader every copy that hashes goes through."""

from __future__ import annotations

import hashlib
import io

import pytest

from storage import BlobTooLarge, DigestMismatch, HashingReader, StorageError

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read (a slow socket or pipe),
    and records how much was asked of it."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._step = step
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        n = self._step if size < 0 else min(size, self._step)
        out, self._data = self._data[:n], self._data[n:]
        return out


def drain(reader: HashingReader, size: int = 4096) -> bytes:
    out = bytearray()
    while chunk := reader.read(size):
        out += chunk
    return bytes(out)


def test_hashes_and_counts_what_passes_through() -> None:
    data = b"evidence " * 1000
    reader = HashingReader(io.BytesIO(data))
    assert drain(reader, 1000) == data
    assert reader.sha256 == hashlib.sha256(data).hexdigest()
    assert reader.size == len(data)


def test_limit_exceeded_names_the_limit() -> None:
    reader = HashingReader(io.BytesIO(b"x" * 101), limit=100)
    with pytest.raises(BlobTooLarge, match="more than 100 bytes"):
        drain(reader, 7)


def test_limit_exceeded_by_read_all() -> None:
    reader = HashingReader(io.BytesIO(b"x" * 101), limit=100)
    with pytest.raises(BlobTooLarge, match="more than 100 bytes"):
        reader.read()


def test_limit_asks_for_at_most_one_byte_past_it() -> None:
    source = Trickle(b"x" * 10_000, step=1 << 20)
    reader = HashingReader(source, limit=10)
    with pytest.raises(BlobTooLarge, match="more than 10 bytes"):
        reader.read(1 << 20)
    assert source.asked == [11]


def test_exactly_the_limit_is_accepted() -> None:
    data = b"x" * 100
    reader = HashingReader(io.BytesIO(data), limit=100)
    assert drain(reader, 7) == data
    assert (reader.sha256, reader.size) == (hashlib.sha256(data).hexdigest(), 100)


def test_digest_mismatch_names_both_digests() -> None:
    other = hashlib.sha256(b"what was stored").hexdigest()
    actual = hashlib.sha256(b"what is there now").hexdigest()
    reader = HashingReader(io.BytesIO(b"what is there now"), expected=other)
    with pytest.raises(DigestMismatch, match=f"expected SHA-256 {other}, read {actual} "
                                             r"\(17 bytes\)") as caught:
        drain(reader)
    assert (caught.value.expected, caught.value.actual, caught.value.size) == (other, actual, 17)
    assert isinstance(caught.value, StorageError)


def test_matching_digest_reads_to_the_end() -> None:
    data = b"unchanged"
    reader = HashingReader(io.BytesIO(data), expected=hashlib.sha256(data).hexdigest())
    assert drain(reader) == data
    assert reader.read(10) == b""  # past EOF: still the end, no second check


def test_empty_stream() -> None:
    reader = HashingReader(io.BytesIO(b""), limit=0, expected=EMPTY_SHA256)
    assert reader.read(10) == b""
    assert (reader.sha256, reader.size) == (EMPTY_SHA256, 0)


def test_empty_stream_with_wrong_digest() -> None:
    reader = HashingReader(io.BytesIO(b""), expected="0" * 64)
    with pytest.raises(DigestMismatch, match=f"read {EMPTY_SHA256} \\(0 bytes\\)"):
        reader.read()


def test_short_reads_are_passed_on_and_hashed() -> None:
    data = bytes(range(256)) * 40
    source = Trickle(data, step=333)
    reader = HashingReader(source, limit=len(data), expected=hashlib.sha256(data).hexdigest())
    chunks = []
    while chunk := reader.read(4096):
        assert len(chunk) <= 333
        chunks.append(chunk)
    assert b"".join(chunks) == data
    assert len(chunks) == -(-len(data) // 333)
    assert reader.size == len(data)


def test_short_reads_past_the_limit() -> None:
    reader = HashingReader(Trickle(b"x" * 1000, step=3), limit=10)
    with pytest.raises(BlobTooLarge, match="more than 10 bytes"):
        drain(reader)
    assert reader.size == 11


def test_read_zero_is_not_the_end() -> None:
    reader = HashingReader(io.BytesIO(b"abc"))
    assert reader.read(0) == b""
    with pytest.raises(StorageError, match="read to its end"):
        _ = reader.sha256
    assert reader.read() == b"abc"
    assert reader.read() == b""
    assert reader.sha256 == hashlib.sha256(b"abc").hexdigest()
