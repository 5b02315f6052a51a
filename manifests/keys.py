"""The archive's signing key files: ``<data_dir>/keys/signing.key`` and ``signing.pub``.

Contract (docs/design.md, "Data directory"): ``signing.key`` is an unencrypted Ed25519
PKCS#8 PEM (RFC 5208, RFC 8410), mode 0600, in a 0700 directory;
``signing.pub`` is its SubjectPublicKeyInfo PEM.

The private key is never readable by anyone else, not even for a moment: it is
written to a file created with ``O_CREAT | O_EXCL`` and mode 0600, fsynced,
and hard-linked to ``signing.key``. The link fails if a key already exists,
so two processes starting together never overwrite each other's key. A key
file that group or others can read is refused rather than silently fixed: it
may already have leaked, and the operator must decide.

    >>> key = load_or_create_signing_key(data_dir / "keys")
    >>> key.key_id            # hex SHA-256 of the raw public key
    '3f1c…'
    >>> load_signing_key(data_dir / "keys").key_id == key.key_id   # creates, writes nothing
    True
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from manifests.errors import InvalidKey, KeyFileError
from manifests.signing import SigningKey, key_id, load_public_key, public_key_pem

_KEY_FILE = "signing.key"
_PUBLIC_FILE = "signing.pub"
_MAX_PEM = 64 * 1024  # an Ed25519 PEM is about 120 bytes; anything huge is not a key


@contextmanager
def _key_file_error(action: str, path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise KeyFileError(f"{action} {path}: {exc.strerror or exc}") from exc


def load_or_create_signing_key(keys_dir: Path) -> SigningKey:
    """Load the archive's Ed25519 key from ``keys_dir``, creating it on first use.

    Raises ``KeyFileError`` when the key file is readable by group or others
    (the message gives the ``chmod 600`` fix), is not an unencrypted Ed25519
    PEM, does not match ``signing.pub``, or when ``signing.pub`` exists
    without ``signing.key`` (the key was lost; a new one is not made silently).
    """
    keys_dir = Path(keys_dir)
    key_path, pub_path = keys_dir / _KEY_FILE, keys_dir / _PUBLIC_FILE
    with _key_file_error("cannot create the key directory", keys_dir):
        keys_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(keys_dir, 0o700)
            os.chmod(keys_dir, 0o700)  # exact, whatever the umask
        except FileExistsError:
            if not keys_dir.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
        key_exists = os.path.lexists(key_path)
        pub_exists = os.path.lexists(pub_path)
    if key_exists:
        return _load(key_path, pub_path)
    if pub_exists:
        raise KeyFileError(
            f"{pub_path} exists but {key_path} does not: the signing key is missing. "
            f"Restore it, or move {pub_path} away to create a new key"
        )
    return _create(key_path, pub_path)


def load_signing_key(keys_dir: Path) -> SigningKey:
    """Load the archive's existing Ed25519 key from ``keys_dir``; create and write nothing.

    For commands that only read the archive. Raises ``KeyFileError`` when the key
    file is missing, and for every fault ``load_or_create_signing_key`` refuses. A
    missing ``signing.pub`` is left missing (``load_or_create_signing_key`` writes it).
    """
    keys_dir = Path(keys_dir)
    key_path = keys_dir / _KEY_FILE
    with _key_file_error("cannot read", key_path):
        key_exists = os.path.lexists(key_path)
    if not key_exists:
        raise KeyFileError(f"no signing key at {key_path}")
    return _load(key_path, keys_dir / _PUBLIC_FILE, write_public=False)


def _load(key_path: Path, pub_path: Path, *, write_public: bool = True) -> SigningKey:
    with _key_file_error("cannot read", key_path), open(key_path, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"{key_path} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyFileError(
                f"{key_path} can be read by group or others (mode "
                f"{stat.S_IMODE(st.st_mode):04o}); it must be private: chmod 600 {key_path}"
            )
        pem = f.read(_MAX_PEM + 1)
    if len(pem) > _MAX_PEM:
        raise KeyFileError(f"{key_path} is not a PEM private key: larger than {_MAX_PEM} bytes")
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:  # cryptography: "Password was not given but private key is encrypted"
        raise KeyFileError(f"{key_path} is encrypted; an unencrypted PKCS#8 key is needed") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{key_path} is not a PEM private key: {exc}") from exc
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeyFileError(
            f"{key_path} is not an Ed25519 private key (it holds a {type(private_key).__name__})"
        )
    public_key = private_key.public_key()
    expected_pem = public_key_pem(public_key)
    with _key_file_error("cannot read", pub_path):
        pub_pem = pub_path.read_bytes()[:_MAX_PEM] if pub_path.exists() else None
    if pub_pem is None:
        if write_public:
            _write_public(pub_path, expected_pem)
    elif pub_pem != expected_pem:
        try:
            matches = key_id(load_public_key(pub_pem)) == key_id(public_key)
        except InvalidKey:
            matches = False
        if not matches:
            raise KeyFileError(
                f"{pub_path} does not match {key_path}: signatures made with this key would "
                f"not verify against it. Restore the right pair, or delete {pub_path} to "
                "have it written again from the private key"
            )
    return SigningKey(
        private_key=private_key,
        public_key_pem=expected_pem,
        key_id=key_id(public_key),
        created=False,
    )


def _create(key_path: Path, pub_path: Path) -> SigningKey:
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    staged = key_path.with_name(f".{_KEY_FILE}.{secrets.token_hex(8)}")
    with _key_file_error("cannot write", staged):
        _write_new(staged, pem, 0o600)
    try:
        with _key_file_error("cannot create", key_path):
            try:
                os.link(staged, key_path)
            except FileExistsError:  # another process created the key first: use theirs
                return _load(key_path, pub_path)
    finally:
        with _key_file_error("cannot remove", staged):
            staged.unlink()
    with _key_file_error("cannot write", key_path):
        _fsync_dir(key_path.parent)
    public_pem = public_key_pem(private_key.public_key())
    _write_public(pub_path, public_pem)
    return SigningKey(
        private_key=private_key,
        public_key_pem=public_pem,
        key_id=key_id(private_key.public_key()),
        created=True,
    )


def _write_public(pub_path: Path, pem: bytes) -> None:
    """Write ``signing.pub`` (mode 0644) by rename, so it is never seen half written."""
    staged = pub_path.with_name(f".{_PUBLIC_FILE}.{secrets.token_hex(8)}")
    with _key_file_error("cannot write", pub_path):
        try:
            _write_new(staged, pem, 0o644)
            os.rename(staged, pub_path)
        finally:
            if os.path.lexists(staged):
                staged.unlink()
        _fsync_dir(pub_path.parent)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (O_EXCL: never an existing file); fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(fd, mode)  # exact, whatever the umask
        f.write(data)
        f.flush()
        os.fsync(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
