"""Double-layer fire sales under a real-estate credit shock (Zhang–Guo–Wen–Sun; docs/firesale.md): the SR
curve over the shock α per year, its decompositions, failures, W and TW, and the three regions.

Everything is read from the ``stress_firesale`` artifacts: the curves per year (``firesale``), their mean
over years (``firesale_mean``), the regions per year (``firesale_regions``) and of the mean curve
(``firesale_mean_regions``, by the stage's ``il_share``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.figures import COLOURS, legend_outside
from pipeline.report.provenance import NOT_RECORDED

ID = "firesale"
TITLE = "Fire-sale stress test (double-layer fire sales)"

_REGION_COLOURS = {"relief": "#2ca02c", "contagion": "#d62728", "outbreak": "#7f7f7f"}


def intro(ctx: ReportContext) -> str:
    """The section text with the parameter values recorded in the artifacts' provenance."""
    r_star = ctx.param("firesale", "stress.firesale.r_star")
    grid = ctx.param("firesale", "stress.firesale.alpha")
    il_share = ctx.param("firesale_mean_regions", "stress.firesale.il_share")
    phases = ctx.param("firesale_phases", "stress.firesale.phases")
    leverage = f", a {100 / r_star:g}% leverage ratio" if isinstance(r_star, (int, float)) and r_star > 0 else ""
    return text.render(ID, 
        r_star=NOT_RECORDED if r_star is None else f"{r_star:g}{leverage}",
        grid=f"{100 * grid['start']:g}% to {100 * grid['stop']:g}% by {100 * grid['step']:g}%"
        if isinstance(grid, dict) and {"start", "stop", "step"} <= set(grid) else f"values: {NOT_RECORDED}",
        il_share=NOT_RECORDED if il_share is None else f"{100 * il_share:g}%",
        phases=", ".join(f"{name} {span[0]}–{span[1]}" for name, span in phases.items())
        if isinstance(phases, dict) and phases else NOT_RECORDED,
    )


def _shade(ax, regions: pd.DataFrame, step: float) -> None:
    for reg in regions.itertuples(index=False):
        ax.axvspan(100 * (reg.alpha_from - step / 2), 100 * (reg.alpha_to + step / 2),
                   color=_REGION_COLOURS.get(reg.region, "#cccccc"), alpha=0.12, lw=0, label=f"region: {reg.region}")


ALPHA = "α, % of real-estate loans lost"
REGION_HEADERS = {"region": "region", "alpha_from": "α from (%)", "alpha_to": "α to (%)", "sr_max": "highest SR",
                  "alpha_sr_max": "α of highest SR (%)", "n_failed_max": "most failed banks", "rounds_max": "most rounds T"}


def _year_lines(ax, curve: pd.DataFrame, years: list[int], column: str):
    """One line per year, coloured by year (viridis); returns the colour map's scalar mappable."""
    import matplotlib

    norm = matplotlib.colors.Normalize(min(years), max(years) if max(years) > min(years) else min(years) + 1)
    cmap = matplotlib.colormaps["viridis"]
    for year in years:
        part = curve[curve["year"] == year]
        ax.plot(100 * part["alpha"].to_numpy(), part[column].to_numpy(), lw=0.8, color=cmap(norm(year)))
    return matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)


