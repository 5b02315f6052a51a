"""A local RFC 3161 time-stamping authority on 127.0.0.1 for offline tests.

The keys are made once per session with ``cryptography`` (ECDSA P-256: fast): a
self-signed test CA (optionally an intermediate CA under it), and a TSA certificate
it signs carrying the critical
extendedKeyUsage ``timeStamping`` that RFC 3161 section 2.3 requires. The
replies are made by the real ``openssl ts -reply`` behind ``http.server``,
speaking the HTTP transport of RFC 3161 section 3.4 (POST
``application/timestamp-query``, answer ``application/timestamp-reply``).

    keys = make_tsa_keys(tmp / "tsa")          # slow part: once per session
    tsa = LocalTsa.start(keys)
    httpx.post(tsa.url, content=query, headers={"Content-Type": QUERY_TYPE})
    tsa.mode = "unavailable"                   # now 503; "garbage": 200 + junk
    tsa.close()

``openssl ts -reply`` refuses a signer without the critical timeStamping EKU, so
a token from such a certificate is made by re-signing a genuine TSTInfo with
``openssl cms -sign`` (``resign_response``).
"""

from __future__ import annotations

import datetime
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
TST_INFO_OID = "1.2.840.113549.1.9.16.1.4"  # id-ct-TSTInfo, RFC 3161 section 2.4.2

Mode = Literal["ok", "unavailable", "garbage"]
Eku = Literal["timeStamping", "none", "not critical", "also serverAuth"]


