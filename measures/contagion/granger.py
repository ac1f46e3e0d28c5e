"""Granger-causality p-value matrices between banks (Liu–Ma 2021; docs/contagion.md, step 4).

Two modes:

* ``mode="system"``: one VAR(p) with constant on all N series; for every ordered pair
  ``i != j`` the Wald test of ``H0: A_l[j, i] = 0, l = 1..p`` (i does not Granger-cause j)
  in equation j, in statsmodels' F form (Lütkepohl 2005, eq. 3.6.5)

  .. math:: F_{ij} = \\frac{1}{p}\\, b_{ij}' \\left[\\hat\\sigma_{jj}\\,(Z'Z)^{-1}_{R_i R_i}\\right]^{-1} b_{ij}
            \\sim F(p,\\; N (T_p - Np - 1)),

  with ``b_ij`` the p lag coefficients of series i in equation j and ``R_i`` their rows in
  ``Z = [1, y_{t-1}, .., y_{t-p}]``. The denominator degrees of freedom ``N (T_p - Np - 1)``
  are statsmodels' ``VARResults.test_causality(kind="f")`` convention; p-values equal it
  to 1e-10 (tests/test_granger.py).
* ``mode="pairwise"``: a bivariate VAR for each pair (Billio, Getmansky, Lo & Pelizzon 2012,
  J. Financ. Econ. 104), the lag order chosen per pair; each direction is the exact
  single-equation F test ``((SSR_r - SSR_u)/p) / (SSR_u/(T_p - 2p - 1))`` — the classic Granger
  test of R ``lmtest::grangertest`` and statsmodels ``grangercausalitytests`` (``ssr_ftest``).

* ``mode="system", route="sparse"``: the LASSO VAR at lag order ``lags`` (else ``max_lags``; the
  penalty selects the lags) and its post-LASSO p-values (:mod:`~measures.contagion.sparse_var`),
  for systems too large for least squares (``N p + 1`` near or above the observations).

The lag order is chosen by AIC (default), BIC or HQIC over ``0 .. max_lags`` on a common
sample; an IC choice of 0 is raised to 1 (a Granger test needs at least one lag) and the
raw choice is reported. Banks are the columns; rows with missing values are handled lag-aware
(see :mod:`measures.contagion.var`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from measures.contagion.var import (
    IC_CHOICES,
    VarFit,
    check_var_size,
    fit_var,
    select_lag_order,
    series_to_array,
    usable_obs,
)
from measures.contagion.sparse_var import fit_sparse_var
from measures.core.adapters import statsmodels_adapter as sma
from measures.core.config import Config, check_choice, check_range
from measures.core.mapping import Mapper, map_items

MODES = ("system", "pairwise")
ESTIMATORS = ("ols", "sparse")
ENGINES = ("numpy", "statsmodels")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GrangerConfig(Config):
    """Options of :func:`granger_pvalues` (see there)."""

    max_lags: int = 5
    ic: str = "aic"
    mode: str = "system"
    lags: int | None = None
    engine: str = "numpy"
    route: str = "ols"
    ebic_gamma: float = 0.0

    def validate(self) -> None:
        check_range("max_lags", self.max_lags, low=1, integer=True)
        check_choice("route", self.route, ESTIMATORS)
        check_range("ebic_gamma", self.ebic_gamma, low=0.0, high=1.0)
        check_choice("ic", self.ic, IC_CHOICES)
        check_choice("mode", self.mode, MODES)
        if self.lags is not None:
            check_range("lags", self.lags, low=1, integer=True)
        check_choice("engine", self.engine, ENGINES)


def wald_matrix(fit: VarFit) -> np.ndarray:
    """Wald statistics ``W[i, j]`` of "i does not Granger-cause j" in a fitted VAR (diagonal NaN)."""
    n, p = fit.neqs, fit.lags
    wald = np.full((n, n), np.nan)
    inv_sigma = 1.0 / np.diag(fit.sigma_u)
    for i in range(n):
        rows = 1 + np.arange(p) * n + i
        middle = np.linalg.inv(fit.zz_inv[np.ix_(rows, rows)])
        b = fit.params[rows, :]
        wald[i, :] = np.einsum("lj,lm,mj->j", b, middle, b) * inv_sigma
    np.fill_diagonal(wald, np.nan)
    return wald


def _choose_lags(y: np.ndarray, cfg: GrangerConfig, what: str) -> tuple[int, dict[str, int] | None]:
    if cfg.lags is not None:
        return cfg.lags, None
    if cfg.engine == "statsmodels":
        select_lag_order(y, cfg.max_lags, what=what)  # the same refusals as the numpy engine
        chosen = sma.var_select_order(y, max_lags=cfg.max_lags)
        choice = {name: chosen[name] for name in IC_CHOICES}
    else:
        choice = select_lag_order(y, cfg.max_lags, what=what)
    return max(1, choice[cfg.ic]), choice


def _sparse_system(y: np.ndarray, cfg: GrangerConfig) -> tuple[np.ndarray, dict]:
    lags = cfg.lags if cfg.lags is not None else cfg.max_lags
    fit = fit_sparse_var(y, lags, ebic_gamma=cfg.ebic_gamma, what="sparse VAR")
    return fit.pvalues, {"lags": lags, "lag_choice": None, "nobs": fit.nobs, "df": None, "status": fit.status}


def _system(y: np.ndarray, cfg: GrangerConfig) -> tuple[np.ndarray, dict]:
    if cfg.route == "sparse":
        return _sparse_system(y, cfg)
    lags, choice = _choose_lags(y, cfg, "system VAR")
    if cfg.engine == "statsmodels":
        check_var_size(y.shape[1], lags, usable_obs(y, lags), what="system VAR")
        out = sma.var_granger_pvalues(y, lags=lags)
        return out["pvalues"], {"lags": lags, "lag_choice": choice, "nobs": out["nobs"], "df": out["df"],
                                "status": out["status"]}
    fit = fit_var(y, lags, what="system VAR")
    df = (lags, fit.neqs * fit.df_resid)
    pvalues = stats.f.sf(wald_matrix(fit) / lags, *df)
    return pvalues, {"lags": lags, "lag_choice": choice, "nobs": fit.nobs, "df": df, "status": fit.status}


def _pair(y2: np.ndarray, cfg: GrangerConfig) -> tuple[float, float, int, dict | None, int, str]:
    """p-values (first causes second, second causes first), lags, IC choice, nobs, status of one pair."""
    lags, choice = _choose_lags(y2, cfg, "bivariate VAR")
    if cfg.engine == "statsmodels":
        ab = sma.granger_ssr_ftest(y2[:, 1], y2[:, 0], lags=lags)
        ba = sma.granger_ssr_ftest(y2[:, 0], y2[:, 1], lags=lags)
        status = next((st for st in (ab["status"], ba["status"]) if st != "ok"), "ok")
        return ab["pvalue"], ba["pvalue"], lags, choice, ab["df_denom"] + 2 * lags + 1, status
    fit = fit_var(y2, lags, what="bivariate VAR")
    p = stats.f.sf(wald_matrix(fit) / lags, lags, fit.df_resid)
    return float(p[0, 1]), float(p[1, 0]), lags, choice, fit.nobs, fit.status


#: Pairs per mapped chunk of the pairwise mode (each chunk carries the window's rows).
PAIR_CHUNK = 2048


def _pair_chunk(item: tuple, *, cfg: GrangerConfig, banks: tuple) -> list[tuple]:
    """The bivariate VARs of a chunk ``(y, pairs)`` (module level: picklable): one
    ``(i, j, p_ij, p_ji, lags, choice, nobs, status)`` per pair."""
    y, pairs = item
    out = []
    for i, j in pairs:
        try:
            out.append((i, j, *_pair(y[:, [i, j]], cfg)))
        except ValueError as exc:
            raise ValueError(f"pair ({banks[i]!r}, {banks[j]!r}): {exc}") from None
    return out


def _pairwise(y: np.ndarray, cfg: GrangerConfig, banks: pd.Index, mapper: Mapper | None = None) -> tuple[np.ndarray, dict]:
    n = y.shape[1]
    pvalues = np.full((n, n), np.nan)
    lags = np.zeros((n, n), dtype=int)
    nobs = np.zeros((n, n), dtype=int)
    choices = {name: np.zeros((n, n), dtype=int) for name in IC_CHOICES}
    status = "ok"
    pairs = list(combinations(range(n), 2))
    chunks = [(y, pairs[k : k + PAIR_CHUNK]) for k in range(0, len(pairs), PAIR_CHUNK)]
    fn = functools.partial(_pair_chunk, cfg=cfg, banks=tuple(banks))
    for i, j, pij, pji, p, choice, t, st in itertools.chain.from_iterable(map_items(mapper, fn, chunks, desc="Granger pairs")):
        pvalues[i, j], pvalues[j, i] = pij, pji
        lags[i, j] = lags[j, i] = p
        nobs[i, j] = nobs[j, i] = t
        status = st if status == "ok" else status
        for name in IC_CHOICES:
            choices[name][i, j] = choices[name][j, i] = choice[name] if choice else 0

    def nested(a: np.ndarray) -> tuple:
        return tuple(map(tuple, a.tolist()))  # plain, comparable values: pandas compares attrs

    lag_choice = None if cfg.lags is not None else {k: nested(v) for k, v in choices.items()}
    return pvalues, {"lags": nested(lags), "lag_choice": lag_choice, "nobs": nested(nobs), "df": None,
                     "status": status}


def granger_pvalues(
    series: pd.DataFrame,
    *,
    max_lags: int = 5,
    ic: str = "aic",
    mode: str = "system",
    lags: int | None = None,
    engine: str = "numpy",
    route: str = "ols",
    ebic_gamma: float = 0.0,
    mapper: Mapper | None = None,
) -> pd.DataFrame:
    """Granger-causality p-values for every ordered pair of banks.

    Parameters
    ----------
    series : DataFrame
        Dates x banks (one column per bank, e.g. standardized ΔCoVaR). NaN allowed (lag-aware).
    max_lags : int
        Largest lag order tried by the information criterion.
    ic : {"aic", "bic", "hqic"}
        Criterion that picks the lag order (all three choices are reported).
    mode : {"system", "pairwise"}
        One N-variable VAR, or one bivariate VAR per pair (see the module docstring).
    lags : int, optional
        Fixed lag order (no IC selection); ``max_lags`` is then ignored.
    engine : {"numpy", "statsmodels"}
        The project's vectorized least squares (default) or statsmodels' ``VAR.test_causality``
        / ``grangercausalitytests`` through the adapter (slow; no missing values); OLS only.
    route : {"ols", "sparse"}
        System mode: least squares, or the LASSO VAR at lag order ``lags`` (else ``max_lags``)
        with post-LASSO p-values (:mod:`~measures.contagion.sparse_var`; ``p = 1`` for an edge the
        LASSO did not select). Ignored in pairwise mode.
    ebic_gamma : float
        γ of the extended BIC choosing the LASSO penalty (0 = BIC); sparse route only.
    mapper : Mapper, optional
        Pairwise mode: maps chunks of :data:`PAIR_CHUNK` pairs (:mod:`measures.core.mapping`);
        results do not depend on it.

    Returns
    -------
    DataFrame
        ``P[i, j]`` = p-value of "bank i Granger-causes bank j" (rows = causing / ``source``,
        columns = caused / ``target``), NaN diagonal. ``attrs`` holds the estimation facts as
        plain Python values: ``mode``, ``ic``, ``engine``; ``lags`` (the lag order used: an int in
        system mode; in pairwise mode a banks x banks nested tuple of ints in the frame's order,
        ``np.asarray(p.attrs["lags"])``); ``lag_choice`` (``{"aic", "bic", "hqic"}`` raw IC
        choices, ints or nested tuples; None when ``lags`` was fixed); ``nobs`` (usable
        observations, int or nested tuple); ``df`` (F degrees of freedom, system mode; None in
        pairwise mode) and ``status`` (``ok`` or ``warning:IllConditionedDesign`` for collinear
        series). Nested tuples rather than frames because pandas compares ``attrs`` with ``==``
        in some operations (``melt``, ...), which frames or arrays would break.

    Raises
    ------
    ValueError
        Bad options or input; a system VAR with ``N p + 1`` parameters per equation not fewer
        than its observations (the message names N, the lag order, the observations and
        suggests ``mode="pairwise"``).
    """
    cfg = GrangerConfig(max_lags=max_lags, ic=ic, mode=mode, lags=lags, engine=engine, route=route,
                        ebic_gamma=ebic_gamma)
    y = series_to_array(series)
    banks = series.columns
    if cfg.mode == "system":
        pvalues, facts = _system(y, cfg)
    else:
        pvalues, facts = _pairwise(y, cfg, banks, mapper)
    np.fill_diagonal(pvalues, np.nan)
    out = pd.DataFrame(pvalues, index=pd.Index(banks, name="source"), columns=pd.Index(banks, name="target"))
    used = "pairwise" if cfg.mode == "pairwise" else cfg.route
    out.attrs.update({"mode": cfg.mode, "ic": cfg.ic, "engine": cfg.engine, "route": used, **facts})
    return out
