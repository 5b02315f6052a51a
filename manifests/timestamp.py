"""RFC 3161 time-stamps over exact bytes, with ``rfc3161-client``.

A checkpoint's bytes are stamped by one or more time-stamping authorities (TSAs);
each answer, a DER ``TimeStampResp`` (RFC 3161 section 2.4.2) exactly as the TSA
sent it, is kept as ``checkpoint.<n>.tsr`` and checks with standard tools::

    openssl ts -verify -data checkpoint -in checkpoint.1.tsr -CAfile tsa-root.pem

(A bare token, ``openssl ts -reply -token_out``, is not accepted.) ``rfc3161-client``
builds the request, parses the response (strict DER), and checks the CMS signature,
the chain to a trusted root at genTime (OpenSSL, purpose timestamp-sign), the nonce
and the imprint. This module adds the SHA-256-only imprint rule, the EKU check of
RFC 3161 section 2.3 before any root is tried, one attempt per root, the bounds on
token lists, the DER order of the certificate set, and errors of our own. Neither
checks the ESS signing-certificate attribute (RFC 5816) as ``openssl ts`` does.

    >>> request = timestamp_request(data)              # POST request.der to the TSA
    >>> verify_timestamp(reply, data, [root_pem], nonce=request.nonce)
    datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import rfc3161_client
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID

from manifests.errors import InvalidCertificate, InvalidTimestamp, ManifestError, VerificationError

logger = logging.getLogger(__name__)

_SHA256 = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
_MAX_TOKEN = 1 << 20  # a token with its chain is a few KiB
_MAX_TOKENS = 8


@dataclass(frozen=True, kw_only=True)
class TimestampRequest:
    """A DER ``TimeStampReq`` (RFC 3161 section 2.4.1) and the nonce the reply must echo."""

    der: bytes
    nonce: int


@dataclass(frozen=True, kw_only=True)
class _Parsed:
    response: rfc3161_client.TimeStampResponse
    certificates: tuple[x509.Certificate, ...]
    signer: x509.Certificate | None


def timestamp_request(data: bytes) -> TimestampRequest:
    """A request for a time-stamp over ``data``: SHA-256 imprint, a random nonce, and
    certReq true, so the TSA includes its certificate (RFC 3161 section 2.4.1)."""
    if not data:
        raise ManifestError("timestamp: rfc3161-client cannot make a request over empty data")
    builder = rfc3161_client.TimestampRequestBuilder(nonce=True, cert_req=True).data(data)
    request = builder.hash_algorithm(rfc3161_client.HashAlgorithm.SHA256).build()
    nonce = request.nonce
    assert nonce is not None  # we asked for one
    return TimestampRequest(der=request.as_bytes(), nonce=nonce)


def _der_children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, item start, content start, item end) of each DER item in ``buf[start:end]``;
    ``ValueError`` for what we do not walk through (the library has the last word)."""
    items, pos = [], start
    while pos < end:
        if pos + 2 > end or buf[pos] & 0x1F == 0x1F:
            raise ValueError("not a short-tag DER item")
        tag, first, content = buf[pos], buf[pos + 1], pos + 2
        length = first
        if first >= 0x80:  # long form; 0x80 (indefinite) is not DER
            if not 1 <= first - 0x80 <= 4:
                raise ValueError("indefinite or oversized length")
            content += first - 0x80
            length = int.from_bytes(buf[pos + 2 : content], "big")
        if content + length > end:
            raise ValueError("item runs past its parent")
        items.append((tag, pos, content, content + length))
        pos = content + length
    return items


def _sort_certificate_set(response: bytes) -> bytes:
    """``response`` with the token's ``certificates`` in DER SET OF order.

    RFC 5652 section 5.1 makes ``certificates`` a SET OF, which DER sorts (X.690
    section 11.6). OpenSSL, and TSAs built on it, write the chain in chain order, and
    ``rfc3161-client`` refuses that ("InvalidSetOrdering"). The set is not signed, so
    ordering it changes nothing that is; no length changes. Anything unexpected
    returns the bytes as they were, for the library to judge.
    """
    # TimeStampResp ::= SEQUENCE { status, timeStampToken ContentInfo }
    # ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT SignedData }
    # SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo,
    #                           certificates [0] IMPLICIT CertificateSet OPTIONAL, ... }
    path = ((0, 0x30), (1, 0x30), (1, 0xA0), (0, 0x30), (3, 0xA0))
    start, end = 0, len(response)
    try:
        for index, expected in path:
            tag, _, start, end = _der_children(response, start, end)[index]
            if tag != expected:
                return response
        members = [response[s:e] for _, s, _, e in _der_children(response, start, end)]
    except (ValueError, IndexError):
        return response
    width = max((len(m) for m in members), default=0)
    ordered = sorted(members, key=lambda m: m.ljust(width, b"\x00"))  # X.690 section 11.6
    return response[:start] + b"".join(ordered) + response[end:]


