"""Ingest: map the configured data source onto the validated canonical tables.

``data.source: synthetic`` runs the embedded simulator (``data.seed``, ``data.n_banks``);
``data.source: files`` reads ``data.raw_dir`` through the adapter named by
``data.format`` (canonical, wind, toolbox). The sample period ``data.start`` ..
``data.end`` trims the daily tables; balance sheets are kept whole (earlier
periods feed carry-forward). Outputs: the canonical tables in
``data/interim/canonical/`` (with ``meta.json``) and the quality records.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.params import RAW_DIR, DataConfig, check_tracked, untracked_inputs
from pipeline.schema import CanonicalData, trim_period
from pipeline.stage import Stage, StageContext, StageInputError, dvc_deps

TABLES = ("banks", "prices", "system", "market_states", "balance_sheet", "sector_indices")


def load_source(config: DataConfig, *, root: Path) -> tuple[CanonicalData, list]:
    """The canonical dataset from the configured source, with the adapters' quality records."""
    if config.source == "synthetic":
        from pipeline.simulator import simulate

        return simulate(seed=config.seed, start=config.start, end=config.end, n_banks=config.n_banks), []
    from pipeline import adapters

    return adapters.load(config, root=root)


def load_trimmed(config: DataConfig, *, root: Path) -> tuple[CanonicalData, list]:
    """:func:`load_source` trimmed to the sample period ``data.start`` .. ``data.end``, with every
    record of both steps (what this stage writes; ``python -m pipeline check`` reads the same)."""
    data, records = load_source(config, root=root)
    return data, [*records, *trim_period(data, config.start, config.end, stage="ingest")]


def data_source(config: DataConfig) -> dict:
    """The ``data_source`` entry of every artifact's provenance."""
    sample = {"start": config.start, "end": config.end}
    if config.source == "synthetic":
        return {"kind": "synthetic", "seed": config.seed, "n_banks": config.n_banks, "sample": sample}
    return {"kind": "files", "format": config.format, "raw_dir": config.raw_dir, "files": dict(config.files), "sample": sample}


def external_paths(configs: dict) -> tuple[str, ...]:
    """Paths named by the ``data`` group that ``data/raw`` does not cover (outside it, or links out of it):
    ``dvc.yaml`` lists them as deps of this stage (run in the project folder)."""
    paths = [p for _, p in untracked_inputs(configs["data"], root=".", deps=[])]
    return tuple(p for p in dict.fromkeys(paths) if not any(p.startswith(o.rstrip("/") + "/") for o in paths))


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    deps = dvc_deps(ctx.stage.name, ctx.root)
    if deps is not None:  # in a DVC project every input must be tracked
        check_tracked(config, root=ctx.root, deps=deps)
    ctx.data_source = data_source(config)
    data, records = load_trimmed(config, root=ctx.root)
    ctx.record(records)
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
    optional_outputs=("system", "market_states", "balance_sheet", "sector_indices", "episodes"),
    files=("pipeline/simulator_calibration.json", RAW_DIR),
    param_files=external_paths,
)
