"""Real-time bivariate DCC-GARCH per bank: parameters re-estimated on data up to each refit date.

Schedule (:func:`refit_schedule`). A bank's pair sample has ``T`` rows. Refit ``k = 0, 1, ...`` is
estimated on the rows ``[lo_k, hi_k)``, ``hi_k = min_obs + k * refit_every <= T``, with ``lo_k = 0``
(``expanding``) or ``max(0, hi_k - window)`` (``rolling``); its date is row ``hi_k - 1``. The
schedule depends on the sample's first day only, so later data never moves a refit. Each refit is
the full-sample two-step estimator on its rows (GJR-GARCH per series, then ``(a, b)`` on the
standardised residuals with ``Qbar_k = z'z / n_k``), warm-started from the previous refit: the
first and last refits (the last with standard errors) by arch and the grid-started SLSQP step of
the full fit, the others maximise the same likelihoods with the analytic-gradient optimisers of
:mod:`measures.dcc.refit` (arch / the SLSQP step again when those do not converge).

Filter (:func:`realtime_path`). One path per bank runs from the first row of the sample; row ``t``
uses the parameters ``theta(t)`` of the last converged refit dated at or before ``t`` (a failed
refit keeps the previous parameters):

    e_t = r_t - mu(t),
    sigma_t^2 = omega(t) + (alpha(t) + gamma(t) 1[e_{t-1} < 0]) e_{t-1}^2 + beta(t) sigma_{t-1}^2,
    z_t = e_t / sigma_t,
    Q_t = (1 - a(t) - b(t)) Qbar(t) + a(t) z_{t-1} z_{t-1}' + b(t) Q_{t-1},
    rho_t = Q_12,t / sqrt(Q_11,t Q_22,t),

started as arch starts (``sigma_{-1}^2 = e_{-1}^2 =`` the backcast of the first 75 residuals of
the first converged refit's sample at its sample mean, half of it for the asymmetric term) and ``Q_0 = Qbar``. Rows before the first converged refit
carry its parameters for the state only and are NaN. A value dated ``t`` is therefore a function
of the returns up to ``t`` (parameters of refits dated ``<= t``, filter inputs up to ``t``). With
one refit on the whole sample this is the full-sample filter (``tests/test_dcc_realtime.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from functools import partial

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from measures.core.adapters.arch_adapter import UnivariateGarchFit, fit_univariate_garch
from measures.core.mapping import Mapper, map_items
from measures.core.status import FitStatus, status_from_exception, worst
from measures.dcc.config import DCCConfig
from measures.dcc.estimate import MIN_WARM_A, SecondStep, estimate_correlation_step
from measures.dcc.fit import check_returns
from measures.dcc.refit import backcast, refit_correlation, refit_garch
from measures.dcc.likelihood import second_moment
from measures.dcc.results import DCCResult

ESTIMATIONS = ("full", "expanding", "rolling")
#: Per-series parameters of the filter, in this order.
TERMS = ("mu", "omega", "alpha", "gamma", "beta")
#: ``Qbar`` elements stored per refit: (system, system), (bank, bank), (system, bank).
QBAR_TERMS = ("qbar_sys", "qbar_bank", "qbar_cross")


def refit_schedule(nobs: int, *, min_obs: int, refit_every: int, window: int | None = None) -> np.ndarray:
    """Rows ``(lo, hi)`` (``hi`` exclusive) of each refit sample, shape (K, 2); empty when ``nobs < min_obs``."""
    hi = np.arange(min_obs, nobs + 1, refit_every, dtype=np.int64)
    lo = np.zeros_like(hi) if window is None else np.maximum(hi - window, 0)
    return np.column_stack([lo, hi])


def linear_recursion(u: np.ndarray, coef: np.ndarray, starts: np.ndarray, initial: np.ndarray | float) -> np.ndarray:
    """``y_t = u_t + c_t y_{t-1}`` along the last axis, ``y_{-1} = initial``, ``c`` constant on each segment.

    ``starts`` are the first positions of the segments (``0`` first); each segment is one
    ``scipy.signal.lfilter`` call started from the previous segment's last value.
    """
    out = np.empty_like(u)
    prev = np.asarray(initial, dtype=float) * np.ones(u.shape[:-1])
    bounds = [*np.asarray(starts).tolist(), u.shape[-1]]
    for s, e in zip(bounds[:-1], bounds[1:]):
        c = float(coef[s])
        out[..., s:e] = lfilter([1.0], [1.0, -c], u[..., s:e], axis=-1, zi=(c * prev)[..., None])[0]
        prev = out[..., e - 1]
    return out


def garch_path(y: np.ndarray, params: np.ndarray, starts: np.ndarray, bc: float) -> tuple[np.ndarray, np.ndarray]:
    """Conditional volatility and standardised residuals of one series under per-row parameters.

    Parameters
    ----------
    y : ndarray (T,)
        Returns (decimals).
    params : ndarray (T, 5)
        :data:`TERMS` per row, constant on the segments beginning at ``starts``.
    bc : float
        The backcast (:func:`backcast`): ``sigma_{-1}^2`` and ``e_{-1}^2``.

    Returns
    -------
    (sigma, z) : ndarray (T,), ndarray (T,)
    """
    mu, omega, alpha, gamma, beta = params.T
    e = y - mu
    x = e * e
    u = omega.copy()
    u[0] += (alpha[0] + 0.5 * gamma[0]) * bc
    u[1:] += (alpha[1:] + gamma[1:] * (e[:-1] < 0)) * x[:-1]
    sigma = np.sqrt(linear_recursion(u, beta, starts, bc))
    return sigma, e / sigma


def correlation_path(z: np.ndarray, a: np.ndarray, b: np.ndarray, qbar: np.ndarray,
                     starts: np.ndarray) -> np.ndarray:
    """``rho_t`` of the bivariate DCC recursion with per-row ``a, b`` (T,) and ``Qbar`` elements (T, 3)."""
    products = np.stack([z[:, 0] * z[:, 0], z[:, 1] * z[:, 1], z[:, 0] * z[:, 1]])
    u = (1.0 - a - b) * qbar.T
    u[:, 1:] += a[1:] * products[:, :-1]
    u[:, 0] = qbar[0]
    q = linear_recursion(u, b, starts, np.zeros(3))
    return q[2] / np.sqrt(q[0] * q[1])


@dataclasses.dataclass(frozen=True, kw_only=True)
class Refit:
    """One refit of a bank's pair: rows ``[lo, hi)``, both series' :data:`TERMS`, ``(a, b)``, ``Qbar``."""

    lo: int
    hi: int
    garch: np.ndarray  # (2, 5): system, bank
    a: float
    b: float
    qbar: np.ndarray  # (3,)
    loglik: float
    status: str

    @property
    def ok(self) -> bool:
        return not FitStatus.parse(self.status).failed


def strip(fit: UnivariateGarchFit) -> UnivariateGarchFit:
    """The fit without its paths (what travels between work items)."""
    return dataclasses.replace(fit, sigma=np.empty(0), std_resid=np.empty(0))


def univariate_chain(y: np.ndarray, schedule: np.ndarray, config: DCCConfig, *, warm: bool | str = True) -> list:
    """The univariate fits of one series at every refit (light: no paths), each warm-started from
    the last converged one (``warm``); the last refit with standard errors. With ``warm=True``
    the Gaussian refits before the last use :func:`measures.dcc.refit.refit_garch` (arch when it
    does not converge), the others arch; ``warm="arch"`` warm-starts arch throughout. An exception
    fails that refit only (its status)."""
    fits: list[UnivariateGarchFit | FitStatus] = []
    start = None
    for k, (lo, hi) in enumerate(schedule):
        try:
            check_returns(pd.DataFrame({"series": y[lo:hi]}), min_obs=1, argument=f"refit sample rows {lo}..{hi - 1}")
            last = k == len(schedule) - 1
            fit = None
            if warm is True and start is not None and not last and config.dist == "normal":
                fit = refit_garch(y[lo:hi], start, vol=config.vol, mean=config.mean)
            if fit is None:
                fit = fit_univariate_garch(y[lo:hi], vol=config.vol, dist=config.dist, mean=config.mean,
                                           starting_values=start, std_errors=last)
        except Exception as exc:  # noqa: BLE001 - an optimizer error fails this refit, not the bank
            fits.append(status_from_exception(exc))
            continue
        fits.append(strip(fit))
        if warm and not FitStatus.parse(fit.status).failed:
            start = fit.params
    return fits


def _terms(fit: UnivariateGarchFit) -> np.ndarray:
    return np.array([fit.param(n) for n in TERMS])


def _status(fit: UnivariateGarchFit | FitStatus) -> FitStatus:
    return fit if isinstance(fit, FitStatus) else FitStatus.parse(fit.status)


def correlation_step(z: np.ndarray, qbar: np.ndarray, config: DCCConfig, *,
                     start: tuple[float, float] | None, std_errors: bool, fast: bool = True) -> SecondStep:
    """The ``(a, b)`` step of a refit: warm refits without standard errors by
    :func:`measures.dcc.refit.refit_correlation` (from ``start`` unless ``a < 0.001``; ``fast``), the
    others (and those that do not converge) by :func:`measures.dcc.estimate.estimate_correlation_step`."""
    step = None
    if fast and start is not None and start[0] >= MIN_WARM_A and not std_errors:
        step = refit_correlation(z, qbar, start, max_persistence=config.max_persistence)
    if step is None:
        step = estimate_correlation_step(z, qbar, likelihood="full", pairs="all",
                                         std_errors=config.std_errors if std_errors else None,
                                         max_persistence=config.max_persistence, start=start)
    return step


def refit_pair(y: np.ndarray, lo: int, hi: int, fits: tuple, config: DCCConfig, *,
               start: tuple[float, float] | None, std_errors: bool, fast: bool = True) -> tuple[Refit, np.ndarray]:
    """The correlation step of one refit on rows ``[lo, hi)`` given both univariate fits.

    Returns the :class:`Refit` and the standard errors of ``(a, b)`` (NaN unless ``std_errors``).
    """
    statuses = [_status(f) for f in fits]
    nan = np.full(2, np.nan)
    if any(s.failed for s in statuses):
        side, why = next((n, s) for n, s in zip(("system", "bank"), statuses) if s.failed)
        status = FitStatus("failed", "UnivariateFitFailed", f"{side} GARCH: {why}")
        return Refit(lo=lo, hi=hi, garch=np.full((2, 5), np.nan), a=np.nan, b=np.nan, qbar=np.full(3, np.nan),
                     loglik=np.nan, status=str(status)), nan
    garch = np.stack([_terms(f) for f in fits])
    rows = np.zeros(1, dtype=np.int64)
    z = np.column_stack([garch_path(y[lo:hi, s], np.broadcast_to(garch[s], (hi - lo, 5)), rows,
                                    backcast(y[lo:hi, s], config.mean))[1] for s in (0, 1)])
    qbar = second_moment(z)
    try:
        step = correlation_step(z, qbar, config, start=start, std_errors=std_errors, fast=fast)
    except Exception as exc:  # noqa: BLE001 - e.g. SLSQP raising on degenerate data
        step_status, a, b, se, loglik = status_from_exception(exc), np.nan, np.nan, nan, np.nan
    else:
        step_status, a, b, se = step.status, step.a, step.b, step.std_errors
        loglik = float(sum(f.loglik for f in fits) + step.loglik)
    status = FitStatus.parse(worst(*statuses, step_status))
    if status.failed:
        a = b = np.nan
    return Refit(lo=lo, hi=hi, garch=garch, a=a, b=b, qbar=qbar[[0, 1, 0], [0, 1, 1]], loglik=loglik,
                 status=str(status)), se


def realtime_path(y: np.ndarray, refits: list[Refit], mean: str = "constant"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``sigma`` (T, 2), ``z`` (T, 2), ``rho`` (T,) of the real-time filter (module docstring), and the
    refit index in force per row (-1 before the first converged refit, whose rows are NaN). The
    backcast is that of the first converged refit's sample (``mean``: the univariate mean model)."""
    nobs = y.shape[0]
    good = np.array([k for k, r in enumerate(refits) if r.ok], dtype=np.int64)
    if good.size == 0:
        return np.full((nobs, 2), np.nan), np.full((nobs, 2), np.nan), np.full(nobs, np.nan), np.full(nobs, -1)
    dated = np.array([refits[k].hi - 1 for k in good])
    pos = np.searchsorted(dated, np.arange(nobs), side="right") - 1
    which = good[np.maximum(pos, 0)]
    starts = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
    garch = np.stack([r.garch for r in refits])[which]  # (T, 2, 5)
    first = refits[good[0]]
    sigma, z = (np.column_stack(p) for p in zip(*(
        garch_path(y[:, s], garch[:, s], starts, backcast(y[first.lo:first.hi, s], mean)) for s in (0, 1))))
    a = np.array([r.a for r in refits])[which]
    b = np.array([r.b for r in refits])[which]
    rho = correlation_path(z, a, b, np.stack([r.qbar for r in refits])[which], starts)
    early = pos < 0
    sigma[early], z[early], rho[early] = np.nan, np.nan, np.nan
    return sigma, z, rho, np.where(early, -1, which)


