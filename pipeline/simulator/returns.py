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
* the sum runs over the two leaders of i's pair (:mod:`.roster`; at 16 banks one pair, both leaders).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import design
from .balance_sheet import group_values
from .markets import TRADING_DAYS, day_number, simulate_garch
from .roster import leader_pairs


def daily_equity(dates: pd.DatetimeIndex, balance_sheet: pd.DataFrame, bank_ids: list[str]) -> np.ndarray:
    """Book equity per date (rows) and bank (columns), log-linear between period ends, flat outside."""
    t = day_number(dates)
    out = np.empty((len(dates), len(bank_ids)))
    rows = balance_sheet.groupby("bank_id", sort=False).indices
    x_all, equity = day_number(balance_sheet["period_end"]), np.log(balance_sheet["equity"].to_numpy())
    for j, bank in enumerate(bank_ids):
        out[:, j] = np.exp(np.interp(t, x_all[rows[bank]], equity[rows[bank]]))
    return out


def lead_coefficients(dates: pd.DatetimeIndex, balance_sheet: pd.DataFrame, leaders=design.LEADERS) -> np.ndarray:
    """phi_{L,y(t)} per date and leader (``leaders``, bank ids; default the 16-bank leaders):
    ``clip(LEAD_PHI - LEAD_PHI_CAR (CAR_{L,y} - mean_y CAR_L))``."""
    out = np.empty((len(dates), len(leaders)))
    years = dates.year.to_numpy()
    rows = balance_sheet.groupby("bank_id", sort=False).indices
    for j, leader in enumerate(leaders):
        bs = balance_sheet.iloc[rows[leader]]
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
    """Log returns (dates × banks) from ``dates[first]`` on and the market caps on ``dates[first]``.

    ``banks`` is :func:`.roster.bank_roster` with ``mcap_start``; ``phi`` has one column per
    leader in roster order. Returns ``ret`` (log returns, burn-in rows included, zero before
    ``first``), ``cap0`` (market caps at ``first``) and ``eps`` (idiosyncratic shocks).
    """
    n, nb = len(dates), len(banks)

    def arr(key: str) -> np.ndarray:
        return group_values(groups, banks["group"], key)

    pairs = leader_pairs(banks)
    follower = ~banks["leader"].to_numpy()
    pair_of = banks["pair"].to_numpy()

    idio_var = arr("idio_vol_annual") ** 2 / TRADING_DAYS
    # a pair's lagged shocks are common to its followers: take their variance, divided by the
    # number of pairs (the share of a follower's peers in its pair), out of the followers'
    # group-factor variance (as far as it goes), so that mean within-group correlations stay calibrated
    lead_var = np.array([sum(design.LEAD_PHI**2 * idio_var[k] for k in pair) * TRADING_DAYS for pair in pairs])[pair_of] / len(pairs)
    group_vol = np.sqrt(np.where(follower, np.maximum(arr("group_factor_vol_annual") ** 2 - lead_var, 0.0), arr("group_factor_vol_annual") ** 2))
    alpha, beta, nu = arr("idio_alpha"), arr("idio_beta"), arr("idio_nu")
    eps, _ = simulate_garch(rng, n, omega=idio_var * (1 - alpha - beta), alpha=alpha, beta=beta, nu=nu, width=nb)

    shock = factor["loading_scale"][:, None] * arr("loading")[None, :] * factor["f"][:, None]
    names = sorted(groups)
    gf, _ = simulate_garch(rng, n, omega=(1 - factor_dynamics["alpha"] - factor_dynamics["beta"]) / TRADING_DAYS,
                           alpha=factor_dynamics["alpha"], beta=factor_dynamics["beta"], nu=factor_dynamics["nu"], width=len(names))
    column = np.array([names.index(x) for x in banks["group"]])
    shock += gf[:, column] * group_vol[None, :]
    shock += eps
    # follower j gets sum over its pair's leaders L of phi_L e_{L,t-1}; leader columns of phi in roster order
    col = np.cumsum(banks["leader"].to_numpy()) - 1
    lagged = np.column_stack([(phi[1:][:, col[pair]] * eps[:-1][:, pair]).sum(axis=1) for pair in pairs])
    shock[1:, follower] += lagged[:, pair_of[follower]]
    del lagged

    log_pb_target = np.log(design.PB_TARGET)
    ret = np.zeros((n, nb))
    log_m = np.log(banks["mcap_start"].to_numpy())
    cap0 = np.exp(log_m)
    log_equity = np.log(equity)
    k = design.PB_REVERSION / TRADING_DAYS
    for t in range(first + 1, n):
        drift = (log_equity[t] - log_equity[t - 1]) - k * (log_m - log_equity[t - 1] - log_pb_target)
        ret[t] = drift + shock[t]
        log_m = log_m + ret[t]
    return {"ret": ret, "cap0": cap0, "eps": eps}


PRICE_LIMIT = 0.10  # daily price limit of the Shanghai and Shenzhen exchanges (±10 %)


def apply_trading_rules(ret: np.ndarray, first: int, suspended: np.ndarray, limit: float = PRICE_LIMIT) -> np.ndarray:
    """Suspensions and the daily price limit, on log returns from row ``first + 1`` on (in place: returns ``ret``).

    On a suspended day (``suspended[t, i]``) the return is 0 and the day's model return is carried;
    on a trading day the carried return plus the day's is realized up to ``±limit`` (simple
    return), the rest carried on (a limit-down stock keeps falling on the following days, and a
    stock resuming after a suspension catches up over as many days as the limit requires).
    """
    lo, hi = np.log1p(-limit), np.log1p(limit)
    carry = np.zeros(ret.shape[1])
    for t in range(first + 1, ret.shape[0]):
        want = ret[t] + carry
        ret[t] = np.where(suspended[t], 0.0, np.clip(want, lo, hi))
        carry = want - ret[t]
    return ret


def plant_suspensions(rng: np.random.Generator, dates: pd.DatetimeIndex, first: int, banks: pd.DataFrame) -> list[tuple[str, int, int]]:
    """2P–3P trading suspensions (bank, first day index, length 5–30 days) in 2015–2016 for
    non-leader joint-stock and city banks, ``P`` the number of leader pairs (2–3 at 16 banks)."""
    eligible = ~banks["leader"].to_numpy() & (banks["group"] != "state-owned").to_numpy()
    candidates = banks["bank_id"].to_numpy()[eligible].tolist()
    pairs = int(banks["pair"].max()) + 1
    window = np.flatnonzero((dates >= pd.Timestamp("2015-06-01")) & (dates <= pd.Timestamp("2016-10-31")))
    window = window[window > first]
    if len(window) == 0:
        return []
    count = min(int(rng.integers(2 * pairs, 3 * pairs + 1)), len(candidates))
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
