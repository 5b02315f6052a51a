"""The open archive: configuration, database, blob store and signing key together.

``open_archive(config, access=...)`` checks the data directory, opens the
database, the blob store and the signing key. Every command that touches the
archive goes through it; ``access`` says how much the command may change:

    Access     archive must exist   creates dirs/key   migrates   writes the database
    CREATE     no                   yes                yes        yes
    UPDATE     yes                  dirs only          yes        yes
    RECORD     yes                  no                 no         yes (custody events)
    READ       yes                  no                 no         no (opened read-only)

Without migrating, a database behind this code's schema is refused, naming
``preserver migrate`` (``migrate_archive``); one ahead of it always is.

The read commands open it with ``read_archive`` instead: the same checks, and the
database through ``db.reading`` (plain SQL, no ORM: docs/design.md "The read path").
This module loads SQLAlchemy only in the functions that need it.
"""

from __future__ import annotations

import enum
import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from manifests import KeyFileError, SigningKey, load_or_create_signing_key, load_signing_key
from preserver.config import Config
from preserver.custody.events import EventAction, record_event
from preserver.db.reading import Reader, open_reader
from preserver.errors import RunError
from storage import BlobStore, LocalBlobStore, StorageError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from preserver.db.engine import Database, SchemaChange

log = logging.getLogger(__name__)


class Access(enum.Enum):
    """How much a command may change the archive it opens (see the module's table)."""

    CREATE = "create"  # ingest, run, preserve, serve: start an archive on first use
    UPDATE = "update"  # audit, checkpoint, export: an existing archive, brought up to date
    RECORD = "record"  # verify: reads everything and records custody events, nothing else
    READ = "read"  # status, links, show, lookup, linkrot: nothing is written anywhere


@dataclass(frozen=True, kw_only=True)
class Archive:
    config: Config
    db: Database
    store: BlobStore
    key: SigningKey

    @property
    def operator(self) -> str:
        return self.config.operator

    def ffmpeg(self) -> str | None:
        """The ffmpeg to use: ``capture.ffmpeg`` when set, else the one on PATH."""
        configured = self.config.capture.ffmpeg
        if configured:
            return configured if Path(configured).is_file() else shutil.which(configured)
        return shutil.which("ffmpeg")

    def chromium(self) -> str | None:
        """The Chromium to use: ``[browser] executable``, a path or a name on PATH."""
        configured = self.config.browser.executable
        if "/" in configured:
            return configured if Path(configured).is_file() else None
        return shutil.which(configured)


@dataclass(frozen=True, kw_only=True)
class FreeSpace:
    """Free space where captures are written: ``tmp/`` and ``blobs/``, one filesystem
    (docs/design.md "Data directory")."""

    path: Path  # the directory measured (the nearest that exists)
    free_bytes: int  # available to this user
    needed_bytes: int  # [capture] max_bytes: the largest capture expected

    @property
    def low(self) -> bool:
        """A capture as large as ``max_bytes`` would not fit: it would wait in ``retry``."""
        return self.free_bytes < self.needed_bytes

    @property
    def fix(self) -> str:
        return (f"free space on the disk of {self.path}, move data_dir to a larger disk, or "
                "lower [capture] max_bytes; captures that did not fit are retried on the "
                "next `preserver run`")

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "free_bytes": self.free_bytes,
                "needed_bytes": self.needed_bytes, "low": self.low,
                "fix": self.fix if self.low else None}


def free_space(config: Config) -> FreeSpace:
    """How much room captures have now; creates and writes nothing."""
    where = (config.tmp_dir, config.blobs_dir, config.data_dir, *config.data_dir.parents)
    path = next((p for p in where if p.is_dir()), Path("/"))
    return FreeSpace(path=path, free_bytes=shutil.disk_usage(path).free,
                     needed_bytes=config.capture.max_bytes)


def prepare_data_dir(config: Config) -> None:
    """Create the data directory layout; fail with the path and the fix when unusable.

    The data directory is private to its owner (0700): which links are being preserved
    is itself sensitive, and the database and blobs inside inherit that protection
    whatever the umask. One found open to others is closed, and the log says so.
    """
    _private_dir(config.data_dir)
    for path in (config.data_dir, config.blobs_dir, config.tmp_dir):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"data directory {path} cannot be created: {exc.strerror or exc}") from exc
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            raise RunError(f"data directory {path} is not readable and writable by this user")


def _private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            path.chmod(0o700)
            log.warning("data directory %s was open to other users (mode %o); now 0700",
                        path, st.st_mode & 0o777)
    except OSError as exc:
        raise RunError(f"data directory {path} cannot be created: {exc.strerror or exc}") from exc


