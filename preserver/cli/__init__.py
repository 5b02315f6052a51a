"""The command line: ``preserver COMMAND`` (typer + rich).

- ``commands``: each command parses its options, calls one function of an
  application subpackage, and renders the result; ``main`` is the one error boundary;
- ``blobs``: the blob store's commands (``storage migrate``, ``gc``), on the same ``app``;
- ``commands_worker``: ``preserver worker``, on the same ``app``;
- ``commands_web``: ``preserver web``, ``user add`` and ``token create``, on the same ``app``;
- ``render``: rich tables, progress bars and one-line verdicts.
"""

from __future__ import annotations

from preserver.cli import blobs as _blobs  # noqa: F401 - registers its commands
from preserver.cli import commands_web as _commands_web  # noqa: F401 - registers them
from preserver.cli import commands_worker as _commands_worker  # noqa: F401 - registers it
from preserver.cli.commands import app, main

__all__ = ["app", "main"]
