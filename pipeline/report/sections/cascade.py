"""Cascade failures on the bank–asset network (Fan–Rong–Duan; docs/cascade.md): surfaces, hierarchies, boundaries, DebtRank."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, table_html

SYSTEM_LABEL = {"all": "all banks", "without_largest": "without the largest banks"}
MAX_LISTED = 8

ID = "cascade"
TITLE = "Cascade failures on the bank–asset network"
INTRO = (
    "Balance-sheet contagion after Fan–Rong–Duan (docs/cascade.md). Each bank holds external assets in three classes "
    "(loans other than real-estate loans, real-estate loans, securities), other assets that are neither shocked nor "
    "sold, and interbank claims. The interbank matrix is estimated from each bank's total interbank assets and "
    "liabilities (maximum entropy by RAS, or minimum density); the first table gives its diagnostics: the totals of "
    "the two margins, their relative mismatch (ΣA − ΣL)/max(ΣA, ΣL) (both margins are rescaled to a common total when "
    "it is not 0), the largest relative error of a row or column sum after estimation, the RAS sweeps, the number of "
    "links and the density (links / n(n−1)). In a scenario every external asset first loses the share α (common shock) "
    "or named banks fail; a failed bank sells all its external assets, so the price of each class falls by β times the "
    "share of the class sold (β = fire-sale discount; the market of each class is <code>market_depth</code> times the "
    "banks' holdings); its interbank creditors recover what its remaining assets pay (endogenous recovery); every bank "
    "is revalued and fails when its equity falls below its threshold. Iterating gives the final set of failures and the "
    "<em>default hierarchy</em>: layer 1 = the named banks and those the shock fails by itself, layer k = banks that "
    "fail because of layers &lt; k. <b>Heatmaps</b>: share of banks failed at the fixed point over the (α, β) grid, "
    "for all banks and for the system without the largest banks (\"too many to fail\", Fan–Rong–Duan fig. 2). "
    "<b>Hierarchy tables</b> (Fan–Rong–Duan tables 4–8): for each named-failure scenario, the banks of each layer "
    "(columns: β; at most eight banks are listed per cell, then the count). <b>Failure boundaries</b> (Fan–Rong–Duan tables "
    "2–3): the smallest loss on a bank's own external assets that makes it fail (equity − threshold, in currency units, "
    "and as a share of its external assets); for a group, the smallest uniform write-down of all members' external "
    "assets at which every member has failed, the cascade among them included (joint failure), and the distribution "
    "of the members' individual boundaries (mean, standard deviation, minimum, quartiles, maximum). <b>DebtRank</b> "
    "(Battiston et al. 2012): the share of the system's capital lost through the interbank matrix when the bank alone "
    "defaults, with a 100% loss given default and no fire sales. Money is in the data's currency units."
)


def _heatmap(surface: pd.DataFrame):
    systems = [s for s in SYSTEM_LABEL if s in set(surface["system"])]

    def draw(fig):
        axes = fig.subplots(1, len(systems), squeeze=False)[0]
        for ax, system in zip(axes, systems, strict=True):
            grid = surface[surface["system"] == system].pivot(index="beta", columns="alpha", values="failed_share")
            mesh = ax.pcolormesh(grid.columns.to_numpy(), grid.index.to_numpy(), grid.to_numpy(), vmin=0, vmax=1,
                                 cmap="viridis", shading="nearest")
            ax.set_xlabel("common shock α")
            ax.set_ylabel("fire-sale discount β")
            ax.set_title(f"share failed, {SYSTEM_LABEL[system]}")
        fig.colorbar(mesh, ax=list(axes), shrink=0.9)

    return figure_html(draw, caption="Share of banks failed over the (α, β) grid (common shock)", height=3.8)


def _cell(banks: list[str]) -> str:
    banks = sorted(banks)
    if len(banks) <= MAX_LISTED:
        return ", ".join(banks)
    return ", ".join(banks[:MAX_LISTED]) + f" … ({len(banks)} banks)"


def hierarchy_tables(hierarchy: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One table per (system, scenario): rows = layers, columns = β, cells = the banks of the layer."""
    out = []
    for (system, scenario), g in hierarchy.groupby(["system", "scenario"], sort=True):
        betas = sorted(g["beta"].unique())
        layers = range(1, int(g["layer"].max()) + 1)
        rows = []
        for k in layers:
            row = {"layer": k}
            for b in betas:
                members = list(g.loc[(g["beta"] == b) & (g["layer"] == k), "bank_id"])
                if k == 1 and len(members) > MAX_LISTED:
                    row[f"β={b:g}"] = f"{scenario} ({len(members)} banks)"
                else:
                    row[f"β={b:g}"] = _cell(members)
            rows.append(row)
        total = {"layer": "failed"}
        total.update({f"β={b:g}": str(int((g["beta"] == b).sum())) for b in betas})
        rows.append(total)
        out.append((f"{scenario}, {SYSTEM_LABEL.get(system, system)}", pd.DataFrame(rows).astype(object)))
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


def build(ctx: ReportContext) -> Section | None:
    surface, matrix, hierarchy, bounds, debt = (ctx.artifact(name) for name in (
        "cascade_surface", "cascade_matrix", "cascade_hierarchy", "cascade_boundary", "debtrank"))
    if all(frame is None for frame in (surface, matrix, hierarchy, bounds, debt)):
        return None
    common = surface[surface["scenario"] == "common"] if surface is not None else None
    blocks = []
    if matrix is not None:
        blocks.append(table_html(matrix, caption="Interbank matrix estimation", digits=4))
    if common is not None and len(common):
        blocks.append(_heatmap(common))
    if surface is not None:
        named = surface[surface["scenario"] != "common"][["system", "scenario", "alpha", "beta", "n_failed",
                                                          "failed_share", "rounds", "loss_fire_sale", "loss_interbank",
                                                          "status"]]
        if len(named):
            blocks.append(table_html(named, caption="Named-failure scenarios: failures, layers and losses by channel",
                                     digits=3))
    if hierarchy is not None:
        for title, table in hierarchy_tables(hierarchy):
            blocks.append(table_html(table, caption=f"Default hierarchy: {title}"))
    metrics: dict = {}
    if bounds is not None:
        banks = bounds[bounds["kind"] == "bank"].sort_values("size_rank")
        top = banks.head(15)[["id", "group", "size_rank", "capital", "external_assets", "boundary", "fraction"]]
        blocks.append(table_html(top, caption="Failure boundary of the largest banks (currency units; fraction of external assets)", digits=4))
        stats = boundary_stats(bounds)
        blocks.append(table_html(stats, caption="Failure boundaries by group: joint boundary and the members' individual boundaries", digits=4))
        metrics["boundary"] = {r.group: {"joint": r.joint_boundary, "mean_individual": r.mean} for r in stats.itertuples()}
    if debt is not None:
        ranked = debt.sort_values(["debtrank", "bank_id"], ascending=[False, True]).head(15)
        blocks.append(table_html(ranked, caption="DebtRank of each bank defaulting alone (top 15)", digits=4))
        metrics["debtrank_max"] = float(debt["debtrank"].max())
    plots = {}
    if common is not None:
        for system, g in common.groupby("system", sort=True):
            metrics[f"mean_failed_share_{system}"] = float(g["failed_share"].mean())
        plots["surface"] = common[["system", "alpha", "beta", "failed_share"]].reset_index(drop=True)
    return Section(ID, TITLE, INTRO, blocks, metrics, plots)