def _parse(token: bytes) -> _Parsed:
    """Parse a TimeStampResp completely (the library parses lazily): ``InvalidTimestamp``."""
    if len(token) > _MAX_TOKEN:
        raise InvalidTimestamp(f"timestamp: token is larger than {_MAX_TOKEN} bytes")
    try:
        response = rfc3161_client.decode_timestamp_response(_sort_certificate_set(token))
        tst_info = response.tst_info  # parsed on access: touch what we use, here
        _ = (tst_info.message_imprint.message, tst_info.gen_time, tst_info.nonce)
        signer_infos = list(response.signed_data.signer_infos)
        certificates = tuple(
            x509.load_der_x509_certificate(der)
            for der in sorted(response.signed_data.certificates)
        )
        if len(signer_infos) != 1:  # RFC 3161 section 2.4.2: one signer, the TSA
            raise InvalidTimestamp(f"timestamp: {len(signer_infos)} signers; a token has one")
        issuer, serial = signer_infos[0].issuer, signer_infos[0].serial_number
    except ValueError as exc:  # the Rust parser's errors are ValueError
        raise InvalidTimestamp(f"timestamp: not a DER TimeStampResp with a token: {exc}") from exc
    # the TSA certificate is the one the SignerInfo names (RFC 5652 section 5.3)
    signer = next(
        (c for c in certificates if c.issuer == issuer and c.serial_number == serial), None
    )
    return _Parsed(response=response, certificates=certificates, signer=signer)


def _load_roots(roots: Sequence[bytes]) -> list[x509.Certificate]:
    if isinstance(roots, bytes | str):
        raise TypeError("roots is a sequence of PEM certificates, not one PEM")
    loaded: dict[bytes, x509.Certificate] = {}
    for n, pem in enumerate(roots, 1):
        try:
            # A system trust store can hold old roots with non-positive serial numbers,
            # which cryptography warns about; they are the store's, and still roots.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                certificates = x509.load_pem_x509_certificates(pem)
        except ValueError as exc:
            raise InvalidCertificate(f"trusted root {n} is not a PEM certificate: {exc}") from exc
        for c in certificates:
            loaded.setdefault(c.public_bytes(Encoding.DER), c)
    return list(loaded.values())


def _check_eku(signer: x509.Certificate) -> None:
    """RFC 3161 section 2.3: the TSA certificate's extendedKeyUsage is critical and
    holds only id-kp-timeStamping."""
    subject = signer.subject.rfc4514_string()
    try:
        eku: x509.Extension[x509.ExtendedKeyUsage] | None = (
            signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage))
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise VerificationError(f"timestamp: TSA certificate {subject} lacks the critical "
                                "extendedKeyUsage timeStamping as its only purpose")


def _explain(exc: rfc3161_client.VerificationError, nonce: int | None) -> tuple[int, str]:
    """Our message for a library failure, ranked: 0 when no chain to this root was found
    (another root may do better), 1 when the failure came after the chain held."""
    text = str(exc)
    if text.startswith("Error while verifying certificates"):
        found = re.search(r'data: "Verify error: ([^"]*)"', text)
        if "certificate verify error" in text:
            detail = found.group(1) if found else text
            return 0, f"timestamp: TSA certificate does not chain to a trusted root: {detail}"
        reason = re.search(r'reason: "([^"]*)"', text)
        return 1, f"timestamp: bad signature: {reason.group(1) if reason else text}"
    if text == "Mismatch between messages":
        return 1, "timestamp: message imprint is not the SHA-256 of the data"
    if text == "Nonce mismatch":
        return 1, f"timestamp: nonce differs from the request's ({nonce})"
    return 1, f"timestamp: {text}"


