"""Ingest: map the configured data source onto the validated canonical tables.

``data.source: synthetic`` runs the embedded simulator (``data.seed``);
``data.source: files`` reads ``data.raw_dir`` through the adapter named by
``data.format`` (canonical, wind, toolbox). The sample period ``data.start`` ..
``data.end`` trims the daily tables; balance sheets are kept whole (earlier
periods feed carry-forward). Outputs: the canonical tables in
``data/interim/canonical/`` (with ``meta.json``) and the quality records.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.params import DataConfig
from pipeline.schema import CanonicalData, trim_period
from pipeline.stage import Stage, StageContext, StageInputError

TABLES = ("banks", "prices", "system", "market_states", "balance_sheet")


def load_source(config: DataConfig, *, root: Path) -> tuple[CanonicalData, list]:
    """The canonical dataset from the configured source, with the adapters' quality records."""
    if config.source == "synthetic":
        from pipeline.simulator import simulate

        return simulate(seed=config.seed, start=config.start, end=config.end), []
    from pipeline import adapters

    return adapters.load(config, root=root)


def data_source(config: DataConfig) -> dict:
    """The ``data_source`` entry of every artifact's provenance."""
    sample = {"start": config.start, "end": config.end}
    if config.source == "synthetic":
        return {"kind": "synthetic", "seed": config.seed, "sample": sample}
    return {"kind": "files", "format": config.format, "raw_dir": config.raw_dir, "files": dict(config.files), "sample": sample}


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    ctx.data_source = data_source(config)
    data, records = load_source(config, root=ctx.root)
    ctx.record(records)
    ctx.record(trim_period(data, config.start, config.end, stage=ctx.stage.name))
    if data.prices.empty:
        raise StageInputError(f"no price rows inside the sample period data.start..data.end = {config.start} .. {config.end}")
    folder = ctx.path("canonical/meta").parent
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    tables = data.tables()
    out = {name: tables[name] for name in TABLES if name in tables}
    if data.episodes is not None:
        out["episodes"] = data.episodes
    out["canonical/meta"] = {
        "currency": data.currency,
        "tables": sorted(tables),
        "episodes": data.episodes is not None,
        "sources": {k: str(v) for k, v in sorted(data.sources.items())},
    }
    return out


STAGE = Stage(
    name="ingest",
    run=run,
    params={"data": DataConfig},
    outputs=(*TABLES, "episodes", "canonical/meta"),
    optional_outputs=("system", "market_states", "balance_sheet", "episodes"),
    files=("pipeline/simulator_calibration.json", "data/raw"),
)
