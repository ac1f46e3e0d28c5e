"""MES, LRMES, SRISK and three ΔCoVaRs with the conventions of Benoit, Colletaz, Hurlin & Pérignon (2013).

"A theoretical and empirical comparison of systemic risk measures" (cited by Lu–Zhang); the
conventions are those of the authors' companion code (``call_fct`` / ``fct_MES``, rev. 2015):

1. returns are demeaned: ``x = r - mean(r)`` (market ``m``, firm ``i``);
2. a bivariate DCC(1,1) on zero-mean Gaussian GJR-GARCH(1,1,1) fits, two-step QML;
3. ``VaR_i,t = sigma_i,t * Q_alpha(x_i / sigma_i)`` (empirical quantile of the standardised
   returns, alpha = 5%, a return, negative);
4. MES (positive loss) by the Brownlees–Engle kernel with the threshold ``C = Q_alpha(x_m)``
   (the historical market VaR) and bandwidth ``h = T^(-0.2)``. As in ``fct_MES`` the two tail
   expectations are scalars over the sample, each observation ``s`` having its own threshold
   ``C / sigma_m,s``::

       K1 = sum_s eps_m,s Phi((C/sigma_m,s - eps_m,s)/h) / sum_s Phi((C/sigma_m,s - eps_m,s)/h),
       K2 = the same with xi_i,s = (eps_i,s - rho_s eps_m,s)/sqrt(1 - rho_s^2),
       MES_t = -(sigma_i,t rho_t K1 + sigma_i,t sqrt(1 - rho_t^2) K2);

   (:func:`measures.systemic.dynamic_mes` is the variant with a date-specific threshold);
5. ``LRMES = 1 - exp(-18 MES)``; ``SRISK = k LTQ - (1 - k)(1 - LRMES) MV``, ``k = 8%``, not floored;
6. ``ΔCoVaR-DCC_t = -rho_t sigma_m,t / sigma_i,t (VaR_i,t - median(x_i))``;
   ``ΔCoVaR-QR_t = -g_q (VaR_i,t - median(x_i))`` with ``g_q`` the slope of the alpha-quantile
   regression of ``x_m`` on a constant and ``x_i``;
   ``ΔCoVaR-OLS_t = -g (VaR_i,t - median(x_i))`` with ``g`` the OLS slope of ``x_m`` on ``x_i``
   without constant. All three are positive losses.

Empirical quantiles use MATLAB's definition (linear interpolation between order statistics at
``(k - 0.5)/T``), numpy's ``method="hazen"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.special import ndtr

from measures.core.config import check_range
from measures.dcc import DCCConfig, fit_dcc

COLUMNS = ("mes", "lrmes", "srisk", "delta_covar_dcc", "delta_covar_qr", "delta_covar_ols")


def _quantile_slope(y: np.ndarray, x: np.ndarray, q: float) -> float:
    """Slope of the exact q-quantile regression of ``y`` on ``(1, x)`` (HiGHS LP vertex).

    Private stand-in until ``measures.core.quantreg.quantile_regression`` is settled:
    ``min q 1'u + (1-q) 1'v`` s.t. ``X b + u - v = y``, ``u, v >= 0``.
    """
    n = y.size
    design = np.column_stack([np.ones(n), x])
    eye = sp.identity(n, format="csc")
    a_eq = sp.hstack([sp.csc_matrix(design), eye, -eye], format="csc")
    cost = np.concatenate([np.zeros(2), np.full(n, q), np.full(n, 1.0 - q)])
    bounds = [(None, None)] * 2 + [(0, None)] * (2 * n)
    res = linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"quantile regression LP failed: {res.message}")
    return float(res.x[1])


def _series(name: str, value, index: pd.Index | None) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        where = index[bad[0]] if index is not None else int(bad[0])
        raise ValueError(f"{name} has a non-finite value {arr[bad[0]]} at index {where}")
    return arr


def benoit2013(
    market_returns,
    firm_returns,
    liabilities,
    market_cap,
    *,
    alpha: float = 0.05,
    k: float = 0.08,
    config: DCCConfig | None = None,
) -> pd.DataFrame:
    """The six measures of Benoit et al. (2013) for one firm, by date; see the module docstring.

    Parameters
    ----------
    market_returns, firm_returns : array_like or Series, shape (T,)
        Market (system) and firm returns in decimals, finite.
    liabilities, market_cap : array_like or Series, shape (T,)
        Total liabilities (LTQ) and market capitalisation (MV), same units; MV > 0.
    alpha : float
        Risk level of the VaR and of the market tail (5%).
    k : float
        Prudential capital ratio (8%).
    config : DCCConfig, optional
        Defaults to the companion's model: GJR-GARCH, normal, zero mean.

    Returns
    -------
    DataFrame
        Columns ``mes, lrmes, srisk, delta_covar_dcc, delta_covar_qr, delta_covar_ols`` on the
        input index (or a RangeIndex); ``attrs`` holds the DCC estimates, ``gamma_qr``,
        ``gamma_ols`` and the fit status.

    Raises
    ------
    ValueError
        Mismatched lengths, a non-finite value, non-positive market cap, bad alpha / k.
    """
    check_range("alpha", alpha, low=0.0, high=0.5, low_open=True)
    check_range("k", k, low=0.0, high=1.0, low_open=True, high_open=True)
    config = config or DCCConfig(vol="gjr", dist="normal", mean="zero")
    index = market_returns.index if isinstance(market_returns, pd.Series) else None
    rm = _series("market_returns", market_returns, index)
    ri = _series("firm_returns", firm_returns, index)
    ltq = _series("liabilities", liabilities, index)
    mv = _series("market_cap", market_cap, index)
    if not (rm.size == ri.size == ltq.size == mv.size):
        raise ValueError(
            f"inputs must have equal length; got market_returns {rm.size}, firm_returns {ri.size}, "
            f"liabilities {ltq.size}, market_cap {mv.size}"
        )
    bad = np.flatnonzero(mv <= 0)
    if bad.size:
        where = index[bad[0]] if index is not None else int(bad[0])
        raise ValueError(f"market_cap must be positive; market_cap={mv[bad[0]]} at index {where}")
    index = index if index is not None else pd.RangeIndex(rm.size)
    xm, xi = rm - rm.mean(), ri - ri.mean()
    fit = fit_dcc(pd.DataFrame({"market": xm, "firm": xi}, index=index), config=config)
    if not fit.converged:
        raise RuntimeError(f"benoit2013: the DCC fit failed: {fit.status}")
    s_m, s_i = fit.sigma[:, 0], fit.sigma[:, 1]
    rho = fit.correlation[:, 0, 1]
    var_i = s_i * np.quantile(xi / s_i, alpha, method="hazen")
    c = np.quantile(xm, alpha, method="hazen")
    e_m = xm / s_m
    root = np.sqrt(1.0 - rho**2)
    xi_i = (xi / s_i - rho * e_m) / root
    weights = ndtr((c / s_m - e_m) / xm.size ** (-0.2))
    k1 = weights @ e_m / weights.sum()
    k2 = weights @ xi_i / weights.sum()
    mes = -(s_i * rho * k1 + s_i * root * k2)
    lrmes = 1.0 - np.exp(-18.0 * mes)
    stress = var_i - np.median(xi)
    gamma_qr = _quantile_slope(xm, xi, alpha)
    gamma_ols = float(xi @ xm / (xi @ xi))
    out = pd.DataFrame(
        {
            "mes": mes,
            "lrmes": lrmes,
            "srisk": k * ltq - (1.0 - k) * (1.0 - lrmes) * mv,
            "delta_covar_dcc": -rho * s_m / s_i * stress,
            "delta_covar_qr": -gamma_qr * stress,
            "delta_covar_ols": -gamma_ols * stress,
        },
        index=index,
    )
    out.attrs.update(
        {
            "dcc_a": fit.a,
            "dcc_b": fit.b,
            "gamma_qr": gamma_qr,
            "gamma_ols": gamma_ols,
            "status": fit.status,
            "garch_market": dict(zip(fit.univariate[0].param_names, fit.univariate[0].params.tolist())),
            "garch_firm": dict(zip(fit.univariate[1].param_names, fit.univariate[1].params.tolist())),
        }
    )
    return out
