"""Contagion: the Granger network per year, the CRW panel with Liu–Ma 2021's moments, DY connectedness."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, status_kind, table_html
from pipeline.report.figures import COLOURS, legend_outside, shade_episodes

ID = "contagion"
TITLE = "Contagion network and risk weights"


def _key(frame: pd.DataFrame) -> str:
    return "year" if "year" in frame.columns else "window_end"


def _yearly(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Year-keyed view: in rolling mode, the last window of each calendar year."""
    if key == "year":
        return frame
    last = frame.groupby(frame[key].dt.year)[key].transform("max")
    out = frame[frame[key] == last].copy()
    out["year"] = out[key].dt.year.astype("int64")
    return out.drop(columns=[key])


def _spearman(a: pd.Series, b: pd.Series) -> float:
    common = a.index.intersection(b.index)
    if len(common) < 3:
        return math.nan
    ra, rb = a[common].rank(), b[common].rank()
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def _layout(edges: pd.DataFrame, banks: list[str], layout: str, seed: int) -> dict[str, np.ndarray]:
    """One node layout for every year so that the drawings compare.

    ``circular`` (default): banks on a circle in bank_id order; ``spring``: a Fruchterman–Reingold
    layout of the union of the drawn edges over all years with the fixed ``seed`` (stable bytes).
    """
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(banks)
    if layout == "circular":
        pos = nx.circular_layout(graph)
    else:
        graph.add_edges_from(zip(edges.source, edges.target))
        # k: a larger optimal distance than networkx's 1/sqrt(n) keeps dense years legible
        pos = nx.spring_layout(graph, seed=seed, k=2.5 / math.sqrt(max(len(banks), 1)), iterations=200)
    return {b: np.asarray(pos[b]) for b in banks}


