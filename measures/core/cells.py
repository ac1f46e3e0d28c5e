"""Spreadsheet-safe text cells (formula-injection guard for CSV and Excel outputs).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is run as a formula by spreadsheet programs (OWASP "CSV injection"). Every CSV or
Excel file the project writes passes its text cells through
:func:`neutralize_formula_cells`, which prefixes such cells with a single quote.
Text that reads as a number (``-0.123***``, ``+1.5e-3``) is left alone: it is a
formatted estimate, not a formula.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Significance marks of every table (panel Table 2, ΔCoVaR tests): p below 1% / 5% / 10%.
STARS = ((0.01, "***"), (0.05, "**"), (0.10, "*"))


def stars(p_value: float) -> str:
    """``***`` / ``**`` / ``*`` for p below 1% / 5% / 10%, else empty (also for NaN)."""
    for level, mark in STARS:
        if p_value < level:
            return mark
    return ""
_NUMBER = re.compile(r"^[-+]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?%?\**$")


def neutralize_cell(value: object) -> object:
    """``'`` + ``value`` when ``value`` is text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def neutralize_formula_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot start a formula."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralize_cell)
    out.columns = [neutralize_cell(c) for c in out.columns]
    return out
