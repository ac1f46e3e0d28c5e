"""ΔCoVaR from a bivariate DCC-GARCH (Liu–Ma 2021, after Kreis & Leisen 2018; docs/srisk.md).

With ``(X_i,t, X_sys,t)`` conditionally bivariate normal (losses, means zero or removed),
volatilities ``sigma_i,t``, ``sigma_sys,t`` and correlation ``rho_i,t``,

    CoVaR_i,t(q) = rho sigma_sys / sigma_i * VaR_i,t + Phi^{-1}(q) sigma_sys sqrt(1 - rho^2),
    ΔCoVaR_i,t(q) = CoVaR_i,t(q | VaR_i,t(q)) - CoVaR_i,t(q | VaR_i,t(0.5)) = Phi^{-1}(q) rho sigma_sys,

since ``VaR_i,t(q) = Phi^{-1}(q) sigma_i,t`` and the median state is ``0``. ``q`` is a loss
quantile (0.95 = stress); positive values are losses.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri  # the standard normal quantile (what scipy.stats.norm.ppf computes, same bits)

from measures.core.config import check_range


def _arrays(**named: object) -> list[np.ndarray]:
    out = []
    for name, value in named.items():
        arr = np.asarray(value, dtype=float)
        out.append(arr)
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        detail = ", ".join(f"{n}{a.shape}" for n, a in zip(named, out))
        raise ValueError(f"arguments must have the same shape; got {detail}")
    return out


def _check_inputs(rho: np.ndarray, sigma_sys: np.ndarray) -> None:
    bad = np.flatnonzero(np.abs(rho) > 1)
    if bad.size:
        raise ValueError(f"rho must lie in [-1, 1]; rho={rho.flat[bad[0]]!r} at position {int(bad[0])}")
    bad = np.flatnonzero(sigma_sys <= 0)
    if bad.size:
        raise ValueError(f"sigma_sys must be positive; sigma_sys={sigma_sys.flat[bad[0]]!r} at position {int(bad[0])}")


def covar_dcc(rho, sigma_sys, sigma_i, var_i, *, q: float = 0.95) -> np.ndarray:
    """CoVaR_i,t(q) of the system loss given the bank's loss at ``var_i`` (Gaussian DCC).

    ``rho sigma_sys / sigma_i * var_i + Phi^{-1}(q) sigma_sys sqrt(1 - rho^2)``.
    """
    check_range("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    rho, sigma_sys, sigma_i, var_i = _arrays(rho=rho, sigma_sys=sigma_sys, sigma_i=sigma_i, var_i=var_i)
    _check_inputs(rho, sigma_sys)
    return rho * sigma_sys / sigma_i * var_i + ndtri(q) * sigma_sys * np.sqrt(1.0 - rho**2)


def delta_covar_dcc(rho, sigma_sys, *, q: float = 0.95) -> np.ndarray:
    """ΔCoVaR_i,t(q) = Phi^{-1}(q) rho_i,t sigma_sys,t (Liu–Ma 2021), a positive loss for rho > 0."""
    check_range("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    rho, sigma_sys = _arrays(rho=rho, sigma_sys=sigma_sys)
    _check_inputs(rho, sigma_sys)
    return ndtri(q) * rho * sigma_sys
