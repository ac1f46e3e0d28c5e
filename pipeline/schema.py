"""The canonical tables: the single schema module, parsing and validation.

Every source format (canonical CSV/Parquet/Excel, Wind/iFinD exports, toolbox
workbooks, the embedded simulator) is mapped onto these tidy tables (docs/data.md):

========== ================ =====================================================
table      key              columns
========== ================ =====================================================
banks      bank_id          name, group
prices     bank_id, date    close, market_cap, [shares, volume]
system     date             close (sector index level)            — optional
market_    date             one column per state variable          — optional
states                      (larger = more stress)
balance_   bank_id,         publication_date, total_assets, ..., real_estate_loans
sheet      period_end                                              — optional
sector_    date             one column per industry index          — optional
indices                     (real_estate and sector-loan columns; the fire-sale
                            stress test's sector correlations)
========== ================ =====================================================

:func:`build_table` parses and validates one table and :func:`validate_dataset`
checks the tables against each other. Every rejection raises
:class:`DataValidationError`, whose message names the file, sheet, column,
row, bank, date and value, and what is allowed. Units are documented in
``docs/data.md``; conversion factors come from :mod:`pipeline.units`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ROW = "__row__"  # source row number carried by adapters into build_table
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "--", "-", "—", "#n/a"})


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    ``kind``: text, date, money (currency units), ratio (fraction), count,
    price (currency per share), level (index level or state value).
    ``minimum`` / ``maximum``: the physical bounds (inclusive) or None; a ratio
    outside them is rejected, with a hint when it looks like a percent (docs/data.md).
    """

    name: str
    kind: str
    required: bool
    description: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TableSchema:
    """A canonical table: name, key columns, columns in canonical order."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str
    free_numeric: bool = False  # market_states: any further numeric column is a state variable
    free_kind: str = "state-variable"  # what a free numeric column is (for messages)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}; columns: {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def date_key(self) -> str | None:
        return next((k for k in self.key if self.column(k).kind == "date"), None)


BANKS = TableSchema(
    name="banks",
    key=("bank_id",),
    description="One row per bank: identifier, display name and peer group.",
    columns=(
        Column("bank_id", "text", True, "identifier used in every other table (e.g. ticker '601398.SH')"),
        Column("name", "text", True, "display name"),
        Column("group", "text", True, "peer group, e.g. state-owned / joint-stock / city / rural, or the user's"),
    ),
)

PRICES = TableSchema(
    name="prices",
    key=("bank_id", "date"),
    description="Daily adjusted close and market capitalization per bank and trading day.",
    columns=(
        Column("bank_id", "text", True, "bank identifier (must be in banks)"),
        Column("date", "date", True, "trading day"),
        Column("close", "price", True, "adjusted close price; 0 or missing = no valid price (suspended, delisted, failed)", 0.0),
        Column("market_cap", "money", True, "total market capitalization", 0.0),
        Column("shares", "count", False, "total shares outstanding", 0.0),
        Column("volume", "count", False, "shares traded; 0 = no trading (suspension)", 0.0),
    ),
)

SYSTEM = TableSchema(
    name="system",
    key=("date",),
    description="Optional banking-sector index (used when measures.returns.system = index).",
    columns=(
        Column("date", "date", True, "trading day"),
        Column("close", "level", True, "sector index level (> 0)", 0.0),
    ),
)

MARKET_STATES = TableSchema(
    name="market_states",
    key=("date",),
    description="State variables, one column each, oriented so that larger = more stress (docs/covar.md).",
    columns=(Column("date", "date", True, "trading day"),),
    free_numeric=True,
)

MONEY_COLUMNS = (
    "total_assets",
    "total_liabilities",
    "equity",
    "loans",
    "deposits",
    "securities",
    "liquid_assets",
    "interbank_assets",
    "interbank_liabilities",
    "real_estate_loans",
)
RATIO_COLUMNS = ("car", "leverage_ratio", "lcr", "ldr", "liquidity_ratio", "npl", "nim", "loan_growth")

_BS_DESCRIPTIONS = {  # description, minimum, maximum (ratios as fractions; bounds documented in docs/data.md)
    "total_assets": ("total assets", 0.0, None),
    "total_liabilities": ("total liabilities (book debt D of SRISK)", 0.0, None),
    "equity": ("book equity; may be negative (flagged)", None, None),
    "loans": ("gross loans", 0.0, None),
    "deposits": ("customer deposits", 0.0, None),
    "securities": ("securities held (bonds and other investment securities)", 0.0, None),
    "liquid_assets": ("liquid assets (cash, central-bank reserves, liquid securities)", 0.0, None),
    "interbank_assets": ("claims on other banks (due from banks, interbank lending, reverse repo)", 0.0, None),
    "interbank_liabilities": ("obligations to other banks (due to banks, interbank borrowing, repo)", 0.0, None),
    "real_estate_loans": ("real-estate related loans (part of loans)", 0.0, None),
    "car": ("capital adequacy ratio", 0.0, 1.0),
    "leverage_ratio": ("Basel III leverage ratio (tier-1 capital / exposure)", -1.0, 1.0),
    "lcr": ("liquidity coverage ratio", 0.0, 20.0),
    "ldr": ("loan-to-deposit ratio", 0.0, 5.0),
    "liquidity_ratio": ("liquidity ratio (liquid assets / liquid liabilities)", 0.0, 10.0),
    "npl": ("non-performing loan ratio", 0.0, 1.0),
    "nim": ("net interest margin", -1.0, 1.0),
    "loan_growth": ("year-on-year growth of loans", -1.0, 5.0),
}

BALANCE_SHEET = TableSchema(
    name="balance_sheet",
    key=("bank_id", "period_end"),
    description="Balance-sheet and regulatory ratios per bank and reporting period; used from publication_date on.",
    columns=(
        Column("bank_id", "text", True, "bank identifier (must be in banks)"),
        Column("period_end", "date", True, "end of the reporting period"),
        Column("publication_date", "date", False, "date the figures became public (else data.publication_lag_days)"),
        *(
            Column(name, "money" if name in MONEY_COLUMNS else "ratio", False, *_BS_DESCRIPTIONS[name])
            for name in (*MONEY_COLUMNS, *RATIO_COLUMNS)
        ),
    ),
)

SECTOR_INDICES = TableSchema(
    name="sector_indices",
    key=("date",),
    description=("Optional industry index series, one column each: the real-estate index (stress.firesale.sector_indices"
                 ".real_estate, default real_estate) and one per sector-loan column of the balance sheet (e.g. "
                 "loans_construction); levels or returns (stress.firesale.sector_indices.values). The fire-sale stress "
                 "test estimates its sector correlations from them (docs/firesale.md)."),
    columns=(Column("date", "date", True, "observation date (any frequency: daily, weekly, monthly), strictly increasing"),),
    free_numeric=True,
    free_kind="industry-index",
)

SCHEMAS: dict[str, TableSchema] = {s.name: s for s in (BANKS, PRICES, SYSTEM, MARKET_STATES, BALANCE_SHEET, SECTOR_INDICES)}
REQUIRED_TABLES = ("banks", "prices")


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Source:
    """Where a table came from: a file (and sheet), for error messages."""

    file: str
    sheet: str | None = None

    def __str__(self) -> str:
        return f"{self.file} (sheet {self.sheet!r})" if self.sheet else self.file


class DataValidationError(ValueError):
    """Input data rejected; the message names file, sheet, column, row, bank, date, value and what is allowed."""

    def __init__(
        self,
        problem: str,
        *,
        source: Source | str | None = None,
        table: str | None = None,
        column: str | None = None,
        row: int | None = None,
        bank: str | None = None,
        date: object = None,
        value: object = None,
        allowed: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.table = table
        self.column = column
        self.row = row
        self.bank = bank
        self.date = date
        self.value = value
        self.allowed = allowed
        parts = []
        if source is not None:
            parts.append(str(source))
        if table is not None:
            parts.append(f"table {table}")
        if column is not None:
            parts.append(f"column {column!r}")
        if row is not None:
            parts.append(f"row {row}")
        if bank is not None:
            parts.append(f"bank {bank!r}")
        if date is not None:
            parts.append(f"date {_fmt_date(date)}")
        if value is not None:
            parts.append(f"value {value!r}")
        where = ", ".join(parts)
        message = f"{where}: {problem}" if where else problem
        if allowed:
            message += f" (allowed: {allowed})"
        super().__init__(message)


def _fmt_date(value: object) -> str:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


# --------------------------------------------------------------------------- parsing


def _rows(frame: pd.DataFrame) -> np.ndarray:
    if ROW in frame.columns:
        return frame[ROW].to_numpy()
    return np.arange(2, len(frame) + 2)  # header is row 1


def _is_missing_token(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_TOKENS


def parse_dates(values: pd.Series, *, ctx: dict, rows: np.ndarray, keys: Mapping[str, pd.Series] | None = None) -> pd.Series:
    """Parse a date column: datetimes, ``YYYY-MM-DD`` / ``YYYY/MM/DD`` strings, ``YYYYMMDD`` integers or strings.

    Missing tokens give NaT; anything else that does not parse raises
    :class:`DataValidationError` naming the row (and the bank of ``keys``) and the value.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = pd.to_datetime(values)
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.dt.normalize().astype("datetime64[ns]")
    parsed = []
    for i, value in enumerate(values.tolist()):
        if _is_missing_token(value):
            parsed.append(pd.NaT)
            continue
        try:
            parsed.append(_parse_one_date(value))
        except (ValueError, TypeError, OverflowError):
            raise DataValidationError(
                "cannot parse date",
                **ctx,
                **_where(i, rows, keys),
                value=value,
                allowed="YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or a spreadsheet date",
            ) from None
    return pd.Series(pd.DatetimeIndex(parsed).astype("datetime64[ns]"), index=values.index)


