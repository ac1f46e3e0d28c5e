"""Marginal Expected Shortfall: historical (rolling window) and dynamic (Brownlees & Engle).

Both are reported as positive losses (docs/srisk.md).

Historical MES (Acharya, Pedersen, Philippon & Richardson 2017):
``MES_i,t = -mean(r_i,s : s in W_t, r_m,s among the ceil(tail * |W_t|) lowest market returns)``
over the window ``W_t`` of the ``window`` days ending at ``t`` (no look-ahead).

Dynamic MES (Brownlees & Engle 2017, eq. 9; docs/srisk.md): with the bivariate DCC-GARCH
standardised residuals ``eps_m,t`` and ``xi_i,t = (eps_i,t - rho_t eps_m,t)/sqrt(1 - rho_t^2)``,

    MES_i,t = -[ sigma_i,t rho_t E(eps_m | eps_m < c_t) + sigma_i,t sqrt(1 - rho_t^2) E(xi_i | eps_m < c_t) ],
    c_t = kappa / sigma_m,t,

and the tail expectations by the Gaussian-kernel estimator (Scaillet 2005) over the sample:

    E(x | eps_m < c) = sum_s x_s Phi((c - eps_m,s)/h) / sum_s Phi((c - eps_m,s)/h),  h = T^(-1/5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtr

from measures.core.config import check_range

_BLOCK = 256


def historical_mes(
    firm_returns: pd.Series, market_returns: pd.Series, *, window: int = 252, tail: float = 0.05
) -> pd.Series:
    """Rolling historical MES of one firm, a positive loss; NaN until ``window`` days exist.

    The tail holds the ``ceil(tail * window)`` days of the window with the lowest market
    return (ties broken by position). A window containing a missing value gives NaN.

    Raises
    ------
    ValueError
        Misaligned indexes, ``window`` < 20, ``tail`` outside (0, 0.5].
    """
    if not firm_returns.index.equals(market_returns.index):
        raise ValueError("firm_returns and market_returns must share the same index (align them first)")
    out = historical_mes_columns(firm_returns.to_numpy(dtype=float)[:, None], market_returns.to_numpy(dtype=float),
                                 window=window, tail=tail)[:, 0]
    return pd.Series(out, index=firm_returns.index, name="mes_historical")


def historical_mes_columns(firms: np.ndarray, market: np.ndarray, *, window: int = 252, tail: float = 0.05) -> np.ndarray:
    """:func:`historical_mes` of the columns of ``firms`` (T, B) against one ``market`` series (T,).

    The tail days of each market window are found once for all the firms (one stable sort of
    the windows); each firm then costs a gather and a mean. Returns (T, B).
    """
    check_range("window", window, low=20, integer=True)
    check_range("tail", tail, low=0.0, high=0.5, low_open=True)
    out = np.full(firms.shape, np.nan)
    if firms.shape[0] < window:
        return out
    n_tail = int(np.ceil(tail * window - 1e-12))
    order = np.argsort(sliding_window_view(market, window), axis=1, kind="stable")[:, :n_tail]
    market_ok = _complete_windows(market, window)
    for k in range(firms.shape[1]):
        values = -np.take_along_axis(sliding_window_view(firms[:, k], window), order, axis=1).mean(axis=1)
        out[window - 1 :, k] = np.where(market_ok & _complete_windows(firms[:, k], window), values, np.nan)
    return out


def _complete_windows(x: np.ndarray, window: int) -> np.ndarray:
    """Whether each window of ``window`` consecutive values of ``x`` is all finite (exact counts)."""
    bad = np.concatenate([[0], np.cumsum(~np.isfinite(x))])
    return bad[window:] - bad[:-window] == 0


def kernel_tail_expectation(
    x: np.ndarray,
    eps_m: np.ndarray,
    thresholds: np.ndarray,
    bandwidth: float | np.ndarray,
    *,
    causal: bool = False,
) -> np.ndarray:
    """``E(x | eps_m < c)`` for each ``c`` in ``thresholds`` by the Gaussian-kernel estimator.

    ``sum_s x_s Phi((c - eps_m,s)/h) / sum_s Phi((c - eps_m,s)/h)``; ``x`` may be (T,) or (T, K).
    With ``causal=True`` threshold ``k`` (one per date) sums over ``s <= k`` only, and
    ``bandwidth`` may then be an array with one ``h`` per date. Evaluated in blocks of
    thresholds to bound memory (exact, no interpolation).
    """
    x2 = x.reshape(x.shape[0], -1)
    if causal:
        if thresholds.size != eps_m.size:
            raise ValueError(f"causal=True needs one threshold per date: {thresholds.size} != {eps_m.size}")
        h = np.broadcast_to(np.asarray(bandwidth, dtype=float), thresholds.shape)
        out = np.empty((thresholds.size, x2.shape[1]))
        for start in range(0, thresholds.size, _BLOCK):
            rows = np.arange(start, min(start + _BLOCK, thresholds.size))
            weights = ndtr((thresholds[rows, None] - eps_m[None, :]) / h[rows, None])
            weights[np.arange(eps_m.size)[None, :] > rows[:, None]] = 0.0
            out[rows] = (weights @ x2) / weights.sum(axis=1)[:, None]
        return out.reshape((thresholds.size,) + x.shape[1:])
    unique, inverse = np.unique(thresholds, return_inverse=True)
    out = np.empty((unique.size, x2.shape[1]))
    for start in range(0, unique.size, _BLOCK):
        c = unique[start : start + _BLOCK]
        weights = ndtr((c[:, None] - eps_m[None, :]) / bandwidth)
        out[start : start + _BLOCK] = (weights @ x2) / weights.sum(axis=1)[:, None]
    return out[inverse.ravel()].reshape((thresholds.size,) + x.shape[1:])


def dynamic_mes(
    sigma_firm: np.ndarray,
    sigma_market: np.ndarray,
    rho: np.ndarray,
    eps_market: np.ndarray,
    eps_firm: np.ndarray,
    *,
    kappa: float = -0.02,
    bandwidth: float | None = None,
    causal: bool = False,
) -> np.ndarray:
    """Brownlees–Engle dynamic MES (a positive loss), see the module docstring.

    Parameters
    ----------
    sigma_market, eps_market : ndarray (T,)
        The market's DCC conditional volatility (decimals) and standardised residuals.
    sigma_firm, rho, eps_firm : ndarray (T,) or (T, B)
        Each firm's volatility, correlation with the market and standardised residuals;
        B firms sharing the market series are evaluated with one kernel weight matrix.
    kappa : float
        Threshold on the market return (negative), default -2%.
    bandwidth : float, optional
        Kernel bandwidth ``h``; default ``T^(-1/5)`` (unit-variance shocks).
    causal : bool
        ``False`` (Brownlees & Engle, in-sample): the tail expectations use the whole sample.
        ``True``: the value at ``t`` uses residuals up to ``t`` only, with ``h_t = (t+1)^(-1/5)``
        unless ``bandwidth`` is given (the DCC parameters themselves remain full-sample).
    """
    check_range("kappa", kappa, high=0.0, high_open=True)
    s_m = _finite_array("sigma_market", sigma_market, ndim=1)
    e_m = _finite_array("eps_market", eps_market, ndim=1)
    s_i = _finite_array("sigma_firm", sigma_firm, like=s_m)
    rho = _finite_array("rho", rho, like=s_i)
    e_i = _finite_array("eps_firm", eps_firm, like=s_i)
    if e_m.shape != s_m.shape:
        raise ValueError(f"eps_market must have shape {s_m.shape}, got {e_m.shape}")
    if bandwidth is not None:
        check_range("bandwidth", bandwidth, low=0.0, low_open=True)
        h = bandwidth
    elif causal:
        h = np.arange(1, s_m.size + 1) ** (-0.2)
    else:
        h = s_m.size ** (-0.2)
    root = np.sqrt(1.0 - rho**2)
    xi = (e_i - (rho.T * e_m).T) / root
    firms = xi.reshape(xi.shape[0], -1)
    tails = kernel_tail_expectation(np.column_stack([e_m, firms]), e_m, kappa / s_m, h, causal=causal)
    k1 = tails[:, :1].reshape((-1,) + (1,) * (xi.ndim - 1))
    k2 = tails[:, 1:].reshape(xi.shape)
    return -(s_i * rho * k1 + s_i * root * k2)


def _finite_array(name: str, value, *, ndim: int | None = None, like: np.ndarray | None = None) -> np.ndarray:
    """A finite float array; ``ndim`` fixes the dimension, ``like`` the rows (and the shape if 2-D)."""
    arr = np.asarray(value, dtype=float)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be one- or two-dimensional, got shape {arr.shape}")
    if like is not None:
        wanted = like.shape if like.ndim == 2 else (like.shape[0],) + arr.shape[1:]
        if arr.shape != wanted:
            raise ValueError(f"{name} must have shape {wanted}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        pos = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        raise ValueError(f"{name} has a non-finite value at position {pos}")
    return arr
