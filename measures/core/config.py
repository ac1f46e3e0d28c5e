"""Frozen, keyword-only, validated configurations.

Every estimator's options live in a ``@dataclass(frozen=True, kw_only=True)``
subclass of :class:`Config`. Validation happens in ``__post_init__`` through
``check_choice`` / ``check_range`` so that an unknown option or an out-of-range
value raises at once, naming the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any, Self


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; allowed values: {', '.join(map(repr, allowed))}")


def check_range(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number inside the interval.

    ``low_open`` / ``high_open`` exclude the end points; ``integer`` requires an int.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}={value!r} must be a number")
    if integer and not isinstance(value, int):
        raise ValueError(f"{name}={value!r} must be an integer")
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be finite")
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name}={value!r} is out of range; allowed: {interval}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name}={value!r} is out of range; allowed: {interval}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Base class of all configurations (frozen, keyword-only).

    Subclasses override :meth:`validate`; it runs in ``__post_init__``.
    :meth:`from_mapping` builds one from a params mapping and rejects unknown keys.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise ``ValueError`` naming the field and the allowed values."""

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, *, where: str = "") -> Self:
        """Build from a mapping (e.g. a ``params.yaml`` group); unknown keys raise ``ValueError``."""
        mapping = dict(mapping or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - set(fields))
        if unknown:
            prefix = f"{where}: " if where else ""
            raise ValueError(
                f"{prefix}unknown option(s) {', '.join(unknown)} for {cls.__name__}; "
                f"allowed options: {', '.join(sorted(fields))}"
            )
        return cls(**mapping)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict view (for provenance in artifacts and the report)."""
        return dataclasses.asdict(self)
