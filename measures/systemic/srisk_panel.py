"""The daily bank panel of MES, LRMES and SRISK from stored DCC paths and balance sheets.

From the fitted paths of the per-bank bivariate DCC-GARCH (:func:`measures.systemic.dcc_paths_frame`),
market capitalisations and published balance sheets, :func:`srisk_panel` builds

* ``mes``: ``bank_id, date, mes_hist, mes_dyn, status`` (the fit status);
* ``srisk``: ``bank_id, date, beta, lrmes, srisk, srisk_share, ses, status`` (the worst of the
  fit and the balance-sheet status; ``ses`` = SES ``(k L − 1 + θ MES + δ) W`` with the MES of
  ``ses_mes``, :func:`measures.systemic.ses`);
* ``total``: ``date, srisk_total`` with ``SRISK_t = sum_i max(SRISK_i,t, 0)`` (Brownlees &
  Engle 2017), NaN on days without any measured bank;

and the events of the bank-days whose SRISK is flagged or set missing.

Book liabilities ``D`` (and equity) enter from their publication date on, never before
(:func:`daily_balance_sheet`), and count as missing once older than
``max_liability_age_days`` (docs/srisk.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper
from measures.core.status import FitStatus, worst
from measures.systemic.config import SIMULATION_DATES, SRiskPanelConfig
from measures.systemic.frames import dcc_mes_frame, historical_mes_frame
from measures.systemic.srisk import aggregate_srisk, carry_forward_liabilities, ses, srisk, srisk_share, srisk_status

#: Balance-sheet columns SRISK needs (``equity`` is optional: negative book equity is flagged).
SRISK_COLUMNS = ("total_liabilities", "publication_date")

_REASONS = {"MissingLiabilities": "missing_liabilities", "StaleLiabilities": "stale_liabilities",
            "NonPositiveMarketCap": "non_positive_market_cap", "NegativeBookEquity": "negative_book_equity"}


def published(balance_sheet: pd.DataFrame, column: str) -> pd.DataFrame:
    """Wide frame (publication date x bank) of the last period published on each date.

    Rows without ``column`` or a publication date are ignored; of two periods published on
    the same day, the later ``period_end`` wins.
    """
    rows = balance_sheet.dropna(subset=[column, "publication_date"]).sort_values(
        ["bank_id", "publication_date", "period_end"], kind="mergesort"
    )
    rows = rows.drop_duplicates(["bank_id", "publication_date"], keep="last")
    wide = rows.pivot(index="publication_date", columns="bank_id", values=column).sort_index()
    wide.columns = [str(c) for c in wide.columns]
    return wide.astype(float)


def daily_balance_sheet(
    balance_sheet: pd.DataFrame, dates: pd.DatetimeIndex, banks: list[str], max_age_days: int | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Daily liabilities, the age (days) of the value used, and book equity, carried forward.

    ``D_i,t`` is the last ``total_liabilities`` published on or before ``t``
    (:func:`measures.systemic.carry_forward_liabilities`); its age is ``t`` minus that
    publication date in calendar days. After ``max_age_days`` without a new publication the
    value counts as missing (liabilities) or unknown (equity).

    Parameters
    ----------
    balance_sheet : DataFrame
        ``bank_id, period_end, publication_date, total_liabilities`` and optionally ``equity``.
    dates, banks
        The daily index and the bank columns wanted.

    Returns
    -------
    (liabilities, age, equity)
        Wide frames (dates x banks); ``equity`` is None without an ``equity`` column.
    """
    bs = balance_sheet.copy()
    bs["bank_id"] = bs["bank_id"].astype(str)
    bs["publication_date"] = pd.to_datetime(bs["publication_date"])
    liab_pub = published(bs, "total_liabilities").reindex(columns=banks)
    liab = carry_forward_liabilities(liab_pub, dates)
    ns = pd.DatetimeIndex(liab_pub.index).as_unit("ns").asi8.astype(float)  # nanoseconds whatever the input unit
    stamp = liab_pub.notna().mul(ns, axis=0).where(liab_pub.notna())
    published_on = carry_forward_liabilities(stamp, dates)
    now = pd.Series(np.asarray(pd.DatetimeIndex(dates).as_unit("ns").asi8, dtype=float), index=dates)
    age = published_on.rsub(now, axis=0) / 86400e9
    equity = None
    if "equity" in bs.columns and bs["equity"].notna().any():
        equity = carry_forward_liabilities(published(bs, "equity").reindex(columns=banks), dates)
    if max_age_days is not None:
        stale = age > max_age_days
        liab = liab.mask(stale)
        if equity is not None:
            equity = equity.mask(stale)
    return liab, age, equity


