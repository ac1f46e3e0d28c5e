"""Second step of the DCC QML: maximise ``L_C(a, b)`` subject to ``a, b >= 0, a + b < 1``.

The optimiser is SLSQP on ``(a, b)`` with bounds ``[0, 1]`` and the linear constraint
``a + b <= max_persistence``, started from the best point of a small grid. Standard errors
use numerical derivatives of the per-observation likelihood: the sandwich
``H^-1 J H^-1`` (``J`` the outer product of scores, ``H`` the Hessian of the total) or
``-H^-1``. They are conditional on the first-step estimates (the two-step correction of
Engle & Sheppard 2001 is not applied).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from measures.core.status import FitStatus, status_from_warnings
from measures.dcc.likelihood import loglik_terms

_GRID_A = (0.01, 0.03, 0.06, 0.10)
_GRID_B = (0.50, 0.80, 0.90, 0.95, 0.98)
MIN_WARM_A = 1e-3
_SCORE_STEP = 1e-6
_HESSIAN_STEP = 1e-4


@dataclass(frozen=True, kw_only=True)
class SecondStep:
    """Estimates of the correlation step."""

    a: float
    b: float
    std_errors: np.ndarray
    loglik: float
    status: FitStatus


def estimate_correlation_step(
    z: np.ndarray,
    qbar: np.ndarray,
    *,
    likelihood: str,
    pairs: str,
    std_errors: str | None,
    max_persistence: float,
    start: tuple[float, float] | None = None,
) -> SecondStep:
    """Maximise the (composite) correlation likelihood over ``(a, b)``; see the module docstring.

    ``start``: a warm start (e.g. the previous refit's ``(a, b)``, moved strictly inside the
    feasible set) instead of the grid, unless ``a < 0.001`` (near the edge ``a = 0`` where ``b``
    is not identified and the optimiser would stay); ``std_errors=None`` skips the standard
    errors (NaN).
    """
    nobs = z.shape[0]

    def total(theta: np.ndarray) -> float:
        a, b = float(theta[0]), float(theta[1])
        if a < 0.0 or b < 0.0 or a + b >= 1.0:
            return np.inf
        return float(loglik_terms(z, qbar, a, b, likelihood=likelihood, pairs=pairs).sum())

    def objective(theta: np.ndarray) -> float:
        value = total(np.clip(theta, 0.0, 1.0))
        return 1e6 if not np.isfinite(value) else -value / nobs

    if start is None or not start[0] >= MIN_WARM_A:
        grid = [(a, b) for a in _GRID_A for b in _GRID_B if a + b < max_persistence]
        start = min(grid, key=lambda theta: objective(np.array(theta)))
    else:
        a0, b0 = float(start[0]), max(float(start[1]), 0.0)
        excess = a0 + b0 - (max_persistence - 1e-4)
        start = (a0, b0 - excess) if excess > 0 else (a0, b0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = minimize(
            objective,
            np.array(start),
            method="SLSQP",
            bounds=[(0.0, 1.0), (0.0, 1.0)],
            constraints=[{"type": "ineq", "fun": lambda th: max_persistence - th[0] - th[1]}],
            options={"ftol": 1e-12, "maxiter": 500},
        )
    theta = np.clip(res.x, 0.0, 1.0)
    status = status_from_warnings(caught)
    if not res.success:
        status = FitStatus("failed", "ConvergenceError", f"DCC second step: {res.message}")
    loglik = total(theta)
    se = np.full(2, np.nan) if std_errors is None else \
        _standard_errors(z, qbar, theta, likelihood, pairs, std_errors, max_persistence)
    if status.ok and std_errors is not None and not np.all(np.isfinite(se)):
        status = FitStatus("warning", "SingularHessian")
    return SecondStep(a=float(theta[0]), b=float(theta[1]), std_errors=se, loglik=loglik, status=status)


def _steps(theta: np.ndarray, step: float, max_persistence: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Plus/minus perturbations per parameter, one-sided at the edges of the feasible set."""
    out = []
    for k in range(2):
        e = np.zeros(2)
        e[k] = step
        up, down = theta + e, theta - e
        if down[k] < 0.0:
            down = theta.copy()
        if up.sum() >= max_persistence:
            up = theta.copy()
        out.append((up, down))
    return out


def _standard_errors(
    z: np.ndarray,
    qbar: np.ndarray,
    theta: np.ndarray,
    likelihood: str,
    pairs: str,
    method: str,
    max_persistence: float,
) -> np.ndarray:
    """Numerical sandwich or inverse-Hessian standard errors of ``(a, b)``."""

    def terms(th: np.ndarray) -> np.ndarray:
        return loglik_terms(z, qbar, float(th[0]), float(th[1]), likelihood=likelihood, pairs=pairs)

    def scores(th: np.ndarray) -> np.ndarray:
        pairs_ = _steps(th, _SCORE_STEP, max_persistence)
        return np.column_stack([(terms(up) - terms(down)) / (up - down).sum() for up, down in pairs_])

    hessian = np.empty((2, 2))
    for k, (up, down) in enumerate(_steps(theta, _HESSIAN_STEP, max_persistence)):
        hessian[:, k] = (scores(up).sum(axis=0) - scores(down).sum(axis=0)) / (up - down).sum()
    hessian = 0.5 * (hessian + hessian.T)
    if not np.all(np.isfinite(hessian)) or abs(np.linalg.det(hessian)) < 1e-300:
        return np.full(2, np.nan)
    h_inv = np.linalg.inv(hessian)
    if method == "hessian":
        cov = -h_inv
    else:
        s = scores(theta)
        cov = h_inv @ (s.T @ s) @ h_inv
    variances = np.diag(cov)
    return np.where(variances > 0, np.sqrt(np.abs(variances)), np.nan)
