r"""The daily bank panel of contingent-claims measures and the system view (docs/cca.md).

For each bank ``i`` and trading day ``t``, from the market capitalisation ``E_i,t``, the default
barrier ``D_i,t`` of the last balance sheet published on or before ``t`` (carried forward by
:func:`measures.systemic.daily_balance_sheet`, the same alignment as SRISK) and the risk-free
rate ``r_t`` (a ``market_states`` column or a constant), :func:`cca_panel` gives the implied
asset value and volatility, the distance to default, the default probability and the implicit
put (expected loss) of :mod:`measures.systemic.cca`, with one of two solvers:

* ``two_equation``: ``sigma_E,t`` = sample sd of the bank's daily log returns over the last
  ``window`` rows ending at ``t`` (at least ``min_obs`` of them), times
  ``sqrt(periods_per_year)``; then :func:`~measures.systemic.cca.merton_dd` at each day;
* ``kmv``: every ``kmv_every`` rows, :func:`~measures.systemic.cca.merton_dd_kmv` on the
  equity values of the last ``window`` + 1 rows (``sigma_E`` and the ``min_obs`` rule then use
  the daily log changes of ``E`` itself) (the barrier in force at the window's end for the
  whole window, so that a new balance sheet does not show as a jump in the implied assets; the
  rate of each day) gives ``sigma_V``; on every day ``V_t`` inverts the call at the latest such
  ``sigma_V`` (estimated on or before ``t``) with the day's own barrier and rate.

The system view (Gray, Merton & Bodie 2007; Gray & Jobst 2011): ``EL_t = sum_i P_i,t`` over the
banks measured that day, and each bank's share ``P_i,t / EL_t``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.core.status import FitStatus
from measures.systemic import cca
from measures.systemic.srisk_panel import daily_balance_sheet

SOLVERS = ("two_equation", "kmv")
BARRIERS = ("total", "short_plus_half_long")
RATE_UNITS = ("percent", "fraction")
#: balance-sheet columns each barrier rule needs
BARRIER_COLUMNS = {"total": ("total_liabilities",),
                   "short_plus_half_long": ("total_liabilities", "deposits", "interbank_liabilities")}
CCA_COLUMNS = ("bank_id", "date", "equity_value", "equity_vol", "barrier", "rate", "asset_value", "asset_vol",
               "distance_to_default", "default_probability", "expected_loss", "credit_spread", "el_share", "status")
TOTAL_COLUMNS = ("date", "expected_loss_total", "n_banks", "dd_median")

_INPUT_STATUS = {
    "equity": "failed:MissingEquity: no positive market capitalisation on the date",
    "vol": "failed:ShortWindow: fewer than min_obs daily returns in the window (or zero equity volatility)",
    "barrier": "failed:MissingBarrier: no default barrier published on or before the date (or older than max_liability_age_days)",
    "rate": "failed:MissingRate: no risk-free rate on or before the date",
}
_REASONS = {"MissingEquity": "missing_equity", "ShortWindow": "short_window", "MissingBarrier": "missing_barrier",
            "MissingRate": "missing_rate", "MissingInput": "missing_input", "NotConverged": "not_converged"}


@dataclass(frozen=True, kw_only=True)
class CCAConfig(Config):
    """Options of the contingent-claims panel (:func:`cca_panel`; docs/cca.md).

    Attributes
    ----------
    solver : {"two_equation", "kmv"}
        Joint Newton solve of the two Merton equations with the rolling equity volatility, or the
        KMV iteration on the rolling window of equity values (module docstring).
    barrier : {"total", "short_plus_half_long"}
        Default barrier ``D``: total liabilities, or short-term + ½ long-term liabilities (Crosbie &
        Bohn 2003) with short-term = ``deposits + interbank_liabilities`` and long-term = the rest
        of ``total_liabilities``.
    horizon : float
        ``T`` in years (1).
    window : int
        Trading-day rows of the equity-volatility window / KMV window (250).
    min_obs : int
        Fewest valid daily returns in a window (200).
    periods_per_year : int
        Trading days per year, to annualize volatilities (252).
    rate : float
        Risk-free rate (annual fraction, continuously compounded) when ``rate_state`` is None.
    rate_state : str or None
        A ``market_states`` column holding the risk-free rate (e.g. ``FFR``), carried forward to
        days without a value; None: the constant ``rate``.
    rate_unit : {"percent", "fraction"}
        Unit of the ``rate_state`` column.
    max_liability_age_days : int or None
        A barrier published longer ago than this (calendar days) counts as missing.
    kmv_every : int
        ``kmv`` only: rows between re-estimations of ``sigma_V`` (1 = daily).
    """

    solver: str = "two_equation"
    barrier: str = "total"
    horizon: float = 1.0
    window: int = 250
    min_obs: int = 200
    periods_per_year: int = 252
    rate: float = 0.03
    rate_state: str | None = None
    rate_unit: str = "percent"
    max_liability_age_days: int | None = 550
    kmv_every: int = 21

    def validate(self) -> None:
        check_choice("solver", self.solver, SOLVERS)
        check_choice("barrier", self.barrier, BARRIERS)
        check_range("horizon", self.horizon, low=0.0, high=30.0, low_open=True)
        check_range("window", self.window, low=20, integer=True)
        check_range("min_obs", self.min_obs, low=10, high=self.window, integer=True)
        check_range("periods_per_year", self.periods_per_year, low=1, integer=True)
        check_range("rate", self.rate, low=-0.2, high=1.0)
        if self.rate_state is not None and (not isinstance(self.rate_state, str) or not self.rate_state):
            raise ConfigError(f"rate_state={self.rate_state!r} must be a market_states column name or null")
        check_choice("rate_unit", self.rate_unit, RATE_UNITS)
        if self.max_liability_age_days is not None:
            check_range("max_liability_age_days", self.max_liability_age_days, low=1, integer=True)
        check_range("kmv_every", self.kmv_every, low=1, integer=True)


def barrier_unavailable(balance_sheet: pd.DataFrame | None, barrier: str) -> str | None:
    """Why the default barrier ``barrier`` cannot be built from ``balance_sheet`` (None when it can)."""
    need = (*BARRIER_COLUMNS[barrier], "publication_date")
    if balance_sheet is None:
        return f"the data has no balance_sheet table (the CCA default barrier {barrier!r} needs {', '.join(need)})"
    missing = [c for c in need if c not in balance_sheet.columns or balance_sheet[c].isna().all()]
    if missing:
        return (f"the balance_sheet table has no value in column(s) {', '.join(missing)} (the CCA default barrier "
                f"{barrier!r} needs {', '.join(need)}; barrier 'total' needs total_liabilities only)")
    return None


def barrier_table(balance_sheet: pd.DataFrame, barrier: str) -> pd.DataFrame:
    """``bank_id, period_end, publication_date, total_liabilities`` with the barrier in the last column.

    ``total``: ``D = total_liabilities``; ``short_plus_half_long``: ``D = ST + ½ max(TL − ST, 0)``,
    ``ST = deposits + interbank_liabilities`` (missing when either is missing).
    """
    bs = balance_sheet[["bank_id", "period_end", "publication_date"]].copy()
    tl = balance_sheet["total_liabilities"].astype(float)
    if barrier == "total":
        bs["total_liabilities"] = tl
    else:
        st = balance_sheet["deposits"].astype(float) + balance_sheet["interbank_liabilities"].astype(float)
        bs["total_liabilities"] = st + 0.5 * (tl - st).clip(lower=0.0)
    return bs


def check_plan(prices: pd.DataFrame, balance_sheet: pd.DataFrame | None, market_states: pd.DataFrame | None,
               config: CCAConfig) -> list[tuple[str, str]]:
    """What :func:`cca_panel` will estimate from the canonical tables (``python -m pipeline check`` lines)."""
    reason = barrier_unavailable(balance_sheet, config.barrier)
    if reason is not None:
        return [("cannot", f"CCA distance to default and expected loss: {reason}")]
    banks = sorted(set(prices["bank_id"].astype(str)))
    have = set(balance_sheet.dropna(subset=list(BARRIER_COLUMNS[config.barrier]))["bank_id"].astype(str))
    lines = [("estimates", f"CCA ({config.solver}, barrier {config.barrier}) for {len(have & set(banks))} of {len(banks)} "
                           f"bank(s) with a published barrier, from their first publication date on")]
    lines += [("skips", f"CCA: bank {b} has no published {', '.join(BARRIER_COLUMNS[config.barrier])}") for b in banks
              if b not in have]
    if config.rate_state is None:
        lines.append(("fills", f"CCA: constant risk-free rate {config.rate:g} (measures.cca.rate)"))
    elif market_states is None or config.rate_state not in market_states.columns:
        lines.append(("cannot", f"CCA: measures.cca.rate_state={config.rate_state!r} is not a market_states column"))
    else:
        lines.append(("estimates", f"CCA: risk-free rate from market_states column {config.rate_state} ({config.rate_unit}), "
                                   "carried forward"))
    return lines


def rate_series(market_states: pd.DataFrame | None, dates: pd.DatetimeIndex, config: CCAConfig) -> pd.Series:
    """The risk-free rate per day (fraction): the ``rate_state`` column carried forward, or the constant."""
    if config.rate_state is None:
        return pd.Series(float(config.rate), index=dates)
    columns = [] if market_states is None else [c for c in market_states.columns if c != "date"]
    if config.rate_state not in columns:
        raise ConfigError(f"measures.cca: rate_state={config.rate_state!r} is not a column of the market_states table; "
                          f"allowed: {', '.join(map(repr, columns)) or 'none (the data has no market_states)'}, or null for the constant rate")
    states = market_states.set_index(pd.to_datetime(market_states["date"]))[config.rate_state].astype(float).sort_index()
    states = states.dropna()
    factor = 0.01 if config.rate_unit == "percent" else 1.0
    return (states.reindex(states.index.union(dates)).ffill().reindex(dates) * factor).rename("rate")


def _equity_vol(ret: np.ndarray, config: CCAConfig) -> np.ndarray:
    sd = pd.Series(ret).rolling(config.window, min_periods=config.min_obs).std(ddof=1).to_numpy()
    return sd * np.sqrt(config.periods_per_year)


def kmv_rows(ready: np.ndarray, every: int) -> np.ndarray:
    """Re-estimation rows: the first ready row of each ready run, then every ``every`` rows within the run."""
    out, last = [], None
    for t in np.flatnonzero(ready):
        if last is None or not ready[t - 1] or t - last >= every:
            out.append(t)
            last = t
    return np.asarray(out, dtype=int)


def _kmv_asset_vol(E: np.ndarray, D: np.ndarray, r: np.ndarray, ready: np.ndarray, config: CCAConfig) -> np.ndarray:
    """``sigma_V`` in force on each ready row: the KMV estimate of the last re-estimation row on or before it."""
    n, w = len(E), config.window + 1  # window + 1 equity values: the window's returns
    rows = kmv_rows(ready, config.kmv_every)
    sigma = np.full(n, np.nan)
    if rows.size == 0:
        return sigma
    pad = lambda x: np.concatenate([np.full(w - 1, np.nan), x])  # noqa: E731 - windows ending at every row
    E_w, r_w = (np.lib.stride_tricks.sliding_window_view(pad(x), w)[rows] for x in (E, r))
    windows = (E_w, D[rows, None], r_w)  # the barrier in force at the window's end, for the whole window
    res = cca.merton_dd_kmv(*windows, config.horizon, periods_per_year=config.periods_per_year,
                            min_obs=config.min_obs)
    last = np.searchsorted(rows, np.arange(n), side="right") - 1
    sigma = res.asset_vol[np.maximum(last, 0)]
    return np.where(ready & (last >= 0), sigma, np.nan)


def bank_cca(item: tuple, config: CCAConfig) -> pd.DataFrame:
    """One bank's rows of the panel. ``item = (bank_id, dates, E, ret, D, r)`` (arrays on the bank's rows)."""
    bank, dates, E, ret, D, r = item
    E = np.where(E > 0, E, np.nan)
    if config.solver == "kmv":  # the returns the KMV window sees: those of its equity values
        ret = np.r_[np.nan, np.diff(np.log(E))]
    sE = _equity_vol(ret, config)
    sE = np.where(sE > 0, sE, np.nan)
    D = np.where(D > 0, D, np.nan)
    checks = {"equity": np.isfinite(E), "barrier": np.isfinite(D), "rate": np.isfinite(r), "vol": np.isfinite(sE)}
    ready = np.logical_and.reduce(list(checks.values()))
    status = np.full(len(E), cca.OK, dtype=object)
    for key in reversed(list(checks)):  # the first missing input named
        status[~checks[key]] = _INPUT_STATUS[key]
    if config.solver == "two_equation":
        res = cca.merton_dd(np.where(ready, E, np.nan), sE, D, r, config.horizon)
        V, sV = res.asset_value, res.asset_vol
    else:
        sV = _kmv_asset_vol(E, D, r, ready, config)
        V = cca.implied_asset_value(np.where(ready, E, np.nan), D, r, sV, config.horizon)
    res = cca.credit_measures(V, sV, D, r, config.horizon, converged=np.isfinite(V), iterations=np.zeros(len(E), int),
                              status=status)
    status = np.where(ready & ~np.isfinite(V), cca.NOT_CONVERGED, status)
    return pd.DataFrame({
        "bank_id": bank, "date": dates, "equity_value": E, "equity_vol": sE, "barrier": D, "rate": r,
        "asset_value": V, "asset_vol": sV, "distance_to_default": res.distance_to_default,
        "default_probability": res.default_probability, "expected_loss": res.put_value, "credit_spread": res.credit_spread,
        "status": status,
    })


def status_events(frame: pd.DataFrame) -> pd.DataFrame:
    """One event per bank and failed status class: the rows set missing (action ``masked``)."""
    rows = []
    bad = frame[frame["status"] != cca.OK]
    for (bank, status), g in bad.groupby(["bank_id", "status"], sort=True):
        kind = FitStatus.parse(status)
        rows.append((str(bank), g["date"].min(), g["date"].max(), len(g), "masked", _REASONS.get(kind.cls, kind.cls),
                     f"CCA measures missing: {kind.message}"))
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def system_view(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """``EL_t = sum_i P_i,t`` over the banks measured on ``t``, their count and median DD; each row's share."""
    ok = frame[frame["status"] == cca.OK]
    by_date = ok.groupby("date")
    total = pd.DataFrame({"expected_loss_total": by_date["expected_loss"].sum(), "n_banks": by_date.size(),
                          "dd_median": by_date["distance_to_default"].median()})
    total = total.reindex(pd.DatetimeIndex(sorted(frame["date"].unique()), name="date"))
    total["n_banks"] = total["n_banks"].fillna(0).astype("int64")
    denom = frame["date"].map(total["expected_loss_total"])
    share = (frame["expected_loss"] / denom.where(denom > 0)).where(frame["status"] == cca.OK)
    return total.reset_index()[list(TOTAL_COLUMNS)], share


