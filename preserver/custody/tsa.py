"""The RFC 3161 client side of custody: which TSA roots are trusted, and asking a TSA
for a verified token.

- ``trusted_roots(config, override)``: ``--tsa-roots``, else ``custody.tsa_roots``,
  else the system's store.
- ``ask_tsa(http, url, text, roots)``: a token over ``text`` that verified against
  ``roots``, or ``TsaFailed`` saying why not.

Used by the checkpoint writer (``custody.ledger``), archive and package verification,
and ``doctor``. It imports no database code, so ``verify PACKAGE`` starts fast.
"""

from __future__ import annotations

import logging
import re
import ssl
import warnings
from datetime import datetime
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from manifests import (
    InvalidCertificate,
    InvalidTimestamp,
    VerificationError,
    timestamp_request,
    tsa_chain_pem,
    verify_timestamp,
)
from preserver.config import Config
from preserver.errors import ConfigError
from workers import WorkerError

__all__ = ["SYSTEM_ROOTS", "TsaFailed", "ask_tsa", "trusted_roots"]

log = logging.getLogger(__name__)

SYSTEM_ROOTS = Path("/etc/ssl/certs/ca-certificates.crt")


def trusted_roots(config: Config | None, tsa_roots: Path | None = None) -> list[bytes]:
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


class TsaFailed(Exception):
    """A TSA gave no usable token: unreachable, an HTTP error, or a token that failed."""


async def ask_tsa(http: httpx.AsyncClient, url: str, text: bytes,
                  roots: list[bytes]) -> tuple[bytes, bytes, datetime]:
    """A verified RFC 3161 token over ``text`` from ``url``: (response, chain PEM, time)."""
    request = timestamp_request(text)
    try:
        response = await http.post(url, content=request.der,
                                   headers={"Content-Type": "application/timestamp-query"})
    except (httpx.HTTPError, WorkerError, ssl.SSLError, OSError) as exc:
        raise TsaFailed(f"unreachable: {exc}") from exc
    if response.status_code != 200:
        raise TsaFailed(f"HTTP {response.status_code}")
    token = response.content
    try:
        when = verify_timestamp(token, text, roots, nonce=request.nonce)
        chain = tsa_chain_pem(token)
    except (VerificationError, InvalidTimestamp, InvalidCertificate) as exc:
        raise TsaFailed(f"token refused: {exc}") from exc
    return token, chain, when
