"""MES (historical and dynamic), LRMES, SRISK, SRISK% and aggregate SRISK (docs/srisk.md).

Reads ``dcc_paths``, ``covar_dcc_estimates`` and ``dcc_param_paths`` (the per-bank bivariate
DCC-GARCH fits of the ``covar_dcc`` stage and the parameters in force at each date: nothing is
refitted here), ``returns`` (market_cap) and the canonical
``balance_sheet`` (total_liabilities, publication_date; equity optional); writes ``mes``
(bank_id, date: mes_hist, mes_dyn, status), ``srisk`` (bank_id, date: beta, lrmes, srisk,
srisk_share, status), ``srisk_total`` (date: srisk_total) and the quality records of the
bank-days whose SRISK is flagged or missing. Book liabilities are carried forward from their
publication date, never backward, and count as missing once older than
``max_liability_age_days``. Without a balance sheet (or without liabilities in it) MES is
written and ``srisk``/``srisk_total`` are not estimable, with the reason. The science is
:func:`measures.systemic.srisk_panel`. With ``mes_causal: true`` (forced by ``realtime: true``) and
real-time DCC paths, every value dated t uses data up to t only (docs/srisk.md).
"""

from __future__ import annotations

import pandas as pd

from measures.systemic import SRISK_COLUMNS, SRiskPanelConfig, check_plan, srisk_panel, srisk_unavailable
from pipeline.schema import require_columns
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> dict:
    returns = ctx.read("returns")
    require_columns(returns, "returns", ["bank_id", "date", "market_cap"], stage=ctx.stage.name)
    balance_sheet = ctx.read("balance_sheet", required=False)
    unavailable = srisk_unavailable(balance_sheet)
    market_cap = returns.pivot(index="date", columns="bank_id", values="market_cap")
    market_cap.columns = [str(c) for c in market_cap.columns]
    mes, srisk, total, events = srisk_panel(
        ctx.read("dcc_paths"), market_cap, None if unavailable else balance_sheet, ctx.config(),
        dates=pd.DatetimeIndex(market_cap.index), estimates=ctx.read("covar_dcc_estimates"),
        param_paths=ctx.read("dcc_param_paths", required=False), mapper=ctx.mapper,
    )
    ctx.events(events, table="balance_sheet")
    if unavailable:
        ctx.write("mes", mes)
        ctx.not_estimable("srisk", "srisk_total", reason=unavailable, table="balance_sheet",
                          needs=f"a balance_sheet table with {', '.join(SRISK_COLUMNS)} per bank and period")
        return {}
    return {"mes": mes, "srisk": srisk, "srisk_total": total}


def check(data, configs) -> list:
    """MES/LRMES from market data; SRISK only with published liabilities (which banks have them)."""
    return check_plan(data.prices, data.balance_sheet)


STAGE = Stage(
    name="mes_srisk",
    run=run,
    params={"measures.mes_srisk": SRiskPanelConfig},
    inputs=("dcc_paths", "covar_dcc_estimates", "dcc_param_paths", "returns", "balance_sheet"),
    outputs=("mes", "srisk", "srisk_total"),
    check=check,
    realtime=True,
)
