"""The market state variables over time, with the stress episodes shaded."""

from __future__ import annotations

import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, shade_episodes, table_html

ID = "market_states"
TITLE = "Market states"
INTRO = (
    "The market state variables, each oriented so that larger values mean more stress (Fang–Chen–Yang 2018; docs/covar.md): by default "
    "the loss of the real-estate sector index, the 20-day rolling volatility of the stock index, the overnight "
    "money-market rate, the loss of the bond index and the loss of the USD/CNY central parity. Shaded: the stress "
    "episodes of <code>report.episodes</code>. The table gives each variable's mean, standard deviation, 5%, 50% "
    "and 95% quantiles, and its mean inside each episode."
)


def build(ctx: ReportContext) -> Section | None:
    states = ctx.artifact("market_states")
    if states is None:
        return None
    states = states.set_index("date")
    names = list(states.columns)

    def draw(fig):
        axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
        for ax, name in zip(axes, names, strict=True):
            ax.plot(states.index, states[name].to_numpy(), lw=0.6, color="#444")
            ax.set_ylabel(name, rotation=0, ha="right", va="center")
            shade_episodes(ax, episodes)
            ax.grid(alpha=0.3)

    desc = states.describe(percentiles=[0.05, 0.5, 0.95]).T[["mean", "std", "5%", "50%", "95%"]]
    episodes = ctx.episodes
    for ep in episodes:
        inside = states.loc[pd.Timestamp(ep["start"]): pd.Timestamp(ep["end"])]
        desc[f"mean in {ep['name']}"] = inside.mean()
    desc = desc.reset_index().rename(columns={"index": "state"})
    blocks = [
        figure_html(draw, caption="Market states (larger = more stress); shaded: stress episodes", height=1.3 * len(names) + 0.6),
        table_html(desc, caption="State variables: moments and episode means", digits=4),
    ]
    return Section(ID, TITLE, INTRO, blocks, {"n_states": len(names)}, {"states": states.reset_index()})
