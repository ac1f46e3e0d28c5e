"""``metrics.json``: a few headline numbers per measure, for ``dvc metrics show/diff`` and ``dvc exp show``.

One key per measure (``covar_dcc``, ``covar_qr``, ``srisk``, ``spillover``, ``contagion``,
``panel``, ``firesale``, ``cascade``) plus ``sample`` and ``quality``, each with a handful of
numbers (percentages as ``*_pct``, currency amounts in billions as ``*_bn``) and at most one
bank id (a string: ``dvc metrics diff`` shows its old and new value without a difference).
Everything is read from the report stage's artifacts through the :class:`ReportContext` (which
caches what the sections already read); a measure whose artifacts are absent or have no rows is
left out, and the names of those marked not estimable are listed under ``not_estimable``; the
measures computed on simulated data are listed under ``simulated`` (docs/experiments.md).
"""

from __future__ import annotations

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


def covar_dcc(r: ReportContext) -> dict[str, Any]:
    frame = r.artifact("covar_dcc", ["bank_id", "delta_covar", "status"])
    return {} if frame is None else _bank_means(frame, "delta_covar")


def covar_qr(r: ReportContext) -> dict[str, Any]:
    frame = r.artifact("covar_qr", ["bank_id", "delta_covar", "status"])
    return {} if frame is None else _bank_means(frame, "delta_covar")


def srisk(r: ReportContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    total = r.artifact("srisk_total")
    series = total.set_index("date")["srisk_total"].dropna() / BILLION if total is not None else pd.Series(dtype=float)
    if len(series):
        out.update(total_latest_bn=series.iloc[-1], total_max_bn=series.max(), total_max_date=series.idxmax())
    sr = r.artifact("srisk", ["bank_id", "date", "srisk"])
    valid = sr.dropna(subset=["srisk"]) if sr is not None else pd.DataFrame()
    if len(valid):
        last = valid[valid["date"] == valid["date"].max()].sort_values(["srisk", "bank_id"], ascending=[False, True])
        out["top_bank"] = str(last["bank_id"].iloc[0])
    return out


def spillover(r: ReportContext) -> dict[str, Any]:
    daily = r.artifact("spillover_index", ["date", "improved_index", "traditional_index"])
    if daily is None:
        return {}
    return {"improved_mean_pct": daily["improved_index"].mean() * 100.0,
            "traditional_mean_pct": daily["traditional_index"].mean() * 100.0,
            "corr_improved_traditional": daily["improved_index"].corr(daily["traditional_index"])}


def contagion(r: ReportContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    crw = r.artifact("crw")
    if crw is not None:
        key = "year" if "year" in crw else "window_end"
        last = crw[crw[key] == crw[key].max()].sort_values(["crw", "bank_id"], ascending=[False, True])
        out.update(n_windows=int(crw[key].nunique()), crw_top_bank_last=str(last["bank_id"].iloc[0]),
                   crw_max_pct_last=last["crw"].iloc[0] * 100.0)
    windows = r.artifact("contagion_windows", ["status"])
    if windows is not None:
        out["failed_windows"] = int(windows["status"].astype(str).str.startswith("failed").sum())
    conn = r.artifact("connectedness", ["total"])
    if conn is not None:
        out["dy_total_mean"] = conn["total"].mean()
    return out


def panel(r: ReportContext) -> dict[str, Any]:
    fit = r.artifact("panel/fit_stats", ["model", "status", "nobs"])
    if fit is None:
        return {}
    ok = _ok(fit)
    return {"models_estimated": int(len(ok)), "models_not_estimated": int(len(fit) - len(ok)),
            "max_nobs": int(ok["nobs"].max()) if len(ok) else 0}


def firesale(r: ReportContext) -> dict[str, Any]:
    mean = r.artifact("firesale_mean", ["alpha", "sr"])
    runs = r.artifact("firesale", ["status"])
    if mean is None or runs is None or mean["sr"].notna().sum() == 0:
        return {}
    return {"sr_max": mean["sr"].max(), "alpha_sr_max_pct": mean.loc[mean["sr"].idxmax(), "alpha"] * 100.0,
            "runs": int(len(runs)), "runs_not_ok": int((runs["status"].astype(str) != "ok").sum())}


def cascade(r: ReportContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    surface = r.artifact("cascade_surface", ["system", "scenario", "failed_share"])
    if surface is not None:
        common = surface[surface["scenario"].astype(str) == "common"]
        out.update({f"mean_failed_share_{s}": g["failed_share"].mean() for s, g in common.groupby("system", sort=True)})
    debt = r.artifact("debtrank", ["bank_id", "debtrank"])
    if debt is not None and debt["debtrank"].notna().any():
        out.update(debtrank_max=debt["debtrank"].max(), debtrank_top_bank=str(debt.loc[debt["debtrank"].idxmax(), "bank_id"]))
    return out


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
    "spillover": (spillover, ("spillover_index",)),
    "contagion": (contagion, ("crw", "contagion_windows", "connectedness")),
    "panel": (panel, ("panel/fit_stats",)),
    "firesale": (firesale, ("firesale_mean", "firesale")),
    "cascade": (cascade, ("cascade_surface", "debtrank")),
    "quality": (quality, ()),
}


def headline_metrics(report: ReportContext) -> dict[str, Any]:
    """The content of ``metrics.json`` (JSON-safe: :func:`~pipeline.report.core.clean_metric`)."""
    out: dict[str, Any] = {}
    marked: list[str] = []
    simulated: list[str] = []
    for name, (fn, sources) in MEASURES.items():
        values = fn(report)
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
