"""The child's digests as the parent reads them (workers._media_digests): the report is
untrusted in shape, so every wrong list or entry is dropped, the file it named is then
read by the store, and the capture goes on."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from storage import LocalBlobStore
from tests.support.jobs import capture_job
from workers._media_digests import MAX_DIGESTS, known_digests
from workers.media import _outcome
from workers.types import Status

GOOD_SHA = "a" * 64


def entry(**change: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"path": "Generic-clip.mp4.mp4", "sha256": GOOD_SHA, "size": 10,
                            "device": 1, "inode": 2, "mtime_ns": 3, "ctime_ns": 4}
    return base | change


def test_a_well_formed_entry_is_read(tmp_path: Path) -> None:
    known = known_digests([entry()], tmp_path)
    assert list(known) == ["Generic-clip.mp4.mp4"]
    digest = known["Generic-clip.mp4.mp4"]
    assert (digest.sha256, digest.size, digest.inode, digest.ctime_ns) == (GOOD_SHA, 10, 2, 4)


@pytest.mark.parametrize("value", [
    {"Generic-clip.mp4.mp4": GOOD_SHA},  # not a list
    "digests",
    42,
    [entry()] * (MAX_DIGESTS + 1),  # too many
], ids=["dict", "str", "int", "too-many"])
def test_a_list_of_the_wrong_shape_is_ignored_whole(tmp_path: Path, value: object) -> None:
    assert known_digests(value, tmp_path) == {}


@pytest.mark.parametrize("bad", [
    "not a dict",
    None,
    [],
    entry(sha256="A" * 64),  # upper case: not an address
    entry(sha256="a" * 63),
    entry(sha256="g" * 64),
    entry(sha256=None),
    entry(sha256=["a" * 64]),
    entry(size=-1),
    entry(size="10"),
    entry(size=10.0),
    entry(size=True),  # a bool is not a number here
    entry(inode=1 << 64),
    entry(mtime_ns=None),
    entry(path="/etc/passwd"),  # absolute
    entry(path="../outside.mp4"),  # climbs out
    entry(path="media/../../outside.mp4"),
    entry(path="./Generic-clip.mp4.mp4"),  # not as the child writes it
    entry(path=""),
    entry(path="a\0b"),
    entry(path="x" * 5000),
    entry(path=7),
    {k: v for k, v in entry().items() if k != "ctime_ns"},  # a field missing
    entry(extra="field"),
], ids=lambda b: repr(b)[:40])
def test_a_wrong_entry_is_dropped_and_the_rest_kept(tmp_path: Path, bad: object) -> None:
    good = entry(path="Generic-other.mp4.mp4")
    assert list(known_digests([bad, good], tmp_path)) == ["Generic-other.mp4.mp4"]


def test_a_path_through_a_symlink_out_of_the_work_dir_is_dropped(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "out").symlink_to(tmp_path)
    assert known_digests([entry(path="out/secret.mp4")], work) == {}


def test_the_first_of_two_entries_for_one_path_counts(tmp_path: Path) -> None:
    known = known_digests([entry(), entry(sha256="b" * 64)], tmp_path)
    assert known["Generic-clip.mp4.mp4"].sha256 == GOOD_SHA


def test_a_hostile_report_costs_only_the_second_read(tmp_path: Path) -> None:
    """A report whose digests are garbage still lists the files; the store reads them."""
    job = capture_job(tmp_path, "http://127.0.0.1:9/clip.mp4")
    clip = job.work_dir / "Generic-clip.mp4.mp4"
    clip.write_bytes(b"the downloaded bytes")
    st = os.lstat(clip)
    lie = {"path": clip.name, "sha256": "0" * 64, "size": st.st_size, "device": st.st_dev,
           "inode": st.st_ino, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}
    report = {"status": "available", "roles": {clip.name: "media"}, "metadata": {},
              "digests": [lie | {"sha256": "not hex"}, {"path": "../x"}, "junk"]}

    outcome = _outcome(job, report, ("", False))

    assert outcome.status is Status.AVAILABLE
    (media,) = outcome.files
    assert media.known is None
    store = LocalBlobStore(tmp_path / "blobs", tmp_path / "tmp")
    blob = store.put_file(media.path, known=media.known)
    assert blob.sha256 == hashlib.sha256(b"the downloaded bytes").hexdigest()
