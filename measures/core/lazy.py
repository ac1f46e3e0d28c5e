"""Lazy public names of a package (PEP 562), so that a stage pays only for the modules it uses.

A package lists ``_EXPORTS = {name: "defining.module"}`` (a literal: :mod:`pipeline.dag` reads
it to find each stage's import closure) and ends with
``__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of a package whose names are ``exports``.

    ``__getattr__(name)`` imports the module that defines ``name`` on first use and caches the
    object in ``namespace``; an unknown name raises :class:`AttributeError` naming the package.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