def srisk_unavailable(balance_sheet: pd.DataFrame | None) -> str | None:
    """Why SRISK cannot be computed from ``balance_sheet`` (None when it can).

    SRISK needs the book liabilities ``D`` with their publication dates (:data:`SRISK_COLUMNS`);
    MES and LRMES need market data only.
    """
    if balance_sheet is None:
        return "the data has no balance_sheet table (SRISK needs book liabilities: total_liabilities, publication_date)"
    missing = [c for c in SRISK_COLUMNS if c not in balance_sheet.columns or balance_sheet[c].isna().all()]
    if missing:
        return (f"the balance_sheet table has no value in column(s) {', '.join(missing)} (SRISK needs book liabilities "
                f"with their publication dates); its columns: {', '.join(map(str, balance_sheet.columns))}")
    return None


def check_plan(prices: pd.DataFrame, balance_sheet: pd.DataFrame | None) -> list[tuple[str, str]]:
    """What :func:`srisk_panel` will estimate from the canonical tables (``python -m pipeline check`` lines).

    MES and LRMES for every bank the DCC fits (market data only); SRISK where
    :func:`srisk_unavailable` allows, for the banks with published liabilities.
    """
    lines = [("estimates", "MES (historical, dynamic) and LRMES for every bank with a ΔCoVaR-DCC fit")]
    reason = srisk_unavailable(balance_sheet)
    if reason is not None:
        return lines + [("cannot", f"SRISK, SRISK% and aggregate SRISK: {reason}")]
    banks = sorted(set(prices["bank_id"].astype(str)))
    have = set(balance_sheet.dropna(subset=list(SRISK_COLUMNS))["bank_id"].astype(str))
    lines.append(("estimates", f"SRISK from the published liabilities of {len(have & set(banks))} of {len(banks)} bank(s)"))
    return lines + [("skips", f"SRISK: bank {b} has no published total_liabilities (its SRISK is missing, with a status)")
                    for b in banks if b not in have]


def simulation_dates(dates: pd.DatetimeIndex, how: str) -> list[pd.Timestamp] | None:
    """The LRMES simulation dates: ``None`` (each bank's last date) for ``last``, else the
    last of ``dates`` in each calendar year (``year_end``) or quarter (``quarter_end``)."""
    if how not in SIMULATION_DATES:
        raise ValueError(f"how={how!r} is not allowed; allowed values: {', '.join(map(repr, SIMULATION_DATES))}")
    if how == "last":
        return None
    freq = {"year_end": dates.year, "quarter_end": dates.year * 10 + dates.quarter}[how]
    last = pd.Series(dates, index=dates).groupby(np.asarray(freq)).max()
    return list(last)


