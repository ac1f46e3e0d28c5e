"""The narrow hook through which science code maps work over banks, windows, years or grids.

Estimators that loop over independent units take ``mapper=`` (any object with a
``map(fn, items, *, desc)`` method returning the results in the order of
``items``). The default :data:`SERIAL` runs them in this process; the pipeline's
runner passes a mapper that shows progress and, with a scheduler, spreads the
work over processes or a cluster (docs/extending.md). Results never depend on
the mapper: each unit is computed from its own inputs alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Mapper(Protocol):
    """Applies ``fn`` to each item and returns the results in item order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, desc: str = "") -> list[R]: ...


class SerialMapper:
    """Runs every item in this process, in order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, desc: str = "") -> list[R]:
        return [fn(item) for item in items]


SERIAL: Mapper = SerialMapper()


def map_items(mapper: Mapper | None, fn: Callable[[T], R], items: Sequence[T] | Iterable[T], *, desc: str = "") -> list[R]:
    """``mapper.map(fn, items)`` with :data:`SERIAL` when ``mapper`` is None."""
    return (mapper or SERIAL).map(fn, items, desc=desc)


__all__: list[Any] = ["Mapper", "SerialMapper", "SERIAL", "map_items"]
