"""Daily log returns, losses, market-value weights and the system return.

Conventions (docs/references.md, Conventions): ``r_t = log(P_t) − log(P_{t−1})`` on the
adjusted close, in decimals; the loss is ``X_t = −r_t``. The system is, by
default, the market-capitalization-weighted sample of banks (Fang–Chen–Yang
2018, docs/references.md):

.. math::

    w_{i,t} = \\frac{W_{i,t-1}}{\\sum_{j \\in A_t} W_{j,t-1}}, \\qquad
    r^{sys}_t = \\log\\Big(1 + \\sum_{i \\in A_t} w_{i,t}\\,(e^{r_{i,t}} - 1)\\Big),

with ``W`` the market capitalization, ``A_t`` the banks with a valid return at
``t``. Weights use the previous day's capitalization, which is known at the
start of day ``t`` (no look-ahead), and the portfolio return is aggregated on
simple returns before taking the log, so the system return is the exact
log return of the value-weighted portfolio.

Data treatments, each reported as an event (never a silent drop):

* a price of 0 or a missing price is no valid price; a firm with no valid price
  after some date (delisted, failed: LEH in the US data) exits at its last
  valid price (``delisted_or_failed``); rows before the first valid price are
  ``no_price_yet``; invalid prices between valid ones are ``missing_price``;
* a date on which every bank's price (and volume, when given) equals the
  previous row's is a vendor-filled non-trading day (``non_trading_day``) and is
  dropped when ``drop_non_trading_days``;
* a trading suspension is a zero-volume day or a run of at least
  ``suspension_min_run`` consecutive zero returns (``suspension``); its returns
  are masked (set missing) or kept;
* the first return after a stretch of missing prices spans several days
  (``return_spans_gap``): kept and flagged;
* the plausibility screens (:mod:`measures.screens`, docs/screens.md) run on the trading
  days before any return or weight: a masked close removes both returns it enters, a
  masked market cap leaves the previous day's cap in the weights, a masked outlier
  removes its return; each screened value is an event (reason ``screen_<rule>``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.screens import ScreensConfig, screen_prices


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReturnsOptions(Config):
    """Options of :func:`compute_returns` (``measures.returns`` in params.yaml).

    system: ``sample`` (market-value-weighted return of the sample banks) or
    ``index`` (log return of the supplied sector index).
    """

    system: str = "sample"
    suspensions: str = "mask"
    suspension_min_run: int = 5
    drop_non_trading_days: bool = True

    def validate(self) -> None:
        check_choice("system", self.system, ("sample", "index"))
        check_choice("suspensions", self.suspensions, ("keep", "mask"))
        check_range("suspension_min_run", self.suspension_min_run, low=1, integer=True)
        check_choice("drop_non_trading_days", self.drop_non_trading_days, (True, False))


@dataclass(frozen=True)
class ReturnsResult:
    """Output of :func:`compute_returns`.

    returns: long (bank_id, date) with ret, loss, market_cap, weight.
    system: by date with ret, loss, n_banks, market_cap (sum of the previous day's caps in the system).
    events: every exclusion / mask / flag with (bank_id, date_start, date_end, n_rows, action, reason, detail).
    """

    returns: pd.DataFrame
    system: pd.DataFrame
    events: pd.DataFrame


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) index pairs of the True runs of a boolean vector."""
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False]))
    diff = np.diff(padded.astype(np.int8))
    starts = np.flatnonzero(diff == 1)
    ends = np.flatnonzero(diff == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _event(bank, dates, i, j, action, reason, detail) -> dict:
    return {
        "bank_id": bank,
        "date_start": dates[i],
        "date_end": dates[j],
        "n_rows": int(j - i + 1),
        "action": action,
        "reason": reason,
        "detail": detail,
    }


def _wide(prices: pd.DataFrame, column: str) -> pd.DataFrame:
    return prices.pivot(index="date", columns="bank_id", values=column).sort_index()


def _non_trading_days(close: pd.DataFrame, volume: pd.DataFrame | None) -> np.ndarray:
    """Dates whose every valid price (and volume) repeats the previous row's (at least two banks)."""
    valid = (close > 0) & (close.shift() > 0)
    same = close.eq(close.shift()) | ~valid
    if volume is not None:
        same &= volume.eq(volume.shift()) | volume.isna() | ~valid
    n_valid = valid.sum(axis=1)
    return (same.all(axis=1) & (n_valid >= 2)).to_numpy()


def trading_days(prices: pd.DataFrame, options: ReturnsOptions | None = None):
    """Wide (date x bank) close, market cap and volume (or None) on the trading days, and the
    events of the dates dropped as vendor-filled holidays (with ``drop_non_trading_days``)."""
    options = options or ReturnsOptions()
    events: list[dict] = []
    close = _wide(prices, "close")
    cap = _wide(prices, "market_cap")
    volume = _wide(prices, "volume") if "volume" in prices.columns and prices["volume"].notna().any() else None
    if options.drop_non_trading_days:
        holiday = _non_trading_days(close, volume)
        for d in close.index[holiday]:
            events.append(
                {"bank_id": None, "date_start": d, "date_end": d, "n_rows": int(close.loc[d].notna().sum()), "action": "excluded",
                 "reason": "non_trading_day", "detail": "every bank's price and volume repeat the previous row (vendor-filled holiday); date dropped"}
            )
        keep = ~holiday
        close, cap = close.loc[keep], cap.loc[keep]
        volume = volume.loc[keep] if volume is not None else None
    return close, cap, volume, events


def compute_returns(
    prices: pd.DataFrame,
    *,
    options: ReturnsOptions | None = None,
    index: pd.DataFrame | None = None,
    screens: ScreensConfig | None = None,
) -> ReturnsResult:
    """Log returns, losses, weights and the system return from canonical prices.

    Parameters
    ----------
    prices
        Canonical ``prices`` table: bank_id, date, close, market_cap, optional volume.
    options
        :class:`ReturnsOptions`.
    index
        Optional sector index (date, close): when given, the system return is its
        log return instead of the value-weighted sample return.
    screens
        :class:`~measures.screens.ScreensConfig` (default: the default screens).

    Returns
    -------
    ReturnsResult

    Raises
    ------
    measures.screens.ScreenFailure
        When a screen whose action is ``fail`` finds a value.
    """
    options = options or ReturnsOptions()
    close, cap, volume, events = trading_days(prices, options)
    dates = close.index
    screened = screen_prices(close, cap, screens)
    screened.raise_failures()
    close, cap, masked = screened.close, screened.cap, screened.masked_returns

    present = prices.assign(_p=True).pivot(index="date", columns="bank_id", values="_p").reindex(dates).notna()
    rets = {}
    for bank in close.columns:
        c = close[bank].to_numpy(dtype=float)
        row_present = present[bank].to_numpy()
        screen = masked[bank].to_numpy()
        valid = np.isfinite(c) & (c > 0)
        ret = np.full(len(c), np.nan)
        if not valid.any():
            events.append(_event(bank, dates, 0, len(c) - 1, "excluded", "no_valid_price", "no positive price in the data") if row_present.any() else None)
            rets[bank] = ret
            continue
        first, last = int(np.flatnonzero(valid)[0]), int(np.flatnonzero(valid)[-1])
        lead = np.flatnonzero((row_present & ~screen)[:first])
        if lead.size:
            events.append(_event(bank, dates, int(lead[0]), first - 1, "excluded", "no_price_yet", "rows before the first valid (positive) price"))
        tail = np.flatnonzero((row_present & ~screen)[last + 1:])
        if tail.size:
            i, j = last + 1 + int(tail[0]), last + 1 + int(tail[-1])
            events.append(_event(bank, dates, i, j, "excluded", "delisted_or_failed",
                                 f"no valid price after {dates[last]:%Y-%m-%d} (price 0 or missing): the firm exits at its last valid price"))
        inner = ~valid & row_present & ~screen
        inner[: first] = False
        inner[last + 1:] = False
        for i, j in _runs(inner):
            events.append(_event(bank, dates, i, j, "masked", "missing_price", "price 0 or missing between valid prices; no return on these rows"))
        # returns between consecutive valid prices; a gap makes a multi-day return
        pos = np.flatnonzero(valid)
        logp = np.log(c[pos])
        ret[pos[1:]] = np.diff(logp)
        ret[screen] = np.nan  # screened: recorded by the screen
        gaps = pos[1:][(np.diff(pos) > 1) & ~screen[pos[1:]]]
        for g in gaps:
            events.append(_event(bank, dates, int(g), int(g), "flagged", "return_spans_gap", "return from the last valid price before a gap (multi-day)"))
        # suspensions: zero volume, or runs of zero returns
        susp = np.zeros(len(c), dtype=bool)
        if volume is not None:
            v = volume[bank].to_numpy(dtype=float)
            susp |= (v == 0) & valid
        zero = (ret == 0.0)
        for i, j in _runs(zero):
            if j - i + 1 >= options.suspension_min_run:
                susp[i: j + 1] = True
        action = "masked" if options.suspensions == "mask" else "kept"
        for i, j in _runs(susp):
            events.append(_event(bank, dates, i, j, action, "suspension",
                                 f"trading suspension (zero volume or >= {options.suspension_min_run} consecutive zero returns); returns {action}"))
        if options.suspensions == "mask":
            ret[susp] = np.nan
        span = np.zeros(len(c), dtype=bool)
        span[first + 1: last + 1] = True
        ret[~span] = np.nan
        rets[bank] = np.where(span, ret, np.inf)  # inf marks rows outside the bank's life (dropped below)
    events = [e for e in events if e is not None]

    ret_w = pd.DataFrame(rets, index=dates)
    in_life = ~np.isinf(ret_w)
    ret_w = ret_w.where(in_life)
    # previous day's capitalization, carried from the last day with a valid price (known at the start of t)
    cap_valid = cap.reindex(dates).where(close.reindex(dates) > 0)
    cap_prev = cap_valid.ffill().shift()
    has = ret_w.notna() & cap_prev.notna() & (cap_prev > 0)
    denom = cap_prev.where(has).sum(axis=1)
    weight = cap_prev.where(has).div(denom.where(denom > 0), axis=0)

    simple = np.expm1(ret_w)
    port = (weight * simple).sum(axis=1, min_count=1)
    n_banks = has.sum(axis=1)
    sys_ret = np.log1p(port).where(n_banks > 0)
    if index is not None:
        idx = index.set_index("date")["close"].reindex(dates)
        idx = idx.where(idx > 0)
        sys_ret = np.log(idx).diff()
        missing = idx.isna().to_numpy()
        for i, j in _runs(missing):
            events.append(_event(None, dates, i, j, "masked", "index_missing", "sector index missing on these bank trading days; no system return"))
    system = pd.DataFrame({"date": dates, "ret": sys_ret.to_numpy(), "n_banks": n_banks.to_numpy().astype("int64"),
                           "market_cap": denom.where(n_banks > 0).to_numpy()})
    system["loss"] = -system["ret"]
    system = system.iloc[1:].reset_index(drop=True)[["date", "ret", "loss", "n_banks", "market_cap"]]

    long = ret_w.stack(future_stack=True).rename("ret").to_frame()
    long["_life"] = in_life.stack(future_stack=True)
    long["market_cap"] = cap.reindex(dates).stack(future_stack=True)
    long["weight"] = weight.stack(future_stack=True)
    long = long[long["_life"]].drop(columns="_life").reset_index()
    long.columns = ["date", "bank_id", "ret", "market_cap", "weight"]
    long["loss"] = -long["ret"]
    long = long[["bank_id", "date", "ret", "loss", "market_cap", "weight"]]
    long = long.sort_values(["bank_id", "date"], kind="mergesort").reset_index(drop=True)
    long["bank_id"] = long["bank_id"].astype(object)

    ev = pd.concat([pd.DataFrame(events, columns=list(EVENT_COLUMNS)), screened.events()], ignore_index=True)
    return ReturnsResult(returns=long, system=system, events=ev)


def negative_equity_events(balance_sheet: pd.DataFrame | None) -> pd.DataFrame:
    """Flag every bank with negative book equity: one event per bank (first to last such period).

    SRISK and leverage-based measures treat these firms specially; they stay in the sample.
    """
    rows = []
    if balance_sheet is not None and "equity" in balance_sheet.columns:
        neg = balance_sheet[balance_sheet["equity"] < 0]
        for bank, g in neg.groupby("bank_id", sort=True):
            rows.append({
                "bank_id": bank, "date_start": g["period_end"].min(), "date_end": g["period_end"].max(), "n_rows": len(g),
                "action": "flagged", "reason": "negative_book_equity",
                "detail": f"book equity < 0 in {len(g)} period(s), minimum {g['equity'].min():.6g}",
            })
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
