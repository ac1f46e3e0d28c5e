"""Helpers shared by the stage entry points: arguments, canonical tables, quality output."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from pipeline.io import read_parquet, write_json, write_parquet
from pipeline.quality import QualityRecord, quality_frame
from pipeline.schema import SCHEMAS, CanonicalData, Source

CANONICAL_META = "meta.json"


def parser(stage: str, doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every stage takes."""
    p = argparse.ArgumentParser(prog=f"python -m pipeline.stages.{stage}", description=(doc or "").strip().splitlines()[0])
    p.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    p.add_argument("--quality", default="data/processed/quality", help="directory of data-quality outputs")
    return p


def write_canonical(data: CanonicalData, out_dir: Path) -> None:
    """Write every present canonical table as ``<table>.parquet`` plus ``meta.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.parquet"):
        old.unlink()
    for name, table in data.tables().items():
        write_parquet(table, out_dir / f"{name}.parquet", key=SCHEMAS[name].key)
    if data.episodes is not None:
        write_parquet(data.episodes, out_dir / "episodes.parquet", key=["start", "name"])
    write_json(
        {
            "currency": data.currency,
            "tables": sorted(data.tables()),
            "episodes": data.episodes is not None,
            "sources": {k: str(v) for k, v in sorted(data.sources.items())},
        },
        out_dir / CANONICAL_META,
    )


def read_canonical(in_dir: Path) -> CanonicalData:
    """Read the canonical tables written by the ingest stage."""
    import json

    meta_path = Path(in_dir) / CANONICAL_META
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} not found; run the ingest stage first (dvc repro ingest)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    tables = {name: read_parquet(Path(in_dir) / f"{name}.parquet") for name in meta["tables"]}
    episodes = read_parquet(Path(in_dir) / "episodes.parquet") if meta.get("episodes") else None
    return CanonicalData(**tables, sources={k: Source(v) for k, v in meta["sources"].items()}, currency=meta["currency"], episodes=episodes)


def write_quality(records: Iterable[QualityRecord], quality_dir: str | Path, stage: str) -> Path:
    """Write a stage's data-quality records (possibly none) to ``<quality_dir>/<stage>.parquet``."""
    return write_parquet(quality_frame(records), Path(quality_dir) / f"{stage}.parquet")


def events_to_records(events: pd.DataFrame, *, stage: str, table: str) -> list[QualityRecord]:
    """Convert event frames from ``measures`` (bank_id, date_start, date_end, n_rows, action, reason, detail)."""
    return [
        QualityRecord(
            stage=stage,
            table=table,
            bank_id=None if pd.isna(e.bank_id) else str(e.bank_id),
            date_start=e.date_start,
            date_end=e.date_end,
            n_rows=int(e.n_rows),
            action=e.action,
            reason=e.reason,
            detail=e.detail,
        )
        for e in events.itertuples(index=False)
    ]
