"""The only module that touches statsmodels result objects for VARs and Granger tests.

Every function builds a new model per call, passes options by keyword, records any
warning raised by statsmodels as a status string (``ok`` / ``warning:<Class>``, see
``measures.core.status``) and returns plain numbers / numpy arrays.
``VARResults.test_causality`` is always called with an explicit ``causing=``: its
default (``causing=None``) is broken for three or more variables.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from measures.core.status import status_from_warnings


def _call(fn: Callable[[], Any]) -> tuple[Any, str]:
    """Run ``fn`` recording warnings; return ``(value, status string)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn()
    return value, str(status_from_warnings(caught))


def _var_model(data: np.ndarray):
    from statsmodels.tsa.api import VAR

    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or np.isnan(data).any():
        raise ValueError(f"data must be a 2-D array without NaN for statsmodels VAR; got shape {data.shape}")
    return VAR(endog=data)


def var_select_order(data: np.ndarray, *, max_lags: int) -> dict[str, Any]:
    """Lag orders chosen by statsmodels ``VAR.select_order(maxlags=, trend="c")``.

    Returns ``{"aic": int, "bic": int, "hqic": int, "fpe": int, "status": str}``.
    """
    model = _var_model(data)
    result, status = _call(lambda: model.select_order(maxlags=max_lags, trend="c"))
    out: dict[str, Any] = {name: int(order) for name, order in result.selected_orders.items()}
    out["status"] = status
    return out


def _fit(data: np.ndarray, lags: int):
    model = _var_model(data)
    return _call(lambda: model.fit(maxlags=lags, ic=None, trend="c"))


def var_granger_pvalues(data: np.ndarray, *, lags: int) -> dict[str, Any]:
    """Granger F-test p-values of a VAR(``lags``) for every ordered pair, by ``test_causality``.

    ``pvalues[i, j]`` tests "series i Granger-causes series j" (``caused=j, causing=i,
    kind="f"``); the diagonal is NaN. Returns ``{"pvalues", "statistics", "df", "nobs", "status"}``.
    """
    results, status = _fit(data, lags)
    n = results.neqs
    pvalues = np.full((n, n), np.nan)
    stats = np.full((n, n), np.nan)
    df = None
    statuses = [status]
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            test, st = _call(lambda i=i, j=j: results.test_causality(caused=[j], causing=[i], kind="f", signif=0.05))
            pvalues[i, j] = float(test.pvalue)
            stats[i, j] = float(test.test_statistic)
            df = tuple(int(d) for d in test.df)
            statuses.append(st)
    worst = next((s for s in statuses if s != "ok"), "ok")
    return {"pvalues": pvalues, "statistics": stats, "df": df, "nobs": int(results.nobs), "status": worst}


def granger_ssr_ftest(caused: np.ndarray, causing: np.ndarray, *, lags: int) -> dict[str, Any]:
    """Single-equation Granger F test (``grangercausalitytests``' ``ssr_ftest``) at one lag order.

    Tests whether ``causing`` Granger-causes ``caused``. Returns ``{"statistic", "pvalue",
    "df_num", "df_denom", "status"}``.
    """
    from statsmodels.tsa.stattools import grangercausalitytests

    x = np.column_stack([np.asarray(caused, dtype=float), np.asarray(causing, dtype=float)])
    result, status = _call(lambda: grangercausalitytests(x=x, maxlag=[lags], addconst=True))
    stat, pvalue, df_denom, df_num = result[lags][0]["ssr_ftest"]
    return {"statistic": float(stat), "pvalue": float(pvalue), "df_num": int(df_num),
            "df_denom": int(df_denom), "status": status}


def var_fit_arrays(data: np.ndarray, *, lags: int) -> dict[str, Any]:
    """Coefficients of a statsmodels VAR(``lags``) fit: ``intercept (N,)``, ``coefs (p, N, N)``,
    ``sigma_u (N, N)`` (df-corrected), ``nobs`` and ``status``."""
    results, status = _fit(data, lags)
    return {"intercept": np.asarray(results.intercept, dtype=float).copy(),
            "coefs": np.asarray(results.coefs, dtype=float).copy(),
            "sigma_u": np.asarray(results.sigma_u, dtype=float).copy(),
            "nobs": int(results.nobs), "status": status}


def var_orthogonal_fevd(data: np.ndarray, *, lags: int, horizon: int) -> dict[str, Any]:
    """Cholesky (orthogonalized) FEVD of a statsmodels VAR(``lags``) fit at ``horizon``.

    ``decomp[i, j]`` is the share of series i's ``horizon``-step forecast-error variance due to
    the orthogonal shock of series j (Cholesky order = column order; rows sum to 1). Returns
    ``{"decomp", "coefs", "sigma_u", "status"}`` so callers can recompute from the same fit.
    """
    results, status = _fit(data, lags)
    fevd, st = _call(lambda: results.fevd(periods=horizon))
    return {"decomp": np.asarray(fevd.decomp[:, horizon - 1, :], dtype=float).copy(),
            "coefs": np.asarray(results.coefs, dtype=float).copy(),
            "sigma_u": np.asarray(results.sigma_u, dtype=float).copy(),
            "status": status if status != "ok" else st}


def process_orthogonal_fevd(coefs: np.ndarray, sigma_u: np.ndarray, *, horizon: int) -> dict[str, Any]:
    """Cholesky FEVD at ``horizon`` of a *known* VAR process (statsmodels ``VARProcess``).

    statsmodels' ``FEVD`` class needs a fitted ``VARResults``; this applies its formula
    (cumulated squared ``orth_ma_rep`` over ``mse``) to ``VARProcess(coefs, sigma_u)`` so any
    ``sigma_u`` — e.g. an exactly diagonal one — can be decomposed. ``coefs`` is ``(p, N, N)``
    (statsmodels layout). Returns ``{"decomp", "status"}``, rows summing to 1.
    """
    from statsmodels.tsa.vector_ar.var_model import VARProcess

    coefs = np.asarray(coefs, dtype=float)
    sigma_u = np.asarray(sigma_u, dtype=float)
    process = VARProcess(coefs=coefs, coefs_exog=np.zeros(sigma_u.shape[0]), sigma_u=sigma_u)

    def decompose() -> np.ndarray:
        orth = process.orth_ma_rep(maxn=horizon)[:horizon]
        mse = process.mse(steps=horizon)[horizon - 1]
        return (orth**2).sum(axis=0) / np.diag(mse)[:, None]

    decomp, status = _call(decompose)
    return {"decomp": np.asarray(decomp, dtype=float), "status": status}
