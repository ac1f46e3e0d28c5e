"""A model list on one panel: the ``panel`` configuration, the estimates, Tables 1 and 2, the events.

:class:`PanelParams` is the whole configuration of the panel regressions (the ``panel`` params
group and the replication mode's ``--params``): the model list and the defaults of every model
(:class:`~panel.spec.ModelSpec` fields), the estimator choice (it extends
:class:`~panel.estimate.PanelConfig`), the year-end lag and Table 2's format.
:func:`estimate_panel` runs every model of the list (Liu–Ma 2021 eq. 7,
``CRW_it = mu_i + b1 R1_it + b2 R2_it + b3 R1_it R2_it + controls + e_it``); a model that cannot be
estimated keeps a ``failed`` row instead of stopping the list. Choices: docs/panel.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import ConfigError, check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.core.status import FitStatus, NotEstimable, is_failed, status_from_exception
from panel.coverage import Coverage, model_coverage
from panel.estimate import FIT_COLUMNS, PanelConfig, estimate_models
from panel.robustness import RobustnessConfig
from panel.spec import SEED003_CONTROLS, SEED003_MODELS, ModelSpec, model_specs, model_variables
from panel.tables import describe_variables, format_table, regression_table, table_note, table_to_csv, table_to_html, table_to_latex

EFFECTS = {"entity": (True, False), "entity+time": (True, True), "none": (False, False)}
COVARIANCE_CHOICES = ("clustered", "robust", "driscoll-kraay")
#: Columns of the replication outputs (docs/replication.md).
COEFFICIENT_CSV = ("model", "term", "estimate", "std_error", "t_stat", "p_value")
FIT_CSV = ("model", "nobs", "banks", "r2_within", "hausman", "hausman_p", "chosen")
TABLE1_CAPTION = "Table 1. Descriptive statistics"
TABLE2_CAPTION = "Table 2. Contagion risk weight on capital and liquidity regulation"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PanelParams(PanelConfig):
    """The panel regressions' configuration (the ``panel`` params group, docs/parameters.md).

    ``models``: list of model mappings (``name``, ``regulators``, optional ``interactions``
    and any :class:`~panel.spec.ModelSpec` field as a per-model override); empty = Liu–Ma 2021's
    nine. ``controls``, ``effects``, ``covariance``, ``small_sample``, ``kernel``,
    ``bandwidth`` are the defaults of every model. ``choose``, ``alpha``, ``hausman_variance``,
    ``missing_columns``: :class:`~panel.estimate.PanelConfig`; ``brackets`` / ``digits`` format
    Table 2 (Table 1 uses ``digits + 1``); ``lagged`` uses the previous year-end's ratios;
    ``rolling_crw`` turns a rolling-window CRW into a yearly one (:func:`panel.build.yearly_crw`);
    ``robustness`` the variants of Table 3 (:class:`~panel.robustness.RobustnessConfig`).
    """

    models: tuple[Mapping[str, Any], ...] = ()
    controls: tuple[str, ...] = SEED003_CONTROLS
    effects: str = "entity"
    covariance: str = "clustered"
    small_sample: bool = True
    kernel: str = "bartlett"
    bandwidth: int | None = None
    lagged: bool = False
    rolling_crw: str = "last"
    brackets: str = "se"
    digits: int = 3
    robustness: RobustnessConfig = RobustnessConfig()

    def validate(self) -> None:
        super().validate()
        for name in ("models", "controls"):
            if not isinstance(getattr(self, name), tuple):
                raise ConfigError(f"{name}={getattr(self, name)!r} must be a list")
        check_choice("effects", self.effects, tuple(EFFECTS))
        check_choice("covariance", self.covariance, COVARIANCE_CHOICES)
        check_choice("lagged", self.lagged, (True, False))
        check_choice("rolling_crw", self.rolling_crw, ("last", "mean"))
        check_choice("brackets", self.brackets, ("se", "t"))
        check_range("digits", self.digits, low=0, high=12, integer=True)
        self.specs()

    def specs(self) -> tuple[ModelSpec, ...]:
        """The model list as validated specs (unknown keys, bad terms raise naming the model)."""
        entity, time = EFFECTS[self.effects]
        defaults = {"controls": tuple(self.controls), "entity_effects": entity, "time_effects": time,
                    "covariance": self.covariance, "small_sample": self.small_sample, "kernel": self.kernel,
                    "bandwidth": self.bandwidth}
        return model_specs(list(self.models) or list(SEED003_MODELS), defaults=defaults)

    def panel_config(self) -> PanelConfig:
        """The estimator options alone."""
        return PanelConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(PanelConfig)})


@dataclass(frozen=True)
class PanelOutput:
    """Everything the panel stage and the replication mode write (frames in model-list order)."""

    coefficients: pd.DataFrame   # model, term, estimate, std_error, t_stat, p_value, position
    fit_stats: pd.DataFrame      # FIT_COLUMNS + position (every model, estimated or not)
    exclusions: pd.DataFrame     # model, bank_id, year, reason (rows dropped per model)
    descriptives: pd.DataFrame   # variable, N, mean, sd, min, max, position
    table1: pd.DataFrame
    table2: pd.DataFrame
    note: str
    digits: int = 3

    @property
    def problems(self) -> list[tuple[str, str]]:
        """(model, status) of every model not estimated."""
        bad = self.fit_stats[self.fit_stats["status"].map(is_failed)]
        return list(zip(bad["model"], bad["status"]))

    def display_tables(self) -> dict[str, pd.DataFrame]:
        """Tables 1 and 2 as the strings of their CSV files (Table 1 with ``digits + 1`` decimals)."""
        return {"table1": format_table(self.table1, digits=self.digits + 1),
                "table2": format_table(self.table2, digits=self.digits)}

    def table_files(self) -> dict[str, str]:
        """``table1`` / ``table2`` as CSV, LaTeX and HTML text (file name -> deterministic text)."""
        files = {}
        for name, table, caption, note, d in (("table1", self.table1, TABLE1_CAPTION, None, self.digits + 1),
                                              ("table2", self.table2, TABLE2_CAPTION, self.note, self.digits)):
            files[f"{name}.csv"] = table_to_csv(table, digits=d)
            files[f"{name}.tex"] = table_to_latex(table, digits=d, caption=caption, note=note)
            files[f"{name}.html"] = table_to_html(table, digits=d, caption=caption, note=note)
        return files

    def events(self) -> pd.DataFrame:
        """Events of the estimation: rows dropped per model (``missing_value``), models skipped for an
        absent column (``model_skipped``) or not identified (``model_failed``)."""
        rows = []
        for (model, bank, reason), g in self.exclusions.groupby(["model", "bank_id", "reason"], sort=True):
            years = sorted(int(y) for y in g["year"])
            rows.append({"bank_id": str(bank), "date_start": pd.Timestamp(f"{years[0]}-12-31"),
                         "date_end": pd.Timestamp(f"{years[-1]}-12-31"), "n_rows": len(years), "action": "excluded",
                         "reason": "missing_value", "detail": f"model {model}: {reason} in {', '.join(map(str, years))}"})
        for model, status in self.problems:
            reason = "model_skipped" if FitStatus.parse(status).cls == "MissingColumn" else "model_failed"
            rows.append({"bank_id": None, "date_start": None, "date_end": None, "n_rows": 0, "action": "excluded",
                         "reason": reason, "detail": f"model {model}: {status}"})
        return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def _failed_row(spec: ModelSpec, status: str, position: int) -> dict:
    return {"model": spec.name, "nobs": 0, "banks": 0, "r2_within": np.nan, "hausman": np.nan, "hausman_p": np.nan,
            "chosen": "", "hausman_df": 0, "hausman_status": "not estimated", "excluded": 0, "status": status,
            "position": position}


def _estimate_one(item: tuple[int, ModelSpec], *, data: pd.DataFrame, coverage: Coverage, config: PanelConfig,
                  source: str) -> tuple[dict, pd.DataFrame | None, pd.DataFrame | None]:
    """One model of the list (a work item of :func:`estimate_panel`): its fit row, coefficients, exclusions."""
    position, spec = item
    if coverage.absent[spec.name]:
        message = (f"model {spec.name!r}: missing column(s) {coverage.lacks(spec)}; available columns: "
                   f"{', '.join(map(str, data.columns))}")
        if config.missing_columns == "raise":
            raise NotEstimable(message + " (set panel.missing_columns: skip to skip such models)",
                               needs=coverage.needs(source))
        return _failed_row(spec, f"failed:MissingColumn: {message}", position), None, None
    try:
        result = estimate_models(data, [spec], config)
    except ValueError as exc:
        return _failed_row(spec, str(status_from_exception(exc)), position), None, None
    coef = result.coefficients.copy()
    coef["position"] = np.arange(1, len(coef) + 1)
    return {**result.fit_stats.iloc[0].to_dict(), "position": position}, coef, result.exclusions


def estimate_panel(data: pd.DataFrame, params: PanelParams | None = None, *, mapper: Mapper | None = None,
                   source: str = "balance_sheet") -> PanelOutput:
    """Run the model list on a (bank_id, year) panel; a model that cannot be estimated gets a failed row.

    A model whose columns are absent (:func:`panel.coverage.model_coverage`) raises with
    ``missing_columns="raise"`` and is recorded as ``failed:MissingColumn`` with ``"skip"``; a
    model the data cannot identify (absorbed or collinear regressor, fewer than two years) is
    recorded as ``failed:ValueError`` with the message naming the model and the variable. Table 1
    describes the variables of the estimated models on the whole panel; Table 2 sets them side by
    side (:func:`~panel.tables.regression_table`). ``source`` (``balance_sheet`` or ``csv``) names
    the columns to add in the messages.

    Raises
    ------
    NotEstimable
        No model is estimated (the message lists each model's missing columns or reason, ``needs``
        the columns to add or the models the data can carry), or (``missing_columns="raise"``) a
        model's column is absent.
    """
    params = params or PanelParams()
    specs = params.specs()
    config = params.panel_config()
    coverage = model_coverage(specs, data.columns)

    one = partial(_estimate_one, data=data, coverage=coverage, config=config, source=source)
    results = map_items(mapper, one, list(enumerate(specs, start=1)), desc="panel models")
    estimated = [spec for spec, (_, coef, _) in zip(specs, results) if coef is not None]
    fit_stats = pd.DataFrame([fit for fit, _, _ in results], columns=[*FIT_COLUMNS, "position"])
    if not estimated:
        raise _nothing_estimated(coverage, fit_stats, source)
    fit_stats = fit_stats.astype({"nobs": "int64", "banks": "int64", "hausman_df": "int64", "excluded": "int64",
                                  "position": "int64"})
    coefficients = pd.concat([coef for _, coef, _ in results if coef is not None], ignore_index=True)
    parts = [excl for _, _, excl in results if excl is not None and len(excl)]
    excl = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["model", "bank_id", "year", "reason"])
    descriptives = describe_variables(data, model_variables(estimated))
    descriptives["N"] = descriptives["N"].astype("int64")
    descriptives["position"] = np.arange(1, len(descriptives) + 1)
    ok = fit_stats[~fit_stats["status"].map(is_failed)]
    table2 = regression_table(coefficients, ok, brackets=params.brackets, digits=params.digits)
    note = table_note(params.brackets) + estimator_note(fit_stats, params, coverage)
    return PanelOutput(coefficients, fit_stats, excl, descriptives, table1_frame(descriptives), table2, note, params.digits)


def _nothing_estimated(coverage: Coverage, fit_stats: pd.DataFrame, source: str) -> NotEstimable:
    """One error for a model list of which nothing could be estimated: each model's missing columns or reason."""
    text = "no model of the panel model list could be estimated"
    if coverage.skipped:
        text += f"; missing column(s): {coverage.message()}"
    others = [f"{m}: {s.split(': ', 1)[-1]}" for m, s in zip(fit_stats["model"], fit_stats["status"])
              if FitStatus.parse(s).cls != "MissingColumn"]
    if others:
        text += "; not identified: " + "; ".join(others)
    needs = coverage.needs(source) if coverage.skipped else "a panel on which the models are identified (see the reasons)"
    return NotEstimable(text, needs=needs)


