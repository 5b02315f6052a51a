"""RFC 3161 time-stamps from a real local TSA (``openssl ts -reply``), checked by us and
by ``openssl ts -verify``."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from manifests import (
    InvalidCertificate,
    InvalidTimestamp,
    ManifestError,
    TimestampRequest,
    VerificationError,
    timestamp_request,
    tsa_chain_pem,
    verify_timestamp,
    verify_timestamps,
)
from manifests.timestamp import _sort_certificate_set
from tests.support.tsa import (
    QUERY_TYPE,
    REPLY_TYPE,
    Eku,
    LocalTsa,
    TsaKeys,
    make_tsa_keys,
    resign_response,
)

DATA = b"preserver.example/custody\n42\nIaf2HBXO9N3trgdta3OT8dPUqbXIcN9gygxZsZXvFgI=\n"


def post(tsa: LocalTsa, query: bytes) -> httpx.Response:
    return httpx.post(tsa.url, content=query, headers={"Content-Type": QUERY_TYPE}, timeout=10)


def stamp(tsa: LocalTsa, data: bytes = DATA) -> tuple[bytes, TimestampRequest]:
    request = timestamp_request(data)
    reply = post(tsa, request.der)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == REPLY_TYPE
    return reply.content, request


def openssl_ts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "ts", *args], capture_output=True, text=True, check=False)


def flip(token: bytes, at: int) -> bytes:
    altered = bytearray(token)
    altered[at] ^= 0x01
    return bytes(altered)


# --- the request ---------------------------------------------------------------------


def test_request_is_sha256_with_nonce_and_cert_req(tmp_path: Path) -> None:
    request = timestamp_request(DATA)
    (tmp_path / "q.tsq").write_bytes(request.der)
    text = openssl_ts("-query", "-in", str(tmp_path / "q.tsq"), "-text").stdout
    assert "Hash Algorithm: sha256" in text
    assert "Certificate required: yes" in text
    assert f"Nonce: 0x{request.nonce:X}" in text.replace("Nonce: 0x0", "Nonce: 0x")
    imprint = " ".join(f"{b:02x}" for b in hashlib.sha256(DATA).digest())
    assert imprint[:23] in text  # openssl prints the first 8 bytes, then a hyphen
    assert timestamp_request(DATA).nonce != request.nonce


def test_request_over_empty_data_is_refused() -> None:
    with pytest.raises(ManifestError, match="cannot make a request over empty data"):
        timestamp_request(b"")


# --- a real token --------------------------------------------------------------------


def test_real_token_verifies_with_openssl_and_with_us(tsa: LocalTsa, tmp_path: Path) -> None:
    token, request = stamp(tsa)
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "r.tsr").write_bytes(token)
    (tmp_path / "root.pem").write_bytes(tsa.root_pem)
    done = openssl_ts("-verify", "-data", str(tmp_path / "data"), "-in", str(tmp_path / "r.tsr"),
                      "-CAfile", str(tmp_path / "root.pem"))
    assert done.returncode == 0, done.stderr
    assert "Verification: OK" in done.stdout

    gen_time = verify_timestamp(token, DATA, [tsa.root_pem], nonce=request.nonce)
    assert gen_time.utcoffset() == datetime.timedelta(0)
    now = datetime.datetime.now(datetime.UTC)
    assert now - datetime.timedelta(seconds=5) <= gen_time <= now + datetime.timedelta(seconds=1)


def test_openssl_order_of_the_certificate_set_is_accepted(tsa: LocalTsa) -> None:
    # OpenSSL writes the TSA certificate, then its CA: not DER SET OF order, which
    # rfc3161-client alone refuses. Our verification must take the token as it comes.
    token, _ = stamp(tsa)
    assert _sort_certificate_set(token) != token
    assert verify_timestamp(token, DATA, [tsa.root_pem])
    assert verify_timestamp(_sort_certificate_set(token), DATA, [tsa.root_pem])


def test_token_through_an_intermediate_ca_verifies_against_the_root(tmp_path: Path) -> None:
    keys = make_tsa_keys(tmp_path / "tsa", name="Issued TSA", intermediate=True)
    server = LocalTsa.start(keys)
    try:
        token, _ = stamp(server)
    finally:
        server.close()
    assert verify_timestamp(token, DATA, [keys.root_pem])
    assert tsa_chain_pem(token) == keys.chain_pem  # TSA, intermediate, root


def test_each_root_is_tried(tsa: LocalTsa, rogue_tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    assert verify_timestamp(token, DATA, [rogue_tsa.root_pem, tsa.root_pem])
    assert verify_timestamp(token, DATA, [rogue_tsa.root_pem + tsa.root_pem])  # one bundle


def test_chain_pem_is_the_tsa_certificate_then_its_issuers(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    chain = tsa_chain_pem(token)
    assert chain == tsa.chain_pem
    tsa_cert, root = x509.load_pem_x509_certificates(chain)
    assert tsa_cert.issuer == root.subject


# --- failures, each with its own message ---------------------------------------------


def test_flipped_signature_byte(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)  # the ECDSA signature value ends the token
    with pytest.raises(VerificationError, match="timestamp: bad signature"):
        verify_timestamp(flip(token, len(token) - 1), DATA, [tsa.root_pem])


def test_flipped_imprint_byte(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    at = token.index(hashlib.sha256(DATA).digest())
    with pytest.raises(VerificationError, match="timestamp: bad signature: digest failure"):
        verify_timestamp(flip(token, at), DATA, [tsa.root_pem])


def test_token_over_other_data(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa, b"other bytes")
    with pytest.raises(VerificationError, match="message imprint is not the SHA-256 of the data"):
        verify_timestamp(token, DATA, [tsa.root_pem])


def test_nonce_of_another_request(tsa: LocalTsa) -> None:
    token, request = stamp(tsa)
    with pytest.raises(VerificationError, match="timestamp: nonce differs from the request's"):
        verify_timestamp(token, DATA, [tsa.root_pem], nonce=request.nonce + 1)


def test_untrusted_tsa(tsa: LocalTsa, rogue_tsa: LocalTsa) -> None:
    token, _ = stamp(rogue_tsa)  # it even carries its own root: still not trusted
    with pytest.raises(VerificationError, match="does not chain to a trusted root"):
        verify_timestamp(token, DATA, [tsa.root_pem])


def test_no_roots_fails_rather_than_skips(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    with pytest.raises(VerificationError, match="timestamp: no trusted roots configured"):
        verify_timestamp(token, DATA, [])
    with pytest.raises(VerificationError, match="timestamp: no trusted roots configured"):
        verify_timestamps([token], DATA, [])


def test_root_that_is_not_pem(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    with pytest.raises(InvalidCertificate, match="trusted root 2 is not a PEM certificate"):
        verify_timestamp(token, DATA, [tsa.root_pem, b"not a certificate"])


def test_roots_must_be_a_sequence(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    with pytest.raises(TypeError, match="not one PEM"):
        verify_timestamp(token, DATA, tsa.root_pem)  # type: ignore[arg-type]


@pytest.mark.parametrize("eku", ["none", "not critical", "also serverAuth"],
                         ids=["no_eku", "eku_not_critical", "eku_with_server_auth"])
def test_tsa_certificate_without_timestamping_eku(tsa: LocalTsa, tmp_path: Path, eku: Eku) -> None:
    bad = make_tsa_keys(tmp_path / "bad-eku", name="Bad EKU TSA", eku=eku)
    token = resign_response(stamp(tsa)[0], bad)
    with pytest.raises(VerificationError, match="lacks the critical extendedKeyUsage timeStamping"):
        verify_timestamp(token, DATA, [bad.root_pem])


def test_status_not_granted(tsa: LocalTsa) -> None:
    token = resign_response(stamp(tsa)[0], tsa.keys, status=2)
    with pytest.raises(VerificationError, match="timestamp: status is 2, not granted"):
        verify_timestamp(token, DATA, [tsa.root_pem])


def test_two_signers(tsa: LocalTsa, rogue_tsa_keys: TsaKeys) -> None:
    token = resign_response(stamp(tsa)[0], tsa.keys, rogue_tsa_keys)
    with pytest.raises(InvalidTimestamp, match="timestamp: 2 signers; a token has one"):
        verify_timestamp(token, DATA, [tsa.root_pem])


def test_imprint_not_sha256(tsa: LocalTsa, tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(DATA)
    query = subprocess.run(["openssl", "ts", "-query", "-data", str(tmp_path / "data"),
                            "-sha512", "-cert"], capture_output=True, check=True).stdout
    token = post(tsa, query).content
    with pytest.raises(VerificationError, match="imprint hash is 2.16.840.1.101.3.4.2.3, not SHA"):
        verify_timestamp(token, DATA, [tsa.root_pem])


def test_token_without_the_tsa_certificate(tsa: LocalTsa, tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(DATA)
    query = subprocess.run(["openssl", "ts", "-query", "-data", str(tmp_path / "data"),
                            "-sha256"], capture_output=True, check=True).stdout  # no -cert
    token = tsa.reply(query)
    with pytest.raises(VerificationError, match="does not carry the TSA certificate"):
        verify_timestamp(token, DATA, [tsa.root_pem])
    with pytest.raises(InvalidTimestamp, match="does not carry the TSA certificate"):
        tsa_chain_pem(token)


@pytest.mark.parametrize("garbage", [
    b"", b"garbage", b"\x30\x03\x02\x01\x00", b"\x30\x05\x30\x03\x02\x01\x02",
], ids=["empty", "text", "bare_status", "rejection_without_token"])
def test_garbage_der(tsa: LocalTsa, garbage: bytes) -> None:
    with pytest.raises(InvalidTimestamp, match="timestamp: not a DER TimeStampResp with a token"):
        verify_timestamp(garbage, DATA, [tsa.root_pem])
    with pytest.raises(InvalidTimestamp, match="not a DER TimeStampResp"):
        tsa_chain_pem(garbage)


def test_truncated_token(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    with pytest.raises(InvalidTimestamp, match="not a DER TimeStampResp with a token"):
        verify_timestamp(token[:-10], DATA, [tsa.root_pem])


def test_oversized_token(tsa: LocalTsa) -> None:
    with pytest.raises(InvalidTimestamp, match="token is larger than 1048576 bytes"):
        verify_timestamp(b"\x30" * ((1 << 20) + 1), DATA, [tsa.root_pem])


def test_down_tsa_answers_503(tsa: LocalTsa) -> None:
    tsa.mode = "unavailable"
    assert post(tsa, timestamp_request(DATA).der).status_code == 503


def test_garbage_answer_is_not_a_token(tsa: LocalTsa) -> None:
    tsa.mode = "garbage"
    reply = post(tsa, timestamp_request(DATA).der)
    assert reply.status_code == 200
    with pytest.raises(InvalidTimestamp, match="not a DER TimeStampResp with a token"):
        verify_timestamp(reply.content, DATA, [tsa.root_pem])


# --- several tokens --------------------------------------------------------------------


def test_several_tokens_give_several_times(tsa: LocalTsa) -> None:
    first, second = stamp(tsa)[0], stamp(tsa)[0]
    assert len(verify_timestamps([first, second], DATA, [tsa.root_pem])) == 2


def test_a_failing_token_is_left_out(tsa: LocalTsa, rogue_tsa: LocalTsa) -> None:
    good, rogue = stamp(tsa)[0], stamp(rogue_tsa)[0]
    times = verify_timestamps([rogue, b"garbage", good], DATA, [tsa.root_pem])
    assert times == (verify_timestamp(good, DATA, [tsa.root_pem]),)


def test_at_least_one_token_must_verify(tsa: LocalTsa, rogue_tsa: LocalTsa) -> None:
    rogue = stamp(rogue_tsa)[0]
    with pytest.raises(VerificationError,
                       match="no token verified: token 1: .*chain.*; token 2: .*not a DER"):
        verify_timestamps([rogue, b"garbage"], DATA, [tsa.root_pem])


def test_no_tokens(tsa: LocalTsa) -> None:
    with pytest.raises(VerificationError, match="timestamp: no tokens to verify"):
        verify_timestamps([], DATA, [tsa.root_pem])


def test_duplicate_tokens(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    other, _ = stamp(tsa)
    with pytest.raises(VerificationError, match="timestamp: token 3 duplicates token 1"):
        verify_timestamps([token, other, token], DATA, [tsa.root_pem])


def test_duplicate_with_reordered_certificates(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    with pytest.raises(VerificationError, match="timestamp: token 2 duplicates token 1"):
        verify_timestamps([token, _sort_certificate_set(token)], DATA, [tsa.root_pem])


def test_too_many_tokens(tsa: LocalTsa) -> None:
    tokens = [stamp(tsa)[0] for _ in range(9)]
    with pytest.raises(VerificationError, match="timestamp: 9 tokens; at most 8 accepted"):
        verify_timestamps(tokens, DATA, [tsa.root_pem])
    assert len(verify_timestamps(tokens[:2], DATA, [tsa.root_pem], max_tokens=2)) == 2
    with pytest.raises(VerificationError, match="3 tokens; at most 2 accepted"):
        verify_timestamps(tokens[:3], DATA, [tsa.root_pem], max_tokens=2)


def test_tokens_must_be_a_sequence(tsa: LocalTsa) -> None:
    token, _ = stamp(tsa)
    with pytest.raises(TypeError, match="not one token"):
        verify_timestamps(token, DATA, [tsa.root_pem])  # type: ignore[arg-type]


def test_the_system_trust_store_loads_as_roots_without_warnings(tsa: LocalTsa) -> None:
    """Debian's bundle holds roots with non-positive serial numbers; loading it as the
    default trust roots must not warn (warnings are errors here) nor trust our test TSA."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        pytest.skip("no system CA bundle on this machine")
    token = tsa.reply(timestamp_request(b"data").der)
    with pytest.raises(VerificationError, match="does not chain to a trusted root"):
        verify_timestamp(token, b"data", [bundle.read_bytes()])
