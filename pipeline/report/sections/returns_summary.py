"""Return statistics per bank and of the system, with the system return over time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, shade_episodes, table_html
from pipeline.report.sections.sample import RETURN_COLUMNS

ID = "returns"
TITLE = "Returns"
INTRO = (
    "Descriptive statistics of daily log returns (in percent): mean, standard deviation, annualized volatility "
    "(standard deviation × √252), skewness, excess kurtosis, minimum and maximum, and the 5% quantile (the return "
    "exceeded on 95% of days; its negative is the historical 95% VaR of the loss). The figure shows the system return "
    "and its 60-day rolling volatility, with the stress episodes of <code>report.episodes</code> shaded."
)


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
        ax1.plot(sys_series.index, sys_series.to_numpy() * 100.0, lw=0.5, color="#333")
        ax1.set_ylabel("system return, %")
        ax2.plot(vol.index, vol.to_numpy(), lw=0.9, color="#1f77b4")
        ax2.set_ylabel("60-day vol, % p.a.")
        for ax in (ax1, ax2):
            shade_episodes(ax, episodes)
            ax.grid(alpha=0.3)

    episodes = ctx.episodes  # read here: the figure is drawn later, elsewhere
    blocks = [
        figure_html(draw, caption="System return and its rolling volatility; shaded: stress episodes", height=4.5),
        table_html(table, caption="Daily log returns, percent", digits=3),
    ]
    sysrow = rows[0]
    metrics = {k: sysrow[k] for k in ("mean_pct", "ann_vol_pct", "excess_kurtosis", "q05_pct")}
    plot = pd.DataFrame({"date": sys_series.index, "system_ret": sys_series.to_numpy(), "rolling_vol_pct": vol.to_numpy()})
    return Section(ID, TITLE, INTRO, blocks, {"system": metrics}, {"system": plot, "stats": table})
