"""System-wide market measures: Absorption Ratio, Turbulence and CATFIN (docs/network_measures.md).

All three read a dates x banks frame of (log) returns and use trailing data only: the value dated t
is a function of returns up to t (rolling windows and calendar months of
:mod:`measures.core.windows`). In each window the banks observed on every row of the window enter;
the others are left out of that window (``n_banks`` says how many entered).

* :func:`absorption_ratio` — Kritzman, Li, Page & Rigobon (2011);
* :func:`turbulence` — Kritzman & Li (2010);
* :func:`catfin` — Allen, Bali & Tang (2012).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from measures.core.config import Config, check_choice, check_range
from measures.core.mapping import Mapper, map_items
from measures.core.windows import calendar_windows, rolling_windows

#: Windows per mapped chunk of the rolling measures (each chunk carries its rows only).
CHUNK = 256
CATFIN_SAMPLES = ("daily", "monthly")
CATFIN_COLUMNS = ["var_np", "var_gpd", "var_skewt", "catfin", "n_obs", "n_banks"]


def wide_returns(returns: pd.DataFrame, column: str = "ret") -> pd.DataFrame:
    """The long ``bank_id, date, <column>`` table as dates x banks (sorted dates and banks)."""
    wide = returns.pivot_table(index="date", columns="bank_id", values=column, aggfunc="first", dropna=False)
    wide.index = pd.DatetimeIndex(wide.index, name="date")
    return wide.sort_index().sort_index(axis=1)


def _check_frame(returns: pd.DataFrame) -> np.ndarray:
    if not isinstance(returns, pd.DataFrame) or not isinstance(returns.index, pd.DatetimeIndex):
        raise ValueError(f"returns must be a DataFrame of dates x banks with a DatetimeIndex; got {type(returns).__name__}")  # noqa: TRY004
    return returns.to_numpy(dtype=float, na_value=np.nan)


def _complete(block: np.ndarray) -> np.ndarray:
    """The columns of ``block`` observed on every row."""
    return block[:, np.isfinite(block).all(axis=0)]


def _window_chunk(item: tuple, *, fn, length: int) -> list[tuple[float, int]]:
    """``fn`` on each window of ``length`` rows ending at the rows ``ends`` of ``block`` (module level: picklable)."""
    block, ends = item
    return [fn(_complete(block[end - length + 1 : end + 1])) for end in ends]


def _rolling(returns: pd.DataFrame, length: int, fn, *, mapper: Mapper | None, desc: str) -> pd.DataFrame:
    """``date, value, n_banks``: ``fn(window)`` on every trailing window of ``length`` rows (the one rolling loop)."""
    values = _check_frame(returns)
    if length > len(values):
        return pd.DataFrame({"date": pd.DatetimeIndex([]), "value": [], "n_banks": np.zeros(0, dtype="int64")})
    wins = rolling_windows(returns.index, length)
    items = []
    for k in range(0, len(wins), CHUNK):
        first, last = int(wins.start[k]), int(wins.stop[min(k + CHUNK, len(wins)) - 1])
        items.append((values[first:last], np.arange(length - 1, last - first)))
    out = [r for chunk in map_items(mapper, functools.partial(_window_chunk, fn=fn, length=length), items, desc=desc) for r in chunk]
    return pd.DataFrame({"date": pd.DatetimeIndex(wins.label, name="date"), "value": [v for v, _ in out],
                         "n_banks": np.array([n for _, n in out], dtype="int64")})


def _absorption(x: np.ndarray, *, n_components: int | None, halflife: float | None) -> tuple[float, int]:
    t, n = x.shape
    if n < 2:
        return np.nan, n
    w = np.full(t, 1.0 / t) if halflife is None else 0.5 ** (np.arange(t - 1, -1, -1) / halflife)
    w = w / w.sum()
    dev = x - w @ x
    cov = (dev * w[:, None]).T @ dev
    eig = np.linalg.eigvalsh(cov)[::-1]
    k = min(n, n_components if n_components is not None else math.ceil(n / 5))
    total = eig.sum()
    return (float(eig[:k].sum() / total) if total > 0 else np.nan), n


def absorption_ratio(returns: pd.DataFrame, n_components: int | None = None, window: int = 500, *,
                     halflife: float | None = None, mapper: Mapper | None = None) -> pd.DataFrame:
    """Absorption Ratio (Kritzman, Li, Page & Rigobon 2011) on trailing windows.

    .. math:: AR_t = \\frac{\\sum_{i=1}^{n} \\sigma^2_{E_i}}{\\sum_{j=1}^{N} \\sigma^2_{A_j}}
              = \\frac{\\sum_{i=1}^{n} \\lambda_i(\\Sigma_t)}{\\operatorname{tr} \\Sigma_t},

    the share of the total variance of the N banks' returns explained by the n leading eigenvectors
    of their covariance ``Σ_t`` over the ``window`` rows ending at t (``λ_1 ≥ λ_2 ≥ ...``).

    Parameters
    ----------
    returns : DataFrame
        Dates x banks; in each window the banks observed on every row enter.
    n_components : int, optional
        n; default ``ceil(N / 5)`` of the window's N (the paper's one fifth of the assets).
    window : int, default 500
        Rows per window (the paper's 500 days).
    halflife : float, optional
        Exponentially weighted covariance with weights ``w_s ∝ 2^{-(t-s)/halflife}`` (the paper: a
        half-life of 250 days); None = equal weights.
    mapper : Mapper, optional
        Maps chunks of windows (:mod:`measures.core.mapping`); results do not depend on it.

    Returns
    -------
    DataFrame
        ``date, value, n_banks`` (value NaN for a window with fewer than two banks).
    """
    if n_components is not None:
        check_range("n_components", n_components, low=1, integer=True)
    check_range("window", window, low=2, integer=True)
    if halflife is not None:
        check_range("halflife", halflife, low=0.0, low_open=True)
    fn = functools.partial(_absorption, n_components=n_components, halflife=halflife)
    return _rolling(returns, window, fn, mapper=mapper, desc="absorption ratio windows")


def _turbulence(x: np.ndarray) -> tuple[float, int]:
    hist, y = x[:-1], x[-1]
    t, n = hist.shape
    if n < 1 or t <= n + 1:
        return np.nan, n
    dev = y - hist.mean(axis=0)
    try:
        return float(dev @ np.linalg.solve(np.cov(hist, rowvar=False, ddof=1).reshape(n, n), dev)), n
    except np.linalg.LinAlgError:
        return np.nan, n


def turbulence(returns: pd.DataFrame, window: int = 250, *, mapper: Mapper | None = None) -> pd.DataFrame:
    """Financial turbulence (Kritzman & Li 2010): the Mahalanobis distance of today's returns from history.

    .. math:: d_t = (y_t - \\mu_t)' \\Sigma_t^{-1} (y_t - \\mu_t),

    with ``μ_t`` and ``Σ_t`` (``ddof=1``) the mean and covariance of the ``window`` rows before t
    (t itself excluded). Under iid normal returns ``d_t (W/(W+1)) ~ ((W-1) N / (W-N)) F(N, W-N)``
    (Hotelling's T²), approximately ``χ²(N)`` with mean ``N`` for a long window.

    Parameters
    ----------
    returns : DataFrame
        Dates x banks; the banks observed on all ``window + 1`` rows enter.
    window : int, default 250
        Rows of history (needs ``window > N + 1``, else NaN).
    mapper : Mapper, optional

    Returns
    -------
    DataFrame
        ``date, value, n_banks``; the first date is row ``window`` (0-based).
    """
    check_range("window", window, low=2, integer=True)
    return _rolling(returns, window + 1, _turbulence, mapper=mapper, desc="turbulence windows")


# -- CATFIN ------------------------------------------------------------------------------------------

def gpd_fit(excess: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood ``(ξ, β)`` of the generalized Pareto distribution of excesses ``y > 0``:
    ``ℓ = -n log β - (1 + 1/ξ) Σ log(1 + ξ y / β)`` (``ξ → 0``: the exponential)."""
    y = np.asarray(excess, dtype=float)
    m, v = y.mean(), y.var()
    xi0 = 0.5 * (1 - m * m / v) if v > 0 else 0.1  # method of moments

    def nll(theta):
        xi, beta = theta[0], np.exp(theta[1])
        z = xi * y / beta
        if np.any(z <= -1):
            return np.inf
        tail = y.sum() / beta if abs(xi) < 1e-9 else (1 + 1 / xi) * np.log1p(z).sum()
        return y.size * np.log(beta) + tail

    start = np.array([xi0, np.log(max(m * (1 - xi0), 1e-12))])
    with np.errstate(invalid="ignore"):  # vertices outside the support (nll = inf): inf - inf in the stopping test
        res = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4_000})
    return float(res.x[0]), float(np.exp(res.x[1]))


