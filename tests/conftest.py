"""Shared fixtures: ffmpeg-made media (once per session) and a fixture site per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixture_site import FixtureSite, Media, make_media


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
def work_dir(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d
