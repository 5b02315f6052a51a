"""Opening an evidence package: a BagIt bag (RFC 8493), as a directory or a ZIP file.

``Package.open`` reads the bag's envelope and refuses, with ``InvalidPackage``,
what cannot be opened safely or is not a bag at all: no ``bagit.txt``
(section 2.1.1), no ``manifest-sha256.txt`` (2.1.3), a manifest line naming a path
outside ``data/``, a symbolic link or special file, a ZIP member whose name
would escape the bag ("zip-slip": absolute, ``..``, backslashes, drive letters),
an encrypted or duplicated member, more files, bytes or folder levels than the
limits (each counted before it is read, so no package exhausts the stack or the
memory: "cannot be opened safely").

What the envelope says about the payload is a claim: ``verify_package``
(``manifests.package_verify``) checks it, file by file. Nothing here trusts a
file's content; files are read through ``open_file`` (streaming) or ``read``
(bounded), never extracted.

    >>> with Package.open(Path("evidence.zip")) as package:
    ...     findings = verify_package(package, trust_roots=[tsa_root_pem])
"""

from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from manifests.errors import InvalidPackage, VerificationError

BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"

MAX_FILES = 100_000  # files in one package: one report's captures, its events and proofs
MAX_DEPTH = 16  # folders: the deepest the exporter writes is data/captures/<t>/<c>/files/
MAX_CENTRAL = 64 << 20  # a ZIP's central directory: ~300 bytes a member at most
MAX_BYTES = 1 << 40  # 1 TiB of declared content in a ZIP
MAX_TAG_FILE = 64 << 20  # bagit.txt, bag-info.txt, the manifests
# Evidence (video, WARC, JSON) compresses at most ~20-fold; a large member that expands
# more than MAX_RATIO-fold is a decompression bomb.
MAX_RATIO = 200
MAX_BOMB_FREE = 16 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")
_S_IFLNK = 0o120000


def _unsafe(name: str) -> str | None:
    """Why ``name`` cannot be a relative path inside the bag, or None if it can."""
    if not name:
        return "an empty name"
    if "\x00" in name:
        return "a NUL character"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/") or _DRIVE.match(name):
        return "an absolute path"
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "an empty, '.' or '..' component"
    return None


def _decode_path(text: str) -> str:
    # RFC 8493 section 2.1.3: CR and LF in a manifest path are percent-encoded.
    # '%' itself is left as is, as bagit-python writes it (it does not encode %25).
    return re.sub("%0a", "\n", re.sub("%0d", "\r", text, flags=re.IGNORECASE),
                  flags=re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Package:
    """An opened bag: its envelope parsed, its files listed, their contents not yet checked.

    ``files`` maps every file of the bag (paths relative to the bag, ``/``-separated)
    to its size; ``manifest`` and ``tag_manifest`` map the paths they list to the
    SHA-256 they claim.
    """

    path: Path
    files: Mapping[str, int]
    manifest: Mapping[str, str]
    tag_manifest: Mapping[str, str] | None
    info: Mapping[str, tuple[str, ...]]
    version: str
    linked: Mapping[str, int] = field(default_factory=dict)  # file -> its hard links (> 1)
    _root: str = ""  # the bag's folder inside a ZIP, "" or "name/"
    _zip: zipfile.ZipFile | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> Package:
        """Open the bag at ``path`` (a directory or a ZIP file); ``InvalidPackage`` if
        it is not a bag this module can read safely."""
        path = Path(path)
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise InvalidPackage(f"{path}: cannot open: {exc.strerror or exc}") from exc
        if stat.S_ISLNK(st.st_mode):
            raise InvalidPackage(f"{path}: is a symbolic link; give the package itself")
        if stat.S_ISDIR(st.st_mode):
            if not (path / BAGIT_TXT).is_file():  # before walking what may be a huge tree
                raise InvalidPackage(f"{path}: not a bag: no {BAGIT_TXT} (RFC 8493 section "
                                     "2.1.1)")
            files, linked = _walk(path, max_files)
            return cls._from(path, files, None, "", linked)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidPackage(f"{path}: neither a directory nor a file")
        _check_central_directory(path, max_files)
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InvalidPackage(f"{path}: not a bag directory nor a ZIP file: {exc}") from exc
        try:
            files, root = _members(path, archive, max_files, max_bytes)
            return cls._from(path, files, archive, root)
        except BaseException:
            archive.close()
            raise

    @classmethod
    def _from(cls, path: Path, files: dict[str, int], archive: zipfile.ZipFile | None,
              root: str, linked: Mapping[str, int] | None = None) -> Package:
        bare = cls(path=path, files=files, manifest={}, tag_manifest=None, info={},
                   version="", _root=root, _zip=archive)
        if BAGIT_TXT not in files:
            raise InvalidPackage(f"{path}: not a bag: no {BAGIT_TXT} (RFC 8493 section 2.1.1)")
        declaration = bare._tag_lines(BAGIT_TXT)
        version = declaration.get("BagIt-Version", ("",))[0]
        encoding = declaration.get("Tag-File-Character-Encoding", ("",))[0]
        if version not in ("0.97", "1.0") or encoding.upper() != "UTF-8":
            raise InvalidPackage(f"{path}: {BAGIT_TXT} declares version {version!r} and "
                                 f"encoding {encoding!r}; BagIt 1.0 (or 0.97) in UTF-8 is needed")
        if MANIFEST not in files:
            raise InvalidPackage(f"{path}: the bag has no {MANIFEST}")
        manifest = bare._manifest(MANIFEST, payload=True)
        tags = bare._manifest(TAG_MANIFEST, payload=False) if TAG_MANIFEST in files else None
        info = bare._tag_lines(BAG_INFO) if BAG_INFO in files else {}
        return cls(path=path, files=files, manifest=manifest, tag_manifest=tags, info=info,
                   version=version, linked=linked or {}, _root=root, _zip=archive)

    def _tag_text(self, name: str) -> str:
        if self.files[name] > MAX_TAG_FILE:
            raise InvalidPackage(f"{self.path}: {name} is larger than {MAX_TAG_FILE} bytes")
        try:
            return self.read(name, limit=MAX_TAG_FILE).decode("utf-8-sig")
        except (UnicodeDecodeError, VerificationError, OSError) as exc:
            raise InvalidPackage(f"{self.path}: {name} is unreadable as UTF-8: {exc}") from exc

    def _tag_lines(self, name: str) -> dict[str, tuple[str, ...]]:
        """``Label: value`` lines (RFC 8493 section 2.2.2), continuation lines joined."""
        out: dict[str, list[str]] = {}
        last: list[str] | None = None
        for number, line in enumerate(self._tag_text(name).splitlines(), 1):
            if line[:1] in (" ", "\t") and last is not None:
                last[-1] += " " + line.strip()
            elif ":" in line:
                label, value = line.split(":", 1)
                last = out.setdefault(label.strip(), [])
                last.append(value.strip())
            elif line.strip():
                raise InvalidPackage(f"{self.path}: {name} line {number} is not 'Label: value'")
        return {k: tuple(v) for k, v in out.items()}

    def _manifest(self, name: str, *, payload: bool) -> dict[str, str]:
        entries: dict[str, str] = {}
        for number, line in enumerate(self._tag_text(name).splitlines(), 1):
            if not line.strip():
                continue
            digest, _, raw = line.partition(" ")
            target, where = _decode_path(raw.lstrip(" \t")), f"{name} line {number}"
            if not _SHA256.fullmatch(digest.lower()) or not target:
                raise InvalidPackage(f"{self.path}: {where} is not '<sha256> <path>'")
            if problem := _unsafe(target):
                raise InvalidPackage(f"{self.path}: {where} names {target!r}, with {problem}")
            if payload != target.startswith("data/"):
                raise InvalidPackage(f"{self.path}: {where} names {target!r}, which is "
                                     + ("outside data/" if payload else "a payload file"))
            if target in entries:
                raise InvalidPackage(f"{self.path}: {where} lists {target!r} twice")
            entries[target] = digest.lower()
        return entries

    def open_file(self, name: str) -> IO[bytes]:
        """A binary stream of the bag's file ``name`` (relative, ``/``-separated)."""
        if name not in self.files:
            raise VerificationError(f"{name}: not in the package")
        if self._zip is not None:
            return self._zip.open(self._root + name)
        fd = os.open(self.path / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(fd, "rb")

    def read(self, name: str, *, limit: int) -> bytes:
        """The whole of a small file; ``VerificationError`` if it is larger than ``limit``."""
        if self.files.get(name, 0) > limit:
            raise VerificationError(f"{name}: {self.files[name]} bytes, more than such a "
                                    f"file may hold ({limit})")
        try:
            with self.open_file(name) as fh:
                data = fh.read(limit + 1)
        except (OSError, zipfile.BadZipFile, NotImplementedError) as exc:
            raise VerificationError(f"{name}: unreadable: {exc}") from exc
        if len(data) > limit:
            raise VerificationError(f"{name}: more than such a file may hold ({limit} bytes)")
        return data

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _walk(root: Path, max_files: int) -> tuple[dict[str, int], dict[str, int]]:
    """Every regular file under ``root`` with its size, and those with more than one
    hard link; links and special files refused. Iterative, and bounded in depth and
    count, so no tree can exhaust the stack or the memory."""
    files: dict[str, int] = {}
    linked: dict[str, int] = {}
    stack = [""]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(root / folder if folder else root) as entries:
                names = sorted(e.name for e in entries)
        except OSError as exc:
            raise InvalidPackage(f"{root}: cannot list {folder or '.'}: "
                                 f"{exc.strerror or exc}") from exc
        for name in names:
            rel = f"{folder}/{name}" if folder else name
            try:
                st = os.lstat(root / rel)
            except OSError as exc:
                raise InvalidPackage(f"{root}: cannot read {rel}: {exc.strerror or exc}") from exc
            if stat.S_ISLNK(st.st_mode):
                raise InvalidPackage(f"{root}: {rel} is a symbolic link; a package holds none")
            if stat.S_ISDIR(st.st_mode):
                if rel.count("/") + 1 > MAX_DEPTH:
                    raise InvalidPackage(f"{root}: cannot be opened safely: folders nested "
                                         f"deeper than {MAX_DEPTH} levels ({rel[:200]}...)")
                stack.append(rel)
            elif not stat.S_ISREG(st.st_mode):
                raise InvalidPackage(f"{root}: {rel} is not a regular file")
            else:
                files[rel] = st.st_size
                if st.st_nlink > 1:
                    linked[rel] = st.st_nlink
            if len(files) + len(stack) > max_files:
                raise InvalidPackage(f"{root}: cannot be opened safely: more than "
                                     f"{max_files} files")
    return files, linked


def _check_central_directory(path: Path, max_files: int) -> None:
    """Refuse a ZIP whose end record (APPNOTE.TXT 4.3.16, 4.3.14 for ZIP64) counts more
    members than ``max_files`` or a central directory larger than ``MAX_CENTRAL``,
    before ``zipfile`` reads every member's record into memory. The records are found
    as ``zipfile._EndRecData`` finds them, so the counts checked are those it uses: the
    last 22 bytes, else the last signature in the 64 KiB comment before them; then the
    ZIP64 record right before a ZIP64 locator, whatever the classic record says."""
    try:
        with path.open("rb") as fh:
            start = max(0, fh.seek(0, os.SEEK_END) - (1 << 16) - 22)
            fh.seek(start)
            tail = fh.read()
            at = len(tail) - 22  # no comment: the record ends the file
            if at < 0 or tail[at:at + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
                at = tail.rfind(b"PK\x05\x06")
            if at < 0 or len(tail) < at + 22:
                raise InvalidPackage(f"{path}: cannot be opened safely: not a bag directory "
                                     "nor a ZIP file (no end of central directory record)")
            members, central = struct.unpack("<HI", tail[at + 10:at + 16])
            ends = start + at  # where the central directory ends: at the end record...
            if start + at >= 76:  # the ZIP64 record (56 bytes), then its locator (4.3.15)
                fh.seek(start + at - 76)
                record = fh.read(76)
                if record[:4] == b"PK\x06\x06" and record[56:60] == b"PK\x06\x07":
                    members, central = struct.unpack("<QQ", record[32:48])
                    ends = start + at - 76  # ...or at the ZIP64 record before it
            if members > max_files:
                raise InvalidPackage(f"{path}: cannot be opened safely: more than {max_files} "
                                     f"members ({members})")
            if central > MAX_CENTRAL:
                raise InvalidPackage(f"{path}: cannot be opened safely: a central directory "
                                     f"of {central} bytes, more than {MAX_CENTRAL}")
            # zipfile reads entries until the stated size is consumed, whatever the count
            # says: count the entries' signatures (4.3.12) in what it will read.
            fh.seek(max(0, ends - central))
            entries = fh.read(min(central, ends)).count(b"PK\x01\x02")
    except (OSError, struct.error) as exc:
        raise InvalidPackage(f"{path}: cannot read: {exc}") from exc
    if entries > max_files:
        raise InvalidPackage(f"{path}: cannot be opened safely: more than {max_files} "
                             f"members ({entries} in its central directory)")


def _members(path: Path, archive: zipfile.ZipFile, max_files: int,
             max_bytes: int) -> tuple[dict[str, int], str]:
    """The ZIP's files (relative to the bag's folder in it) and that folder."""
    infos = archive.infolist()
    if len(infos) > max_files:
        raise InvalidPackage(f"{path}: cannot be opened safely: more than {max_files} members")
    names: dict[str, int] = {}
    total = 0
    for info in infos:
        where = f"{path}: member {info.filename!r}"
        if problem := _unsafe(info.filename.rstrip("/") if info.is_dir() else info.filename):
            raise InvalidPackage(f"{where} is unsafe to open: it has {problem}")
        if (info.external_attr >> 16) & 0o170000 == _S_IFLNK:
            raise InvalidPackage(f"{where} is a symbolic link; a package holds none")
        if info.filename.count("/") > MAX_DEPTH + 1:  # the bag's own folder, then the bag's
            raise InvalidPackage(f"{where[:300]} is nested deeper than {MAX_DEPTH} levels: "
                                 "cannot be opened safely")
        if info.flag_bits & 0x1:
            raise InvalidPackage(f"{where} is encrypted")
        if info.is_dir():
            continue
        if info.filename in names:
            raise InvalidPackage(f"{where} appears twice")
        if (info.file_size > MAX_BOMB_FREE
                and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
            raise InvalidPackage(f"{where} expands {info.file_size // max(info.compress_size, 1)}"
                                 f"-fold: a compression bomb, not evidence")
        names[info.filename] = info.file_size
        total += info.file_size
        if total > max_bytes:
            raise InvalidPackage(f"{path}: more than {max_bytes} bytes uncompressed")
    if BAGIT_TXT in names:
        root = ""
    else:
        tops = {name.split("/", 1)[0] for name in names}
        root = f"{tops.pop()}/" if len(tops) == 1 else ""
        if not root or root + BAGIT_TXT not in names:
            raise InvalidPackage(f"{path}: not a bag: no {BAGIT_TXT} at the top of the ZIP "
                                 "or in its one top-level folder")
    return {name[len(root):]: size for name, size in names.items()}, root


def iter_payload(package: Package) -> Iterator[str]:
    """The bag's payload files (under ``data/``), sorted."""
    return iter(sorted(name for name in package.files if name.startswith("data/")))
