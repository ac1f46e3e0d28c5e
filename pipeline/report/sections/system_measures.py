"""System-wide measures: Absorption Ratio, Turbulence, CATFIN and the Granger-network DCI (docs/network_measures.md)."""

from __future__ import annotations

import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, shade_episodes, table_html

ID = "system_measures"
TITLE = "System-wide measures: Absorption Ratio, Turbulence, CATFIN, DCI"
INTRO = (
    "<b>Absorption Ratio</b> (Kritzman et al. 2011): the share of the total variance of the banks' daily log returns "
    "explained by the n leading eigenvectors of their covariance over the trailing <code>measures.system.ar_window</code> "
    "= {ar_window} trading days (n = ⌈N/5⌉ unless <code>ar_components</code> is set); higher = more tightly coupled. "
    "<b>Turbulence</b> (Kritzman &amp; Li 2010): the Mahalanobis distance (y<sub>t</sub> − μ)'Σ<sup>−1</sup>(y<sub>t</sub> − μ) "
    "of the day's return vector from the mean and covariance of the previous <code>turbulence_window</code> = {tw} days; "
    "under normal returns its mean is about N (the number of banks), shown in the table. <b>CATFIN</b> (Allen–Bali–Tang "
    "2012): per calendar month, the average of three VaR estimates at q = {q} of the month's returns of all banks "
    "(<code>catfin.sample</code> = {sample}): the empirical quantile, a generalized Pareto tail fitted beyond the "
    "{tail} loss quantile, and a skewed t (Hansen 1994) fitted by maximum likelihood; a positive loss, as a fraction. "
    "<b>DCI</b> (Billio et al. 2012): the share of the N(N − 1) directed pairs of banks with a Granger-causality "
    "p-value below <code>measures.granger_network.alpha</code> = {alpha} in each contagion window (stage contagion). "
    "Every value dated t uses data up to t only. The episode table gives each measure's mean inside each stress "
    "episode of <code>report.episodes</code> (shaded) and its ratio to the full-sample mean."
)
LABELS = {"absorption_ratio": "Absorption Ratio", "turbulence": "Turbulence", "catfin": "CATFIN", "dci": "DCI"}


def intro(ctx: ReportContext) -> str:
    def p(dotted, name="system_measures"):
        value = ctx.param(name, dotted)
        return "n/a" if value is None else value

    return INTRO.format(ar_window=p("measures.system.ar_window"), tw=p("measures.system.turbulence_window"),
                        q=p("measures.system.catfin.q"), sample=p("measures.system.catfin.sample"),
                        tail=p("measures.system.catfin.tail"), alpha=p("measures.granger_network.alpha", "granger_dci"))


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

    blocks = [figure_html(draw, caption="System-wide measures; shaded: stress episodes", height=1.6 * len(series) + 1.0),
              table_html(summary, caption="Summary of each series", digits=4)]
    episode_table = _episode_table(series, episodes)
    if len(episode_table):
        blocks.append(table_html(episode_table, caption="Mean inside each stress episode and its ratio to the full-sample mean", digits=3))
    metrics = {k: {"mean": float(s.mean()), "max": float(s.max()), "date_of_max": str(s.idxmax().date()), "last": float(s.iloc[-1])}
               for k, s in series.items()}
    if banks is not None and len(banks):
        metrics["turbulence"]["mean_n_banks"] = float(banks.mean())
    plots = {"series": pd.concat([s.rename("value").reset_index().assign(measure=k) for k, s in series.items()], ignore_index=True)}
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)
