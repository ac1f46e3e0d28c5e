"""How stable is this ranking? Bootstrap rank intervals, P(top k) and Kendall τ (docs/rankings.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.provenance import NOT_RECORDED

ID = "rankings"
#: the ranked measures in report order, with their labels
LABELS = {"covar_qr": "ΔCoVaR-QR", "covar_dcc": "ΔCoVaR-DCC", "mes": "MES", "srisk": "SRISK"}
TITLE = "How stable is this ranking?"


def _cell(row) -> str:
    if not np.isfinite(row["rank"]):
        return "–"
    return f"{row['rank']:.0f} [{row['rank_lo']:.0f}–{row['rank_hi']:.0f}]"


def rank_cells(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Bank x ``column`` table of ``rank [lo–hi]`` cells (banks sorted)."""
    cells = frame.assign(cell=frame.apply(_cell, axis=1))
    wide = cells.pivot(index="bank_id", columns=column, values="cell").sort_index().fillna("–")
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index().rename(columns={"bank_id": "bank"})


def _draw_intervals(fig, panels: list[tuple[str, pd.DataFrame]]) -> None:
    ncols = min(len(panels), 5)
    axes = np.atleast_1d(fig.subplots(1, ncols, sharey=False)).ravel()
    fig.subplots_adjust(wspace=0.6)
    for ax, (label, frame) in zip(axes, panels):
        f = frame.dropna(subset=["rank"]).sort_values(["rank", "bank_id"], kind="mergesort")
        y = np.arange(len(f))
        ax.hlines(y, f["rank_lo"], f["rank_hi"], color="#1f4e79", lw=2.0, alpha=0.7)
        ax.plot(f["rank"], y, "o", color="#8c1c13", ms=3.5)
        ax.set_yticks(y, f["bank_id"].tolist(), fontsize=6)
        ax.invert_yaxis()
        ax.set_xlim(0.5, max(len(f), 1) + 0.5)
        ax.set_xlabel("rank (1 = most systemic)", fontsize=7)
        ax.set_title(label, fontsize=8)
        ax.grid(axis="x", alpha=0.3)


def build(ctx: ReportContext) -> Section | None:
    ranks, crw, tau = (ctx.artifact(name) for name in ("rankings", "rankings_crw", "rankings_tau"))
    if ranks is None and crw is None:
        return None
    k = ctx.param("rankings", "measures.rankings.top_k") or ctx.param("rankings_crw", "measures.rankings.top_k")
    blocks, metrics, plots, panels = [], {}, {}, []
    if ranks is not None:
        order = [m for m in LABELS if m in set(ranks["measure"])] + sorted(set(ranks["measure"]) - set(LABELS))
        for measure in order:
            g = ranks[ranks["measure"] == measure]
            panels.append((LABELS.get(measure, measure), g))
            top = g.sort_values(["rank", "bank_id"]).iloc[0]
            metrics[measure] = {"mean_interval_width": float((g["rank_hi"] - g["rank_lo"]).mean()),
                                "top_bank": str(top["bank_id"]), "top_p_top_k": float(top["p_top_k"]),
                                "block_length": float(g["block_length"].iloc[0])}
        table = rank_cells(ranks, "measure")
        ptop = ranks.pivot(index="bank_id", columns="measure", values="p_top_k").sort_index()
        ptop.columns = [f"P(top {k}) {c}" for c in ptop.columns]
        table = table.merge(ptop.reset_index().rename(columns={"bank_id": "bank"}), on="bank")
        blocks.append(table_html(table, caption="Rank of each bank by the sample mean of each measure: rank "
                                 "[percentile interval] and P(top k) (share of bootstrap replications)", digits=2, name="measures"))
        plots["measures"] = ranks
    if crw is not None:
        last = int(crw["year"].max())
        panels.append((f"CRW {last}", crw[crw["year"] == last]))
        blocks.append(table_html(rank_cells(crw, "year"), caption="CRW rank of each bank per contagion year: rank "
                                 "[percentile interval]", name="crw"))
        width = (crw["rank_hi"] - crw["rank_lo"]).groupby(crw["year"]).mean()
        metrics["crw"] = {"mean_interval_width": {str(y): float(w) for y, w in width.items()},
                          "n_banks": {str(y): int(n) for y, n in crw.groupby("year").size().items()}}
        plots["crw"] = crw
    if panels:
        blocks.insert(0, figure_html(lambda fig: _draw_intervals(fig, panels), width=10.0,
                                     height=max(3.0, 0.16 * max(len(p) for _, p in panels) + 1.2),
                                     caption="Rank of each bank on the data (dot) and its bootstrap percentile "
                                     "interval (bar); rank 1 = the most systemic", name="intervals"))
    if tau is not None:
        blocks.append(table_html(tau, caption="Kendall τ between measures and between the CRW of consecutive years, "
                                 "with its bootstrap percentile interval", digits=3, name="kendall"))
        years = tau[tau["kind"] == "crw_years"]
        if len(years):
            covers = ((years["tau_lo"] <= 0) & (years["tau_hi"] >= 0)).mean()
            metrics["crw_years_tau"] = {"mean": float(years["tau"].mean()), "share_intervals_with_0": float(covers)}
        plots["kendall"] = tau
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    """The text with B, the level, k and the block length recorded in the artifacts' provenance."""
    def param(key: str):
        values = (ctx.param(name, f"measures.rankings.{key}") for name in ("rankings", "rankings_crw"))
        return next((v for v in values if v is not None), None)

    level = param("level")
    block = param("block_length")
    ranks = ctx.artifact("rankings")
    if block is None and ranks is not None and len(ranks):
        block = f"{ranks['block_length'].iloc[0]:.0f} days for the measures by the Politis–White rule, per year for the CRW"
    found = {"replications": param("replications"), "k": param("top_k"), "block": block,
             "level": None if level is None else f"{100 * level:g}%"}
    return text.render(ID, **{key: NOT_RECORDED if v is None or (isinstance(v, float) and math.isnan(v)) else v
                           for key, v in found.items()})
