"""Return statistics per bank and of the system, with the system return over time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.figures import COLOURS, episodes_within, legend_outside, shade_episodes
from pipeline.report.sections.sample import RETURN_COLUMNS

ID = "returns"
TITLE = "Returns"


def _stats(x: pd.Series) -> dict[str, float]:
    x = x.dropna() * 100.0
    return {
        "n": float(len(x)),
        "mean_pct": x.mean(),
        "sd_pct": x.std(),
        "ann_vol_pct": x.std() * np.sqrt(252.0),
        "skew": x.skew(),
        "excess_kurtosis": x.kurt(),
        "min_pct": x.min(),
        "q05_pct": x.quantile(0.05),
        "max_pct": x.max(),
    }


STAT_HEADERS = {"series": "series", "n": "days", "mean_pct": "mean (%)", "sd_pct": "s.d. (%)",
                "ann_vol_pct": "annualized vol. (% p.a.)", "skew": "skewness", "excess_kurtosis": "excess kurtosis",
                "min_pct": "min (%)", "q05_pct": "5% quantile (%)", "max_pct": "max (%)"}


def build(ctx: ReportContext) -> Section | None:
    rets = ctx.artifact("returns", RETURN_COLUMNS)
    system = ctx.artifact("system_returns")
    if rets is None or system is None:
        return None
    rows = [{"series": "system", **_stats(system["ret"])}]
    for bank, g in rets.groupby("bank_id", sort=True):
        rows.append({"series": bank, **_stats(g["ret"])})
    table = pd.DataFrame(rows)
    table["n"] = table["n"].astype(int)
    sys_series = system.set_index("date")["ret"]
    vol = sys_series.rolling(60, min_periods=40).std() * np.sqrt(252.0) * 100.0

    def draw(fig):
        ax1, ax2 = fig.subplots(2, 1, sharex=True)
        ax1.plot(sys_series.index, sys_series.to_numpy() * 100.0, lw=0.5, color=COLOURS["black"], label="system return")
        ax1.set_ylabel("daily log return, %")
        ax2.plot(vol.index, vol.to_numpy(), lw=0.9, color=COLOURS["blue"], label="60-day rolling volatility")
        ax2.set_ylabel("volatility, % p.a.")
        ax2.set_xlabel("date")
        for k, ax in enumerate((ax1, ax2)):
            shade_episodes(ax, episodes, names=k == 0)
        legend_outside(fig, where="below")

    episodes = episodes_within(ctx.episodes, sys_series.index.min(), sys_series.index.max())
    shown = table.rename(columns=STAT_HEADERS)
    blocks = [
        figure_html(draw, caption="Daily log return of the system (percent) and its 60-day rolling volatility "
                    "(annualized, percent)" + (", with the stress episodes inside the sample shaded" if episodes else ""),
                    height=4.5, name="system"),
        table_html(shown, caption="Daily log returns of each bank and of the system, in percent (skewness and "
                   "excess kurtosis unitless)", digits=3, name="stats"),
    ]
    sysrow = rows[0]
    metrics = {k: sysrow[k] for k in ("mean_pct", "ann_vol_pct", "excess_kurtosis", "q05_pct")}
    plot = pd.DataFrame({"date": sys_series.index, "system_ret": sys_series.to_numpy(), "rolling_vol_pct": vol.to_numpy()})
    return Section(ID, TITLE, intro(ctx), blocks, {"system": metrics}, {"system": plot, "stats": table})


def intro(ctx: ReportContext) -> str:
    return text.render(ID, episodes=[e["name"] for e in sample_episodes(ctx)])


def sample_episodes(ctx: ReportContext) -> list[dict]:
    """The episodes inside the dates of the system return (all of them when it is absent)."""
    system = ctx.artifact("system_returns")
    if system is None or not len(system):
        return ctx.episodes
    return episodes_within(ctx.episodes, system["date"].min(), system["date"].max())
