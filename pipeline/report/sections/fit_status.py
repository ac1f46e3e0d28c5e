"""Estimation status: how many fits, windows, models and runs of each stage ended ok, with a warning
(kept, flagged) or failed (no value), and which banks or keys the non-ok ones concern."""

from __future__ import annotations

import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, status_kind, table_html

ID = "status"
TITLE = "Estimation status: non-converged fits and failed windows"
SUMMARY = True  # records of every stage: labelled here, not listed in the header
MAX_LISTED = 8

#: artifact -> (unit counted, rows to keep, key columns naming a unit)
UNITS = {
    "covar_dcc_estimates": ("bank DCC fit", lambda f: f[f["term"] == "dcc_a"], ("bank_id",)),
    "contagion_windows": ("Granger VAR window", None, ("year", "window_end")),
    "connectedness": ("connectedness window", None, ("window_end",)),
    "panel/fit_stats": ("panel model", None, ("model",)),
    "firesale": ("fire-sale run", None, ("year", "alpha")),
    "cascade_surface": ("cascade scenario", None, ("system", "scenario", "alpha", "beta")),
}


def _key_text(row: pd.Series, keys: list[str]) -> str:
    return "/".join(f"{row[k]:%Y-%m-%d}" if isinstance(row[k], pd.Timestamp) else f"{row[k]}" for k in keys)


def status_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per artifact and status: the unit, the count and the first keys (all of them ok: just the count)."""
    rows = []
    for name, frame in frames.items():
        unit, select, key_columns = UNITS[name]
        frame = select(frame) if select else frame
        keys = [k for k in key_columns if k in frame.columns]
        text = frame["status"].astype(str)
        for status, g in frame.groupby(text, sort=True):
            listed = [] if status == "ok" else [_key_text(r, keys) for _, r in g.head(MAX_LISTED).iterrows()]
            more = f" … ({len(g)})" if len(g) > MAX_LISTED and listed else ""
            rows.append({"artifact": name, "unit": unit, "kind": status_kind(pd.Series([status])).iloc[0],
                         "status": status, "count": len(g), "concerns": ", ".join(listed) + more})
    return pd.DataFrame(rows, columns=["artifact", "unit", "kind", "status", "count", "concerns"])


def build(ctx: ReportContext) -> Section | None:
    frames = {name: ctx.artifact(name) for name in UNITS}
    frames = {name: frame for name, frame in frames.items() if frame is not None and "status" in frame.columns}
    if not frames:
        return None
    table = status_table(frames)
    kinds = table.groupby(["artifact", "kind"])["count"].sum()
    metrics = {name: {kind: int(kinds.get((name, kind), 0)) for kind in ("ok", "warning", "failed")} for name in frames}
    blocks = [table_html(table, caption="Status of every fit, window, model and run, by artifact", digits=0,
                         wrap=True, name="status")]
    return Section(ID, TITLE, intro(ctx), blocks, metrics, {"fits": table})


def intro(ctx: ReportContext) -> str:
    return text.render(ID)
