"""Interbank contagion: sequential default and Eisenberg–Noe / Rogers–Veraart clearing (docs/interbank.md)."""

from __future__ import annotations

import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html

MODEL_LABEL = {"sequential": "sequential (Furfine)", "eisenberg_noe": "Eisenberg–Noe", "rogers_veraart": "Rogers–Veraart"}
MAX_LISTED = 8

ID = "interbank"
TITLE = "Interbank contagion: sequential default and clearing"


def _what(scenario: dict) -> str:
    """A scenario of ``stress.interbank.scenarios`` in words."""
    parts = []
    ranks, banks, shock = scenario.get("ranks"), scenario.get("banks"), scenario.get("shock") or 0.0
    if ranks:
        parts.append(f"size rank {ranks[0]}" if ranks[0] == ranks[1] else f"size ranks {ranks[0]}–{ranks[1]}")
    if banks:
        parts.append(", ".join(map(str, banks)))
    if shock:
        parts.append(f"common shock {100 * shock:g}%")
    return " and ".join(parts) or "no bank"


def intro(ctx: ReportContext, figure: bool = True) -> str:
    """The section text (template ``interbank.html.j2``) with the parameters recorded in the provenance of
    ``interbank_scenarios``."""
    def p(key):
        return ctx.param("interbank_scenarios", f"stress.interbank.{key}")

    scenarios = [{"name": s.get("name", ""), "what": _what(s)} for s in p("scenarios") or [] if isinstance(s, dict)]
    return text.render(ID, matrix=p("matrix"), lgd=p("lgd"), initial_loss=p("initial_loss"), rv_alpha=p("rv_alpha"),
                       rv_beta=p("rv_beta"), scenarios=scenarios, max_listed=MAX_LISTED, figure=figure)


def _cell(banks: list[str]) -> str:
    banks = sorted(banks)
    head = ", ".join(banks[:MAX_LISTED])
    return head if len(banks) <= MAX_LISTED else f"{head} … ({len(banks)} banks)"


def hierarchy_table(banks: pd.DataFrame) -> pd.DataFrame:
    """Rows = (scenario, round), columns = model, cells = the banks defaulting in that round."""
    d = banks[banks["defaulted"]].assign(default_round=lambda f: f["default_round"].astype(int))
    rows = []
    for (scenario, rnd), g in d.groupby(["scenario", "default_round"], sort=True):
        row = {"scenario": scenario, "round": rnd}
        for model, label in MODEL_LABEL.items():
            row[label] = _cell(list(g.loc[g["model"] == model, "bank_id"]))
        rows.append(row)
    return pd.DataFrame(rows).astype(object)


def _recovery_figure(banks: pd.DataFrame):
    clear = banks[(banks["model"] != "sequential") & banks["defaulted"]]
    groups = [(f"{s}\n{MODEL_LABEL[m]}", g["recovery"].to_numpy(float))
              for (s, m), g in clear.groupby(["scenario", "model"], sort=True)]

    def draw(fig):
        ax = fig.subplots()
        ax.boxplot([v for _, v in groups], tick_labels=[k for k, _ in groups], showfliers=True)
        ax.set_ylabel("recovery p*/p̄ of defaulting banks")
        ax.set_ylim(0, 1.02)
        ax.tick_params(axis="x", labelsize=7)

    return figure_html(draw, caption="Clearing recovery rates of the defaulting banks", name="recovery", height=3.8)


def build(ctx: ReportContext) -> Section | None:
    matrix, scenarios, banks = (ctx.artifact(name) for name in ("interbank_matrix", "interbank_scenarios", "interbank_banks"))
    if matrix is None and scenarios is None and banks is None:
        return None
    blocks, metrics, plots = [], {}, {}
    if matrix is not None:
        blocks.append(table_html(matrix, caption="Interbank matrix estimation", digits=4))
    if scenarios is not None:
        table = scenarios.assign(model=scenarios["model"].map(MODEL_LABEL))[
            ["scenario", "model", "n_initial", "n_defaulted", "assets_defaulted_share", "rounds", "loss_share_equity",
             "shortfall"]].rename(columns={
                 "n_initial": "banks failing first", "n_defaulted": "banks defaulted",
                 "assets_defaulted_share": "assets defaulted (share)", "rounds": "contagion rounds",
                 "loss_share_equity": "interbank loss (share of equity)", "shortfall": "payment shortfall (currency)"})
        blocks.append(table_html(table, caption="Scenarios: defaults, contagion rounds and losses by model", digits=4))
        for row in scenarios.itertuples(index=False):
            metrics[f"{row.scenario}.{row.model}.n_defaulted"] = int(row.n_defaulted)
        plots["scenarios"] = scenarios[["scenario", "model", "n_defaulted", "loss_share_equity"]].reset_index(drop=True)
    if banks is not None:
        blocks.append(table_html(hierarchy_table(banks), caption="Default hierarchy by scenario, round and model",
                                 wrap=True))
        figure = bool(((banks["model"] != "sequential") & banks["defaulted"]).any())
        if figure:
            blocks.append(_recovery_figure(banks))
    return Section(ID, TITLE, intro(ctx, banks is not None and figure), blocks, metrics, plots)
