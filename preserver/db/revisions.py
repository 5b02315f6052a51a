"""Which schema revisions this code knows, and the verdict on a database's revision,
without SQLAlchemy or Alembic: the read path (``db.reading``) and ``db.engine`` share
them, so every command refuses an older or newer schema in the same words.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from preserver.errors import SchemaBehind, SchemaNewer

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"""^revision(?:: *str)? *= *["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision(?:: *[\w |\[\],]+)? *= *["']([^"']+)["']""",
                            re.MULTILINE)


@functools.cache
def known_revisions() -> tuple[frozenset[str], str]:
    """The revisions this code ships and the newest of them, read from the migration files'
    ``revision``/``down_revision`` lines: a command that only checks the schema starts
    without importing Alembic (a test holds this equal to Alembic's own reading)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        down = _DOWN_REVISION.search(text)
        if found is not None:
            revisions[found.group(1)] = down.group(1) if down is not None else None
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, f"preserver's migrations must have one head, not {sorted(heads)}"
    return frozenset(revisions), heads.pop()


def refuse_newer(current: str | None) -> str:
    """The newest revision this code has; ``SchemaNewer`` when ``current`` (the database's,
    None: no schema) is one it does not know."""
    known, head = known_revisions()
    if current is not None and current not in known:
        raise SchemaNewer(f"the archive's database is at revision {current}, newer than this "
                          f"preserver (which knows revisions up to {head}): upgrade preserver")
    return head


def require_current(current: str | None) -> None:
    """``SchemaNewer`` as ``refuse_newer``; ``SchemaBehind`` unless ``current`` is the newest."""
    head = refuse_newer(current)
    if current != head:
        raise SchemaBehind(f"the archive's database is at revision {current or '(none)'}, this "
                           f"preserver needs {head}: run `preserver migrate`")
