"""A plain time loop over the DCC(1,1) recursion: the baseline of ``benchmarks/dcc.py`` and of the tests.

It computes the same ``L_C(a, b)`` as :func:`measures.dcc.likelihood.correlation_loglik`
(Engle 2002, eq. 26), one ``t`` at a time, with ``R_t^{-1}`` and ``log|R_t|`` from
``numpy.linalg`` on each 2-D matrix. It is never used in estimation.
"""

from __future__ import annotations

import numpy as np


def correlation_loglik_loop(z: np.ndarray, qbar: np.ndarray, a: float, b: float) -> float:
    """``-1/2 sum_t [log|R_t| + z_t' R_t^{-1} z_t - z_t' z_t]`` with an explicit loop over t."""
    t_obs = z.shape[0]
    q = qbar.copy()
    total = 0.0
    for t in range(t_obs):
        if t > 0:
            q = (1.0 - a - b) * qbar + a * np.outer(z[t - 1], z[t - 1]) + b * q
        d = 1.0 / np.sqrt(np.diag(q))
        r = q * np.outer(d, d)
        _, logdet = np.linalg.slogdet(r)
        zt = z[t]
        total += -0.5 * (logdet + zt @ np.linalg.solve(r, zt) - zt @ zt)
    return total
