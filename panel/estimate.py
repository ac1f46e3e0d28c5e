"""Fixed effects, random effects, Hausman choice: Liu–Ma 2021's panel regressions (docs/panel.md).

For each :class:`~panel.spec.ModelSpec`:

1. FE: ``y_it = mu_i [+ lambda_t] + x_it' b + e_it`` by the within estimator (PanelOLS),
   with the spec's covariance (bank-clustered by default).
2. RE: ``y_it = a + x_it' b [+ year dummies] + u_i + e_it`` by GLS with Swamy–Arora
   variance components (Baltagi–Chang form on unbalanced panels = R plm ``swar``).
3. Hausman on the common slopes with the conventional covariances of both fits
   (the classical test: RE must be efficient under H0, so no robust covariance).
   ``PanelConfig.hausman_variance``: ``fe`` (default) / ``re`` base both covariances on the
   FE / RE residual variance (Stata ``sigmaless`` / ``sigmamore``), which makes
   V_FE - V_RE = s^2 [(X~'X~)^-1 - (X*'X*)^-1] positive semi-definite by construction
   (the GLS-transformed X* adds a between part to the within X~); ``own`` gives each
   covariance its own residual variance, as R ``plm::phtest`` and Stata's plain ``hausman``.
4. Choice (``PanelConfig.choose``): ``fe`` always reports FE (Liu–Ma 2021 do); ``hausman``
   reports FE if H0 is rejected at ``alpha``, else RE. When V_FE - V_RE is not positive
   definite the test is not valid and FE (consistent under both hypotheses) is reported.

The reported coefficients, standard errors and within R² are those of the chosen
estimator; the Hausman statistic is always reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.adapters.linearmodels_adapter import PanelFit, fit_panel_ols, fit_random_effects
from measures.core.config import Config, check_choice, check_range
from measures.core.status import is_failed, status_from_exception
from panel.data import ENTITY, EXCLUSION_COLUMNS, ModelData, model_data
from panel.hausman import HausmanTest, hausman_test
from panel.spec import ModelSpec

COEFFICIENT_COLUMNS = ("model", "term", "estimate", "std_error", "t_stat", "p_value")
FIT_COLUMNS = ("model", "nobs", "banks", "r2_within", "hausman", "hausman_p", "chosen",
               "hausman_df", "hausman_status", "excluded", "status")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PanelConfig(Config):
    """How the reported estimator is chosen.

    choose : {"hausman", "fe"}
        ``hausman``: FE if the Hausman test rejects at ``alpha``, else RE; ``fe``: always FE.
    alpha : float in (0, 1)
        Level of the Hausman test (default 5%).
    hausman_variance : {"fe", "re", "own"}
        Residual variance behind V_FE and V_RE: both the FE one (``fe``, default, Stata
        ``sigmaless``), both the RE one (``re``, Stata ``sigmamore``), or each its own (``own``,
        = plm ``phtest``); the common choices rarely give a non-positive-definite difference
        (docs/panel.md).
    missing_columns : {"skip", "raise"}
        A model whose columns are absent from the data is skipped (default) and listed in
        ``PanelResults.skipped`` with the reason (e.g. a data set without LCR), or raises.
    """

    choose: str = "hausman"
    alpha: float = 0.05
    hausman_variance: str = "fe"
    missing_columns: str = "skip"

    def validate(self) -> None:
        check_choice("choose", self.choose, ("hausman", "fe"))
        check_choice("hausman_variance", self.hausman_variance, ("own", "fe", "re"))
        check_choice("missing_columns", self.missing_columns, ("raise", "skip"))
        check_range("alpha", self.alpha, low=0.0, high=1.0, low_open=True, high_open=True)


@dataclass(frozen=True)
class ModelResult:
    """Everything estimated for one spec; ``chosen`` in {"fe", "re", "pooled"}.

    ``fe`` carries the spec's covariance, and so does ``re`` (fitted only when RE is
    chosen, else None); ``fe_conventional`` / ``re_conventional`` are the fits with the
    conventional covariances that the Hausman test uses.
    """

    spec: ModelSpec
    data: ModelData
    fe: PanelFit
    re: PanelFit | None
    hausman: HausmanTest | None
    hausman_status: str
    chosen: str
    bank_effects: pd.Series | None
    fe_conventional: PanelFit | None = None
    re_conventional: PanelFit | None = None

    @property
    def reported(self) -> PanelFit:
        """The fit of the chosen estimator."""
        return self.re if self.chosen == "re" else self.fe

    @property
    def status(self) -> str:
        """First non-ok status among the fits, then the Hausman test's (a failed test is a warning)."""
        fits = (self.fe, self.re, self.re_conventional)
        for status in [f.status for f in fits if f is not None]:
            if status != "ok":
                return status
        if is_failed(self.hausman_status):
            return "warning:HausmanFailed"  # the FE estimates stand; hausman_status has the reason
        return self.hausman_status

    def coefficients(self) -> pd.DataFrame:
        """Tidy ``model, term, estimate, std_error, t_stat, p_value`` of the reported fit."""
        fit = self.reported
        keep = [i for i, n in enumerate(fit.names) if not n.startswith("year=")]
        return pd.DataFrame(
            {
                "model": self.spec.name,
                "term": [fit.names[i] for i in keep],
                "estimate": fit.params[keep],
                "std_error": fit.std_errors[keep],
                "t_stat": fit.t_stats[keep],
                "p_value": fit.p_values[keep],
            },
            columns=list(COEFFICIENT_COLUMNS),
        )

    def fit_stats(self) -> dict:
        """One row of ``fit_stats``."""
        fit = self.reported
        h = self.hausman
        return {
            "model": self.spec.name,
            "nobs": fit.nobs,
            "banks": fit.entities,
            "r2_within": fit.r2_within,
            "hausman": h.statistic if h else np.nan,
            "hausman_p": h.p_value if h else np.nan,
            "chosen": self.chosen,
            "hausman_df": h.df if h else 0,
            "hausman_status": self.hausman_status if self.spec.entity_effects else "not applicable",
            "excluded": len(self.data.exclusions),
            "status": self.status,
        }


