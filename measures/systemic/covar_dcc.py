"""ΔCoVaR from a bivariate DCC-GARCH (Liu–Ma 2021, after Kreis & Leisen 2018; docs/srisk.md).

With ``(X_i,t, X_sys,t)`` conditionally bivariate normal (losses, means zero or removed),
volatilities ``sigma_i,t``, ``sigma_sys,t`` and correlation ``rho_i,t``,

    CoVaR_i,t(q) = rho sigma_sys / sigma_i * VaR_i,t + Phi^{-1}(q) sigma_sys sqrt(1 - rho^2),
    ΔCoVaR_i,t(q) = CoVaR_i,t(q | VaR_i,t(q)) - CoVaR_i,t(q | VaR_i,t(0.5)) = Phi^{-1}(q) rho sigma_sys,

since ``VaR_i,t(q) = Phi^{-1}(q) sigma_i,t`` and the median state is ``0``. ``q`` is a loss
quantile (0.95 = stress); positive values are losses.

The expected-shortfall analogue (Adrian & Brunnermeier 2016), ``CoES_i,t(q) = E[X_sys | X_sys >=
CoVaR_i,t(q), X_i = VaR_i,t(q)]``, is the ES of the conditional normal law
``N(rho sigma_sys/sigma_i x, sigma_sys^2 (1 - rho^2))``:

    CoES_i,t(q) = rho sigma_sys Phi^{-1}(q) + sigma_sys sqrt(1 - rho^2) phi(Phi^{-1}(q)) / (1 - q),
    ΔCoES_i,t(q) = CoES(q | VaR_i(q)) - CoES(q | VaR_i(0.5)) = Phi^{-1}(q) rho sigma_sys = ΔCoVaR_i,t(q):

conditioning on a value of ``X_i`` only shifts the normal law of ``X_sys``. Girardi & Ergün (2013)
condition on ``X_i >= VaR_i`` instead (``conditioning="at_or_below"``, the bank's return at or
below its VaR): :func:`conditional_measures_dcc`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri  # ndtri: the standard normal quantile (scipy.stats.norm.ppf, same bits)
from scipy.special import owens_t

from measures.core.config import check_choice, check_range

#: ``equal``: the bank at its VaR (Adrian & Brunnermeier); ``at_or_below``: its return at or below its VaR (Girardi & Ergün)
CONDITIONING = ("equal", "at_or_below")


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
        raise ValueError(f"rho must lie in [-1, 1]; rho={float(rho.flat[bad[0]])!r} at position {int(bad[0])}")
    bad = np.flatnonzero(sigma_sys <= 0)
    if bad.size:
        raise ValueError(f"sigma_sys must be positive; sigma_sys={float(sigma_sys.flat[bad[0]])!r} at position {int(bad[0])}")


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


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def bivariate_normal_upper(a, b, rho) -> np.ndarray:
    """``P(Z_1 >= a, Z_2 >= b)`` for standard normals with correlation ``rho`` (vectorised).

    Owen's (1956) formula ``Phi_2(h, k; rho) = Phi(h)/2 + Phi(k)/2 - T(h, a_h) - T(k, a_k) - beta``
    at ``h = -a``, ``k = -b``, with ``a_h = (k - rho h) / (h sqrt(1 - rho^2))``, ``a_k`` alike and
    ``beta = 1/2`` when ``h k < 0`` (or ``h k = 0``, ``h + k < 0``), ``T`` Owen's T function
    (:func:`scipy.special.owens_t`); ``|rho| < 1``. In the upper tail (``a, b > 0``) no term
    cancels, so small probabilities keep their relative precision.
    """
    h, k, rho = np.broadcast_arrays(-np.asarray(a, float), -np.asarray(b, float), np.asarray(rho, float))
    tiny = np.finfo(float).tiny  # h = 0 or k = 0: the formula's limit from above (the function is continuous)
    h, k = np.where(h == 0, tiny, h), np.where(k == 0, tiny, k)
    s = np.sqrt(1.0 - rho * rho)
    beta = np.where(h * k < 0, 0.5, 0.0)
    return 0.5 * ndtr(h) + 0.5 * ndtr(k) - owens_t(h, (k - rho * h) / (h * s)) - owens_t(k, (h - rho * k) / (k * s)) - beta


def _band(fn, c, lo, hi, rho):
    """``fn(c, lo, rho) - fn(c, hi, rho)`` with ``fn(c, inf, rho) = 0``: the event ``lo <= Z_i <= hi``."""
    upper = 0.0 if np.isinf(hi) else fn(c, hi, rho)
    return fn(c, lo, rho) - upper


def _tail_mass(c, lo, hi, rho):
    """``P(Z_s >= c, lo <= Z_i <= hi)``."""
    return _band(bivariate_normal_upper, c, lo, hi, rho)


def _tail_first_moment(c, b, rho):
    """``E[Z_s 1{Z_s >= c, Z_i >= b}] = phi(c) Phi((rho c - b)/s) + rho phi(b) Phi((rho b - c)/s)``, ``s = sqrt(1 - rho^2)``."""
    s = np.sqrt(1.0 - rho * rho)
    return _phi(c) * ndtr((rho * c - b) / s) + rho * _phi(b) * ndtr((rho * b - c) / s)


def _solve_tail_quantile(target: float, lo: float, hi: float, rho: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The ``c`` (per element of ``rho``) with ``P(Z_s >= c, lo <= Z_i <= hi) = target``.

    Safeguarded Newton: the mass decreases in ``c`` with derivative
    ``-phi(c) P(lo <= Z_i <= hi | Z_s = c)``; a step leaving the bracket narrowed so far (from
    ``[-40, 40]``) is replaced by bisection. An element stops once its step is below 1e-13
    (relative to ``max(1, |c|)``); typically five steps.
    """
    c = np.clip(np.asarray(start, float).copy(), -39.0, 39.0)
    left, right = np.full_like(c, -40.0), np.full_like(c, 40.0)
    active = np.arange(c.size)
    for _ in range(200):
        x, r = c[active], rho[active]
        s = np.sqrt(1.0 - r * r)
        f = _tail_mass(x, lo, hi, r) - target
        lft, rgt = np.where(f > 0, x, left[active]), np.where(f > 0, right[active], x)
        slope = -_phi(x) * (ndtr((r * x - lo) / s) - (0.0 if np.isinf(hi) else ndtr((r * x - hi) / s)))
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(slope < 0, x - f / slope, np.nan)
        new = np.where((step >= lft) & (step <= rgt), step, 0.5 * (lft + rgt))
        c[active], left[active], right[active] = new, lft, rgt
        active = active[np.abs(new - x) > 1e-13 * np.maximum(1.0, np.abs(x))]
        if not active.size:
            return c
    raise RuntimeError("the Girardi-Ergün CoVaR root-finder did not converge in 200 steps")


