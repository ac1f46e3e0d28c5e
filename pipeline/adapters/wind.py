"""Wind / iFinD Excel exports (Chinese headers, units in the header text).

One file per role (``data.files``; defaults are the usual export names):

============== ====================== =====================================================
role           default file           canonical table
============== ====================== =====================================================
prices         股价数据.xlsx           prices (+ banks from 代码 / 简称)            required
balance_sheet  资产负债表.xlsx         balance_sheet (total assets, liabilities, equity)
indicators     银行分析指标.xlsx       balance_sheet (loans, deposits, interbank, CAR, ...)
system         银行指数股价数据.xlsx   system (a sector index's close)
============== ====================== =====================================================

Headers are matched after NFKC normalization (full-width brackets and digits
become ASCII), removal of spaces and of a leading digit prefix (``4资本充足率(%)``
→ ``资本充足率``, unit ``%``), by the table :data:`HEADERS`; every unmatched column
(``成交金额(元)``, ``RWA验证``, empty trailing columns, ...) is recorded as ignored.
``--`` is a missing value; dates may be YYYYMMDD integers or strings or Excel dates.
The balance-sheet frequency is whatever the export has; publication dates come
from ``data.publication_lag_days``. See docs/formats.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.adapters.canonical import named_file
from pipeline.adapters.common import (
    file_roles,
    as_numbers,
    assign_groups,
    check_known_banks,
    column_factor,
    derive_balance_sheet,
    drop_empty_periods,
    finish,
    ignored_columns,
    normalize_text,
    read_table_sheet,
    record,
    schema_kind,
)
from pipeline.adapters.readers import RawSheet
from pipeline.params import DataConfig
from pipeline.quality import QualityRecord
from pipeline.schema import ROW, DataValidationError, Source, build_table, parse_dates
from pipeline.units import split_header

DEFAULT_FILES = {
    "prices": "股价数据.xlsx",
    "balance_sheet": "资产负债表.xlsx",
    "indicators": "银行分析指标.xlsx",
    "system": "银行指数股价数据.xlsx",
}
ROLE_TABLE = {"prices": "prices", "balance_sheet": "balance_sheet", "indicators": "balance_sheet", "system": "system"}

_ID = {"代码": "bank_id", "证券代码": "bank_id", "股票代码": "bank_id", "code": "bank_id", "windcode": "bank_id", "wind_code": "bank_id", "thscode": "bank_id"}
_NAME = {"简称": "name", "证券简称": "name", "股票简称": "name", "名称": "name", "name": "name", "sec_name": "name"}
_DATE = {"日期": "date", "交易日期": "date", "date": "date", "tradedate": "date", "trade_date": "date", "time": "date"}
_PERIOD = {"日期": "period_end", "报告期": "period_end", "截止日期": "period_end", "date": "period_end", "reportdate": "period_end", "report_date": "period_end", "rptdate": "period_end"}

#: Normalized header name (Chinese or Wind English field) → canonical column, per role.
HEADERS: dict[str, dict[str, str]] = {
    "prices": {
        **_ID,
        **_NAME,
        **_DATE,
        "收盘价": "close",
        "close": "close",
        "成交量": "volume",
        "volume": "volume",
        "总市值": "market_cap",
        "总市值1": "market_cap",
        "mkt_cap_ard": "market_cap",
        "mkt_cap": "market_cap",
        "marketcap": "market_cap",
        "总股本": "shares",
        "total_shares": "shares",
    },
    "balance_sheet": {
        **_ID,
        **_NAME,
        **_PERIOD,
        "资产总计": "total_assets",
        "总资产": "total_assets",
        "tot_assets": "total_assets",
        "负债合计": "total_liabilities",
        "总负债": "total_liabilities",
        "tot_liab": "total_liabilities",
        "所有者权益合计": "equity",
        "股东权益合计": "equity",
        "tot_equity": "equity",
    },
    "indicators": {
        **_ID,
        **_NAME,
        **_PERIOD,
        "贷款总额": "loans",
        "贷款余额": "loans",
        "存款余额": "deposits",
        "存款总额": "deposits",
        "同业往来资产": "interbank_assets",
        "同业往来负债": "interbank_liabilities",
        "资本充足率": "car",
        "不良贷款率": "npl",
        "不良贷款比率": "npl",
        "净息差": "nim",
        "存贷比": "ldr",
        "存贷款比例": "ldr",
        "杠杆率": "leverage_ratio",
        "流动性覆盖率": "lcr",
        "流动性比例": "liquidity_ratio",
        "流动性比率": "liquidity_ratio",
        "房地产贷款": "real_estate_loans",
        "贷款增长率": "loan_growth",
    },
    "system": {**_ID, **_NAME, **_DATE, "收盘价": "close", "close": "close"},
}
REQUIRED = {
    "prices": ("bank_id", "date", "close", "market_cap"),
    "balance_sheet": ("bank_id", "period_end"),
    "indicators": ("bank_id", "period_end"),
    "system": ("date", "close"),
}
_PREFIX = re.compile(r"^\d+")


def header_key(header: str) -> tuple[str, str]:
    """(normalized name without digit prefix, unit text) of a Wind header."""
    name, unit = split_header(normalize_text(header))
    return _PREFIX.sub("", name), unit


def read_role(raw: RawSheet, role: str, *, money_unit: str, records: list[QualityRecord]) -> tuple[pd.DataFrame, dict[str, float], dict[str, str]]:
    """Map one export onto canonical columns (plus ``__row__``), dates parsed, rows sorted by key;
    also the unit factors and the source label of each column.

    Footer rows (no date and no value, e.g. ``数据来源：Wind资讯``) are dropped and recorded. A mapped
    header given twice raises; a second alias of a column (``总市值1`` after ``总市值``) is ignored (recorded).
    """
    table = ROLE_TABLE[role]
    mapping = HEADERS[role]
    where: dict[str, int] = {}
    units: dict[str, str] = {}
    unused: list[int] = []
    for j, header in enumerate(raw.headers):
        name, unit = header_key(header)
        column = mapping.get(name)
        if column is None:
            unused.append(j)
            continue
        if column in where:
            first = raw.headers[where[column]]
            if header_key(first)[0] == name:
                raise DataValidationError(f"header {header!r} appears twice (columns {where[column] + 1} and {j + 1})", source=raw.source, table=table,
                                          column=header, allowed="each mapped header once")
            records.append(record(table, "ignored", "alias_column", f"{raw.source}: column {header!r} ignored: {column} is read from column {first!r}"))
            continue
        where[column], units[column] = j, unit
    missing = [c for c in REQUIRED[role] if c not in where]
    if missing:
        wanted = "; ".join(f"{c}: {', '.join(k for k, v in mapping.items() if v == c)}" for c in missing)
        raise DataValidationError(
            f"header not recognized for {', '.join(missing)} in the {role} export; headers found: {', '.join(h for h in raw.headers if h)}",
            source=raw.source,
            table=table,
            allowed=f"headers (digit prefixes, spaces, units in brackets ignored) {wanted}",
        )
    ignored_columns(raw.headers, unused, table=table, source=raw.source, records=records, why=f"not mapped for the {role} export")
    date_col = "date" if "date" in where else "period_end"
    frame = pd.DataFrame({c: raw.column(j) for c, j in where.items()})
    frame[ROW] = raw.rows
    values = [c for c in where if c not in ("bank_id", "name", date_col)]
    blank = frame[date_col].map(_blank) & frame[values].map(_blank).all(axis=1)
    if blank.any():
        for _, row in frame.loc[blank].iterrows():
            text = " ".join(str(v) for v in raw.frame.loc[raw.rows == row[ROW]].iloc[0].tolist() if not _blank(v))
            records.append(record(table, "ignored", "footer_row", f"{raw.source}: row {row[ROW]} without date or values ignored ({text!r})", n_rows=1))
        frame = frame.loc[~blank.to_numpy()].reset_index(drop=True)
    factors = {
        c: column_factor(units[c], schema_kind(table, c), money_unit=money_unit, source=raw.source, table=table, header=raw.headers[where[c]])
        for c in where
        if c != "name"
    }
    labels = {c: split_header(raw.headers[j])[0] for c, j in where.items()}
    for c in values:
        frame[c] = as_numbers(frame[c])
    keys = {"bank": frame["bank_id"]} if "bank_id" in frame.columns else None
    frame[date_col] = parse_dates(frame[date_col], ctx={"source": raw.source, "table": table, "column": raw.headers[where[date_col]]}, rows=frame[ROW].to_numpy(), keys=keys)
    if "bank_id" in frame.columns:
        frame["bank_id"] = frame["bank_id"].map(lambda v: v.strip() if isinstance(v, str) else v)
        frame = frame.sort_values(["bank_id", date_col], kind="mergesort", key=lambda s: s.astype(str) if s.name == "bank_id" else s)
    else:
        frame = frame.sort_values(date_col, kind="mergesort")
    return frame.reset_index(drop=True), factors, labels


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT or (isinstance(value, str) and value.strip() in ("", "--"))


def _locate(raw_dir: Path, role: str, files: dict, records: list[QualityRecord]) -> tuple[Path, str | None] | None:
    if role in files:
        return named_file(raw_dir, files, role)
    path = raw_dir / DEFAULT_FILES[role]
    if path.is_file():
        return path, None
    if role == "prices":
        raise DataValidationError(
            f"prices file not found; looked for data.files.prices, then {DEFAULT_FILES['prices']} in {raw_dir}",
            source=Source(str(raw_dir)),
            allowed="data.files.prices naming the Wind price export, or a file named 股价数据.xlsx",
        )
    table = ROLE_TABLE[role]
    records.append(record(table, "kept", "file_absent", f"no {role} export (data.files.{role} unset, {path.name} absent in {raw_dir}); its columns are not loaded"))
    return None


def _build_banks(frame: pd.DataFrame, config: DataConfig, records: list[QualityRecord], source: Source) -> pd.DataFrame:
    first = frame.drop_duplicates("bank_id", keep="first")
    names = first["name"] if "name" in first.columns else first["bank_id"]
    if "name" not in first.columns:
        records.append(record("banks", "filled", "name_default", f"{source} has no name column: bank names set to the codes", n_rows=len(first)))
    banks = pd.DataFrame({"bank_id": first["bank_id"].to_numpy(), "name": names.to_numpy(), "group": "pending", ROW: first[ROW].to_numpy()})
    banks = build_table(banks.sort_values("bank_id", kind="mergesort"), "banks", source=source)
    return assign_groups(banks[["bank_id", "name"]], config.bank_groups, records)


def load(config: DataConfig, *, root: Path):
    """Wind/iFinD exports → validated :class:`~pipeline.adapters.common.CanonicalData` and quality records."""
    raw_dir = root / config.raw_dir
    files = file_roles(config.files, tuple(DEFAULT_FILES), fmt="wind")
    records: list[QualityRecord] = []
    tables: dict[str, pd.DataFrame | None] = {}
    sources: dict[str, Source] = {}
    money = config.money_unit

    where = _locate(raw_dir, "prices", files, records)
    raw = read_table_sheet(where[0], sheet=where[1], table="prices", records=records)
    frame, factors, _ = read_role(raw, "prices", money_unit=money, records=records)
    tables["banks"] = _build_banks(frame, config, records, raw.source)
    tables["prices"] = build_table(frame.drop(columns=["name"], errors="ignore"), "prices", source=raw.source, factors=factors)
    sources["banks"] = sources["prices"] = raw.source
    known = set(tables["banks"]["bank_id"])

    parts, part_sources = [], []
    for role in ("balance_sheet", "indicators"):
        where = _locate(raw_dir, role, files, records)
        if where is None:
            continue
        raw = read_table_sheet(where[0], sheet=where[1], table="balance_sheet", records=records, role=role)
        frame, factors, labels = read_role(raw, role, money_unit=money, records=records)
        check_known_banks(frame, known, source=raw.source, table="balance_sheet")
        part = build_table(frame.drop(columns=["name"], errors="ignore"), "balance_sheet", source=raw.source, factors=factors, headers=labels)
        if parts:
            dup = [c for c in part.columns if c in parts[0].columns and c not in ("bank_id", "period_end")]
            if dup:
                records.append(record("balance_sheet", "ignored", "duplicate_column", f"{raw.source}: column(s) {', '.join(dup)} also in {part_sources[0]}; the balance-sheet export's values are used"))
                part = part.drop(columns=dup)
        parts.append(part)
        part_sources.append(str(raw.source))
    if parts:
        bs = parts[0]
        for part in parts[1:]:
            bs = bs.merge(part, on=["bank_id", "period_end"], how="outer", sort=True)
        source = Source(" + ".join(part_sources))
        bs = derive_balance_sheet(drop_empty_periods(bs, records, source=str(source)), records)
        tables["balance_sheet"] = build_table(bs.sort_values(["bank_id", "period_end"], kind="mergesort"), "balance_sheet", source=source)
        sources["balance_sheet"] = source

    where = _locate(raw_dir, "system", files, records)
    if where is not None:
        raw = read_table_sheet(where[0], sheet=where[1], table="system", records=records)
        frame, factors, _ = read_role(raw, "system", money_unit=money, records=records)
        if "bank_id" in frame.columns:
            codes = sorted(set(frame["bank_id"].astype(str)))
            if len(codes) > 1:
                raise DataValidationError(f"the sector-index export holds several codes: {', '.join(codes)}", source=raw.source, table="system", column="代码", allowed="one index per file")
        tables["system"] = build_table(frame[["date", "close", ROW]], "system", source=raw.source, factors=factors)
        sources["system"] = raw.source
    return finish(tables, sources, config, records, raw_dir=raw_dir), records
