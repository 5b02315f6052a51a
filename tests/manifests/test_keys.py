"""The archive's signing key files, and Ed25519 signatures over exact bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from manifests import (
    InvalidKey,
    KeyFileError,
    VerificationError,
    load_or_create_signing_key,
    load_public_key,
    load_signing_key,
    sign,
    verify_signature,
)


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive" / "keys"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask (0): modes must be exact by construction, not by luck."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def pkcs8(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def spki(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_key(keys_dir: Path, pem: bytes, file_mode: int = 0o600) -> Path:
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / "signing.key"
    path.write_bytes(pem)
    path.chmod(file_mode)
    return path


# -- creation and reuse ------------------------------------------------------------------


def test_created_on_first_use(keys_dir: Path, open_umask: None) -> None:
    key = load_or_create_signing_key(keys_dir)
    assert key.created
    private, public = keys_dir / "signing.key", keys_dir / "signing.pub"
    assert (mode(keys_dir), mode(private), mode(public)) == (0o700, 0o600, 0o644)
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert public.read_bytes() == key.public_key_pem
    assert key.public_key_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")  # SPKI
    raw = key.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert key.key_id == hashlib.sha256(raw).hexdigest()
    assert sorted(p.name for p in keys_dir.iterdir()) == ["signing.key", "signing.pub"]
    assert "PRIVATE" not in repr(key)


def test_private_key_file_is_never_open_to_others(
    keys_dir: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file holding private bytes is created 0600 with O_EXCL: no window, no reuse."""
    real_open = os.open
    created: list[tuple[str, int, int]] = []

    def recording_open(
        path: str | os.PathLike[str], flags: int, mode: int = 0o777, **kwargs: object
    ) -> int:
        if flags & os.O_CREAT:
            created.append((Path(path).name, flags, mode))
        return real_open(path, flags, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", recording_open)
    load_or_create_signing_key(keys_dir)
    monkeypatch.undo()
    staged = [(flags, m) for name, flags, m in created if name.startswith(".signing.key.")]
    assert len(staged) == 1
    flags, file_mode = staged[0]
    assert flags & os.O_EXCL and flags & os.O_NOFOLLOW
    assert file_mode == 0o600


def test_reused_on_second_call(keys_dir: Path) -> None:
    first = load_or_create_signing_key(keys_dir)
    again = load_or_create_signing_key(keys_dir)
    assert not again.created
    assert (again.key_id, again.public_key_pem) == (first.key_id, first.public_key_pem)
    assert verify_signature(first.public_key_pem, b"x", sign(again, b"x")) == first.key_id


def test_missing_public_key_is_rewritten(keys_dir: Path) -> None:
    first = load_or_create_signing_key(keys_dir)
    (keys_dir / "signing.pub").unlink()
    again = load_or_create_signing_key(keys_dir)
    assert (keys_dir / "signing.pub").read_bytes() == first.public_key_pem
    assert not again.created


def test_existing_key_from_another_process_wins(
    keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first runs at once: the key linked first is the one both use."""
    theirs = Ed25519PrivateKey.generate()
    real_link = os.link

    def lose_the_race(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        write_key(keys_dir, pkcs8(theirs))
        real_link(src, dst)  # raises FileExistsError, as the loser's link would

    monkeypatch.setattr(os, "link", lose_the_race)
    key = load_or_create_signing_key(keys_dir)
    monkeypatch.undo()
    assert key.public_key_pem == spki(theirs)
    assert not key.created
    assert sorted(p.name for p in keys_dir.iterdir()) == ["signing.key", "signing.pub"]


# -- loading only (read-only commands) ------------------------------------------------------


def test_load_only_writes_nothing(keys_dir: Path) -> None:
    first = load_or_create_signing_key(keys_dir)
    (keys_dir / "signing.pub").unlink()
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in keys_dir.iterdir()}
    key = load_signing_key(keys_dir)
    assert (key.key_id, key.public_key_pem, key.created) == (first.key_id, first.public_key_pem,
                                                             False)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in keys_dir.iterdir()} == before


def test_load_only_never_creates_a_key(keys_dir: Path) -> None:
    with pytest.raises(KeyFileError, match="no signing key at .*keys/signing.key"):
        load_signing_key(keys_dir)
    assert not keys_dir.parent.exists()


def test_load_only_checks_the_public_key(keys_dir: Path) -> None:
    load_or_create_signing_key(keys_dir)
    (keys_dir / "signing.pub").write_bytes(spki(Ed25519PrivateKey.generate()))
    with pytest.raises(KeyFileError, match="signing.pub does not match .*signing.key"):
        load_signing_key(keys_dir)


# -- broken key files ------------------------------------------------------------------


@pytest.mark.parametrize("file_mode", [0o640, 0o604, 0o644, 0o660])
def test_key_readable_by_others(keys_dir: Path, file_mode: int) -> None:
    path = write_key(keys_dir, pkcs8(Ed25519PrivateKey.generate()), file_mode)
    with pytest.raises(KeyFileError, match=f"mode {file_mode:04o}.*chmod 600 {path}"):
        load_or_create_signing_key(keys_dir)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a PEM private key"),
        (
            b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
            "not a PEM private key",
        ),
        (b"\x00" * 100_000, "larger than 65536 bytes"),
        (pkcs8(ec.generate_private_key(ec.SECP256R1())), "not an Ed25519 private key"),
        (
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            ),
            "is encrypted",
        ),
    ],
    ids=["empty", "corrupt-pem", "huge", "not-ed25519", "encrypted"],
)
def test_unusable_key_file(keys_dir: Path, content: bytes, match: str) -> None:
    write_key(keys_dir, content)
    with pytest.raises(KeyFileError, match=match):
        load_or_create_signing_key(keys_dir)


def test_key_file_is_a_directory(keys_dir: Path) -> None:
    (keys_dir / "signing.key").mkdir(parents=True)
    with pytest.raises(KeyFileError, match="cannot read .*signing.key: Is a directory"):
        load_or_create_signing_key(keys_dir)


@pytest.mark.parametrize(
    "public",
    [spki(Ed25519PrivateKey.generate()), b"garbage", spki(ec.generate_private_key(ec.SECP256R1()))],
    ids=["other-key", "garbage", "not-ed25519"],
)
def test_public_key_mismatch(keys_dir: Path, public: bytes) -> None:
    load_or_create_signing_key(keys_dir)
    (keys_dir / "signing.pub").write_bytes(public)
    with pytest.raises(KeyFileError, match="signing.pub does not match .*signing.key"):
        load_or_create_signing_key(keys_dir)


def test_public_key_without_private_key(keys_dir: Path) -> None:
    load_or_create_signing_key(keys_dir)
    (keys_dir / "signing.key").unlink()
    with pytest.raises(KeyFileError, match="signing key is missing"):
        load_or_create_signing_key(keys_dir)
    assert not (keys_dir / "signing.key").exists()  # no new key made silently


def test_keys_dir_is_a_file(keys_dir: Path) -> None:
    keys_dir.parent.mkdir(parents=True)
    keys_dir.write_text("not a directory")
    with pytest.raises(
        KeyFileError, match="cannot create the key directory .*keys: Not a directory"
    ):
        load_or_create_signing_key(keys_dir)


# -- signatures ---------------------------------------------------------------------------


def test_sign_and_verify(keys_dir: Path) -> None:
    key = load_or_create_signing_key(keys_dir)
    signature = sign(key, b"manifest bytes")
    assert len(signature) == 64
    assert verify_signature(key.public_key_pem, b"manifest bytes", signature) == key.key_id


@pytest.mark.parametrize(
    ("data", "signature_edit", "match"),
    [
        (b"manifest bytez", None, "does not verify with key"),
        (b"manifest bytes", "flip", "does not verify with key"),
        (b"manifest bytes", "truncate", "signature is 63 bytes; an Ed25519 signature has 64"),
        (b"manifest bytes", "empty", "signature is 0 bytes"),
    ],
    ids=["data-changed", "signature-flipped", "signature-short", "signature-empty"],
)
def test_bad_signature(keys_dir: Path, data: bytes, signature_edit: str | None, match: str) -> None:
    key = load_or_create_signing_key(keys_dir)
    signature = sign(key, b"manifest bytes")
    if signature_edit == "flip":
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    elif signature_edit == "truncate":
        signature = signature[:-1]
    elif signature_edit == "empty":
        signature = b""
    with pytest.raises(VerificationError, match=match):
        verify_signature(key.public_key_pem, data, signature)


def test_signature_from_another_key(keys_dir: Path, tmp_path: Path) -> None:
    key = load_or_create_signing_key(keys_dir)
    other = load_or_create_signing_key(tmp_path / "other-keys")
    with pytest.raises(VerificationError, match=f"does not verify with key {key.key_id}"):
        verify_signature(key.public_key_pem, b"data", sign(other, b"data"))


@pytest.mark.parametrize(
    ("pem", "match"),
    [
        (b"", "not a PEM public key"),
        (b"-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n", "not a PEM public key"),
        (pkcs8(Ed25519PrivateKey.generate()), "not a PEM public key"),  # a private key
        (spki(ec.generate_private_key(ec.SECP256R1())), "not an Ed25519 public key"),
    ],
    ids=["empty", "corrupt", "private-key", "not-ed25519"],
)
def test_invalid_public_key(pem: bytes, match: str) -> None:
    with pytest.raises(InvalidKey, match=match):
        load_public_key(pem)
    with pytest.raises(InvalidKey, match=match):
        verify_signature(pem, b"data", b"\0" * 64)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_standard_tools_verify(keys_dir: Path, tmp_path: Path) -> None:
    """A legal team's machine checks the signature with OpenSSL alone (docs/design.md,
    "Signature")."""
    key = load_or_create_signing_key(keys_dir)
    data = tmp_path / "manifest.json"
    data.write_bytes(b'{"manifest_version":1}')
    sig = tmp_path / "manifest.sig"
    sig.write_bytes(sign(key, data.read_bytes()))
    done = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(keys_dir / "signing.pub"),
            "-rawin",
            "-in",
            str(data),
            "-sigfile",
            str(sig),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout
