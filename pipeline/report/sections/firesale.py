"""Double-layer fire sales under a real-estate credit shock (Zhang–Guo–Wen–Sun; docs/firesale.md): the SR
curve over the shock α per year, its decompositions, failures, W and TW, and the three regions.

Everything is read from the ``stress_firesale`` artifacts: the curves per year (``firesale``), their mean
over years (``firesale_mean``), the regions per year (``firesale_regions``) and of the mean curve
(``firesale_mean_regions``, by the stage's ``il_share``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.provenance import NOT_RECORDED

ID = "firesale"
TITLE = "Fire-sale stress test (double-layer fire sales)"
INTRO = (
    "Stress test of Zhang–Guo–Wen–Sun (docs/firesale.md), run by the "
    "<code>stress_firesale</code> stage on every year's cross-section of banks. At t = 0 a share α of every bank's "
    "real-estate loans (plus α·ρ<sub>s</sub> of its loans to sectors correlated with real estate) is lost; banks whose "
    "capital cannot absorb it fail at once. A surviving bank whose assets exceed r* times its capital "
    "(<code>r_star</code> = {r_star}) sells assets: first interbank assets at no loss, then loans "
    "and securities in proportion to their book values; each round's sales lower the loan and securities prices "
    "linearly (ω per currency unit sold, calibrated so that selling a stated share of the system's saleable stock "
    "moves the price by a stated percentage), which costs capital and liquidity and can make further banks fail "
    "(insolvency: negative capital gap; liquidity: negative liquidity gap). α runs over the grid of "
    "<code>stress.firesale.alpha</code> ({grid}). "
    "<b>LL</b> (liquidity loss) = interbank assets sold + securities sold + securities write-downs, over the system's "
    "liquid assets at t = 0; <b>CL</b> (capital loss) = direct shock loss (LOSSRE) + securities write-downs (LOSSSI) "
    "+ losses on loans sold (LOSSLA), over the system's capital at t = 0. <b>SR</b> = LL + CL = DL + IL, with DL the "
    "direct loss (= LOSSRE) and IL the indirect (contagion) loss. LL or CL above 1 mean a system-wide liquidity "
    "shortage or insolvency. <b>T</b> (rounds) counts the rounds in which some bank sold; <b>failed banks</b> "
    "counts every failure including round 0; <b>W</b> is the asset-weighted failure round (Σ<sub>t</sub> t × assets "
    "of the banks failing in round t / total assets) and <b>TW</b> its arc elasticity between neighbouring α "
    "(ΔW/W over Δα/α; blank where W was 0). <b>Regions</b> (the project's rule, the paper names them only in words): "
    "the <i>contagion</i> region spans the α from the first to the last point where IL is at least "
    "<code>il_share</code> = {il_share} of its maximum over the grid; <i>relief</i> (linear, losses absorbed) "
    "lies before it and <i>outbreak</i> (linear, banks fail at once) after it. Curves marked 'mean' average the "
    "years' values at each α, and the stage computes the mean curve's regions by the same rule and il_share. A status other than ok "
    "flags a run where a guard acted (e.g. HoldingFloor: a survivor that sold all its securities ended with "
    "negative holdings after the securities write-down of docs/firesale.md and was floored at 0)."
)

_REGION_COLOURS = {"relief": "#2ca02c", "contagion": "#d62728", "outbreak": "#7f7f7f"}


def intro(ctx: ReportContext) -> str:
    """The section text with the parameter values recorded in the artifacts' provenance."""
    r_star = ctx.param("firesale", "stress.firesale.r_star")
    grid = ctx.param("firesale", "stress.firesale.alpha")
    il_share = ctx.param("firesale_mean_regions", "stress.firesale.il_share")
    leverage = f", a {100 / r_star:g}% leverage ratio" if isinstance(r_star, (int, float)) and r_star > 0 else ""
    return INTRO.format(
        r_star=NOT_RECORDED if r_star is None else f"{r_star:g}{leverage}",
        grid=f"{100 * grid['start']:g}% to {100 * grid['stop']:g}% by {100 * grid['step']:g}%"
        if isinstance(grid, dict) and {"start", "stop", "step"} <= set(grid) else f"values: {NOT_RECORDED}",
        il_share=NOT_RECORDED if il_share is None else f"{100 * il_share:g}%",
    )


