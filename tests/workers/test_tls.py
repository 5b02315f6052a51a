"""The page snapshot's server address and TLS session (workers/_tls.py), over real TLS.

The fixture site serves https on 127.0.0.1 with a certificate from a test CA made
by ``cryptography`` (tests/support/tls.py); the client trusts that CA only through
``make_client(verify=…)``. Production's trust (httpx's default: certifi's roots) is
what the untrusted and failing cases run with.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.fixture_site import FixtureSite, html_page
from tests.support.tls import HandshakeFailure, Pki, make_pki
from workers._tls import MAX_CERTIFICATES, tls_session
from workers.net import make_client
from workers.page import PageOutcome, snapshot_page
from workers.types import Status

LOOPBACK = ("127.0.0.1/32",)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def https_site(pki: Pki) -> Iterator[FixtureSite]:
    site = FixtureSite.start(tls=pki.server_context())
    try:
        yield site
    finally:
        site.close()


async def snapshot(url: str, tmp_path: Path, verify: ssl.SSLContext | None) -> PageOutcome:
    async with make_client(allow_private=False, allow_networks=LOOPBACK, timeout=5.0,
                           verify=verify) as client:
        with (tmp_path / "page.warc.gz").open("wb") as out:
            return await snapshot_page(url, client=client, out=out, max_bytes=1 << 20,
                                       deadline=10.0, tmp_dir=tmp_path)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


async def test_https_page_keeps_the_verified_chain(
    pki: Pki, https_site: FixtureSite, tmp_path: Path
) -> None:
    url = https_site.add_bytes("/post", html_page(body="<p>post</p>"), "text/html")

    outcome = await snapshot(url, tmp_path, pki.client_context())

    assert (outcome.status, outcome.http_status, outcome.final_url) == (Status.AVAILABLE, 200, url)
    assert outcome.ip_address == "127.0.0.1"
    tls = outcome.tls
    assert tls is not None
    assert tls.version in ("TLSv1.2", "TLSv1.3")
    negotiated = ssl.create_default_context().get_ciphers()
    assert tls.cipher in {c["name"] for c in negotiated}, tls.cipher
    # Python 3.11: the private _sslobj.get_verified_chain; leaf, intermediate, root
    assert (tls.chain, tls.certificates) == ("verified", 3)
    certs = x509.load_pem_x509_certificates(tls.pem)
    assert [der(c) for c in certs] == [der(pki.server), der(pki.intermediate), der(pki.root)]


async def test_http_page_has_no_tls_but_an_address(site: FixtureSite, tmp_path: Path) -> None:
    url = site.add_bytes("/post", html_page(), "text/html")
    outcome = await snapshot(url, tmp_path, None)
    assert outcome.status is Status.AVAILABLE
    assert (outcome.tls, outcome.ip_address) == (None, "127.0.0.1")


async def test_the_final_hop_decides(
    pki: Pki, https_site: FixtureSite, site: FixtureSite, tmp_path: Path
) -> None:
    plain = site.add_bytes("/landing", html_page(), "text/html")
    start = https_site.add_redirect("/go", plain)
    outcome = await snapshot(start, tmp_path, pki.client_context())
    assert (outcome.hops, outcome.final_url, outcome.tls) == (2, plain, None)

    secure = https_site.add_bytes("/secure", html_page(), "text/html")
    back = site.add_redirect("/up", secure)
    outcome = await snapshot(back, tmp_path, pki.client_context())
    assert (outcome.hops, outcome.final_url) == (2, secure)
    assert outcome.tls is not None and outcome.tls.chain == "verified"


async def test_an_untrusted_certificate_fails_the_page(
    pki: Pki, tmp_path: Path
) -> None:
    site = FixtureSite.start(tls=pki.server_context(self_signed=True))
    try:
        url = site.add_bytes("/post", html_page(), "text/html")
        # production's trust (certifi), and the test CA: neither trusts a self-signed leaf
        for verify in (None, pki.client_context()):
            outcome = await snapshot(url, tmp_path, verify)
            assert outcome.status is Status.ERROR and outcome.transient
            assert "CERTIFICATE_VERIFY_FAILED" in outcome.message, outcome.message
            assert (outcome.hops, outcome.tls, outcome.ip_address) == (0, None, None)
        assert site.hits == []  # nothing was sent over the refused connection
    finally:
        site.close()


async def test_a_failed_handshake_fails_the_page(pki: Pki, tmp_path: Path) -> None:
    server = HandshakeFailure()
    try:
        outcome = await snapshot(server.url, tmp_path, pki.client_context())
    finally:
        server.close()
    assert server.connections >= 1
    assert outcome.status is Status.ERROR and outcome.transient
    assert "HANDSHAKE_FAILURE" in outcome.message, outcome.message
    assert (outcome.hops, outcome.tls) == (0, None)


class _FakeStream:
    """Stands in for httpcore's network stream: an ``SSLObject`` whose chain methods fail
    cannot be made to happen with a real connection."""

    def __init__(self, ssl_object: object) -> None:
        self._ssl_object = ssl_object

    def get_extra_info(self, name: str) -> object:
        return self._ssl_object if name == "ssl_object" else None


class _NoChains:
    """An SSLObject as on a Python without the chain methods (before 3.10)."""

    def __init__(self, leaf: bytes | None) -> None:
        self._leaf = leaf

    def cipher(self) -> tuple[str, str, int]:
        return ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128)

    def version(self) -> str:
        return "TLSv1.3"

    def getpeercert(self, binary_form: bool = False) -> bytes | None:
        return self._leaf


class _BrokenChains(_NoChains):
    """Chain methods that answer garbage, or too many certificates."""

    def __init__(self, leaf: bytes, chain: list[object]) -> None:
        super().__init__(leaf)
        self._chain = chain

    def get_verified_chain(self) -> list[object]:
        return self._chain

    def get_unverified_chain(self) -> list[object]:
        raise ssl.SSLError("no chain")


def _response(ssl_object: object) -> httpx.Response:
    return httpx.Response(200, extensions={"network_stream": _FakeStream(ssl_object)})


def test_fallback_to_the_leaf_and_to_nothing(pki: Pki) -> None:
    leaf = der(pki.server)
    tls = tls_session(_response(_NoChains(leaf)))
    assert tls is not None and (tls.chain, tls.certificates) == ("leaf", 1)
    assert [der(c) for c in x509.load_pem_x509_certificates(tls.pem)] == [leaf]

    tls = tls_session(_response(_NoChains(None)))
    assert tls is not None and (tls.chain, tls.certificates, tls.pem) == ("", 0, b"")
    assert (tls.version, tls.cipher) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256")

    # garbage from the chain method: not kept; the next source is used
    tls = tls_session(_response(_BrokenChains(leaf, [1.5, "x"])))
    assert tls is not None and tls.chain == "leaf"

    # a hostile chain of 1,000 certificates: bounded
    tls = tls_session(_response(_BrokenChains(leaf, [leaf] * 1000)))
    assert tls is not None and (tls.chain, tls.certificates) == ("verified", MAX_CERTIFICATES)
    assert len(x509.load_pem_x509_certificates(tls.pem)) == MAX_CERTIFICATES
