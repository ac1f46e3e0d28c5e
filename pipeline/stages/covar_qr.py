"""ΔCoVaR by quantile regression with lagged state variables, per bank (Adrian–Brunnermeier 2016).

Reads ``returns`` (bank ``loss``), ``system_returns`` (system ``loss``) and the canonical
``market_states`` (``measures.covar_qr.states`` picks the columns, default all; without a market_states table,
or with a constant or all-missing state column, the stage is not estimable or refused with
the column named). Writes

* ``covar_qr`` — daily, one row per bank and date: ``bank_id, date, var_q, var_med, covar,
  delta_covar, status`` (the input of ``contagion.series: qr``);
* ``covar_qr_weekly`` — the same columns on the last date of each week (weeks ending Friday)
  on which the bank has a value;
* ``covar_qr_estimates`` — ``bank_id, window_end, equation, term, estimate, std_error, p_value,
  status``: the coefficients of the three regressions per window (one window, ending at the last
  date, for the full sample; one per refit for expanding), their standard errors
  (``measures.covar_qr.se``) and the p-values of H0: coefficient = 0; the row ``equation ==
  "system", term == "bank_loss"`` (β) is the per-bank test of H0: ΔCoVaR = 0 (docs/covar.md).
  Written per batch of banks (:meth:`~pipeline.stage.StageContext.write_parts`), so memory stays bounded at many banks and
  rolling windows;
* the quality records (exclusions and flags, windows without standard errors).

The science is :func:`measures.covar_qr.estimate_delta_covar_banks` (exact quantile regression).
"""

from __future__ import annotations

from measures.covar_qr import COEFFICIENT_COLUMNS, CoVaRConfig, check_plan, estimate_delta_covar_banks, loss_panel
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    panel = loss_panel(ctx.read("returns"), ctx.read("system_returns"), ctx.read("market_states", required=False),
                       config.states, where="measures.covar_qr.states")
    ctx.events(panel.state_events, table="market_states")
    with ctx.write_parts("covar_qr_estimates", COEFFICIENT_COLUMNS) as sink:
        result = estimate_delta_covar_banks(panel, config, mapper=ctx.mapper, coefficients=sink)
        ctx.events(result.events, table="returns")
        result.check_estimable()
    ctx.budget(result.values["status"], config.max_failure_share, what="covar_qr ΔCoVaR values (bank x date)")
    return {"covar_qr": result.values, "covar_qr_weekly": result.weekly}


def check(data, configs) -> list:
    """Which banks and state variables the fits will use, from the canonical tables."""
    return check_plan(data.prices, data.market_states, configs["measures.covar_qr"])

STAGE = Stage(
    name="covar_qr",
    run=run,
    params={"measures.covar_qr": CoVaRConfig},
    inputs=("returns", "system_returns", "market_states"),
    outputs=("covar_qr", "covar_qr_weekly", "covar_qr_estimates"),
    check=check,
    realtime=True,
)
