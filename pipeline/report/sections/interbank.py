"""Interbank contagion: sequential default and Eisenberg–Noe / Rogers–Veraart clearing (docs/interbank.md)."""

from __future__ import annotations

import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, table_html

MODEL_LABEL = {"sequential": "sequential (Furfine)", "eisenberg_noe": "Eisenberg–Noe", "rogers_veraart": "Rogers–Veraart"}
MAX_LISTED = 8

ID = "interbank"
TITLE = "Interbank contagion: sequential default and clearing"
INTRO = (
    "Lu–Zhang's balance-sheet models on the interbank matrix estimated from each bank's total interbank assets and "
    "liabilities (docs/interbank.md; the first table gives the matrix's diagnostics as in the cascade section). Each "
    "bank's external assets are its total assets minus its interbank claims; its other liabilities follow from the "
    "balance-sheet identity. A scenario names the banks that fail first (by rank of total assets, 1 = largest: the "
    "largest bank, and Fan–Rong–Duan's small and medium banks at ranks 16–45 and 16–115) and/or a common shock, the "
    "share of every bank's external assets lost. <b>Sequential default</b> (Furfine 2003): a creditor loses λ (the loss "
    "given default) times its claims on defaulted banks and defaults when that exceeds its capital; rounds repeat until "
    "nobody new defaults. <b>Eisenberg–Noe</b> (2001): the greatest clearing vector p* = min(p̄, e + Πᵀp*) over the banks "
    "and their external creditors (pari passu), where the banks failing first lose <code>initial_loss</code> of their "
    "external assets; <b>Rogers–Veraart</b> (2013): the same with default costs, a defaulting bank realising α of its "
    "external assets and β of its interbank claims. <b>Scenario table</b>: banks failing first, banks defaulted, the "
    "share of total assets defaulted, contagion rounds (0 = nobody beyond those that default without contagion), the "
    "interbank credit loss (claims not paid, for the sequential model λ × claims on defaulted banks) as a share of the "
    "system's equity, and the payment shortfall Σ(p̄ − p*) of the clearing models in currency units. <b>Default "
    "hierarchy</b>: round 0 = banks failing without contagion (clearing: those that cannot pay when every other bank "
    "pays in full), round r = banks that default because of earlier rounds; at most eight banks are listed per cell. "
    "<b>Figure</b>: the clearing recovery rate p*/p̄ of the banks that default, per scenario."
)


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

    return figure_html(draw, caption="Clearing recovery rates of the defaulting banks", height=3.8)


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
        if ((banks["model"] != "sequential") & banks["defaulted"]).any():
            blocks.append(_recovery_figure(banks))
    return Section(ID, TITLE, INTRO, blocks, metrics, plots)
