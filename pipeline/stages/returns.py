"""Returns: log returns and losses per bank, market-value weights and the system return.

Reads the canonical prices (and the sector index with ``system: index``); writes
``returns`` (bank_id, date: ret, loss, market_cap, weight), ``system_returns``
(date: ret, loss, n_banks, market_cap) and the quality records (exits, suspensions,
non-trading days, gaps, negative book equity). The science is
:func:`measures.returns.compute_returns`.
"""

from __future__ import annotations

from measures.returns import ReturnsOptions, compute_returns, negative_equity_events
from pipeline.schema import require_columns
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    index = None
    if config.system == "index":
        index = ctx.read("system", required=False)
        require_columns(index, "system", ["close"], stage=ctx.stage.name)
    result = compute_returns(ctx.read("prices"), options=config, index=index)
    ctx.events(result.events, table="prices")
    balance_sheet = ctx.read("balance_sheet", required=False)
    if balance_sheet is not None:
        ctx.events(negative_equity_events(balance_sheet), table="balance_sheet")
    return {"returns": result.returns, "system_returns": result.system}


STAGE = Stage(
    name="returns",
    run=run,
    params={"measures.returns": ReturnsOptions},
    inputs=("prices", "system", "balance_sheet"),
    outputs=("returns", "system_returns"),
)
