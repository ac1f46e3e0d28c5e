"""Long-run MES: the expected fall of a firm's equity given a market fall of ``d`` over ``h`` days.

Three routes (docs/srisk.md):

* closed form (V-Lab, default): ``LRMES_i,t = 1 - exp(log(1 - d) * beta_i,t)``,
  ``beta_i,t = rho_i,t sigma_i,t / sigma_m,t`` from the DCC;
* ``1 - exp(-18 * MES_i,t)`` (Acharya, Engle & Richardson 2012; ``d = 40%``, ``h = 126``);
* simulation (Brownlees & Engle 2017, §3.2): bootstrap the decorrelated standardised residual
  pairs ``(eps_m,s, xi_i,s)`` of the fitted bivariate DCC-GJR-GARCH, simulate ``h`` days
  ahead from date ``t`` with the fitted recursions, and average the firm's arithmetic
  cumulative return over the paths where the market's falls by at least ``d``:
  ``LRMES = -E[exp(R_i,t+1:t+h) - 1 | exp(R_m,t+1:t+h) - 1 <= -d]``.
"""

from __future__ import annotations

import numpy as np

from measures.core.config import check_range
from measures.core.status import FitStatus
from measures.dcc.likelihood import filter_q, second_moment
from measures.dcc.results import DCCResult

MIN_CRISIS_PATHS = 30


def dcc_beta(rho, sigma_firm, sigma_market) -> np.ndarray:
    """Conditional beta ``rho sigma_i / sigma_m``."""
    return np.asarray(rho, dtype=float) * np.asarray(sigma_firm, dtype=float) / np.asarray(sigma_market, dtype=float)


def lrmes_closed_form(beta, *, crash: float = 0.40) -> np.ndarray:
    """``1 - exp(log(1 - d) * beta)`` (V-Lab)."""
    check_range("crash", crash, low=0.0, high=1.0, low_open=True, high_open=True)
    return 1.0 - np.exp(np.log1p(-crash) * np.asarray(beta, dtype=float))


def lrmes_from_mes(mes, *, factor: float = 18.0) -> np.ndarray:
    """``1 - exp(-factor * MES)`` with MES a positive daily loss (Acharya, Engle & Richardson 2012)."""
    check_range("factor", factor, low=0.0, low_open=True)
    return 1.0 - np.exp(-factor * np.asarray(mes, dtype=float))


GARCH_TERMS = ("mu", "omega", "alpha", "gamma", "beta")


def _garch_arrays(result: DCCResult) -> dict[str, np.ndarray]:
    return {n: np.array([fit.param(n) for fit in result.univariate]) for n in GARCH_TERMS}


def simulate_lrmes(
    result: DCCResult,
    *,
    at: int = -1,
    crash: float = 0.40,
    horizon: int = 126,
    n_paths: int = 10_000,
    rng: np.random.Generator,
    market: int = 0,
) -> tuple[float, str]:
    """LRMES of the firm of a bivariate DCC fit at position ``at`` by bootstrap simulation.

    Parameters
    ----------
    result : DCCResult
        A converged bivariate fit; column ``market`` is the market, the other the firm.
    at : int
        Position of the forecast origin ``t`` in the fitted sample (default: the last day).
    crash, horizon, n_paths : float, int, int
        ``d``, ``h`` and the number of simulated paths.
    rng : numpy.random.Generator
        Seeded generator (the result is a deterministic function of its state).

    Returns
    -------
    (lrmes, status)
        ``status`` is ``ok``; ``warning:FewCrisisPaths`` when fewer than 30 paths crash;
        ``failed:NoCrisisPaths: ...`` (and NaN) when none does, or ``failed:...`` when the
        fit itself failed. See :func:`simulate_lrmes_paths` for the same from the paths.
    """
    if len(result.names) != 2:
        raise ValueError(f"simulate_lrmes needs a bivariate fit; got {len(result.names)} series {result.names}")
    if not result.converged:
        _check_simulation(crash, horizon, n_paths)
        return float("nan"), result.status
    firm = 1 - market
    order = [market, firm]
    garch = {k: v[order] for k, v in _garch_arrays(result).items()}
    return simulate_lrmes_paths(
        result.sigma[:, order], result.std_resid[:, order], result.correlation[:, market, firm], garch,
        result.a, result.b, qbar=result.qbar[np.ix_(order, order)],
        at=at, crash=crash, horizon=horizon, n_paths=n_paths, rng=rng,
    )


