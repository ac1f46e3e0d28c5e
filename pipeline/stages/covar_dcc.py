"""ΔCoVaR by DCC-GARCH: one bivariate DCC(1,1)-GARCH per bank with the system (docs/srisk.md).

Reads ``returns`` and ``system_returns``; writes ``covar_dcc`` (bank_id, date: sigma_bank,
sigma_sys, rho, delta_covar, covar, coes, delta_coes, status; ``conditioning``: the bank at its VaR
or at or beyond it, Girardi & Ergün 2013; docs/covar.md), ``covar_dcc_estimates`` (bank_id, window_end, term:
estimate, std_error, status), ``dcc_paths`` (bank_id, date: the fitted sample's returns,
σ, ρ and standardised residuals of bank and system, status: what ``mes_srisk`` needs, so
each DCC model is fitted once per run), ``dcc_param_paths`` (bank_id, refit_date: the GARCH and
DCC parameters of every refit with its status; one full-sample row per bank with ``estimation:
full``) and the quality records (days left out of a bank's sample, failed and warned fits). With
``estimation: expanding | rolling`` (what ``realtime: true`` implies) the parameters are
re-estimated every ``refit_every`` days on data up to the refit date and every value dated t
uses data up to t only (:mod:`measures.dcc.realtime`). A bank whose inputs are refused (too few pair days, constant,
near-constant or non-finite returns) or whose optimizer fails or raises keeps its rows with
missing values and a ``failed:`` status naming it, and counts in ``max_failure_share``; the
other banks are fitted. The science is :func:`measures.dcc.fit_dcc_banks`,
:func:`measures.systemic.covar_dcc_frame` and :func:`measures.systemic.dcc_paths_frame`.
"""

from __future__ import annotations

from measures.dcc import CovarDCCParams, bank_system_returns, check_plan, estimates_frame, fit_dcc_banks
from measures.dcc.realtime import param_paths_frame
from measures.systemic import covar_dcc_frame, dcc_paths_frame
from pipeline.schema import require_columns
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    returns, system = ctx.read("returns"), ctx.read("system_returns")
    require_columns(returns, "returns", ["bank_id", "date", "ret"], stage=ctx.stage.name)
    require_columns(system, "system_returns", ["date", "ret"], stage=ctx.stage.name)
    wide, sys_ret = bank_system_returns(returns, system)
    results, events = fit_dcc_banks(wide, sys_ret, config, missing=config.missing, mapper=ctx.mapper)
    ctx.events(events, table="returns")
    ctx.budget([r.status for r in results.values()], config.max_failure_share, what=f"{ctx.stage.name} bank fits")
    return {
        "covar_dcc": covar_dcc_frame(results, q=config.q, conditioning=config.conditioning, mapper=ctx.mapper),
        "covar_dcc_estimates": estimates_frame(results),
        "dcc_paths": dcc_paths_frame(results, wide, sys_ret),
        "dcc_param_paths": param_paths_frame(results),
    }


def check(data, configs) -> list:
    """Which banks the DCC fits will use (min_obs, constant or near-constant returns), from the prices."""
    return check_plan(data.prices, configs["measures.covar_dcc"])


STAGE = Stage(
    name="covar_dcc",
    run=run,
    params={"measures.covar_dcc": CovarDCCParams},
    inputs=("returns", "system_returns"),
    outputs=("covar_dcc", "covar_dcc_estimates", "dcc_paths", "dcc_param_paths"),
    check=check,
    realtime=True,
)