def _draw_networks(fig, crw_wide: pd.DataFrame, edges: pd.DataFrame, pos: dict, threshold: float) -> None:
    import networkx as nx

    years = list(crw_wide.columns)
    ncols = min(4, len(years))
    nrows = math.ceil(len(years) / ncols)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    xy = np.array(list(pos.values()))
    pad = 0.18 * max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-9)
    xlim = (xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ylim = (xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    for ax, year in zip(axes, years):
        w = crw_wide[year].dropna()
        g = nx.DiGraph()
        g.add_nodes_from(w.index)
        e = edges[(edges.year == year) & (edges.weight >= threshold)]
        g.add_edges_from(zip(e.source, e.target))
        size = (w * len(w) * 220.0).reindex(list(g.nodes)).to_numpy()
        nx.draw_networkx_nodes(g, pos, ax=ax, node_size=size, node_color="#6a8fd8", alpha=0.85, linewidths=0)
        nx.draw_networkx_edges(g, pos, ax=ax, width=0.6, alpha=0.55, arrowsize=6, edge_color="#444",
                               node_size=size)
        nx.draw_networkx_labels(g, pos, ax=ax, font_size=5)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_title(f"{year}: {len(e)} edge{'' if len(e) == 1 else 's'}", fontsize=8)
        ax.set_axis_off()
    for ax in axes[len(years):]:
        ax.set_axis_off()


def _crw_part(ctx: ReportContext, crw: pd.DataFrame, edges: pd.DataFrame | None, key: str
              ) -> tuple[list[str], dict, dict[str, pd.DataFrame]]:
    """The network drawings, the CRW table with its moments, the top bank and the rank stability."""
    drawing = ctx.config.contagion
    threshold, seed, layout = drawing.edge_threshold, drawing.layout_seed, drawing.layout
    crw_y = _yearly(crw, key)
    wide = crw_y.pivot(index="bank_id", columns="year", values="crw").sort_index()
    moments = pd.DataFrame({"mean": wide.mean(), "sd": wide.std(ddof=1), "min": wide.min(), "max": wide.max(),
                            "n_banks": wide.notna().sum()}).T
    table = pd.concat([wide * 100.0, moments.loc[["mean", "sd", "min", "max"]] * 100.0])
    table.index.name = "bank / moment"
    table.loc["banks"] = moments.loc["n_banks"]
    table.columns = [str(c) for c in table.columns]
    stability = [{"years": f"{a}→{b}", "spearman": _spearman(wide[a].dropna(), wide[b].dropna())}
                 for a, b in zip(wide.columns[:-1], wide.columns[1:])]
    stability = pd.DataFrame(stability, columns=["years", "spearman"]).dropna(subset=["spearman"])
    avg_rank = wide.rank(ascending=False).mean(axis=1).sort_values()
    top = pd.DataFrame({"year": wide.columns,
                        "largest CRW": [wide[y].idxmax() for y in wide.columns],
                        "CRW %": [wide[y].max() * 100.0 for y in wide.columns]})

    blocks = []
    metrics = {"n_windows": int(crw[key].nunique()),
               "mean_spearman": float(stability["spearman"].mean()) if len(stability) else None,
               "crw_pct": {str(y): {m: float(moments.loc[m, y] * (1 if m == "n_banks" else 100.0))
                                    for m in ("mean", "sd", "min", "max", "n_banks")} for y in wide.columns},
               "top_bank": {str(y): str(wide[y].idxmax()) for y in wide.columns},
               "highest_mean_rank": avg_rank.index[:3].tolist()}
    if edges is not None and len(edges):
        edges_y = _yearly(edges, key)
        drawn, banks = edges_y[edges_y.weight >= threshold], list(wide.index)
        height = 3.0 * math.ceil(wide.shape[1] / min(4, wide.shape[1]))
        # the layout is computed where the figure is drawn (a worker): networkx is not needed here
        blocks.append(figure_html(lambda fig: _draw_networks(fig, wide, edges_y, _layout(drawn, banks, layout, seed), threshold),
                                  caption=f"Granger-causality networks per year: edges i → j with 1 − p ≥ {threshold:g}; "
                                  "node area ∝ CRW (PageRank weight)", width=10.0, height=height, name="networks"))
    blocks.append(table_html(table.reset_index(), caption="CRW per bank and year, percent; moments as in Liu–Ma 2021 "
                             "table 1 (its mean ≈ 5%, min ≈ 3%, max < 10% for about 20 banks); banks = banks with a CRW",
                             digits=2, name="crw"))
    blocks.append(table_html(top, caption="Bank with the largest CRW each year (CRW in percent)", digits=2, name="top"))
    blocks.append(table_html(stability.rename(columns={"spearman": "Spearman correlation"}), name="stability",
                             caption="Year-to-year stability of the CRW ranking (banks present in both years)",
                             digits=3))
    return blocks, metrics, {"crw": crw_y[["bank_id", "year", "crw"]], "stability": stability}


def build(ctx: ReportContext) -> Section | None:
    """Each part shows when its artifacts are there (e.g. connectedness without the CRW)."""
    crw, edges, windows, conn, directional = (ctx.artifact(name) for name in (
        "crw", "granger", "contagion_windows", "connectedness", "connectedness_directional"))
    present = [frame for frame in (crw, edges, windows, directional) if frame is not None]
    if not present and conn is None:
        return None
    key = _key(present[0]) if present else "year"
    blocks, metrics, plots = _crw_part(ctx, crw, edges, key) if crw is not None else ([], {}, {})
    if windows is not None:
        w = _yearly(windows, key) if key == "window_end" else windows
        if edges is not None and "significant" in edges.columns:
            sig = _yearly(edges, key).groupby("year")["significant"].sum().rename("BH edges")
            w = w.merge(sig, left_on="year", right_index=True, how="left")
        metrics["failed_windows"] = int((status_kind(windows["status"]) == "failed").sum())
        shown = w.rename(columns={"n_banks": "banks kept", "nobs": "observations", "lags": "lag order used",
                                  "aic": "AIC lag", "bic": "BIC lag", "hqic": "HQIC lag", "route": "estimator"})
        blocks.append(table_html(shown, caption="Granger VAR per window: banks kept, observations (days), the lag "
                                 "order used and the lag orders AIC / BIC / HQIC choose, BH edges, status",
                                 digits=1, name="windows", wrap=True))
    if conn is not None and len(conn):
        series = conn.set_index("window_end")["total"]

        def draw(fig):
            ax = fig.subplots()
            ax.plot(series.index, series.to_numpy(), lw=0.9, color=COLOURS["blue"], label="total connectedness")
            shade_episodes(ax, episodes)
            ax.set_ylabel("total connectedness, %")
            ax.set_xlabel("window end date")
            legend_outside(fig)

        episodes = ctx.episodes  # read here: the figure is drawn later, elsewhere
        blocks.append(figure_html(draw, caption="Diebold–Yilmaz total connectedness on rolling windows (value at the "
                                  "window's last date), percent of forecast-error variance", name="connectedness"))
        metrics["dy_total"] = {"mean": float(series.mean()), "min": float(series.min()), "max": float(series.max()),
                               "last": float(series.dropna().iloc[-1]) if series.notna().any() else None}
    if directional is not None and len(directional):
        d = _yearly(directional, key)
        net = d.pivot(index="bank_id", columns="year", values="net").sort_index()
        net.columns = [str(c) for c in net.columns]
        blocks.append(table_html(net.reset_index(), caption="Net directional connectedness (to others − from others), "
                                 "percent, per bank and year", digits=1, name="net"))
    if conn is not None:
        plots["dy_total"] = conn[["window_end", "total"]]
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    """The section text with the parameter values recorded in the crw artifact's provenance."""
    found = {key: ctx.param("crw", f"contagion.{key}") for key in ("damping", "direction")}
    found["horizon"] = ctx.param("connectedness", "contagion.connectedness.horizon")
    found.update({key: ctx.param("crw", f"contagion.{key}") for key in ("window", "window_length", "step")})
    return text.render(ID, threshold=f"{ctx.config.contagion.edge_threshold:g}", **found)
