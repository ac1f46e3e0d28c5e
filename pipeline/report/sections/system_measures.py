"""System-wide measures: Absorption Ratio, Turbulence, CATFIN and the Granger-network DCI (docs/network_measures.md)."""

from __future__ import annotations

import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, shade_episodes, table_html
from pipeline.report.figures import episodes_within

ID = "system_measures"
TITLE = "System-wide measures: Absorption Ratio, Turbulence, CATFIN, DCI"
LABELS = {"absorption_ratio": "Absorption Ratio", "turbulence": "Turbulence", "catfin": "CATFIN", "dci": "DCI"}


def intro(ctx: ReportContext, series: dict[str, pd.Series] | None = None, n_banks: float | None = None) -> str:
    """The section text (template ``system_measures.html.j2``): the parameters recorded in the provenance
    of ``system_measures`` (``granger_dci`` for α), the measures present and the episodes inside their dates."""
    def p(dotted, name="system_measures"):
        return ctx.param(name, dotted)

    series = series or {}
    first = min((s.index.min() for s in series.values()), default=None)
    last = max((s.index.max() for s in series.values()), default=None)
    inside = episodes_within(ctx.episodes, first, last) if first is not None else []
    return text.render(ID, has={k: k in series for k in LABELS}, ar_window=p("measures.system.ar_window"),
                       ar_components=p("measures.system.ar_components"), turbulence_window=p("measures.system.turbulence_window"),
                       n_banks=None if n_banks is None else f"{n_banks:.1f}", q=p("measures.system.catfin.q"),
                       sample=p("measures.system.catfin.sample"), tail=p("measures.system.catfin.tail"),
                       alpha=p("measures.granger_network.alpha", "granger_dci"), episodes=[e["name"] for e in inside])


def _series(system: pd.DataFrame | None, dci: pd.DataFrame | None) -> dict[str, pd.Series]:
    out = {}
    if system is not None and len(system):
        for measure in ("absorption_ratio", "turbulence", "catfin"):
            s = system[system.measure == measure].set_index("date")["value"].dropna()
            if len(s):
                out[measure] = s
    if dci is not None and len(dci):
        key = dci.columns[0]
        dates = pd.to_datetime(dci[key].astype(str) + "-12-31") if key == "year" else pd.DatetimeIndex(dci[key])
        out["dci"] = pd.Series(dci["dci"].to_numpy(), index=pd.DatetimeIndex(dates, name="date"))
    return out


def _episode_table(series: dict[str, pd.Series], episodes: list) -> pd.DataFrame:
    rows = []
    for ep in episodes:
        row = {"episode": ep["name"], "start": str(pd.Timestamp(ep["start"]).date()), "end": str(pd.Timestamp(ep["end"]).date())}
        for name, s in series.items():
            inside = s[(s.index >= pd.Timestamp(ep["start"])) & (s.index <= pd.Timestamp(ep["end"]))]
            row[f"{name}_mean"] = inside.mean() if len(inside) else float("nan")
            row[f"{name}_ratio"] = row[f"{name}_mean"] / s.mean() if len(inside) and s.mean() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def build(ctx: ReportContext) -> Section | None:
    system = ctx.artifact("system_measures")
    dci = ctx.artifact("granger_dci")
    series = _series(system, dci)
    if not series:
        return None
    episodes = ctx.episodes
    summary = pd.DataFrame([{"measure": LABELS[k], "n": len(s), "first": str(s.index[0].date()), "last": str(s.index[-1].date()),
                             "mean": s.mean(), "max": s.max(), "date_of_max": str(s.idxmax().date())} for k, s in series.items()])
    banks = None if system is None or not len(system) else system.loc[system.measure == "turbulence", "n_banks"]

    def draw(fig):
        axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
        for ax, (name, s) in zip(axes, series.items()):
            ax.plot(s.index, s.to_numpy(), lw=0.7 if name in ("absorption_ratio", "turbulence") else 1.0,
                    marker="o" if name == "dci" else None, ms=3, color="#1f77b4")
            ax.set_ylabel(LABELS[name], fontsize=8)
            shade_episodes(ax, episodes)
            ax.grid(alpha=0.3)

    blocks = [figure_html(draw, caption="System-wide measures; shaded: stress episodes", name="series", height=1.6 * len(series) + 1.0),
              table_html(summary, caption="Summary of each series", digits=4)]
    episode_table = _episode_table(series, episodes)
    if len(episode_table):
        blocks.append(table_html(episode_table, caption="Mean inside each stress episode and its ratio to the full-sample mean", digits=3))
    metrics = {k: {"mean": float(s.mean()), "max": float(s.max()), "date_of_max": str(s.idxmax().date()), "last": float(s.iloc[-1])}
               for k, s in series.items()}
    if banks is not None and len(banks):
        metrics["turbulence"]["mean_n_banks"] = float(banks.mean())
    plots = {"series": pd.concat([s.rename("value").reset_index().assign(measure=k) for k, s in series.items()], ignore_index=True)}
    mean_banks = float(banks.mean()) if banks is not None and len(banks) else None
    return Section(ID, TITLE, intro(ctx, series, mean_banks), blocks, metrics, plots)