def gpd_var(returns: np.ndarray, q: float, tail: float) -> float:
    """VaR (a positive loss) at level q from a GPD fitted to the losses beyond their ``1 - tail`` quantile ``u``:
    ``VaR = u + (β/ξ) [ (q n / n_u)^{-ξ} - 1 ]`` (Peaks over threshold; McNeil, Frey & Embrechts 2005)."""
    loss = -np.asarray(returns, dtype=float)
    u = np.quantile(loss, 1 - tail)
    excess = loss[loss > u] - u
    if excess.size < 5:
        return np.nan
    xi, beta = gpd_fit(excess)
    ratio = q * loss.size / excess.size
    return float(u - beta * np.log(ratio) if abs(xi) < 1e-9 else u + beta / xi * (ratio ** (-xi) - 1))


def _skewt_constants(eta: float, lam: float) -> tuple[float, float, float]:
    c = np.exp(special.gammaln((eta + 1) / 2) - special.gammaln(eta / 2)) / np.sqrt(np.pi * (eta - 2))
    a = 4 * lam * c * (eta - 2) / (eta - 1)
    return a, np.sqrt(max(1 + 3 * lam * lam - a * a, 0.0)), c


def skewt_logpdf(z: np.ndarray, eta: float, lam: float) -> np.ndarray:
    """Log density of Hansen's (1994) standardized skewed t (mean 0, variance 1, ``η > 2``, ``|λ| < 1``):
    ``g(z) = b c [1 + ((b z + a)/(1 ∓ λ))² / (η - 2)]^{-(η+1)/2}``, ``-`` below ``-a/b``."""
    a, b, c = _skewt_constants(eta, lam)
    if not b > 0:
        return np.full(np.shape(z), -np.inf)
    s = np.where(z < -a / b, 1 - lam, 1 + lam)
    return np.log(b * c) - (eta + 1) / 2 * np.log1p(((b * z + a) / s) ** 2 / (eta - 2))


