"""Accounts for the web pages and the HTTP API (``preserver web``): users with a role and
an argon2id password, API bearer tokens, web sessions and a login rate limit.

- ``roles``: ``Role`` (viewer < legal < archivist) and ``Principal``, who a request acts for;
- ``passwords``: argon2id hashing;
- ``store``: the database operations, inside the caller's transaction.

Public names are imported on first use (``preserver._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preserver._lazy import exports

if TYPE_CHECKING:
    from preserver.accounts.roles import Principal, Role
    from preserver.accounts.store import (
        add_user,
        begin_attempt,
        create_token,
        end_attempt,
        login_allowed,
        parse_role,
        session_principal,
        sign_in,
        sign_out,
        token_principal,
    )

__all__ = [
    "Principal",
    "Role",
    "add_user",
    "begin_attempt",
    "create_token",
    "end_attempt",
    "login_allowed",
    "parse_role",
    "session_principal",
    "sign_in",
    "sign_out",
    "token_principal",
]

__getattr__, __dir__ = exports(__name__)
