"""Calibration moments, computed the same way on real and on simulated canonical tables.

Return moments use daily log returns ``r = diff(log close)`` inside ``[start, end]``, with days
of zero or missing volume (trading suspensions) masked. Per peer group: annualized volatility
(``sd * sqrt(252)``, mean over banks), mean pairwise correlation within the group, excess
kurtosis and first-order autocorrelation of squared returns (means over banks). The system
return is the market-cap-weighted return ``sum_i w_{i,t-1} r_{i,t}`` (docs/references.md, Conventions).
Balance-sheet moments are means over bank-years of December period ends in the span.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

TRADING_DAYS = 252


def wide(prices: pd.DataFrame, column: str) -> pd.DataFrame:
    return prices.pivot(index="date", columns="bank_id", values=column).sort_index()


def log_returns(prices: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """Wide log returns in ``[start, end]``; suspension days (volume 0 or missing) masked."""
    close = wide(prices, "close").where(lambda x: x > 0)
    ret = np.log(close).diff()
    if "volume" in prices.columns:
        vol = wide(prices, "volume")
        ret = ret.mask(~(vol > 0))
    return ret.loc[pd.Timestamp(start) : pd.Timestamp(end)]


def system_return(prices: pd.DataFrame, start: str, end: str) -> pd.Series:
    """Market-cap-weighted log return with lagged weights over the banks with a return that day."""
    ret = log_returns(prices, start, end)
    cap = wide(prices, "market_cap").shift(1).reindex(ret.index).where(ret.notna())
    weights = cap.div(cap.sum(axis=1), axis=0)
    out = (weights * ret).sum(axis=1, min_count=1)
    return out.dropna()


def series_moments(x: pd.Series | np.ndarray) -> dict[str, float]:
    """Annualized volatility, excess kurtosis, first-order autocorrelation of squares of one series."""
    x = pd.Series(np.asarray(x, dtype="float64")).dropna()
    sq = x**2
    return {
        "vol_annual": float(x.std() * np.sqrt(TRADING_DAYS)),
        "kurtosis": float(x.kurt()),
        "acf1_sq": float(sq.autocorr(1)),
    }


def _mean_corr(ret: pd.DataFrame) -> float:
    c = ret.corr(min_periods=60).to_numpy()
    iu = np.triu_indices_from(c, k=1)
    return float(np.nanmean(c[iu])) if iu[0].size else float("nan")


def return_moments(prices: pd.DataFrame, banks: pd.DataFrame, start: str, end: str) -> dict[str, dict[str, float]]:
    """Per group: vol_annual, mean_corr, kurtosis, acf1_sq; ``all``: mean_corr over all pairs;
    ``<g>~<h>``: mean correlation between the banks of two groups; ``system``: moments of the
    cap-weighted return."""
    ret = log_returns(prices, start, end)
    group = banks.set_index("bank_id")["group"]
    out: dict[str, dict[str, float]] = {}
    for g, ids in group.groupby(group).groups.items():
        sub = ret[[b for b in ids if b in ret.columns]].dropna(axis=1, thresh=250)
        per_bank = [series_moments(sub[b]) for b in sub.columns]
        out[str(g)] = {
            **{k: float(np.mean([m[k] for m in per_bank])) for k in ("vol_annual", "kurtosis", "acf1_sq")},
            "mean_corr": _mean_corr(sub),
        }
    full = ret.dropna(axis=1, thresh=250)
    out["all"] = {"mean_corr": _mean_corr(full)}
    corr = full.corr(min_periods=60)
    names = sorted(out)
    for i, g in enumerate(n for n in names if n != "all"):
        for h in [n for n in names if n not in ("all", g)][i:]:
            a = [b for b in full.columns if group.get(b) == g]
            b = [b for b in full.columns if group.get(b) == h]
            out[f"{g}~{h}"] = {"mean_corr": float(np.nanmean(corr.loc[a, b].to_numpy()))}
    out["system"] = series_moments(system_return(prices, start, end))
    return out


def balance_sheet_moments(balance_sheet: pd.DataFrame, banks: pd.DataFrame, start: str, end: str) -> dict[str, dict[str, float]]:
    """Per group, means over December bank-years in the span: leverage (liabilities / assets),
    car, npl, ldr, interbank_assets_share (of assets), interbank_liabilities_share (of liabilities)."""
    bs = balance_sheet[(balance_sheet["period_end"].dt.month == 12)
                       & (balance_sheet["period_end"] >= pd.Timestamp(start))
                       & (balance_sheet["period_end"] <= pd.Timestamp(end) + pd.offsets.YearEnd(0))].copy()
    bs = bs.merge(banks[["bank_id", "group"]], on="bank_id")
    ratios = pd.DataFrame({
        "group": bs["group"],
        "leverage": bs["total_liabilities"] / bs["total_assets"],
        "car": bs["car"],
        "npl": bs["npl"],
        "ldr": bs["loans"] / bs["deposits"],
        "interbank_assets_share": bs["interbank_assets"] / bs["total_assets"],
        "interbank_liabilities_share": bs["interbank_liabilities"] / bs["total_liabilities"],
    }).replace([np.inf, -np.inf], np.nan)
    means = ratios.groupby("group").mean()
    return {str(g): {k: float(v) for k, v in row.items()} for g, row in means.iterrows()}


def size_moments(prices: pd.DataFrame, balance_sheet: pd.DataFrame, banks: pd.DataFrame, start: str) -> dict[str, dict[str, float]]:
    """Per group: mean market cap on the first trading day >= start (banks listed then), mean total
    assets at the first December period end >= start, median daily turnover (volume / shares)."""
    t0 = pd.Timestamp(start)
    cap = wide(prices, "market_cap")
    cap = cap.loc[cap.index >= t0]
    first = cap.iloc[0]
    bs = balance_sheet[(balance_sheet["period_end"] >= t0) & (balance_sheet["period_end"].dt.month == 12)]
    first_year = bs["period_end"].min()
    assets = bs[bs["period_end"] == first_year].set_index("bank_id")["total_assets"]
    turnover = (wide(prices, "volume") / wide(prices, "shares")).loc[lambda x: x.index >= t0]
    turnover = turnover.where(turnover > 0).median()
    group = banks.set_index("bank_id")["group"]
    out = {}
    for g, ids in group.groupby(group).groups.items():
        ids = list(ids)
        out[str(g)] = {
            "market_cap_start": float(first.reindex(ids).mean()),
            "total_assets_start": float(assets.reindex(ids).mean()),
            "turnover": float(turnover.reindex(ids).mean()),
        }
    return out


def all_moments(data, *, start: str, end: str, size_start: str) -> dict[str, dict[str, float]]:
    """Every calibration moment of a dataset (anything with banks, prices, balance_sheet frames)."""
    out: dict[str, dict[str, float]] = {}
    for part in (
        return_moments(data.prices, data.banks, start, end),
        balance_sheet_moments(data.balance_sheet, data.banks, start, end),
        size_moments(data.prices, data.balance_sheet, data.banks, size_start),
    ):
        for key, values in part.items():
            out.setdefault(key, {}).update(values)
    return out


def flatten(moments: Mapping[str, Mapping[str, float]]) -> dict[tuple[str, str], float]:
    return {(g, k): v for g, values in moments.items() for k, v in values.items()}
