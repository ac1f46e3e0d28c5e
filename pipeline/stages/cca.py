"""Contingent-claims analysis: Merton distance to default, default probability and expected loss (docs/cca.md).

Reads ``returns`` (bank ``ret`` and ``market_cap``: the equity value ``E``), the canonical
``balance_sheet`` (the default barrier ``D`` from ``measures.cca.barrier``: total liabilities, or
short-term + ½ long-term; used from its ``publication_date`` on, never before, by the same
carry-forward as SRISK) and, with ``measures.cca.rate_state``, the canonical ``market_states``
(the risk-free rate; else the constant ``measures.cca.rate``). Writes

* ``cca`` — one row per bank and date: ``bank_id, date, equity_value, equity_vol, barrier, rate,
  asset_value, asset_vol, distance_to_default, default_probability, expected_loss (the implicit
  put), credit_spread, el_share, status`` (rows without the inputs or without a solution carry
  a failed status and no values);
* ``cca_total`` — per date: ``expected_loss_total`` (the sum of the banks' implicit puts),
  ``n_banks``, ``dd_median``;
* the quality records of the rows set missing, per bank and reason.

Without a balance sheet holding the barrier's columns the stage is not estimable, with the
reason. The science is :func:`measures.systemic.cca_panel.cca_panel`; every value dated t uses
data up to t only (docs/realtime.md).
"""

from __future__ import annotations

from measures.core.status import NotEstimable
from measures.systemic.cca_panel import BARRIER_COLUMNS, CCAConfig, barrier_unavailable, cca_panel, check_plan, rate_series
from pipeline.schema import require_columns
from pipeline.stage import Stage, StageContext


#: the table each kind of missing input comes from (quality records)
_TABLES = {"balance_sheet": ("missing_barrier",), "market_states": ("missing_rate",),
           "returns": ("missing_equity", "short_window", "missing_input", "not_converged")}


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    returns = ctx.read("returns")
    require_columns(returns, "returns", ["bank_id", "date", "ret", "market_cap"], stage=ctx.stage.name)
    balance_sheet = ctx.read("balance_sheet", required=False)
    reason = barrier_unavailable(balance_sheet, config.barrier)
    if reason:
        raise NotEstimable(reason, needs=f"a balance_sheet table with {', '.join(BARRIER_COLUMNS[config.barrier])} "
                                         "and publication_date per bank and period")
    wide = {c: returns.pivot(index="date", columns="bank_id", values=c) for c in ("market_cap", "ret")}
    states = ctx.read("market_states", required=False) if config.rate_state else None
    rate = rate_series(states, wide["market_cap"].index, config)
    frame, total, events = cca_panel(wide["market_cap"], wide["ret"], balance_sheet, rate, config, mapper=ctx.mapper)
    for table, reasons in _TABLES.items():
        ctx.events(events[events["reason"].isin(reasons)], table=table)
    return {"cca": frame, "cca_total": total}


def check(data, configs) -> list:
    """Which banks have a default barrier (published liabilities) and where the rate comes from."""
    return check_plan(data.prices, data.balance_sheet, data.market_states, configs["measures.cca"])


STAGE = Stage(
    name="cca",
    run=run,
    params={"measures.cca": CCAConfig},
    inputs=("returns", "balance_sheet", "market_states"),
    outputs=("cca", "cca_total"),
    check=check,
    realtime=True,
)
