"""A blob write killed with SIGKILL leaves its ``blob-*.partial`` in ``tmp/``; the next
store opened on that ``tmp/`` removes it, unless another live store may be writing it.

Real processes: a child opens the store and writes a blob from a pipe that never ends,
and is killed (or left alive) mid-write.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from storage import LocalBlobStore

ROOT = Path(__file__).parents[2]
WRITER = ("import sys; from pathlib import Path; from storage import LocalBlobStore; "
          "LocalBlobStore(Path(sys.argv[1]), Path(sys.argv[2])).put_stream(sys.stdin.buffer)")


def _partials(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("blob-*.partial"))


@contextmanager
def writing(blobs: Path, tmp: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of its own mid-way through a blob write (a partial file exists)."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(blobs), str(tmp)],
                             stdin=subprocess.PIPE, cwd=ROOT)
    try:
        assert child.stdin is not None
        child.stdin.write(b"evidence" * (192 << 10))  # 1.5 MiB: one buffer written, more due
        child.stdin.flush()
        deadline = time.monotonic() + 10
        while not any(p.stat().st_size for p in _partials(tmp)):
            assert child.poll() is None and time.monotonic() < deadline, "no partial written"
            time.sleep(0.01)
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)
        assert child.stdin is not None
        child.stdin.close()


def test_a_killed_writers_partial_is_removed_by_the_next_store(tmp_path: Path) -> None:
    blobs, tmp = tmp_path / "blobs", tmp_path / "tmp"
    with writing(blobs, tmp):
        pass  # killed on leaving
    assert len(_partials(tmp)) == 1

    LocalBlobStore(blobs, tmp)
    assert _partials(tmp) == []


def test_a_live_writers_partial_is_left_alone(tmp_path: Path) -> None:
    blobs, tmp = tmp_path / "blobs", tmp_path / "tmp"
    with writing(blobs, tmp) as child:
        written = _partials(tmp)
        store = LocalBlobStore(blobs, tmp)
        assert _partials(tmp) == written and child.poll() is None
        store.put_bytes(b"mine")  # both write while the other is open
        assert _partials(tmp) == written
    # killed; this process's store is still open, so the partial may still be one of its
    LocalBlobStore(blobs, tmp)
    assert _partials(tmp) == written
    del store
    LocalBlobStore(blobs, tmp)
    assert _partials(tmp) == []


def test_a_read_only_store_removes_nothing(tmp_path: Path) -> None:
    blobs, tmp = tmp_path / "blobs", tmp_path / "tmp"
    with writing(blobs, tmp):
        pass
    LocalBlobStore(blobs, tmp, read_only=True)
    assert len(_partials(tmp)) == 1


def test_a_store_being_opened_is_not_swept_by_another(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stores opened at once (racing first starts): the second, opened while the
    first is writing its probe file, must not sweep that file away from under it. The
    interleaving is forced: the second store is opened inside the first one's probe."""
    import storage.local

    blobs, tmp = tmp_path / "blobs", tmp_path / "tmp"
    real = storage.local.tempfile.mkstemp
    others: list[LocalBlobStore] = []
    opening = []

    def mkstemp_then_open_another(*args: Any, **kwargs: Any) -> tuple[int, str]:
        made = real(*args, **kwargs)
        if not opening:
            opening.append(True)
            others.append(LocalBlobStore(blobs, tmp))
        return made

    monkeypatch.setattr(storage.local.tempfile, "mkstemp", mkstemp_then_open_another)
    LocalBlobStore(blobs, tmp)  # raised StorageUnavailable (the probe was swept) before
    assert others and _partials(tmp) == []
