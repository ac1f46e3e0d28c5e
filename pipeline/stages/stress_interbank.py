"""Interbank contagion: sequential default (Furfine) and Eisenberg–Noe / Rogers–Veraart clearing (docs/interbank.md).

Params group ``stress.interbank`` (:class:`measures.stress.interbank_study.InterbankConfig`; ``data``
for ``source: auto``). Input (``source``): ``auto`` — the canonical ``balance_sheet`` table when
``data.source: files``, the simulator when ``data.source: synthetic``; ``synthetic`` — the
263-bank 2019 cross-section of :func:`pipeline.simulator.network_banks.simulate_network_banks`
(labelled simulated data in the provenance, and recorded when the dataset is the user's files);
``balance_sheet`` — one period of the canonical table. Data that cannot support the study make
the stage not estimable (:func:`measures.stress.interbank_study.interbank_inputs`, also behind
the ``check`` hook). Outputs: ``interbank_matrix`` (diagnostics of the estimated matrix),
``interbank_exposures`` (its positive entries), ``interbank_banks`` (scenario × model × bank:
default, default round, losses, clearing payments), ``interbank_scenarios`` (scenario × model);
exclusions and flags are quality records. The science:
:func:`measures.stress.interbank_study.interbank_study`.
"""

from __future__ import annotations

from measures.stress.interbank_study import INPUT_COLUMNS, InterbankConfig, interbank_inputs, interbank_study
from pipeline.network_inputs import cross_section, simulated_check
from pipeline.params import DataConfig
from pipeline.stage import Stage, StageContext

GROUP = "stress.interbank"


def run(ctx: StageContext) -> dict:
    cfg: InterbankConfig = ctx.config(GROUP)
    frame, when = cross_section(ctx, GROUP, cfg, lambda: interbank_inputs(ctx.read("balance_sheet", required=False),
                                                                          cfg.period), columns=INPUT_COLUMNS)
    study = interbank_study(frame, cfg, when=when, mapper=ctx.mapper)
    ctx.events(study.events, table="balance_sheet")
    return {"interbank_matrix": study.matrix, "interbank_exposures": study.exposures, "interbank_banks": study.banks,
            "interbank_scenarios": study.scenarios}


def check(data, configs) -> list[tuple[str, str]]:
    """What the stage will run on (``python -m pipeline check``): the same inputs as :func:`run`, no estimation."""
    cfg: InterbankConfig = configs[GROUP]
    simulated = simulated_check(GROUP, cfg, configs["data"].source,
                                "sequential default and clearing on the 263-bank 2019 cross-section")
    return simulated or interbank_inputs(data.balance_sheet, cfg.period).check_lines()


STAGE = Stage(
    name="stress_interbank",
    run=run,
    check=check,
    params={GROUP: InterbankConfig, "data": DataConfig},
    inputs=("balance_sheet",),
    outputs=("interbank_matrix", "interbank_exposures", "interbank_banks", "interbank_scenarios"),
)
