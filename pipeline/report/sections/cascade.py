"""Cascade failures on the bank–asset network (Fan–Rong–Duan; docs/cascade.md): surfaces, hierarchies, boundaries, DebtRank."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html

SYSTEM_LABEL = {"all": "all banks", "without_largest": "without the largest banks"}
MAX_LISTED = 8

ID = "cascade"
TITLE = "Cascade failures on the bank–asset network"


def _heatmap(surface: pd.DataFrame):
    systems = [s for s in SYSTEM_LABEL if s in set(surface["system"])]

    def draw(fig):
        axes = fig.subplots(1, len(systems), squeeze=False)[0]
        for ax, system in zip(axes, systems, strict=True):
            grid = surface[surface["system"] == system].pivot(index="beta", columns="alpha", values="failed_share")
            mesh = ax.pcolormesh(grid.columns.to_numpy(), grid.index.to_numpy(), grid.to_numpy(), vmin=0, vmax=1,
                                 cmap="viridis", shading="nearest", rasterized=True)
            ax.set_xlabel("common shock α (share of external assets lost)")
            ax.set_ylabel("fire-sale discount β")
            ax.set_title(SYSTEM_LABEL[system])
            ax.grid(False)
        fig.colorbar(mesh, ax=list(axes), shrink=0.9, label="share of banks failed at the fixed point")

    return figure_html(draw, caption="Share of banks failed over the (α, β) grid under a common shock, for all banks "
                       "and for the system without the largest banks", height=3.8, name="heatmap")


def _cell(banks: list[str]) -> str:
    banks = sorted(banks)
    if len(banks) <= MAX_LISTED:
        return ", ".join(banks)
    return ", ".join(banks[:MAX_LISTED]) + f" … ({len(banks)} banks)"


def hierarchy_tables(hierarchy: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One table per (system, scenario), long: a row per β and layer with the number of banks
    failing in it and the banks (at most :data:`MAX_LISTED` named, then the count)."""
    out = []
    for (system, scenario), g in hierarchy.groupby(["system", "scenario"], sort=True):
        rows = []
        for (beta, layer), members in g.groupby(["beta", "layer"], sort=True)["bank_id"]:
            banks = list(members)
            named = (f"{scenario} ({len(banks)} banks)" if layer == 1 and len(banks) > MAX_LISTED else _cell(banks))
            rows.append({"fire-sale discount β": float(beta), "layer": int(layer), "banks failing": len(banks),
                         "banks": named})
        out.append((f"{scenario}, {SYSTEM_LABEL.get(system, system)}", pd.DataFrame(rows)))
    return out


def boundary_stats(bounds: pd.DataFrame) -> pd.DataFrame:
    """Fan–Rong–Duan table 3: the members' individual boundaries and the group's joint boundary, per group."""
    banks = bounds[bounds["kind"] == "bank"].set_index("id")
    rows = []
    for g in bounds[bounds["kind"] == "group"].itertuples(index=False):
        if g.id.startswith("group:"):
            members = banks[banks["group"] == g.id.removeprefix("group:")]
        elif g.id.startswith("largest_"):
            members = banks[banks["size_rank"] <= g.n_banks]
        else:  # smallest_n
            members = banks[banks["size_rank"] > len(banks) - g.n_banks]
        b = members["boundary"].replace(np.inf, np.nan)
        rows.append({"group": g.id, "n_banks": g.n_banks, "joint_boundary": g.boundary, "joint_fraction": g.fraction,
                     "mean": b.mean(), "sd": b.std(), "min": b.min(), "q25": b.quantile(0.25), "q50": b.median(),
                     "q75": b.quantile(0.75), "max": b.max()})
    return pd.DataFrame(rows)


BILLION = 1e9
BOUNDARY_HEADERS = {"n_banks": "banks", "joint_boundary": "joint boundary (bn)", "joint_fraction": "joint, fraction of "
                    "external assets", "mean": "mean (bn)", "sd": "s.d. (bn)", "min": "min (bn)", "q25": "25% (bn)",
                    "q50": "median (bn)", "q75": "75% (bn)", "max": "max (bn)"}


