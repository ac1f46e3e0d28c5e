"""CoES and ΔCoES next to ΔCoVaR: the expected-shortfall analogue, by DCC and by quantile regression (docs/covar.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.figures import COLOURS, episodes_within, legend_outside, shade_episodes

ID = "coes"
TITLE = "CoES and ΔCoES: the expected shortfall of the system given a bank's distress"
COLUMNS = ("bank_id", "date", "delta_covar", "covar", "coes", "delta_coes", "status")
SOURCES = {"covar_dcc": "DCC", "covar_qr": "QR"}


def _ok(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Rows with status ok and the CoES columns present and finite (None when there are none)."""
    if frame is None or not {"coes", "delta_coes"} <= set(frame.columns):
        return None
    ok = frame[(frame["status"].astype(str) == "ok") & frame["delta_coes"].notna()]
    return ok if len(ok) else None


def bank_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per bank: mean ΔCoVaR, ΔCoES and CoES/CoVaR of each estimator (percent daily loss), ranked by ΔCoES."""
    parts = []
    for label, frame in frames.items():
        g = frame.groupby("bank_id")
        parts.append(pd.DataFrame({f"ΔCoVaR {label} (%)": g["delta_covar"].mean() * 100,
                                   f"ΔCoES {label} (%)": g["delta_coes"].mean() * 100,
                                   f"CoES/CoVaR {label}": (g["coes"].mean() / g["covar"].mean())}))
    table = pd.concat(parts, axis=1)
    key = table.columns[1]
    table = table.sort_values([key], ascending=False, kind="mergesort")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.index.name = "bank"
    return table.reset_index()


def _kendall(frame: pd.DataFrame) -> float:
    """Kendall τ of the banks' mean ΔCoVaR and mean ΔCoES (rank agreement of the two measures)."""
    means = frame.groupby("bank_id")[["delta_covar", "delta_coes"]].mean()
    return float(means["delta_covar"].corr(means["delta_coes"], method="kendall")) if len(means) > 1 else float("nan")


def build(ctx: ReportContext) -> Section | None:
    raw = {name: ctx.artifact(name) for name in SOURCES}  # read both before returning (marks, empties)
    frames = {SOURCES[name]: ok for name, frame in raw.items() if (ok := _ok(frame)) is not None}
    if not frames:
        return None
    blocks: list[str] = []
    metrics: dict[str, object] = {}
    plots: dict[str, pd.DataFrame] = {}
    medians = {label: f.pivot(index="date", columns="bank_id", values=["delta_covar", "delta_coes"]).T.groupby(level=0)
               .median().T * 100 for label, f in frames.items()}
    first = min(m.index.min() for m in medians.values())
    last = max(m.index.max() for m in medians.values())
    episodes = episodes_within(ctx.episodes, first, last)

    def draw(fig):
        axes = np.atleast_1d(fig.subplots(len(medians), 1, sharex=True))
        for k, (ax, (label, m)) in enumerate(zip(axes, medians.items())):
            ax.plot(m.index, m["delta_covar"].to_numpy(), lw=0.8, color=COLOURS["blue"], label="ΔCoVaR")
            ax.plot(m.index, m["delta_coes"].to_numpy(), lw=0.8, color=COLOURS["vermillion"], label="ΔCoES")
            ax.set_ylabel(f"{label}: median,\n% daily loss")
            shade_episodes(ax, episodes, names=k == 0)
        axes[-1].set_xlabel("date")
        legend_outside(fig, where="below")

    blocks.append(figure_html(draw, caption="Cross-sectional median of ΔCoVaR and ΔCoES per day, "
                              + " and ".join(medians) + ", daily loss in percent"
                              + ("; shaded: stress episodes" if episodes else ""), name="median",
                              height=2.2 * len(medians) + 1.0))
    plots["median"] = pd.concat([m.add_prefix(f"{label.lower()}_") for label, m in medians.items()], axis=1).reset_index()
    table = bank_table(frames)
    blocks.append(table_html(table, caption="Time-series means per bank (status ok rows): ΔCoVaR and ΔCoES in percent "
                             "daily loss; CoES/CoVaR = ratio of the mean levels; ranked by the first estimator's ΔCoES",
                             digits=3, name="banks"))
    plots["banks"] = table
    for label, f in frames.items():
        means = f.groupby("bank_id")["delta_coes"].mean()
        key = label.lower()
        metrics[f"delta_coes_mean_pct_{key}"] = float(f["delta_coes"].mean() * 100)
        metrics[f"delta_covar_mean_pct_{key}"] = float(f["delta_covar"].mean() * 100)
        metrics[f"top_bank_{key}"] = str(means.sort_values(ascending=False, kind="mergesort").index[0])
        metrics[f"kendall_tau_covar_coes_{key}"] = _kendall(f)
    metrics["conditioning_dcc"] = ctx.param("covar_dcc", "measures.covar_dcc.conditioning")
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    """The section text with q, the DCC conditioning and the QR grid recorded in the artifacts' provenance."""
    return text.render(ID, q_dcc=ctx.param("covar_dcc", "measures.covar_dcc.q"),
                       conditioning=ctx.param("covar_dcc", "measures.covar_dcc.conditioning"),
                       q_qr=ctx.param("covar_qr", "measures.covar_qr.q"),
                       levels=ctx.param("covar_qr", "measures.covar_qr.coes_levels"))
