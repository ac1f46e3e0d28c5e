"""linearmodels adapter: the only code that touches linearmodels result objects.

Every call builds a new ``PanelOLS`` / ``RandomEffects`` model on arrays, passes every
option by keyword, records library warnings as a ``status`` and returns a
:class:`PanelFit` of plain numpy arrays.

Covariance options and their small-sample corrections (linearmodels 7.1; checked
against R plm 2.6 in ``tests/test_panel_reference.py``). ``n`` observations, ``k``
slope coefficients, ``G`` banks, ``d`` estimated effects:

==================  ============================================  ================================
``covariance``      linearmodels call                             R plm equivalent
==================  ============================================  ================================
``clustered``       ``cov_type="clustered", cluster_entity=True,  ``vcovHC(method="arellano",
(small_sample)      debiased=True, group_debias=True``:           cluster="group", type="sss")``
                    HC0 x G/(G-1) x (n-1)/(n-k)                   (Stata ``xtreg, fe vce(cluster)``)
``clustered``       ``debiased=False, group_debias=False``:       ``type="HC0"``
(no small_sample)   no correction
``robust``          ``cov_type="robust"``: White HC0 x            ``vcovHC(method="white1",
                    n/(n-d-k) (n/(n-d) without small_sample)      type="HC0")`` x the same factor
``driscoll-kraay``  ``cov_type="kernel"`` (Driscoll & Kraay       ``vcovSCC(type="HC0",
                    1998), bandwidth = max lag: HC0 x n/(n-d-k)   maxlag=bandwidth)`` x the same
                    (n/(n-d) without small_sample)                factor
``unadjusted``      ``cov_type="unadjusted"``: s^2 (X'X)^-1,      ``vcov(plm(...))``
                    s^2 = e'e/(n-d-k)
==================  ============================================  ================================

With entity effects and bank clusters the effects are nested in the clusters and are
not counted (``auto_df=True``), exactly as Stata and plm do. With year effects as well
linearmodels counts all d = G + T - 1 effects in the clustered covariance too: HC0 x
n/(n-d) without small_sample (tested against plm's two-way ``HC0``), and
HC0 x n/(n-d-k) x G/(G-1) x (n-1)/n with it (plm has no such type).

The random-effects variance components are Swamy & Arora (1972) with the Baltagi &
Chang (1994) unbalanced-panel form (``small_sample=True``), which is plm's
``random.method="swar"``; on a balanced panel the two forms coincide.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from linearmodels import PanelOLS, RandomEffects

from measures.core.status import status_from_warnings

COVARIANCES = ("clustered", "robust", "driscoll-kraay", "unadjusted")
KERNELS = ("bartlett", "parzen", "qs")


@dataclass(frozen=True)
class PanelFit:
    """Plain-array view of one linearmodels panel fit.

    ``params``, ``std_errors``, ``t_stats``, ``p_values`` follow ``names``; ``cov`` is
    the k x k covariance. ``sigma2_effect`` / ``sigma2_idiosyncratic`` are the
    random-effects variance components (NaN for PanelOLS). ``status`` is ``ok`` or
    ``warning:<Class>`` (a library warning was raised during the fit).
    """

    names: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    std_errors: np.ndarray
    t_stats: np.ndarray
    p_values: np.ndarray
    nobs: int
    entities: int
    df_resid: int
    r2_within: float
    s2: float
    sigma2_effect: float
    sigma2_idiosyncratic: float
    status: str

    def tidy(self) -> pd.DataFrame:
        """The adapters' tidy frame: ``term, estimate, std_error, t_stat, p_value, nobs, status``."""
        return pd.DataFrame(
            {"term": list(self.names), "estimate": self.params, "std_error": self.std_errors, "t_stat": self.t_stats,
             "p_value": self.p_values, "nobs": self.nobs, "status": self.status}
        )


def _frames(y: np.ndarray, x: np.ndarray, entity: np.ndarray, time: np.ndarray, names: tuple[str, ...]):
    index = pd.MultiIndex.from_arrays([np.asarray(entity), np.asarray(time)], names=["entity", "time"])
    dependent = pd.Series(np.asarray(y, dtype=float), index=index, name="dependent")
    exog = pd.DataFrame(np.asarray(x, dtype=float), index=index, columns=list(names))
    return dependent, exog