def row_statuses(refits: list[Refit], in_force: np.ndarray, min_obs: int) -> np.ndarray:
    """Per-row status: that of the refit dated in the row's period, ``warning:RefitFailed`` when it
    failed and the previous parameters were kept, ``failed:InsufficientHistory`` before the first value."""
    dated = np.array([r.hi - 1 for r in refits], dtype=np.int64)
    latest = np.searchsorted(dated, np.arange(in_force.size), side="right") - 1
    out = np.full(in_force.size, f"failed:InsufficientHistory: no converged refit on min_obs={min_obs} or more "
                                 "observations up to this date", dtype=object)
    for k, r in enumerate(refits):
        out[(latest == k) & (in_force >= 0)] = r.status if r.ok else "warning:RefitFailed"
    return out


def bank_status(refits: list[Refit], min_obs: int, nobs: int) -> str:
    """The bank's status: failed without any converged refit, else the worst converged refit
    (``warning:RefitFailed`` when some failed)."""
    good = [r.status for r in refits if r.ok]
    if not good:
        why = next((r.status for r in refits), f"{nobs} observations < min_obs={min_obs}")
        return str(FitStatus("failed", "InsufficientHistory", f"no converged refit ({why})"))
    return str(worst(*good, *(["warning:RefitFailed"] if len(good) < len(refits) else [])))


