"""Bank returns, prices, market capitalization, shares and volume.

Daily log return of bank i (one-factor model with GARCH idiosyncratic shocks and a planted lead–lag):

    r_{i,t} = d_{i,t} + beta_{i,t} f_t + gamma_g g_{g,t} + e_{i,t} + 1[i not a leader] * sum_L phi_{L,y(t)} e_{L,t-1}

* ``beta_{i,t} = beta_g * k_t``, ``k_t ∝ clip(1 + LOADING_STRESS (s_t - 1), 0.8, 1.6)``: loadings
  rise with the factor's stress ratio ``s_t``, so correlations rise in stress (on top of the
  factor's share); see :func:`.markets.simulate_factor`;
* ``g_{g,t}``: a group factor (GARCH(1,1)-t with the factor's dynamics, unit annual variance),
  ``gamma_g`` its calibrated volatility: extra within-group correlation;
* ``e_{i,t}``: GARCH(1,1)-t with the group's parameters (idiosyncratic volatility clustering);
* ``d_{i,t} = Δlog equity_{i,t} - PB_REVERSION/252 * (log PB_{i,t-1} - log PB_TARGET)``: the
  valuation anchor keeps price-to-book in a realistic band (equity interpolated log-linearly
  between year ends);
* ``phi_{L,y}`` from :mod:`.design` (falls with the leader's CAR in year y).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import design
from .balance_sheet import group_values
from .markets import TRADING_DAYS, day_number, simulate_garch


def daily_equity(dates: pd.DatetimeIndex, balance_sheet: pd.DataFrame, bank_ids: list[str]) -> np.ndarray:
    """Book equity per date (rows) and bank (columns), log-linear between period ends, flat outside."""
    t = day_number(dates)
    out = np.empty((len(dates), len(bank_ids)))
    for j, bank in enumerate(bank_ids):
        bs = balance_sheet[balance_sheet["bank_id"] == bank]
        x = day_number(bs["period_end"])
        out[:, j] = np.exp(np.interp(t, x, np.log(bs["equity"].to_numpy())))
    return out


def lead_coefficients(dates: pd.DatetimeIndex, balance_sheet: pd.DataFrame) -> np.ndarray:
    """phi_{L,y(t)} per date and leader: ``clip(LEAD_PHI - LEAD_PHI_CAR (CAR_{L,y} - mean_y CAR_L))``."""
    out = np.empty((len(dates), len(design.LEADERS)))
    years = dates.year.to_numpy()
    for j, leader in enumerate(design.LEADERS):
        bs = balance_sheet[balance_sheet["bank_id"] == leader]
        car = pd.Series(bs["car"].to_numpy(), index=bs["period_end"].dt.year.to_numpy())
        phi = (design.LEAD_PHI - design.LEAD_PHI_CAR * (car - car.mean())).clip(design.LEAD_PHI_MIN, design.LEAD_PHI_MAX)
        out[:, j] = phi.reindex(np.clip(years, car.index.min(), car.index.max())).to_numpy()
    return out


def simulate_returns(
    rng: np.random.Generator,
    dates: pd.DatetimeIndex,
    first: int,
    banks: pd.DataFrame,
    groups: Mapping,
    factor: Mapping[str, np.ndarray],
    factor_dynamics: Mapping[str, float],
    equity: np.ndarray,
    phi: np.ndarray,
) -> dict[str, np.ndarray]:
    """Log returns (dates × banks) and market caps from ``dates[first]`` on.

    Returns ``ret`` (log returns, burn-in rows included, zero before ``first``), ``mcap``
    (NaN before ``first``), ``eps`` (idiosyncratic shocks).
    """
    n, nb = len(dates), len(banks)

    def arr(key: str) -> np.ndarray:
        return group_values(groups, banks["group"], key)

    leaders = np.flatnonzero(banks["bank_id"].isin(design.LEADERS).to_numpy())
    follower = ~banks["bank_id"].isin(design.LEADERS).to_numpy()

    idio_var = arr("idio_vol_annual") ** 2 / TRADING_DAYS
    # the leaders' lagged shocks are common to all followers: take their variance out of the
    # followers' group-factor variance (as far as it goes), so correlations stay calibrated
    lead_var = sum(design.LEAD_PHI**2 * idio_var[k] for k in leaders) * TRADING_DAYS
    group_vol = np.sqrt(np.where(follower, np.maximum(arr("group_factor_vol_annual") ** 2 - lead_var, 0.0), arr("group_factor_vol_annual") ** 2))
    alpha, beta, nu = arr("idio_alpha"), arr("idio_beta"), arr("idio_nu")
    eps, _ = simulate_garch(rng, n, omega=idio_var * (1 - alpha - beta), alpha=alpha, beta=beta, nu=nu, width=nb)

    systematic = factor["loading_scale"][:, None] * arr("loading")[None, :] * factor["f"][:, None]
    names = sorted(groups)
    gf, _ = simulate_garch(rng, n, omega=(1 - factor_dynamics["alpha"] - factor_dynamics["beta"]) / TRADING_DAYS,
                           alpha=factor_dynamics["alpha"], beta=factor_dynamics["beta"], nu=factor_dynamics["nu"], width=len(names))
    column = np.array([names.index(x) for x in banks["group"]])
    systematic = systematic + gf[:, column] * group_vol[None, :]
    lagged = np.zeros((n, nb))
    lagged[1:] = (phi[1:] * eps[:-1][:, leaders]).sum(axis=1)[:, None] * follower[None, :]
    shock = systematic + eps + lagged

    log_pb_target = np.log(design.PB_TARGET)
    dlog_eq = np.vstack([np.zeros((1, nb)), np.diff(np.log(equity), axis=0)])
    ret = np.zeros((n, nb))
    mcap = np.full((n, nb), np.nan)
    log_m = np.log(banks["mcap_start"].to_numpy())
    mcap[first] = np.exp(log_m)
    k = design.PB_REVERSION / TRADING_DAYS
    for t in range(first + 1, n):
        drift = dlog_eq[t] - k * (log_m - np.log(equity[t - 1]) - log_pb_target)
        ret[t] = drift + shock[t]
        log_m = log_m + ret[t]
        mcap[t] = np.exp(log_m)
    return {"ret": ret, "mcap": mcap, "eps": eps}


PRICE_LIMIT = 0.10  # daily price limit of the Shanghai and Shenzhen exchanges (±10 %)


def apply_trading_rules(ret: np.ndarray, first: int, suspended: np.ndarray, limit: float = PRICE_LIMIT) -> np.ndarray:
    """Suspensions and the daily price limit, on log returns from row ``first + 1`` on.

    On a suspended day (``suspended[t, i]``) the return is 0 and the day's model return is carried;
    on a trading day the carried return plus the day's is realized up to ``±limit`` (simple
    return), the rest carried on (a limit-down stock keeps falling on the following days, and a
    stock resuming after a suspension catches up over as many days as the limit requires).
    """
    ret = ret.copy()
    lo, hi = np.log1p(-limit), np.log1p(limit)
    carry = np.zeros(ret.shape[1])
    for t in range(first + 1, ret.shape[0]):
        want = ret[t] + carry
        ret[t] = np.where(suspended[t], 0.0, np.clip(want, lo, hi))
        carry = want - ret[t]
    return ret


def plant_suspensions(rng: np.random.Generator, dates: pd.DatetimeIndex, first: int, bank_ids: list[str]) -> list[tuple[str, int, int]]:
    """2–3 trading suspensions (bank, first day index, length 5–30 days) in 2015–2016 for non-leaders."""
    candidates = [b for b in bank_ids if b not in design.LEADERS and not b.startswith("SOB")]
    window = np.flatnonzero((dates >= pd.Timestamp("2015-06-01")) & (dates <= pd.Timestamp("2016-10-31")))
    window = window[window > first]
    if len(window) == 0:
        return []
    count = int(rng.integers(2, 4))
    chosen = rng.choice(len(candidates), size=count, replace=False)
    out = []
    for c in sorted(chosen):
        start = int(rng.choice(window))
        length = int(rng.integers(5, 31))
        out.append((candidates[c], start, min(length, len(dates) - 1 - start)))
    return out


def suspension_mask(shape: tuple[int, int], suspensions: list[tuple[str, int, int]], bank_ids: list[str]) -> np.ndarray:
    """Boolean (dates × banks) mask of the planted suspension days."""
    mask = np.zeros(shape, dtype=bool)
    for bank, start, length in suspensions:
        mask[start : start + length, bank_ids.index(bank)] = True
    return mask


def simulate_volume(rng: np.random.Generator, ret: np.ndarray, shares: np.ndarray, turnover: np.ndarray) -> np.ndarray:
    """Shares traded: ``shares * turnover_g * exp(0.35 u_t + 12 |r_t|)`` with AR(1) noise ``u`` (mean-one scaled)."""
    n, nb = ret.shape
    u = np.zeros((n, nb))
    e = rng.standard_normal((n, nb)) * 0.35 * np.sqrt(1 - 0.8**2)
    for t in range(1, n):
        u[t] = 0.8 * u[t - 1] + e[t]
    return np.round(shares * turnover[None, :] * np.exp(u + 12.0 * np.abs(ret) - 0.5 * 0.35**2))
