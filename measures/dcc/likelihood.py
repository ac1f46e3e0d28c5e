"""DCC(1,1) correlation recursion and second-step log-likelihoods, vectorised over time.

Engle (2002): with standardised residuals ``z_t`` (unit-variance GARCH shocks) and their
second-moment matrix ``Qbar = z'z / T``,

    Q_t = (1 - a - b) Qbar + a z_{t-1} z_{t-1}' + b Q_{t-1},   Q_1 = Qbar,
    R_t = diag(Q_t)^{-1/2} Q_t diag(Q_t)^{-1/2}.

Writing ``P_t = Q_t - Qbar`` gives the linear filter ``P_{t+1} = b P_t + a (z_t z_t' - Qbar)``
with ``P_1 = 0``, which ``scipy.signal.lfilter`` runs on all elements at once: there is no
Python loop over ``t``.

The second-step (correlation) log-likelihood of Engle (2002, eq. 26) is

    L_C(a, b) = -1/2 sum_t [ log|R_t| + z_t' R_t^{-1} z_t - z_t' z_t ],

and the composite likelihood of Engle, Shephard & Sheppard (2008) sums the bivariate
``L_C`` of a set of pairs ``(i, j)``, each with its own 2x2 recursion (the same ``a, b``).
"""

from __future__ import annotations

import numpy as np


def second_moment(z: np.ndarray) -> np.ndarray:
    """``Qbar = z'z / T``, the unconditional second moment of the standardised residuals."""
    return z.T @ z / z.shape[0]


def filter_q(products: np.ndarray, qbar_elements: np.ndarray, a: float, b: float) -> np.ndarray:
    """Run the DCC recursion on rows of products ``z_i,t z_j,t``.

    Parameters
    ----------
    products : ndarray, shape (K, T)
        ``z_i,t z_j,t`` for K index pairs ``(i, j)``, time along the last (contiguous) axis.
    qbar_elements : ndarray, shape (K,)
        The matching elements of ``Qbar``.
    a, b : float
        DCC parameters.

    Returns
    -------
    ndarray, shape (K, T)
        ``Q_ij,t`` for ``t = 1..T`` (``Q_ij,1 = Qbar_ij``).
    """
    out = np.empty_like(products)
    centre = qbar_elements[:, None]
    out[:, 0] = qbar_elements
    if products.shape[1] > 1:
        from scipy.signal import lfilter  # scipy.signal takes about 1 s to import: only where a path is filtered

        out[:, 1:] = centre + lfilter([a], [1.0, -b], products[:, :-1] - centre, axis=-1)
    return out


