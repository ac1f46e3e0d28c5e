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
are quality records. With the optional canonical table ``sector_indices`` (industry index series,
docs/own-data.md) the sector correlations of the round-0 shock are estimated from it for every sector
it has (:func:`measures.stress.firesale_inputs.sector_correlations_from_indices`, options
``sector_indices``), ``sector_correlations`` (params) serve the others and runs without the table;
a quality record says which came from where. The science: :func:`measures.stress.firesale_years.fire_sale_years`.
"""

from __future__ import annotations

import dataclasses
import numpy as np
import pandas as pd

from measures.core.events import EVENT_COLUMNS
from measures.core.status import NotEstimable
from measures.stress.coverage import InputPlan, resolve_source, simulated_input_event
from measures.stress.firesale_years import (
    FireSaleParams,
    SectorIndices,
    eba_inputs,
    fire_sale_years,
    firesale_plan,
    mean_curve,
    phase_comparison,
    screened_plan,
    sr_changes,
)
from measures.stress.firesale_inputs import sector_correlations_from_indices
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


def indexed_sectors(table: pd.DataFrame, spec: SectorIndices, source: object = None) -> dict[str, float]:
    """The sector correlations estimated from the canonical ``sector_indices`` table (date, one column
    per index) by ``spec`` (:func:`measures.stress.firesale_inputs.sector_correlations_from_indices`);
    a problem raises :class:`DataValidationError` naming the file, table, column (date, value)."""
    where = {"source": source, "table": "sector_indices"}
    frame = table.set_index("date")
    if spec.values == "prices":
        bad = frame.to_numpy(dtype=float, na_value=np.nan) <= 0
        if bad.any():
            i, j = (int(k[0]) for k in np.nonzero(bad))
            raise DataValidationError("not a positive index level", **where, column=str(frame.columns[j]),
                                      date=frame.index[i], value=float(frame.iat[i, j]),
                                      allowed=f"index levels > 0, or {GROUP}.sector_indices.values: returns")
    try:
        return sector_correlations_from_indices(frame, real_estate=spec.real_estate, values=spec.values, min_obs=spec.min_obs)
    except ValueError as exc:
        raise DataValidationError(str(exc), **where, allowed=f"a column {spec.real_estate!r} ({GROUP}.sector_indices."
                                  "real_estate) and one column per sector-loan column, each with at least "
                                  f"{spec.min_obs} losses ({GROUP}.sector_indices.min_obs)") from None


def sector_choice(cfg: FireSaleParams, table: pd.DataFrame | None, source: object = None) -> tuple[FireSaleParams, pd.DataFrame]:
    """``cfg`` with the sector correlations of the run: estimated from the ``sector_indices`` table for
    each sector it has (:func:`indexed_sectors`), ``sector_correlations`` (params) for the others and
    when there is no table. With the table one quality event says which came from where; without
    it ``cfg`` is unchanged (the provenance's params then hold the correlations used) and there is no event."""
    if table is None:
        return cfg, pd.DataFrame(columns=list(EVENT_COLUMNS))
    params = dict(cfg.sector_correlations)
    estimated = indexed_sectors(table, cfg.sector_indices, source)
    rho = params | estimated
    listed = ", ".join(f"{k} {v:.4f}" for k, v in rho.items())
    kept = [k for k in params if k not in estimated]
    event = {"bank_id": None, "date_start": table["date"].iloc[0], "date_end": table["date"].iloc[-1], "n_rows": len(table),
             "action": "filled", "reason": "sector_correlations_estimated",
             "detail": f"sector correlations of the industry index losses with {cfg.sector_indices.real_estate} from "
                       f"the sector_indices table{f' ({source})' if source else ''} for {', '.join(estimated)}"
                       + (f"; {GROUP}.sector_correlations for {', '.join(kept)}" if kept else "") + f": {listed}"}
    return dataclasses.replace(cfg, sector_correlations=rho), pd.DataFrame([event], columns=list(EVENT_COLUMNS))


def run(ctx: StageContext) -> dict:
    indices = ctx.read("sector_indices", required=False)
    meta = ctx.read("canonical/meta", required=False) or {}
    cfg, sector_events = sector_choice(ctx.config(GROUP), indices, meta.get("sources", {}).get("sector_indices"))
    ctx.events(sector_events, table="sector_indices")
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
    # the paper's fig. 3 and three-phase comparison (wiring only): firesale_sr_change (year, alpha: SR change
    # rate and TW), firesale_phase_curves (phase, alpha: each phase's mean curve), firesale_phases (the comparison)
    phase_curves, phases, phase_events = phase_comparison(result.system, cfg.phases, il_share=cfg.il_share)
    ctx.events(phase_events, table="balance_sheet")
    figures = {"firesale_sr_change": sr_changes(result.system), "firesale_phase_curves": phase_curves,
               "firesale_phases": phases}
    return {
        "firesale": result.system,
        "firesale_banks": result.banks,
        "firesale_regions": result.regions,
        "firesale_inputs": result.inputs.assign(currency=currency),
        "firesale_mean": mean,
        "firesale_mean_regions": mean_regions,
        **figures,
    }


def check(data, configs) -> list[tuple[str, str]]:
    """What the stage will run on (``python -m pipeline check``): the same plan as :func:`run`, no estimation."""
    try:
        cfg, events = sector_choice(configs[GROUP], data.sector_indices, data.sources.get("sector_indices"))
    except (DataValidationError, ValueError) as exc:
        return [("cannot", f"sector correlations from the sector_indices table: {exc}")]
    sector_line = [("estimates", events["detail"].iloc[0])] if data.sector_indices is not None else []
    kind = configs["data"].source
    source = resolve_source(cfg.source, kind)
    if source == "synthetic":
        frame, _ = simulated(cfg)
        note = " — NOT your balance sheets (stress.firesale.source: synthetic)" if kind == "files" else ""
        lines = screened_plan(frame, cfg).check_lines()
        return [(k, f"SIMULATED data ({GENERATOR}, seed {cfg.seed}){note}: {t}" if k == "estimates" else t)
                for k, t in lines] + sector_line
    if source == "eba":
        try:
            frame, _ = eba_inputs(read_eba(cfg.eba.file), cfg.eba)
        except (DataValidationError, ValueError) as exc:
            return [("cannot", f"EBA extract {cfg.eba.file}: {exc}")]
        return screened_plan(frame, cfg).check_lines() + sector_line
    return firesale_plan(data.balance_sheet, cfg).check_lines() + sector_line


def eba_file(configs) -> tuple[str, ...]:
    """The EBA extract (``source: eba``) is a dependency of the stage when used (``dvc.yaml`` is regenerated)."""
    cfg = configs[GROUP]
    return (cfg.eba.file,) if cfg.source == "eba" and cfg.eba.file else ()


STAGE = Stage(
    name="stress_firesale",
    run=run,
    check=check,
    param_files=eba_file,
    params={GROUP: FireSaleParams, "data": DataConfig},
    inputs=("balance_sheet", "sector_indices", "canonical/meta"),
    outputs=("firesale", "firesale_banks", "firesale_regions", "firesale_inputs", "firesale_mean",
             "firesale_mean_regions",
             "firesale_sr_change", "firesale_phase_curves", "firesale_phases"),  # the paper's fig. 3 and phases
)
