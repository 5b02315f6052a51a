"""Local RFC 3161 authorities (``tests/tsa.py``): keys once per session, a server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tsa import LocalTsa, TsaKeys, make_tsa_keys


@pytest.fixture(scope="session")
def tsa_keys(tmp_path_factory: pytest.TempPathFactory) -> TsaKeys:
    return make_tsa_keys(tmp_path_factory.mktemp("tsa"), name="Test TSA")


@pytest.fixture(scope="session")
def rogue_tsa_keys(tmp_path_factory: pytest.TempPathFactory) -> TsaKeys:
    return make_tsa_keys(tmp_path_factory.mktemp("rogue-tsa"), name="Rogue TSA")


@pytest.fixture
def tsa(tsa_keys: TsaKeys) -> Iterator[LocalTsa]:
    """The trusted TSA: ``.url``, ``.root_pem``, ``.chain_pem``; set ``.mode`` to
    ``"unavailable"`` (503) or ``"garbage"`` (200, not a reply) to break it."""
    server = LocalTsa.start(tsa_keys)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def rogue_tsa(rogue_tsa_keys: TsaKeys) -> Iterator[LocalTsa]:
    """A TSA under another CA, which no test trusts."""
    server = LocalTsa.start(rogue_tsa_keys)
    try:
        yield server
    finally:
        server.close()