def build(ctx: ReportContext) -> Section | None:
    curve = ctx.artifact("firesale")
    regions = ctx.artifact("firesale_regions")
    mean = ctx.artifact("firesale_mean")
    mean_regions = ctx.artifact("firesale_mean_regions")
    if curve is None or regions is None or mean is None or mean_regions is None or curve.empty:
        return None
    years = sorted(int(y) for y in curve["year"].unique())
    curve = curve.sort_values(["year", "alpha"], kind="mergesort")
    mean = mean.sort_values("alpha", kind="mergesort").reset_index(drop=True)
    alpha_pct = 100 * mean["alpha"].to_numpy()
    step = float(np.median(np.diff(mean["alpha"]))) if len(mean) > 1 else 0.005

    def draw_mean(fig):
        axes = fig.subplots(1, 3)
        for ax, col, label in zip(axes, ("sr", "rounds", "n_failed"),
                                  ("SR (fraction of t = 0 liquidity + capital)", "rounds T", "failed banks"), strict=True):
            _shade(ax, mean_regions, step)
            ax.plot(alpha_pct, mean[col].to_numpy(), color=COLOURS["black"], lw=1.1, label="mean over years")
            ax.set_xlabel(ALPHA)
            ax.set_ylabel(label)
        legend_outside(fig, where="below")

    def draw_years(fig):
        ax = fig.subplots()
        mappable = _year_lines(ax, curve, years, "sr")
        ax.plot(alpha_pct, mean["sr"].to_numpy(), color="black", lw=1.6, ls="--", label="mean over years")
        ax.axhline(1.0, color="#999", lw=0.6)
        ax.set_xlabel(ALPHA)
        ax.set_ylabel("SR (fraction)")
        fig.colorbar(mappable, ax=ax, label="year", pad=0.02)
        legend_outside(fig, where="below")

    def draw_decomposition(fig):
        ax1, ax2, ax3 = fig.subplots(1, 3)
        ax1.stackplot(alpha_pct, mean["delina"], mean["delsi"], mean["delloss"],
                      labels=["LL: DELINA interbank sold", "LL: DELSI securities sold", "LL: DELLOSS securities write-down"],
                      colors=[COLOURS["sky"], COLOURS["blue"], COLOURS["green"]])
        ax1.set_title("LL (mean over years)")
        ax2.stackplot(alpha_pct, mean["lossre"], mean["losssi"], mean["lossla"],
                      labels=["CL: LOSSRE direct loss", "CL: LOSSSI securities write-down", "CL: LOSSLA loan-sale loss"],
                      colors=[COLOURS["orange"], COLOURS["vermillion"], COLOURS["purple"]])
        ax2.set_title("CL (mean over years)")
        ax3.plot(alpha_pct, mean["dl"], label="DL direct loss", color=COLOURS["vermillion"])
        ax3.plot(alpha_pct, mean["il"], label="IL indirect loss", color=COLOURS["blue"])
        ax3.set_title("SR = DL + IL (mean)")
        for ax in (ax1, ax2, ax3):
            _shade(ax, mean_regions, step)
            ax.axhline(1.0, color="#999", lw=0.6)
            ax.set_xlabel(ALPHA)
        ax1.set_ylabel("fraction of the system's t = 0 liquid assets / capital")
        legend_outside(fig, where="below", ncols=3)

    def draw_failures(fig):
        ax1, ax2, ax3 = fig.subplots(1, 3)
        ax1.plot(alpha_pct, mean["n_failed_insolvency"], label="failed: insolvency (mean)", color=COLOURS["vermillion"])
        ax1.plot(alpha_pct, mean["n_failed_liquidity"], label="failed: liquidity (mean)", color=COLOURS["blue"])
        ax1.set_ylabel("failed banks")
        ax1.set_title("failed banks by cause")
        mappable = _year_lines(ax2, curve, years, "w")
        ax2.plot(alpha_pct, mean["w"], color="black", lw=1.4, ls="--", label="mean over years")
        ax2.set_ylabel("W (asset-weighted failure round)")
        ax2.set_title("W by year")
        fig.colorbar(mappable, ax=ax2, label="year", pad=0.02, fraction=0.06)
        fig.subplots_adjust(wspace=0.65)
        ax3.plot(alpha_pct, mean["tw"], color="black", lw=1.2, label="TW, mean over years")
        ax3.axhline(0.0, color="#999", lw=0.6)
        ax3.set_ylabel("TW (elasticity of W in α, unitless)")
        ax3.set_title("TW (mean over years)")
        for ax in (ax1, ax2, ax3):
            _shade(ax, mean_regions, step)
            ax.set_xlabel(ALPHA)
        legend_outside(fig, where="below", ncols=4)

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
    shown = summary.rename(columns={"omega": "price impact ω (per currency unit sold)", "sr_max": "highest SR",
                                    "alpha_sr_max_pct": "α of highest SR (%)", "first_failure_alpha_pct":
                                    "first α with a failure (%)", "all_fail_at_t0_alpha_pct": "first α with no sales (%)"})
    blocks = [
        figure_html(draw_mean, caption="Mean over years of SR, rounds T and failed banks over the shock α; shaded: the "
                    "regions of the mean curve (green relief, red contagion, grey outbreak)", height=3.2, name="mean"),
        figure_html(draw_years, caption="SR over α, one line per year (colour: year), dashed: the mean over years; "
                    "horizontal line: SR = 1", height=3.6, name="years"),
        figure_html(draw_decomposition, caption="Decompositions of the mean curve: LL, CL and SR = DL + IL, as fractions "
                    "of the system's liquid assets (LL) and capital (CL) at t = 0", height=3.6, name="decomposition"),
        figure_html(draw_failures, caption="Failed banks by cause (mean over years), W per year (colour: year) and "
                    "TW averaged over years at each α (the TW of each year is in the firesale artifact)", height=3.4, width=10.5, name="failures"),
        table_html(mean_table.rename(columns=REGION_HEADERS), caption="Regions of the mean SR curve (α in percent)",
                   digits=3, name="mean_regions"),
        table_html(table.rename(columns=REGION_HEADERS), caption="Regions per year (α in percent): span, highest SR "
                   "and where, most failed banks, most rounds", digits=3, name="regions"),
        table_html(shown, caption="Per year: banks, price impact ω per currency unit sold, the highest SR and its α, "
                   "the first α with a failure, the first α from which no bank sells (every bank fails at t = 0 or "
                   "none needs to)", digits=3, name="years"),
        table_html(pd.DataFrame({"status": statuses.index, "runs": statuses.to_numpy()}),
                   caption="Run statuses (year × α)", name="statuses"),
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
    blocks += paper_blocks(curve, regions, ctx.artifact("firesale_sr_change"), ctx.artifact("firesale_phase_curves"),
                           ctx.artifact("firesale_phases"), mean, step)
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


# ----------------------------------------------------------------------------- the paper's figures 3-7 and its phases

#: stacked parts of CL and LL (Zhang–Guo–Wen–Sun figs. 6 and 7) and the gap drawn over them
CL_PARTS = (("lossre", "LOSSRE direct loss", "orange"), ("losssi", "LOSSSI securities write-down", "vermillion"),
            ("lossla", "LOSSLA loan-sale loss", "purple"))
LL_PARTS = (("delina", "DELINA interbank sold", "sky"), ("delsi", "DELSI securities sold", "blue"),
            ("delloss", "DELLOSS securities write-down", "green"))
LOSS_COLUMNS = ("il", "cgap", "lgap", *(c for c, _, _ in CL_PARTS + LL_PARTS))
PHASE_HEADERS = {"phase": "phase", "year_from": "from year", "year_to": "to year", "n_years": "years",
                 "sr_mean": "mean SR over α", "sr_max": "highest SR", "alpha_sr_max": "α of highest SR (%)",
                 "contagion_from": "contagion from α (%)", "contagion_to": "contagion to α (%)",
                 "sr_mean_diff": "Δ mean SR", "sr_max_diff": "Δ highest SR", "alpha_sr_max_diff": "Δ α of highest SR (pp)",
                 "contagion_from_diff": "Δ contagion from (pp)", "contagion_to_diff": "Δ contagion to (pp)"}


def limits(*arrays, pad: float = 0.04) -> tuple[float, float]:
    """The common axis range of the finite values of ``arrays`` (0 included), padded by ``pad`` of the span."""
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays] + [np.zeros(1)])
    values = values[np.isfinite(values)]
    lo, hi = float(values.min()), float(values.max())
    span = (hi - lo) or 1.0
    return lo - pad * span, hi + pad * span


