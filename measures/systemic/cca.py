r"""Contingent-claims analysis: Merton distance to default, default probability, implicit put (docs/cca.md).

Equity is a call on the bank's assets with the default barrier ``D`` as strike (Merton 1974):

.. math::

    E = V N(d_1) - D e^{-rT} N(d_2), \qquad
    d_{1,2} = \frac{\ln(V/D) + (r \pm \sigma_V^2/2) T}{\sigma_V \sqrt{T}},

and Itô's lemma ties the equity volatility to the asset volatility:

.. math::

    \sigma_E E = N(d_1)\, \sigma_V V .

From the observed ``E`` and ``sigma_E`` (and ``D``, ``r``, ``T``) two solvers recover the
implied asset value ``V`` and asset volatility ``sigma_V``:

* :func:`merton_dd` solves the two equations jointly (Newton with the analytic Jacobian,
  vectorized over every element; Gray, Merton & Bodie 2007);
* :func:`merton_dd_kmv` takes a daily equity series and iterates: invert the call each day for
  ``V_t`` given ``sigma_V``, re-estimate ``sigma_V`` from the implied daily asset log returns,
  until ``sigma_V`` stops changing (Crosbie & Bohn 2003; Vassalou & Xing 2004).

Then (risk-neutral, Gray, Merton & Bodie 2007) the distance to default is
``DD = d_2``, the default probability ``PD = N(-DD)``, and the implicit put option
``P = D e^{-rT} N(-d_2) - V N(-d_1)`` is the value of the expected loss the creditors bear
(``V = E + D e^{-rT} - P``); the credit spread is ``s = -ln(1 - P / (D e^{-rT})) / T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

_SQRT_2PI = np.sqrt(2.0 * np.pi)

#: status strings of the solvers (measures.core.status format)
OK = "ok"
MISSING = "failed:MissingInput: equity value, equity volatility, debt or rate missing"
NOT_CONVERGED = "failed:NotConverged: the Merton equations were not solved to the tolerance"


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


@dataclass(frozen=True)
class MertonResult:
    """Implied assets and credit risk per element (arrays of the broadcast input shape).

    Attributes
    ----------
    asset_value, asset_vol : ndarray
        Implied asset value ``V`` and annual asset volatility ``sigma_V``.
    distance_to_default : ndarray
        ``DD = d_2 = (ln(V/D) + (r - sigma_V^2/2) T) / (sigma_V sqrt(T))``.
    default_probability : ndarray
        ``N(-DD)``, risk-neutral, over the horizon ``T``.
    put_value : ndarray
        The implicit put ``D e^{-rT} N(-d_2) - V N(-d_1)`` (present value of the expected loss).
    credit_spread : ndarray
        ``-ln(1 - P / (D e^{-rT})) / T``, annual, continuously compounded.
    converged : ndarray of bool
    iterations : ndarray of int
        Newton steps (two-equation solve) or outer iterations (KMV).
    status : ndarray of str
        ``"ok"`` or a failed status (:data:`MISSING`, :data:`NOT_CONVERGED`); failed elements are NaN.
    asset_path : ndarray or None
        KMV only: the implied daily asset values (the input shape of the equity series).
    """

    asset_value: np.ndarray
    asset_vol: np.ndarray
    distance_to_default: np.ndarray
    default_probability: np.ndarray
    put_value: np.ndarray
    credit_spread: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    status: np.ndarray
    asset_path: np.ndarray | None = None

    @property
    def expected_loss(self) -> np.ndarray:
        """The implicit put value: the creditors' expected loss, valued risk-neutrally (Gray, Merton & Bodie 2007)."""
        return self.put_value


def _check(name: str, value: np.ndarray, *, positive: bool, allow_zero: bool = False) -> None:
    """Raise ValueError naming the argument, the first offending position and value."""
    finite = np.isfinite(value)
    bad = finite & ((value < 0) if allow_zero else (value <= 0)) if positive else np.zeros_like(finite)
    bad |= np.isinf(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"merton_dd: {name} must be finite and {need}; got {float(value[where])!r} at position {where} "
                         f"(NaN marks a missing value: its result is NaN with status {MISSING.split(':')[1]})")