def _cov_options(covariance: str, *, small_sample: bool, kernel: str, bandwidth: float | None) -> dict:
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance={covariance!r} is not allowed; allowed values: {', '.join(map(repr, COVARIANCES))}")
    if covariance == "clustered":
        return {"cov_type": "clustered", "cluster_entity": True, "debiased": small_sample, "group_debias": small_sample}
    if covariance == "robust":
        return {"cov_type": "robust", "debiased": small_sample}
    if covariance == "driscoll-kraay":
        if kernel not in KERNELS:
            raise ValueError(f"kernel={kernel!r} is not allowed; allowed values: {', '.join(map(repr, KERNELS))}")
        options = {"cov_type": "kernel", "kernel": kernel, "debiased": small_sample}
        if bandwidth is not None:
            options["bandwidth"] = float(bandwidth)
        return options
    return {"cov_type": "unadjusted", "debiased": small_sample}


def _to_fit(res, names: tuple[str, ...], caught, *, sigma2_effect: float, sigma2_idio: float) -> PanelFit:
    cols = list(names)
    return PanelFit(
        names=names,
        params=res.params[cols].to_numpy(dtype=float),
        cov=res.cov.loc[cols, cols].to_numpy(dtype=float),
        std_errors=res.std_errors[cols].to_numpy(dtype=float),
        t_stats=res.tstats[cols].to_numpy(dtype=float),
        p_values=res.pvalues[cols].to_numpy(dtype=float),
        nobs=int(res.nobs),
        entities=int(res.entity_info["total"]),
        df_resid=int(res.df_resid),
        r2_within=float(res.rsquared_within),
        s2=float(res.s2),
        sigma2_effect=sigma2_effect,
        sigma2_idiosyncratic=sigma2_idio,
        status=str(status_from_warnings(caught)),
    )


def fit_panel_ols(
    y: np.ndarray,
    x: np.ndarray,
    entity: np.ndarray,
    time: np.ndarray,
    *,
    names: tuple[str, ...],
    entity_effects: bool = True,
    time_effects: bool = False,
    covariance: str = "clustered",
    small_sample: bool = True,
    kernel: str = "bartlett",
    bandwidth: float | None = None,
) -> PanelFit:
    """Fixed-effects (within) regression ``y_it = mu_i [+ lambda_t] + x_it' b + e_it`` by PanelOLS.

    ``x`` holds the regressors named ``names`` (no constant unless ``entity_effects``
    and ``time_effects`` are both False, in which case the caller adds one).
    Covariance options: see the module docstring.
    """
    names = tuple(names)
    dependent, exog = _frames(y, x, entity, time, names)
    options = _cov_options(covariance, small_sample=small_sample, kernel=kernel, bandwidth=bandwidth)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PanelOLS(dependent, exog, entity_effects=entity_effects, time_effects=time_effects)
        res = model.fit(**options)
    return _to_fit(res, names, caught, sigma2_effect=float("nan"), sigma2_idio=float("nan"))


def fit_random_effects(
    y: np.ndarray,
    x: np.ndarray,
    entity: np.ndarray,
    time: np.ndarray,
    *,
    names: tuple[str, ...],
    covariance: str = "unadjusted",
    small_sample: bool = True,
    kernel: str = "bartlett",
    bandwidth: float | None = None,
) -> PanelFit:
    """One-way random-effects GLS by RandomEffects.

    ``y_it = x_it' b + u_i + e_it``; ``x`` must contain the constant among ``names``.
    The variance components are always Swamy–Arora in the Baltagi–Chang (1994)
    unbalanced form (linearmodels ``small_sample=True`` = plm ``random.method="swar"``);
    ``small_sample`` here only sets the covariance degrees-of-freedom correction.
    """
    names = tuple(names)
    dependent, exog = _frames(y, x, entity, time, names)
    options = _cov_options(covariance, small_sample=small_sample, kernel=kernel, bandwidth=bandwidth)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = RandomEffects(dependent, exog)
        res = model.fit(small_sample=True, **options)
    components = res.variance_decomposition
    return _to_fit(
        res,
        names,
        caught,
        sigma2_effect=float(components["Effects"]),
        sigma2_idio=float(components["Residual"]),
    )
