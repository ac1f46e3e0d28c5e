"""Stress cascade: interbank matrix, cascades on the bank–asset network, DebtRank (Fan–Rong–Duan; docs/cascade.md).

Params group ``stress.cascade`` (:class:`measures.stress.cascade_study.CascadeParams`; ``data`` for
``source: auto``). Input (``source``): ``auto`` — the canonical ``balance_sheet`` table when
``data.source: files``, the simulator when ``data.source: synthetic``; ``synthetic`` — the
263-bank 2019 cross-section of :func:`pipeline.simulator.network_banks.simulate_network_banks`
(labelled simulated data in the provenance, and recorded when the dataset is the user's files);
``balance_sheet`` — one period of the canonical ``balance_sheet`` table (groups from ``banks``,
``fill`` rules). Data that cannot support the study make the stage not estimable, with the
missing columns × banks × periods (:func:`measures.stress.cascade_study.balance_sheet_inputs`,
also behind the ``check`` hook). Outputs: ``cascade_matrix`` (interbank-matrix diagnostics per
system), ``cascade_surface`` (system × scenario × α × β; rescue costs of the named-failure runs),
``cascade_hierarchy`` (the failed banks of the named-failure runs by layer), ``cascade_boundary``
(failure boundaries of banks and groups, equity and dependency forms), ``debtrank``,
``cascade_descriptives`` (Fan–Rong–Duan's Table 1 of the input cross-section),
``cascade_boundary_stats`` (its tables 2–3: joint and individual boundaries per group and rule); fills, exclusions and flags are quality records. The science:
:func:`measures.stress.cascade_study.cascade_study`.
"""

from __future__ import annotations

from measures.stress.cascade_study import CascadeParams, balance_sheet_inputs, cascade_study, scenarios_not_run
from pipeline.network_inputs import cross_section, simulated_check
from pipeline.params import DataConfig
from pipeline.stage import Stage, StageContext

GROUP = "stress.cascade"


def run(ctx: StageContext) -> dict:
    cfg: CascadeParams = ctx.config(GROUP)
    frame, when = cross_section(ctx, GROUP, cfg, lambda: balance_sheet_inputs(
        ctx.read("balance_sheet", required=False), ctx.read("banks", required=False), cfg.period, cfg.fill))
    study = cascade_study(frame, cfg.study(), when=when, mapper=ctx.mapper)
    ctx.events(study.events, table="balance_sheet")
    return {"cascade_matrix": study.matrix, "cascade_surface": study.surface, "cascade_hierarchy": study.hierarchy,
            "cascade_boundary": study.boundary, "debtrank": study.debtrank, "cascade_descriptives": study.descriptives,
            "cascade_boundary_stats": study.boundary_stats}


def check(data, configs) -> list[tuple[str, str]]:
    """What the stage will run on (``python -m pipeline check``): the same inputs as :func:`run`, no estimation."""
    cfg: CascadeParams = configs[GROUP]
    simulated = simulated_check(GROUP, cfg, configs["data"].source, "cascade on the 263-bank 2019 cross-section")
    if simulated:
        return simulated
    plan = balance_sheet_inputs(data.balance_sheet, data.banks, cfg.period, cfg.fill)
    skips = [] if plan.reason else [("skips", why) for why in scenarios_not_run(plan.frame, cfg.named)]
    return plan.check_lines() + skips


STAGE = Stage(
    name="stress_cascade",
    run=run,
    check=check,
    params={GROUP: CascadeParams, "data": DataConfig},
    inputs=("balance_sheet", "banks"),
    outputs=("cascade_matrix", "cascade_surface", "cascade_hierarchy", "cascade_boundary", "debtrank",
             "cascade_descriptives", "cascade_boundary_stats"),
)