def param_frame(bank: str, index: pd.Index, refits: list[Refit], *, full: bool = False) -> pd.DataFrame:
    """Parameter path rows of one bank: ``bank_id, refit_date, valid_from, sample_start, nobs``,
    ``sys_<term>``, ``bank_<term>`` (:data:`TERMS`), ``dcc_a, dcc_b``, :data:`QBAR_TERMS`, ``status``.

    ``valid_from`` is the first date whose values use the refit (its own date; the sample's first
    date for a ``full`` fit, whose parameters apply to every date)."""
    lo = np.array([r.lo for r in refits], dtype=np.int64)
    hi = np.array([r.hi for r in refits], dtype=np.int64)
    garch = np.stack([r.garch for r in refits]) if refits else np.empty((0, 2, 5))
    frame = pd.DataFrame({
        "bank_id": np.full(len(refits), bank, dtype=object), "refit_date": index[hi - 1],
        "valid_from": index[lo] if full else index[hi - 1], "sample_start": index[lo], "nobs": hi - lo,
        **{f"{side}_{t}": garch[:, s, j] for s, side in enumerate(("sys", "bank")) for j, t in enumerate(TERMS)},
        "dcc_a": np.array([r.a for r in refits], dtype=float), "dcc_b": np.array([r.b for r in refits], dtype=float),
        **{name: np.array([r.qbar[j] for r in refits], dtype=float) for j, name in enumerate(QBAR_TERMS)},
        "loglik": np.array([r.loglik for r in refits], dtype=float),
        "status": np.array([r.status for r in refits], dtype=object),
    })
    return frame


