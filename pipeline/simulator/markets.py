"""The common shocks: the banking factor, the broad stock market and the five market states.

Bank factor (GARCH(1,1) with standardized Student-t innovations and stress episodes):

    f_t = mu_t + m_t * sigma_t * z_t,   sigma_t^2 = omega + alpha * (sigma_{t-1} z_{t-1})^2 + beta * sigma_{t-1}^2

with ``m_t`` the product of the episode multipliers active on day t and ``mu_t`` the episode drift
(Bollerslev 1986; the t innovation after Bollerslev 1987). The broad stock market (a CSI 300-like
index) is ``c_t = lambda * f_t + v_t``; the real-estate sector index ``r^RE_t = 1.1 c_t + w_t``.
The five state variables of docs/covar.md are oriented larger = more stress.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import design

TRADING_DAYS = 252


def student_t(rng: np.random.Generator, nu: float, size) -> np.ndarray:
    """Student-t draws scaled to unit variance (nu > 2)."""
    return rng.standard_t(nu, size=size) * np.sqrt((nu - 2.0) / nu)


def day_number(dates) -> np.ndarray:
    """Days since 1970-01-01 as float64, whatever the datetime resolution (ns, us, s)."""
    values = np.asarray(pd.DatetimeIndex(dates).to_numpy(), dtype="datetime64[D]")
    return values.astype("int64").astype("float64")


def anchor_path(dates: pd.DatetimeIndex, anchors: Sequence[tuple[str, float]], *, log: bool = True) -> np.ndarray:
    """Piecewise-linear (in logs when ``log``) interpolation of ``(date, value)`` anchors; flat outside."""
    x = day_number([d for d, _ in anchors])
    y = np.array([v for _, v in anchors], dtype="float64")
    t = day_number(dates)
    if log:
        return np.exp(np.interp(t, x, np.log(y)))
    return np.interp(t, x, y)


def episode_arrays(dates: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Daily multipliers and daily drifts from :data:`design.EPISODES` (products / sums over overlaps)."""
    n = len(dates)
    out = {k: np.ones(n) for k in ("factor_vol", "stock_vol", "fx_vol")}
    out.update({k: np.zeros(n) for k in ("factor_drift", "stock_drift")})
    for ep in design.EPISODES:
        on = (dates >= pd.Timestamp(ep.start)) & (dates <= pd.Timestamp(ep.end))
        out["factor_vol"][on] *= ep.factor_vol
        out["stock_vol"][on] *= ep.stock_vol
        out["fx_vol"][on] *= ep.fx_vol
        out["factor_drift"][on] += ep.factor_drift / TRADING_DAYS
        out["stock_drift"][on] += ep.stock_drift / TRADING_DAYS
    return out


