"""The package's public names, imported on first use (PEP 562).

``workers/__init__.py`` states its public names twice, as type checkers need: in
``__all__``, and as ``if TYPE_CHECKING:`` imports from the modules that define them.
At run time those imports do not run; ``exports(__name__)`` reads them from the
``__init__``'s own source and imports a name's module on first use. So
``from workers import process_start`` loads ``workers.lifetime`` alone, not yt-dlp,
Playwright and httpx: a read command starts without them (``docs/design.md``
"Layers"). This is ``preserver/_lazy.py`` again, as ``workers`` may not import
``preserver``; ``tests/test_exported_members.py`` checks that ``__all__`` and the
imports agree.
"""

from __future__ import annotations

import ast
import importlib
import sys
import types
from collections.abc import Callable

__all__ = ["exports"]


def _typed_imports(source: str) -> dict[str, str]:
    """``{name: module}`` of the ``from MODULE import NAME`` under ``if TYPE_CHECKING:``."""
    names: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and imp.module:
                    if imp.level:
                        raise ImportError(f"relative import of {imp.module}: write it in full")
                    names.update((a.asname or a.name, imp.module) for a in imp.names)
    return names


def _shadowing(clashes: set[str]) -> type[types.ModuleType]:
    """A package whose public ``NAME`` is defined in its submodule ``NAME``
    (``workers.capture.capture``) keeps the name bound to the function: the import
    system binds each submodule it loads on its package, which would hide it."""

    class Package(types.ModuleType):
        def __setattr__(self, name: str, value: object) -> None:
            if name in clashes and isinstance(value, types.ModuleType):
                value = getattr(value, name)
            super().__setattr__(name, value)

    return Package


def exports(package: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, from its ``TYPE_CHECKING`` imports."""
    module = sys.modules[package]
    source = module.__loader__.get_source(package) if module.__loader__ else None  # type: ignore[attr-defined]
    if source is None:
        raise ImportError(f"{package}: its source is needed to know its public names")
    names = _typed_imports(source)
    module.__class__ = _shadowing({n for n, m in names.items() if m == f"{package}.{n}"})

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if module == package:  # ``from PACKAGE import SUBMODULE``
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
