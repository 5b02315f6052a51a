"""Users, API tokens, web sessions and the login rate limit, in the archive's database.

Secrets are never stored: a token or a session cookie is kept as its SHA-256, a password
as its argon2id hash. Each function works inside the caller's transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from preserver.accounts.passwords import hash_password, password_matches
from preserver.accounts.roles import Principal, Role
from preserver.db.models import ApiToken, LoginFailure, User, WebSession, core_table
from preserver.db.values import utc_now
from preserver.errors import InputError

TOKEN_PREFIX = "pvt_"  # a token says what it is, so a leaked one is recognised
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_USERS = core_table(User)
_TOKENS = core_table(ApiToken)
_SESSIONS = core_table(WebSession)
_FAILURES = core_table(LoginFailure)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str, *, what: str = "user name") -> str:
    """A user name or token label: letters, digits and ``. _ @ -``, at most 64."""
    if not _NAME.fullmatch(name):
        raise InputError(f"{what} {name[:80]!r} is not allowed: use 1 to 64 letters, digits "
                         "or . _ @ -, starting with a letter or digit")
    return name


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError(f"no role {role[:40]!r}: use one of "
                         f"{', '.join(r.value for r in Role)}") from None


async def add_user(session: AsyncSession, *, name: str, role: Role, password: str) -> None:
    """Add a user; a name already taken is refused."""
    check_name(name)
    if await session.scalar(sa.select(_USERS.c.id).where(_USERS.c.name == name)) is not None:
        raise InputError(f"user {name!r} exists already")
    await session.execute(sa.insert(_USERS).values(
        name=name, role=role.value, password_hash=hash_password(password),
        created_at=utc_now(), disabled=False))


async def create_token(session: AsyncSession, *, label: str, role: Role) -> str:
    """A new API token for ``role``: returned once, kept only as its SHA-256."""
    check_name(label, what="token label")
    if await session.scalar(sa.select(_TOKENS.c.id).where(_TOKENS.c.label == label)) is not None:
        raise InputError(f"a token labelled {label!r} exists already")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await session.execute(sa.insert(_TOKENS).values(
        label=label, role=role.value, token_sha256=_digest(secret), created_at=utc_now(),
        revoked=False))
    return secret


async def token_principal(session: AsyncSession, secret: str) -> Principal | None:
    """Who a bearer token acts for; ``None`` for an unknown or revoked one."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    row = (await session.execute(sa.select(_TOKENS.c.label, _TOKENS.c.role).where(
        _TOKENS.c.token_sha256 == _digest(secret), _TOKENS.c.revoked.is_(False)))).first()
    return None if row is None else Principal(name=row.label, role=Role(row.role), via="token")


def _login_name(name: str) -> str:
    """The name a sign-in is looked up and counted under: a name no user can have (too long,
    or a character outside ``_NAME``, such as a NUL PostgreSQL cannot store) is ``""``,
    which matches no user."""
    return name if _NAME.fullmatch(name) else ""


def address_key(host: str) -> str:
    """What the per-address limit counts a client by: an IPv4 address, or an IPv6
    address's /64 (one subscriber's network: its 2^64 addresses are one client); a host
    that is not an address as it is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


async def begin_attempt(session: AsyncSession, *, name: str, address: str) -> int:
    """Count a sign-in attempt as a failure before its password is checked, and return
    its row. The caller commits it before ``login_allowed`` counts, so attempts sent at
    the same moment see each other and at most the limit of them are checked;
    ``sign_in`` removes the row if the password is right, ``end_attempt`` if the attempt
    is refused unchecked."""
    row = await session.execute(sa.insert(_FAILURES).values(
        name=_login_name(name), address=address_key(address), time=utc_now(),
    ).returning(_FAILURES.c.id))
    return int(row.scalar_one())


async def end_attempt(session: AsyncSession, attempt: int) -> None:
    await session.execute(sa.delete(_FAILURES).where(_FAILURES.c.id == attempt))


async def login_allowed(session: AsyncSession, *, name: str, address: str,
                        window: timedelta, per_name: int, per_address: int) -> bool:
    """Whether a sign-in counted by ``begin_attempt`` may be checked: at most
    ``per_name`` attempts for the name and ``per_address`` from the address (this one
    included) within ``window``. Failures older than ``window`` are deleted."""
    since = utc_now() - window
    # failures older than the window count no more: they go (the table stays small)
    await session.execute(sa.delete(_FAILURES).where(_FAILURES.c.time <= since))
    recent = _FAILURES.c.time > since
    by_name = await session.scalar(sa.select(sa.func.count()).where(
        recent, _FAILURES.c.name == _login_name(name)))
    by_address = await session.scalar(sa.select(sa.func.count()).where(
        recent, _FAILURES.c.address == address_key(address)))
    return (by_name or 0) <= per_name and (by_address or 0) <= per_address


async def sign_in(session: AsyncSession, *, name: str, password: str, attempt: int,
                  lifetime: timedelta, previous: str = "") -> tuple[str, Principal] | None:
    """Check a name and password (argon2 in a thread: the server goes on answering). On
    success a new session, its cookie value (returned once) and principal; the
    ``attempt`` is no longer a failure, and the session the browser held before
    (``previous``, its cookie) is ended. On failure ``None``: the attempt stays counted."""
    row = (await session.execute(sa.select(
        _USERS.c.id, _USERS.c.name, _USERS.c.role, _USERS.c.password_hash).where(
        _USERS.c.name == _login_name(name), _USERS.c.disabled.is_(False)))).first()
    stored = None if row is None else row.password_hash
    if not await asyncio.to_thread(password_matches, stored, password):
        return None
    assert row is not None
    await end_attempt(session, attempt)
    if previous:
        await sign_out(session, _digest(previous))
    cookie, csrf, now = secrets.token_urlsafe(32), secrets.token_hex(32), utc_now()
    await session.execute(sa.insert(_SESSIONS).values(
        id=_digest(cookie), user_id=row.id, csrf=csrf, created_at=now, expires_at=now + lifetime))
    await session.execute(sa.delete(_SESSIONS).where(_SESSIONS.c.expires_at < now))
    return cookie, Principal(name=row.name, role=Role(row.role), via="session",
                             session_id=_digest(cookie), csrf=csrf)


async def session_principal(session: AsyncSession, cookie: str,
                            now: datetime | None = None) -> Principal | None:
    """Who a session cookie signs in; ``None`` for an unknown, expired or disabled one."""
    if not cookie or len(cookie) > 128:
        return None
    row = (await session.execute(
        sa.select(_USERS.c.name, _USERS.c.role, _SESSIONS.c.id, _SESSIONS.c.csrf)
        .join(_USERS, _USERS.c.id == _SESSIONS.c.user_id)
        .where(_SESSIONS.c.id == _digest(cookie), _SESSIONS.c.expires_at > (now or utc_now()),
               _USERS.c.disabled.is_(False)))).first()
    if row is None:
        return None
    return Principal(name=row.name, role=Role(row.role), via="session", session_id=row.id,
                     csrf=row.csrf)


async def sign_out(session: AsyncSession, session_id: str) -> None:
    await session.execute(sa.delete(_SESSIONS).where(_SESSIONS.c.id == session_id))
