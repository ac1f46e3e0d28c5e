"""Fan–Rong–Duan's study on the cascade outputs (docs/cascade.md §5, §5b, §10): Table 1, the failure boundaries of
tables 2–3 under both definitions, the named-failure experiments and their rescue costs. Reads only; estimates nothing."""

from __future__ import annotations

import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, table_html

ID = "cascade_study"
TITLE = "Too many to fail: Fan–Rong–Duan's experiments"


def _what(named: dict) -> str:
    """A named-failure scenario of ``stress.cascade.named`` in words."""
    if named.get("banks") == "largest":
        n = named.get("n") or 1
        text_ = "the largest bank" if n == 1 else f"the {n} largest banks"
    elif isinstance(named.get("banks"), list):
        text_ = ", ".join(map(str, named["banks"]))
    elif named.get("ranks"):
        lo, hi = named["ranks"]
        text_ = f"size ranks {lo}–{hi}"
    else:
        text_ = "no bank"
    if named.get("exclude_ranks"):
        lo, hi = named["exclude_ranks"]
        text_ += f", in the system without ranks {lo}–{hi}"
    return text_


def intro(ctx: ReportContext) -> str:
    """The section text (template ``cascade_study.html.j2``) with the scenarios and α recorded in the
    provenance of ``cascade_surface``."""
    named = ctx.param("cascade_surface", "stress.cascade.named") or []
    return text.render(ID, named=[{"name": n.get("name", ""), "what": _what(n)} for n in named if isinstance(n, dict)],
                       named_alpha=ctx.param("cascade_surface", "stress.cascade.named_alpha"))


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
    return Section(ID, TITLE, intro(ctx), blocks, metrics)
