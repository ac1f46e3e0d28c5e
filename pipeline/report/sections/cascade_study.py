"""Fan–Rong–Duan's study on the cascade outputs (docs/cascade.md §5, §5b, §10): Table 1, the failure boundaries of
tables 2–3 under both definitions, the named-failure experiments and their rescue costs. Reads only; estimates nothing."""

from __future__ import annotations

import pandas as pd

from pipeline.report.core import ReportContext, Section, table_html

ID = "cascade_study"
TITLE = "Too many to fail: Fan–Rong–Duan's experiments"
INTRO = (
    "Fan–Rong–Duan's tables on the cross-section of the cascade section (docs/cascade.md). <b>Table 1</b>: descriptive "
    "statistics of the banks' balance sheets (ln of total assets in 10<sup>4</sup> currency units, CAR, leverage, "
    "loan-to-deposit ratio when the data has them, and the shares of loans, securities and interbank assets and "
    "liabilities in total assets; sd = standard deviation). <b>Failure boundaries</b> (tables 2–3), per group: the "
    "joint boundary (the loss on the members' external assets at which all of them have failed) and the mean, sd, "
    "minimum, quartiles and maximum of the members' individual boundaries, under two definitions: <em>equity</em> — "
    "the loss a bank bears on its own book until its equity reaches its threshold (this model); <em>dependency</em> — "
    "Fan–Rong–Duan's, in Elliott–Golub–Jackson's cross-holding form, where a bank bears only the share A<sub>ii</sub> "
    "of a loss on its own assets and so absorbs equity / A<sub>ii</sub> (its 40.8 trillion yuan for ICBC). "
    "<b>Experiments</b>: banks failed when the named banks fail in layer 1 (the largest bank, size ranks 16–45 and "
    "16–115 by default, the last two also in the system without the 15 largest banks), by fire-sale discount β at "
    "the background shock α. <b>Rescue cost</b>: the capital injection that stops the cascade at the named banks — "
    "the uniform recapitalisation of every other bank pro rata to its capital (rate by bisection, cost in currency) "
    "and the targeted minimum (each bank's shortfall); 0 where the failure does not spread."
)


def _pivot(named: pd.DataFrame, value: str) -> pd.DataFrame:
    """Rows β, one column per (system, scenario)."""
    table = named.pivot_table(index="beta", columns=["scenario"], values=value, aggfunc="first")
    table.columns = [str(c) for c in table.columns]
    return table.reset_index()


def build(ctx: ReportContext) -> Section | None:
    descriptives, stats, surface, bounds = (ctx.artifact(name) for name in (
        "cascade_descriptives", "cascade_boundary_stats", "cascade_surface", "cascade_boundary"))
    if all(frame is None for frame in (descriptives, stats, surface)):
        return None
    blocks, metrics = [], {}
    if descriptives is not None:
        table = descriptives.sort_values("order")[["label", "n", "mean", "sd", "q25", "q50", "q75", "min", "max"]]
        blocks.append(table_html(table, caption="Table 1: descriptive statistics of the banks' balance sheets", digits=3))
    if stats is not None:
        blocks.append(table_html(stats, caption="Failure boundaries by group and definition (currency units)", digits=4))
        metrics["boundary"] = {f"{r.rule}:{r.group}": {"joint": r.joint_boundary, "mean_individual": r.mean}
                               for r in stats.itertuples()}
    if bounds is not None and "boundary_dependency" in bounds.columns:
        top = bounds[(bounds["kind"] == "bank") & (bounds["size_rank"] == 1)]
        if len(top):
            metrics["largest_bank_boundary"] = {"equity": float(top["boundary"].iloc[0]),
                                                "dependency": float(top["boundary_dependency"].iloc[0])}
    named = None if surface is None else surface[surface["scenario"] != "common"]
    if named is not None and len(named) and "rescue_cost" in named.columns:
        blocks.append(table_html(_pivot(named, "n_failed"), caption="Banks failed, by named scenario and β", digits=0))
        blocks.append(table_html(_pivot(named, "rescue_targeted"),
                                 caption="Rescue cost, targeted minimum (currency units), by named scenario and β"))
        blocks.append(table_html(_pivot(named, "rescue_cost"),
                                 caption="Rescue cost, uniform recapitalisation (currency units), by named scenario and β"))
        top_beta = named[named["beta"] == named["beta"].max()]
        metrics["rescue_at_max_beta"] = {r.scenario: {"targeted": r.rescue_targeted, "uniform": r.rescue_cost}
                                         for r in top_beta.itertuples()}
    return Section(ID, TITLE, INTRO, blocks, metrics)