def _covariance_options(spec: ModelSpec) -> dict:
    return {"covariance": spec.covariance, "small_sample": spec.small_sample, "kernel": spec.kernel,
            "bandwidth": spec.bandwidth}


def _random_effects(md: ModelData, **covariance) -> PanelFit:
    """RE fit of the model (constant, terms and, with year effects, year dummies)."""
    columns = [np.ones(len(md.y)), md.x]
    names = ("const",) + md.names
    if md.spec.time_effects:
        years = np.sort(pd.unique(md.time))[1:]
        columns.append((md.time[:, None] == years[None, :]).astype(float))
        names += tuple(f"year={y}" for y in years)
    return fit_random_effects(md.y, np.column_stack(columns), md.entity, md.time, names=names, **covariance)


def _bank_effects(md: ModelData, fit: PanelFit) -> pd.Series | None:
    """``mu_i = mean_t(y_it - x_it' b)`` of a one-way FE fit (None with year effects)."""
    if md.spec.time_effects:
        return None
    resid = md.y - md.x @ fit.params
    return pd.Series(resid).groupby(md.entity).mean().rename_axis(ENTITY).rename("bank_effect")


def estimate_model(data: pd.DataFrame, spec: ModelSpec, config: PanelConfig | None = None) -> ModelResult:
    """Estimate one model of Liu–Ma 2021 eq. 7 on a (bank_id, year) panel.

    Raises ``ValueError`` naming the model and the variable for a missing column, a
    duplicate (bank, year), fewer than two years, an absorbed or collinear regressor.
    """
    config = config or PanelConfig()
    if not isinstance(spec, ModelSpec):
        raise ValueError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    md = model_data(data, spec)
    try:
        return _estimate(md, config)
    except ValueError as exc:
        if str(exc).startswith(f"model {spec.name!r}"):
            raise
        raise ValueError(f"model {spec.name!r}: {exc}") from exc


