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
#: Equations whose LARS paths advance together (lars_knots).
EQUATIONS = 32


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


def lars_knots(gram: np.ndarray, xy: np.ndarray, yy, n: int, *, cap: int,
               ebic_gamma: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LARS-lasso paths of ``(1/2n)||y_b - Xβ_b||² + λ_b||β_b||₁`` for B targets of one design, each
    stopped early by its EBIC.

    Efron et al. 2004 with the lasso modification (a coefficient crossing zero leaves the active
    set), in covariance form: ``gram = X'X`` ``(k, k)``, ``xy = X'Y`` ``(k, B)``, ``yy`` ``(B,)`` the
    ``y_b'y_b``; the B paths advance together, one knot per step, as arrays (an equation whose path
    has ended stands still), so that the N equations of a VAR share one ``X'X`` and a step costs
    ``O(B k |A|)`` in a few array operations. At each knot ``RSS = y'y - β'(X'y + X'(y - Xβ))`` and
    the EBIC are evaluated; a path ends, after at least :data:`MIN_KNOTS` knots, :data:`PATIENCE`
    knots after its running EBIC minimum (a heuristic: an EBIC curve that rises longer and falls
    below its minimum later is cut), at the support cap ``cap``, when ``λ`` reaches 0 or when its
    active regressors become collinear. Returns the coefficients ``(k, B)`` and the ``λ`` ``(B,)``
    at the EBIC minima and whether each minimum has ``cap`` non-zeros. The knots equal
    scikit-learn's ``lars_path(method="lasso")`` (tests/test_sparse_var.py); a path depends only on
    its own target and the batch's B (fixed by the caller), not on the other targets' values.
    """
    xy = np.asarray(xy, dtype=float).reshape(gram.shape[0], -1).T.copy()  # (B, k)
    yy = np.broadcast_to(np.asarray(yy, dtype=float), (xy.shape[0],))
    b_count, k = xy.shape
    width = min(k, cap) + MIN_KNOTS + PATIENCE + 2  # most slots (one per knot) a path may use
    log_choose = special.gammaln(k + 1) - special.gammaln(np.arange(k + 1) + 1) - special.gammaln(k - np.arange(k + 1) + 1)
    rows_b = np.arange(b_count)
    corr = xy.copy()  # X'(y - Xβ), kept up to date along the paths
    inactive = np.ones((b_count, k), dtype=bool)
    # one slot per knot: the regressor that entered (a dropped one leaves a hole), its sign, β and X'X row
    slot_var, live, sign, coef, grows = _slots(b_count, k, MIN_KNOTS + PATIENCE + 2)
    used = 0
    lam = np.abs(corr).max(axis=1)
    best_ebic = n * np.log(np.maximum(yy, 1e-300) / n)
    best_coef, best_lam, best_knot = coef.copy(), lam / n, np.zeros(b_count, dtype=np.int64)
    enter = np.argmax(np.abs(corr), axis=1)
    done = ~(lam > 1e-12 * np.maximum(yy, 1.0))
    knot = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        while not done.all() and used < width:
            if used == slot_var.shape[1]:  # more slots, same values
                more = _slots(b_count, k, min(used, width - used))
                slot_var, live, sign, coef, grows = (np.concatenate([a, b], axis=1) for a, b in
                                                     zip((slot_var, live, sign, coef, grows), more))
                best_coef = np.concatenate([best_coef, more[3]], axis=1)
            go = np.flatnonzero(~done & (enter >= 0))
            slot_var[go, used], live[go, used], inactive[go, enter[go]] = enter[go], True, False
            sign[go, used] = np.where(corr[go, enter[go]] > 0, 1.0, -1.0)
            grows[go, used] = gram[enter[go]]
            used += 1
            g = grows[:, :used]
            sub = np.take_along_axis(g, slot_var[:, None, :used], axis=2)  # X'X of the slots, (B, m, m)
            on = live[:, :used, None] & live[:, None, :used]
            sub = np.where(on, sub, np.eye(used))
            try:
                direction = np.linalg.solve(sub, sign[:, :used, None])[..., 0]
            except np.linalg.LinAlgError:  # some path's active regressors are collinear: solve one by one
                direction = np.zeros((b_count, used))
                for b in rows_b:
                    try:
                        direction[b] = np.linalg.solve(sub[b], sign[b, :used])
                    except np.linalg.LinAlgError:
                        done[b] = True
            direction[done] = 0.0
            direction[~live[:, :used]] = 0.0
            along = np.matmul(direction[:, None, :], g)[:, 0]  # the change of the correlations per unit step
            tiny = 1e-12 * lam[:, None]
            up, down = (lam[:, None] - corr) / (1.0 - along), (lam[:, None] + corr) / (1.0 + along)
            up[~(up > tiny)] = np.inf
            down[~(down > tiny)] = np.inf
            steps = np.minimum(up, down)
            steps[~inactive] = np.inf
            pick = np.argmin(steps, axis=1)
            gamma = steps[rows_b, pick]
            enter = np.where(gamma < lam, pick, -1)
            gamma = np.minimum(gamma, lam)
            zero = -coef[:, :used] / direction
            zero[~(zero > 1e-12 * lam[:, None]) | ~live[:, :used]] = np.inf
            leave = np.argmin(zero, axis=1)
            drop = zero[rows_b, leave] < gamma
            gamma = np.where(drop, zero[rows_b, leave], gamma)
            enter[drop] = -1
            gamma[done] = 0.0
            enter[done] = -1
            coef[:, :used] += gamma[:, None] * direction
            corr -= gamma[:, None] * along
            lam = lam - gamma
            gone = np.flatnonzero(drop & ~done)
            coef[gone, leave[gone]], live[gone, leave[gone]] = 0.0, False
            inactive[gone, slot_var[gone, leave[gone]]] = True
            knot += 1
            df = live.sum(axis=1)
            picked = np.take_along_axis(xy + corr, slot_var[:, :used], axis=1)
            rss = np.maximum(yy - (coef[:, :used] * picked).sum(axis=1), 1e-300)
            ebic = n * np.log(rss / n) + df * np.log(n) + 2.0 * ebic_gamma * log_choose[np.minimum(df, k)]
            better = ~done & (df > 0) & (ebic < best_ebic)
            best_ebic[better], best_lam[better], best_knot[better] = ebic[better], np.maximum(lam[better], 0.0) / n, knot
            best_coef[better] = coef[better]
            done |= ~(lam > 1e-12 * np.maximum(yy, 1.0)) | (df >= cap) | ((enter < 0) & ~drop)
            done |= (knot >= MIN_KNOTS) & (knot - best_knot > PATIENCE)
    beta = np.zeros((b_count, k))
    np.add.at(beta, (np.repeat(rows_b, slot_var.shape[1]), slot_var.ravel()), best_coef.ravel())
    return beta.T, best_lam, (beta != 0).sum(axis=1) >= cap


def _slots(b_count: int, k: int, m: int) -> tuple:
    """Empty slot arrays of :func:`lars_knots` for ``m`` knots: regressor, live, sign, β, ``X'X`` row."""
    return (np.zeros((b_count, m), dtype=np.int64), np.zeros((b_count, m), dtype=bool), np.zeros((b_count, m)),
            np.zeros((b_count, m)), np.zeros((b_count, m, k)))


