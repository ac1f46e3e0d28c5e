"""Warm-started refits with analytic gradients: Gaussian GJR-GARCH(1,1,1) / GARCH(1,1) QML and
the bivariate DCC ``(a, b)`` step.

The real-time refits (:mod:`measures.dcc.realtime`) re-estimate each series every few weeks from
the previous estimates, which are already close to the optimum. ``arch``'s fit spends most of
such a refit on numerical derivatives (of the objective and of its linear constraints) and on
rebuilding the model, so these refits maximise the same likelihood here, on the same percent
returns ``x = 100 r`` with the same start-up (Glosten, Jagannathan & Runkle 1993)::

    e_t = x_t - mu,
    s_t = omega + (alpha + gamma 1[e_{t-1} < 0]) e_{t-1}^2 + beta s_{t-1},
    s_{-1} = e_{-1}^2 = bc,  1[e_{-1} < 0] = 1/2,
    -L / T = (1 / 2T) sum_t (log 2 pi + log s_t + e_t^2 / s_t),

``bc`` arch's backcast at the sample mean (:func:`backcast`), fixed during
the fit as in arch, under arch's constraints ``alpha >= 0``, ``alpha + gamma >= 0``, ``beta >= 0``,
``alpha + gamma / 2 + beta <= 1`` and bounds. The gradient follows from the recursion
``ds_t = du_t + beta ds_{t-1} (+ s_{t-1} for beta)``: one linear filter per parameter. Unlike
arch, the variance is not clipped to data-based bounds (inactive at sensible estimates). The
optimiser is Fisher scoring (the expected Hessian under normality), with SLSQP and the exact
gradient when scoring leaves the interior. A refit that does not converge returns ``None`` and
the caller falls back to arch (:func:`measures.core.adapters.arch_adapter.fit_univariate_garch`).

The ``(a, b)`` step maximises the same bivariate correlation likelihood as
:func:`measures.dcc.estimate.estimate_correlation_step` (Engle 2002; :mod:`measures.dcc.likelihood`),
``Q_1 = Qbar``, ``Q_{t+1} = Qbar + a F_t``, ``F_t = (z_t z_t' - Qbar) + b F_{t-1}``, so
``dQ_{t+1}/da = F_t`` and ``dQ_{t+1}/db = a G_t``, ``G_t = F_{t-1} + b G_{t-1}``: two more linear
filters give the exact gradient; Newton steps with the Hessian at the start (by differences of
the gradient: the expected one converges slowly along the ``(a, b)`` ridge), else SLSQP, from the
previous refit's ``(a, b)``.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
from scipy.optimize import minimize
from scipy.signal import lfilter

from measures.core.adapters.arch_adapter import SCALE, UnivariateGarchFit
from measures.core.status import FitStatus
from measures.dcc.estimate import SecondStep

_LOG_2PI = float(np.log(2.0 * np.pi))
_TOL = 1e-12
_HESSIAN_STEP = 1e-6


def backcast(y: np.ndarray, mean: str = "constant") -> float:
    """arch's GARCH backcast of a fit on ``y``: exponentially weighted (0.94) mean of the first 75
    squared residuals at the mean model's starting value (the sample mean, or zero)."""
    e = y - y.mean() if mean == "constant" else y
    tau = min(75, e.size)
    w = 0.94 ** np.arange(tau)
    w = w / sum(w)
    return float(np.sum((np.abs(e[:tau]) ** 2) * w))


def negloglik(theta: np.ndarray, x: np.ndarray, bc: float, *, has_mu: bool, has_gamma: bool,
              info: bool = False) -> tuple:
    """``-L / T`` and its gradient at ``theta = (mu?, omega, alpha, gamma?, beta)`` (percent units);
    with ``info`` also the expected Hessian under normality, ``(1 / 2T) sum_t ds_t ds_t' / s_t^2``
    (plus ``(1 / T) sum_t 1 / s_t`` for ``mu``)."""
    k = 0
    mu = theta[0] if has_mu else 0.0
    k += has_mu
    omega, alpha = theta[k], theta[k + 1]
    gamma = theta[k + 2] if has_gamma else 0.0
    beta = theta[-1]
    e = x - mu
    prev_x = np.empty_like(x)
    prev_x[0], prev_x[1:] = bc, e[:-1] ** 2
    prev_i = np.empty_like(x)
    prev_i[0], prev_i[1:] = 0.5, e[:-1] < 0
    u = omega + (alpha + gamma * prev_i) * prev_x
    den = [1.0, -beta]
    s = lfilter([1.0], den, u, zi=[beta * bc])[0]
    prev_s = np.empty_like(x)
    prev_s[0], prev_s[1:] = bc, s[:-1]
    du = [np.ones_like(x), prev_x, *([prev_i * prev_x] if has_gamma else []), prev_s]
    if has_mu:
        dmu = np.zeros_like(x)
        dmu[1:] = -2.0 * (alpha + gamma * prev_i[1:]) * e[:-1]
        du.insert(0, dmu)
    ds = lfilter([1.0], den, np.stack(du), axis=-1)
    n = x.size
    r = e * e / s
    value = 0.5 * (n * _LOG_2PI + np.sum(np.log(s)) + np.sum(r)) / n
    w = 0.5 * (1.0 - r) / s
    grad = ds @ w / n
    if has_mu:
        grad[0] -= np.sum(e / s) / n
    if not info:
        return float(value), grad
    scaled = ds / s
    fisher = 0.5 * (scaled @ scaled.T) / n
    if has_mu:
        fisher[0, 0] += np.mean(1.0 / s)
    return float(value), grad, fisher


