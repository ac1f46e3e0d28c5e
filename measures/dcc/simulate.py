"""Simulate a DCC(1,1)-GJR-GARCH(1,1,1) process with Gaussian shocks (known-truth tests, benchmarks).

r_i,t = mu_i + sigma_i,t z_i,t,
sigma_i,t^2 = omega_i + (alpha_i + gamma_i 1[e_i,t-1 < 0]) e_i,t-1^2 + beta_i sigma_i,t-1^2,
z_t ~ N(0, R_t),  Q_t = (1-a-b) Qbar + a z_{t-1} z_{t-1}' + b Q_{t-1}   (Engle 2002).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class GarchParams:
    """Decimal-unit GJR-GARCH(1,1,1) parameters (``gamma = 0``: GARCH(1,1))."""

    omega: float
    alpha: float
    beta: float
    gamma: float = 0.0
    mu: float = 0.0

    def __post_init__(self) -> None:
        if self.omega <= 0 or min(self.alpha, self.beta, self.alpha + self.gamma) < 0:
            raise ValueError(f"invalid GARCH parameters {self}: need omega > 0, alpha, beta, alpha + gamma >= 0")
        if self.persistence >= 1:
            raise ValueError(f"persistence alpha + gamma/2 + beta = {self.persistence} must be < 1")

    @property
    def persistence(self) -> float:
        return self.alpha + 0.5 * self.gamma + self.beta

    @property
    def unconditional_variance(self) -> float:
        return self.omega / (1.0 - self.persistence)


def simulate_dcc_garch(
    nobs: int,
    garch: Sequence[GarchParams],
    a: float,
    b: float,
    qbar: np.ndarray,
    rng: np.random.Generator,
    *,
    burn: int = 500,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``nobs`` observations after ``burn`` discarded ones.

    Returns
    -------
    returns : ndarray (nobs, N)
    sigma : ndarray (nobs, N)
        True conditional volatilities.
    rho : ndarray (nobs, N, N)
        True conditional correlation matrices.
    """
    n = len(garch)
    qbar = np.asarray(qbar, dtype=float)
    if qbar.shape != (n, n):
        raise ValueError(f"qbar must have shape ({n}, {n}), got {qbar.shape}")
    if a < 0 or b < 0 or a + b >= 1:
        raise ValueError(f"DCC parameters a={a}, b={b} must satisfy a, b >= 0 and a + b < 1")
    total = nobs + burn
    omega = np.array([g.omega for g in garch])
    alpha = np.array([g.alpha for g in garch])
    gamma = np.array([g.gamma for g in garch])
    beta = np.array([g.beta for g in garch])
    mu = np.array([g.mu for g in garch])
    var = np.array([g.unconditional_variance for g in garch])
    q = qbar.copy()
    z_prev = np.zeros(n)
    e_prev = np.zeros(n)
    out_r = np.empty((total, n))
    out_s = np.empty((total, n))
    out_rho = np.empty((total, n, n))
    shocks = rng.standard_normal((total, n))
    for t in range(total):
        if t > 0:
            q = (1 - a - b) * qbar + a * np.outer(z_prev, z_prev) + b * q
            var = omega + (alpha + gamma * (e_prev < 0)) * e_prev**2 + beta * var
        d = 1 / np.sqrt(np.diag(q))
        r = q * np.outer(d, d)
        z = np.linalg.cholesky(r) @ shocks[t]
        sigma = np.sqrt(var)
        e_prev = sigma * z
        z_prev = z
        out_r[t] = mu + e_prev
        out_s[t] = sigma
        out_rho[t] = r
    return out_r[burn:], out_s[burn:], out_rho[burn:]