def _parse_one_date(value: object) -> pd.Timestamp:
    if isinstance(value, pd.Timestamp):
        return value.tz_localize(None).normalize() if value.tzinfo else value.normalize()
    if hasattr(value, "year") and hasattr(value, "month"):
        return pd.Timestamp(value).normalize()
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and float(value).is_integer()):
        text = str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(value)
    if len(text) == 8 and text.isdigit():
        return pd.Timestamp(year=int(text[:4]), month=int(text[4:6]), day=int(text[6:]))
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S"):
        try:
            return pd.to_datetime(text, format=fmt).normalize()
        except ValueError:
            continue
    raise ValueError(text)


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def _to_float(value: object) -> float:
    if isinstance(value, str):
        text = value.strip()
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        return float(text)
    return float(value)


def _where(i: int, rows: np.ndarray, keys: Mapping[str, pd.Series] | None) -> dict:
    """Row number of position ``i`` and, when known, its bank and date (for messages)."""
    out: dict = {"row": int(rows[i])}
    for name, values in (keys or {}).items():
        value = values.iloc[i]
        if not _is_missing_token(value):
            out[name] = value
    return out


def parse_numbers(values: pd.Series, *, ctx: dict, rows: np.ndarray, factor: float = 1.0, keys: Mapping[str, pd.Series] | None = None) -> pd.Series:
    """Parse a numeric column to float64 times ``factor``.

    Missing tokens (``''``, ``NA``, ``NaN``, ``--`` ...) give NaN; thousands
    separators are removed; any other non-numeric value, ±inf and a number that
    overflows (also after the unit factor) raise :class:`DataValidationError`
    naming the row (and ``keys``: the bank and date of each position) and the value.
    """
    if pd.api.types.is_bool_dtype(values):
        raise DataValidationError("boolean column where numbers are expected", **ctx, allowed="numbers")
    if pd.api.types.is_numeric_dtype(values):
        out = values.to_numpy(dtype="float64", na_value=np.nan)
    else:
        out = np.empty(len(values), dtype="float64")
        for i, value in enumerate(values.tolist()):
            if _is_missing_token(value):
                out[i] = np.nan
                continue
            if isinstance(value, bool):
                raise DataValidationError("not a number", **ctx, **_where(i, rows, keys), value=value, allowed="numbers")
            try:
                out[i] = _to_float(value)
            except OverflowError:
                out[i] = np.inf
            except (TypeError, ValueError):
                raise DataValidationError(
                    "not a number", **ctx, **_where(i, rows, keys), value=value, allowed=f"numbers or a missing marker ({', '.join(sorted(t for t in MISSING_TOKENS if t))})"
                ) from None
    with np.errstate(over="ignore"):
        scaled = out * factor
    for values_, what in ((out, "infinite value"), (scaled, f"value overflows when the unit factor {factor:g} is applied")):
        bad = np.isinf(values_)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError(what, **ctx, **_where(i, rows, keys), value=float(out[i]), allowed="finite numbers or missing")
    return pd.Series(scaled if factor != 1.0 else out, index=values.index, dtype="float64")