def _d1_d2(V, D, r, sigma, T):
    sq = sigma * np.sqrt(T)
    d1 = (np.log(V / D) + (r + 0.5 * sigma * sigma) * T) / sq
    return d1, d1 - sq


def call_value(V, D, r, sigma, T) -> np.ndarray:
    """Black–Scholes–Merton equity value ``V N(d1) - D e^{-rT} N(d2)`` (broadcast)."""
    d1, d2 = _d1_d2(V, D, r, sigma, T)
    return V * ndtr(d1) - D * np.exp(-r * T) * ndtr(d2)


def credit_measures(V, sigma, D, r, T, **fields) -> MertonResult:
    """DD, PD, put value and spread at the implied ``V``, ``sigma_V`` (module docstring)."""
    d1, d2 = _d1_d2(V, D, r, sigma, T)
    pv_debt = D * np.exp(-r * T)
    put = pv_debt * ndtr(-d2) - V * ndtr(-d1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = -np.log1p(-put / pv_debt) / T
    return MertonResult(V, sigma, d2, ndtr(-d2), put, spread, **fields)


def _inputs(equity_value, equity_vol, debt, rate, horizon):
    arrays = [np.asarray(a, dtype=float) for a in (equity_value, equity_vol, debt, rate, horizon)]
    E, sE, D, r, T = (np.array(a, dtype=float) for a in np.broadcast_arrays(*arrays))
    _check("equity_value", E, positive=True)
    _check("equity_vol", sE, positive=True)
    _check("debt", D, positive=True)
    _check("rate", r, positive=False)
    _check("horizon", T, positive=True)
    return E, sE, D, r, T


def merton_dd(equity_value, equity_vol, debt, rate, horizon=1.0, *, tol: float = 1e-12, max_iter: int = 100) -> MertonResult:
    r"""Merton (1974) implied assets and distance to default by the two-equation solve.

    Solves jointly, for every element,

    .. math::

        F_1 = V N(d_1) - D e^{-rT} N(d_2) - E = 0, \qquad F_2 = N(d_1) \sigma_V V - \sigma_E E = 0

    by Newton's method with the analytic Jacobian

    .. math::

        \partial_V F_1 = N(d_1), \quad \partial_{\sigma} F_1 = V \varphi(d_1) \sqrt{T}, \quad
        \partial_V F_2 = \sigma_V N(d_1) + \varphi(d_1) / \sqrt{T}, \quad
        \partial_{\sigma} F_2 = V \big(N(d_1) - d_2 \varphi(d_1)\big),

    from ``V_0 = E + D e^{-rT}``, ``sigma_0 = sigma_E E / V_0``; a step is halved until ``V`` and
    ``sigma_V`` stay positive and the residual falls. Elements where this fails (deep distress)
    restart from a bisection on ``sigma_V`` (:func:`_bracket`) and are polished by Newton again. Then DD, PD and the implicit put as in the
    module docstring (Gray, Merton & Bodie 2007).

    Parameters
    ----------
    equity_value : array_like
        Market value of equity ``E`` (> 0).
    equity_vol : array_like
        Annual equity volatility ``sigma_E`` (> 0).
    debt : array_like
        Default barrier ``D`` (> 0; e.g. short-term + ½ long-term liabilities, Crosbie & Bohn 2003).
    rate : array_like
        Risk-free rate, annual, continuously compounded (a fraction).
    horizon : array_like
        ``T`` in years (> 0).
    tol : float
        Convergence when ``|F_1| / (E + D e^{-rT})`` and ``|F_2| / (sigma_E E)`` are both below
        ``tol`` (``F_1`` relative to the size of its terms: with ``D >> E`` the rounding error
        of ``F_1`` is about ``1e-16 D``).
    max_iter : int
        Newton steps at most; unconverged elements are NaN with status :data:`NOT_CONVERGED`.

    Returns
    -------
    MertonResult
        Arrays of the broadcast shape of the inputs. NaN inputs give NaN results with status
        :data:`MISSING`.

    Raises
    ------
    ValueError
        For a finite but non-positive equity value, equity volatility, debt or horizon, or an
        infinite input (the message names the argument, position and value).
    """
    E, sE, D, r, T = _inputs(equity_value, equity_vol, debt, rate, horizon)
    shape = E.shape
    E, sE, D, r, T = (a.ravel() for a in (E, sE, D, r, T))
    missing = ~(np.isfinite(E) & np.isfinite(sE) & np.isfinite(D) & np.isfinite(r) & np.isfinite(T))
    V = np.where(missing, np.nan, E + D * np.exp(-r * T))
    s = sE * E / V
    scale = E + D * np.exp(-r * T)  # F_1 relative to E + D e^{-rT}: the rounding error of V N(d1) - D e^{-rT} N(d2)
    iters = np.zeros(E.shape, dtype=int)
    done = missing.copy()

    def residual(V, s, idx):
        d1, d2 = _d1_d2(V, D[idx], r[idx], s, T[idx])
        n1 = ndtr(d1)
        f1 = V * n1 - D[idx] * np.exp(-r[idx] * T[idx]) * ndtr(d2) - E[idx]
        f2 = n1 * s * V - sE[idx] * E[idx]
        return f1, f2, d1, d2, n1, np.maximum(np.abs(f1) / scale[idx], np.abs(f2) / (sE[idx] * E[idx]))

    live = ~missing
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a singular step cannot move: unconverged
        _newton(V, s, done, iters, residual, T, tol, max_iter)
        f_err = np.full(E.shape, np.inf)
        f_err[live] = residual(V[live], s[live], np.flatnonzero(live))[-1]
        retry = np.flatnonzero(live & ~(f_err < tol))
        if retry.size:  # a start from the bracketing solve, then Newton again
            V[retry], s[retry] = _bracket(E[retry], sE[retry], D[retry], r[retry], T[retry])
            done[retry] = ~(np.isfinite(V[retry]) & np.isfinite(s[retry]))
            _newton(V, s, done, iters, residual, T, tol, max_iter)
            f_err[retry] = residual(V[retry], s[retry], retry)[-1]
    converged = f_err < tol
    status = np.where(missing, MISSING, np.where(converged, OK, NOT_CONVERGED)).astype(object)
    V, s = np.where(converged, V, np.nan), np.where(converged, s, np.nan)
    out = credit_measures(V, s, D, r, T, converged=converged, iterations=iters, status=status)
    return _reshape(out, shape)


def _bracket(E, sE, D, r, T, n_iter: int = 60) -> tuple[np.ndarray, np.ndarray]:
    r"""``(V, sigma_V)`` by bisection on ``ln sigma_V`` of ``N(d_1) sigma_V V(sigma_V) = sigma_E E``.

    ``V(sigma_V)`` inverts the call (:func:`implied_asset_value`). The root lies in
    ``[sigma_E E / (E + D e^{-rT}), sigma_E]``: ``V N(d_1) >= E`` gives ``sigma_V <= sigma_E``, and
    ``N(d_1) V <= E + D e^{-rT}`` the lower end. The start of Newton where it failed from the
    default start (deep distress, ``D >> E`` and a large ``sigma_E``).
    """
    lo, hi = np.log(sE * E / (E + D * np.exp(-r * T))), np.log(sE)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        sigma = np.exp(mid)
        V = implied_asset_value(E, D, r, sigma, T)
        d1, _ = _d1_d2(V, D, r, sigma, T)
        above = ndtr(d1) * sigma * V > sE * E
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    sigma = np.exp(0.5 * (lo + hi))
    return implied_asset_value(E, D, r, sigma, T), sigma


def _newton(V, s, done, iters, residual, T, tol, max_iter) -> None:
    """The damped Newton steps of :func:`merton_dd`, in place on ``V``, ``s``, ``done``, ``iters``."""
    for _ in range(max_iter):
        idx = np.flatnonzero(~done)
        if idx.size == 0:
            break
        v, sv = V[idx], s[idx]
        f1, f2, d1, d2, n1, err = residual(v, sv, idx)
        conv = err < tol
        done[idx[conv]] = True
        idx, v, sv, f1, f2, d1, d2, n1, err = (a[~conv] for a in (idx, v, sv, f1, f2, d1, d2, n1, err))
        if idx.size == 0:
            break
        sqT, phi = np.sqrt(T[idx]), _pdf(d1)
        j11, j12 = n1, v * phi * sqT
        j21, j22 = sv * n1 + phi / sqT, v * (n1 - d2 * phi)
        det = j11 * j22 - j12 * j21
        dv = -(j22 * f1 - j12 * f2) / det
        ds = -(-j21 * f1 + j11 * f2) / det
        step = np.ones_like(v)
        for _ in range(30):  # halve until positive and the residual falls
            nv, ns = v + step * dv, sv + step * ds
            ok = (nv > 0) & (ns > 0) & np.isfinite(nv) & np.isfinite(ns)
            new_err = np.full_like(v, np.inf)
            new_err[ok] = residual(nv[ok], ns[ok], idx[ok])[-1]
            bad = ~(new_err < err) & (step > 1e-9)
            if not bad.any():
                break
            step[bad] *= 0.5
        nv, ns = v + step * dv, sv + step * ds
        keep = (nv > 0) & (ns > 0) & np.isfinite(nv) & np.isfinite(ns)
        V[idx[keep]], s[idx[keep]] = nv[keep], ns[keep]
        iters[idx] += 1
        done[idx[~keep]] = True  # cannot move: left unconverged


def _reshape(res: MertonResult, shape: tuple, path_shape: tuple | None = None) -> MertonResult:
    fields = {k: np.reshape(getattr(res, k), shape) for k in (
        "asset_value", "asset_vol", "distance_to_default", "default_probability", "put_value", "credit_spread",
        "converged", "iterations", "status")}
    if res.asset_path is not None:
        fields["asset_path"] = np.reshape(res.asset_path, path_shape)
    return MertonResult(**fields)


def implied_asset_value(equity_value, debt, rate, asset_vol, horizon=1.0, *, tol: float = 1e-12, max_iter: int = 200,
                        start=None) -> np.ndarray:
    r"""``V`` solving ``E = V N(d_1) - D e^{-rT} N(d_2)`` for a given ``sigma_V`` (broadcast; NaN where unsolved).

    Newton from ``V_0 = E + D e^{-rT}`` (above the root: the call is worth at least
    ``V - D e^{-rT}``), or from ``start`` where given and finite (a warm start, e.g. the previous
    iterate of :func:`merton_dd_kmv`). The call is increasing and convex in ``V``
    (``f'(V) = N(d_1)``), so from above the iterates fall monotonically to the root and from
    below the first step lands above it. Converged when ``|f| < tol (E + D e^{-rT})``.
    """
    E, D, r, s, T = (np.array(a, dtype=float) for a in np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (equity_value, debt, rate, asset_vol, horizon))))
    shape = E.shape
    E, D, r, s, T = (a.ravel() for a in (E, D, r, s, T))
    pv = D * np.exp(-r * T)
    V = E + pv
    if start is not None:
        warm = np.broadcast_to(np.asarray(start, dtype=float), shape).ravel()
        V = np.where(np.isfinite(warm) & (warm > 0), warm, V)
    live = np.isfinite(V) & np.isfinite(s) & (s > 0) & (E > 0) & (D > 0)
    V[~live] = np.nan
    idx = np.flatnonzero(live)
    lnD, drift, sq = np.log(D), (r + 0.5 * s * s) * T, s * np.sqrt(T)
    for _ in range(max_iter):
        v = V[idx]
        d1 = (np.log(v) - lnD[idx] + drift[idx]) / sq[idx]
        n1 = ndtr(d1)
        f = v * n1 - pv[idx] * ndtr(d1 - sq[idx]) - E[idx]
        V[idx] = v - f / np.maximum(n1, 1e-300)
        idx = idx[np.abs(f) >= tol * (E[idx] + pv[idx])]
        if idx.size == 0:
            return V.reshape(shape)
    V[idx] = np.nan  # not converged
    return V.reshape(shape)


