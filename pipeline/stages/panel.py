"""Panel: regressions of the contagion risk weight on capital and liquidity ratios (Liu–Ma 2021).

Joins each bank-year's CRW (``crw``, with ``contagion.window: year``) with the bank's year-end
ratios from the canonical ``balance_sheet`` (:func:`panel.build.year_end_ratios`,
:func:`panel.build.build_panel`; contemporaneous, or one year earlier with ``panel.lagged``) and
estimates the model list of the ``panel`` params group (:func:`panel.model_list.estimate_panel`).
Writes ``panel/panel`` (the joined panel), ``panel/coefficients``, ``panel/fit_stats``,
``panel/descriptives``, Tables 1 and 2 as the display frames ``panel/table1`` / ``panel/table2``
(the cells of their CSV files) and as ``table1`` / ``table2`` ``.csv``, ``.tex``, ``.html`` in
``data/processed/panel/``. The replication mode ``python -m pipeline panel`` runs the same
science on a CSV panel (:mod:`pipeline.replication`). Documentation: ``docs/panel.md``.
"""

from __future__ import annotations

from panel.build import build_panel, year_end_ratios
from panel.model_list import PanelParams, estimate_panel
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> dict:
    params = ctx.config()
    ratios, ratio_events = year_end_ratios(ctx.read("balance_sheet"))
    data, join_events = build_panel(ctx.read("crw"), ratios, lagged=params.lagged)
    ctx.events(ratio_events, table="balance_sheet")
    ctx.events(join_events, table="balance_sheet")
    output = estimate_panel(data, params, mapper=ctx.mapper)
    ctx.events(output.events(), table="panel")
    folder = ctx.path("panel/tables")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in output.table_files().items():
        (folder / name).write_text(text, encoding="utf-8")
    tables = output.display_tables()
    return {"panel/panel": data, "panel/coefficients": output.coefficients, "panel/fit_stats": output.fit_stats,
            "panel/descriptives": output.descriptives, "panel/table1": tables["table1"], "panel/table2": tables["table2"]}


STAGE = Stage(
    name="panel",
    run=run,
    params={"panel": PanelParams},
    inputs=("crw", "balance_sheet"),
    outputs=("panel/panel", "panel/coefficients", "panel/fit_stats", "panel/descriptives", "panel/table1",
             "panel/table2", "panel/tables"),
)
