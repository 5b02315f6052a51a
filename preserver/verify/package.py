"""``preserver verify PACKAGE``: verify an exported evidence package alone.

No archive, database or network is touched: the package is opened and checked by
``manifests`` (``Package.open``, ``verify_package``). Only the trusted TSA roots
come from here: ``--tsa-roots``, else ``custody.tsa_roots``, else the system's store.
This module imports nothing heavy, so the command starts fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

from manifests import Finding, InvalidPackage, Package, verify_package
from preserver.config import Config
from preserver.custody.tsa import trusted_roots
from preserver.errors import InputError

log = logging.getLogger(__name__)

def verify_exported(path: Path, *, config: Config | None = None, tsa_roots: Path | None = None,
                    key_id: str | None = None) -> list[Finding]:
    """Every finding about the package at ``path``; ``InputError`` (exit 2) when it is
    not a package that can be opened safely."""
    roots = trusted_roots(config, tsa_roots)
    try:
        with Package.open(path) as package:
            return verify_package(package, trust_roots=roots, expected_key_id=key_id)
    except InvalidPackage as exc:
        raise InputError(str(exc)) from exc
