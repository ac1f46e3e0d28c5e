"""Standard errors of quantile-regression coefficients (docs/covar.md, "Inference").

The exact estimator :math:`\\hat b(q)` (:func:`measures.core.quantreg.quantile_regression`) is
asymptotically normal (Koenker 2005, §3.4):

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
from numpy.lib.stride_tricks import sliding_window_view
from scipy.stats import norm, t as student_t

from measures.core.mapping import Mapper, map_items
from measures.core.quantreg._validate import as_float_array, check_design, check_quantile, check_rank, check_rows
from measures.core.quantreg.solve import (
    _raise_uncertified,
    rolling_quantile_regression,
    solve_quantile_regression,
    solve_rolling_quantile_regression,
)
from measures.core.windows import rolling_windows

__all__ = [
    "METHODS", "BOOT_CHUNK", "bootstrap_coefficients", "hall_sheather_bandwidth", "quantile_regression_se",
    "rolling_quantile_regression_se", "t_test_p_values",
]

#: the allowed values of ``method``
METHODS = ("iid", "nid", "ker", "boot")
#: bootstrap replications solved side by side in one batched simplex call (one mapped item)
BOOT_CHUNK = 50
#: windows whose covariances are computed in one vectorised block (bounded memory)
BLOCK = 256
#: R's ``eps <- .Machine$double.eps^(1/2)`` in summary.rq (zero residuals; the nid density guard)
EPS = float(np.finfo(float).eps) ** 0.5


def hall_sheather_bandwidth(q: float, n: int, alpha: float = 0.05) -> float:
    """Hall–Sheather (1988) bandwidth of the quantile level, as R's ``bandwidth.rq(q, n, hs=TRUE)``.

    .. math::

        bw = n^{-1/3}\\, z_{1-\\alpha/2}^{2/3} \\left(\\frac{1.5\\, \\phi(z_q)^2}{2 z_q^2 + 1}\\right)^{1/3},
        \\qquad z_q = \\Phi^{-1}(q).
    """
    q = check_quantile(q)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} must be a positive integer (observations)")
    x0 = norm.ppf(q)
    f0 = norm.pdf(x0)
    return float(n ** (-1.0 / 3.0) * norm.ppf(1.0 - alpha / 2.0) ** (2.0 / 3.0) * ((1.5 * f0**2) / (2.0 * x0**2 + 1.0)) ** (1.0 / 3.0))


def _inner_bandwidth(q: float, n: int) -> float:
    """The Hall–Sheather bandwidth halved until ``[q - bw, q + bw]`` lies in [0, 1] (summary.rq, nid/ker)."""
    h = hall_sheather_bandwidth(q, n)
    while q - h < 0.0 or q + h > 1.0:
        h /= 2.0
    return h


def _inv_crossprod(A: np.ndarray) -> np.ndarray:
    """``(A'A)^{-1}`` per window (K, p, p) from the R factor of ``A`` (K, n, p), as summary.rq's backsolve."""
    Rinv = np.linalg.inv(np.linalg.qr(A, mode="r"))
    return Rinv @ np.swapaxes(Rinv, 1, 2)


class _Check:
    """Names the windows of a block in messages; raises (``strict``) or lets a failed window be NaN."""

    def __init__(self, where, strict: bool, offset: int = 0) -> None:
        self.where, self.strict, self.offset = where, strict, offset

    def __call__(self, bad: np.ndarray, method: str, reason) -> np.ndarray:
        if self.strict and bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"method='{method}' in {self.where(self.offset + k)}: {reason(k)}")
        return bad


def _sandwich(Xw: np.ndarray, f: np.ndarray, q: float, method: str, check: _Check) -> np.ndarray:
    """``q(1-q) (X'FX)^{-1} X'X (X'FX)^{-1}`` per window (K, p, p); a singular ``X'FX`` fails the window."""
    A = np.sqrt(f)[:, :, None] * Xw
    K, n, p = Xw.shape
    bad = check(np.linalg.matrix_rank(A) < p, method,
                lambda k: f"the estimated densities are positive on too few observations ({np.count_nonzero(f[k] > 0)} "
                          f"of {n}) for a {p}-column X; use method='iid' or 'boot'")
    cov = np.full((K, p, p), np.nan)
    if not bad.all():
        fxxinv = _inv_crossprod(A[~bad])
        cov[~bad] = q * (1.0 - q) * fxxinv @ (np.swapaxes(Xw[~bad], 1, 2) @ Xw[~bad]) @ fxxinv
    return cov


def _cov_iid(Xw: np.ndarray, resid: np.ndarray, q: float, check: _Check) -> np.ndarray:
    K, n, p = Xw.shape
    pz = np.count_nonzero(np.abs(resid) < EPS, axis=1)
    h = max(p + 1, int(np.ceil(n * hall_sheather_bandwidth(q, n))))
    bad = check(pz + h + 1 > n, "iid", lambda k: f"the sparsity estimate needs h + 1 = {h + 1} residuals besides the "
                                                 f"{pz[k]} zero residuals, but n = {n}; use more observations or method='boot'")
    cov = np.full((K, p, p), np.nan)
    if bad.all():
        return cov
    ir = pz[~bad, None] + np.arange(1, h + 2)  # R's 1-based ranks (pz+1):(h+pz+1), per window
    order = np.argsort(np.abs(resid[~bad]), axis=1, kind="stable")
    ord_resid = np.sort(np.take_along_axis(resid[~bad], np.take_along_axis(order, ir - 1, axis=1), axis=1), axis=1)
    xt = ir / (n - p)
    # the median regressions of ord_resid on [1, xt], one per window, solved side by side
    slopes = rolling_quantile_regression(ord_resid.ravel(), np.column_stack([np.ones(xt.size), xt.ravel()]), 0.5,
                                         window=h + 1, step=h + 1)[:, 1]
    cov[~bad] = (slopes**2 * q * (1.0 - q))[:, None, None] * _inv_crossprod(Xw[~bad])
    return cov


def _cov_ker(Xw: np.ndarray, uhat: np.ndarray, q: float, h: float, check: _Check) -> np.ndarray:
    iqr = np.quantile(uhat, 0.75, axis=1) - np.quantile(uhat, 0.25, axis=1)
    c = (norm.ppf(q + h) - norm.ppf(q - h)) * np.minimum(np.sqrt(np.var(uhat, axis=1, ddof=1)), iqr / 1.34)
    bad = check(~(c > 0), "ker", lambda k: "the residuals have no spread (kernel bandwidth 0); use method='boot'")
    c = np.where(bad, 1.0, c)[:, None]
    cov = _sandwich(Xw, norm.pdf(uhat / c) / c, q, "ker", check)
    cov[bad] = np.nan
    return cov


def _windows_se(method: str, y: np.ndarray, X: np.ndarray, q: float, starts: np.ndarray, window: int,
                coef: np.ndarray | None, fit, where, strict: bool = True) -> np.ndarray:
    """``iid`` / ``nid`` / ``ker`` standard errors (K, p) of the fits on rows ``[starts[k], starts[k] + window)``.

    ``fit(level)`` returns the exact coefficients (K, p) of every window at a quantile level; ``coef``
    (K, p) those at q (``iid``, ``ker``); ``where(k)`` names window k in messages. A window the
    method cannot estimate raises (``strict``) or is NaN. Windows are processed in blocks of
    :data:`BLOCK` (bounded memory).
    """
    K, p = starts.size, X.shape[1]
    Xv = sliding_window_view(X, window, axis=0)  # (N - window + 1, p, window), a view
    yv = sliding_window_view(y, window)
    h = _inner_bandwidth(q, window)
    dcoef = fit(q + h) - fit(q - h) if method == "nid" else None
    out = np.empty((K, p))
    for lo in range(0, K, BLOCK):
        sl = slice(lo, min(lo + BLOCK, K))
        Xw = np.swapaxes(Xv[starts[sl]], 1, 2)  # (k, window, p)
        check = _Check(where, strict, lo)
        if method == "nid":
            dyhat = np.einsum("knp,kp->kn", Xw, dcoef[sl])
            cov = _sandwich(Xw, np.maximum(0.0, (2.0 * h) / (dyhat - EPS)), q, "nid", check)
        else:
            resid = yv[starts[sl]] - np.einsum("knp,kp->kn", Xw, coef[sl])
            cov = _cov_iid(Xw, resid, q, check) if method == "iid" else _cov_ker(Xw, resid, q, h, check)
        out[sl] = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    return out


def _boot_chunk(reps: Sequence[int], *, y: np.ndarray, X: np.ndarray, q: float, seed: int, key: tuple = ()) -> np.ndarray:
    """Coefficients (len(reps), p) of the bootstrap replications ``reps``, solved side by side.

    Replication b resamples rows with ``default_rng(SeedSequence(seed, spawn_key=(*key, b)))``, so it
    does not depend on the other replications, the chunking or the worker.
    """
    n, p = X.shape
    idx = np.stack([np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(*key, int(b)))).integers(0, n, n)
                    for b in reps])
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


def _check_boot(B: Any, seed: Any) -> None:
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < 2:
        raise ValueError(f"B={B!r} must be an integer >= 2 (bootstrap replications)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")


def _chunks(B: int) -> list[tuple[int, ...]]:
    return [tuple(range(lo, min(lo + BOOT_CHUNK, int(B)))) for lo in range(0, int(B), BOOT_CHUNK)]


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
    _check_boot(B, seed)
    fn = partial(_boot_chunk, y=y, X=X, q=q, seed=int(seed))
    return np.vstack(map_items(mapper, fn, _chunks(B), desc="quantile-regression bootstrap"))


def _boot_se(draws: np.ndarray) -> np.ndarray:
    """``sqrt(diag(cov(draws)))`` (denominator B - 1), as summary.rq(se="boot")."""
    return np.sqrt(np.diag(np.atleast_2d(np.cov(draws, rowvar=False))))


def _window_boot_se(item: tuple[int, int, np.ndarray, np.ndarray], *, q: float, B: int, seed: int, strict: bool) -> np.ndarray:
    """Bootstrap standard errors (p,) of one rolling window ``item = (k, first row, y_k, X_k)``; NaN if not strict and it fails."""
    k, first, yk, Xk = item
    try:
        check_rank(Xk, f"window {k}", first_row=first)
        return _boot_se(np.vstack([_boot_chunk(c, y=yk, X=Xk, q=q, seed=seed, key=(k,)) for c in _chunks(B)]))
    except ValueError:
        if strict:
            raise
        return np.full(Xk.shape[1], np.nan)


def _check_coef(coef: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    if coef is None:
        return None
    coef = as_float_array("coef", coef, len(shape))
    if coef.shape != shape:
        raise ValueError(f"coef has shape {coef.shape}; expected {shape} for X with {shape[-1]} columns")
    return coef


def _check_method(method: Any) -> None:
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed; allowed values: {', '.join(METHODS)}")


def _fit_at(y: np.ndarray, X: np.ndarray, level: float, init_basis: Any) -> np.ndarray:
    """Exact coefficients (1, p) at ``level``, warm-started from ``init_basis`` when given."""
    sol = solve_quantile_regression(y, X, level, init_basis=init_basis)
    _raise_uncertified(sol)
    return sol.coef[:1].copy()


def quantile_regression_se(
    y: Any, X: Any, q: float, *, method: str = "nid", coef: Any = None, B: int = 200, seed: int = 0,
    mapper: Mapper | None = None, init_basis: Any = None,
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
    init_basis : array of p row numbers, optional
        Warm start of the extra exact fits (``nid`` at ``q +- bw``; ``iid``/``ker`` at q when
        ``coef`` is None), e.g. the ``basis`` of the fit at q
        (:func:`measures.core.quantreg.solve_quantile_regression`): the same optimum, fewer pivots.

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
    _check_method(method)
    y, X, q = check_design(y, X, q)
    n, p = X.shape
    check_rows(n, p, "the sample")
    check_rank(X, "the sample")
    if method == "boot":
        return _boot_se(bootstrap_coefficients(y, X, q, B=B, seed=seed, mapper=mapper))
    if n <= p:
        raise ValueError(f"method={method!r} needs more rows than columns: n = {n}, p = {p}")
    coef = _check_coef(coef, (p,))
    fit = partial(_fit_at, y, X, init_basis=init_basis)
    if coef is None and method != "nid":
        coef = fit(q)[0]
    return _windows_se(method, y, X, q, np.zeros(1, dtype=np.int64), n, None if coef is None else coef[None], fit,
                       lambda k: "the sample")[0]


def rolling_quantile_regression_se(
    y: Any, X: Any, q: float, window: int, step: int = 1, *, method: str = "nid", coef: Any = None, B: int = 200,
    seed: int = 0, mapper: Mapper | None = None, errors: str = "raise",
) -> np.ndarray:
    """Standard errors (n_windows, p) of the rolling exact fits (rows ``[k*step, k*step + window)``).

    Row k equals :func:`quantile_regression_se` on window k's rows (same method, bandwidth of n =
    ``window``), computed in batches: ``nid`` takes two rolling fits at ``q +- bw``
    (:func:`measures.core.quantreg.rolling_quantile_regression`, warm-started), ``iid`` solves the
    windows' sparsity regressions side by side, ``ker`` is vectorised. ``boot`` maps the windows
    with ``mapper``; window k's replication b uses ``SeedSequence(seed, spawn_key=(k, b))``.

    Parameters
    ----------
    y, X, q, method, B, seed, mapper
        As in :func:`quantile_regression_se`.
    window, step : int
        As in :func:`measures.core.quantreg.rolling_quantile_regression`.
    coef : array (n_windows, p), optional
        The rolling coefficients at q when already known (``iid``, ``ker``).
    errors : {"raise", "nan"}, default "raise"
        A window the method cannot estimate (``nid``/``ker``: every density 0, a singular sandwich,
        e.g. ``nid`` at q = 0.99 on 250 rows with 11 columns; ``iid``: too few residuals; ``boot``:
        a rank-deficient resample) raises a ValueError naming it, or (``"nan"``) gets a NaN row.
        A rank-deficient window's fit raises in any case (split the windows around it, as
        :func:`measures.covar_qr.rank_deficient_windows` does).

    Raises
    ------
    ValueError
        As :func:`quantile_regression_se`, naming the window (number and rows); ``errors`` not
        ``raise`` or ``nan``.
    """
    _check_method(method)
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors={errors!r} is not allowed; allowed values: raise, nan")
    y, X, q = check_design(y, X, q)
    N, p = X.shape
    check_rows(int(window), p, f"window={window}")
    wins = rolling_windows(N, window, step)
    where = lambda k: f"window {k} (rows {wins.start[k]}..{wins.start[k] + window - 1})"  # noqa: E731
    if method == "boot":
        _check_boot(B, seed)
        items = ((k, s, y[s:s + window], X[s:s + window]) for k, s in enumerate(wins.start.tolist()))
        fn = partial(_window_boot_se, q=q, B=int(B), seed=int(seed), strict=errors == "raise")
        return np.vstack(map_items(mapper, fn, items, desc="quantile-regression bootstrap per window"))
    if window <= p:
        raise ValueError(f"method={method!r} needs more rows than columns: window = {window}, p = {p}")
    coef = _check_coef(coef, (len(wins), p))
    if coef is None and method != "nid":
        coef = rolling_quantile_regression(y, X, q, window, step)
    fit = lambda level: rolling_quantile_regression(y, X, level, window, step)  # noqa: E731
    return _windows_se(method, y, X, q, wins.start, int(window), coef, fit, where, strict=errors == "raise")


def t_test_p_values(coef: Any, se: Any, df: Any) -> np.ndarray:
    """Two-sided p-values of H0: coefficient = 0, as R's ``summary.rq``: ``2 (1 - F_t(|coef / se|; df))``.

    ``df`` is ``n - p`` (observations minus coefficients of the fit), broadcast against ``coef``
    and ``se``. A missing or non-positive standard error gives NaN.
    """
    coef, se = np.asarray(coef, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.abs(coef / np.where(se > 0, se, np.nan))
    return 2.0 * student_t.sf(stat, np.asarray(df, dtype=float))
