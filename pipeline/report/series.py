"""The key series as tidy CSVs for ``dvc plots``: ``data/report/plots/series_<name>.csv``.

Each file has a named x column (``date``, ``year`` or ``alpha_pct``) and the y columns that
:data:`pipeline.dag.PLOTS` declares in ``dvc.yaml`` (title, axis labels, template), so that
``dvc plots show`` / ``dvc plots diff`` draw them against the right axis. Everything is read from
the report stage's artifacts through the :class:`ReportContext` (time series weekly: means over
banks with status ok, then over the week ending Friday); a series whose artifacts are
absent, marked not estimable or without rows is not written (``dvc plots show`` then skips it).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.report.core import ReportContext, write_frames

PREFIX = "series_"


def _weekly_mean(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None:
        return None
    ok = frame[frame["status"].astype(str) == "ok"].dropna(subset=["delta_covar"])
    mean = ok.groupby("date", sort=True)["delta_covar"].mean().resample("W-FRI").mean().dropna() * 100.0
    return mean.rename("mean_delta_covar_pct").rename_axis("date").reset_index() if len(mean) else None


def system_covar(r: ReportContext) -> pd.DataFrame | None:
    weekly = r.artifact("spillover_index_weekly", ["date", "improved_index", "traditional_index"])
    if weekly is None:
        return None
    return pd.DataFrame({"date": weekly["date"], "improved_index_pct": weekly["improved_index"] * 100.0,
                         "traditional_index_pct": weekly["traditional_index"] * 100.0})


def covar_dcc(r: ReportContext) -> pd.DataFrame | None:
    return _weekly_mean(r.artifact("covar_dcc", ["bank_id", "date", "delta_covar", "status"]))


def covar_qr(r: ReportContext) -> pd.DataFrame | None:
    return _weekly_mean(r.artifact("covar_qr", ["bank_id", "date", "delta_covar", "status"]))


def srisk_total(r: ReportContext) -> pd.DataFrame | None:
    total = r.artifact("srisk_total")
    if total is None or total["srisk_total"].notna().sum() == 0:
        return None
    total = total.dropna(subset=["srisk_total"])
    return pd.DataFrame({"date": total["date"], "srisk_total_bn": total["srisk_total"] / 1e9})


def crw(r: ReportContext) -> pd.DataFrame | None:
    frame = r.artifact("crw")
    if frame is None or "year" not in frame:  # windows keyed by window_end: no by-year chart
        return None
    frame = frame.sort_values(["year", "bank_id"], kind="mergesort")
    return pd.DataFrame({"year": frame["year"].astype(int), "bank_id": frame["bank_id"], "crw_pct": frame["crw"] * 100.0})


def firesale_sr(r: ReportContext) -> pd.DataFrame | None:
    mean = r.artifact("firesale_mean", ["alpha", "sr"])
    if mean is None:
        return None
    mean = mean.sort_values("alpha", kind="mergesort")
    return pd.DataFrame({"alpha_pct": mean["alpha"] * 100.0, "sr": mean["sr"]})


def cascade_failed_share(r: ReportContext) -> pd.DataFrame | None:
    surface = r.artifact("cascade_surface", ["system", "scenario", "alpha", "failed_share"])
    if surface is None:
        return None
    common = surface[surface["scenario"].astype(str) == "common"]
    wide = common.groupby(["alpha", "system"])["failed_share"].mean().unstack("system") * 100.0
    out = pd.DataFrame({"alpha_pct": wide.index.to_numpy() * 100.0})
    for system in ("all", "without_largest"):
        out[f"{system}_pct"] = wide[system].to_numpy() if system in wide else float("nan")
    return out


#: series name -> builder; ``pipeline.dag.PLOTS`` names the same series
SERIES = {
    "system_covar": system_covar, "covar_dcc": covar_dcc, "covar_qr": covar_qr, "srisk_total": srisk_total,
    "crw": crw, "firesale_sr": firesale_sr, "cascade_failed_share": cascade_failed_share,
}


def series_frames(report: ReportContext) -> dict[str, pd.DataFrame]:
    """The frame of every series that has data, by name (written by :func:`pipeline.report.core.write_plots`)."""
    frames = {name: build(report) for name, build in SERIES.items()}
    return {name: frame for name, frame in frames.items() if frame is not None and len(frame)}


def write_series(folder: Path, report: ReportContext) -> list[str]:
    """Only the ``series_<name>.csv`` (old ones removed first), through the plots' writer; their names."""
    frames = series_frames(report)
    write_frames(folder, {f"{PREFIX}{name}": frame for name, frame in frames.items()}, stale=f"{PREFIX}*.csv")
    return list(frames)
