"""The TLS session of a page's response: protocol version, cipher and the server's certificates.

docs/design.md "Server, certificates and media responses": for an https page
the capture keeps the certificate chain (role ``tls``, PEM, RFC 7468 section 5)
and the manifest names the TLS version and cipher of the connection that
carried the final response. httpcore exposes the connection's ``ssl.SSLObject`` through the
response's ``network_stream`` extension (``get_extra_info("ssl_object")``).

Which certificates, in order of preference (``TlsSession.chain`` says which):

1. ``verified``: the chain OpenSSL built and verified, leaf first, up to the root
   this machine trusts. Python 3.13 has ``SSLObject.get_verified_chain()``;
   3.10 to 3.12 have it only on the private ``SSLObject._sslobj``
   (``_ssl._SSLSocket.get_verified_chain``, returning ``_ssl.Certificate``s).
2. ``unverified``: the certificates as the server sent them
   (``get_unverified_chain``, same places).
3. ``leaf``: the server's own certificate only (``getpeercert(binary_form=True)``,
   public on every version).

At most ``MAX_CERTIFICATES`` are kept. A plain-http response has no session (``None``).
"""

from __future__ import annotations

import _ssl
import logging
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["MAX_CERTIFICATES", "TlsSession", "tls_session"]

log = logging.getLogger(__name__)

MAX_CERTIFICATES = 16  # a real chain has 2 to 4; a hostile server may send more
_ENCODING_DER: int = getattr(_ssl, "ENCODING_DER", 2)  # for _ssl.Certificate.public_bytes


@dataclass(frozen=True, kw_only=True)
class TlsSession:
    """What the TLS connection of one response was."""

    version: str  # "TLSv1.3"
    cipher: str  # the OpenSSL name: "TLS_AES_256_GCM_SHA384"
    chain: str  # "verified" | "unverified" | "leaf" | "" (no certificate could be read)
    pem: bytes  # the certificates, leaf first, as PEM; b"" when none
    certificates: int  # how many ``pem`` holds


def _der_list(certs: Any) -> list[bytes]:
    """DER bytes of each certificate: ``bytes`` (3.13's public methods) or ``_ssl.Certificate``."""
    out: list[bytes] = []
    for cert in list(certs)[:MAX_CERTIFICATES]:
        der = cert if isinstance(cert, bytes) else cert.public_bytes(_ENCODING_DER)
        if not isinstance(der, bytes) or not der:
            raise ValueError(f"not a DER certificate: {type(der).__name__}")
        out.append(der)
    return out


def _chain(ssl_object: Any, method: str) -> list[bytes]:
    """The chain from the public method (3.13+), else the private one (3.10-3.12); [] if neither."""
    for holder in (ssl_object, getattr(ssl_object, "_sslobj", None)):
        getter = getattr(holder, method, None)
        if callable(getter):
            try:
                return _der_list(getter() or [])
            except (ValueError, TypeError, AttributeError, ssl.SSLError):
                log.debug("TLS %s could not be read", method, exc_info=True)
    return []


def tls_session(response: httpx.Response) -> TlsSession | None:
    """The TLS session that carried ``response``, or ``None`` for plain http.

    Call it while the response is open: a closed connection may no longer say.
    """
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    chain, ders = "", []
    sources = (("get_verified_chain", "verified"), ("get_unverified_chain", "unverified"))
    for method, name in sources:
        ders = _chain(ssl_object, method)
        if ders:
            chain = name
            break
    if not ders:
        leaf = ssl_object.getpeercert(binary_form=True)
        ders, chain = ([leaf], "leaf") if isinstance(leaf, bytes) and leaf else ([], "")
    pem = "".join(ssl.DER_cert_to_PEM_cert(der) for der in ders).encode("ascii")
    return TlsSession(
        version=str(ssl_object.version() or ""),
        cipher=str(cipher[0]) if isinstance(cipher, tuple) and cipher else "",
        chain=chain, pem=pem, certificates=len(ders),
    )
