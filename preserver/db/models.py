"""Database tables (sqlmodel). Nothing here assumes SQLite: types are portable,
times are timezone-aware UTC, and the schema is created by Alembic migrations.

ORM objects never leave ``preserver``'s database layer: the queries in
``preserver.archive`` turn them into frozen views before returning.

``JobState`` (a job's states) and ``utc_now`` live in ``preserver.db.values``, which
the read path loads without SQLAlchemy; they are named here too.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# named here too (explicit re-exports): most modules import them with the models
from preserver.db.values import JobState as JobState  # noqa: PLC0414
from preserver.db.values import utc_now as utc_now  # noqa: PLC0414

# workers.access.BEFORE_ACCESS (a test checks they agree): not imported, so that reading
# the archive does not load the capture workers
BEFORE_ACCESS = "anonymous, direct (captured before access was recorded)"


def core_table(model: type[SQLModel]) -> sa.Table:
    """The core table behind a table model, for set-based statements (multi-row inserts,
    ``ON CONFLICT``). SQLModel creates ``__table__`` without declaring it to type checkers."""
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _time(nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


class Report(SQLModel, table=True):
    __tablename__ = "reports"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    sha256: str = Field(unique=True, max_length=64)
    size: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    media_type: str
    blob_sha256: str = Field(max_length=64, index=True)  # the report file, in the blob store
    ingested_at: datetime = Field(sa_column=_time())


class Target(SQLModel, table=True):
    __tablename__ = "targets"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    url: str
    platform: str = Field(index=True)
    # a short link's key stays (its manifests name it); a capture records what it resolved to
    resolved_key: str | None = None
    status: str = Field(default="unknown", index=True)  # the confirmed availability state
    status_since: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    last_status: str | None = None  # the latest check's result, conclusive or not
    last_message: str | None = None
    last_checked_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    next_check_at: datetime | None = Field(default=None, sa_column=_time(nullable=True, index=True))
    created_at: datetime = Field(sa_column=_time())


class Citation(SQLModel, table=True):
    __tablename__ = "citations"
    __table_args__ = (sa.UniqueConstraint("report_id", "offset", name="uq_citation_report_offset"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True)
    target_id: int = Field(foreign_key="targets.id", index=True)
    line: int
    offset: int
    raw_url: str
    label: str
    start_seconds: int | None = None
    page: int | None = None  # 1-based page of a paged report (PDF); None: the format has none


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_claim", "state", "run_after", "priority"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="capture")
    target_id: int = Field(foreign_key="targets.id", index=True)
    host: str  # politeness group: "youtube", "facebook" or the hostname
    state: str = Field(default=JobState.QUEUED)  # a JobState
    priority: int = 0
    attempts: int = 0
    run_after: datetime = Field(sa_column=_time())
    claimed_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    run_id: str | None = Field(default=None, max_length=32, index=True)  # the run that claimed it
    # a running job's lease (the database's clock): renewed by its run while it works;
    # once past, another worker may take the job over (preserver.db.queue.claim)
    lease_until: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    last_error: str | None = None
    created_at: datetime = Field(sa_column=_time())
    updated_at: datetime = Field(sa_column=_time())


class Run(SQLModel, table=True):
    """One capture run (``preserver run``, a ``serve`` capture job) and the process it
    lives in, so that a later run can tell whether the jobs it claimed are still being
    worked on (``preserver.db.runs``)."""

    __tablename__ = "runs"

    id: str = Field(primary_key=True, max_length=32)  # random hex; names its work directories
    host: str  # the host name
    # boot id and pid namespace: runs with this one's can be looked up in /proc; "" unknown
    machine: str
    pid: int
    # /proc/<pid>/stat starttime: a reused pid is another process
    process_start: int | None = Field(default=None,
                                      sa_column=sa.Column(sa.BigInteger(), nullable=True))
    started_at: datetime = Field(sa_column=_time())
    heartbeat_at: datetime = Field(sa_column=_time())  # the lease, renewed while it runs
    ended_at: datetime | None = Field(default=None, sa_column=_time(nullable=True))


class GroupPause(SQLModel, table=True):
    """Walls met in a row by one politeness group, and the pause they started
    (``preserver.db.pauses``; docs/design.md "Walls"): kept in the database so that
    every run and ``serve`` honours a pause another started."""

    __tablename__ = "group_pauses"

    host: str = Field(primary_key=True)  # the group, as ``jobs.host``: youtube, facebook, a host
    walls: int = 0  # bot checks and login walls in a row
    bot_checks: int = 0  # of those, bot checks
    pauses: int = 0  # pauses since the group's last success: the next lasts base * 2**pauses
    paused_until: datetime | None = Field(default=None, sa_column=_time(nullable=True))
    last_message: str = ""  # the last wall's words
    updated_at: datetime = Field(sa_column=_time())


class Capture(SQLModel, table=True):
    __tablename__ = "captures"

    id: str = Field(primary_key=True, max_length=36)  # uuid, also in the manifest
    target_id: int = Field(foreign_key="targets.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="jobs.id")
    state: str  # complete | partial | failed
    status: str
    message: str = ""
    requested_url: str
    started_at: datetime = Field(sa_column=_time())
    finished_at: datetime = Field(sa_column=_time())
    manifest_sha256: str = Field(unique=True, max_length=64)
    signature_sha256: str = Field(max_length=64, index=True)  # indexed: /files looks it up
    key_id: str = Field(max_length=64)  # SHA-256 of the raw Ed25519 public key that signed
    # how the content was seen: "anonymous, direct", "session LABEL, through its proxy"
    # (workers.access.seen_as of the manifest's collection.access; revision 0005)
    seen_as: str = Field(default=BEFORE_ACCESS, sa_column_kwargs={"server_default": BEFORE_ACCESS})


class CaptureFile(SQLModel, table=True):
    __tablename__ = "files"

    id: int | None = Field(default=None, primary_key=True)
    capture_id: str = Field(foreign_key="captures.id", index=True, max_length=36)
    role: str
    name: str
    sha256: str = Field(index=True, max_length=64)
    size: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    media_type: str


class AvailabilityCheck(SQLModel, table=True):
    __tablename__ = "availability_checks"

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="targets.id", index=True)
    checked_at: datetime = Field(sa_column=_time())
    status: str
    http_status: int | None = None
    message: str = ""
    probe: str  # "capture" | "oembed" | "yt-dlp" | "page"


class Event(SQLModel, table=True):
    """The custody record: every action, in order (the Merkle ledger builds on it)."""

    __tablename__ = "events"
    __table_args__ = (sa.UniqueConstraint("seq", name="uq_events_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    time: datetime = Field(sa_column=_time())
    action: str  # an EventAction (custody.events): report_ingested, capture_stored, ...
    subject: str  # what it is about: a report sha256, a target key, a capture id
    body: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))  # canonical JSON
    # the leaf index in the custody ledger, given in id order when the ledger is sequenced
    seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger(), nullable=True))


class LedgerNode(SQLModel, table=True):
    """A stored subtree hash of the custody ledger (``custody.nodes``): the hash of the
    complete subtree of 2**level leaves starting at leaf idx * 2**level; level 0 is the
    leaf hash. Written when its last leaf is sequenced; ``verify`` recomputes them all."""

    __tablename__ = "ledger_nodes"

    level: int = Field(sa_column=sa.Column(sa.SmallInteger(), primary_key=True,
                                           autoincrement=False))
    idx: int = Field(sa_column=sa.Column(sa.BigInteger(), primary_key=True,
                                         autoincrement=False))
    hash: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))


class CheckpointRow(SQLModel, table=True):
    """A signed tree head of the custody ledger (C2SP tlog-checkpoint text)."""

    __tablename__ = "checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    size: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False, unique=True))
    root: str = Field(max_length=64)  # hex
    text: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))  # signed note
    created_at: datetime = Field(sa_column=_time())
    timestamps_pending: bool = False  # a configured TSA has not answered yet


class CheckpointTimestamp(SQLModel, table=True):
    """An RFC 3161 token over a checkpoint's exact text, verified before it was kept."""

    __tablename__ = "checkpoint_timestamps"
    __table_args__ = (sa.UniqueConstraint("checkpoint_id", "tsa_url", name="uq_timestamp_tsa"),)

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_id: int = Field(foreign_key="checkpoints.id", index=True)
    tsa_url: str
    token: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))  # DER response
    chain: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))  # PEM certificates
    gen_time: datetime = Field(sa_column=_time())


class User(SQLModel, table=True):
    """A person who signs in to the web pages (``preserver user add``; preserver.accounts)."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)  # an accounts.Role: viewer, legal, archivist
    password_hash: str  # argon2id, PHC string form
    created_at: datetime = Field(sa_column=_time())
    disabled: bool = False


class ApiToken(SQLModel, table=True):
    """A bearer token for the HTTP API (``preserver token create``): only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(unique=True, max_length=64)  # custody events name it: token:<label>
    role: str = Field(max_length=16)
    token_sha256: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(sa_column=_time())
    revoked: bool = False


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie's SHA-256 (never the cookie), its user, its CSRF
    secret, and when it ends."""

    __tablename__ = "web_sessions"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie's value
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_time())
    expires_at: datetime = Field(sa_column=_time(index=True))


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, counted to rate-limit logins per name and per address."""

    __tablename__ = "login_failures"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)
    time: datetime = Field(sa_column=_time(index=True))
