"""Ingest: map the configured data source onto the validated canonical tables.

``data.source: synthetic`` runs the embedded simulator (``data.seed``);
``data.source: files`` reads ``data.raw_dir`` through the adapter named by
``data.format`` (canonical, wind, toolbox). The sample period ``data.start`` ..
``data.end`` trims the daily tables; balance sheets are kept whole (earlier
periods feed carry-forward). Outputs: ``data/interim/canonical/*.parquet`` and
``data/processed/quality/ingest.parquet``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from pipeline.params import DataConfig, load_params
from pipeline.quality import QualityRecord
from pipeline.schema import CanonicalData
from pipeline.stages.common import parser, write_canonical, write_quality

STAGE = "ingest"


def load_source(config: DataConfig, *, root: Path) -> tuple[CanonicalData, list[QualityRecord]]:
    """The canonical dataset from the configured source, with the adapters' quality records."""
    if config.source == "synthetic":
        from pipeline.simulator import simulate

        return simulate(seed=config.seed, start=config.start, end=config.end), []
    from pipeline import adapters

    return adapters.load(config, root=root)


def trim_period(data: CanonicalData, start: str | None, end: str | None) -> list[QualityRecord]:
    """Restrict daily tables to [start, end]; one record per table and side that lost rows."""
    records = []
    lo = pd.Timestamp(start) if start else None
    hi = pd.Timestamp(end) if end else None
    for name in ("prices", "system", "market_states"):
        table = getattr(data, name)
        if table is None:
            continue
        inside = pd.Series(True, index=table.index)
        if lo is not None:
            inside &= table["date"] >= lo
        if hi is not None:
            inside &= table["date"] <= hi
        out = table[~inside]
        if len(out):
            records.append(
                QualityRecord(STAGE, name, None, out["date"].min(), out["date"].max(), len(out), "excluded", "outside_sample_period",
                              f"rows outside data.start..data.end ({start} .. {end})")
            )
            setattr(data, name, table[inside].reset_index(drop=True))
    return records


def run(params_path: str, out: str, quality: str, root: str = ".") -> None:
    params = load_params(params_path)
    config = DataConfig.from_mapping(params.get("data"))
    data, records = load_source(config, root=Path(root))
    records = [*records, *trim_period(data, config.start, config.end)]
    if data.prices.empty:
        raise SystemExit(f"no price rows inside the sample period {config.start} .. {config.end}")
    write_canonical(data, Path(out))
    write_quality(records, quality, STAGE)


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--out", default="data/interim/canonical", help="directory of canonical tables")
    args = p.parse_args(argv)
    run(args.params, args.out, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