def skewt_ppf(p: np.ndarray | float, eta: float, lam: float) -> np.ndarray:
    """Quantile of Hansen's standardized skewed t (closed form through the Student-t quantile)."""
    a, b, _ = _skewt_constants(eta, lam)
    p = np.asarray(p, dtype=float)
    low = p < (1 - lam) / 2
    scale = np.sqrt((eta - 2) / eta)
    t_low = stats.t.ppf(np.where(low, p / (1 - lam), 0.5), eta)
    t_high = stats.t.ppf(np.where(low, 0.5, 0.5 + (p - (1 - lam) / 2) / (1 + lam)), eta)
    return np.where(low, (1 - lam) * scale * t_low - a, (1 + lam) * scale * t_high - a) / b


def skewt_fit(x: np.ndarray) -> tuple[float, float, float, float]:
    """Maximum-likelihood ``(μ, σ, η, λ)`` of ``x = μ + σ z``, z Hansen's skewed t (fitted to the
    standardized sample, then mapped back: the likelihood is location-scale equivariant)."""
    x = np.asarray(x, dtype=float)
    m, s = x.mean(), x.std()
    if not s > 0:
        return float(m), 0.0, np.inf, 0.0
    z = (x - m) / s

    def unpack(theta):
        return theta[0], np.exp(theta[1]), 2.05 + np.exp(theta[2]), 0.99 * np.tanh(theta[3])

    def nll(theta):
        mu, sigma, eta, lam = unpack(theta)
        value = -(skewt_logpdf((z - mu) / sigma, eta, lam).sum() - z.size * np.log(sigma))
        return value if np.isfinite(value) else np.inf

    res = optimize.minimize(nll, np.array([0.0, 0.0, np.log(4.0), 0.0]), method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2_000})
    mu, sigma, eta, lam = unpack(res.x)
    return float(m + s * mu), float(s * sigma), float(eta), float(lam)


