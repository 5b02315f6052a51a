"""``preserver gc --dry-run`` (``preserver.blobs.gc``): what is recorded is never listed."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from preserver.archive import open_archive
from preserver.blobs import find_garbage
from preserver.config import load_config


class _RecordedWhileListed:
    """A store whose listing ends as another process commits the record of a blob it
    listed (an ingest finishing while ``gc`` runs)."""

    def __init__(self, store: Any, record: Any) -> None:
        self._store, self._record = store, record

    def iter_blobs(self) -> Iterator[str]:
        yield from self._store.iter_blobs()
        self._record()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_blob_recorded_while_the_store_is_listed_is_not_garbage(tmp_path: Path) -> None:
    """The names used to be read before the listing: a blob stored before ``gc`` started
    and recorded while it listed was garbage, though recorded by the time gc printed."""
    config_file = tmp_path / "config.toml"
    config_file.write_text('data_dir = "archive"\noperator = "test-archivist"\n',
                           encoding="utf-8")
    config = load_config(config_file, env={})
    async with open_archive(config) as archive:
        blob = archive.store.put_bytes(b"a report, ingested while gc lists")

        def record() -> None:
            db = sqlite3.connect(config.data_dir / "preserver.db")
            with db:
                db.execute("INSERT INTO reports (name, sha256, size, media_type, blob_sha256, "
                           "ingested_at) VALUES ('r.txt', ?, ?, 'text/plain', ?, "
                           "'2026-11-27 00:00:00.000000')", (blob.sha256, blob.size, blob.sha256))
            db.close()

        racing = dataclasses.replace(archive, store=_RecordedWhileListed(archive.store, record))
        report = await find_garbage(racing)
    assert report.blobs == 1 and report.garbage == ()