def full_param_frame(bank: str, res: DCCResult) -> pd.DataFrame:
    """The parameter path of a full-sample fit: one row (refit date = last date, valid from the first)."""
    if res.nobs == 0:
        return param_frame(bank, res.index, [])
    garch = np.stack([_terms(f) for f in res.univariate]) if len(res.univariate) == 2 else np.full((2, 5), np.nan)
    refit = Refit(lo=0, hi=res.nobs, garch=garch, a=res.a, b=res.b, qbar=res.qbar[[0, 1, 0], [0, 1, 1]],
                  loglik=res.loglik, status=res.status)
    return param_frame(bank, res.index, [refit], full=True)


def param_paths_frame(results: Mapping[str, DCCResult]) -> pd.DataFrame:
    """The parameter paths of all banks (:func:`param_frame` layout), real-time or full-sample."""
    parts = [res.refits if res.refits is not None else full_param_frame(bank, res) for bank, res in results.items()]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else param_frame("x", pd.DatetimeIndex([]), [])


def _window(config) -> int | None:
    return config.window if config.estimation == "rolling" else None


def _schedule(nobs: int, config) -> np.ndarray:
    return refit_schedule(nobs, min_obs=config.min_obs, refit_every=config.refit_every, window=_window(config))


def _system_chain(y: np.ndarray, config, warm: bool | str) -> list:
    return univariate_chain(y, _schedule(y.size, config), config, warm=warm)


