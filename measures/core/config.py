"""Frozen, keyword-only, validated configurations.

Every estimator's options live in a ``@dataclass(frozen=True, kw_only=True)``
subclass of :class:`Config`. Validation happens in ``__post_init__`` through
``check_choice`` / ``check_range`` so that an unknown option or an out-of-range
value raises at once, naming the field, the value and what is allowed.

:meth:`Config.from_mapping` builds a configuration from a ``params.yaml`` group:
it converts values from the type hints (YAML lists to tuples, integers to floats,
mappings to nested configurations) and prefixes every message with the group, so
the same class serves the Python API and the pipeline with the same defaults.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Self


class ConfigError(ValueError):
    """A configuration value or key is not allowed; the message names the key, its group and the allowed values."""


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; allowed values: {', '.join(map(repr, allowed))}")


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
    """Raise :class:`ConfigError` unless ``value`` is a finite number inside the interval.

    ``low_open`` / ``high_open`` exclude the end points; ``integer`` requires an int.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}={value!r} must be a number")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{name}={value!r} must be an integer")
    if not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be finite")
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name}={value!r} is out of range; allowed: {interval}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(f"{name}={value!r} is out of range; allowed: {interval}")


def _is_config(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Config)


def _convert(value: Any, tp: Any, where: str) -> Any:
    """``value`` converted to the type hint ``tp`` where the conversion is lossless and unambiguous.

    YAML lists become tuples for ``tuple[...]`` hints (recursively), integers become floats for
    ``float`` hints, mappings become nested :class:`Config` objects. Anything else is returned
    unchanged and left to the configuration's own ``validate``.
    """
    if value is None:
        return None
    if isinstance(value, datetime.date) and (tp is str or str in typing.get_args(tp)):
        return value.isoformat()  # YAML reads an unquoted 2007-10-12 as a date
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        for arg in args:  # a nested config or a tuple wins over the other members of the union
            if (_is_config(arg) and isinstance(value, Mapping)) or (typing.get_origin(arg) is tuple and isinstance(value, list)):
                return _convert(value, arg, where)
        if float in args and isinstance(value, int) and not isinstance(value, bool) and int not in args:
            return float(value)
        return value
    if _is_config(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return tp.from_mapping(value, where=where)
        raise ConfigError(f"{where}={value!r} must be a mapping of the options of {tp.__name__}")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (Mapping, dict) and not isinstance(value, Mapping):
        raise ConfigError(f"{where}={value!r} must be a mapping (key: value lines); allowed: a mapping or null")
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) == len(value):
            return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        return tuple(value)
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Base class of all configurations (frozen, keyword-only).

    Subclasses override :meth:`validate`; it runs in ``__post_init__``.
    :meth:`from_mapping` builds one from a params mapping and rejects unknown keys.
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise :class:`ConfigError` naming the field and the allowed values."""

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, *, where: str = "") -> Self:
        """Build from a mapping (e.g. a ``params.yaml`` group).

        Values are converted from the field type hints (see :func:`_convert`); unknown keys and
        invalid values raise :class:`ConfigError` whose message starts with ``where`` (the
        params group, e.g. ``measures.covar_qr``) and lists the allowed options or values.
        """
        if mapping is not None and not isinstance(mapping, Mapping):
            raise ConfigError(f"{where or cls.__name__}: expected a mapping of options, got {mapping!r}")
        mapping = dict(mapping or {})
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(mapping) - set(fields))
        prefix = f"{where}: " if where else ""
        if unknown:
            raise ConfigError(
                f"{prefix}unknown option(s) {', '.join(unknown)} for {cls.__name__}; "
                f"allowed options: {', '.join(sorted(fields))}"
            )
        hints = typing.get_type_hints(cls)
        values = {k: _convert(v, hints.get(k, Any), f"{where}.{k}" if where else k) for k, v in mapping.items()}
        try:
            return cls(**values)
        except (ValueError, TypeError) as exc:  # every failure of construction is a params error
            message = str(exc)
            if where and not message.startswith(where):
                message = f"{prefix}{message}"
            raise ConfigError(message) from None

    def for_realtime(self) -> Self:
        """The configuration under ``realtime: true``: every value dated t from data up to t.

        The runner calls it on each configuration of a stage that declares the switch; a class
        whose defaults use full-sample quantities overrides it (e.g. ``estimation: full`` becomes
        ``expanding``). The default changes nothing.
        """
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict view (for provenance in artifacts and the report); tuples become lists."""
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
