"""Package attributes imported on first use, so `import tickaccel` costs nothing it does not need.

A package's ``__init__`` names what it offers and the module each name lives
in (``"module"``, or ``"module:attribute"`` where the public name differs); `exports` returns the module ``__getattr__`` and ``__dir__`` (PEP 562)
that import that module when the name is first read. The command line and
notebooks then see one flat API while a command loads only the layers it runs.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable


def exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for `package`, mapping each public name to its module."""

    def __getattr__(name: str) -> object:
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = where.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # later reads skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(importlib.import_module(package).__dict__) | set(names))

    return __getattr__, __dir__