def lasso_equation(x: np.ndarray, target: np.ndarray, *, ebic_gamma: float = 0.0) -> tuple[np.ndarray, float, bool]:
    """LASSO of a centred ``target`` on standardized ``x`` at the EBIC-chosen knot of the LARS path
    (:func:`lars_knots` on ``X'X``, ``X'y``; support cap ``min(k, T/2)``)."""
    n, k = x.shape
    beta, lam, at_cap = lars_knots(x.T @ x, x.T @ target, float(target @ target), n, cap=min(k, n // 2),
                                   ebic_gamma=ebic_gamma)
    return beta[:, 0], float(lam[0]), bool(at_cap[0])


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
    capped = np.zeros(n_series, dtype=bool)
    for start in range(0, n_series, EQUATIONS):  # fixed batches of equations: memory bounded, same bits always
        batch = slice(start, start + EQUATIONS)
        b, lambdas[batch], capped[batch] = lars_knots(gram, xy[:, batch], yy[batch], nobs, cap=cap, ebic_gamma=ebic_gamma)
        beta[:, batch] = b / sd_x[:, None]
    pv = None
    if pvalues:
        pv = np.column_stack([_post_lasso_pvalues(z, target[:, i], beta[:, i] != 0, n_series) for i in range(n_series)])
        np.fill_diagonal(pv, np.nan)
    intercept = mean_y - mean_x @ beta
    resid = target - intercept - z @ beta
    coefs = beta.reshape(lags, n_series, n_series).transpose(0, 2, 1)
    return SparseVarFit(coefs=coefs, intercept=intercept, sigma_u=resid.T @ resid / nobs, pvalues=pv,
                        support=beta != 0, lambdas=lambdas, nobs=nobs, lags=lags,
                        status="warning:SupportCap" if capped.any() else "ok")


def block_norms(fit: SparseVarFit) -> np.ndarray:
    """``B[j, i] = ||(A_1[i, j], .., A_p[i, j])||_2``: the size of j's lag block in equation i (diagonal NaN)."""
    norms = np.sqrt((fit.coefs**2).sum(axis=0)).T
    np.fill_diagonal(norms, np.nan)
    return norms
