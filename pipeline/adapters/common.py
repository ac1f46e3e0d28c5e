"""Helpers shared by the import adapters: units, groups, derived values, the final checks.

Every adapter ends in :func:`finish`, which merges the state variables built
from ``data.market_states`` specs, runs :func:`pipeline.schema.validate_dataset`
and records the publication dates filled from the lag.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from measures.core.config import ConfigError
from pipeline.adapters.readers import RawSheet, read_sheet
from pipeline.params import DataConfig
from pipeline.quality import QualityRecord
from pipeline.schema import ROW, SCHEMAS, CanonicalData, DataValidationError, Source, validate_dataset
from pipeline.units import UnitError, allowed_units, unit_factor

STAGE = "ingest"
UNASSIGNED = "unassigned"




#: Optional canonical tables every format may add, as canonical files (``data.files.<table>`` or
#: ``data.raw_dir/<table>.<ext>``; :func:`pipeline.adapters.canonical.load_extra_tables`).
EXTRA_TABLES = ("sector_indices",)


def file_roles(files: Mapping[str, object], allowed: tuple[str, ...], *, fmt: str) -> dict:
    """``data.files`` as a dict, refusing keys the format does not know (the ``EXTRA_TABLES`` are known to all)."""
    files = dict(files)
    unknown = sorted(set(files) - set(allowed) - set(EXTRA_TABLES))
    if unknown:
        raise ConfigError(f"data.files has unknown key(s) {', '.join(unknown)} for format {fmt}; allowed keys: {', '.join(allowed)}")
    return files


def record(table: str, action: str, reason: str, detail: str, *, bank: str | None = None, n_rows: int = 0, dates=None) -> QualityRecord:
    """A :class:`QualityRecord` of the ingest stage (``dates``: optional (start, end))."""
    start, end = (None, None) if dates is None else (pd.Timestamp(dates[0]), pd.Timestamp(dates[1]))
    return QualityRecord(STAGE, table, bank, start, end, int(n_rows), action, reason, detail)


def read_table_sheet(path: Path, *, sheet: str | None, table: str, records: list[QualityRecord], role: str | None = None) -> RawSheet:
    """:func:`~pipeline.adapters.readers.read_sheet`, and one 'ignored' record naming the workbook's sheets not read."""
    raw = read_sheet(path, sheet=sheet, role=role or table)
    if raw.others:
        records.append(record(table, "ignored", "unread_sheet", f"{Path(path).name}: sheet(s) {', '.join(map(repr, raw.others))} not read (only sheet {raw.source.sheet!r} is)"))
    return raw


def normalize_text(text: str) -> str:
    """NFKC (full-width → half-width), no spaces, lower case."""
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).lower()


def column_factor(unit: str, kind: str, *, money_unit: str, source: Source, table: str, header: str) -> float:
    """Unit multiplier of a column of ``kind``; money without a unit uses ``data.money_unit``.

    Raises :class:`DataValidationError` naming the file, the column, the unit text and the allowed units.
    """
    if kind == "money" and not unit:
        unit, origin = money_unit, "data.money_unit"
    else:
        origin = "header"
    if kind in ("text", "date") and not unit:
        return 1.0
    try:
        return unit_factor(unit, kind)
    except UnitError:
        raise DataValidationError(
            f"unit {unit!r} (from the {origin}) cannot be read as a {kind} unit",
            source=source,
            table=table,
            column=header,
            value=unit,
            allowed=", ".join(allowed_units(kind)),
        ) from None


def as_numbers(values: pd.Series) -> pd.Series:
    """Fast path: a column that converts cleanly becomes float64; otherwise it is returned
    unchanged so that :func:`pipeline.schema.parse_numbers` reports the offending row."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values
    if any(isinstance(v, bool) for v in values.head(100).tolist()):
        return values
    try:
        return pd.to_numeric(values).astype("float64")
    except (ValueError, TypeError):
        return values


def check_known_banks(frame: pd.DataFrame, known: set[str], *, source: Source, table: str) -> None:
    """Raise naming file, row and bank when a row's bank_id is not in the banks table."""
    ids = frame["bank_id"].astype(str).str.strip()
    bad = ~ids.isin(known).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        listed = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
        raise DataValidationError(
            "unknown bank (not in the banks table built from the prices file)",
            source=source,
            table=table,
            column="bank_id",
            row=int(frame[ROW].iloc[i]) if ROW in frame.columns else None,
            bank=ids.iloc[i],
            allowed=f"bank_id values of the banks table: {listed}",
        )


