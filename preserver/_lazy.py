"""Lazy public names for the application's subpackages (PEP 562).

Each subpackage's ``__init__`` states its public names once, in ``__all__``, and
maps each to the module that defines it. A name is imported on first use, so
``import preserver.verify.package`` does not load the database layer that
``preserver.verify.archive`` needs, and a command starts with only what it uses.
Type checkers see the same names through the ``if TYPE_CHECKING:`` imports beside
the map; ``tests/test_exported_members.py`` checks that the two agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["exports"]


def exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], object],
                                                                Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``names`` maps name -> module."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