def conditional_measures_dcc(rho, sigma_sys, *, q: float = 0.95, conditioning: str = "equal") -> dict[str, np.ndarray]:
    """CoVaR, ΔCoVaR, CoES and ΔCoES of the system loss (Gaussian DCC, losses with means zero or removed).

    ``conditioning="equal"`` (Adrian & Brunnermeier 2016): the bank's loss at its VaR vs at its
    median (module docstring): ``covar = sigma_sys z (rho + s)``, ``delta_covar = delta_coes =
    sigma_sys z rho``, ``coes = sigma_sys (rho z + s phi(z)/(1 - q))``, ``z = Phi^{-1}(q)``,
    ``s = sqrt(1 - rho^2)``.

    ``conditioning="at_or_below"`` (Girardi & Ergün 2013): the bank in distress is ``X_i >=
    VaR_i(q)`` (its return at or below its VaR) and its benchmark state is a one-standard-deviation
    event ``|X_i| <= sigma_i``. With ``(Z_s, Z_i)`` the standardised losses, ``CoVaR = sigma_sys c``
    and ``CoVaR^b = sigma_sys c_b`` solve

        P(Z_s >= c, Z_i >= z) = (1 - q)^2,   P(Z_s >= c_b, |Z_i| <= 1) = (1 - q)(2 Phi(1) - 1),

    (:func:`bivariate_normal_upper`, a root per element), ``ΔCoVaR = CoVaR - CoVaR^b`` (Girardi &
    Ergün report ``100 ΔCoVaR / CoVaR^b``, the percentage change); ``CoES = E[X_sys | X_sys >= CoVaR,
    X_i >= VaR_i]`` and ``CoES^b`` alike from the first moment of the truncated bivariate normal
    (Tallis 1961), ``E[Z_s 1{Z_s >= c, Z_i >= b}] = phi(c) Phi((rho c - b)/s) + rho phi(b) Phi((rho b - c)/s)``;
    ``ΔCoES = CoES - CoES^b``.

    Returns
    -------
    dict
        ``covar``, ``delta_covar``, ``coes``, ``delta_coes`` (arrays shaped like ``rho``).
    """
    check_range("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice("conditioning", conditioning, CONDITIONING)
    rho, sigma_sys = _arrays(rho=rho, sigma_sys=sigma_sys)
    _check_inputs(rho, sigma_sys)
    z = float(ndtri(q))
    s = np.sqrt(1.0 - rho**2)
    if conditioning == "equal":
        es_z = float(_phi(np.float64(z))) / (1.0 - q)
        return {"covar": sigma_sys * z * (rho + s), "delta_covar": delta_covar_dcc(rho, sigma_sys, q=q),
                "coes": sigma_sys * (rho * z + s * es_z), "delta_coes": delta_covar_dcc(rho, sigma_sys, q=q)}
    bad = np.flatnonzero(np.abs(rho) == 1)
    if bad.size:
        raise ValueError(f"conditioning='at_or_below' needs |rho| < 1; rho={float(rho.flat[bad[0]])!r} at position "
                         f"{int(bad[0])}")
    tail, bench = (1.0 - q) ** 2, (1.0 - q) * (2.0 * float(ndtr(1.0)) - 1.0)
    c, c_b, ok = np.full(rho.shape, np.nan), np.full(rho.shape, np.nan), np.isfinite(rho)  # NaN: no fitted value
    c[ok] = _solve_tail_quantile(tail, z, np.inf, rho[ok], start=z * (rho[ok] + s[ok]))
    c_b[ok] = _solve_tail_quantile(bench, -1.0, 1.0, rho[ok], start=z * s[ok])
    coes = _tail_first_moment(c, z, rho) / tail
    coes_b = _band(_tail_first_moment, c_b, -1.0, 1.0, rho) / bench
    return {"covar": sigma_sys * c, "delta_covar": sigma_sys * (c - c_b),
            "coes": sigma_sys * coes, "delta_coes": sigma_sys * (coes - coes_b)}