def status_events(frame: pd.DataFrame) -> pd.DataFrame:
    """One event per bank and balance-sheet status class (``bs_status`` not ok) of a long frame.

    A warning keeps the SRISK value (``flagged``); a failure sets it missing (``masked``).
    """
    rows = []
    bad = frame[frame["bs_status"] != "ok"]
    for (bank, status), g in bad.groupby(["bank_id", "bs_status"], sort=True):
        kind = FitStatus.parse(status)
        warning = kind.kind == "warning"
        rows.append((
            str(bank), g["date"].min(), g["date"].max(), len(g), "flagged" if warning else "masked",
            _REASONS.get(kind.cls, kind.cls), f"SRISK {'kept, ' if warning else 'set missing, '}{status}",
        ))
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def srisk_panel(
    paths: pd.DataFrame,
    market_cap: pd.DataFrame,
    balance_sheet: pd.DataFrame | None,
    config: SRiskPanelConfig | None = None,
    *,
    dates: pd.DatetimeIndex | None = None,
    estimates: pd.DataFrame | None = None,
    param_paths: pd.DataFrame | None = None,
    mapper: Mapper | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """MES, LRMES, SRISK and aggregate SRISK per bank and date (module docstring).

    ``SRISK_i,t = k D_i,t - (1 - k)(1 - LRMES_i,t) W_i,t`` (:func:`measures.systemic.srisk`) and
    ``SES_i,t = (k L_i,t - 1 + θ MES_i,t + δ) W_i,t``, ``L = (D + W)/W`` (Acharya, Pedersen,
    Philippon & Richardson 2017, as surveyed by Lu–Zhang eq. 5; :func:`measures.systemic.ses`),
    with the historical or dynamic MES (``ses_mes``) dated t: SES uses no data after t beyond
    what that MES uses.

    Parameters
    ----------
    paths : DataFrame
        Fitted DCC paths (:func:`measures.systemic.dcc_paths_frame`).
    market_cap : DataFrame
        Market capitalisation ``W`` (dates x banks).
    balance_sheet : DataFrame or None
        ``bank_id, period_end, publication_date, total_liabilities`` (``equity`` optional). None:
        MES only (``srisk`` and ``total`` are None; :func:`srisk_unavailable` says why).
    config : SRiskPanelConfig, optional
    dates : DatetimeIndex, optional
        The trading days from which the ``year_end`` / ``quarter_end`` simulation dates are
        taken (default: the dates of ``paths``).
    estimates : DataFrame, optional
        The fit estimates (:func:`measures.dcc.estimates_frame`), for the simulation route.
    param_paths : DataFrame, optional
        The DCC parameter paths (:func:`measures.dcc.realtime.param_paths_frame`): the simulation
        route then uses the parameters in force at each simulated date.
    mapper : Mapper, optional
        Maps the per-bank work (the kernel chunks, the simulated banks, historical MES per bank:
        :func:`measures.systemic.dcc_mes_frame`); results do not depend on it. The SRISK
        aggregation over banks runs in this process.

    Returns
    -------
    (mes, srisk, total, events)
    """
    config = config or SRiskPanelConfig()
    calendar = pd.DatetimeIndex(sorted(paths["date"].unique())) if dates is None else dates
    dyn = dcc_mes_frame(paths, config=config, simulation_dates=simulation_dates(calendar, config.simulation_dates),
                        estimates=estimates, param_paths=param_paths, mapper=mapper)
    hist = historical_mes_frame(paths, window=config.window, tail=config.tail, mapper=mapper)
    merged = dyn.merge(hist, on=["bank_id", "date"], how="left", validate="one_to_one")
    if balance_sheet is None:
        return _floats(merged[["bank_id", "date", "mes_hist", "mes_dyn", "status"]].copy()), None, None, \
            pd.DataFrame(columns=list(EVENT_COLUMNS))

    banks = sorted(str(b) for b in paths["bank_id"].unique())
    days = pd.DatetimeIndex(sorted(merged["date"].unique()))
    lr = merged.pivot(index="date", columns="bank_id", values="lrmes").reindex(index=days, columns=banks)
    cap = market_cap.reindex(index=days, columns=banks).astype(float)
    liab, age, equity = daily_balance_sheet(balance_sheet, days, banks, config.max_liability_age_days)
    value = srisk(liab, cap, lr, k=config.k)
    mes_col = {"hist": "mes_hist", "dyn": "mes_dyn"}[config.ses_mes]
    mes_wide = merged.pivot(index="date", columns="bank_id", values=mes_col).reindex(index=days, columns=banks)
    ses_value = ses(liab, cap, mes_wide, k=config.k, theta=config.ses_theta, delta=config.ses_delta)
    share = srisk_share(value)
    total = aggregate_srisk(value).where(value.notna().any(axis=1))  # NaN, not 0, when no firm is measured
    bs_status = srisk_status(liab, cap, equity)
    if config.max_liability_age_days is not None:
        stale = (age > config.max_liability_age_days) & ~(cap.isna() | ~(cap > 0))
        msg = ("failed:StaleLiabilities: last published liabilities older than "
               f"max_liability_age_days={config.max_liability_age_days}")
        bs_status = bs_status.mask(stale, msg)

    panel = pd.concat([frame.stack(future_stack=True).rename(name) for frame, name in
                       ((value, "srisk"), (share, "srisk_share"), (ses_value, "ses"), (bs_status, "bs_status"))], axis=1)
    panel.index.names = ["date", "bank_id"]
    merged = merged.merge(panel.reset_index(), on=["bank_id", "date"], how="left", validate="one_to_one")
    merged["fit_status"] = merged["status"]
    merged["status"] = _worst_pairs(merged["status"], merged["bs_status"])
    # rows the DCC could not produce keep NaN SRISK (srisk() already NaN there) and the fit status
    mes = merged[["bank_id", "date", "mes_hist", "mes_dyn", "fit_status"]].rename(columns={"fit_status": "status"})
    srisk_frame = merged[["bank_id", "date", "beta", "lrmes", "srisk", "srisk_share", "ses", "status"]].copy()
    total_frame = pd.DataFrame({"date": days, "srisk_total": total.reindex(days).to_numpy(dtype=float)})
    return _floats(mes), _floats(srisk_frame), total_frame, status_events(merged)


def _worst_pairs(fit: pd.Series, balance: pd.Series) -> np.ndarray:
    """``worst(fit, balance)`` row by row (``fit`` where ``balance`` is missing), evaluated once
    per distinct pair (a few per panel, not one per bank-day)."""
    pairs = pd.DataFrame({"fit": fit.to_numpy(dtype=object), "balance": balance.to_numpy(dtype=object)})
    distinct = pairs.drop_duplicates()
    distinct["status"] = [worst(a, b) if isinstance(b, str) else a for a, b in zip(distinct["fit"], distinct["balance"])]
    return pairs.merge(distinct, on=["fit", "balance"], how="left", validate="many_to_one")["status"].to_numpy(dtype=object)


def _floats(frame: pd.DataFrame) -> pd.DataFrame:
    for col in frame.columns.difference(["bank_id", "date", "status"]):
        frame[col] = frame[col].astype(float)
    return frame