def estimator_note(fit_stats: pd.DataFrame, params: PanelParams | None = None, coverage: Coverage | None = None) -> str:
    """The part of Table 2's note that says how the estimator was chosen and what was not estimated
    (with ``coverage``, a model skipped for an absent column is listed with those columns only)."""
    parts = []
    if params is not None:
        cov = {"clustered": "clustered by bank", "robust": "heteroskedasticity-robust (White)",
               "driscoll-kraay": "Driscoll–Kraay"}[params.covariance]
        rule = ("FE reported in every column" if params.choose == "fe"
                else f"FE if the Hausman test rejects at {params.alpha:g}, else RE")
        parts.append(f" Standard errors {cov}; {rule}.")
    skipped = fit_stats[fit_stats["status"].map(is_failed)]
    absent = coverage.absent if coverage is not None else {}
    if len(skipped):
        parts.append(" Not estimated: " + "; ".join(
            f"{m} (no {', '.join(absent[m])} in the data)" if absent.get(m) else f"{m} ({s.split(': ', 1)[-1]})"
            for m, s in zip(skipped["model"], skipped["status"])) + ".")
    return "".join(parts)


def table1_frame(descriptives: pd.DataFrame) -> pd.DataFrame:
    """Table 1 for display: upper-case variable labels, N as an integer."""
    out = descriptives.sort_values("position", kind="mergesort").drop(columns="position")
    out["variable"] = [v.upper().replace("_", " ") for v in out["variable"]]
    return out.reset_index(drop=True).rename(columns={"variable": "Variable"})
