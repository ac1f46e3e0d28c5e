"""A LASSO VAR for many banks (N·p ≥ T): penalized equations, EBIC penalty, post-LASSO Granger tests.

Each equation ``i`` of the VAR(p) ``y_t = c + A_1 y_{t-1} + .. + A_p y_{t-p} + u_t`` is estimated by
the LASSO on the standardized lags (regressors ``x_k`` centred and scaled to unit variance over the
usable rows, target centred; Tibshirani 1996):

.. math:: \\hat\\beta_i(\\lambda) = \\arg\\min_\\beta \\frac{1}{2T}\\lVert y_i - X\\beta\\rVert^2 + \\lambda \\lVert\\beta\\rVert_1,

the path by LARS with the lasso modification (Efron, Hastie, Johnstone & Tibshirani 2004; the
project's covariance-form implementation :func:`lars_knots`, whose knots equal scikit-learn's
``lars_path(method="lasso")``), and ``λ`` chosen per equation among the path's knots by the extended BIC of
Chen & Chen 2008 (Biometrika 95):

.. math:: \\mathrm{EBIC}_\\gamma(\\lambda) = T \\ln(\\mathrm{RSS}_\\lambda / T) + d_\\lambda \\ln T
          + 2\\gamma \\ln\\binom{Np}{d_\\lambda},

with ``d_λ`` the number of non-zero coefficients (an unbiased estimate of the LASSO's degrees of
freedom, Zou, Hastie & Tibshirani 2007, Ann. Statist. 35) and ``γ = 0`` the ordinary BIC. The path
stops at ``T/2`` non-zeros (EBIC never reaches that far on these data; a minimum at the cap is
reported by the status ``warning:SupportCap``; the path stops, after 24 knots, 10 knots after the running minimum,
:func:`lars_knots`). This is the regularized VAR that Demirer, Diebold,
Liu & Yilmaz 2018 (J. Appl. Econometrics 33) use to estimate connectedness for 96 banks.

Two results per VAR:

* ``coefs`` / ``sigma_u``: the penalized coefficients (back on the scale of the data) and the
  residual covariance ``Σ = Û'Û / T`` of their residuals — the VAR whose generalized FEVD gives
  the Diebold–Yilmaz connectedness;
* ``pvalues[j, i]``: the Granger p-value of "j causes i". The block of j's lags in equation i is
  *selected* when one of its penalized coefficients is non-zero. On the selected support ``S_i``
  equation i is re-fitted by OLS with a constant (post-LASSO, Belloni & Chernozhukov 2013,
  Bernoulli 19) and the selected block is tested with the F statistic of :mod:`~measures.contagion.granger`,
  ``F(q, T - |S_i| - 1)`` with ``q`` its selected lags; a block not selected has ``p = 1``. These
  p-values are conditional on the selection (not valid at their nominal level, Leeb & Pötscher
  2005): they rank the edges and feed the PageRank adjacency ``1 - p`` as on the OLS route.

Missing values are handled lag-aware as in :mod:`~measures.contagion.var`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import special, stats

from measures.contagion.var import _design, _valid_rows
from measures.core.config import Config, check_range

#: Fewest usable observations a LASSO VAR accepts (then also 2 (p + 1)).
SPARSE_MIN_OBS = 30
#: Knots every LARS path computes (unless it ends first), and knots past the running EBIC minimum that
#: end it after those (lars_knots).
MIN_KNOTS, PATIENCE = 24, 10


@dataclasses.dataclass(frozen=True, kw_only=True)
class SparseVarConfig(Config):
    """Options of the LASSO VAR and of the route rule (the ``contagion.sparse`` params group).

    ``ebic_gamma``: γ of the extended BIC (0, the default, is the BIC: the LASSO is a screen and the
    Benjamini–Hochberg step on the post-LASSO p-values sets the ``significant`` flag; on the planted
    VAR of tests/test_sparse_var.py the BIC ranks edges best, docs/contagion.md);
    ``ols_ratio``: ``route: auto`` uses OLS when every window has at least ``ols_ratio`` times
    as many observations as parameters per equation (:func:`~measures.contagion.route.choose_route`).
    """

    ebic_gamma: float = 0.0
    ols_ratio: float = 1.5

    def validate(self) -> None:
        check_range("ebic_gamma", self.ebic_gamma, low=0.0, high=1.0)
        check_range("ols_ratio", self.ols_ratio, low=1.0)


@dataclasses.dataclass(frozen=True)
class SparseVarFit:
    """A LASSO VAR(p): ``coefs`` ``(p, N, N)`` (``coefs[l][i, j]`` = effect of j at lag l+1 on i),
    ``intercept`` ``(N,)``, ``sigma_u`` ``(N, N)``, Granger ``pvalues`` ``(N, N)`` (``[j, i]``: j
    causes i; NaN diagonal; None when not computed), ``support`` ``(Np, N)`` (non-zero penalized coefficients, rows in the
    order lag 1 (N rows), lag 2, ...), ``lambdas`` ``(N,)`` chosen per equation, ``nobs``, ``lags``,
    ``status``."""

    coefs: np.ndarray
    intercept: np.ndarray
    sigma_u: np.ndarray
    pvalues: np.ndarray | None
    support: np.ndarray
    lambdas: np.ndarray
    nobs: int
    lags: int
    status: str = "ok"


def sparse_needs(lags: int) -> int:
    """Usable observations a LASSO VAR at lag order ``lags`` needs: ``max(30, 2 (p + 1))``."""
    return max(SPARSE_MIN_OBS, 2 * (lags + 1))


def lars_knots(gram: np.ndarray, xy: np.ndarray, yy: float, n: int, *, cap: int, ebic_gamma: float = 0.0):
    """LARS-lasso path of ``(1/2n)||y - Xβ||² + λ||β||₁`` from the Gram matrix, stopped early by the EBIC.

    Efron et al. 2004 (the lasso modification: a coefficient crossing zero leaves the active set),
    in covariance form: ``gram = X'X``, ``xy = X'y``, ``yy = y'y``, so that every equation of a VAR
    shares one ``X'X`` and a step costs ``O(k |A|)``. At each knot the residual sum of squares
    ``RSS = y'y - 2β'X'y + β'X'Xβ`` and the EBIC are evaluated; the path ends, after at least
    :data:`MIN_KNOTS` knots, :data:`PATIENCE` knots after the running EBIC minimum (a heuristic: an
    EBIC curve that rises longer and falls below its minimum later is cut), at the support cap ``cap``, when ``λ`` reaches 0 or no regressor
    can enter. Returns the coefficients ``(k,)`` and ``λ`` at the EBIC minimum and whether that
    minimum has ``cap`` non-zeros. The knots equal scikit-learn's ``lars_path(method="lasso")``
    (tests/test_sparse_var.py).
    """
    k = xy.size
    log_choose = special.gammaln(k + 1) - special.gammaln(np.arange(k + 1) + 1) - special.gammaln(k - np.arange(k + 1) + 1)
    beta = np.zeros(k)
    corr = np.array(xy, dtype=float)  # X'(y - Xβ), kept up to date along the path
    inactive = np.ones(k, dtype=bool)
    active: list[int] = []
    signs: list[float] = []
    lam = float(np.abs(corr).max())
    best = (n * np.log(max(yy, 1e-300) / n), beta.copy(), lam / n, 0)  # (EBIC, beta, λ, knot)
    knot, enter = 0, int(np.argmax(np.abs(corr)))
    with np.errstate(divide="ignore", invalid="ignore"):
        while lam > 1e-12 * max(yy, 1.0) and (knot < MIN_KNOTS or knot - best[3] <= PATIENCE) and knot < 8 * k:
            if enter >= 0:
                active.append(enter)
                signs.append(1.0 if corr[enter] > 0 else -1.0)
                inactive[enter] = False
            idx = np.array(active)
            rows = gram[idx]
            try:
                direction = np.linalg.solve(rows[:, idx], signs)
            except np.linalg.LinAlgError:  # collinear regressors: the path ends here
                break
            along = direction @ rows  # the change of the correlations per unit step
            out = np.flatnonzero(inactive)
            c, a = corr[out], along[out]
            steps = np.concatenate([(lam - c) / (1.0 - a), (lam + c) / (1.0 + a)])
            steps[~(steps > 1e-12 * lam)] = np.inf
            pick = int(np.argmin(steps)) if steps.size else -1
            gamma = float(steps[pick]) if pick >= 0 else np.inf
            enter = int(out[pick % out.size]) if gamma < lam else -1
            gamma = min(gamma, lam)
            zero = -beta[idx] / direction
            zero[~(zero > 1e-12 * lam)] = np.inf
            leave = int(np.argmin(zero))
            if zero[leave] < gamma:
                gamma, enter = float(zero[leave]), -1
            else:
                leave = -1
            beta[idx] += gamma * direction
            corr -= gamma * along
            lam -= gamma
            if leave >= 0:
                beta[active[leave]] = 0.0
                inactive[active[leave]] = True
                del active[leave], signs[leave]
            knot += 1
            if not active:
                continue
            # RSS = y'y - 2β'X'y + β'X'Xβ = y'y - β'(X'y + X'(y - Xβ)) on the support
            rss = max(yy - beta[active] @ (xy[active] + corr[active]), 1e-300)
            df = len(active)
            ebic = n * np.log(rss / n) + df * np.log(n) + 2.0 * ebic_gamma * log_choose[df]
            if ebic < best[0]:
                best = (ebic, beta.copy(), max(lam, 0.0) / n, knot)
            if df >= cap or (enter < 0 and leave < 0):
                break
    return best[1], float(best[2]), bool(np.count_nonzero(best[1]) >= cap)


def lasso_equation(x: np.ndarray, target: np.ndarray, *, ebic_gamma: float = 0.0) -> tuple[np.ndarray, float, bool]:
    """LASSO of a centred ``target`` on standardized ``x`` at the EBIC-chosen knot of the LARS path
    (:func:`lars_knots` on ``X'X``, ``X'y``; support cap ``min(k, T/2)``)."""
    n, k = x.shape
    return lars_knots(x.T @ x, x.T @ target, float(target @ target), n, cap=min(k, n // 2), ebic_gamma=ebic_gamma)


def _post_lasso_pvalues(z: np.ndarray, target: np.ndarray, selected: np.ndarray, n_series: int) -> np.ndarray:
    """p-values ``(N,)`` of "series j causes this equation": post-LASSO OLS F test of j's selected lags."""
    out = np.ones(n_series)
    cols = np.flatnonzero(selected)
    if not cols.size:
        return out
    design = np.column_stack([np.ones(len(target)), z[:, cols]])
    coef, _, rank, _ = np.linalg.lstsq(design, target, rcond=None)
    df_resid = len(target) - design.shape[1]
    resid = target - design @ coef
    sigma2 = resid @ resid / df_resid
    inv = np.linalg.pinv(design.T @ design)
    if rank < design.shape[1]:  # collinear selected lags: no test
        out[np.unique(cols % n_series)] = np.nan
        return out
    source = cols % n_series
    sources = np.unique(source)
    q, stat = np.empty(sources.size), np.empty(sources.size)
    for k, j in enumerate(sources):
        rows = 1 + np.flatnonzero(source == j)
        q[k] = rows.size
        stat[k] = coef[rows] @ np.linalg.solve(inv[np.ix_(rows, rows)], coef[rows]) / sigma2 / rows.size
    out[sources] = stats.f.sf(stat, q, df_resid)
    return out


