"""Who may do what: three roles, each allowed what the one below it is, and more.

    viewer      reads: reports, targets, files, the link-rot dashboard, lookups
    legal       + downloads evidence packages
    archivist   + uploads reports (ingest) and starts runs
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    LEGAL = "legal"
    ARCHIVIST = "archivist"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.LEGAL: 1, Role.ARCHIVIST: 2}


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who a request acts for: a user (by session) or an API token."""

    name: str  # the user's name, or the token's label
    role: Role
    via: str  # "session" or "token"
    session_id: str = ""  # the session's id (its SHA-256) when via == "session"
    csrf: str = ""  # the session's CSRF secret when via == "session"

    @property
    def operator(self) -> str:
        """The name custody events carry for this principal's actions."""
        return self.name if self.via == "session" else f"token:{self.name}"
