"""Panel: regressions of the contagion risk weight on capital and liquidity ratios (seed 003 §4).

Reads ``data/processed/contagion/crw.parquet`` (bank_id, year, crw) and the canonical
``balance_sheet``; joins each bank-year's CRW with the bank's year-end ratios (period end
31 December; contemporaneous as in seed 003, or one year earlier with ``panel.lagged``) and
estimates the model list of the ``panel`` params group (default: seed 003's nine models) with
:mod:`panel`. Writes to ``data/processed/panel/``: ``panel.parquet`` (the joined panel),
``coefficients.parquet``, ``fit_stats.parquet``, ``descriptives.parquet`` (Table 1) and
``table1`` / ``table2`` as ``.csv``, ``.tex`` and ``.html``; exclusions (bank-years without
year-end ratios, rows dropped per model, models skipped or failed) to
``data/processed/quality/panel.parquet``. The same engine serves the replication mode
``python -m pipeline panel`` (:mod:`pipeline.__main__`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.core.status import status_from_exception
from panel import (
    FIT_COLUMNS,
    SEED003_CONTROLS,
    SEED003_MODELS,
    ModelSpec,
    PanelConfig,
    describe_variables,
    estimate_models,
    model_specs,
    model_variables,
    regression_table,
    table_note,
    table_to_csv,
    table_to_html,
    table_to_latex,
)
from pipeline.io import read_parquet, write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.stages.common import parser, read_canonical, write_quality

STAGE = "panel"

#: Canonical balance-sheet column -> panel variable name (seed 003's abbreviations).
RATIOS = {"car": "car", "leverage_ratio": "lev", "lcr": "lcr", "ldr": "ldr", "liquidity_ratio": "liq",
          "npl": "npl", "nim": "nim", "loan_growth": "loan_growth"}
#: Panel variables in the canonical order (``ln_assets`` = log of ``total_assets``).
PANEL_VARIABLES = ("crw", *RATIOS.values(), "ln_assets")
EFFECTS = {"entity": (True, False), "entity+time": (True, True), "none": (False, False)}
COVARIANCE_CHOICES = ("clustered", "robust", "driscoll-kraay")
#: Columns of the replication outputs (issue 6 §3).
COEFFICIENT_CSV = ("model", "term", "estimate", "std_error", "t_stat", "p_value")
FIT_CSV = ("model", "nobs", "banks", "r2_within", "hausman", "hausman_p", "chosen")
TABLE1_CAPTION = "Table 1. Descriptive statistics"
TABLE2_CAPTION = "Table 2. Contagion risk weight on capital and liquidity regulation"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PanelParams(Config):
    """The ``panel`` params group (docs/parameters.md).

    ``models``: list of model mappings (``name``, ``regulators``, optional ``interactions``
    and any :class:`~panel.spec.ModelSpec` field as a per-model override); empty = seed 003's
    nine. ``controls``, ``effects``, ``covariance``, ``small_sample``, ``kernel``,
    ``bandwidth`` are the defaults of every model. ``choose``, ``alpha``,
    ``hausman_variance``, ``missing_columns`` go to :class:`~panel.estimate.PanelConfig`;
    ``brackets`` / ``digits`` format Table 2; ``lagged`` uses the previous year-end's ratios.
    """

    models: tuple[Mapping[str, Any], ...] = ()
    controls: tuple[str, ...] = SEED003_CONTROLS
    effects: str = "entity"
    covariance: str = "clustered"
    small_sample: bool = True
    kernel: str = "bartlett"
    bandwidth: int | None = None
    choose: str = "hausman"
    alpha: float = 0.05
    hausman_variance: str = "fe"
    missing_columns: str = "skip"
    lagged: bool = False
    brackets: str = "se"
    digits: int = 3

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, *, where: str = "panel") -> PanelParams:
        mapping = dict(mapping or {})
        for key in ("models", "controls"):
            if key in mapping:
                value = mapping[key]
                if value is None:
                    value = []
                if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
                    raise ValueError(f"{where}.{key}={value!r} must be a list")
                mapping[key] = tuple(value)
        return super().from_mapping(mapping, where=where)

    def validate(self) -> None:
        check_choice("panel.effects", self.effects, tuple(EFFECTS))
        check_choice("panel.covariance", self.covariance, COVARIANCE_CHOICES)
        check_choice("panel.lagged", self.lagged, (True, False))
        check_choice("panel.brackets", self.brackets, ("se", "t"))
        check_range("panel.digits", self.digits, low=0, high=12, integer=True)
        self.panel_config()
        self.specs()

    def specs(self) -> tuple[ModelSpec, ...]:
        """The model list as validated specs (unknown keys, bad terms raise naming the model)."""
        entity, time = EFFECTS[self.effects]
        defaults = {"controls": tuple(self.controls), "entity_effects": entity, "time_effects": time,
                    "covariance": self.covariance, "small_sample": self.small_sample, "kernel": self.kernel,
                    "bandwidth": self.bandwidth}
        return model_specs(list(self.models) or list(SEED003_MODELS), defaults=defaults)

    def panel_config(self) -> PanelConfig:
        return PanelConfig(choose=self.choose, alpha=self.alpha, hausman_variance=self.hausman_variance,
                           missing_columns=self.missing_columns)


@dataclass(frozen=True)
class PanelOutput:
    """Everything the stage and the replication mode write (frames in model-list order)."""

    coefficients: pd.DataFrame   # model, term, estimate, std_error, t_stat, p_value, position
    fit_stats: pd.DataFrame      # FIT_COLUMNS + position (every model, estimated or not)
    exclusions: pd.DataFrame     # model, bank_id, year, reason (rows dropped per model)
    descriptives: pd.DataFrame   # variable, N, mean, sd, min, max
    table1: pd.DataFrame
    table2: pd.DataFrame
    note: str

    @property
    def problems(self) -> list[tuple[str, str]]:
        """(model, status) of every model not estimated."""
        bad = self.fit_stats[self.fit_stats["status"].str.startswith("failed")]
        return list(zip(bad["model"], bad["status"]))


def _failed_row(spec: ModelSpec, status: str, position: int) -> dict:
    return {"model": spec.name, "nobs": 0, "banks": 0, "r2_within": np.nan, "hausman": np.nan, "hausman_p": np.nan,
            "chosen": "", "hausman_df": 0, "hausman_status": "not estimated", "excluded": 0, "status": status,
            "position": position}


def estimate_panel(data: pd.DataFrame, params: PanelParams) -> PanelOutput:
    """Run the model list on a (bank_id, year) panel; a model that cannot be estimated gets a failed row.

    A model whose columns are absent raises with ``missing_columns="raise"`` and is recorded as
    ``failed:MissingColumn`` with ``"skip"``; a model the data cannot identify (absorbed or
    collinear regressor, fewer than two years) is recorded as ``failed:ValueError`` with the
    message naming the model and the variable. Raises when no model is estimated.
    """
    specs = params.specs()
    config = params.panel_config()
    coefficients, fits, exclusions, estimated = [], [], [], []
    for position, spec in enumerate(specs, start=1):
        absent = [c for c in spec.variables if c not in data.columns]
        if absent:
            message = (f"model {spec.name!r}: missing column(s) {', '.join(absent)}; available columns: "
                       f"{', '.join(map(str, data.columns))}")
            if config.missing_columns == "raise":
                raise ValueError(message + " (set panel.missing_columns: skip to skip such models)")
            fits.append(_failed_row(spec, f"failed:MissingColumn: {message}", position))
            continue
        try:
            result = estimate_models(data, [spec], config)
        except ValueError as exc:
            fits.append(_failed_row(spec, str(status_from_exception(exc)), position))
            continue
        estimated.append(spec)
        coef = result.coefficients.copy()
        coef["position"] = np.arange(1, len(coef) + 1)
        coefficients.append(coef)
        fits.append({**result.fit_stats.iloc[0].to_dict(), "position": position})
        if len(result.exclusions):
            exclusions.append(result.exclusions)
    fit_stats = pd.DataFrame(fits, columns=[*FIT_COLUMNS, "position"])
    if not estimated:
        raise ValueError(_nothing_estimated(specs, fit_stats, data))
    fit_stats = fit_stats.astype({"nobs": "int64", "banks": "int64", "hausman_df": "int64", "excluded": "int64",
                                  "position": "int64"})
    coefficients = pd.concat(coefficients, ignore_index=True)
    excl = pd.concat(exclusions, ignore_index=True) if exclusions else pd.DataFrame(columns=["model", "bank_id", "year", "reason"])
    descriptives = describe_variables(data, model_variables(estimated))
    descriptives["N"] = descriptives["N"].astype("int64")
    descriptives["position"] = np.arange(1, len(descriptives) + 1)
    ok = fit_stats[~fit_stats["status"].str.startswith("failed")]
    table2 = regression_table(coefficients, ok, brackets=params.brackets, digits=params.digits)
    note = table_note(params.brackets) + estimator_note(fit_stats, params)
    return PanelOutput(coefficients, fit_stats, excl, descriptives, table1_frame(descriptives), table2, note)


def _nothing_estimated(specs: Sequence[ModelSpec], fit_stats: pd.DataFrame, data: pd.DataFrame) -> str:
    """One message for a model list of which nothing could be estimated (absent columns grouped)."""
    absent: dict[str, list[str]] = {}
    for spec in specs:
        for c in spec.variables:
            if c not in data.columns:
                absent.setdefault(c, []).append(spec.name)
    parts = [f"{c} (needed by {', '.join(m) if len(m) < len(specs) else 'every model'})" for c, m in absent.items()]
    others = [f"{m}: {s.split(': ', 1)[-1]}" for m, s in zip(fit_stats["model"], fit_stats["status"])
              if not s.startswith("failed:MissingColumn")]
    text = "no model of the panel model list could be estimated"
    if parts:
        text += (f"; missing column(s): {'; '.join(parts)}; available columns: {', '.join(map(str, data.columns))} — "
                 "set panel.controls and panel.models to variables the data has (docs/replication.md)")
    if others:
        text += "; " + "; ".join(others)
    return text


def estimator_note(fit_stats: pd.DataFrame, params: PanelParams | None = None) -> str:
    """The part of Table 2's note that says how the estimator was chosen and what was not estimated."""
    parts = []
    if params is not None:
        cov = {"clustered": "clustered by bank", "robust": "heteroskedasticity-robust (White)",
               "driscoll-kraay": "Driscoll–Kraay"}[params.covariance]
        rule = ("FE reported in every column" if params.choose == "fe"
                else f"FE if the Hausman test rejects at {params.alpha:g}, else RE")
        parts.append(f" Standard errors {cov}; {rule}.")
    skipped = fit_stats[fit_stats["status"].str.startswith("failed")]
    if len(skipped):
        parts.append(" Not estimated: " + "; ".join(f"{m} ({s.split(': ', 1)[-1]})" for m, s in
                                                     zip(skipped["model"], skipped["status"])) + ".")
    return "".join(parts)


