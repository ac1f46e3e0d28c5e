"""Returns: log returns and losses per bank, market-value weights and the system return.

Reads the canonical tables; writes ``data/interim/returns.parquet`` (bank_id,
date: ret, loss, market_cap, weight), ``data/interim/system_returns.parquet``
(date: ret, loss, n_banks, market_cap) and ``data/processed/quality/returns.parquet``
(exits, suspensions, non-trading days, gaps, negative book equity). The science
is :func:`measures.returns.compute_returns`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from measures.returns import ReturnsOptions, compute_returns, negative_equity_events
from pipeline.io import write_parquet
from pipeline.params import group, load_params
from pipeline.schema import require_columns
from pipeline.stages.common import events_to_records, parser, read_canonical, write_quality

STAGE = "returns"


def run(params_path: str, canonical: str, out: str, quality: str) -> None:
    params = load_params(params_path)
    config = ReturnsOptions.from_mapping(group(params, "measures.returns"), where="measures.returns")
    data = read_canonical(Path(canonical))
    index = None
    if config.system == "index":
        require_columns(data.system, "system", ["close"], stage=STAGE)
        index = data.system
    result = compute_returns(data.prices, options=config, index=index)
    out_dir = Path(out)
    write_parquet(result.returns, out_dir / "returns.parquet", key=["bank_id", "date"])
    write_parquet(result.system, out_dir / "system_returns.parquet", key=["date"])
    records = events_to_records(result.events, stage=STAGE, table="prices")
    records += events_to_records(negative_equity_events(data.balance_sheet), stage=STAGE, table="balance_sheet")
    write_quality(records, quality, STAGE)


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--canonical", default="data/interim/canonical")
    p.add_argument("--out", default="data/interim")
    args = p.parse_args(argv)
    run(args.params, args.canonical, args.out, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