def simulate_garch(
    rng: np.random.Generator, n: int, *, omega: float, alpha: float, beta: float, nu: float,
    multiplier: np.ndarray | None = None, width: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Shocks ``eps`` and conditional volatilities ``sigma`` of GARCH(1,1)-t paths (n × width).

    ``eps_t = m_t u_t``, ``u_t = sigma_t z_t``, ``sigma_t^2 = omega + alpha u_{t-1}^2 + beta sigma_{t-1}^2``:
    the episode multiplier ``m_t`` scales the shock outside the recursion (a multiplier inside
    it would make ``alpha m^2 + beta > 1`` explosive during an episode);
    ``omega``, ``alpha``, ``beta``, ``nu`` may be arrays of length ``width``. Starts at the
    unconditional variance.
    """
    omega, alpha, beta, nu = (np.broadcast_to(np.asarray(v, dtype="float64"), (width,)) for v in (omega, alpha, beta, nu))
    z = rng.standard_t(nu, size=(n, width)) * np.sqrt((nu - 2.0) / nu)
    m = np.ones(n) if multiplier is None else multiplier
    eps = np.empty((n, width))
    sig = np.empty((n, width))
    s2 = omega / (1.0 - alpha - beta)
    for t in range(n):
        sig[t] = np.sqrt(s2)
        u = sig[t] * z[t]
        eps[t] = m[t] * u
        s2 = omega + alpha * u**2 + beta * s2
    return eps, sig


def simulate_factor(rng: np.random.Generator, dates: pd.DatetimeIndex, factor: Mapping, episodes: Mapping) -> dict[str, np.ndarray]:
    """The bank factor ``f``, its conditional volatility, the stress ratio ``s_t`` (volatility /
    unconditional) and the loading multiplier ``k_t = clip(1 + LOADING_STRESS (s_t - 1), 0.8, 1.6) / c``,
    ``c`` chosen so that the variance-weighted mean of ``k_t^2`` over the window is one.

    ``omega`` is scaled down by the mean squared episode multiplier over the calibration window
    (``factor["window"]``, the span of the real returns) so that the variance there matches the
    calibrated factor volatility.
    """
    m = episodes["factor_vol"]
    alpha, beta = factor["alpha"], factor["beta"]
    target_var = (factor["vol_annual"] ** 2) / TRADING_DAYS
    lo, hi = (pd.Timestamp(d) for d in factor["window"])
    inside = (dates >= lo) & (dates <= hi)
    omega = target_var * (1.0 - alpha - beta) / float(np.mean(m[inside] ** 2) if inside.any() else np.mean(m**2))
    eps, sig = simulate_garch(rng, len(dates), omega=omega, alpha=alpha, beta=beta, nu=factor["nu"], multiplier=m)
    eps, sig = eps[:, 0], sig[:, 0]
    stress = m * sig / np.sqrt(target_var)
    lo, hi = design.LOADING_CLIP
    scale = np.clip(1.0 + design.LOADING_STRESS * (stress - 1.0), lo, hi)
    # normalize so the factor's variance contribution over the window is unchanged on average
    w = (m * sig) ** 2
    if inside.any():
        scale = scale / np.sqrt(np.sum(scale[inside] ** 2 * w[inside]) / np.sum(w[inside]))
    return {"f": episodes["factor_drift"] + eps, "sigma": m * sig, "stress": stress, "loading_scale": scale}


def simulate_states(
    rng: np.random.Generator, dates: pd.DatetimeIndex, f: np.ndarray, episodes: Mapping, markets: Mapping
) -> pd.DataFrame:
    """The five market states (larger = more stress), one row per date (burn-in included).

    real_estate: loss of the real-estate index, ``-(1.1 c_t + w_t)``; stock_vol: 20-day rolling
    standard deviation of the stock-market log return (daily, decimal); money: Shibor overnight in
    percent; bond: loss of a bond composite (``-(-D dy_t + y_{t-1}/252)``, yields in decimal);
    fx: ``-d log(USDCNY)``.
    """
    n = len(dates)
    daily = np.sqrt(TRADING_DAYS)
    v = student_t(rng, 5.0, n) * markets["stock_idio_vol"] / daily * episodes["stock_vol"] + episodes["stock_drift"]
    stock = markets["stock_loading"] * f + v
    w = student_t(rng, 5.0, n) * markets["real_estate_idio_vol"] / daily * episodes["stock_vol"]
    real_estate = 1.1 * stock + w
    stock_vol = pd.Series(stock).rolling(20, min_periods=2).std().bfill().to_numpy()

    money = anchor_path(dates, design.MONEY_ANCHORS)
    x = np.zeros(n)
    e = rng.standard_normal(n) * 0.06
    for t in range(1, n):
        x[t] = 0.96 * x[t - 1] + e[t]
    qe = (dates.is_quarter_end) | (dates + pd.offsets.BDay(1)).is_quarter_start
    lo, peak, hi = day_number(list(design.MONEY_SPIKE))
    tv = day_number(dates)
    bump = np.interp(tv, [lo, peak, hi], [0.0, 1.0, 0.0], left=0.0, right=0.0)
    spike = bump * np.log(design.MONEY_SPIKE_PEAK / money)
    money = money * np.exp(x * (1.0 - bump) + 0.25 * qe + spike)

    yld = anchor_path(dates, design.YIELD_ANCHORS, log=False)
    d = np.zeros(n)
    e = rng.standard_normal(n) * 0.025
    for t in range(1, n):
        d[t] = 0.98 * d[t - 1] + e[t]
    yld = (yld + d) / 100.0
    bond_ret = np.concatenate([[0.0], -design.BOND_DURATION * np.diff(yld) + yld[:-1] / TRADING_DAYS])

    fx_log = np.log(anchor_path(dates, design.FX_ANCHORS))
    peg = (dates >= pd.Timestamp(design.FX_PEG[0])) & (dates <= pd.Timestamp(design.FX_PEG[1]))
    scale = np.where(peg, 0.2, 1.0) * episodes["fx_vol"] * markets["fx_noise_vol"]
    u = np.zeros(n)
    e = rng.standard_normal(n)
    for t in range(1, n):
        u[t] = 0.9 * u[t - 1] + scale[t] * e[t]
    fx = np.concatenate([[0.0], -np.diff(fx_log + u)])
    return pd.DataFrame(
        {
            "real_estate": -real_estate,
            "stock_vol": stock_vol,
            "money": money,
            "bond": -bond_ret,
            "fx": fx,
        }
    ).assign(_stock=stock)