def fit_pair_samples_realtime(
    samples: Mapping[str, tuple[Hashable, pd.DataFrame]],
    *,
    config,
    mapper: Mapper | None = None,
    warm: bool | str = True,
) -> dict[str, DCCResult]:
    """Real-time bivariate DCC fits (module docstring) of ``(system, bank)`` samples.

    Parameters
    ----------
    samples : mapping
        Bank -> ``(key, frame)`` as for :func:`measures.dcc.fit_pair_samples`: the system's refit
        chain is computed once per key and shared.
    config : CovarDCCParams
        ``estimation`` (``expanding`` or ``rolling``), ``refit_every``, ``window``, ``min_obs``.
    mapper : Mapper, optional
        Maps the system chains (one item per key), then the banks (one item per bank: its refits
        run in order, each warm-started from the previous one); results do not depend on it.
    warm : {True, False, "arch"}
        Warm starts (default, the refit optimisers of :mod:`measures.dcc.refit` where they apply);
        ``"arch"`` warm starts through arch and the grid-started step only; ``False`` starts every
        refit from the optimizers' defaults.

    Returns
    -------
    dict
        Bank -> :class:`DCCResult` whose paths are the real-time filter, ``row_status`` per row
        and ``refits`` the parameter path (:func:`param_frame`); ``univariate``, ``a``, ``b``
        and the standard errors are those of the last refit.
    """
    firsts: dict[Hashable, np.ndarray] = {}
    for key, sample in samples.values():
        firsts.setdefault(key, sample.iloc[:, 0].to_numpy(dtype=float))
    chains = dict(zip(firsts, map_items(mapper, partial(_system_chain, config=config, warm=warm),
                                        list(firsts.values()), desc="system GARCH refits")))
    jobs = [(sample, chains[key]) for key, sample in samples.values()]
    return dict(zip(samples, map_items(mapper, partial(_bank_chain, config=config, warm=warm), jobs,
                                       desc="bank DCC refits")))


def _bank_chain(job: tuple[pd.DataFrame, list], config, warm: bool | str) -> DCCResult:
    """One bank's refits in order, its real-time path and the result object."""
    sample, system_fits = job
    y = sample.to_numpy(dtype=float)
    schedule = _schedule(y.shape[0], config)
    bank_fits = univariate_chain(y[:, 1], schedule, config, warm=warm)
    refits, start, se = [], None, np.full(2, np.nan)
    for k, (lo, hi) in enumerate(schedule):
        refit, se = refit_pair(y, int(lo), int(hi), (system_fits[k], bank_fits[k]), config,
                               start=start if warm else None, std_errors=k == len(schedule) - 1,
                               fast=warm is True)
        refits.append(refit)
        if refit.ok:
            start = (refit.a, refit.b)
    sigma, z, rho, in_force = realtime_path(y, refits, config.mean)
    last = refits[-1] if refits else None
    fits = (system_fits[-1], bank_fits[-1]) if last is not None else ()
    correlation = np.ones((y.shape[0], 2, 2))
    correlation[:, 0, 1] = correlation[:, 1, 0] = rho
    return DCCResult(
        names=tuple(str(c) for c in sample.columns), index=sample.index,
        univariate=fits if all(isinstance(f, UnivariateGarchFit) for f in fits) else (),
        a=last.a if last else np.nan, b=last.b if last else np.nan, std_errors=se,
        std_error_method=config.std_errors, loglik_correlation=np.nan, loglik=last.loglik if last else np.nan,
        sigma=sigma, std_resid=z, qbar=np.full((2, 2), np.nan) if last is None else last.qbar[[[0, 2], [2, 1]]],
        correlation=correlation, likelihood="full", status=bank_status(refits, config.min_obs, y.shape[0]),
        refits=param_frame(str(sample.columns[1]), sample.index, refits),
        row_status=row_statuses(refits, in_force, config.min_obs),
    )


PARAM_COLUMNS = tuple(param_frame("x", pd.DatetimeIndex([]), []).columns)