def verify_timestamp(
    token: bytes, data: bytes, roots: Sequence[bytes], *, nonce: int | None = None
) -> datetime.datetime:
    """Return the genTime (UTC) of ``token``, a DER TimeStampResp as the TSA sent it,
    once it is a valid time-stamp over exactly ``data`` from a TSA under one of ``roots``.

    ``roots`` are PEM certificates (a PEM may hold several); each is tried in turn.
    ``nonce`` is the request's, when the reply is checked right after the request.
    Raises ``VerificationError`` (with the failed step), ``InvalidTimestamp`` if the
    bytes are not a TimeStampResp with a token, ``InvalidCertificate`` for a bad root.
    """
    # Steps (RFC 3161 section 2.4.2, "the requester SHALL verify"):
    # (1) trusted roots are configured: without one there is nothing to check against;
    # (2) the bytes parse as a TimeStampResp carrying a token, and the status is granted;
    # (3) the imprint is SHA-256, the hash we request;
    # (4) the token carries the TSA certificate, with the EKU of section 2.3;
    # (5) for each root: signature and chain at genTime, nonce, imprint = SHA-256(data);
    # (6) genTime, as an aware UTC datetime.

    # (1)
    trusted = _load_roots(roots)
    if not trusted:
        raise VerificationError("timestamp: no trusted roots configured")

    # (2)
    parsed = _parse(token)
    response, tst_info = parsed.response, parsed.response.tst_info
    if response.status != rfc3161_client.PKIStatus.GRANTED:
        raise VerificationError(f"timestamp: status is {response.status}, not granted (0)")

    # (3)
    algorithm = tst_info.message_imprint.hash_algorithm
    if algorithm != _SHA256:
        raise VerificationError(f"timestamp: imprint hash is {algorithm.dotted_string}, not SHA-256")

    # (4)
    if parsed.signer is None:
        raise VerificationError("timestamp: the token does not carry the TSA certificate")
    _check_eku(parsed.signer)

    # (5)
    digest = hashlib.sha256(data).digest()
    failures: list[tuple[int, str]] = []
    for root in trusted:
        builder = rfc3161_client.VerifierBuilder().add_root_certificate(root)
        if nonce is not None:
            builder = builder.nonce(nonce)
        try:
            builder.build().verify(response, digest)
        except rfc3161_client.VerificationError as exc:
            logger.debug("timestamp: not under root %s", root.subject.rfc4514_string(),
                         exc_info=True)
            failures.append(_explain(exc, nonce))
            continue
        # (6)
        gen_time = tst_info.gen_time
        if gen_time.tzinfo is None:  # GeneralizedTime in a token is UTC (section 2.4.2)
            gen_time = gen_time.replace(tzinfo=datetime.UTC)
        return gen_time.astimezone(datetime.UTC)
    raise VerificationError(max(failures, key=lambda f: f[0])[1])


def verify_timestamps(
    tokens: Sequence[bytes], data: bytes, roots: Sequence[bytes], *, max_tokens: int = _MAX_TOKENS
) -> tuple[datetime.datetime, ...]:
    """The genTimes of the tokens that verify over ``data``, in order; at least one must.

    At most ``max_tokens`` tokens, and no token twice. A token that fails is left out
    (logged at debug); a caller that reports on each token calls ``verify_timestamp``.
    """
    # Steps (as sigstore-python's ``_establish_time``): (1) bound the count; (2) reject
    # duplicates; (3) a root is configured; (4) verify each; (5) one verified time at least.
    if isinstance(tokens, bytes | str):
        raise TypeError("tokens is a sequence of tokens, not one token")
    # (1)
    if not tokens:
        raise VerificationError("timestamp: no tokens to verify")
    if len(tokens) > max_tokens:
        raise VerificationError(f"timestamp: {len(tokens)} tokens; at most {max_tokens} accepted")
    # (2) the same token with its certificates in another order is the same token
    seen: dict[bytes, int] = {}
    for n, token in enumerate(tokens, 1):
        first = seen.setdefault(_sort_certificate_set(token), n)
        if first != n:
            raise VerificationError(f"timestamp: token {n} duplicates token {first}")
    # (3)
    if not _load_roots(roots):
        raise VerificationError("timestamp: no trusted roots configured")
    # (4)
    times: list[datetime.datetime] = []
    failures: list[str] = []
    for n, token in enumerate(tokens, 1):
        try:
            times.append(verify_timestamp(token, data, roots))
        except (VerificationError, InvalidTimestamp) as exc:
            logger.debug("timestamp: token %d does not verify", n, exc_info=True)
            failures.append(f"token {n}: {exc}")
    # (5)
    if not times:
        raise VerificationError("timestamp: no token verified: " + "; ".join(failures))
    return tuple(times)


def tsa_chain_pem(token: bytes) -> bytes:
    """The certificates a token carries, as PEM: the TSA's first, then each issuer found
    among them, then any others; for packaging beside the token. ``InvalidTimestamp``
    if the token is malformed or carries no TSA certificate."""
    parsed = _parse(token)
    if parsed.signer is None:
        raise InvalidTimestamp("timestamp: the token does not carry the TSA certificate")
    chain, rest = [parsed.signer], [c for c in parsed.certificates if c != parsed.signer]
    while issuer := next((c for c in rest if c.subject == chain[-1].issuer), None):
        chain.append(issuer)
        rest.remove(issuer)
        if issuer.subject == issuer.issuer:  # self-signed: the root
            break
    return b"".join(c.public_bytes(Encoding.PEM) for c in chain + rest)
