"""Stress test: Zhang–Guo–Wen–Sun's double-layer fire sale over every year × the α grid (docs/firesale.md).

Params group ``stress.firesale`` (:class:`measures.stress.firesale_years.FireSaleParams`). Input
(``source``): ``synthetic`` — the embedded 39-bank panel of :mod:`pipeline.simulator.stress_banks`;
``balance_sheet`` — the canonical ``balance_sheet`` table (annual periods, ``capital = equity``);
``eba`` — the EBA 2018 extract at ``eba.file``. Outputs: ``firesale`` (year, alpha: system
outputs, tw, omega, region, status), ``firesale_banks`` (year, alpha, bank_id), ``firesale_regions``
(year, region), ``firesale_inputs`` (year, bank_id: the inputs used), ``firesale_mean`` (alpha: the
mean curve over years) and ``firesale_mean_regions`` (its regions, by ``il_share``); fills and
exclusions are quality records. The science: :func:`measures.stress.firesale_years.fire_sale_years`.
"""

from __future__ import annotations

import pandas as pd

from measures.stress.firesale_years import (
    FireSaleParams,
    balance_sheet_inputs,
    eba_inputs,
    fire_sale_years,
    mean_curve,
    screen_inputs,
    used_sectors,
)
from pipeline.adapters.eba import read_eba
from pipeline.stage import Stage, StageContext, StageInputError

GENERATOR = "pipeline.simulator.stress_banks"
def load_inputs(ctx: StageContext, cfg: FireSaleParams) -> tuple[pd.DataFrame, str]:
    """The model inputs of the configured source (events recorded) and their currency label."""
    if cfg.source == "synthetic":
        from pipeline.simulator.stress_banks import simulate_firesale_banks

        first, last = cfg.years or (2012, 2020)
        ctx.data_source = {"kind": "synthetic", "generator": GENERATOR, "seed": cfg.seed, "years": [first, last]}
        return simulate_firesale_banks(seed=cfg.seed, years=range(first, last + 1)).drop(columns="group"), "CNY"
    if cfg.source == "eba":
        ctx.data_source = {"kind": "files", "format": "eba2018", "files": {"eba": cfg.eba.file}}
        frame, events = eba_inputs(read_eba(cfg.eba.file), cfg.eba)
        ctx.events(events, table="eba")
        return frame, "EUR m"
    bs = ctx.read("balance_sheet", required=False)
    if bs is None or bs.empty:
        raise StageInputError("stress.firesale.source = balance_sheet but the dataset has no balance_sheet table; "
                              "use source: synthetic or eba, or supply balance_sheet (docs/formats.md)")
    frame, events = balance_sheet_inputs(bs, years=cfg.years, fill=cfg.fill, sector_columns=list(cfg.sector_correlations))
    ctx.events(events, table="balance_sheet")
    return frame, ctx.read("canonical/meta")["currency"]


def run(ctx: StageContext) -> dict:
    cfg: FireSaleParams = ctx.config()
    frame, currency = load_inputs(ctx, cfg)
    sectors, absent = used_sectors(cfg.sector_correlations, list(frame.columns))
    frame, excluded = screen_inputs(frame, list(sectors))
    result = fire_sale_years(frame, cfg.alpha.values(), config=cfg.model(), sector_correlations=sectors,
                             il_share=cfg.il_share, mapper=ctx.mapper)
    for events in (absent, excluded, result.events):
        ctx.events(events, table="balance_sheet")
    mean, mean_regions = mean_curve(result.system, il_share=cfg.il_share)
    return {
        "firesale": result.system,
        "firesale_banks": result.banks,
        "firesale_regions": result.regions,
        "firesale_inputs": result.inputs.assign(currency=currency),
        "firesale_mean": mean,
        "firesale_mean_regions": mean_regions,
    }


def eba_file(configs) -> tuple[str, ...]:
    """With ``source: eba``, the EBA extract is a dependency of the stage (``dvc.yaml`` is regenerated)."""
    cfg = configs["stress.firesale"]
    return (cfg.eba.file,) if cfg.source == "eba" and cfg.eba.file else ()


STAGE = Stage(
    name="stress_firesale",
    run=run,
    param_files=eba_file,
    params={"stress.firesale": FireSaleParams},
    inputs=("balance_sheet", "canonical/meta"),
    outputs=("firesale", "firesale_banks", "firesale_regions", "firesale_inputs", "firesale_mean",
             "firesale_mean_regions"),
)
