"""``preserver verify PACKAGE``: verify an exported evidence package alone.

No archive, database or network is touched: the package is opened and checked by
``manifests`` (``Package.open``, ``verify_package``). Only the trusted TSA roots
come from here: ``--tsa-roots``, else ``custody.tsa_roots``, else the system's store.
This module imports nothing heavy, so the command starts fast.
"""

from __future__ import annotations

from pathlib import Path

from manifests import Finding, InvalidPackage, Package, verify_package
from preserver.config import Config
from preserver.errors import ConfigError, InputError

SYSTEM_ROOTS = Path("/etc/ssl/certs/ca-certificates.crt")


def trusted_roots_pem(config: Config | None, tsa_roots: Path | None) -> bytes:
    """The PEM bundle of trusted TSA roots (one bundle may hold many certificates)."""
    configured = config.custody.tsa_roots if config is not None else ""
    path = tsa_roots or (Path(configured) if configured else SYSTEM_ROOTS)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        what = "--tsa-roots" if tsa_roots else "custody.tsa_roots" if configured else "roots"
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise ConfigError(f"{path}: no PEM certificate in it")
    return pem


def verify_exported(path: Path, *, config: Config | None = None, tsa_roots: Path | None = None,
                    key_id: str | None = None) -> list[Finding]:
    """Every finding about the package at ``path``; ``InputError`` (exit 2) when it is
    not a package that can be opened safely."""
    roots = [trusted_roots_pem(config, tsa_roots)]
    try:
        with Package.open(path) as package:
            return verify_package(package, trust_roots=roots, expected_key_id=key_id)
    except InvalidPackage as exc:
        raise InputError(str(exc)) from exc
