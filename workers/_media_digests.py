"""The digests the capture child reports for the files it hashed as it wrote them, read
by the parent (``workers.media``; the child's side is ``_media_hashing``).

The child's report is untrusted in shape: a list that is not a list, too long, an entry
that is not exactly the expected fields with the expected types, a digest that is not 64
lowercase hex, a path that is absolute, climbs out (``..``) or resolves outside the work
dir: each is dropped (a wrong list as a whole, a wrong entry on its own), logged, and the
file it named is read and hashed by the store as it would be without a digest. A digest
that survives is still only a claim: ``storage.KnownDigest.matches`` uses it only for a
file whose identity (device, inode, size, modification and change times) is unchanged
(docs/design.md "Blob store").
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from storage._base import KnownDigest, is_address

__all__ = ["MAX_DIGESTS", "known_digests"]

log = logging.getLogger(__name__)

#: At most this many digests in one report (a capture writes a handful of files).
MAX_DIGESTS = 256
_MAX_PATH = 1024
_FIELDS = frozenset({"path", "sha256", "size", "device", "inode", "mtime_ns", "ctime_ns"})
_INT_FIELDS = ("size", "device", "inode", "mtime_ns", "ctime_ns")
_INT_MIN, _INT_MAX = -(1 << 63), 1 << 64


def known_digests(value: object, work_dir: Path) -> dict[str, KnownDigest]:
    """``{path relative to work_dir: KnownDigest}`` from the report's ``digests``."""
    if value is None:
        return {}
    if not isinstance(value, list) or len(value) > MAX_DIGESTS:
        log.warning("capture process sent digests of the wrong shape: ignored")
        return {}
    home = work_dir.resolve()
    known: dict[str, KnownDigest] = {}
    for entry in value:
        parsed = _entry(entry, home)
        if parsed is None:
            log.warning("capture process sent a digest of the wrong shape: ignored")
        elif parsed[0] not in known:
            known[parsed[0]] = parsed[1]
    return known


def _entry(entry: object, home: Path) -> tuple[str, KnownDigest] | None:
    if not isinstance(entry, dict) or set(entry) != _FIELDS:
        return None
    path, sha256 = entry["path"], entry["sha256"]
    numbers = [entry[k] for k in _INT_FIELDS]
    if not (isinstance(path, str) and is_address(sha256)
            and all(type(n) is int and _INT_MIN <= n < _INT_MAX for n in numbers)
            and numbers[0] >= 0):
        return None
    relative = _relative(path, home)
    if relative is None:
        return None
    size, device, inode, mtime_ns, ctime_ns = numbers
    return relative, KnownDigest(sha256=sha256, size=size, device=device, inode=inode,
                                 mtime_ns=mtime_ns, ctime_ns=ctime_ns)


def _relative(path: str, home: Path) -> str | None:
    """``path`` if it names a place inside ``home`` without climbing, else None."""
    pure = PurePosixPath(path)
    if (not path or len(path) > _MAX_PATH or "\0" in path or pure.is_absolute()
            or ".." in pure.parts or str(pure) != path):
        return None
    try:
        inside = (home / pure).resolve().is_relative_to(home)
    except (OSError, RuntimeError, ValueError):  # a symlink loop, an unusable name
        return None
    return path if inside else None