def _shade(ax, regions: pd.DataFrame, step: float) -> None:
    for reg in regions.itertuples(index=False):
        ax.axvspan(100 * (reg.alpha_from - step / 2), 100 * (reg.alpha_to + step / 2),
                   color=_REGION_COLOURS.get(reg.region, "#cccccc"), alpha=0.08, lw=0)


def build(ctx: ReportContext) -> Section | None:
    curve = ctx.artifact("firesale")
    regions = ctx.artifact("firesale_regions")
    mean = ctx.artifact("firesale_mean")
    mean_regions = ctx.artifact("firesale_mean_regions")
    if curve is None or regions is None or mean is None or mean_regions is None or curve.empty:
        return None
    years = sorted(int(y) for y in curve["year"].unique())
    mean = mean.sort_values("alpha", kind="mergesort").reset_index(drop=True)
    alpha_pct = 100 * mean["alpha"].to_numpy()
    step = float(np.median(np.diff(mean["alpha"]))) if len(mean) > 1 else 0.005

    def draw_mean(fig):
        axes = fig.subplots(1, 3)
        for ax, col, label in zip(axes, ("sr", "rounds", "n_failed"), ("mean SR", "mean rounds T", "mean failed banks"),
                                  strict=True):
            _shade(ax, mean_regions, step)
            ax.plot(alpha_pct, mean[col].to_numpy(), color="#333", lw=1.1)
            ax.set_xlabel("α, % of real-estate loans lost")
            ax.set_title(label)
            ax.grid(alpha=0.3)

    def draw_years(fig):
        ax = fig.subplots()
        cmap = __import__("matplotlib").colormaps["viridis"]
        for k, year in enumerate(years):
            part = curve[curve["year"] == year]
            ax.plot(100 * part["alpha"].to_numpy(), part["sr"].to_numpy(), lw=0.9,
                    color=cmap(k / max(len(years) - 1, 1)), label=str(year))
        ax.plot(alpha_pct, mean["sr"].to_numpy(), color="black", lw=1.6, ls="--", label="mean")
        ax.axhline(1.0, color="#999", lw=0.6)
        ax.set_xlabel("α, %")
        ax.set_ylabel("SR")
        ax.grid(alpha=0.3)
        ax.legend(ncol=5, fontsize=7)

    def draw_decomposition(fig):
        ax1, ax2, ax3 = fig.subplots(1, 3)
        ax1.stackplot(alpha_pct, mean["delina"], mean["delsi"], mean["delloss"],
                      labels=["DELINA interbank sold", "DELSI securities sold", "DELLOSS securities write-down"],
                      colors=["#9ecae1", "#3182bd", "#08519c"])
        ax1.set_title("LL (mean over years)")
        ax2.stackplot(alpha_pct, mean["lossre"], mean["losssi"], mean["lossla"],
                      labels=["LOSSRE direct loss", "LOSSSI securities write-down", "LOSSLA loan-sale loss"],
                      colors=["#fdae6b", "#e6550d", "#a63603"])
        ax2.set_title("CL (mean over years)")
        ax3.plot(alpha_pct, mean["dl"], label="DL direct", color="#e6550d")
        ax3.plot(alpha_pct, mean["il"], label="IL indirect", color="#3182bd")
        ax3.set_title("SR = DL + IL (mean)")
        for ax in (ax1, ax2, ax3):
            _shade(ax, mean_regions, step)
            ax.axhline(1.0, color="#999", lw=0.6)
            ax.set_xlabel("α, %")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")

    def draw_failures(fig):
        ax1, ax2, ax3 = fig.subplots(1, 3)
        ax1.plot(alpha_pct, mean["n_failed_insolvency"], label="insolvency", color="#a63603")
        ax1.plot(alpha_pct, mean["n_failed_liquidity"], label="liquidity", color="#3182bd")
        ax1.set_title("failed banks by cause (mean)")
        ax1.legend(fontsize=7)
        for year in years:
            part = curve[curve["year"] == year]
            ax2.plot(100 * part["alpha"].to_numpy(), part["w"].to_numpy(), lw=0.7, alpha=0.7)
            ax3.plot(100 * part["alpha"].to_numpy(), part["tw"].to_numpy(), lw=0.7, alpha=0.7)
        ax2.plot(alpha_pct, mean["w"], color="black", lw=1.4, ls="--")
        ax2.set_title("W by year (dashed: mean)")
        ax3.set_title("TW by year")
        ax3.set_yscale("symlog", linthresh=1.0)
        for ax in (ax1, ax2, ax3):
            _shade(ax, mean_regions, step)
            ax.set_xlabel("α, %")
            ax.grid(alpha=0.3)

    table = regions.copy()
    for col in ("alpha_from", "alpha_to", "alpha_sr_max"):
        table[col] = 100 * table[col]
    mean_table = mean_regions.copy()
    for col in ("alpha_from", "alpha_to", "alpha_sr_max"):
        mean_table[col] = 100 * mean_table[col]
    statuses = curve["status"].value_counts().sort_index()
    n_banks = curve.groupby("year")["n_banks"].first()
    summary = pd.DataFrame({
        "year": years,
        "banks": [int(n_banks[y]) for y in years],
        "omega": [float(curve.loc[curve["year"] == y, "omega"].iloc[0]) for y in years],
        "sr_max": [float(curve.loc[curve["year"] == y, "sr"].max()) for y in years],
        "alpha_sr_max_pct": [100 * float(curve.loc[curve["year"] == y].sort_values("alpha").set_index("alpha")["sr"].idxmax())
                             for y in years],
        "first_failure_alpha_pct": [_first_alpha(curve[curve["year"] == y], "n_failed", 1) for y in years],
        "all_fail_at_t0_alpha_pct": [_first_alpha(curve[curve["year"] == y], "rounds", None) for y in years],
    })
    blocks = [
        figure_html(draw_mean, caption="Mean over years of SR, rounds T and failed banks over α; shaded: regions of the "
                    "mean curve (green relief, red contagion, grey outbreak)", height=3.2),
        figure_html(draw_years, caption="SR over α, one line per year; horizontal line: 1", height=3.6),
        figure_html(draw_decomposition, caption="Decompositions of the mean curve: LL, CL and DL/IL", height=3.4),
        figure_html(draw_failures, caption="Failures by cause (mean), W and TW per year", height=3.2),
        table_html(mean_table, caption="Regions of the mean SR curve (α in percent)", digits=3),
        table_html(table, caption="Regions per year (α in percent): span, highest SR and where, most failed banks, "
                   "most rounds", digits=3),
        table_html(summary, caption="Per year: banks, price impact ω per currency unit, peak SR and its α, the first α "
                   "with a failure, the first α from which no bank sells (every bank fails at t = 0 or none needs to)",
                   digits=3),
        table_html(pd.DataFrame({"status": statuses.index, "runs": statuses.to_numpy()}),
                   caption="Run statuses (year × α)"),
    ]
    contagion = mean_regions[mean_regions["region"] == "contagion"]
    metrics = {
        "years": len(years),
        "runs": len(curve),
        "runs_not_ok": int((curve["status"] != "ok").sum()),
        "mean_sr_max": float(mean["sr"].max()),
        "mean_alpha_sr_max": float(mean.loc[mean["sr"].idxmax(), "alpha"]),
        "mean_contagion_from": float(contagion["alpha_from"].iloc[0]) if len(contagion) else None,
        "mean_contagion_to": float(contagion["alpha_to"].iloc[0]) if len(contagion) else None,
    }
    return Section(ID, TITLE, intro(ctx), blocks, metrics,
                   {"mean_curve": mean, "regions": regions, "summary": summary})


def _first_alpha(part: pd.DataFrame, column: str, at_least: int | None) -> float:
    """First α (percent) with ``column >= at_least``; with ``at_least=None`` the first α from which
    ``column`` stays 0 to the end of the grid (NaN when it never does)."""
    part = part.sort_values("alpha")
    values = part[column].to_numpy()
    if at_least is not None:
        hit = np.flatnonzero(values >= at_least)
        return float(100 * part["alpha"].iloc[hit[0]]) if hit.size else float("nan")
    nonzero = np.flatnonzero(values != 0)
    k = 0 if not nonzero.size else nonzero[-1] + 1
    return float(100 * part["alpha"].iloc[k]) if k < len(part) else float("nan")