def scoring(fun, theta0: np.ndarray, feasible, *, max_iter: int = 30, tol: float = 1e-14) -> np.ndarray | None:
    """Scoring / Newton ``theta <- theta - lambda I^-1 g`` from ``theta0`` with step halving to stay
    strictly ``feasible`` and decrease ``fun`` (which returns value, gradient, ``I`` the expected or
    observed Hessian); stops
    when the decrement ``g' I^-1 g < tol``. ``None`` when it does not, or ``I`` is not positive
    definite (e.g. near an optimum on the edge, where SLSQP takes over)."""
    theta = np.asarray(theta0, dtype=float)
    if not feasible(theta):
        return None
    value, grad, info = fun(theta)
    for _ in range(max_iter):
        try:
            chol = np.linalg.cholesky(info)  # positive definite, or not a Newton descent
            step = np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
        except np.linalg.LinAlgError:
            return None
        decrement = float(grad @ step)
        if not np.isfinite(decrement) or decrement < 0.0:
            return None
        if decrement < tol:
            return theta
        for _ in range(30):
            trial = theta - step
            if feasible(trial):
                new = fun(trial)
                if new[0] <= value:
                    break
            step = 0.5 * step
        else:
            return None
        theta, (value, grad, info) = trial, new
    return None


def refit_garch(returns: np.ndarray, start: np.ndarray, *, vol: str = "gjr", mean: str = "constant"
                ) -> UnivariateGarchFit | None:
    """The Gaussian QML fit of ``returns`` (decimals) from ``start`` (an earlier fit's ``params``,
    decimal units, arch's order) by :func:`scoring`, else SLSQP (an optimum on the edge); ``None``
    when neither converges.

    Standard errors are NaN and the paths empty (what refits carry between work items).
    """
    has_mu, has_gamma = mean == "constant", vol == "gjr"
    x = np.asarray(returns, dtype=float) * SCALE
    names = (*(("mu",) if has_mu else ()), "omega", "alpha", *(("gamma",) if has_gamma else ()), "beta")
    unscale = np.array([{"mu": SCALE, "omega": SCALE**2}.get(n, 1.0) for n in names])
    theta0 = np.asarray(start, dtype=float)
    if theta0.shape != unscale.shape or not np.all(np.isfinite(theta0)):
        return None
    theta0 = theta0 * unscale
    resid = x - x.mean() if has_mu else x
    bc = backcast(x, mean)
    v = float(np.mean(resid**2))
    k = int(has_mu)
    bounds = ([(-np.inf, np.inf)] if has_mu else []) + [
        (1e-8 * v, 10 * v), (0.0, 1.0), *([(-1.0, 2.0)] if has_gamma else []), (0.0, 1.0)]
    lows, highs = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    theta0 = np.clip(theta0, lows, highs)
    # linear constraints A theta >= c, as arch's: alpha, alpha + gamma, beta >= 0; persistence <= 1
    rows = [np.eye(len(names))[k + 1], np.eye(len(names))[-1]]
    persistence = np.zeros(len(names))
    persistence[k + 1:] = -1.0
    if has_gamma:
        rows.append(np.eye(len(names))[k + 1] + np.eye(len(names))[k + 2])
        persistence[k + 2] = -0.5
    rows.append(persistence)
    a = np.stack(rows)
    c = np.r_[np.zeros(len(rows) - 1), -1.0]
    fun = partial(negloglik, x=x, bc=bc, has_mu=has_mu, has_gamma=has_gamma)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        theta = scoring(partial(fun, info=True), theta0,
                        lambda t: bool(np.all((t > lows) & (t < highs)) and np.all(a @ t > c)))
        if theta is None:
            constraint = {"type": "ineq", "fun": lambda t: a @ t - c, "jac": lambda t: a}
            res = minimize(fun, theta0, jac=True, method="SLSQP", bounds=bounds, constraints=[constraint],
                           options={"ftol": _TOL, "maxiter": 200})
            if not res.success or not np.all(np.isfinite(res.x)) or not np.isfinite(res.fun):
                return None
            theta = res.x
    value = fun(theta)[0]
    params = theta / unscale
    return UnivariateGarchFit(
        param_names=names, params=params, std_errors=np.full(params.size, np.nan),
        loglik=float(-value * x.size + x.size * np.log(SCALE)), sigma=np.empty(0), std_resid=np.empty(0),
        status="ok", vol=vol, dist="normal", mean=mean)