def cca_panel(
    market_cap: pd.DataFrame,
    returns: pd.DataFrame,
    balance_sheet: pd.DataFrame,
    rate: pd.Series,
    config: CCAConfig | None = None,
    *,
    mapper: Mapper | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """CCA measures per bank and day, the system view and the events (module docstring).

    Parameters
    ----------
    market_cap, returns : DataFrame
        Equity value ``E`` and daily log returns (dates x banks, the same index).
    balance_sheet : DataFrame
        ``bank_id, period_end, publication_date`` and the columns of the barrier rule
        (:data:`BARRIER_COLUMNS`).
    rate : Series
        Risk-free rate per date (fraction; :func:`rate_series`).
    config : CCAConfig, optional
    mapper : Mapper, optional
        Maps the banks; results do not depend on it.

    Returns
    -------
    (cca, total, events)
        ``cca`` with :data:`CCA_COLUMNS` (one row per bank and date of ``market_cap`` from the
        bank's first valid value on), ``total`` with :data:`TOTAL_COLUMNS`, and the event frame of
        the rows set missing.
    """
    config = config or CCAConfig()
    dates = pd.DatetimeIndex(market_cap.index)
    banks = [str(c) for c in market_cap.columns]
    barrier, _, _ = daily_balance_sheet(barrier_table(balance_sheet, config.barrier), dates, banks,
                                        config.max_liability_age_days)
    r = rate.reindex(dates).to_numpy(dtype=float)
    items = []
    for bank, col in zip(banks, market_cap.columns):
        E = market_cap[col].to_numpy(dtype=float)
        rows = np.flatnonzero(np.isfinite(E))
        if rows.size == 0:
            continue
        keep = slice(rows[0], rows[-1] + 1)
        items.append((bank, dates[keep].to_numpy(), E[keep], returns[col].to_numpy(dtype=float)[keep],
                      barrier[bank].to_numpy(dtype=float)[keep], r[keep]))
    parts = map_items(mapper, functools.partial(bank_cca, config=config), items, desc="cca banks")
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c for c in CCA_COLUMNS if c != "el_share"])
    total, share = system_view(frame)
    frame["el_share"] = share.to_numpy(dtype=float)
    return frame[list(CCA_COLUMNS)], total, status_events(frame)
