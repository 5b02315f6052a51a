"""``preserver verify PACKAGE``: verify an exported evidence package alone.

No archive, database or network is touched: the package is opened and checked by
``manifests`` (``Package.open``, ``verify_package``). Only the trusted TSA roots
come from here: ``--tsa-roots``, else ``custody.tsa_roots``, else the system's store.
This module imports nothing heavy, so the command starts fast.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from manifests import Finding, InvalidPackage, Package, verify_package
from preserver.config import Config
from preserver.errors import ConfigError, InputError

log = logging.getLogger(__name__)

SYSTEM_ROOTS = Path("/etc/ssl/certs/ca-certificates.crt")


def trusted_roots_pem(config: Config | None, tsa_roots: Path | None) -> list[bytes]:
    """The trusted TSA root certificates, one PEM each: ``--tsa-roots``, else
    ``custody.tsa_roots``, else the system's store. A certificate that does not parse
    is skipped (logged), so one odd entry in a system store does not disable the rest."""
    configured = config.custody.tsa_roots if config is not None else ""
    path = tsa_roots or (Path(configured) if configured else SYSTEM_ROOTS)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        what = "--tsa-roots" if tsa_roots else "custody.tsa_roots" if configured else "roots"
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    roots = []
    for block in re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem,
                            re.DOTALL):
        try:
            with warnings.catch_warnings():  # old system roots: non-positive serial numbers
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                x509.load_pem_x509_certificate(block + b"\n")
        except ValueError:
            log.debug("skipping a trusted root in %s that does not parse", path, exc_info=True)
            continue
        roots.append(block + b"\n")
    if not roots:
        raise ConfigError(f"{path}: no PEM certificate in it")
    return roots


def verify_exported(path: Path, *, config: Config | None = None, tsa_roots: Path | None = None,
                    key_id: str | None = None) -> list[Finding]:
    """Every finding about the package at ``path``; ``InputError`` (exit 2) when it is
    not a package that can be opened safely."""
    roots = trusted_roots_pem(config, tsa_roots)
    try:
        with Package.open(path) as package:
            return verify_package(package, trust_roots=roots, expected_key_id=key_id)
    except InvalidPackage as exc:
        raise InputError(str(exc)) from exc
