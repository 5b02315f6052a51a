"""Fixtures of the red-team suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workers import Workers


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """``preserver worker`` processes on ``tmp_path/config.toml``, all stopped at the end."""
    started = Workers(config=tmp_path / "config.toml", logs=tmp_path / "logs")
    try:
        yield started
    finally:
        started.close()