def pair_indices(n: int, pairs: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(i, j)`` with ``i < j``: all pairs or the contiguous ones ``(i, i+1)``."""
    if pairs == "contiguous":
        i = np.arange(n - 1)
        return i, i + 1
    i, j = np.triu_indices(n, k=1)
    return i, j


def bivariate_terms(
    z: np.ndarray, qbar: np.ndarray, a: float, b: float, i: np.ndarray, j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-observation bivariate correlation log-likelihoods and correlations of pairs.

    Returns
    -------
    contributions : ndarray, shape (T, P)
        ``-1/2 [log(1 - rho^2) + (z_i^2 + z_j^2 - 2 rho z_i z_j)/(1 - rho^2) - z_i^2 - z_j^2]``.
    rho : ndarray, shape (T, P)
        ``rho_ij,t = Q_ij,t / sqrt(Q_ii,t Q_jj,t)``.
    """
    n = z.shape[1]
    zt = np.ascontiguousarray(z.T)
    diag = np.arange(n)
    rows = np.concatenate([diag, i])
    cols = np.concatenate([diag, j])
    q = filter_q(zt[rows] * zt[cols], qbar[rows, cols], a, b)
    q_diag, q_off = q[:n], q[n:]
    rho = q_off / np.sqrt(q_diag[i] * q_diag[j])
    zi, zj = zt[i], zt[j]
    one_minus = 1.0 - rho * rho
    contributions = -0.5 * (
        np.log(one_minus) + (zi * zi + zj * zj - 2.0 * rho * zi * zj) / one_minus - zi * zi - zj * zj
    )
    return contributions.T, rho.T


def _correlation_elements(z: np.ndarray, qbar: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Upper-triangle elements of ``R_t``, shape (K, T), and the (N, N) map from ``(i, j)`` to row."""
    n = z.shape[1]
    zt = np.ascontiguousarray(z.T)
    i, j = np.triu_indices(n)
    q = filter_q(zt[i] * zt[j], qbar[i, j], a, b)
    scale = 1.0 / np.sqrt(q[i == j])
    rows = np.empty((n, n), dtype=np.intp)
    rows[i, j] = rows[j, i] = np.arange(i.size)
    return q * scale[i] * scale[j], rows


def correlation_matrices(z: np.ndarray, qbar: np.ndarray, a: float, b: float) -> np.ndarray:
    """The conditional correlation matrices ``R_t``, shape (T, N, N)."""
    values, rows = _correlation_elements(z, qbar, a, b)
    return np.ascontiguousarray(np.moveaxis(values[rows], -1, 0))


def _logdet_and_quadratic(values: np.ndarray, rows: np.ndarray, zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log|R_t|`` and ``z_t' R_t^{-1} z_t`` from the elements of ``R_t`` and ``zt`` (N, T).

    Cholesky ``R_t = L_t L_t'`` and forward substitution ``L_t y_t = z_t``, vectorised over
    ``t`` (the Python loop runs over the N columns only): ``log|R_t| = 2 sum_j log L_jj,t``,
    ``z_t' R_t^{-1} z_t = |y_t|^2``. A matrix that is not positive definite gives NaN.
    """
    n, t = zt.shape
    chol = np.zeros((n, n, t))
    y = np.empty((n, t))
    with np.errstate(invalid="ignore"):
        for j in range(n):
            head = chol[j, :j]
            chol[j, j] = np.sqrt(values[rows[j, j]] - np.einsum("kt,kt->t", head, head))
            if j + 1 < n:
                below = values[rows[j + 1 :, j]] - np.einsum("ikt,kt->it", chol[j + 1 :, :j], head)
                chol[j + 1 :, j] = below / chol[j, j]
            y[j] = (zt[j] - np.einsum("kt,kt->t", head, y[:j])) / chol[j, j]
        logdet = 2.0 * np.log(np.diagonal(chol).T).sum(axis=0)
    return logdet, np.einsum("jt,jt->t", y, y)


def full_terms(z: np.ndarray, qbar: np.ndarray, a: float, b: float) -> np.ndarray:
    """Per-observation N-variate correlation log-likelihood of Engle (2002), shape (T,).

    ``-1/2 [log|R_t| + z_t' R_t^{-1} z_t - z_t' z_t]``.
    """
    zt = np.ascontiguousarray(z.T)
    logdet, quad = _logdet_and_quadratic(*_correlation_elements(z, qbar, a, b), zt)
    return -0.5 * (logdet + quad - np.einsum("jt,jt->t", zt, zt))


def loglik_terms(
    z: np.ndarray, qbar: np.ndarray, a: float, b: float, *, likelihood: str = "full", pairs: str = "all"
) -> np.ndarray:
    """Per-observation second-step log-likelihood, shape (T,).

    ``full``: Engle's ``L_C`` terms (the closed bivariate form when ``N = 2``);
    ``composite``: the sum over the chosen pairs of the bivariate terms.
    """
    n = z.shape[1]
    if n == 2 or likelihood == "composite":
        i, j = pair_indices(n, pairs)
        contributions, _ = bivariate_terms(z, qbar, a, b, i, j)
        return contributions.sum(axis=1)
    return full_terms(z, qbar, a, b)


def correlation_loglik(
    z: np.ndarray, qbar: np.ndarray, a: float, b: float, *, likelihood: str = "full", pairs: str = "all"
) -> float:
    """Second-step log-likelihood ``L_C(a, b)`` (or its composite version), a float."""
    return float(loglik_terms(z, qbar, a, b, likelihood=likelihood, pairs=pairs).sum())
