"""Stress test: Zhang–Guo–Wen–Sun's double-layer fire sale over every year × the α grid (docs/firesale.md).

Params group ``stress.firesale`` (:class:`measures.stress.firesale_years.FireSaleParams`; ``data``
for ``source: auto``). Input (``source``): ``auto`` — the canonical ``balance_sheet`` table when
``data.source: files``, the simulator when ``data.source: synthetic``; ``synthetic`` — the
embedded 39-bank panel of :mod:`pipeline.simulator.stress_banks` (labelled simulated data in the
provenance, and recorded when the dataset is the user's files); ``balance_sheet`` — the
canonical table (annual periods, ``capital = equity``, ``fill`` rules); ``eba`` — the EBA 2018
extract at ``eba.file``. Data that cannot support the study make the stage not estimable, with
the missing columns × banks × years (:func:`measures.stress.firesale_years.firesale_plan`, also
behind the ``check`` hook). Outputs: ``firesale`` (year, alpha: system outputs, tw, omega,
region, status), ``firesale_banks`` (year, alpha, bank_id), ``firesale_regions`` (year, region),
``firesale_inputs`` (year, bank_id: the inputs used), ``firesale_mean`` (alpha: the mean curve
over years) and ``firesale_mean_regions`` (its regions, by ``il_share``); fills and exclusions
are quality records. The science: :func:`measures.stress.firesale_years.fire_sale_years`.
"""

from __future__ import annotations

from measures.core.status import NotEstimable
from measures.stress.coverage import InputPlan, resolve_source, simulated_input_event
from measures.stress.firesale_years import (
    FireSaleParams,
    eba_inputs,
    fire_sale_years,
    firesale_plan,
    mean_curve,
    screened_plan,
)
from pipeline.adapters.eba import read_eba
from pipeline.artifacts import artifact
from pipeline.params import DataConfig
from pipeline.schema import DataValidationError
from pipeline.stage import Stage, StageContext

GROUP = "stress.firesale"
GENERATOR = "pipeline.simulator.stress_banks"


def simulated(cfg: FireSaleParams):
    """The simulated panel of ``cfg`` (years, seed) and its ``data_source`` entry."""
    from pipeline.simulator.stress_banks import simulate_firesale_banks

    first, last = cfg.years or (2012, 2020)
    frame = simulate_firesale_banks(seed=cfg.seed, years=range(first, last + 1)).drop(columns="group")
    return frame, {"kind": "synthetic", "generator": GENERATOR, "seed": cfg.seed, "years": [first, last]}


def load_plan(ctx: StageContext, cfg: FireSaleParams, source: str) -> tuple[InputPlan, str]:
    """The screened inputs of the resolved source (loader events recorded) and their currency label."""
    if source == "synthetic":
        frame, ctx.data_source = simulated(cfg)
        return screened_plan(frame, cfg), "CNY"
    if source == "eba":
        ctx.data_source = {"kind": "files", "format": "eba2018", "files": {"eba": cfg.eba.file}}
        frame, events = eba_inputs(read_eba(cfg.eba.file), cfg.eba)
        ctx.events(events, table="eba")
        return screened_plan(frame, cfg), "EUR m"
    plan = firesale_plan(ctx.read("balance_sheet", required=False), cfg)
    meta = ctx.read("canonical/meta", required=False) or {}
    return plan, meta.get("currency", "")


def run(ctx: StageContext) -> dict:
    cfg: FireSaleParams = ctx.config(GROUP)
    data: DataConfig = ctx.config("data")
    source = resolve_source(cfg.source, data.source)
    if source == "synthetic" and data.source == "files":
        ctx.events(simulated_input_event(f"{GROUP}.source"), table="balance_sheet")
    plan, currency = load_plan(ctx, cfg, source)
    ctx.events(plan.events, table="balance_sheet")
    if plan.reason:
        raise NotEstimable(f"{plan.reason} (records: {artifact('quality/stress_firesale').path})", needs=plan.needs)
    result = fire_sale_years(plan.frame, cfg.alpha.values(), config=cfg.model(), sector_correlations=plan.sectors,
                             il_share=cfg.il_share, mapper=ctx.mapper)
    ctx.events(result.events, table="balance_sheet")
    mean, mean_regions = mean_curve(result.system, il_share=cfg.il_share)
    return {
        "firesale": result.system,
        "firesale_banks": result.banks,
        "firesale_regions": result.regions,
        "firesale_inputs": result.inputs.assign(currency=currency),
        "firesale_mean": mean,
        "firesale_mean_regions": mean_regions,
    }


def check(data, configs) -> list[tuple[str, str]]:
    """What the stage will run on (``python -m pipeline check``): the same plan as :func:`run`, no estimation."""
    cfg: FireSaleParams = configs[GROUP]
    kind = configs["data"].source
    source = resolve_source(cfg.source, kind)
    if source == "synthetic":
        frame, _ = simulated(cfg)
        note = " — NOT your balance sheets (stress.firesale.source: synthetic)" if kind == "files" else ""
        lines = screened_plan(frame, cfg).check_lines()
        return [(k, f"SIMULATED data ({GENERATOR}, seed {cfg.seed}){note}: {t}" if k == "estimates" else t)
                for k, t in lines]
    if source == "eba":
        try:
            frame, _ = eba_inputs(read_eba(cfg.eba.file), cfg.eba)
        except (DataValidationError, ValueError) as exc:
            return [("cannot", f"EBA extract {cfg.eba.file}: {exc}")]
        return screened_plan(frame, cfg).check_lines()
    return firesale_plan(data.balance_sheet, cfg).check_lines()


def eba_file(configs) -> tuple[str, ...]:
    """With ``source: eba``, the EBA extract is a dependency of the stage (``dvc.yaml`` is regenerated)."""
    cfg = configs[GROUP]
    return (cfg.eba.file,) if cfg.source == "eba" and cfg.eba.file else ()


STAGE = Stage(
    name="stress_firesale",
    run=run,
    check=check,
    param_files=eba_file,
    params={GROUP: FireSaleParams, "data": DataConfig},
    inputs=("balance_sheet", "canonical/meta"),
    outputs=("firesale", "firesale_banks", "firesale_regions", "firesale_inputs", "firesale_mean",
             "firesale_mean_regions"),
)
