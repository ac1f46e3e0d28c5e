"""Standard errors of quantile-regression coefficients (docs/covar.md, "Inference").

The exact estimator :math:`\\hat b(q)` (:func:`measures.core.quantreg.quantile_regression`) is
asymptotically normal (Koenker 2005, §3.4 and §4.10):

.. math::

    \\sqrt n\\,(\\hat b(q) - b(q)) \\to N\\!\\left(0,\\; q(1-q)\\, H_n^{-1} J_n H_n^{-1}\\right),
    \\qquad J_n = \\tfrac1n \\sum_i x_i x_i', \\quad H_n = \\tfrac1n \\sum_i f_i(\\xi_i(q))\\, x_i x_i',

with :math:`f_i` the conditional density of :math:`y_i` at its q-quantile. The four methods of
:func:`quantile_regression_se` estimate this covariance as R quantreg's ``summary.rq(se=...)``
does (``iid``, ``nid``, ``ker`` equal it to rounding; tests/reference/quantreg_se):

``iid`` (Koenker–Bassett 1978)
    :math:`f_i = f` for all i: :math:`\\hat V = q(1-q)\\, \\hat s^2 (X'X)^{-1}` with the sparsity
    :math:`s = 1/f(F^{-1}(q))` estimated by the difference quotient of the empirical quantile
    function of the residuals: skipping the ``pz`` zero residuals of the basis, the ``h + 1``
    residuals of smallest absolute value, ``h = max(p + 1, ceil(n * bw))``, sorted, are
    regressed (median regression) on their ranks ``(pz + 1 .. pz + h + 1) / (n - p)``; the
    slope is :math:`\\hat s`.
``nid`` (Hendricks–Koenker 1992)
    :math:`\\hat f_i = 2 bw / (x_i'(\\hat b(q + bw) - \\hat b(q - bw)) - \\epsilon)`, set to 0
    where that is negative (non-monotone fitted quantiles), :math:`\\epsilon = \\sqrt{\\epsilon_{mach}}`;
    :math:`\\hat V = q(1-q)\\, (X'\\hat F X)^{-1} X'X (X'\\hat F X)^{-1}` (Huber sandwich).
``ker`` (Powell 1991)
    :math:`\\hat f_i = \\phi(\\hat u_i / c)/c` with the residuals :math:`\\hat u` of the fit and the
    kernel bandwidth :math:`c = (\\Phi^{-1}(q + bw) - \\Phi^{-1}(q - bw)) \\min(sd(\\hat u), IQR(\\hat u)/1.34)`;
    the same sandwich.
``boot`` (xy-pair bootstrap, Koenker 2005 §3.9)
    ``B`` resamples of n rows drawn with replacement, each refitted exactly;
    :math:`\\hat V` is the sample covariance of the ``B`` coefficient vectors (denominator B - 1).

``bw`` is the Hall–Sheather (1988) bandwidth of the quantile level (:func:`hall_sheather_bandwidth`).
For ``nid`` and ``ker`` it is halved until ``q - bw >= 0`` and ``q + bw <= 1`` (as ``summary.rq``;
small n at extreme q, e.g. n = 100 at q = 0.99 gives 0.0151 > 1 - q, halved to 0.0076).
The standard errors are the square roots of the diagonal of :math:`\\hat V` (already divided by n).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular
from scipy.stats import norm

from measures.core.mapping import Mapper, map_items
from measures.core.quantreg._validate import as_float_array, check_design, check_rank, check_rows
from measures.core.quantreg.solve import quantile_regression, solve_rolling_quantile_regression

__all__ = ["METHODS", "BOOT_CHUNK", "bootstrap_coefficients", "hall_sheather_bandwidth", "quantile_regression_se"]

#: the allowed values of ``method``
METHODS = ("iid", "nid", "ker", "boot")
#: bootstrap replications solved side by side in one batched simplex call (one mapped item)
BOOT_CHUNK = 50
#: R's ``eps <- .Machine$double.eps^(1/2)`` in summary.rq (zero residuals; the nid density guard)
EPS = float(np.finfo(float).eps) ** 0.5


def hall_sheather_bandwidth(q: float, n: int, alpha: float = 0.05) -> float:
    """Hall–Sheather (1988) bandwidth of the quantile level, as R's ``bandwidth.rq(q, n, hs=TRUE)``.

    .. math::

        bw = n^{-1/3}\\, z_{1-\\alpha/2}^{2/3} \\left(\\frac{1.5\\, \\phi(z_q)^2}{2 z_q^2 + 1}\\right)^{1/3},
        \\qquad z_q = \\Phi^{-1}(q).
    """
    x0 = norm.ppf(q)
    f0 = norm.pdf(x0)
    return float(n ** (-1.0 / 3.0) * norm.ppf(1.0 - alpha / 2.0) ** (2.0 / 3.0) * ((1.5 * f0**2) / (2.0 * x0**2 + 1.0)) ** (1.0 / 3.0))


def _inner_bandwidth(q: float, n: int) -> float:
    """The Hall–Sheather bandwidth halved until ``[q - bw, q + bw]`` lies in [0, 1] (summary.rq, nid/ker)."""
    h = hall_sheather_bandwidth(q, n)
    while q - h < 0.0 or q + h > 1.0:
        h /= 2.0
    return h


def _inv_crossprod(X: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """``(X' diag(w) X)^{-1}`` from the R factor of ``sqrt(w) X`` (as summary.rq's backsolve)."""
    A = X if w is None else np.sqrt(w)[:, None] * X
    R = np.linalg.qr(A, mode="r")
    Rinv = solve_triangular(R, np.eye(X.shape[1]))
    return Rinv @ Rinv.T


def _sandwich(X: np.ndarray, f: np.ndarray, q: float, what: str) -> np.ndarray:
    if np.count_nonzero(f > 0) < X.shape[1] or np.linalg.matrix_rank(X[f > 0]) < X.shape[1]:
        raise ValueError(f"{what}: the estimated densities are positive on too few observations "
                         f"({np.count_nonzero(f > 0)} of {f.size}) for a {X.shape[1]}-column X; use method='iid' or 'boot'")
    fxxinv = _inv_crossprod(X, f)
    return q * (1.0 - q) * fxxinv @ (X.T @ X) @ fxxinv


def _cov_iid(y: np.ndarray, X: np.ndarray, q: float, coef: np.ndarray) -> np.ndarray:
    n, p = X.shape
    resid = y - X @ coef
    pz = int(np.count_nonzero(np.abs(resid) < EPS))
    h = max(p + 1, int(np.ceil(n * hall_sheather_bandwidth(q, n))))
    if pz + h + 1 > n:
        raise ValueError(f"method='iid': the sparsity estimate needs h + 1 = {h + 1} residuals besides the {pz} zero "
                         f"residuals, but n = {n}; use more observations or method='boot'")
    ir = np.arange(pz + 1, pz + h + 2)  # R's 1-based ranks (pz+1):(h+pz+1)
    ord_resid = np.sort(resid[np.argsort(np.abs(resid), kind="stable")][ir - 1])
    xt = ir / (n - p)
    sparsity = quantile_regression(ord_resid, np.column_stack([np.ones(ir.size), xt]), 0.5)[1]
    return sparsity**2 * q * (1.0 - q) * _inv_crossprod(X)


def _cov_nid(y: np.ndarray, X: np.ndarray, q: float) -> np.ndarray:
    h = _inner_bandwidth(q, X.shape[0])
    dyhat = X @ (quantile_regression(y, X, q + h) - quantile_regression(y, X, q - h))
    f = np.maximum(0.0, (2.0 * h) / (dyhat - EPS))
    return _sandwich(X, f, q, "method='nid'")


def _cov_ker(y: np.ndarray, X: np.ndarray, q: float, coef: np.ndarray) -> np.ndarray:
    h = _inner_bandwidth(q, X.shape[0])
    uhat = y - X @ coef
    iqr = np.quantile(uhat, 0.75) - np.quantile(uhat, 0.25)
    c = (norm.ppf(q + h) - norm.ppf(q - h)) * min(np.sqrt(np.var(uhat, ddof=1)), iqr / 1.34)
    if not c > 0:
        raise ValueError("method='ker': the residuals have no spread (kernel bandwidth 0); use method='boot'")
    f = norm.pdf(uhat / c) / c
    return _sandwich(X, f, q, "method='ker'")


def _boot_chunk(reps: Sequence[int], *, y: np.ndarray, X: np.ndarray, q: float, seed: int) -> np.ndarray:
    """Coefficients (len(reps), p) of the bootstrap replications ``reps``, solved side by side.

    Replication b resamples rows with ``default_rng(SeedSequence(seed, spawn_key=(b,)))``, so it
    does not depend on the other replications, the chunking or the worker.
    """
    n, p = X.shape
    idx = np.stack([np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(b),))).integers(0, n, n) for b in reps])
    Xb = X[idx]  # (R, n, p)
    bad = np.flatnonzero(np.linalg.matrix_rank(Xb) < p)
    if bad.size:
        raise ValueError(f"method='boot': bootstrap replication {reps[bad[0]]} (seed {seed}) resampled a rank-deficient X "
                         f"(e.g. a rare dummy regressor); use more observations or method='nid'")
    sol = solve_rolling_quantile_regression(y[idx].ravel(), Xb.reshape(-1, p), q, window=n, step=n)
    if not sol.certified.all():
        k = int(np.flatnonzero(~sol.certified)[0])
        raise RuntimeError(f"method='boot': the fit of bootstrap replication {reps[k]} could not be certified optimal")
    return sol.coef


def bootstrap_coefficients(y: Any, X: Any, q: float, *, B: int = 200, seed: int = 0, mapper: Mapper | None = None) -> np.ndarray:
    """Exact quantile-regression coefficients (B, p) of ``B`` xy-pair bootstrap resamples.

    Resample b draws n row numbers uniformly with replacement from
    ``np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,)))``; the resamples are
    refitted exactly (:func:`measures.core.quantreg.solve_rolling_quantile_regression` on the
    stacked resamples, :data:`BOOT_CHUNK` side by side). Chunks are mapped with
    :func:`measures.core.mapping.map_items` (``mapper``); row b is the same for any mapper,
    worker count and ``B > b``.
    """
    y, X, q = check_design(y, X, q)
    check_rows(X.shape[0], X.shape[1], "the sample")
    check_rank(X, "the sample")
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < 2:
        raise ValueError(f"B={B!r} must be an integer >= 2 (bootstrap replications)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    chunks = [tuple(range(lo, min(lo + BOOT_CHUNK, int(B)))) for lo in range(0, int(B), BOOT_CHUNK)]
    fn = partial(_boot_chunk, y=y, X=X, q=q, seed=int(seed))
    return np.vstack(map_items(mapper, fn, chunks, desc="quantile-regression bootstrap"))


def quantile_regression_se(
    y: Any, X: Any, q: float, *, method: str = "nid", coef: Any = None, B: int = 200, seed: int = 0,
    mapper: Mapper | None = None,
) -> np.ndarray:
    """Standard errors (p,) of the exact quantile-regression coefficients of ``y`` on ``X`` at ``q``.

    Parameters
    ----------
    y : array (n,)
        Response.
    X : array (n, p)
        Regressors including the constant column; full column rank.
    q : float
        Quantile level in (0, 1).
    method : {"iid", "nid", "ker", "boot"}, default "nid"
        ``iid``: Koenker–Bassett (1978) iid-error covariance with the difference-quotient sparsity;
        ``nid``: Hendricks–Koenker (1992) sandwich; ``ker``: Powell (1991) kernel sandwich (all with
        the Hall–Sheather 1988 bandwidth; equal to R quantreg ``summary.rq(se=method)``);
        ``boot``: xy-pair bootstrap (:func:`bootstrap_coefficients`). Equations: module docstring;
        Koenker (2005) §3.4.
    coef : array (p,), optional
        The fitted coefficients at ``q`` when already known (used by ``iid`` and ``ker``; ``nid``
        and ``boot`` do not need them); else fitted with :func:`quantile_regression`.
    B : int, default 200
        Bootstrap replications (``boot`` only), >= 2.
    seed : int, default 0
        Seed of the bootstrap (``boot`` only); replication b uses ``SeedSequence(seed, spawn_key=(b,))``.
    mapper : optional
        Maps the bootstrap chunks (:func:`measures.core.mapping.map_items`); results do not depend on it.

    Returns
    -------
    ndarray (p,)
        ``sqrt(diag(V))``; a coefficient's t statistic is ``coef / se``.

    Raises
    ------
    ValueError
        ``method`` not one of :data:`METHODS`; q outside (0, 1); mismatched shapes of y, X, coef;
        non-finite data; fewer rows than columns or rank-deficient X; a sample too small for the
        method (named in the message).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed; allowed values: {', '.join(METHODS)}")
    y, X, q = check_design(y, X, q)
    n, p = X.shape
    check_rows(n, p, "the sample")
    check_rank(X, "the sample")
    if method == "boot":
        draws = bootstrap_coefficients(y, X, q, B=B, seed=seed, mapper=mapper)
        return np.sqrt(np.diag(np.atleast_2d(np.cov(draws, rowvar=False))))
    if n <= p:
        raise ValueError(f"method={method!r} needs more rows than columns: n = {n}, p = {p}")
    if coef is not None:
        coef = as_float_array("coef", coef, 1)
        if coef.shape != (p,):
            raise ValueError(f"coef has shape {coef.shape}; expected ({p},) for X with {p} columns")
    if method == "nid":
        cov = _cov_nid(y, X, q)
    else:
        coef = quantile_regression(y, X, q) if coef is None else coef
        cov = _cov_iid(y, X, q, coef) if method == "iid" else _cov_ker(y, X, q, coef)
    return np.sqrt(np.diag(cov))
