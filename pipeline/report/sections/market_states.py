"""The market state variables over time, with the stress episodes inside the sample shaded."""

from __future__ import annotations

import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.figures import COLOURS, episodes_within, legend_outside, shade_episodes

ID = "market_states"
TITLE = "Market states"
#: what the states of the simulator and the fetch recipes are, and their units (larger = more stress)
KNOWN = {
    "real_estate": ("the daily loss of the real-estate sector index (−Δlog)", "loss, −Δlog"),
    "stock_vol": ("the 20-day rolling standard deviation of the stock-index log return (daily, not annualized)",
                  "daily s.d. of Δlog"),
    "money": ("the short-term money-market rate (per year; percent or fraction as in the data)", "rate p.a."),
    "bond": ("the daily loss of the bond index", "loss, −Δlog"),
    "fx": ("the daily loss of the domestic currency against the US dollar (−Δlog of USD/CNY)", "loss, −Δlog"),
}
USER_STATE = ("a state variable of your data", "as in the data")


def describe(names: list[str]) -> list[tuple[str, str, str]]:
    """``(name, description, unit)`` of each state in the data."""
    return [(n, *KNOWN.get(n, USER_STATE)) for n in names]


def build(ctx: ReportContext) -> Section | None:
    states = ctx.artifact("market_states")
    if states is None:
        return None
    states = states.set_index("date")
    names = list(states.columns)
    units = {n: unit for n, _, unit in describe(names)}
    episodes = episodes_within(ctx.episodes, states.index.min(), states.index.max())

    def draw(fig):
        axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
        for k, (ax, name) in enumerate(zip(axes, names, strict=True)):
            ax.plot(states.index, states[name].to_numpy(), lw=0.6, color=COLOURS["blue"], label="state variable")
            ax.set_ylabel(f"{name}\n({units[name]})", rotation=0, ha="right", va="center")
            shade_episodes(ax, episodes, names=k == 0)
        axes[-1].set_xlabel("date")
        legend_outside(fig, where="below")

    desc = states.describe(percentiles=[0.05, 0.5, 0.95]).T[["mean", "std", "5%", "50%", "95%"]]
    desc.columns = ["mean", "s.d.", "5% quantile", "median", "95% quantile"]
    for ep in episodes:
        inside = states.loc[pd.Timestamp(ep["start"]): pd.Timestamp(ep["end"])]
        desc[f"mean in {ep['name']}"] = inside.mean()
    desc.insert(0, "unit", [units[n] for n in desc.index])
    desc = desc.reset_index().rename(columns={"index": "state"})
    blocks = [
        figure_html(draw, caption="Market state variables (larger = more stress), each in its unit"
                    + ("; shaded: the stress episodes inside the sample" if episodes else ""),
                    height=1.3 * len(names) + 0.9, name="states"),
        table_html(desc, caption="State variables: moments over the sample and means inside each stress episode, "
                   "in each state's unit", digits=4, name="moments"),
    ]
    return Section(ID, TITLE, intro(ctx), blocks, {"n_states": len(names)}, {"states": states.reset_index()})


def intro(ctx: ReportContext) -> str:
    """Describes the states that are in the data, and the episodes inside its dates."""
    states = ctx.artifact("market_states")
    names = [] if states is None else [c for c in states.columns if c != "date"]
    inside = ctx.episodes if states is None else episodes_within(ctx.episodes, states["date"].min(), states["date"].max())
    return text.render(ID, known=[d for d in describe(names) if d[0] in KNOWN], user=[n for n in names if n not in KNOWN],
                       episodes=[e["name"] for e in inside],
                       outside=[e["name"] for e in ctx.episodes if e not in inside])
