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
are quality records. With ``sector_indices.file`` the sector correlations of the round-0 shock are
estimated from the industry index series in that CSV
(:func:`measures.stress.firesale_inputs.sector_correlations_from_indices`; recorded) instead of taken
from ``sector_correlations``. The science: :func:`measures.stress.firesale_years.fire_sale_years`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from measures.core.events import EVENT_COLUMNS
from measures.core.status import NotEstimable
from measures.stress.coverage import InputPlan, resolve_source, simulated_input_event
from measures.stress.firesale_years import (
    FireSaleParams,
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


def read_sector_indices(path: str) -> pd.DataFrame:
    """The sector-index CSV of ``stress.firesale.sector_indices.file``: a ``date`` column (ISO dates,
    strictly increasing) and numeric columns (empty = not observed), as a dates x columns frame."""
    where = f"{GROUP}.sector_indices.file {path}"
    if not Path(path).is_file():
        raise DataValidationError("file not found", source=where, allowed="a CSV with a date column and one column per sector")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "date" not in raw.columns:
        raise DataValidationError("no date column", source=where, column="date", allowed=f"columns date, real_estate, ...; found: {', '.join(raw.columns)}")
    dates = pd.to_datetime(raw["date"].str.strip(), errors="coerce", format="ISO8601")
    if dates.isna().any() or not dates.is_monotonic_increasing or dates.duplicated().any():
        i = int(np.flatnonzero(dates.isna() | dates.duplicated() | (dates < dates.cummax()))[0])
        raise DataValidationError("not a date, or not after the previous row", source=where, column="date", row=i + 1,
                                  value=raw["date"].iloc[i], allowed="ISO dates (YYYY-MM-DD), strictly increasing")
    out = {}
    for col in raw.columns.drop("date"):
        text = raw[col].str.strip()
        values = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = values.isna() & (text != "")
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataValidationError("not a number", source=where, column=col, row=i + 1, value=raw[col].iloc[i],
                                      allowed="a number, or empty for not observed")
        out[col] = values.to_numpy(dtype=float)
    return pd.DataFrame(out, index=pd.DatetimeIndex(dates, name="date"))


def estimated_sectors(cfg: FireSaleParams) -> tuple[FireSaleParams, pd.DataFrame]:
    """``cfg`` with ``sector_correlations`` estimated from ``sector_indices.file`` (unchanged when None),
    and the ``sector_correlations_estimated`` event listing them."""
    spec = cfg.sector_indices
    if spec.file is None:
        return cfg, pd.DataFrame(columns=list(EVENT_COLUMNS))
    frame = read_sector_indices(spec.file)
    try:
        rho = sector_correlations_from_indices(frame, real_estate=spec.real_estate, values=spec.values, min_obs=spec.min_obs)
    except ValueError as exc:
        raise DataValidationError(str(exc), source=f"{GROUP}.sector_indices.file {spec.file}") from None
    event = {"bank_id": None, "date_start": frame.index[0], "date_end": frame.index[-1], "n_rows": len(frame),
             "action": "filled", "reason": "sector_correlations_estimated",
             "detail": "stress.firesale.sector_correlations replaced by the correlations of the industry index losses "
                       "with real estate: " + ", ".join(f"{k} {v:.4f}" for k, v in rho.items())}
    return dataclasses.replace(cfg, sector_correlations=rho), pd.DataFrame([event], columns=list(EVENT_COLUMNS))


def run(ctx: StageContext) -> dict:
    cfg, sector_events = estimated_sectors(ctx.config(GROUP))
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
        cfg, _ = estimated_sectors(configs[GROUP])
    except (DataValidationError, ValueError) as exc:
        return [("cannot", f"sector correlations from {configs[GROUP].sector_indices.file}: {exc}")]
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
    """The EBA extract (``source: eba``) and the sector-index CSV (``sector_indices.file``) are dependencies
    of the stage when used (``dvc.yaml`` is regenerated)."""
    cfg = configs[GROUP]
    return ((cfg.eba.file,) if cfg.source == "eba" and cfg.eba.file else ()) + (
        (cfg.sector_indices.file,) if cfg.sector_indices.file else ())


STAGE = Stage(
    name="stress_firesale",
    run=run,
    check=check,
    param_files=eba_file,
    params={GROUP: FireSaleParams, "data": DataConfig},
    inputs=("balance_sheet", "canonical/meta"),
    outputs=("firesale", "firesale_banks", "firesale_regions", "firesale_inputs", "firesale_mean",
             "firesale_mean_regions",
             "firesale_sr_change", "firesale_phase_curves", "firesale_phases"),  # the paper's fig. 3 and phases
)
