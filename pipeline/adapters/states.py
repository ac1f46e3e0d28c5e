"""State variables built from raw index series (``data.market_states``).

docs/covar.md wants each state oriented so that larger = more stress. Users turn
raw series (index levels, rates, yields, exchange rates) into such states with a
list of specs, one per state::

    - {name: stock_vol, file: cn_csi300_cgb_yields_daily.csv, column: csi300_close,
       transform: rolling_vol, window: 20}
    - {name: money, file: cn_interbank_rates_daily.csv, column: shibor_1w_pct,
       fallback_column: ibo007_pct}
    - {name: bond, file: cn_csi300_cgb_yields_daily.csv, column: cgb_10y_yield_pct,
       transform: yield_change_loss, duration: 8.5, unit: "%"}
    - {name: fx, file: cn_usdcny_central_parity_monthly.csv, column: usdcny_central_parity_monthly_avg,
       date_column: month, transform: [loss, carry_forward]}

Transforms (applied in order, on the series' own observations after dropping missing values):

* ``level``: the value times the ``unit`` factor.
* ``loss``: ``−Δlog x_t = −(log x_t − log x_{t−1})`` (needs x > 0).
* ``rolling_vol``: sample standard deviation (ddof 1) of the log returns
  ``Δlog x`` over the last ``window`` observations ending at t (full windows only).
* ``yield_change_loss``: bond price loss ``≈ D · Δy_t`` (modified duration ``duration``,
  ``y`` converted to a fraction by ``unit``): a rise in yields is a loss.
* ``carry_forward`` (last step, for monthly or other low-frequency series): a value
  labelled with a date in month m (a monthly average, say) becomes known only after
  month m ends; it is used from the first business day (Mon–Fri) after the month end
  and carried forward until the next value becomes known. No look-ahead.

Then ``sign`` (+1 or −1) multiplies the result. Daily states are placed on the
calendar by exact date (dates the series lacks stay missing); carried-forward
states take the last value known on or before each calendar date.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from measures.core.config import ConfigError
from pipeline.adapters.common import as_numbers, normalize_text, read_table_sheet, record
from pipeline.quality import QualityRecord
from pipeline.schema import DataValidationError, parse_dates, parse_numbers
from pipeline.units import UnitError, allowed_units, unit_factor

TRANSFORMS = ("level", "loss", "rolling_vol", "yield_change_loss", "carry_forward")
SPEC_KEYS = ("name", "file", "sheet", "column", "date_column", "fallback_column", "transform", "window", "duration", "unit", "sign")


def _fail(spec_name: str, message: str, allowed: str) -> ConfigError:
    return ConfigError(f"data.market_states[{spec_name}]: {message}; allowed: {allowed}")


def _check_spec(spec: Mapping, index: int) -> tuple[str, list[str]]:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"data.market_states[{index}]={spec!r} must be a mapping; allowed keys: {', '.join(SPEC_KEYS)}")
    name = str(spec.get("name", index))
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise _fail(name, f"unknown key(s) {', '.join(unknown)}", ", ".join(SPEC_KEYS))
    for key in ("name", "file", "column"):
        if not spec.get(key):
            raise _fail(name, f"missing key {key!r}", ", ".join(SPEC_KEYS))
    steps = spec.get("transform", "level")
    steps = [steps] if isinstance(steps, str) else list(steps)
    for step in steps:
        if step not in TRANSFORMS:
            raise _fail(name, f"transform {step!r} is unknown", ", ".join(TRANSFORMS))
    if "carry_forward" in steps[:-1]:
        raise _fail(name, "carry_forward must be the last transform", "carry_forward last")
    if spec.get("sign", 1) not in (1, -1):
        raise _fail(name, f"sign {spec.get('sign')!r}", "+1 or -1")
    if "rolling_vol" in steps:
        window = spec.get("window")
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise _fail(name, f"rolling_vol needs an integer window >= 2, got {window!r}", "window: 2, 3, ...")
    if "yield_change_loss" in steps:
        duration = spec.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not duration > 0:
            raise _fail(name, f"yield_change_loss needs a duration > 0 (years), got {duration!r}", "duration > 0")
        if "unit" not in spec:
            raise _fail(name, "yield_change_loss needs the unit of the yield column", ", ".join(allowed_units("ratio")))
    return name, steps


def _read_series(spec: Mapping, name: str, root: Path, records: list[QualityRecord]) -> pd.Series:
    path = Path(spec["file"])
    path = path if path.is_absolute() else root / path
    raw = read_table_sheet(path, sheet=spec.get("sheet"), table="market_states", records=records, role=f"market state {name!r}")
    by_name = {normalize_text(h): j for j, h in enumerate(raw.headers) if h}

    def position(column: str) -> int:
        j = by_name.get(normalize_text(column))
        if j is None:
            raise DataValidationError(
                f"column not found for market state {name!r}",
                source=raw.source,
                column=column,
                allowed=f"columns present: {', '.join(h for h in raw.headers if h)}",
            )
        return j

    date_col = spec.get("date_column") or ("date" if "date" in by_name else raw.headers[0])
    ctx = {"source": raw.source, "table": "market_states"}
    dates = parse_dates(raw.column(position(date_col)), ctx={**ctx, "column": date_col}, rows=raw.rows)
    try:
        factor = unit_factor(str(spec.get("unit", "")), "ratio")
    except UnitError as exc:
        raise _fail(name, str(exc), ", ".join(allowed_units("ratio"))) from None
    keys = {"date": dates}
    values = parse_numbers(as_numbers(raw.column(position(spec["column"]))), ctx={**ctx, "column": spec["column"]}, rows=raw.rows, factor=factor, keys=keys)
    if spec.get("fallback_column"):
        fb = spec["fallback_column"]
        backup = parse_numbers(as_numbers(raw.column(position(fb))), ctx={**ctx, "column": fb}, rows=raw.rows, factor=factor, keys=keys)
        use = values.isna() & backup.notna()
        if use.any():
            d = dates[use]
            records.append(record("market_states", "filled", "fallback_column", f"state {name}: {int(use.sum())} missing value(s) of {spec['column']} taken from {fb} ({raw.source})", n_rows=int(use.sum()), dates=(d.min(), d.max())))
            values = values.where(~use, backup)
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataValidationError("missing date", **ctx, column=date_col, row=int(raw.rows[i]), allowed="a date on every row")
    series = pd.Series(values.to_numpy(), index=pd.DatetimeIndex(dates.to_numpy()), name=name)
    if series.index.duplicated().any() or not series.index.is_monotonic_increasing:
        order = pd.Series(series.index)
        bad = order.duplicated() | (order < order.shift())
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError("dates are duplicated or not ascending", **ctx, column=date_col, row=int(raw.rows[i]), date=order.iloc[i], allowed="one row per date, ascending")
    missing = series.isna()
    if missing.any():
        d = series.index[missing]
        records.append(record("market_states", "excluded", "missing_source_value", f"state {name}: {int(missing.sum())} date(s) with {spec['column']} missing in {raw.source} skipped", n_rows=int(missing.sum()), dates=(d.min(), d.max())))
    return series[~missing]


def _apply(series: pd.Series, step: str, spec: Mapping, name: str) -> pd.Series:
    if step == "level":
        return series
    if step in ("loss", "rolling_vol"):
        bad = series <= 0
        if bad.any():
            raise _fail(name, f"{step} needs positive values; {series.index[bad][0]:%Y-%m-%d} has {float(series[bad].iloc[0])!r}", "values > 0")
        ret = np.log(series).diff()
        if step == "loss":
            return -ret
        return ret.rolling(int(spec["window"]), min_periods=int(spec["window"])).std(ddof=1)
    if step == "yield_change_loss":
        return float(spec["duration"]) * series.diff()
    # carry_forward: available from the first business day after the labelled month ends
    month_end = series.index + pd.offsets.MonthEnd(0)
    available = month_end + pd.offsets.BDay(1)
    return pd.Series(series.to_numpy(), index=pd.DatetimeIndex(available), name=series.name)


def build_market_states(
    specs: Sequence[Mapping],
    *,
    root: str | Path,
    calendar: pd.DatetimeIndex | None = None,
    quality: list[QualityRecord] | None = None,
) -> pd.DataFrame:
    """Build oriented state variables from raw series files.

    Parameters
    ----------
    specs
        ``data.market_states``: one mapping per state (keys in the module docstring).
    root
        Directory that relative ``file`` paths are read from (the ingest stage passes ``data.raw_dir``).
    calendar
        Dates of the output (e.g. the trading days of the prices table). Default: the
        union of the dates of the daily (not carried-forward) states, else business days.
    quality
        List that receives a :class:`QualityRecord` for every fallback, skipped value
        and dropped date.

    Returns
    -------
    DataFrame
        ``date`` and one float column per state, sorted by date; dates on which every
        state is missing are dropped (recorded).
    """
    records = quality if quality is not None else []
    root = Path(root)
    if not specs:
        raise ConfigError("data.market_states is empty; allowed: one or more state specs")
    daily: dict[str, pd.Series] = {}
    carried: dict[str, pd.Series] = {}
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        name, steps = _check_spec(spec, index)
        if name in seen:
            raise _fail(name, "duplicate state name", "distinct names")
        seen.add(name)
        series = _read_series(spec, name, root, records)
        for step in steps:
            series = _apply(series, step, spec, name)
        series = series.dropna() * float(spec.get("sign", 1))
        (carried if steps[-1] == "carry_forward" else daily)[name] = series
    if calendar is None:
        if daily:
            calendar = pd.DatetimeIndex(sorted(set().union(*(s.index for s in daily.values()))))
        else:
            start = min(s.index.min() for s in carried.values())
            end = max(s.index.max() for s in carried.values()) + pd.offsets.MonthEnd(0)
            calendar = pd.bdate_range(start, end)
    calendar = pd.DatetimeIndex(calendar).astype("datetime64[ns]")
    out = pd.DataFrame(index=calendar)
    for spec in specs:
        name = str(spec["name"])
        if name in daily:
            out[name] = daily[name].reindex(calendar)
        else:
            s = carried[name]
            s = s[~s.index.duplicated(keep="last")]
            out[name] = s.reindex(calendar, method="ffill")
    empty = out.isna().all(axis=1).to_numpy()
    if empty.any():
        d = calendar[empty]
        records.append(record("market_states", "excluded", "all_states_missing", f"{int(empty.sum())} calendar date(s) on which no state variable has a value", n_rows=int(empty.sum()), dates=(d.min(), d.max())))
    out = out.loc[~empty]
    out.index.name = "date"
    return out.reset_index()