def fit_sparse_var(y: np.ndarray, lags: int, *, ebic_gamma: float = 0.0, pvalues: bool = True,
                   what: str = "sparse VAR") -> SparseVarFit:
    """Fit the LASSO VAR(``lags``) of the module docstring on every usable observation of ``y`` (T x N).

    The N equations share the standardized lags, so ``X'X`` is formed once (one BLAS call) and each
    equation's path costs ``O(Np |A|)`` per knot (:func:`lars_knots`). ``pvalues=False`` skips the
    post-LASSO tests (``pvalues`` is then None): the connectedness needs the coefficients and
    ``Σ`` only.

    Raises
    ------
    ValueError
        Fewer usable observations than :func:`sparse_needs` (the message names them).
    """
    check_range("lags", lags, low=1, integer=True)
    check_range("ebic_gamma", ebic_gamma, low=0.0, high=1.0)
    y = np.asarray(y, dtype=float)
    n_series = y.shape[1]
    rows = _valid_rows(y, lags)
    nobs = int(rows.sum())
    if nobs < sparse_needs(lags):
        raise ValueError(f"{what} too short: {nobs} usable observations at lag order {lags} (every bank and lag "
                         f"observed); the LASSO VAR needs {sparse_needs(lags)}")
    z, target = _design(y, lags, rows)
    z = z[:, 1:]
    mean_x, sd_x = z.mean(axis=0), z.std(axis=0)
    sd_x[sd_x == 0] = 1.0
    x = (z - mean_x) / sd_x
    mean_y = target.mean(axis=0)
    yc = target - mean_y
    gram, xy, yy = x.T @ x, x.T @ yc, (yc**2).sum(axis=0)
    cap = min(x.shape[1], nobs // 2)
    beta = np.zeros((x.shape[1], n_series))
    lambdas = np.zeros(n_series)
    pv = np.ones((n_series, n_series)) if pvalues else None
    capped = False
    for i in range(n_series):
        b, lambdas[i], at_cap = lars_knots(gram, xy[:, i], float(yy[i]), nobs, cap=cap, ebic_gamma=ebic_gamma)
        beta[:, i] = b / sd_x
        capped |= at_cap
        if pv is not None:
            pv[:, i] = _post_lasso_pvalues(z, target[:, i], b != 0, n_series)
    if pv is not None:
        np.fill_diagonal(pv, np.nan)
    intercept = mean_y - mean_x @ beta
    resid = target - intercept - z @ beta
    coefs = beta.reshape(lags, n_series, n_series).transpose(0, 2, 1)
    return SparseVarFit(coefs=coefs, intercept=intercept, sigma_u=resid.T @ resid / nobs, pvalues=pv,
                        support=beta != 0, lambdas=lambdas, nobs=nobs, lags=lags,
                        status="warning:SupportCap" if capped else "ok")


def block_norms(fit: SparseVarFit) -> np.ndarray:
    """``B[j, i] = ||(A_1[i, j], .., A_p[i, j])||_2``: the size of j's lag block in equation i (diagonal NaN)."""
    norms = np.sqrt((fit.coefs**2).sum(axis=0)).T
    np.fill_diagonal(norms, np.nan)
    return norms