def merton_dd_kmv(equity_value, debt, rate, horizon=1.0, *, periods_per_year: int = 252, tol: float = 1e-8,
                  max_iter: int = 200, min_obs: int = 2) -> MertonResult:
    r"""KMV-style iterative solve on daily equity series (Crosbie & Bohn 2003; Vassalou & Xing 2004).

    For each series (the last axis is time, observations ``t = 1..n``):

    1. ``sigma^{(0)} = sd(Δ ln E) sqrt(periods_per_year) · E_n / (E_n + D_n)``;
    2. each day, ``V_t^{(k)}`` solves ``E_t = V N(d_1) - D_t e^{-r_t T} N(d_2)`` at ``sigma^{(k)}``
       (:func:`implied_asset_value`);
    3. ``sigma^{(k+1)} = sd(Δ ln V^{(k)}) sqrt(periods_per_year)`` (sample sd, ddof 1, over the
       consecutive pairs of valid days);
    4. stop when ``|sigma^{(k+1)} - sigma^{(k)}| < tol · sigma^{(k)}``.

    The credit measures are those of the last day ``n`` at the converged ``sigma_V``.

    Parameters
    ----------
    equity_value : array_like, shape (..., n)
        Daily equity values (NaN = no value that day).
    debt, rate : array_like
        Barrier and rate per day, broadcast to the equity's shape.
    horizon : float
        ``T`` in years.
    periods_per_year : int
        Observations per year (annualizes the daily asset volatility).
    tol, max_iter
        Relative tolerance on ``sigma_V`` and the most outer iterations.
    min_obs : int
        Fewest valid daily asset returns per series (else the series' result is missing).

    Returns
    -------
    MertonResult
        Shape ``(...)``; ``asset_path`` holds the implied daily ``V`` (shape ``(..., n)``).
    """
    E = np.asarray(equity_value, dtype=float)
    if E.ndim < 1 or E.shape[-1] < 3:
        raise ValueError(f"merton_dd_kmv: equity_value needs a time axis (last) of at least 3 days; got shape {E.shape}")
    E, D, r = (np.array(a, dtype=float) for a in np.broadcast_arrays(E, *(np.asarray(a, dtype=float) for a in (debt, rate))))
    T = float(horizon)
    for name, value in (("equity_value", E), ("debt", D)):
        _check(name, value, positive=True)
    _check("horizon", np.asarray(T), positive=True)
    shape = E.shape[:-1]
    E, D, r = (a.reshape(-1, a.shape[-1]) for a in (E, D, r))
    day_ok = np.isfinite(E) & np.isfinite(D) & np.isfinite(r)
    E, D, r = (np.where(day_ok, a, np.nan) for a in (E, D, r))

    def vol(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx = np.diff(np.log(x), axis=1)
        n = np.isfinite(dx).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.nanstd(np.where(n[:, None] >= 2, dx, 0.0), axis=1, ddof=1) * np.sqrt(periods_per_year)
        return np.where(n >= max(min_obs, 2), sd, np.nan), n

    last_E, last_D, last_r = E[:, -1], D[:, -1], r[:, -1]
    sE, _ = vol(E)
    sigma = sE * last_E / (last_E + last_D)
    live = np.isfinite(sigma) & (sigma > 0) & np.isfinite(last_E)
    iters = np.zeros(len(E), dtype=int)
    converged = np.zeros(len(E), dtype=bool)
    V = np.full(E.shape, np.nan)
    for _ in range(max_iter):
        idx = np.flatnonzero(live & ~converged)
        if idx.size == 0:
            break
        V[idx] = implied_asset_value(E[idx], D[idx], r[idx], sigma[idx, None], T, start=V[idx])
        new, _ = vol(V[idx])
        iters[idx] += 1
        with np.errstate(invalid="ignore"):
            converged[idx] = np.abs(new - sigma[idx]) < tol * sigma[idx]
        broke = ~(np.isfinite(new) & (new > 0))
        live[idx[broke]] = False
        sigma[idx] = np.where(broke, sigma[idx], new)
    if np.any(converged):  # V at the converged sigma (the last pass used the previous one)
        V[converged] = implied_asset_value(E[converged], D[converged], r[converged], sigma[converged, None], T,
                                           start=V[converged])
    missing = ~np.isfinite(sE) | ~np.isfinite(last_E) | ~np.isfinite(last_D) | ~np.isfinite(last_r)
    ok = converged & ~missing & np.isfinite(V[:, -1])
    status = np.where(missing, MISSING, np.where(ok, OK, NOT_CONVERGED)).astype(object)
    sigma_out = np.where(ok, sigma, np.nan)
    V_last = np.where(ok, V[:, -1], np.nan)
    out = credit_measures(V_last, sigma_out, last_D, last_r, T, converged=ok, iterations=iters, status=status,
                          asset_path=np.where(ok[:, None], V, np.nan))
    return _reshape(out, shape, (*shape, E.shape[-1]))