def _estimate(md: ModelData, config: PanelConfig) -> ModelResult:
    spec = md.spec
    covariance = _covariance_options(spec)
    if not spec.entity_effects:
        x = np.column_stack([np.ones(len(md.y)), md.x])
        fe = fit_panel_ols(md.y, x, md.entity, md.time, names=("const",) + md.names,
                           entity_effects=False, time_effects=spec.time_effects, **covariance)
        return ModelResult(spec, md, fe, None, None, "ok", "pooled", None)
    fe = fit_panel_ols(md.y, md.x, md.entity, md.time, names=md.names,
                       entity_effects=True, time_effects=spec.time_effects, **covariance)
    fe_plain = fit_panel_ols(md.y, md.x, md.entity, md.time, names=md.names,
                             entity_effects=True, time_effects=spec.time_effects, covariance="unadjusted")
    re: PanelFit | None = None
    re_plain: PanelFit | None = None
    hausman: HausmanTest | None = None
    try:
        re_plain = _random_effects(md, covariance="unadjusted", small_sample=True)
        k = len(md.names)
        cov_fe, cov_re = fe_plain.cov, re_plain.cov[1 : k + 1, 1 : k + 1]
        if config.hausman_variance == "fe":
            cov_re = cov_re * (fe_plain.s2 / re_plain.s2)
        elif config.hausman_variance == "re":
            cov_fe = cov_fe * (re_plain.s2 / fe_plain.s2)
        hausman = hausman_test(fe_plain.params, cov_fe, re_plain.params[1 : k + 1], cov_re)
        hausman_status = hausman.status
    except ValueError as exc:  # e.g. too few banks for the between regression
        hausman_status = str(status_from_exception(exc))
    chosen = "fe"
    if config.choose == "hausman" and hausman is not None and hausman.positive_definite and not hausman.rejects(config.alpha):
        chosen = "re"
        re = _random_effects(md, **covariance)
    return ModelResult(spec, md, fe, re, hausman, hausman_status, chosen, _bank_effects(md, fe), fe_plain, re_plain)


@dataclass(frozen=True)
class PanelResults:
    """Results of a model list: per-model results and the tidy frames of docs/panel.md (Outputs)."""

    results: tuple[ModelResult, ...]
    coefficients: pd.DataFrame
    fit_stats: pd.DataFrame
    exclusions: pd.DataFrame
    skipped: pd.DataFrame


def estimate_models(
    data: pd.DataFrame, specs: Sequence[ModelSpec], config: PanelConfig | None = None
) -> PanelResults:
    """Estimate every spec (e.g. :func:`~panel.spec.seed003_models`) on the same panel.

    Returns ``coefficients`` (model, term, estimate, std_error, t_stat, p_value),
    ``fit_stats`` (model, nobs, banks, r2_within, hausman, hausman_p, chosen, hausman_df,
    hausman_status, excluded, status) and ``exclusions`` (model, bank_id, year, reason), in model order;
    ``skipped`` (model, reason) lists the models left out by ``missing_columns="skip"``.
    """
    specs = tuple(specs)
    if not specs:
        raise ValueError("specs is empty; give at least one ModelSpec")
    names = [s.name for s in specs]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"model names must be unique; duplicated: {', '.join(duplicated)}")
    config = config or PanelConfig()
    if config.missing_columns == "skip":
        absent = {s.name: [c for c in s.variables if c not in data.columns] for s in specs}
        skipped = pd.DataFrame(
            [(n, "missing column(s) " + ", ".join(cols)) for n, cols in absent.items() if cols], columns=["model", "reason"]
        )
        specs = tuple(s for s in specs if not absent[s.name])
        if not specs:
            raise ValueError(f"no model can be estimated: {'; '.join(f'{m}: {r}' for m, r in skipped.itertuples(index=False))}")
    else:
        skipped = pd.DataFrame(columns=["model", "reason"])
    results = tuple(estimate_model(data, spec, config) for spec in specs)
    coefficients = pd.concat([r.coefficients() for r in results], ignore_index=True)
    fit_stats = pd.DataFrame([r.fit_stats() for r in results], columns=list(FIT_COLUMNS))
    frames = [r.data.exclusions for r in results if len(r.data.exclusions)]
    exclusions = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(EXCLUSION_COLUMNS))
    )
    return PanelResults(results, coefficients, fit_stats, exclusions, skipped)

