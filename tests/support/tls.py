"""TLS for the fixture site: a test CA made with ``cryptography``, and servers that misbehave.

``make_pki`` makes a root CA, an intermediate CA and a server certificate for
127.0.0.1 (ECDSA P-256: fast), plus a self-signed certificate that no client
trusts. The fixture site serves https with ``pki.server_context()`` (the server
sends its certificate and the intermediate); a client trusts the root through
``pki.client_context()``, which tests pass as ``workers.net.make_client(verify=…)``.
Nothing here changes what production trusts.

``HandshakeFailure`` is a TCP server on 127.0.0.1 that answers every TLS
ClientHello with a fatal ``handshake_failure`` alert (RFC 8446 section 6.2).
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    root: x509.Certificate
    intermediate: x509.Certificate
    server: x509.Certificate  # for IP 127.0.0.1, issued by the intermediate
    self_signed: x509.Certificate  # for IP 127.0.0.1, issued by itself: trusted by no one
    directory: Path  # where the PEM files live (ssl.SSLContext loads from files)

    def server_context(self, *, self_signed: bool = False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if self_signed:
            ctx.load_cert_chain(self.directory / "self.pem", self.directory / "self.key")
        else:
            ctx.load_cert_chain(self.directory / "chain.pem", self.directory / "server.key")
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the test root only (hostnames checked)."""
        return ssl.create_default_context(cafile=str(self.directory / "root.pem"))


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "preserver tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject)).issuer_name(_name(issuer))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                       critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False), critical=True)
    else:
        builder = (
            builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("root", "mid", "server", "self")}
    root = _cert("Test Root CA", keys["root"], "Test Root CA", keys["root"], ca=True)
    mid = _cert("Test Intermediate CA", keys["mid"], "Test Root CA", keys["root"], ca=True)
    server = _cert("127.0.0.1", keys["server"], "Test Intermediate CA", keys["mid"], ca=False)
    self_signed = _cert("127.0.0.1", keys["self"], "127.0.0.1", keys["self"], ca=False)
    (directory / "root.pem").write_bytes(_pem(root))
    (directory / "chain.pem").write_bytes(_pem(server, mid))  # what the server sends
    (directory / "server.key").write_bytes(_key_pem(keys["server"]))
    (directory / "self.pem").write_bytes(_pem(self_signed))
    (directory / "self.key").write_bytes(_key_pem(keys["self"]))
    return Pki(root=root, intermediate=mid, server=server, self_signed=self_signed,
               directory=directory)


# A TLS alert record: content type 21 (alert), version 3.3, length 2, fatal (2),
# handshake_failure (40). RFC 8446 sections 5.1 and 6.
_HANDSHAKE_FAILURE = bytes([21, 3, 3, 0, 2, 2, 40])


class HandshakeFailure:
    """Answers every connection's ClientHello with a fatal alert, then hangs up."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, name="tls-refuser", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._sock.getsockname()[1]}/"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(65536)  # the ClientHello
                    conn.sendall(_HANDSHAKE_FAILURE)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._sock.close()
