"""Exact quantile regressions on expanding windows, warm-started (docs/covar.md, "Real time").

Window k covers rows ``[0, min_window + k*step)`` (:func:`measures.core.windows.expanding_windows`):
the fit ending at row e uses rows up to e only. Each window starts the simplex from the optimal
basis of the previous window (p row numbers, all inside the new window), which is a vertex of
the new problem: a few pivots reach the new optimum instead of a cold start's dozens. Every
window is certified as a cold fit is (:func:`measures.core.quantreg.solve_quantile_regression`);
a window whose design is rank-deficient gets NaN and a ``failed:`` status, and the next window
starts cold. Window k depends on rows before its end only (its warm start comes from earlier
windows), so appending data never changes an earlier window's fit.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from measures.core.quantreg._validate import check_design
from measures.core.quantreg.inference import _inner_bandwidth, _windows_se, quantile_regression_se
from measures.core.quantreg.solve import QuantileRegressionSolution, solve_quantile_regression
from measures.core.status import status_from_exception
from measures.core.windows import expanding_windows

__all__ = ["expanding_quantile_regression_se", "solve_expanding_quantile_regression"]


def _chain(y: np.ndarray, X: np.ndarray, levels: np.ndarray, stops: np.ndarray) -> QuantileRegressionSolution:
    """Fits on rows ``[0, stops[k])`` at ``levels[k]``, each warm-started from the previous certified basis."""
    p, K = X.shape[1], stops.size
    coef, basis = np.full((K, p), np.nan), np.full((K, p), -1, dtype=np.int64)
    loss, pivots = np.full(K, np.nan), np.zeros(K, dtype=np.int64)
    certified, unique = np.zeros(K, dtype=bool), np.zeros(K, dtype=bool)
    status = np.empty(K, dtype=object)
    previous = None
    for k, (stop, level) in enumerate(zip(stops.tolist(), levels.tolist())):
        try:
            sol = solve_quantile_regression(y[:stop], X[:stop], level, init_basis=previous)
        except ValueError as exc:  # rank-deficient so far (a state constant over the first rows)
            status[k], previous = str(status_from_exception(exc)), None
            continue
        coef[k], basis[k], loss[k], pivots[k] = sol.coef[0], sol.basis[0], sol.check_loss[0], sol.pivots[0]
        certified[k], unique[k], status[k] = sol.certified[0], sol.unique[0], sol.status[0]
        previous = sol.basis[0] if sol.certified[0] else None
    return QuantileRegressionSolution(coef=coef, check_loss=loss, basis=basis, certified=certified, unique=unique,
                                      pivots=pivots, status=status, start=np.zeros(K, dtype=np.int64),
                                      stop=stops.astype(np.int64), q=float(levels[0]) if K else np.nan)


def solve_expanding_quantile_regression(y: Any, X: Any, q: float, min_window: int, step: int = 1) -> QuantileRegressionSolution:
    """Exact quantile regressions of ``y`` on ``X`` at ``q`` on expanding windows ``[0, min_window + k*step)``.

    Parameters
    ----------
    y : array (N,), X : array (N, p), q : float
        As in :func:`measures.core.quantreg.solve_quantile_regression`.
    min_window : int
        Rows of the first window (``p <= min_window <= N``).
    step : int, default 1
        Rows added between consecutive windows (the refit interval).

    Returns
    -------
    QuantileRegressionSolution
        One row per window (``start`` 0, ``stop`` its end + 1); a rank-deficient window has NaN
        coefficients, ``certified`` False and a ``failed:`` status.
    """
    y, X, q = check_design(y, X, q)
    wins = expanding_windows(len(y), min_window, step)
    return _chain(y, X, np.full(len(wins), q), wins.stop)


def expanding_quantile_regression_se(
    y: Any, X: Any, sol: QuantileRegressionSolution, *, method: str = "nid", B: int = 200, seed: int = 0,
    errors: str = "raise",
) -> np.ndarray:
    """Standard errors (K, p) of the expanding fits ``sol`` (:func:`solve_expanding_quantile_regression`).

    Row k equals :func:`measures.core.quantreg.inference.quantile_regression_se` on rows
    ``[0, sol.stop[k])`` with the window's coefficients. ``nid``'s extra fits at ``q +- bw_k``
    (bandwidth of n = ``sol.stop[k]``) are two more warm-started chains over the windows;
    ``boot`` seeds window k with a seed drawn from ``SeedSequence(seed, spawn_key=(k,))``
    (independent streams per window). A window without a certified fit is NaN; one the method
    cannot estimate raises the ValueError naming it, or (``errors="nan"``) is NaN.
    """
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors={errors!r} is not allowed; allowed values: raise, nan")
    y, X, q = check_design(y, X, sol.q)
    out = np.full(sol.coef.shape, np.nan)
    if method == "nid":
        h = np.array([_inner_bandwidth(q, int(n)) for n in sol.stop])
        hi, lo = _chain(y, X, q + h, sol.stop), _chain(y, X, q - h, sol.stop)
    for k in np.flatnonzero(sol.certified):
        stop = int(sol.stop[k])
        where = f"expanding window {k} (rows 0..{stop - 1})"
        try:
            if method == "nid":
                if not (hi.certified[k] and lo.certified[k]):
                    raise ValueError(f"the fits at q +- bw could not be certified ({hi.status[k]}, {lo.status[k]})")
                fit = partial(_lookup, q=q, hi=hi.coef[k], lo=lo.coef[k])
                out[k] = _windows_se("nid", y[:stop], X[:stop], q, np.zeros(1, dtype=np.int64), stop, None, fit,
                                     lambda _: where)[0]
            else:
                out[k] = quantile_regression_se(y[:stop], X[:stop], q, method=method, coef=sol.coef[k], B=B,
                                                seed=_window_seed(seed, k) if method == "boot" else seed,
                                                init_basis=sol.basis[k])
        except (ValueError, RuntimeError) as exc:
            if errors == "raise":
                raise ValueError(f"method={method!r} on {where}: {exc}") from None
    return out


def _lookup(level: float, *, q: float, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """The precomputed fit (1, p) at ``q + bw`` (``level > q``) or ``q - bw``."""
    return (hi if level > q else lo)[None]


def _window_seed(seed: int, k: int) -> int:
    """A bootstrap seed of window k derived from ``seed`` (independent streams per window)."""
    return int(np.random.SeedSequence(int(seed), spawn_key=(int(k),)).generate_state(1)[0])
