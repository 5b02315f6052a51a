"""A ZIP's end records are read as ``zipfile`` reads them (``_EndRecData``), so a
package whose records disagree cannot slip a huge central directory past
``Package.open``'s count before ``zipfile`` builds every entry. Fast: each ZIP is a
few members built in memory, checked against ``max_files=2``."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from manifests import InvalidPackage, Package


def _zip(zip64: bool, monkeypatch: pytest.MonkeyPatch) -> bytearray:
    """Three members; with ``zip64`` the ZIP64 end records (APPNOTE.TXT 4.3.14-15) too."""
    with monkeypatch.context() as m:
        if zip64:  # zipfile writes them past 65,535 members: make three enough
            m.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 0)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            for name in ("bag/bagit.txt", "bag/manifest-sha256.txt", "bag/data/x"):
                zf.writestr(name, b"")
    return bytearray(buffer.getvalue())


def _refused_before_zipfile(data: bytes, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "evil.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        assert len(zf.infolist()) == 3  # what zipfile would build
    def reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("zipfile read the central directory")
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", reached)
    with pytest.raises(InvalidPackage, match=r"cannot be opened safely: more than 2 members \(3"):
        Package.open(path, max_files=2)


def test_zip64_record_counts_whatever_the_classic_record_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """zipfile uses the ZIP64 record whenever its locator is there; the classic record
    claiming one member and a 100-byte directory changes nothing."""
    data = _zip(True, monkeypatch)
    assert data[-22:-18] == b"PK\x05\x06" and data[-42:-38] == b"PK\x06\x07"
    data[-12:-6] = struct.pack("<HI", 1, 100)  # entries (4.3.16), central directory size
    data[-14:-12] = struct.pack("<H", 1)
    _refused_before_zipfile(bytes(data), tmp_path, monkeypatch)


def test_signature_bytes_inside_the_last_record_are_not_taken_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The end record's offset field (which zipfile does not need) spelling its own
    signature: the last 22 bytes are still the record zipfile reads."""
    data = _zip(False, monkeypatch)
    data[-6:-2] = b"PK\x05\x06"
    _refused_before_zipfile(bytes(data), tmp_path, monkeypatch)


def test_no_end_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.zip"
    path.write_bytes(b"not a zip" * 10)
    with pytest.raises(InvalidPackage, match="cannot be opened safely: not a bag directory nor"):
        Package.open(path)


def test_a_count_that_understates_the_directory_is_not_believed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """zipfile reads entries until the stated directory size is consumed, whatever the
    member count says: a record claiming one member over a directory of three."""
    data = _zip(False, monkeypatch)
    data[-14:-10] = struct.pack("<HH", 1, 1)  # entries on this disk, entries in all
    _refused_before_zipfile(bytes(data), tmp_path, monkeypatch)