def skewt_var(returns: np.ndarray, q: float) -> float:
    """VaR (a positive loss) at level q of a skewed t fitted to ``returns``: ``-(μ + σ z_q)``."""
    mu, sigma, eta, lam = skewt_fit(returns)
    return float(-(mu + sigma * skewt_ppf(q, eta, lam)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class CatfinConfig(Config):
    """Options of :func:`catfin` (see there)."""

    q: float = 0.01
    sample: str = "daily"
    tail: float = 0.10
    min_obs: int = 100

    def validate(self) -> None:
        check_range("q", self.q, low=0.0, high=0.5, low_open=True, high_open=True)
        check_choice("sample", self.sample, CATFIN_SAMPLES)
        check_range("tail", self.tail, low=self.q, high=0.5, high_open=True)
        check_range("min_obs", self.min_obs, low=10, integer=True)


def _catfin_month(block: np.ndarray, *, cfg: CatfinConfig) -> list:
    """``var_np, var_gpd, var_skewt, catfin, n_obs, n_banks`` of one month's rows (module level: picklable)."""
    if cfg.sample == "monthly":
        full = _complete(block)
        x = full.sum(axis=0)
        n_banks = full.shape[1]
    else:
        x = block[np.isfinite(block)]
        n_banks = int(np.isfinite(block).any(axis=0).sum())
    if x.size < cfg.min_obs:
        return [np.nan, np.nan, np.nan, np.nan, int(x.size), n_banks]
    parts = [float(-np.quantile(x, cfg.q)), gpd_var(x, cfg.q, cfg.tail), skewt_var(x, cfg.q)]
    return [*parts, float(np.mean(parts)), int(x.size), n_banks]


def catfin(returns: pd.DataFrame, q: float = 0.01, *, sample: str = "daily", tail: float = 0.10, min_obs: int = 100,
           mapper: Mapper | None = None) -> pd.DataFrame:
    """CATFIN (Allen, Bali & Tang 2012): the VaR of the cross-section of financial firms' returns, per month.

    Each calendar month m gives a sample ``x`` of returns of the banks; the three VaR estimates
    (positive losses at level q) are

    * non-parametric: ``VaR^{NP} = -Q_x(q)``, the empirical q-quantile (linear interpolation, Hyndman–Fan 7);
    * GPD: peaks over the threshold ``u``, the ``1 - tail`` quantile of the losses ``-x``, with
      ``VaR^{GPD} = u + (β/ξ) [(q n / n_u)^{-ξ} - 1]`` (:func:`gpd_var`);
    * skewed: ``VaR^{ST} = -(μ + σ z_q)`` with the skewed t of Hansen (1994) fitted by maximum
      likelihood (:func:`skewt_var`; the paper uses the skewed generalized error distribution);

    and ``CATFIN_m = (VaR^{NP} + VaR^{GPD} + VaR^{ST}) / 3``.

    Parameters
    ----------
    returns : DataFrame
        Dates x banks (daily log returns; no risk-free rate is subtracted: at a 1% quantile of the
        cross-section a month's risk-free return is negligible).
    q : float, default 0.01
        Tail level (the paper's 1%).
    sample : {"daily", "monthly"}
        ``monthly``: the paper's cross-section of one monthly return (sum of log returns) per bank
        observed on every day of the month — needs a cross-section of hundreds of firms;
        ``daily`` (default): every daily return of every bank in the month pooled, for samples of
        tens of banks.
    tail : float, default 0.10
        Share of the losses above the GPD threshold.
    min_obs : int, default 100
        A month with fewer returns in its sample gets NaN.
    mapper : Mapper, optional
        Maps the months.

    Returns
    -------
    DataFrame
        Indexed by ``date`` (each month's last trading day): ``var_np, var_gpd, var_skewt, catfin, n_obs, n_banks``.
    """
    cfg = CatfinConfig(q=q, sample=sample, tail=tail, min_obs=min_obs)
    values = _check_frame(returns)
    wins = calendar_windows(returns.index, "M")
    rows = map_items(mapper, functools.partial(_catfin_month, cfg=cfg), [values[s] for s in wins.slices()], desc="CATFIN months")
    out = pd.DataFrame(rows, columns=CATFIN_COLUMNS, index=pd.DatetimeIndex(returns.index[wins.end], name="date"))
    return out.astype({"n_obs": "int64", "n_banks": "int64"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class SystemMeasuresConfig(Config):
    """The ``measures.system`` params group: options of :func:`system_measures` (defaults as the functions').

    Every value is causal already (trailing windows, the month's own returns): :meth:`for_realtime`
    is the default (itself).
    """

    ar_window: int = 500
    ar_components: int | None = None
    ar_halflife: float | None = None
    turbulence_window: int = 250
    catfin: CatfinConfig = CatfinConfig()

    def validate(self) -> None:
        check_range("ar_window", self.ar_window, low=2, integer=True)
        if self.ar_components is not None:
            check_range("ar_components", self.ar_components, low=1, integer=True)
        if self.ar_halflife is not None:
            check_range("ar_halflife", self.ar_halflife, low=0.0, low_open=True)
        check_range("turbulence_window", self.turbulence_window, low=2, integer=True)


#: measure name -> frequency of the rows of :func:`system_measures`.
SYSTEM_MEASURES = {"absorption_ratio": "daily", "turbulence": "daily", "catfin": "monthly", "catfin_np": "monthly",
                   "catfin_gpd": "monthly", "catfin_skewt": "monthly"}


def system_measures(returns: pd.DataFrame, config: SystemMeasuresConfig = SystemMeasuresConfig(), *,
                    mapper: Mapper | None = None) -> pd.DataFrame:
    """Absorption Ratio, Turbulence (daily) and CATFIN with its three VaRs (monthly) as one long table.

    Parameters
    ----------
    returns : DataFrame
        Dates x banks of log returns (:func:`wide_returns` of the returns artifact).
    config : SystemMeasuresConfig
    mapper : Mapper, optional

    Returns
    -------
    DataFrame
        ``date, measure, frequency, value, n_banks`` (:data:`SYSTEM_MEASURES`), sorted by measure and date.
    """
    ar = absorption_ratio(returns, config.ar_components, config.ar_window, halflife=config.ar_halflife, mapper=mapper)
    tu = turbulence(returns, config.turbulence_window, mapper=mapper)
    cf = catfin(returns, **config.catfin.to_dict(), mapper=mapper).reset_index()
    parts = [ar.assign(measure="absorption_ratio"), tu.assign(measure="turbulence")]
    for measure, column in (("catfin", "catfin"), ("catfin_np", "var_np"), ("catfin_gpd", "var_gpd"), ("catfin_skewt", "var_skewt")):
        parts.append(cf[["date", column, "n_banks"]].rename(columns={column: "value"}).assign(measure=measure))
    out = pd.concat(parts, ignore_index=True)
    out["frequency"] = out["measure"].map(SYSTEM_MEASURES)
    return out[["date", "measure", "frequency", "value", "n_banks"]].sort_values(["measure", "date"], ignore_index=True)