def require_existing(config: Config) -> None:
    """For commands that only read: the archive must already be there.

    A mistyped ``data_dir`` must not quietly become a new, empty archive that then
    "verifies": say where we looked instead.
    """
    hint = f"check data_dir in {config.path or 'config.toml'} or PRESERVER_DATA_DIR"
    if not config.data_dir.is_dir():
        raise RunError(f"no archive at {config.data_dir} ({hint})")
    if not config.database_url and not (config.data_dir / "preserver.db").is_file():
        raise RunError(f"no archive database in {config.data_dir} ({hint})")
    if not (config.keys_dir / "signing.key").is_file():
        raise RunError(f"the archive's signing key is missing: {config.keys_dir / 'signing.key'}")


@dataclass(frozen=True, kw_only=True)
class ReadArchive:
    """The archive as the read commands see it: nothing in it can be written."""

    config: Config
    db: Reader
    store: BlobStore
    key: SigningKey


def open_store(config: Config, *, read_only: bool = False) -> BlobStore:
    """The blob store ``[storage] backend`` names: the data directory's ``blobs/`` (local),
    or the S3 bucket (``storage.s3``, imported only then: boto3 loads only for it).
    ``StorageError`` when it cannot be opened."""
    conf = config.storage
    if conf.backend != "s3":
        return LocalBlobStore(config.blobs_dir, config.tmp_dir, read_only=read_only)
    from storage import S3BlobStore, S3Settings

    settings = S3Settings(bucket=conf.bucket, prefix=conf.prefix,
                          endpoint_url=conf.endpoint_url, region=conf.region,
                          lock_mode="GOVERNANCE" if conf.object_lock_mode == "GOVERNANCE"
                          else "COMPLIANCE", retention=conf.retention,
                          part_size=conf.part_size)
    return S3BlobStore(settings, config.tmp_dir, read_only=read_only)


def _store_and_key(config: Config, *, prepares: bool) -> tuple[BlobStore, SigningKey]:
    try:
        if prepares:
            prepare_data_dir(config)
            return open_store(config), load_or_create_signing_key(config.keys_dir)
        return open_store(config, read_only=True), load_signing_key(config.keys_dir)
    except (StorageError, KeyFileError) as exc:
        raise RunError(str(exc)) from exc


@asynccontextmanager
async def read_archive(config: Config) -> AsyncIterator[ReadArchive]:
    """Open the archive as ``Access.READ`` does, its database through ``db.reading``."""
    require_existing(config)
    store, key = _store_and_key(config, prepares=False)
    async with open_reader(config.db_url) as reader:
        yield ReadArchive(config=config, db=reader, store=store, key=key)


@asynccontextmanager
async def open_archive(config: Config, *,
                       access: Access = Access.CREATE) -> AsyncIterator[Archive]:
    """Open the archive for ``access``; all but ``CREATE`` refuse to start a new one."""
    from preserver.db.engine import Database

    if access is not Access.CREATE:
        require_existing(config)
    prepares = access in (Access.CREATE, Access.UPDATE)
    store, key = _store_and_key(config, prepares=prepares)
    db = await Database.open(config.db_url, migrate_schema=prepares,
                             read_only=access is Access.READ)
    try:
        archive = Archive(config=config, db=db, store=store, key=key)
        if prepares:
            await _record_key_created(archive)
        yield archive
    finally:
        await db.close()


async def _record_key_created(archive: Archive) -> None:
    """Record ``key_created`` for the archive's key once: when it was just made, or when a
    first start was stopped between making the key and recording it (the ledger then names
    no key at all). Checked again under the schema lock, so processes starting together on
    a new archive record it once."""
    async with archive.db.session() as session:
        if not await _key_unrecorded(session, archive.key):
            return
    key = archive.key
    async with archive.db.locked_session() as session:
        if await _key_unrecorded(session, key):
            await record_event(session, action=EventAction.KEY_CREATED, subject=key.key_id,
                               operator=archive.operator,
                               details={"algorithm": "Ed25519", "key_id": key.key_id})


async def _key_unrecorded(session: AsyncSession, key: SigningKey) -> bool:
    from sqlmodel import col, select

    from preserver.db.models import Event

    named = set((await session.scalars(
        select(Event.subject).where(col(Event.action) == EventAction.KEY_CREATED))).all())
    return key.key_id not in named and (key.created or not named)


async def migrate_archive(config: Config) -> SchemaChange:
    """Bring an existing archive's database to the newest schema (``preserver migrate``).

    Only the database changes: no directory or key is created.
    """
    from preserver.db.engine import make_engine, migrate

    require_existing(config)
    engine = make_engine(config.db_url)
    try:
        return await migrate(engine)
    finally:
        await engine.dispose()
