"""Panel: regressions of the contagion risk weight on capital and liquidity ratios (Liu–Ma 2021).

Joins each bank-year's CRW (``crw``; a rolling-window CRW is made yearly by ``panel.rolling_crw``,
:func:`panel.build.yearly_crw`) with the bank's year-end
ratios from the canonical ``balance_sheet`` (:func:`panel.build.year_end_ratios`,
:func:`panel.build.build_panel`; contemporaneous, or one year earlier with ``panel.lagged``) and
estimates the model list of the ``panel`` params group (:func:`panel.model_list.estimate_panel`):
models whose columns the data lack are skipped and listed (fit_stats, Table 2's note, quality
records); when none can be estimated the stage is not estimable (the message lists each model's
missing columns, ``needs`` what to add) and the DAG goes on. ``check`` says the same from the
canonical balance sheet before any stage ran (:func:`panel.coverage.panel_check`).
Writes ``panel/panel`` (the joined panel), ``panel/coefficients``, ``panel/fit_stats``,
``panel/descriptives``, Tables 1 and 2 as the display frames ``panel/table1`` / ``panel/table2``
(the cells of their CSV files) and as ``table1`` / ``table2`` ``.csv``, ``.tex``, ``.html`` in
``data/processed/panel/``. With ``panel.robustness.enabled`` (default) it also reads ``crw_robustness``
and writes Table 3 (:func:`panel.robustness.panel_robustness`): the long ``panel/robustness`` (variant,
model, term: estimate, std_error, t_stat, p_value, nobs, banks, chosen, status), its display frame
``panel/table3`` and ``table3`` ``.csv``, ``.tex``, ``.html``. The replication mode ``python -m pipeline panel`` runs the same
science on a CSV panel (:mod:`pipeline.replication`). Documentation: ``docs/panel.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from measures.core.config import Config
from measures.core.status import NotEstimable
import pandas as pd

from panel.build import build_panel, year_end_ratios, yearly_crw
from panel.coverage import NEEDS_BALANCE_SHEET, NO_BALANCE_SHEET, panel_check
from panel.model_list import PanelParams, estimate_panel
from panel.robustness import ROBUSTNESS_COLUMNS, RobustnessOutput, panel_robustness
from pipeline.replication import write_tables
from pipeline.stage import CheckLine, Stage, StageContext


def _robustness(ctx: StageContext, params: PanelParams, crw: pd.DataFrame, ratios: pd.DataFrame) -> RobustnessOutput | None:
    """Table 3 (None when switched off or not estimable: its outputs are then empty, or marked)."""
    if not params.robustness.enabled:
        return None
    try:
        robust = panel_robustness(crw, ctx.read("crw_robustness", required=False), ratios, params, mapper=ctx.mapper)
    except NotEstimable as exc:
        ctx.not_estimable("panel/robustness", "panel/table3", reason=str(exc), needs=exc.needs, table="panel")
        return None
    ctx.events(robust.events(), table="panel")
    return robust


def run(ctx: StageContext) -> dict:
    params = ctx.config()
    balance_sheet = ctx.read("balance_sheet", required=False)
    if balance_sheet is None or balance_sheet.empty:
        raise NotEstimable(NO_BALANCE_SHEET, needs=NEEDS_BALANCE_SHEET)
    ratios, ratio_events = year_end_ratios(balance_sheet)
    crw, crw_events = yearly_crw(ctx.read("crw"), params.rolling_crw)
    data, join_events = build_panel(crw, ratios, lagged=params.lagged)
    ctx.events(crw_events, table="crw")
    ctx.events(ratio_events, table="balance_sheet")
    ctx.events(join_events, table="balance_sheet")
    output = estimate_panel(data, params, mapper=ctx.mapper)
    ctx.events(output.events(), table="panel")
    robust = _robustness(ctx, params, crw, ratios)
    write_tables(output, ctx.path("panel/tables"), robust)
    tables = output.display_tables()
    out = {"panel/panel": data, "panel/coefficients": output.coefficients, "panel/fit_stats": output.fit_stats,
           "panel/descriptives": output.descriptives, "panel/table1": tables["table1"], "panel/table2": tables["table2"]}
    if robust is not None:
        out |= {"panel/robustness": robust.long, "panel/table3": robust.table3}
    elif not params.robustness.enabled:
        out |= {"panel/robustness": pd.DataFrame(columns=list(ROBUSTNESS_COLUMNS)), "panel/table3": pd.DataFrame(columns=[""])}
    return out


def check(data, configs: Mapping[str, Config]) -> list[CheckLine]:
    """The models the balance sheet can carry, those it cannot (with the missing columns), banks and years."""
    params = configs["panel"]
    try:
        return panel_check(data.balance_sheet, params.specs(), lagged=params.lagged)
    except Exception as exc:  # the check never stops: say what went wrong instead
        return [("cannot", f"the balance sheet cannot be read for the panel: {exc}")]


STAGE = Stage(
    name="panel",
    run=run,
    params={"panel": PanelParams},
    inputs=("crw", "balance_sheet", "crw_robustness"),
    # deps: crw_robustness only for Table 3
    select_inputs=lambda configs: ("crw", "balance_sheet") + (("crw_robustness",) if configs["panel"].robustness.enabled else ()),
    outputs=("panel/panel", "panel/coefficients", "panel/fit_stats", "panel/descriptives", "panel/table1",
             "panel/table2", "panel/robustness", "panel/table3", "panel/tables"),
    check=check,
    realtime=True,
)
