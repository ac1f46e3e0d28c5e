"""Fallback for windows the batched simplex could not certify: HiGHS, then a vertex polish.

HiGHS (``scipy.optimize.linprog(method="highs")``) solves the LP
``min q 1'u + (1-q) 1'v  s.t.  X b + u - v = y,  u, v >= 0``; its solution is then moved to an
optimal vertex by restarting the exact simplex from the p observations with the smallest
absolute residuals (linearly independent ones). If that still does not certify, the better of
the two solutions (by check loss) is returned with ``certified = False``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from measures.core.quantreg import _simplex


def solve_highs(X: np.ndarray, y: np.ndarray, q: float) -> np.ndarray | None:
    """HiGHS solution of the QR LP (None when HiGHS reports failure)."""
    n, p = X.shape
    c = np.concatenate([np.zeros(p), np.full(n, q), np.full(n, 1.0 - q)])
    eye = sp.identity(n, format="csc")
    A = sp.hstack([sp.csc_matrix(X), eye, -eye], format="csc")
    bounds = [(None, None)] * p + [(0.0, None)] * (2 * n)
    res = linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    return np.asarray(res.x[:p], dtype=float)


def polish(X: np.ndarray, y: np.ndarray, q: float, coef: np.ndarray, max_pivots: int) -> _simplex.EngineResult:
    """Exact simplex restarted from the vertex nearest to ``coef`` (one window, all rows)."""
    n, p = X.shape
    resid = y - X @ coef
    order = np.argsort(np.abs(resid), kind="stable")[None, :]
    rel, ok = _simplex.greedy_basis(X.T[None, :, :], order)
    init = rel if ok.all() else None
    return _simplex.solve_windows(
        X, y, q, n, np.zeros(1, dtype=np.int64), 1, max_pivots=max_pivots, init_basis=init
    )
