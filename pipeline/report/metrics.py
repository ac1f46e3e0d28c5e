"""``metrics.json``: a few headline numbers per measure, for ``dvc metrics show/diff`` and ``dvc exp show``.

One key per measure (``covar_dcc``, ``covar_qr``, ``srisk``, ``spillover``, ``contagion``,
``panel``, ``firesale``, ``cascade``) plus ``sample`` and ``quality``, each with a handful of
numbers (percentages as ``*_pct``, currency amounts in billions as ``*_bn``) and at most one
bank id (a string: ``dvc metrics diff`` shows its old and new value without a difference).
A headline number that a report section also shows is taken from that section's ``metrics``
(:data:`PICK`: one source for the page and ``metrics.json``); the others are read from the report
stage's artifacts through the :class:`ReportContext` (which caches what the sections already
read). A measure whose artifacts are absent or have no rows is left out, and the names of those marked not estimable are listed under ``not_estimable``; the
measures computed on simulated data are listed under ``simulated`` (docs/experiments.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from pipeline.report import provenance
from pipeline.report.core import ReportContext, clean_metric

BILLION = 1e9


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"].astype(str) == "ok"]


def _bank_means(frame: pd.DataFrame, column: str) -> dict[str, Any]:
    """Mean of ``column`` (×100) over the rows with status ok, and the bank with the largest bank mean."""
    ok = _ok(frame)
    if ok.empty or ok[column].notna().sum() == 0:
        return {}
    by_bank = ok.groupby("bank_id", sort=True)[column].mean()
    return {"mean_pct": ok[column].mean() * 100.0, "top_bank": str(by_bank.idxmax()),
            "top_bank_mean_pct": by_bank.max() * 100.0, "rows_not_ok": int(len(frame) - len(ok))}


def sample(r: ReportContext) -> dict[str, Any]:
    ret = r.artifact("returns", ["bank_id", "date"])
    if ret is None:
        return {}
    return {"n_banks": int(ret["bank_id"].nunique()), "n_days": int(ret["date"].nunique()),
            "first_date": ret["date"].min(), "last_date": ret["date"].max()}


def _picked_only(r: ReportContext) -> dict[str, Any]:
    return {}  # every headline number from the measure's section (PICK)


def covar_dcc(r: ReportContext) -> dict[str, Any]:
    frame = r.artifact("covar_dcc", ["bank_id", "delta_covar", "status"])
    return {} if frame is None else _bank_means(frame, "delta_covar")


def covar_qr(r: ReportContext) -> dict[str, Any]:
    frame = r.artifact("covar_qr", ["bank_id", "delta_covar", "status"])
    if frame is None:
        return {}
    means = _bank_means(frame, "delta_covar")  # top bank and rows not ok: from the spillover section (PICK)
    return {k: v for k, v in means.items() if k in ("mean_pct", "top_bank_mean_pct")}


def srisk(r: ReportContext) -> dict[str, Any]:
    return {}  # every headline number from the SRISK section (PICK)


def spillover(r: ReportContext) -> dict[str, Any]:
    return {}  # every headline number from the spillover section (PICK)


def contagion(r: ReportContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    crw = r.artifact("crw")
    if crw is not None:
        key = "year" if "year" in crw else "window_end"
        last = crw[crw[key] == crw[key].max()].sort_values(["crw", "bank_id"], ascending=[False, True])
        out.update(n_windows=int(crw[key].nunique()), crw_top_bank_last=str(last["bank_id"].iloc[0]),
                   crw_max_pct_last=last["crw"].iloc[0] * 100.0)
    return out  # failed windows and the mean total connectedness: from the contagion section (PICK)


def panel(r: ReportContext) -> dict[str, Any]:
    fit = r.artifact("panel/fit_stats", ["model", "status", "nobs"])
    if fit is None:
        return {}
    ok = _ok(fit)  # the model counts: from the panel section (PICK)
    return {"max_nobs": int(ok["nobs"].max()) if len(ok) else 0}


def firesale(r: ReportContext) -> dict[str, Any]:
    mean = r.artifact("firesale_mean", ["alpha", "sr"])
    runs = r.artifact("firesale", ["status"])
    if mean is None or runs is None or mean["sr"].notna().sum() == 0:
        return {}
    return {"sr_max": mean["sr"].max(), "alpha_sr_max_pct": mean.loc[mean["sr"].idxmax(), "alpha"] * 100.0,
            "runs": int(len(runs)), "runs_not_ok": int((runs["status"].astype(str) != "ok").sum())}


def cascade(r: ReportContext) -> dict[str, Any]:
    debt = r.artifact("debtrank", ["bank_id", "debtrank"])  # the rest: from the cascade section (PICK)
    if debt is not None and debt["debtrank"].notna().any():
        return {"debtrank_top_bank": str(debt.loc[debt["debtrank"].idxmax(), "bank_id"])}
    return {}


def interbank(r: ReportContext) -> dict[str, Any]:
    runs = r.artifact("interbank_scenarios", ["scenario", "model", "n_initial", "n_defaulted"])
    if runs is None or runs.empty:
        return {}
    contagious = runs[runs["n_defaulted"] > runs["n_initial"]]
    return {"scenarios": int(runs["scenario"].nunique()), "models": int(runs["model"].nunique()),
            "runs_with_contagious_defaults": int(len(contagious)),
            "max_contagious_defaults": int((runs["n_defaulted"] - runs["n_initial"]).max())}


def quality(r: ReportContext) -> dict[str, Any]:
    records = r.quality()
    rows = records.groupby("action")["n_rows"].sum()
    return {"n_records": int(len(records)), "rows_excluded": int(rows.get("excluded", 0)),
            "rows_masked": int(rows.get("masked", 0))}


#: measure -> (headline function, the artifacts it reads: for the not-estimable and simulated labels)
MEASURES = {
    "sample": (sample, ("returns",)),
    "covar_dcc": (covar_dcc, ("covar_dcc",)),
    "covar_qr": (covar_qr, ("covar_qr",)),
    "srisk": (srisk, ("srisk_total", "srisk")),
    "coes": (_picked_only, ("covar_dcc", "covar_qr")),
    "cca": (_picked_only, ("cca", "cca_total")),
    "spillover": (spillover, ("spillover_index",)),
    "contagion": (contagion, ("crw", "contagion_windows", "connectedness")),
    "granger_network": (_picked_only, ("granger_dci",)),
    "system_measures": (_picked_only, ("system_measures",)),
    "early_warning": (_picked_only, ("early_warning", "measure_concordance")),
    "panel": (panel, ("panel/fit_stats",)),
    "firesale": (firesale, ("firesale_mean", "firesale")),
    "cascade": (cascade, ("cascade_surface", "debtrank")),
    "interbank": (interbank, ("interbank_scenarios",)),
    "quality": (quality, ()),
}


#: measure -> {headline key: (section id, key in that section's ``metrics``, dots into nested dicts)}
PICK = {
    "covar_qr": {"top_bank": ("spillover", "top_bank"), "rows_not_ok": ("spillover", "covar_qr_non_ok_rows")},
    "srisk": {"total_latest_bn": ("srisk", "srisk_total_latest_bn"), "total_max_bn": ("srisk", "srisk_total_max_bn"),
              "total_max_date": ("srisk", "srisk_total_max_date"), "top_bank": ("srisk", "latest_top_bank")},
    "spillover": {key: ("spillover", key) for key in ("improved_mean_pct", "traditional_mean_pct",
                                                      "corr_improved_traditional")},
    "contagion": {"failed_windows": ("contagion", "failed_windows"), "dy_total_mean": ("contagion", "dy_total.mean")},
    "coes": {key: ("coes", key) for key in ("delta_coes_mean_pct_dcc", "delta_coes_mean_pct_qr", "top_bank_dcc",
                                             "top_bank_qr", "kendall_tau_covar_coes_qr", "conditioning_dcc")},
    "cca": {key: ("cca", key) for key in ("dd_median_latest", "dd_median_min", "dd_median_min_date",
                                           "expected_loss_total_max_bn", "expected_loss_total_max_date",
                                           "top_share_bank_latest")},
    "system_measures": {f"{m}_{stat}": ("system_measures", f"{m}.{stat}") for m in ("absorption_ratio", "turbulence", "catfin")
                        for stat in ("max", "date_of_max")},
    "granger_network": {f"dci_{stat}": ("system_measures", f"dci.{stat}") for stat in ("mean", "max", "date_of_max", "last")},
    "early_warning": {key: ("early_warning", key) for key in ("best_series_h20", "best_auc_h20", "best_series_h60",
                                                               "best_auc_h60", "series_evaluated", "tau_median")},
    "panel": {"models_estimated": ("panel", "models_estimated"), "models_not_estimated": ("panel", "models_not_estimated")},
    "cascade": {"debtrank_max": ("cascade", "debtrank_max"), "mean_failed_share_all": ("cascade", "mean_failed_share_all"),
                "mean_failed_share_without_largest": ("cascade", "mean_failed_share_without_largest")},
}


def picked(measure: str, sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The headline numbers of ``measure`` that its section computed (:data:`PICK`; absent ones left out)."""
    out = {}
    for key, (section, dotted) in PICK.get(measure, {}).items():
        node: Any = sections.get(section, {})
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            out[key] = node
    return out


def headline_metrics(report: ReportContext, sections: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The content of ``metrics.json`` (JSON-safe: :func:`~pipeline.report.core.clean_metric`) from the
    built sections' metrics (``{section id: metrics}``, see :data:`PICK`) and the artifacts."""
    out: dict[str, Any] = {}
    marked: list[str] = []
    simulated: list[str] = []
    for name, (fn, sources) in MEASURES.items():
        values = {**fn(report), **picked(name, sections or {})}
        if any(s in report.marks for s in sources):
            marked.append(name)
        if not values:
            continue
        out[name] = values
        provs = {s: report.provenance(s) for s in sources}
        if provenance.DataLabel.of(provs).kind in ("simulated", "mixed"):
            simulated.append(name)
    if marked:
        out["not_estimable"] = ", ".join(marked)
    if simulated:
        out["simulated"] = ", ".join(simulated)
    return clean_metric(out)