def correlation_negloglik(theta: np.ndarray, z: np.ndarray, qbar: np.ndarray, info: bool = False) -> tuple:
    """``-L_C(a, b) / T`` of a pair and its gradient; ``z`` (T, 2), ``qbar`` (2, 2); with ``info``
    also the Hessian, by forward differences (step ``1e-6``) of the exact gradient."""
    a, b = float(theta[0]), float(theta[1])
    zt = np.ascontiguousarray(z.T)
    centre = np.array([qbar[0, 0], qbar[1, 1], qbar[0, 1]])[:, None]
    prod = np.stack([zt[0] * zt[0], zt[1] * zt[1], zt[0] * zt[1]])
    n = zt.shape[1]
    f = lfilter([1.0], [1.0, -b], prod[:, :-1] - centre, axis=-1)
    g = lfilter([1.0], [1.0, -b], np.concatenate([np.zeros((3, 1)), f[:, :-1]], axis=1), axis=-1)
    q = np.concatenate([centre, centre + a * f], axis=1)
    dq = np.stack([np.concatenate([np.zeros((3, 1)), f], axis=1),
                   np.concatenate([np.zeros((3, 1)), a * g], axis=1)])  # (2, 3, T)
    root = np.sqrt(q[0] * q[1])
    rho = q[2] / root
    drho = dq[:, 2] / root - 0.5 * rho * (dq[:, 0] / q[0] + dq[:, 1] / q[1])
    m = 1.0 - rho * rho
    s2, p = prod[0] + prod[1], prod[2]
    value = -0.5 * np.sum(np.log(m) + (s2 - 2.0 * rho * p) / m - s2)
    dc = rho / m + (p * m - rho * (s2 - 2.0 * rho * p)) / (m * m)
    grad = -(drho @ dc) / n
    if not info:
        return float(-value / n), grad
    hessian = np.column_stack([(correlation_negloglik(theta + step, z, qbar)[1] - grad) / _HESSIAN_STEP
                               for step in np.eye(2) * _HESSIAN_STEP])
    return float(-value / n), grad, 0.5 * (hessian + hessian.T)


def refit_correlation(z: np.ndarray, qbar: np.ndarray, start: tuple[float, float], *,
                      max_persistence: float) -> SecondStep | None:
    """The bivariate ``(a, b)`` step from ``start`` (no standard errors): :func:`scoring`, else SLSQP;
    ``None`` unless one converges."""
    a0, b0 = float(start[0]), max(float(start[1]), 0.0)
    excess = a0 + b0 - (max_persistence - 1e-4)
    theta0 = np.array([a0, b0 - excess if excess > 0 else b0])
    if not np.all(np.isfinite(theta0)) or theta0.min() < 0.0:
        return None
    row = np.array([[-1.0, -1.0]])
    constraint = {"type": "ineq", "fun": lambda th: max_persistence - th[0] - th[1], "jac": lambda th: row}
    fun = partial(correlation_negloglik, z=z, qbar=qbar)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        hessian = fun(theta0, info=True)[2]  # at the start only: the warm start is close
        theta = scoring(lambda th: (*fun(th), hessian), theta0,
                        lambda th: bool(th.min() > 0.0 and th.sum() < max_persistence))
        if theta is None:
            res = minimize(fun, theta0, jac=True, method="SLSQP", bounds=[(0.0, 1.0), (0.0, 1.0)],
                           constraints=[constraint], options={"ftol": _TOL, "maxiter": 200})
            if not res.success or not np.isfinite(res.fun) or not np.all(np.isfinite(res.x)):
                return None
            theta = np.clip(res.x, 0.0, 1.0)
    return SecondStep(a=float(theta[0]), b=float(theta[1]), std_errors=np.full(2, np.nan),
                      loglik=-correlation_negloglik(theta, z, qbar)[0] * z.shape[0], status=FitStatus("ok"))