def group_mapping(bank_groups: Mapping[str, object]) -> dict[str, str]:
    """``data.bank_groups`` as bank → group; accepts bank → group or group → [banks]."""
    out: dict[str, str] = {}
    for key, value in dict(bank_groups).items():
        if isinstance(value, (list, tuple)):
            for bank in value:
                out[str(bank)] = str(key)
        else:
            out[str(key)] = str(value)
    return out


def assign_groups(banks: pd.DataFrame, bank_groups: Mapping[str, object], records: list[QualityRecord], *, default: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Set ``group``: ``data.bank_groups`` first, then ``default`` (from the source), else 'unassigned' (recorded).

    A bank named in ``data.bank_groups`` that is not in the data raises, naming it and the known banks.
    """
    mapping = group_mapping(bank_groups)
    known = list(banks["bank_id"])
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise DataValidationError(
            f"data.bank_groups names bank(s) not in the data: {', '.join(unknown)}",
            table="banks",
            column="group",
            allowed=f"bank_id values: {', '.join(known[:20])}{', ...' if len(known) > 20 else ''}",
        )
    default = dict(default or {})
    groups = []
    for bank in known:
        if bank in mapping:
            groups.append(mapping[bank])
        elif bank in default:
            groups.append(default[bank])
        else:
            groups.append(UNASSIGNED)
            records.append(record("banks", "filled", "group_default", f"no group given for {bank} (data.bank_groups or the source); group set to '{UNASSIGNED}'", bank=bank, n_rows=1))
    out = banks.copy()
    out["group"] = groups
    return out


def derive_balance_sheet(bs: pd.DataFrame, records: list[QualityRecord]) -> pd.DataFrame:
    """Fill absent columns from identities, recording each derivation.

    ``total_liabilities = total_assets − equity``; ``equity = total_assets − total_liabilities``;
    ``ldr = loans / deposits`` (deposits > 0). Only columns wholly absent from the source are derived;
    a derived value outside the column's physical bounds (docs/data.md) is set missing (masked, one
    record per bank naming the values).
    """
    bs = bs.copy()
    rules = (
        ("total_liabilities", ("total_assets", "equity"), lambda f: f["total_assets"] - f["equity"], "total_assets − equity"),
        ("equity", ("total_assets", "total_liabilities"), lambda f: f["total_assets"] - f["total_liabilities"], "total_assets − total_liabilities"),
        ("ldr", ("loans", "deposits"), lambda f: f["loans"] / f["deposits"].where(f["deposits"] > 0), "loans / deposits"),
    )
    for target, needs, rule, formula in rules:
        if target in bs.columns or not all(c in bs.columns for c in needs):
            continue
        values = _within_bounds(rule(bs), bs, target, records)
        bs[target] = values
        n = int(values.notna().sum())
        records.append(record("balance_sheet", "filled", f"derived_{target}", f"{target} derived as {formula} ({n} values)", n_rows=n))
    return bs


def _within_bounds(values: pd.Series, bs: pd.DataFrame, target: str, records: list[QualityRecord]) -> pd.Series:
    col = SCHEMAS["balance_sheet"].column(target)
    lo = -np.inf if col.minimum is None else col.minimum
    hi = np.inf if col.maximum is None else col.maximum
    bad = ((values < lo) | (values > hi) | np.isinf(values)).to_numpy()
    for bank, part in bs.loc[bad].groupby("bank_id", sort=True):
        shown = ", ".join(f"{d:%Y-%m-%d}: {v:g}" for d, v in zip(part["period_end"], values[part.index]))
        records.append(record("balance_sheet", "masked", f"derived_{target}_out_of_bounds",
                              f"derived {target} outside {lo:g} .. {hi:g} set missing ({shown}); check the inputs it is made of",
                              bank=bank, n_rows=len(part), dates=(part["period_end"].min(), part["period_end"].max())))
    return values.where(~bad)


def drop_empty_periods(bs: pd.DataFrame, records: list[QualityRecord], *, source: str) -> pd.DataFrame:
    """Remove balance-sheet rows whose every value column is missing (one record per bank)."""
    values = [c for c in bs.columns if c not in ("bank_id", "period_end", "publication_date", ROW)]
    empty = bs[values].isna().all(axis=1).to_numpy() if values else np.zeros(len(bs), bool)
    if empty.any():
        for bank, part in bs.loc[empty].groupby("bank_id", sort=True):
            dates = pd.to_datetime(part["period_end"])
            records.append(
                record("balance_sheet", "excluded", "all_values_missing", f"{len(part)} period(s) in {source} with every value missing", bank=bank, n_rows=len(part), dates=(dates.min(), dates.max()))
            )
    return bs.loc[~empty].reset_index(drop=True)


def ignored_columns(headers: list[str], positions: list[int], *, table: str, source: Source, records: list[QualityRecord], why: str = "not a canonical column") -> None:
    """One 'ignored' record for the source columns not mapped (empty headers counted together)."""
    named = [headers[j] for j in positions if headers[j]]
    unnamed = [j for j in positions if not headers[j]]
    for name in dict.fromkeys(named):
        count = named.count(name)
        records.append(record(table, "ignored", "unmapped_column", f"{source}: column {name!r}{f' ({count} columns)' if count > 1 else ''} ignored ({why})"))
    if unnamed:
        records.append(record(table, "ignored", "unmapped_column", f"{source}: {len(unnamed)} column(s) without a header ignored"))


def trading_calendar(prices: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.sort(prices["date"].unique())).astype("datetime64[ns]")


def merge_states(existing: pd.DataFrame | None, built: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Outer-join states built from specs onto a market_states table; a name in both raises."""
    if existing is None:
        return built
    clash = sorted(set(existing.columns) & set(built.columns) - {"date"})
    if clash:
        raise DataValidationError(
            f"state variable(s) {', '.join(clash)} defined both in the market_states table and in data.market_states",
            source=source,
            table="market_states",
            allowed="distinct names",
        )
    return existing.merge(built, on="date", how="outer", sort=True)