def parse_text(values: pd.Series, *, ctx: dict, rows: np.ndarray) -> pd.Series:
    """Strip text; integers written as numbers become their digits; missing values raise.

    Each distinct value (bank ids repeat on every row) is parsed once.
    """
    items = values.tolist()
    parsed: dict[tuple[type, object], str | None] = {}
    out = []
    for value in items:
        try:
            key = (value.__class__, value)
            text = parsed.get(key, _UNSEEN)
            if text is _UNSEEN:
                text = parsed[key] = _text_value(value)
        except TypeError:  # an unhashable cell (a list in a Parquet column)
            text = _text_value(value)
        out.append(text)
    if None in out:
        i = next(i for i, text in enumerate(out) if text is None)
        raise DataValidationError("missing value in a required text column", **ctx, row=int(rows[i]), value=items[i], allowed="non-empty text")
    return pd.Series(out, index=values.index, dtype=object)


_UNSEEN = object()


def _text_value(value: object) -> str | None:
    """The stripped text of one cell of a text column (None for a missing token)."""
    if _is_missing_token(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# --------------------------------------------------------------------------- building tables


def build_table(
    frame: pd.DataFrame,
    schema: TableSchema | str,
    *,
    source: Source | str,
    factors: Mapping[str, float] | None = None,
    headers: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Parse, convert and validate one canonical table.

    Parameters
    ----------
    frame
        Columns named canonically (adapters rename them); values may still be
        text. An optional ``__row__`` column holds each row's number in the
        source file, used in error messages (default: position + 2).
    schema
        The table's :class:`TableSchema` or its name.
    source
        The file (and sheet) the table came from.
    factors
        Unit multipliers per column (from :func:`pipeline.units.unit_factor`).
    headers
        Source header (without its unit) per canonical column, for the percent hint of a
        ratio out of bounds (default: the canonical name).

    Returns
    -------
    DataFrame
        Canonical columns in schema order (present optional columns only, then
        free state columns for ``market_states``), float64 numbers,
        ``datetime64[ns]`` dates, sorted by key, with a fresh RangeIndex.

    Raises
    ------
    DataValidationError
        Empty table; missing required column; unparseable date; non-numeric or
        infinite value (also after the unit factor); a value outside its column's
        physical bounds (a ratio that looks like a percent without ``[%]`` says so);
        missing key; duplicate key; dates not sorted (ascending within each bank).
    """
    schema = SCHEMAS[schema] if isinstance(schema, str) else schema
    source = Source(source) if isinstance(source, str) else source
    factors = dict(factors or {})
    base = {"source": source, "table": schema.name}
    if frame is None or len(frame) == 0:
        raise DataValidationError("table is empty", **base, allowed="at least one data row")
    present = [c for c in frame.columns if c != ROW]
    missing = [c for c in schema.required if c not in present]
    if missing:
        raise DataValidationError(
            f"missing required column(s) {', '.join(map(repr, missing))}; found: {', '.join(map(str, present))}",
            **base,
            allowed=f"required columns {', '.join(schema.required)}",
        )
    rows = _rows(frame)
    out: dict[str, pd.Series] = {}
    keys: dict[str, pd.Series] = {}  # bank and date of each row, for messages (key columns come first)
    for col in schema.columns:
        if col.name not in frame.columns:
            continue
        ctx = {**base, "column": col.name}
        if col.kind == "text":
            out[col.name] = parse_text(frame[col.name], ctx=ctx, rows=rows)
        elif col.kind == "date":
            out[col.name] = parse_dates(frame[col.name], ctx=ctx, rows=rows, keys=keys)
        else:
            out[col.name] = parse_numbers(frame[col.name], ctx=ctx, rows=rows, factor=factors.get(col.name, 1.0), keys=keys)
        if col.name == "bank_id" and col.name in schema.key:
            keys["bank"] = out[col.name]
        elif col.name == schema.date_key:
            keys["date"] = out[col.name]
    if schema.free_numeric:
        extra = [c for c in present if c not in schema.names]
        if not extra:
            raise DataValidationError(f"no {schema.free_kind} column", **base, allowed="one or more numeric columns besides 'date'")
        for name in extra:
            out[str(name)] = parse_numbers(frame[name], ctx={**base, "column": str(name)}, rows=rows, factor=factors.get(name, 1.0), keys=keys)
    table = pd.DataFrame(out, index=frame.index)
    table[ROW] = rows
    _check_keys(table, schema, base)
    _check_bounds(table, schema, base, factors, dict(headers or {}))
    table = table.drop(columns=ROW).reset_index(drop=True)
    return table


def _row_context(table: pd.DataFrame, i: int, schema: TableSchema) -> dict:
    ctx: dict = {"row": int(table[ROW].iloc[i])}
    if "bank_id" in table.columns:
        ctx["bank"] = table["bank_id"].iloc[i]
    if schema.date_key:
        ctx["date"] = table[schema.date_key].iloc[i]
    return ctx


def _check_keys(table: pd.DataFrame, schema: TableSchema, base: dict) -> None:
    date_key = schema.date_key
    if date_key is not None:
        bad = table[date_key].isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            ctx = _row_context(table, i, schema)
            ctx.pop("date", None)
            raise DataValidationError("missing date in a key column", **base, column=date_key, **ctx, allowed="a date on every row")
    dup = table.duplicated(list(schema.key), keep=False).to_numpy()
    if dup.any():
        idx = np.flatnonzero(dup)
        i, j = int(idx[0]), int(idx[1])
        ctx = _row_context(table, j, schema)
        raise DataValidationError(
            f"duplicate key {', '.join(schema.key)} (also on row {int(table[ROW].iloc[i])})",
            **base,
            column=schema.key[-1],
            **ctx,
            allowed="one row per key",
        )
    if date_key is None:
        return
    group = [k for k in schema.key if k != date_key]
    dates = table[date_key]
    if group:
        same = (table[group[0]] == table[group[0]].shift()).to_numpy()
        earlier = (dates < dates.shift()).to_numpy() & same
        # a bank's rows must also be contiguous
        first_seen = ~table[group[0]].duplicated()
        reentry = (~first_seen & ~(table[group[0]] == table[group[0]].shift())).to_numpy()
        bad = earlier | reentry
    else:
        bad = (dates < dates.shift()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        ctx = _row_context(table, i, schema)
        prev = _fmt_date(dates.iloc[i - 1])
        raise DataValidationError(
            f"rows are not sorted by {', '.join(schema.key)} (previous row {int(table[ROW].iloc[i - 1])} has {date_key} {prev})",
            **base,
            column=date_key,
            **ctx,
            allowed="rows sorted ascending by date within each bank, each bank's rows together",
        )


def _check_bounds(table: pd.DataFrame, schema: TableSchema, base: dict, factors: Mapping[str, float], headers: Mapping[str, str]) -> None:
    """Every value within its column's physical bounds; a ratio read without a unit that would fit
    as a percent gets the hint to write the header with ``[%]``."""
    for col in schema.columns:
        if col.name not in table.columns or (col.minimum is None and col.maximum is None):
            continue
        values = table[col.name].to_numpy()
        lo = -np.inf if col.minimum is None else col.minimum
        hi = np.inf if col.maximum is None else col.maximum
        with np.errstate(invalid="ignore"):
            bad = (values < lo) | (values > hi)
        if not bad.any():
            continue
        i = int(np.flatnonzero(bad)[0])
        value = float(values[i])
        side = "below the allowed minimum" if value < lo else "above the allowed maximum"
        problem = f"value {side}" + (f" ({int(bad.sum())} values of this column are outside)" if bad.sum() > 1 else "")
        allowed = f">= {lo:g}" if col.maximum is None else f"{lo:g} .. {hi:g}"
        if col.kind == "ratio":
            allowed += " as a fraction (0.12 = 12 %)"
            if factors.get(col.name, 1.0) == 1.0 and lo <= value / 100 <= hi:
                problem += f"; looks like percent: write the header as `{headers.get(col.name, col.name)} [%]`"
        raise DataValidationError(problem, **base, column=col.name, **_row_context(table, i, schema), value=value, allowed=allowed)


# --------------------------------------------------------------------------- the dataset


@dataclass
class CanonicalData:
    """The canonical tables (``system``, ``market_states``, ``balance_sheet``, ``sector_indices`` optional),
    the source of each (for messages), the currency label, and the stress episodes
    (name, start, end) when the source lists them (e.g. a toolbox workbook's 'Crises' sheet)."""

    banks: pd.DataFrame
    prices: pd.DataFrame
    system: pd.DataFrame | None = None
    market_states: pd.DataFrame | None = None
    balance_sheet: pd.DataFrame | None = None
    sector_indices: pd.DataFrame | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    currency: str = ""
    episodes: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in SCHEMAS if getattr(self, name) is not None}


def apply_publication_lag(balance_sheet: pd.DataFrame, lag_days: int | None, *, source: Source | str | None = None) -> pd.DataFrame:
    """Fill missing ``publication_date`` as ``period_end + lag_days``.

    Raises :class:`DataValidationError` naming bank and period when a period has no
    publication date and no lag is given, or when a publication date precedes its period end.
    """
    bs = balance_sheet.copy()
    if "publication_date" not in bs.columns:
        bs.insert(2, "publication_date", pd.Series(pd.NaT, index=bs.index, dtype="datetime64[ns]"))
    missing = bs["publication_date"].isna()
    if missing.any():
        if lag_days is None:
            i = int(np.flatnonzero(missing.to_numpy())[0])
            raise DataValidationError(
                "balance-sheet period without a publication date and no publication lag set",
                source=source,
                table="balance_sheet",
                column="publication_date",
                bank=bs["bank_id"].iloc[i],
                date=bs["period_end"].iloc[i],
                allowed="a publication_date column, or data.publication_lag_days in params.yaml",
            )
        bs.loc[missing, "publication_date"] = bs.loc[missing, "period_end"] + pd.Timedelta(days=int(lag_days))
    early = (bs["publication_date"] < bs["period_end"]).to_numpy()
    if early.any():
        i = int(np.flatnonzero(early)[0])
        raise DataValidationError(
            f"publication date {_fmt_date(bs['publication_date'].iloc[i])} precedes the period end",
            source=source,
            table="balance_sheet",
            column="publication_date",
            bank=bs["bank_id"].iloc[i],
            date=bs["period_end"].iloc[i],
            allowed="publication_date >= period_end",
        )
    return bs


def validate_dataset(data: CanonicalData, *, publication_lag_days: int | None = None) -> CanonicalData:
    """Cross-table checks; returns the dataset with publication dates filled.

    Raises :class:`DataValidationError` for an unknown bank in any table (naming the
    table, row position, bank and the known banks) and for balance-sheet periods
    without a publication date or lag.
    """
    known = set(data.banks["bank_id"])
    allowed = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
    for name in ("prices", "balance_sheet"):
        table = getattr(data, name)
        if table is None:
            continue
        unknown = ~table["bank_id"].isin(known)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DataValidationError(
                "unknown bank (not in the banks table)",
                source=data.sources.get(name),
                table=name,
                column="bank_id",
                bank=table["bank_id"].iloc[i],
                allowed=f"bank_id values of the banks table: {allowed}",
            )
    if data.balance_sheet is not None:
        data.balance_sheet = apply_publication_lag(data.balance_sheet, publication_lag_days, source=data.sources.get("balance_sheet"))
    return data


def require_columns(table: pd.DataFrame | None, table_name: str, columns: Sequence[str], *, stage: str) -> None:
    """For stages: fail with a message naming the missing table/columns a stage needs."""
    if table is None:
        raise DataValidationError(f"stage {stage} needs the {table_name} table, which the data source does not provide", table=table_name)
    missing = [c for c in columns if c not in table.columns or table[c].isna().all()]
    if missing:
        raise DataValidationError(
            f"stage {stage} needs column(s) {', '.join(missing)}, missing or empty in the data",
            table=table_name,
            allowed=f"present columns: {', '.join(map(str, table.columns))}",
        )


def trim_period(data: CanonicalData, start: str | None, end: str | None, *, stage: str = "ingest") -> list:
    """Restrict the daily tables to [start, end] in place; then check what is left against the prices.

    Records: one per table that lost rows (``outside_sample_period``), then the alignment
    records of :func:`sample_records` (banks without prices, market states off the calendar).
    """
    from pipeline.quality import QualityRecord

    records = []
    lo = pd.Timestamp(start) if start else None
    hi = pd.Timestamp(end) if end else None
    for name in ("prices", "system", "market_states"):
        table = getattr(data, name)
        if table is None:
            continue
        inside = pd.Series(True, index=table.index)
        if lo is not None:
            inside &= table["date"] >= lo
        if hi is not None:
            inside &= table["date"] <= hi
        out = table[~inside]
        if len(out):
            records.append(
                QualityRecord(stage, name, None, out["date"].min(), out["date"].max(), len(out), "excluded", "outside_sample_period",
                              f"rows outside data.start..data.end ({start} .. {end})")
            )
            setattr(data, name, table[inside].reset_index(drop=True))
    return records + sample_records(data, stage=stage)


def sample_records(data: CanonicalData, *, stage: str = "ingest") -> list:
    """What the prices do not cover, recorded (the tables are kept as they are).

    * a bank of ``banks`` without any price row (``no_prices``, action ``kept``: it stays in the
      banks table and its balance sheet can serve balance-sheet stages, but it has no returns and
      no market-based measure);
    * ``market_states`` rows on dates without any price row (``state_not_trading_day``, kept, with
      the count and the date range: such rows are not days of the returns panel).
    """
    from pipeline.quality import QualityRecord

    records = []
    priced = set(data.prices["bank_id"])
    for bank in data.banks["bank_id"]:
        if bank not in priced:
            records.append(QualityRecord(stage, "prices", str(bank), None, None, 0, "kept", "no_prices",
                                         f"bank {bank} is in the banks table but has no price row in the sample period: "
                                         "no returns and no market-based measures for it"))
    states = data.market_states
    if states is not None and len(states):
        off = states.loc[~states["date"].isin(data.prices["date"].unique()), "date"]  # vectorized, no Timestamp objects
        if len(off):
            records.append(QualityRecord(stage, "market_states", None, off.min(), off.max(), len(off), "kept", "state_not_trading_day",
                                         f"{len(off)} market_states row(s) dated {_fmt_date(off.min())} .. {_fmt_date(off.max())} "
                                         "fall on dates without any price row (not trading days of the prices table)"))
    return records