def table1_frame(descriptives: pd.DataFrame) -> pd.DataFrame:
    """Table 1 for display: upper-case variable labels, N as an integer."""
    out = descriptives.sort_values("position", kind="mergesort").drop(columns="position")
    out["variable"] = [v.upper().replace("_", " ") for v in out["variable"]]
    return out.reset_index(drop=True).rename(columns={"variable": "Variable"})


def write_tables(output: PanelOutput, out_dir: Path, digits: int) -> None:
    """table1 / table2 as CSV, LaTeX and HTML (deterministic text)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table, caption, note, d in (("table1", output.table1, TABLE1_CAPTION, None, digits + 1),
                                          ("table2", output.table2, TABLE2_CAPTION, output.note, digits)):
        (out_dir / f"{name}.csv").write_text(table_to_csv(table, digits=d), encoding="utf-8")
        (out_dir / f"{name}.tex").write_text(table_to_latex(table, digits=d, caption=caption, note=note), encoding="utf-8")
        (out_dir / f"{name}.html").write_text(table_to_html(table, digits=d, caption=caption, note=note), encoding="utf-8")


# ---------------------------------------------------------------- the pipeline input


def year_end_ratios(balance_sheet: pd.DataFrame) -> tuple[pd.DataFrame, list[QualityRecord]]:
    """Year-end (31 December) ratios per bank: ``bank_id, year`` + the panel names of the present ratios.

    A ratio column absent from the canonical table, or missing in every year-end row, is left
    out (and recorded), so the models that need it are skipped or raise (``missing_columns``).
    """
    bs = balance_sheet[(balance_sheet["period_end"].dt.month == 12) & (balance_sheet["period_end"].dt.day == 31)]
    out = pd.DataFrame({"bank_id": bs["bank_id"].astype(str).to_numpy(), "year": bs["period_end"].dt.year.astype("int64").to_numpy()})
    records = []
    sources = {**RATIOS, "total_assets": "ln_assets"}
    for column, name in sources.items():
        values = bs[column].to_numpy(dtype=float, na_value=np.nan) if column in bs.columns else None
        if values is None or not np.isfinite(values).any():
            records.append(QualityRecord(
                stage=STAGE, table="balance_sheet", bank_id=None, date_start=None, date_end=None, n_rows=len(bs),
                action="ignored", reason="ratio_unavailable",
                detail=f"{column} ({name}) is {'absent from' if values is None else 'missing in every year-end row of'} "
                       f"the balance sheet; models using {name} are skipped (panel.missing_columns)"))
            continue
        if name == "ln_assets":
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
        out[name] = values
    return out.sort_values(["bank_id", "year"], kind="mergesort").reset_index(drop=True), records


def build_panel(crw: pd.DataFrame, ratios: pd.DataFrame, *, lagged: bool = False) -> tuple[pd.DataFrame, list[QualityRecord]]:
    """Join the CRW panel with year-end ratios by (bank_id, year); record bank-years without ratios.

    With ``lagged`` the ratios of year t-1 are joined to the CRW of year t (no look-ahead: the
    year-end t-1 report is published during year t); a bank-year without the earlier report
    keeps missing ratios and is dropped per model (recorded there).
    """
    missing = [c for c in ("bank_id", "year", "crw") if c not in crw.columns]
    if missing:
        raise ValueError(f"crw: missing column(s) {', '.join(missing)}; the panel needs the yearly CRW panel "
                         f"(bank_id, year, crw) of the contagion stage with contagion.window: year")
    left = pd.DataFrame({"bank_id": crw["bank_id"].astype(str).to_numpy(), "year": crw["year"].astype("int64").to_numpy(),
                         "crw": crw["crw"].to_numpy(dtype=float, na_value=np.nan)})
    records = []
    if "status" in crw.columns:
        bad = crw["status"].astype(str).str.startswith("failed").to_numpy()
        left.loc[bad, "crw"] = np.nan
    names = [c for c in ratios.columns if c not in ("bank_id", "year")]
    if lagged:
        ratios = ratios.assign(year=ratios["year"] + 1)
    merged = left.merge(ratios, on=["bank_id", "year"], how="left", validate="one_to_one", indicator=True)
    without = merged[merged["_merge"] == "left_only"]
    for bank, g in without.groupby("bank_id", sort=True):
        years = sorted(int(y) for y in g["year"])
        what = "previous year-end (panel.lagged)" if lagged else "year-end"
        records.append(QualityRecord(
            stage=STAGE, table="balance_sheet", bank_id=str(bank), date_start=pd.Timestamp(f"{years[0]}-12-31"),
            date_end=pd.Timestamp(f"{years[-1]}-12-31"), n_rows=len(years), action="excluded", reason="no_year_end_ratios",
            detail=f"CRW of {', '.join(map(str, years))} has no {what} balance-sheet row; bank-year(s) left out of the panel"))
    panel = merged[merged["_merge"] == "both"].drop(columns="_merge")
    panel = panel[["bank_id", "year", "crw", *[v for v in PANEL_VARIABLES if v in names]]]
    return panel.sort_values(["bank_id", "year"], kind="mergesort").reset_index(drop=True), records


def output_records(output: PanelOutput) -> list[QualityRecord]:
    """Quality records of the estimation: rows dropped per model, models skipped or failed."""
    records = []
    for (model, bank, reason), g in output.exclusions.groupby(["model", "bank_id", "reason"], sort=True):
        years = sorted(int(y) for y in g["year"])
        records.append(QualityRecord(
            stage=STAGE, table="panel", bank_id=str(bank), date_start=pd.Timestamp(f"{years[0]}-12-31"),
            date_end=pd.Timestamp(f"{years[-1]}-12-31"), n_rows=len(years), action="excluded", reason="missing_value",
            detail=f"model {model}: {reason} in {', '.join(map(str, years))}"))
    for model, status in output.problems:
        reason = "model_skipped" if status.startswith("failed:MissingColumn") else "model_failed"
        records.append(QualityRecord(stage=STAGE, table="panel", bank_id=None, date_start=None, date_end=None, n_rows=0,
                                     action="excluded", reason=reason, detail=f"model {model}: {status}"))
    return records


def run(params_path: str, crw: str, canonical: str, out: str, quality: str) -> PanelOutput:
    params = PanelParams.from_mapping(group(load_params(params_path), "panel"), where="panel")
    data = read_canonical(Path(canonical))
    ratios, records = year_end_ratios(data.balance_sheet)
    panel, more = build_panel(read_parquet(crw), ratios, lagged=params.lagged)
    records += more
    output = estimate_panel(panel, params)
    records += output_records(output)
    out_dir = Path(out)
    write_parquet(panel, out_dir / "panel.parquet", key=["bank_id", "year"])
    write_parquet(output.coefficients, out_dir / "coefficients.parquet", key=["model", "term"])
    write_parquet(output.fit_stats, out_dir / "fit_stats.parquet", key=["model"])
    write_parquet(output.descriptives, out_dir / "descriptives.parquet", key=["variable"])
    write_tables(output, out_dir, params.digits)
    write_quality(records, quality, STAGE)
    return output


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--crw", default="data/processed/contagion/crw.parquet")
    p.add_argument("--canonical", default="data/interim/canonical")
    p.add_argument("--out", default="data/processed/panel")
    args = p.parse_args(argv)
    run(args.params, args.crw, args.canonical, args.out, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
