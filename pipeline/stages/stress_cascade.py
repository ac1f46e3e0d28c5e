"""Stress cascade: interbank matrix, cascades on the bank–asset network, DebtRank (Fan–Rong–Duan; docs/cascade.md).

Params group ``stress.cascade`` (:class:`measures.stress.cascade_study.CascadeParams`). Input
(``source``): ``synthetic`` — the 263-bank 2019 cross-section of
:func:`pipeline.simulator.network_banks.simulate_network_banks`; ``balance_sheet`` — one period of
the canonical ``balance_sheet`` table (groups from ``banks``). Outputs: ``cascade_matrix``
(interbank-matrix diagnostics per system), ``cascade_surface`` (system × scenario × α × β),
``cascade_hierarchy`` (the failed banks of the named-failure runs by layer), ``cascade_boundary``
(failure boundaries of banks and groups), ``debtrank``; exclusions and flags are quality
records. The science: :func:`measures.stress.cascade_study.cascade_study`.
"""

from __future__ import annotations

from measures.stress.cascade_study import INPUT_COLUMNS, CascadeParams, balance_sheet_inputs, cascade_study
from pipeline.stage import Stage, StageContext

GENERATOR = "pipeline.simulator.network_banks"


def run(ctx: StageContext) -> dict:
    cfg: CascadeParams = ctx.config()
    if cfg.source == "synthetic":
        from pipeline.simulator.network_banks import PERIOD_END, simulate_network_banks

        ctx.data_source = {"kind": "synthetic", "generator": GENERATOR, "seed": cfg.seed}
        frame, when = simulate_network_banks(seed=cfg.seed)[list(INPUT_COLUMNS)], PERIOD_END
    else:
        frame, events, when = balance_sheet_inputs(ctx.read("balance_sheet", required=False),
                                                   ctx.read("banks", required=False), cfg.period)
        ctx.events(events, table="balance_sheet")
    study = cascade_study(frame, cfg.study(), when=when, mapper=ctx.mapper)
    ctx.events(study.events, table="balance_sheet")
    return {"cascade_matrix": study.matrix, "cascade_surface": study.surface, "cascade_hierarchy": study.hierarchy,
            "cascade_boundary": study.boundary, "debtrank": study.debtrank}


STAGE = Stage(
    name="stress_cascade",
    run=run,
    params={"stress.cascade": CascadeParams},
    inputs=("balance_sheet", "banks"),
    outputs=("cascade_matrix", "cascade_surface", "cascade_hierarchy", "cascade_boundary", "debtrank"),
)