def simulate_lrmes_paths(
    sigma: np.ndarray,
    std_resid: np.ndarray,
    rho: np.ndarray,
    garch: dict[str, np.ndarray],
    a: float,
    b: float,
    *,
    qbar: np.ndarray | None = None,
    at: int = -1,
    crash: float = 0.40,
    horizon: int = 126,
    n_paths: int = 10_000,
    rng: np.random.Generator,
) -> tuple[float, str]:
    """LRMES by bootstrap simulation (Brownlees & Engle 2017, section 3.2) from a fitted pair's paths.

    Parameters
    ----------
    sigma, std_resid : ndarray, shape (T, 2)
        Conditional volatilities (decimals) and standardised residuals; column 0 the market,
        column 1 the firm.
    rho : ndarray, shape (T,)
        The DCC correlation path ``rho_t``.
    garch : dict
        ``mu``, ``omega``, ``alpha``, ``gamma``, ``beta``: arrays of two (market, firm), the
        GJR-GARCH(1,1,1) parameters in decimals (``gamma = 0`` for GARCH, ``mu = 0`` for a
        zero mean).
    a, b : float
        DCC parameters.
    qbar : ndarray (2, 2), optional
        ``Qbar``; default ``z'z / T`` of ``std_resid`` (as in the fit).
    at, crash, horizon, n_paths, rng
        As in :func:`simulate_lrmes`.

    Returns
    -------
    (lrmes, status)
        ``ok``, ``warning:FewCrisisPaths`` (fewer than 30 crisis paths) or
        ``failed:NoCrisisPaths: ...`` with NaN.
    """
    _check_simulation(crash, horizon, n_paths)
    z = np.asarray(std_resid, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    nobs = z.shape[0]
    qbar = second_moment(z) if qbar is None else qbar
    pos = range(nobs)[at]
    rho_path = np.asarray(rho, dtype=float)
    # decorrelated innovations u = (eps_m, xi_i) over the sample: the bootstrap pool
    pool = np.column_stack([z[:, 0], (z[:, 1] - rho_path * z[:, 0]) / np.sqrt(1 - rho_path**2)])
    g = garch
    rows, cols = np.array([0, 1, 0]), np.array([0, 1, 1])
    q_path = filter_q((z.T[rows] * z.T[cols]), qbar[rows, cols], a, b)
    # state at t+1
    e = sigma[pos] * z[pos]
    var = g["omega"] + (g["alpha"] + g["gamma"] * (e < 0)) * e**2 + g["beta"] * sigma[pos] ** 2
    q = (1 - a - b) * qbar[rows, cols] + a * z[pos, rows] * z[pos, cols] + b * q_path[:, pos]
    var = np.broadcast_to(var, (n_paths, 2)).copy()
    q = np.broadcast_to(q, (n_paths, 3)).copy()
    cumulative = np.zeros((n_paths, 2))
    draws = rng.integers(0, nobs, size=(horizon, n_paths))
    for step in range(horizon):
        u = pool[draws[step]]
        rho_t = q[:, 2] / np.sqrt(q[:, 0] * q[:, 1])
        zz = np.column_stack([u[:, 0], rho_t * u[:, 0] + np.sqrt(1 - rho_t**2) * u[:, 1]])
        e = np.sqrt(var) * zz
        cumulative += g["mu"] + e
        var = g["omega"] + (g["alpha"] + g["gamma"] * (e < 0)) * e**2 + g["beta"] * var
        q = (1 - a - b) * qbar[rows, cols] + a * zz[:, rows] * zz[:, cols] + b * q
    crisis = np.expm1(cumulative[:, 0]) <= -crash
    hits = int(crisis.sum())
    if hits == 0:
        return float("nan"), str(FitStatus("failed", "NoCrisisPaths", f"no path of {n_paths} fell by {crash:.0%}"))
    value = float(-np.expm1(cumulative[crisis, 1]).mean())
    status = FitStatus("warning", "FewCrisisPaths") if hits < MIN_CRISIS_PATHS else FitStatus("ok")
    return value, str(status)


def _check_simulation(crash: float, horizon: int, n_paths: int) -> None:
    check_range("crash", crash, low=0.0, high=1.0, low_open=True, high_open=True)
    check_range("horizon", horizon, low=1, integer=True)
    check_range("n_paths", n_paths, low=1, integer=True)
