"""Exact quantile regression, one sample or batched over rolling windows (docs/covar.md, "The solver: exact quantile regression").

The estimator is the linear-programming solution of Koenker & Bassett (1978):

.. math::

    \\hat b(q) = \\arg\\min_b \\sum_i \\rho_q(y_i - x_i' b), \\qquad
    \\rho_q(u) = u\\,(q - 1\\{u < 0\\}),

computed by an exact Barrodale–Roberts-type simplex over bases of p observations
(:mod:`measures.core.quantreg._simplex`), warm-started from window to window. Every returned
solution is **certified**: the dual vector ``d`` with ``d_i = q - 1{r_i < 0}`` off the basis and
``d_h = -X_h^{-T} sum_{i not in h} d_i x_i`` on it satisfies ``X'd = 0`` and
``q - 1 <= d_h <= q`` (to ``1e-11``), i.e. the KKT / subgradient condition of the LP
(Koenker 2005, Thm 2.1). Windows the simplex cannot certify (pivot budget, numerical
singularity) go to a fallback: HiGHS, then a vertex polish by the same simplex.

Degenerate problems: when the optimum is not unique (the dual touches a bound, Koenker 2005
Thm 2.1), an optimal **vertex** is returned — possibly a different vertex from R's
``rq(method="br")``, with the same check loss — and ``unique`` is ``False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from measures.core.quantreg import _fallback, _simplex
from measures.core.quantreg._validate import check_design, check_rank, check_rows
from measures.core.windows import rolling_windows

__all__ = [
    "QuantileRegressionSolution",
    "QuantileRegressionNotCertified",
    "check_loss",
    "quantile_regression",
    "rolling_quantile_regression",
    "solve_quantile_regression",
    "solve_rolling_quantile_regression",
]

#: at most this many consecutive windows form one warm-started chain (chains run side by side)
CHAIN_LENGTH = 24


class QuantileRegressionNotCertified(RuntimeError):
    """A solution could not be certified optimal (neither by the simplex nor after the fallback)."""


@dataclass(frozen=True)
class QuantileRegressionSolution:
    """Quantile-regression fits, one row per window (one row for a single sample).

    Attributes
    ----------
    coef : ndarray (K, p)
        Coefficients; row k is the fit on rows ``start[k]:stop[k]``.
    check_loss : ndarray (K,)
        ``sum_i rho_q(y_i - x_i' coef_k)`` over the window.
    basis : ndarray (K, p)
        Row numbers (in the full data) of the p observations fitted exactly (the LP vertex).
    certified : ndarray (K,) of bool
        The KKT / subgradient condition was verified for the returned coefficients.
    unique : ndarray (K,) of bool
        The dual is strictly interior (margin > 1e-9) and no residual off the basis is zero:
        the optimum is unique (Koenker 2005, Thm 2.1). False: a degenerate optimum, a vertex.
    pivots : ndarray (K,)
        Simplex pivots spent on the window (warm-started windows need few).
    status : ndarray (K,) of str
        ``"ok"``, ``"warning:FallbackHighs"`` (certified after the fallback) or
        ``"warning:NotCertified"`` (see :class:`QuantileRegressionNotCertified`).
    start, stop : ndarray (K,)
        The window rows ``[start, stop)``.
    q : float
        The quantile level.
    """

    coef: np.ndarray
    check_loss: np.ndarray
    basis: np.ndarray
    certified: np.ndarray
    unique: np.ndarray
    pivots: np.ndarray
    status: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    q: float

    def __len__(self) -> int:
        return int(self.start.size)


def check_loss(y: Any, X: Any, coef: Any, q: float) -> float:
    """Koenker–Bassett check loss ``sum_i rho_q(y_i - x_i' coef)``, ``rho_q(u) = u (q - 1{u<0})``."""
    y, X, q = check_design(y, X, q)
    coef = np.asarray(coef, dtype=float)
    if coef.shape != (X.shape[1],):
        raise ValueError(f"coef has shape {coef.shape}; expected ({X.shape[1]},) for X with {X.shape[1]} columns")
    r = y - X @ coef
    return float(np.where(r > 0, q * r, (q - 1.0) * r).sum())


def _max_pivots(n: int, p: int) -> int:
    return 2 * n + 10 * p + 50


def _solve(y: np.ndarray, X: np.ndarray, q: float, window: int, starts: np.ndarray, chain: int,
           init_basis: np.ndarray | None = None) -> QuantileRegressionSolution:
    p = X.shape[1]
    eng = _simplex.solve_windows(X, y, q, window, starts, chain, max_pivots=_max_pivots(window, p), init_basis=init_basis)
    status = np.full(starts.size, "ok", dtype=object)
    certified = eng.state == _simplex.CERTIFIED
    for k in np.flatnonzero(~certified):
        lo, hi = int(starts[k]), int(starts[k]) + window
        Xk, yk = X[lo:hi], y[lo:hi]
        what = "the sample" if starts.size == 1 else f"window {k}"
        check_rank(Xk, what, first_row=lo)
        coef_k, cert_k, loss_k, basis_k, margin_k, minres_k, piv_k = _rescue(Xk, yk, q)
        eng.coef[k], eng.loss[k], eng.margin[k], eng.min_abs_resid[k] = coef_k, loss_k, margin_k, minres_k
        eng.basis[k] = basis_k + lo
        eng.pivots[k] += piv_k
        certified[k] = cert_k
        status[k] = "warning:FallbackHighs" if cert_k else "warning:NotCertified"
    scale = np.maximum(np.abs(y).max(), 1.0) if y.size else 1.0
    unique = certified & (eng.margin > _simplex.UNIQUE_MARGIN) & (eng.min_abs_resid > 1e-12 * scale)
    return QuantileRegressionSolution(
        coef=eng.coef,
        check_loss=eng.loss,
        basis=eng.basis,
        certified=certified,
        unique=unique,
        pivots=eng.pivots,
        status=status,
        start=starts.copy(),
        stop=starts + window,
        q=q,
    )


def _rescue(X: np.ndarray, y: np.ndarray, q: float):
    """HiGHS + vertex polish for one window; returns (coef, certified, loss, basis, margin, min|r|, pivots)."""
    n, p = X.shape
    start = _fallback.solve_highs(X, y, q)
    if start is None:
        start = np.linalg.lstsq(X, y, rcond=None)[0]
    eng = _fallback.polish(X, y, q, start, max_pivots=10 * _max_pivots(n, p))
    if eng.state[0] == _simplex.CERTIFIED:
        return eng.coef[0], True, eng.loss[0], eng.basis[0], eng.margin[0], eng.min_abs_resid[0], eng.pivots[0]
    r = y - X @ start
    loss = float(np.where(r > 0, q * r, (q - 1.0) * r).sum())
    nearest = np.argsort(np.abs(r), kind="stable")[:p]
    return start, False, loss, nearest, np.nan, np.nan, eng.pivots[0]


def _raise_uncertified(sol: QuantileRegressionSolution) -> None:
    bad = np.flatnonzero(~sol.certified)
    if bad.size:
        k = int(bad[0])
        raise QuantileRegressionNotCertified(
            f"{bad.size} fit(s) could not be certified optimal, first: window {k} (rows {sol.start[k]}.."
            f"{sol.stop[k] - 1}); use solve_rolling_quantile_regression() to get them with a status"
        )


def solve_quantile_regression(y: Any, X: Any, q: float, *, init_basis: Any = None) -> QuantileRegressionSolution:
    """Exact quantile regression of ``y`` on ``X`` at level ``q`` with its certificate.

    Parameters
    ----------
    y : array (n,)
        Response (e.g. losses).
    X : array (n, p)
        Regressors, including the constant column when wanted; full column rank, ``n >= p``.
    q : float
        Quantile level in (0, 1).
    init_basis : array of p row numbers, optional
        A starting basis (warm start), e.g. the ``basis`` of a fit on the first rows of ``y``
        (an expanding window) or at a nearby level; the simplex moves from it to an optimal
        vertex, certified as a cold start's is (a singular start falls back to the cold one).

    Returns
    -------
    QuantileRegressionSolution
        One row. See the module docstring for the certificate and degenerate optima.
    """
    y, X, q = check_design(y, X, q)
    n, p = X.shape
    check_rows(n, p, "the sample")
    check_rank(X, "the sample")
    start = None
    if init_basis is not None:
        start = np.asarray(init_basis, dtype=np.int64).reshape(1, -1)
        if start.shape[1] != p or start.min() < 0 or start.max() >= n or np.unique(start).size != p:
            raise ValueError(f"init_basis={init_basis!r} must be {p} distinct row numbers in [0, {n})")
        sol = _solve(y, X, q, n, np.zeros(1, dtype=np.int64), 1, start)
        if sol.status[0] == "ok":
            return sol
    return _solve(y, X, q, n, np.zeros(1, dtype=np.int64), 1)


def solve_rolling_quantile_regression(y: Any, X: Any, q: float, window: int, step: int = 1) -> QuantileRegressionSolution:
    """Exact quantile regressions on rolling windows ``[k*step, k*step + window)``, batched.

    Windows come from :func:`measures.core.windows.rolling_windows`. Consecutive windows are
    solved as warm-started chains of up to :data:`CHAIN_LENGTH` windows (at least 64 chains; cold
    starts when ``4*step >= window``), the chains side by side in vectorised passes; every
    window's solution is certified separately (module docstring).

    Parameters
    ----------
    y : array (N,), X : array (N, p), q : float
        As in :func:`solve_quantile_regression`.
    window : int
        Rows per window, ``p <= window <= N``.
    step : int, default 1
        Rows between window starts, ``>= 1``.

    Raises
    ------
    ValueError
        Bad shapes, non-finite data, q outside (0, 1), window larger than the data or smaller
        than p, step < 1, or a rank-deficient window (named by its number and rows).
    """
    y, X, q = check_design(y, X, q)
    N, p = X.shape
    wins = rolling_windows(N, window, step)
    check_rows(int(window), p, f"window={window}")
    # warm starts pay when windows overlap a lot; few windows are cheaper solved side by side cold
    chain = 1 if 4 * step >= window else int(min(CHAIN_LENGTH, max(1, len(wins) // 64)))
    return _solve(y, X, q, int(window), wins.start, chain)


def quantile_regression(y: Any, X: Any, q: float) -> np.ndarray:
    """Exact quantile-regression coefficients (p,) of ``y`` on ``X`` at level ``q``.

    Minimises ``sum_i rho_q(y_i - x_i'b)`` exactly (an optimal LP vertex, certified by the KKT
    condition; Koenker & Bassett 1978). Where the optimum is not unique a vertex solution is
    returned (see :func:`solve_quantile_regression` for the ``unique`` flag).

    Raises
    ------
    ValueError
        Mismatched shapes, NaN/inf, q outside (0, 1), fewer rows than columns, rank-deficient X.
    QuantileRegressionNotCertified
        If optimality could not be certified even after the HiGHS fallback (not seen in practice).
    """
    sol = solve_quantile_regression(y, X, q)
    _raise_uncertified(sol)
    return sol.coef[0].copy()


def rolling_quantile_regression(y: Any, X: Any, q: float, window: int, step: int = 1) -> np.ndarray:
    """Exact quantile regressions on rolling windows: array (n_windows, p).

    Row k is the fit on rows ``[k*step, k*step + window)``; ``n_windows = (N - window) // step + 1``.
    Each row is an optimal LP vertex certified by the KKT condition (degenerate windows: a vertex).
    See :func:`solve_rolling_quantile_regression` for the certificate, statuses and errors.
    """
    sol = solve_rolling_quantile_regression(y, X, q, window, step)
    _raise_uncertified(sol)
    return sol.coef.copy()
