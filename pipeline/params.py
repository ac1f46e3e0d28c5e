"""Typed, validated views of ``params.yaml`` groups.

Each stage reads only the groups it declares in ``dvc.yaml``; these frozen,
keyword-only configurations reject unknown keys and out-of-range values with
the allowed values in the message (see ``measures.core.config``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from measures.core.config import Config, check_choice, check_range

SOURCES = ("synthetic", "files")
FORMATS = ("canonical", "wind", "toolbox")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig(Config):
    """``data``: where the canonical tables come from (docs/parameters.md)."""

    source: str = "synthetic"
    seed: int = 20071012
    start: str | None = "2007-10-12"
    end: str | None = "2020-12-31"
    format: str = "canonical"
    raw_dir: str = "data/raw"
    files: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    currency: str = "CNY"
    money_unit: str = ""
    publication_lag_days: int | None = 120
    bank_groups: Mapping[str, str] = dataclasses.field(default_factory=dict)
    market_states: tuple[Mapping[str, Any], ...] = ()
    # data.screens: validated by the returns stage (measures.screens.ScreensConfig, whose defaults params.yaml holds);
    # kept out of the comparison so that editing the screens module reruns the returns stage only
    screens: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    def validate(self) -> None:
        check_choice("data.source", self.source, SOURCES)
        check_choice("data.format", self.format, FORMATS)
        check_range("data.seed", self.seed, low=0, integer=True)
        if self.publication_lag_days is not None:
            check_range("data.publication_lag_days", self.publication_lag_days, low=0, integer=True)
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is None and self.source == "files":
                continue
            try:
                import pandas as pd

                pd.Timestamp(str(value))
            except ValueError:
                raise ValueError(f"data.{name}={value!r} is not a date; allowed: YYYY-MM-DD") from None


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read ``params.yaml`` as a plain mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file {path} not found")
    with path.open(encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path}: top level must be a mapping of parameter groups")
    return params


def group(params: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (``"measures.covar_qr"``); a missing group raises naming it."""
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"params.yaml has no group {dotted!r} (missing {part!r})")
        node = node[part]
    return node
