"""SRISK (Brownlees & Engle 2017; Acharya, Engle & Richardson 2012) and SES (Lu–Zhang, after Acharya et al. 2017).

    SRISK_i,t = k D_i,t - (1 - k)(1 - LRMES_i,t) W_i,t,
    SRISK_t   = sum_i max(SRISK_i,t, 0),     SRISK%_i,t = max(SRISK_i,t, 0) / SRISK_t,
    SES_i,t   = (k L_i,t - 1 + theta MES_i,t + delta) W_i,t        (Acharya et al. 2017),

``D`` book liabilities (carried forward from their publication date, never backward), ``W``
market capitalisation, ``L = (D + W)/W`` quasi-leverage, ``k`` prudential capital fraction.
Money amounts keep the units of the inputs.

Inputs are wide frames (dates x firms) on the same index and columns. Rows a firm cannot
have (market cap not positive, liabilities missing) are NaN and carry a status from
:func:`srisk_status`; negative book equity (optional input) is a warning.
"""

from __future__ import annotations

import pandas as pd

from measures.core.config import check_range


def _aligned(argument: str, frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{argument} must be a DataFrame (dates x firms), got {type(frame).__name__}")
    if not (frame.index.equals(like.index) and frame.columns.equals(like.columns)):
        raise ValueError(f"{argument} must have the same index and columns as market_cap (align them first)")
    return frame.astype(float)


def carry_forward_liabilities(published: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Daily liabilities: the last value published on or before each date, never a later one.

    Parameters
    ----------
    published : DataFrame
        Indexed by publication date (sorted, unique), one column per firm.
    dates : DatetimeIndex
        The trading days wanted.
    """
    if not published.index.is_monotonic_increasing or published.index.has_duplicates:
        raise ValueError("published must be indexed by unique, increasing publication dates")
    union = published.index.union(dates)
    return published.reindex(union).ffill().reindex(dates)


def srisk_status(
    liabilities: pd.DataFrame, market_cap: pd.DataFrame, book_equity: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per firm-day status: ``failed:NonPositiveMarketCap`` (price 0 or missing market cap),
    ``failed:MissingLiabilities``, ``warning:NegativeBookEquity`` or ``ok``."""
    liabilities = _aligned("liabilities", liabilities, market_cap)
    status = pd.DataFrame("ok", index=market_cap.index, columns=market_cap.columns, dtype=object)
    if book_equity is not None:
        book_equity = _aligned("book_equity", book_equity, market_cap)
        status = status.mask(book_equity < 0, "warning:NegativeBookEquity")
    missing = "failed:MissingLiabilities: no published liabilities on or before this date"
    status = status.mask(liabilities.isna(), missing)
    cap = market_cap.astype(float)
    status = status.mask(~(cap > 0), "failed:NonPositiveMarketCap: market cap is zero, negative or missing")
    return status


def srisk(liabilities: pd.DataFrame, market_cap: pd.DataFrame, lrmes: pd.DataFrame, *, k: float = 0.08) -> pd.DataFrame:
    """Firm SRISK ``k D - (1 - k)(1 - LRMES) W``, not floored; NaN where :func:`srisk_status` fails."""
    check_range("k", k, low=0.0, high=1.0, low_open=True, high_open=True)
    d = _aligned("liabilities", liabilities, market_cap)
    lr = _aligned("lrmes", lrmes, market_cap)
    w = market_cap.astype(float)
    value = k * d - (1.0 - k) * (1.0 - lr) * w
    return value.where(w > 0)


def aggregate_srisk(firm_srisk: pd.DataFrame) -> pd.Series:
    """``SRISK_t = sum_i max(SRISK_i,t, 0)`` (NaN firms contribute nothing)."""
    return firm_srisk.clip(lower=0.0).sum(axis=1, min_count=1).fillna(0.0).rename("srisk")


def srisk_share(firm_srisk: pd.DataFrame) -> pd.DataFrame:
    """``SRISK%_i,t = max(SRISK_i,t, 0) / SRISK_t``; NaN on days with no positive SRISK."""
    total = aggregate_srisk(firm_srisk)
    return firm_srisk.clip(lower=0.0).div(total.where(total > 0), axis=0)


def ses(
    liabilities: pd.DataFrame,
    market_cap: pd.DataFrame,
    mes: pd.DataFrame,
    *,
    k: float = 0.08,
    theta: float,
    delta: float,
) -> pd.DataFrame:
    """Systemic expected shortfall ``(k L - 1 + theta MES + delta) W`` with ``L = (D + W)/W``.

    ``theta`` and ``delta`` are the constants of Acharya et al. (2017) (as surveyed by Lu–Zhang);
    the papers give no values, so there is no API default; the ``mes_srisk`` stage's are θ = 1,
    δ = 0 (``measures.mes_srisk.ses_theta`` / ``ses_delta``): ``k (D + W) − (1 − MES) W``, the
    shortfall against the target capital ``k`` on quasi-assets once the equity has lost its MES
    (docs/srisk.md). NaN where ``W ≤ 0`` or ``D`` or ``MES`` is missing.
    """
    check_range("k", k, low=0.0, high=1.0, low_open=True, high_open=True)
    check_range("theta", theta)
    check_range("delta", delta)
    d = _aligned("liabilities", liabilities, market_cap)
    m = _aligned("mes", mes, market_cap)
    w = market_cap.astype(float).where(lambda x: x > 0)
    leverage = (d + w) / w
    return (k * leverage - 1.0 + theta * m + delta) * w