@dataclass(frozen=True, kw_only=True)
class TsaKeys:
    """A test CA and a TSA certificate it signed, as files in ``directory``."""

    directory: Path
    root_pem: bytes  # the root CA certificate: what a verifier trusts
    chain_pem: bytes  # TSA certificate, then its issuers up to the root
    config: Path  # the ``openssl ts`` configuration

    @property
    def root_pem_path(self) -> Path:
        return self.directory / "root.pem"

    @property
    def issuers_pem_path(self) -> Path:
        """The TSA certificate's issuers (intermediate, root): the token's extra certificates."""
        return self.directory / "issuers.pem"

    @property
    def tsa_pem_path(self) -> Path:
        return self.directory / "tsa.pem"

    @property
    def tsa_key_path(self) -> Path:
        return self.directory / "tsa.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "preserver tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _ca(name: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
        issuer_key: ec.EllipticCurvePrivateKey,
        validity: tuple[datetime.datetime, datetime.datetime]) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0]).not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False,
                          key_encipherment=False, data_encipherment=False,
                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def make_tsa_keys(
    directory: Path, *, name: str = "Test TSA", eku: Eku = "timeStamping",
    intermediate: bool = False,
) -> TsaKeys:
    """Make a CA and a TSA certificate in ``directory`` (created). ``eku`` other than
    ``"timeStamping"`` breaks RFC 3161 section 2.3 (``openssl ts -reply`` then refuses
    the certificate: see ``resign_response``); ``intermediate=True`` puts an
    intermediate CA between root and TSA, as public TSAs do."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{name} Root CA")
    root = _ca(root_name, root_key, root_name, root_key, validity)
    issuers = [root]
    ca_key, ca_name = root_key, root_name
    if intermediate:
        ca_key, ca_name = ec.generate_private_key(ec.SECP256R1()), _name(f"{name} Issuing CA")
        issuers.insert(0, _ca(ca_name, ca_key, root_name, root_key, validity))

    tsa_key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name)).issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0]).not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=True,
                          key_encipherment=False, data_encipherment=False,
                          key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    purposes = [ExtendedKeyUsageOID.TIME_STAMPING]  # RFC 3161 section 2.3: the only one,
    if eku == "also serverAuth":                     # and critical
        purposes.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if eku != "none":
        builder = builder.add_extension(x509.ExtendedKeyUsage(purposes),
                                        critical=eku != "not critical")
    tsa = builder.sign(ca_key, hashes.SHA256())

    issuers_pem = b"".join(_pem(c) for c in issuers)
    (directory / "root.pem").write_bytes(_pem(root))
    (directory / "issuers.pem").write_bytes(issuers_pem)
    (directory / "tsa.pem").write_bytes(_pem(tsa))
    (directory / "tsa.key").write_bytes(tsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    (directory / "serial").write_text("01\n")
    config = directory / "ts.cnf"
    config.write_text(
        "[ tsa ]\n"
        "default_tsa = tsa_config\n"
        "[ tsa_config ]\n"
        f"serial = {directory / 'serial'}\n"
        "crypto_device = builtin\n"
        f"signer_cert = {directory / 'tsa.pem'}\n"
        f"certs = {directory / 'issuers.pem'}\n"
        f"signer_key = {directory / 'tsa.key'}\n"
        "signer_digest = sha256\n"
        "default_policy = 1.2.3.4.1\n"
        "digests = sha256, sha384, sha512\n"
        "accuracy = secs:1\n"
        "ordering = yes\n"
        "tsa_name = yes\n"
        "ess_cert_id_chain = no\n"
        "ess_cert_id_alg = sha256\n"
    )
    return TsaKeys(directory=directory, root_pem=_pem(root), chain_pem=_pem(tsa) + issuers_pem,
                   config=config)


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def resign_response(response: bytes, *signers: TsaKeys, status: int = 0) -> bytes:
    """The TSTInfo of ``response`` in a new TimeStampResp with ``status`` (0: granted),
    signed by each of ``signers``' TSA certificates with ``openssl cms -sign``, which,
    unlike ``openssl ts``, neither checks the certificate's purpose nor adds the ESS
    signing-certificate attribute."""
    with tempfile.TemporaryDirectory() as tmp:
        tsr, tst_info = Path(tmp) / "in.tsr", Path(tmp) / "tstinfo.der"
        token = Path(tmp) / "token.der"
        tsr.write_bytes(response)
        _openssl("ts", "-reply", "-in", str(tsr), "-token_out", "-out", str(token))
        _openssl("cms", "-verify", "-noverify", "-inform", "DER", "-in", str(token),
                 "-out", str(tst_info))
        keys = [arg for k in signers for arg in
                ("-signer", str(k.tsa_pem_path), "-inkey", str(k.tsa_key_path))]
        signed = _openssl(
            "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "sha256",
            "-econtent_type", TST_INFO_OID, "-in", str(tst_info), *keys,
            "-certfile", str(signers[0].issuers_pem_path),
        )
    body = bytes([0x30, 0x03, 0x02, 0x01, status]) + signed  # PKIStatusInfo, then the token
    return b"\x30" + _der_length(len(body)) + body


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        tsa = self.server.tsa
        query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        tsa.queries.append(query)
        if tsa.mode == "unavailable":
            self._send(503, b"down for maintenance", "text/plain")
        elif tsa.mode == "garbage":
            self._send(200, b"<html>not a timestamp</html>", REPLY_TYPE)
        elif self.headers.get("Content-Type") != QUERY_TYPE:
            self._send(415, b"expected " + QUERY_TYPE.encode(), "text/plain")
        else:
            self._send(200, tsa.reply(query), REPLY_TYPE)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tsa: LocalTsa


@dataclass(kw_only=True)
class LocalTsa:
    """A running TSA; ``mode`` switches it to 503 (``"unavailable"``) or junk (``"garbage"``)."""

    keys: TsaKeys
    url: str
    mode: Mode = "ok"
    queries: list[bytes] = field(default_factory=list)
    _server: _Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def root_pem(self) -> bytes:
        return self.keys.root_pem

    @property
    def chain_pem(self) -> bytes:
        return self.keys.chain_pem

    @classmethod
    def start(cls, keys: TsaKeys) -> LocalTsa:
        server = _Server(("127.0.0.1", 0), _Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                  name="local-tsa", daemon=True)  # close() waits one poll
        tsa = cls(keys=keys, url=f"http://127.0.0.1:{server.server_address[1]}/tsr",
                  _server=server, _thread=thread)
        server.tsa = tsa
        thread.start()
        return tsa

    def reply(self, query: bytes) -> bytes:
        """``openssl ts -reply`` for one DER TimeStampReq (the serial file is shared: locked)."""
        k = self.keys
        with self._lock, tempfile.TemporaryDirectory() as tmp:
            query_file = Path(tmp) / "query.tsq"
            query_file.write_bytes(query)
            return _openssl(
                "ts", "-reply", "-config", str(k.config), "-queryfile", str(query_file),
                "-signer", str(k.tsa_pem_path), "-inkey", str(k.tsa_key_path),
                "-chain", str(k.issuers_pem_path),
            )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