def in_billions(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """``frame`` with ``columns`` divided by 10⁹ (money shown in billions of the data currency)."""
    return frame.assign(**{c: frame[c] / BILLION for c in columns if c in frame})


def build(ctx: ReportContext) -> Section | None:
    surface, matrix, hierarchy, bounds, debt = (ctx.artifact(name) for name in (
        "cascade_surface", "cascade_matrix", "cascade_hierarchy", "cascade_boundary", "debtrank"))
    if all(frame is None for frame in (surface, matrix, hierarchy, bounds, debt)):
        return None
    common = surface[surface["scenario"] == "common"] if surface is not None else None
    blocks = []
    if matrix is not None:
        shown = in_billions(matrix, ("total_interbank_assets", "total_interbank_liabilities")).rename(columns={
            "period_end": "balance sheet of", "total_interbank_assets": "interbank assets ΣA (bn)",
            "total_interbank_liabilities": "interbank liabilities ΣL (bn)", "relative_mismatch": "(ΣA − ΣL)/max",
            "max_margin_error": "largest margin error (relative)", "iterations": "RAS sweeps", "n_links": "links"})
        blocks.append(table_html(shown, caption="Interbank matrix estimation (money in billions of the data currency)",
                                 digits=4, name="matrix", wrap=True))
    if common is not None and len(common):
        blocks.append(_heatmap(common))
    if surface is not None:
        named = surface[surface["scenario"] != "common"][["system", "scenario", "alpha", "beta", "n_failed",
                                                          "failed_share", "rounds", "loss_fire_sale", "loss_interbank",
                                                          "status"]]
        if len(named):
            named = in_billions(named, ("loss_fire_sale", "loss_interbank")).rename(columns={
                "n_failed": "banks failed", "failed_share": "share failed", "rounds": "rounds (layers)",
                "loss_fire_sale": "fire-sale loss (bn)", "loss_interbank": "interbank loss (bn)"})
            blocks.append(table_html(named, caption="Named-failure scenarios: failures, rounds and losses by channel "
                                     "(billions of the data currency)", digits=3, name="named", max_rows=12))
    if hierarchy is not None:
        for title, table in hierarchy_tables(hierarchy):
            blocks.append(table_html(table, caption=f"Default hierarchy: {title}: the banks failing in each layer, per "
                                     "fire-sale discount β", name=f"hierarchy {title}", wrap=True, max_rows=12, digits=2))
    metrics: dict = {}
    if bounds is not None:
        banks = bounds[bounds["kind"] == "bank"].sort_values("size_rank")
        top = in_billions(banks.head(15), ("capital", "external_assets", "boundary"))[
            ["id", "group", "size_rank", "capital", "external_assets", "boundary", "fraction"]].rename(columns={
                "id": "bank", "size_rank": "size rank", "capital": "capital (bn)", "external_assets": "external assets (bn)",
                "boundary": "failure boundary (bn)", "fraction": "boundary, fraction of external assets"})
        blocks.append(table_html(top, caption="Failure boundary of the 15 largest banks: the smallest loss on its own "
                                 "external assets that makes the bank fail (billions of the data currency)", digits=3,
                                 name="boundary_banks"))
        stats = boundary_stats(bounds)
        blocks.append(table_html(in_billions(stats, ("joint_boundary", "mean", "sd", "min", "q25", "q50", "q75", "max"))
                                 .rename(columns=BOUNDARY_HEADERS), caption="Failure boundaries by group: the joint "
                                 "boundary and the distribution of the members' individual boundaries (billions of the "
                                 "data currency)", digits=3, name="boundary_groups"))
        metrics["boundary"] = {r.group: {"joint": r.joint_boundary, "mean_individual": r.mean} for r in stats.itertuples()}
    if debt is not None:
        ranked = debt.sort_values(["debtrank", "bank_id"], ascending=[False, True]).head(15)
        blocks.append(table_html(ranked, caption="DebtRank of each bank defaulting alone (share of the system's "
                                 "capital lost; top 15)", digits=4, name="debtrank"))
        metrics["debtrank_max"] = float(debt["debtrank"].max())
    plots = {}
    if common is not None:
        for system, g in common.groupby("system", sort=True):
            metrics[f"mean_failed_share_{system}"] = float(g["failed_share"].mean())
        plots["surface"] = common[["system", "alpha", "beta", "failed_share"]].reset_index(drop=True)
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    return text.render(ID)
