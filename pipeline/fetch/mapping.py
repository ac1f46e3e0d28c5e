"""Library responses → canonical raw tables (pure functions, no network).

Each function takes the frames a library function returns (layouts in
:mod:`pipeline.fetch.layouts`) and returns a canonical table (docs/formats.md) in
canonical units, plus notes on what it could not fill. Prices:

* ``close``: the back-adjusted close (后复权, akshare ``adjust="hfq"``, baostock
  ``adjustflag="1"``): its returns include dividends and splits;
* ``market_cap`` = unadjusted close × total shares outstanding (总股本), the share count
  of the last change on or before the day (akshare ``stock_zh_a_gbjg_em``: the change
  dates; baostock ``query_profit_data``: the quarter ends). A day before the first
  share record has no market cap (a note);
* ``shares``: that share count; ``volume``: shares traded (akshare reports lots of
  100 shares, 手; converted with :mod:`pipeline.units`).

A day present in one of the two price series only (adjusted, unadjusted) keeps the
other value missing (a note); days a source does not list (suspensions, holidays)
are not filled.
"""

from __future__ import annotations

import pandas as pd

from pipeline.fetch.layouts import LAYOUTS, check_layout
from pipeline.units import unit_factor

PRICE_HEADERS = {"market_cap": "market_cap [CNY]", "shares": "shares [shares]", "volume": "volume [shares]"}


def dates(values) -> pd.DatetimeIndex:
    """Dates as the libraries give them (``datetime.date``, text, datetime64) → a normalized DatetimeIndex."""
    return pd.DatetimeIndex(pd.to_datetime(pd.Series(values).astype(str), errors="coerce")).normalize()


def numbers(values) -> pd.Series:
    """Numbers, text included (baostock returns text; ``''`` = missing)."""
    return pd.to_numeric(pd.Series(values), errors="coerce").astype(float)


def factor(layout: str, column: str, kind: str) -> float:
    """Multiplier converting ``column`` of a response (``layout``: key of LAYOUTS) from its documented unit to canonical units.

    Prices and levels (``kind`` price or level: index closes, rates and yields in %) are kept as given;
    the data section names the unit of a rate (``unit: "%"`` of the market-state spec).
    """
    if kind in ("price", "level"):
        return 1.0
    return unit_factor(LAYOUTS[layout].units.get(column, ""), kind)


def series(frame: pd.DataFrame, layout: str, date_column: str, column: str, kind: str = "level") -> pd.Series:
    """One column of a response as a float series indexed by date (layout checked, unit converted, sorted)."""
    check_layout(frame, layout)
    out = pd.Series(numbers(frame[column]).to_numpy() * factor(layout, column, kind), index=dates(frame[date_column]))
    out = out[out.index.notna()].sort_index()
    return out[~out.index.duplicated(keep="last")]


def assemble_prices(bank_id: str, adjusted: pd.Series, unadjusted: pd.Series, volume: pd.Series, shares: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """The prices rows of one bank from its daily series and its share-count history (see the module docstring)."""
    days = adjusted.index.union(unadjusted.index)
    held = shares.dropna()
    count = held.reindex(days, method="ffill") if len(held) else pd.Series(float("nan"), index=days)
    frame = pd.DataFrame({
        "bank_id": bank_id,
        "date": days.strftime("%Y-%m-%d"),
        "close": adjusted.reindex(days).to_numpy(),
        "market_cap": (unadjusted.reindex(days) * count).to_numpy(),
        "shares": count.to_numpy(),
        "volume": volume.reindex(days).to_numpy(),
    })
    notes = []
    one_sided = days.difference(adjusted.index).union(days.difference(unadjusted.index))
    if len(one_sided):
        notes.append(f"{bank_id}: {len(one_sided)} day(s) in only one of the adjusted / unadjusted series "
                     f"({one_sided[0]:%Y-%m-%d} ..), their close or market cap left missing")
    no_count = int(count.isna().sum())
    if no_count:
        notes.append(f"{bank_id}: {no_count} day(s) before the first share-count record, market cap left missing")
    return frame, notes


def akshare_prices(bank_id: str, hfq: pd.DataFrame, raw: pd.DataFrame, shares: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``stock_zh_a_hist`` (adjust ``hfq`` and ``""``) and ``stock_zh_a_gbjg_em`` → prices rows."""
    return assemble_prices(
        bank_id,
        series(hfq, "stock_zh_a_hist", "日期", "收盘", "price"),
        series(raw, "stock_zh_a_hist", "日期", "收盘", "price"),
        series(raw, "stock_zh_a_hist", "日期", "成交量", "count"),
        series(shares, "stock_zh_a_gbjg_em", "变更日期", "总股本", "count"),
    )


def baostock_prices(bank_id: str, adjusted: pd.DataFrame, raw: pd.DataFrame, profit: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``query_history_k_data_plus`` (adjustflag 1 and 3) and ``query_profit_data`` → prices rows."""
    k = "query_history_k_data_plus"
    return assemble_prices(
        bank_id,
        series(adjusted, k, "date", "close", "price"),
        series(raw, k, "date", "close", "price"),
        series(raw, k, "date", "volume", "count"),
        series(profit, "query_profit_data", "statDate", "totalShare", "count"),
    )


def akshare_name(info: pd.DataFrame) -> str | None:
    """The short name (股票简称) in a ``stock_individual_info_em`` item/value frame."""
    check_layout(info, "stock_individual_info_em")
    hits = info.loc[info["item"] == "股票简称", "value"]
    return str(hits.iloc[0]) if len(hits) else None


def baostock_name(basic: pd.DataFrame) -> str | None:
    """The name (code_name) in a ``query_stock_basic`` frame."""
    check_layout(basic, "query_stock_basic")
    return str(basic["code_name"].iloc[0]) if len(basic) else None


def table(columns: dict[str, pd.Series], start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Series with dates → a ``date`` + columns table (outer join on dates, clipped to ``start``..``end``)."""
    frame = pd.DataFrame(columns).sort_index()
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame.index <= pd.Timestamp(end)]
    frame.insert(0, "date", frame.index.strftime("%Y-%m-%d"))
    return frame.reset_index(drop=True)


def prices_table(rows: list[pd.DataFrame], start: str, end: str) -> pd.DataFrame:
    """Rows of every bank → the prices table with units in the headers, clipped to ``start``..``end``."""
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[(frame["date"] >= start) & (frame["date"] <= end)]
    return frame.rename(columns=PRICE_HEADERS).reset_index(drop=True)
