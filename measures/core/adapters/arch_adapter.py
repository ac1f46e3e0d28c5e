"""The only module that touches ``arch``: univariate GARCH(1,1) / GJR-GARCH(1,1,1) fits.

``arch`` optimises best on returns in percent, so the adapter multiplies the decimal
returns by ``SCALE = 100`` before the fit and converts everything back: the mean and its
standard error are divided by 100, ``omega`` and its standard error by 100², the
conditional volatility by 100. ``alpha``, ``gamma``, ``beta`` and ``nu`` are scale free.
Callers never see percent.

Model (Glosten, Jagannathan & Runkle 1993; Bollerslev 1986 when ``gamma = 0``)::

    r_t = mu + e_t,   e_t = sigma_t z_t,
    sigma_t^2 = omega + alpha e_{t-1}^2 + gamma e_{t-1}^2 1[e_{t-1} < 0] + beta sigma_{t-1}^2,

``z_t`` standard normal or standardised Student-t; ``mu = 0`` for the zero-mean model.
Standard errors are arch's robust (Bollerslev–Wooldridge) QML ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.config import check_choice
from measures.core.status import FitStatus, status_from_exception, status_from_warnings

SCALE = 100.0
VOLATILITY_MODELS = ("garch", "gjr")
DISTRIBUTIONS = ("normal", "t")
MEAN_MODELS = ("constant", "zero")

# how each parameter is rescaled from percent units back to decimals
_UNSCALE = {"mu": SCALE, "omega": SCALE**2}


@dataclass(frozen=True, kw_only=True)
class UnivariateGarchFit:
    """Result of one univariate fit, in decimal units.

    Attributes
    ----------
    param_names : tuple of str
        ``mu`` (constant mean only), ``omega``, ``alpha``, ``gamma`` (GJR only), ``beta``,
        ``nu`` (Student-t only).
    params, std_errors : ndarray
        Estimates and robust standard errors, aligned with ``param_names``.
    loglik : float
        Log-likelihood of the decimal returns: arch's percent log-likelihood plus
        ``T log(100)`` (the Jacobian of ``y_pct = 100 y``).
    sigma : ndarray, shape (T,)
        Conditional volatility ``sigma_t`` in decimals.
    std_resid : ndarray, shape (T,)
        Standardised residuals ``(r_t - mu) / sigma_t``.
    status : str
        ``ok``, ``warning:<Class>`` or ``failed:<Class>: message``.
    vol, dist, mean : str
        The specification.
    """

    param_names: tuple[str, ...]
    params: np.ndarray
    std_errors: np.ndarray
    loglik: float
    sigma: np.ndarray
    std_resid: np.ndarray
    status: str
    vol: str
    dist: str
    mean: str

    def param(self, name: str) -> float:
        """One estimate by name (``0.0`` for ``mu`` in a zero-mean model, ``gamma`` in GARCH)."""
        if name in self.param_names:
            return float(self.params[self.param_names.index(name)])
        if name in ("mu", "gamma"):
            return 0.0
        raise ValueError(f"name={name!r} is not a parameter of this fit; allowed: {', '.join(self.param_names)}")

    @property
    def nobs(self) -> int:
        return int(self.sigma.shape[0])


def arch_model(*args, **kwargs):
    """``arch.arch_model``, imported on first use (reading fitted paths needs no ``arch``)."""
    from arch import arch_model as build

    return build(*args, **kwargs)


def _clean_name(name: str) -> str:
    return name.split("[")[0]


def fit_univariate_garch(
    returns: np.ndarray,
    *,
    vol: str = "gjr",
    dist: str = "normal",
    mean: str = "constant",
    starting_values: np.ndarray | None = None,
    std_errors: bool = True,
) -> UnivariateGarchFit:
    """Fit GARCH(1,1) or GJR-GARCH(1,1,1) by (Q)ML with ``arch``.

    Parameters
    ----------
    returns : array_like, shape (T,)
        Daily log returns in decimals, finite.
    vol : {"gjr", "garch"}
        GJR-GARCH(1,1,1) (V-Lab's choice) or GARCH(1,1).
    dist : {"normal", "t"}
        Innovation distribution.
    mean : {"constant", "zero"}
        Constant mean ``mu`` or ``mu = 0``.
    starting_values : ndarray, optional
        A warm start: the ``params`` of an earlier fit of the same specification (decimal
        units), nudged strictly inside the constraints; default: arch's starting values.
    std_errors : bool
        ``False`` skips arch's numerical-Hessian standard errors (NaN), e.g. for refits
        whose parameters alone are needed.

    Returns
    -------
    UnivariateGarchFit
        A fit whose optimiser does not converge is restarted once from the point it reached;
        if it still does not converge, it gets ``status = "failed:ConvergenceError: ..."``;
        a warning raised by arch gives ``warning:<Class>``; the arrays are still filled so
        the caller can inspect them, but must not use a ``failed`` fit.
    """
    check_choice("vol", vol, VOLATILITY_MODELS)
    check_choice("dist", dist, DISTRIBUTIONS)
    check_choice("mean", mean, MEAN_MODELS)
    y = np.asarray(returns, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        bad = int(np.flatnonzero(~np.isfinite(y))[0])
        raise ValueError(f"returns must be finite; first non-finite value {y[bad]!r} at position {bad}")
    model = arch_model(
        y * SCALE,
        mean="Constant" if mean == "constant" else "Zero",
        vol="GARCH",
        p=1,
        o=1 if vol == "gjr" else 0,
        q=1,
        dist=dist,
        rescale=False,
    )
    start = None
    if starting_values is not None:
        names = model._all_parameter_names()
        scale = np.array([_UNSCALE.get(_clean_name(n), 1.0) for n in names])
        start = _restart(pd.Series(np.asarray(starting_values, dtype=float) * scale, index=names))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = model.fit(disp="off", show_warning=False, cov_type="robust", starting_values=start)
            if res.convergence_flag != 0:
                # one deterministic restart from the point reached (SLSQP often stops with
                # "positive directional derivative" on a flat likelihood, e.g. i.i.d. returns)
                res = model.fit(disp="off", show_warning=False, cov_type="robust", starting_values=_restart(res.params))
        except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:  # pragma: no cover - arch internals
            return _failed_fit(y, vol, dist, mean, exc)
        std_err = np.asarray(res.std_err, dtype=float) if std_errors else np.full(res.params.size, np.nan)
    names = tuple(_clean_name(n) for n in res.params.index)
    divisor = np.array([_UNSCALE.get(n, 1.0) for n in names])
    params = np.asarray(res.params, dtype=float) / divisor
    std_errors = std_err / divisor
    status = status_from_warnings(caught)
    if res.convergence_flag != 0:
        message = getattr(res.optimization_result, "message", "optimizer did not converge")
        status = FitStatus("failed", "ConvergenceError", str(message))
    return UnivariateGarchFit(
        param_names=names,
        params=params,
        std_errors=std_errors,
        loglik=float(res.loglikelihood) + y.size * np.log(SCALE),
        sigma=np.asarray(res.conditional_volatility, dtype=float) / SCALE,
        std_resid=np.asarray(res.std_resid, dtype=float),
        status=str(status),
        vol=vol,
        dist=dist,
        mean=mean,
    )


def _restart(params) -> np.ndarray:
    """Starting values for the restart: the point reached, nudged strictly inside the constraints."""
    start = params.copy()
    for name in start.index:
        if name.startswith(("alpha", "beta")):
            start[name] = max(start[name], 1e-6)
    gamma = 0.0
    if "gamma[1]" in start.index:
        start["gamma[1]"] = max(start["gamma[1]"], -start["alpha[1]"] + 1e-6)
        gamma = start["gamma[1]"]
    persistence = start["alpha[1]"] + 0.5 * gamma + start["beta[1]"]
    if persistence > 0.998:
        start["beta[1]"] -= persistence - 0.998
    return start.to_numpy()


def _failed_fit(y: np.ndarray, vol: str, dist: str, mean: str, exc: BaseException) -> UnivariateGarchFit:
    nan = np.full(y.size, np.nan)
    return UnivariateGarchFit(
        param_names=(),
        params=np.empty(0),
        std_errors=np.empty(0),
        loglik=float("nan"),
        sigma=nan,
        std_resid=nan.copy(),
        status=str(status_from_exception(exc)),
        vol=vol,
        dist=dist,
        mean=mean,
    )
