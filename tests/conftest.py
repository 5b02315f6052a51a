"""Shared fixtures: ffmpeg-made media (once per session), a fixture site per test, local
SNTP servers and RFC 3161 authorities, an S3 server (moto) per session with a locked
bucket per test."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.disk import mount_tmpfs, unmount
from tests.support.fixture_site import FixtureSite, Media, make_media
from tests.support.forbidden import Forbidden
from tests.support.proxy import ForwardProxy
from tests.support.s3 import KEYS, MotoServer
from tests.support.sntp import LocalSntp
from tests.support.tsa import LocalTsa, TsaKeys, make_tsa_keys

if TYPE_CHECKING:
    from tests.support.evidence import Built


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    s = FixtureSite.start()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sntp() -> Iterator[Callable[..., LocalSntp]]:
    """Start local SNTP servers (tests/support/sntp.py): ``sntp(offset=5.0, mode="ok")``;
    each is closed after the test."""
    started: list[LocalSntp] = []

    def start(*, offset: float = 0.0, mode: str = "ok") -> LocalSntp:
        started.append(LocalSntp.start(offset=offset, mode=mode))
        return started[-1]

    try:
        yield start
    finally:
        for server in started:
            server.close()


@pytest.fixture
def forbidden() -> Iterator[Forbidden]:
    """A server nobody may reach (tests/support/forbidden.py), closed after the test."""
    f = Forbidden()
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def proxies() -> Iterator[Callable[..., ForwardProxy]]:
    """Start counting forward proxies (tests/support/proxy.py): ``proxies(username="u",
    password="p")``; each is closed after the test."""
    started: list[ForwardProxy] = []

    def start(**kwargs: str) -> ForwardProxy:
        started.append(ForwardProxy.start(**kwargs))
        return started[-1]

    try:
        yield start
    finally:
        for proxy in started:
            proxy.close()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """A real 1 MiB filesystem (tmpfs) where this process may mount one, else a plain
    directory: ``(path, mounted)``. Tests inject the same fault when not mounted, so a
    disk-full test never skips."""
    where = tmp_path / "small"
    where.mkdir()
    mounted = mount_tmpfs(where, "1m")
    try:
        yield where, mounted
    finally:
        if mounted:
            unmount(where)


# -- local RFC 3161 authorities (tests/support/tsa.py): keys once per session, a server per test --


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


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, media: Media,
          tsa_keys: TsaKeys) -> Iterator[Built]:
    """Report A's evidence package, folder and ZIP (tests/support/evidence.py), built once
    per module that asks for it: slow, so only tests marked ``slow`` do."""
    from tests.support.evidence import built_packages  # imports the application: only here

    with built_packages(tmp_path_factory.mktemp("export"), media, tsa_keys) as packages:
        yield packages


# -- S3: one moto server per session (tests/support/s3.py), a new bucket with Object Lock
# per test, and AWS credentials in the environment (the standard chain is how the store
# finds them); used by tests/storage and tests/hostile.

_bucket_names = itertools.count()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Credentials from the environment, and no ~/.aws or instance metadata of this host."""
    env = {**KEYS, "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def bucket(moto: MotoServer, aws_env: dict[str, str]) -> str:
    return moto.make_bucket(f"evidence-{next(_bucket_names)}")
