"""Reading units from column headers and converting to the canonical units.

Canonical units (docs/data.md): money amounts in one currency unit (1 = one yuan,
one dollar, ...; the currency is a label of the dataset), ratios as fractions
(0.12 = 12 %), prices and index levels as given, counts as given.

A header may carry its unit in brackets: ``total_assets [10k CNY]``,
``car (%)``, ``资产总计（万元）``, ``收盘价(元)``. :func:`split_header` separates the
name from the unit text and :func:`unit_factor` turns the unit text into the
multiplier that converts the column to canonical units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Multipliers for money amounts, keyed by normalized unit text (currency words removed).
MONEY_SCALES: dict[str, float] = {
    "": 1.0,
    "1": 1.0,
    "元": 1.0,
    "unit": 1.0,
    "units": 1.0,
    "k": 1e3,
    "thousand": 1e3,
    "thousands": 1e3,
    "千元": 1e3,
    "千": 1e3,
    "10k": 1e4,
    "万元": 1e4,
    "万": 1e4,
    "m": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "百万元": 1e6,
    "百万": 1e6,
    "100m": 1e8,
    "亿元": 1e8,
    "亿": 1e8,
    "bn": 1e9,
    "b": 1e9,
    "billion": 1e9,
    "billions": 1e9,
    "十亿元": 1e9,
    "tn": 1e12,
    "trillion": 1e12,
    "万亿元": 1e12,
    "万亿": 1e12,
}

# Multipliers for ratios (canonical: fraction).
RATIO_SCALES: dict[str, float] = {
    "": 1.0,
    "fraction": 1.0,
    "decimal": 1.0,
    "ratio": 1.0,
    "%": 1e-2,
    "pct": 1e-2,
    "percent": 1e-2,
    "bp": 1e-4,
    "bps": 1e-4,
}

# Count units (shares, volume): plain or scaled.
COUNT_SCALES: dict[str, float] = {
    "": 1.0,
    "股": 1.0,
    "shares": 1.0,
    "share": 1.0,
    "手": 100.0,
    "lots": 100.0,
    "k": 1e3,
    "thousand": 1e3,
    "万股": 1e4,
    "万": 1e4,
    "m": 1e6,
    "million": 1e6,
    "亿股": 1e8,
}

# Units accepted for prices, index levels and state values (after currency words are removed).
PLAIN_UNITS = ("", "元", "index", "points", "level")

CURRENCY_WORDS = ("cny", "rmb", "usd", "eur", "gbp", "jpy", "hkd", "yuan", "dollars", "dollar", "euro", "euros")

_BRACKETS = re.compile(r"^(?P<name>.*?)\s*[\[(（]\s*(?P<unit>[^\])）]*)\s*[\])）]\s*$")


@dataclass(frozen=True)
class UnitError(ValueError):
    """A unit text that cannot be read for a column of the given kind."""

    unit: str
    kind: str

    def __str__(self) -> str:
        return f"unit {self.unit!r} cannot be read as a {self.kind} unit; allowed: {', '.join(allowed_units(self.kind))}"


def split_header(header: str) -> tuple[str, str]:
    """Split ``"name [unit]"`` / ``"name (unit)"`` / ``"名称（单位）"`` into ``(name, unit)``.

    A header without brackets has an empty unit.
    """
    text = str(header).strip()
    match = _BRACKETS.match(text)
    if not match:
        return text, ""
    return match.group("name").strip(), match.group("unit").strip()


def _normalize(unit: str) -> str:
    text = unit.strip().lower().replace(" ", "")
    for word in CURRENCY_WORDS:
        text = text.replace(word, "")
    return text.strip("_-/")


def allowed_units(kind: str) -> list[str]:
    table = {"money": MONEY_SCALES, "ratio": RATIO_SCALES, "count": COUNT_SCALES}.get(kind, dict.fromkeys(PLAIN_UNITS, 1.0))
    return sorted(repr(k) if k == "" else k for k in table)


def unit_factor(unit: str, kind: str) -> float:
    """Multiplier converting a column in ``unit`` to canonical units for a column of ``kind``.

    ``kind`` is one of ``money``, ``ratio``, ``count``; any other kind (price,
    level, date, text) accepts only currency words or an empty unit (factor 1).

    Raises
    ------
    UnitError
        When the unit text is not one of the known units for that kind.
    """
    norm = _normalize(unit)
    if kind == "money":
        table = MONEY_SCALES
    elif kind == "ratio":
        table = RATIO_SCALES
    elif kind == "count":
        table = COUNT_SCALES
    else:
        if norm in PLAIN_UNITS:
            return 1.0
        raise UnitError(unit, kind)
    if norm in table:
        return table[norm]
    raise UnitError(unit, kind)