def year_grid(fig, years: list[int], xlim: tuple[float, float], ylim: tuple[float, float], ncols: int = 3):
    """One small axes per year (``ncols`` across) on the same fixed ``xlim`` and ``ylim`` (set once, no
    autoscaling: shared axes rescale the whole grid at every artist), tick labels on the outer axes
    only, the unused axes hidden; returns them in year order."""
    nrows = -(-len(years) // ncols)
    grid = fig.subplots(nrows, min(ncols, len(years)), squeeze=False)
    flat = grid.ravel()
    for ax in flat[len(years):]:
        ax.set_visible(False)
    for k, (ax, year) in enumerate(zip(flat, years)):
        ax.set_autoscale_on(False)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.locator_params(nbins=4)
        ax.text(0.03, 0.97, str(year), transform=ax.transAxes, ha="left", va="top", fontsize=8, fontweight="bold")
        if k % grid.shape[1]:
            ax.tick_params(labelleft=False)
        if k + grid.shape[1] < len(years):
            ax.tick_params(labelbottom=False)
    return list(flat[:len(years)])


def _label_grid(fig, ylabel: str) -> None:
    fig.supxlabel(ALPHA, fontsize=8.5)
    fig.supylabel(ylabel, fontsize=8.5)


def _grid_height(years: list[int]) -> float:
    return 1.6 * (-(-len(years) // 3)) + 0.9


def _decomposition_figure(curve: pd.DataFrame, regions: pd.DataFrame, years: list[int], step: float) -> str:
    """CL's parts stacked above zero with CGAP, LL's parts stacked below zero with LGAP (the paper's figs. 6 and 7)."""
    xlim = (100 * (curve["alpha"].min() - step), 100 * (curve["alpha"].max() + step))
    up = curve[[c for c, _, _ in CL_PARTS]].sum(axis=1)
    down = -curve[[c for c, _, _ in LL_PARTS]].sum(axis=1)
    ylim = limits(up, down, curve["cgap"], -curve["lgap"], curve["il"], [1.0, -1.0])

    def draw(fig):
        axes = year_grid(fig, years, xlim, ylim)
        for ax, year in zip(axes, years):
            part = curve[curve["year"] == year]
            a = 100 * part["alpha"].to_numpy()
            _shade(ax, regions[regions["year"] == year], step)
            ax.stackplot(a, *[part[c].to_numpy() for c, _, _ in CL_PARTS], labels=[f"CL: {t}" for _, t, _ in CL_PARTS],
                         colors=[COLOURS[k] for _, _, k in CL_PARTS], lw=0)
            ax.stackplot(a, *[-part[c].to_numpy() for c, _, _ in LL_PARTS], labels=[f"LL: {t} (below 0)" for _, t, _ in LL_PARTS],
                         colors=[COLOURS[k] for _, _, k in LL_PARTS], lw=0)
            ax.plot(a, part["il"].to_numpy(), color=COLOURS["sky"], lw=1.2, label="IL indirect (contagion) loss = SR − DL")
            ax.plot(a, part["cgap"].to_numpy(), color=COLOURS["black"], lw=0.9, label="CGAP capital shortfall of failed banks")
            ax.plot(a, -part["lgap"].to_numpy(), color=COLOURS["black"], lw=0.9, ls="--",
                    label="LGAP liquidity shortfall of failed banks (below 0)")
            ax.axhline(0.0, color="#666", lw=0.5)
            ax.axhline(1.0, color="#666", lw=0.5, ls=":")
            ax.axhline(-1.0, color="#666", lw=0.5, ls=":")
        _label_grid(fig, "← LL (of t = 0 liquid assets)   |   CL, IL (of t = 0 capital) →")
        legend_outside(fig, where="below", ncols=3)

    return figure_html(draw, caption="The system's losses over the shock α, one panel per year. Above zero, capital "
                       "loss CL stacked by source (fractions of the system's capital at t = 0; its first part LOSSRE is "
                       "the direct loss DL), the indirect loss IL = SR − DL (line) and the capital shortfall CGAP of the "
                       "failed banks; below zero, drawn negative, liquidity loss LL stacked by source (fractions of the "
                       "system's liquid assets at t = 0) and the liquidity shortfall LGAP (dashed). Dotted: ±1, beyond "
                       "which the system is insolvent (CL) or short of liquidity (LL); shaded: the year's regions",
                       height=_grid_height(years) + 0.6, width=9.0, name="years_losses")


def tw_scale(sr_change: np.ndarray, tw: np.ndarray) -> float:
    """The power of ten (at least 1) by which TW is divided to share the SR change rate's axis (1 when either
    is all blank)."""
    g, t = np.nanmax(np.abs(sr_change), initial=0.0), np.nanmax(np.abs(tw), initial=0.0)
    return max(1.0, float(10.0 ** np.round(np.log10(t / g)))) if g > 0 and t > 0 else 1.0


def _change_figure(change: pd.DataFrame, regions: pd.DataFrame, years: list[int]) -> str:
    peaks = regions[regions["region"] == "contagion"].set_index("year")["alpha_sr_max"]
    hot = change[change["region"] == "contagion"]
    scale = tw_scale(hot["sr_change"].to_numpy(dtype=float), hot["tw"].to_numpy(dtype=float))
    tw_label = "TW, elasticity of W in α" + (f" ÷ {scale:g}" if scale != 1 else "")
    xlim = (100 * hot["alpha"].min() - 0.5, 100 * hot["alpha"].max() + 0.5) if len(hot) else (0.0, 1.0)
    ylim = limits(hot["sr_change"], hot["tw"] / scale)

    def draw(fig):
        axes = year_grid(fig, years, xlim, ylim)
        for ax, year in zip(axes, years):
            part = hot[hot["year"] == year]
            a = 100 * part["alpha"].to_numpy()
            ax.plot(a, part["sr_change"].to_numpy(), color=COLOURS["blue"], lw=0.9,
                    label="SR change rate, ΔSR / SR of the previous α")
            ax.plot(a, part["tw"].to_numpy() / scale, color=COLOURS["vermillion"], lw=0.9,
                    label=tw_label)
            if year in peaks.index:
                ax.axvline(100 * peaks[year], color="#666", lw=0.6, ls="--", label="α of the highest SR")
            ax.axhline(0.0, color="#999", lw=0.6)
            ax.locator_params(nbins=4)
        _label_grid(fig, "rate (unitless)")
        legend_outside(fig, where="below", ncols=3)

    return figure_html(draw, caption="SR change rate and weighted contagion elasticity TW" + (f" (divided by {scale:g} to "
                       "share the axis)" if scale != 1 else "") + " over the shock α inside each year's contagion region "
                       "(from its trigger through the highest SR, dashed, to its end), one panel per year; both unitless; "
                       "TW is blank where W of the previous α is 0", height=_grid_height(years), width=9.0,
                       name="sr_change_tw")


def _phases_figure(phase_curves: pd.DataFrame, mean: pd.DataFrame) -> str:
    phases = list(dict.fromkeys(phase_curves["phase"]))
    colours = [COLOURS[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky")]

    def draw(fig):
        ax = fig.subplots()
        ax.plot(100 * mean["alpha"].to_numpy(), mean["sr"].to_numpy(), color="black", lw=1.6, ls="--",
                label="mean over all years")
        for i, phase in enumerate(phases):
            part = phase_curves[phase_curves["phase"] == phase]
            ax.plot(100 * part["alpha"].to_numpy(), part["sr"].to_numpy(), color=colours[i % len(colours)], lw=1.1,
                    label=f"phase: {phase}")
        ax.axhline(1.0, color="#999", lw=0.6, ls=":")
        ax.set_xlabel(ALPHA)
        ax.set_ylabel("SR (fraction)")
        legend_outside(fig)

    return figure_html(draw, caption="Three-phase comparison: the mean SR curve over the years of each phase "
                       "(stress.firesale.phases) against the mean over all years (dashed); dotted: SR = 1",
                       height=3.4, name="phases")


def paper_blocks(curve: pd.DataFrame, regions: pd.DataFrame, change: pd.DataFrame | None,
                 phase_curves: pd.DataFrame | None, phases: pd.DataFrame | None, mean: pd.DataFrame,
                 step: float) -> list[str]:
    """Zhang–Guo–Wen–Sun's figs. 3–7 per year (small multiples) and its three-phase comparison, from
    the stage's artifacts (``firesale``, ``firesale_regions``, ``firesale_sr_change``,
    ``firesale_phase_curves``, ``firesale_phases``); the blocks of the artifacts present."""
    years = sorted(int(y) for y in curve["year"].unique())
    blocks = []
    if change is not None:
        blocks.append(_change_figure(change, regions, years))
    if set(LOSS_COLUMNS) <= set(curve.columns):
        blocks.append(_decomposition_figure(curve, regions, years, step))
    if phase_curves is not None and phases is not None:
        blocks.append(_phases_figure(phase_curves, mean))
        shown = phases.copy()
        for col in ("alpha_sr_max", "contagion_from", "contagion_to", "alpha_sr_max_diff", "contagion_from_diff",
                    "contagion_to_diff"):
            shown[col] = 100 * shown[col]
        alpha_format = {PHASE_HEADERS[c]: "{:.1f}".format for c in ("alpha_sr_max", "contagion_from", "contagion_to",
                                                                     "alpha_sr_max_diff", "contagion_from_diff",
                                                                     "contagion_to_diff")}
        blocks.append(table_html(shown.rename(columns=PHASE_HEADERS), caption="Three-phase comparison: per phase the "
                                 "mean SR over the α grid, the highest SR and its α, and the contagion region of the "
                                 "phase's mean curve; Δ: the phase minus all years (pp: percentage points of α)",
                                 digits=3, name="phases", full=phases, formats=alpha_format))
    return blocks
