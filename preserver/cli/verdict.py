"""How ``preserver verify`` ends: its exit, from its findings (after they are shown)."""

from __future__ import annotations

from collections.abc import Sequence

import typer
from rich.console import Console

from manifests import Finding, FindingOutcome
from preserver.errors import IntegrityError

__all__ = ["verdict"]


def verdict(err: Console, findings: Sequence[Finding], *, package: bool) -> None:
    """Raise ``IntegrityError`` (exit 1) when a check failed; for a package, exit 3 when
    none failed but some were not done (the key not pinned with ``--key-id``)."""
    failed = [f for f in findings if f.outcome == FindingOutcome.FAILED]
    if failed:
        raise IntegrityError(f"verification failed: {len(failed)} check(s) failed")
    skipped = [f for f in findings if f.outcome == FindingOutcome.NOT_CHECKED]
    if package and skipped:  # as data/verify_package.py: not "verified"
        pin = any(f.check == "pin" for f in skipped)
        err.print(f"[yellow]incomplete:[/] no check failed, but {len(skipped)} not checked"
                  + (": the key was not checked (give --key-id)" if pin else ""),
                  highlight=False)
        raise typer.Exit(3)