def finish(tables: dict[str, pd.DataFrame | None], sources: dict[str, Source], config: DataConfig, records: list[QualityRecord], *, raw_dir: Path, episodes: pd.DataFrame | None = None) -> CanonicalData:
    """Add spec-built states, validate the dataset, record lag-filled publication dates."""
    from pipeline.adapters.canonical import load_extra_tables
    from pipeline.adapters.states import build_market_states

    load_extra_tables(config, raw_dir, tables, sources, records)
    if config.market_states:
        built = build_market_states(config.market_states, root=raw_dir, calendar=trading_calendar(tables["prices"]), quality=records)
        tables["market_states"] = merge_states(tables.get("market_states"), built, source=str(sources.get("market_states", "data.market_states")))
        sources.setdefault("market_states", Source("data.market_states"))
    data = CanonicalData(
        banks=tables["banks"],
        prices=tables["prices"],
        system=tables.get("system"),
        market_states=tables.get("market_states"),
        balance_sheet=tables.get("balance_sheet"),
        sector_indices=tables.get("sector_indices"),
        sources=dict(sources),
        currency=config.currency,
        episodes=episodes,
    )
    bs = data.balance_sheet
    n_lag = 0 if bs is None else (len(bs) if "publication_date" not in bs.columns else int(bs["publication_date"].isna().sum()))
    validate_dataset(data, publication_lag_days=config.publication_lag_days)
    if n_lag:
        records.append(record("balance_sheet", "filled", "publication_lag", f"publication_date = period_end + {config.publication_lag_days} days (data.publication_lag_days) for {n_lag} period(s)", n_rows=n_lag))
    return data


def schema_kind(table: str, column: str) -> str:
    """The kind of a canonical column; free state columns count as ratios (unit '%' allowed)."""
    schema = SCHEMAS[table]
    if column in schema.names:
        return schema.column(column).kind
    return "ratio"
