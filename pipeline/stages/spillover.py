"""Market-spillover ΔCoVaR, its four channels and the system indices (Fang–Chen–Yang 2018).

Reads ``returns`` (bank ``loss`` and the previous-day market-value ``weight``),
``system_returns`` (system ``loss``) and the canonical ``market_states``
(``measures.spillover.states`` picks the markets / state variables, default all;
contemporaneous, larger = more stress). Writes

* ``spillover`` — one row per bank, date and market: ``bank_id, date, market, delta_m`` (own
  risk ΔM_k), ``c`` (risk-taking c_k^q), ``gamma`` (information spillover γ_k^q), ``beta``
  (connectedness β^q), ``spillover`` (S_k,i), ``delta_covar_m`` (bank-level ΔCoVaR^M, eq. 5,
  repeated over the markets), ``delta_covar`` (traditional ΔCoVaR), ``status``, ``a`` (the bank's
  q-quantile intercept a^q), ``var_stress`` (VaR_i(q; M^s) = a^q + c^q' M^s, the bank's VaR under
  market stress) and ``covar_stress`` (CoVaR_i(q; M^s)), the last three repeated over the markets; written per batch
  of banks (:meth:`pipeline.stage.StageContext.write_parts`: bounded memory at many banks);
* ``spillover_banks`` — one row per bank: ``bank_id, first_date, last_date, n_windows, n_ok,
  delta_covar_m_mean, delta_covar_mean`` (means over the ok windows; what the report needs,
  without reading the table above);
* ``spillover_index`` — daily ``date, improved_index, traditional_index, n_banks,
  spill_<market>...`` (market-value-weighted over banks); ``spillover_index_weekly`` — the same on
  the last trading day of each week (weeks ending Friday);
* ``spillover_channels`` — ``date, market, spillover, delta_m, c, gamma, beta, n_banks``:
  weighted means over banks per date and market;
* ``spillover_stress`` — daily ``date, var_stress, covar_stress, delta_covar_m, n_banks``: the
  weighted bank VaR and system CoVaR under market stress and ΔCoVaR^M (Fang–Chen–Yang 2018, fig. 2;
  :func:`measures.spillover.stress_series`);
* ``spillover_descriptives`` — ``level, variable, market, n, mean, sd, min, max`` of the measures
  over bank × date values and over the dates of the weighted series (tables 2–3;
  :func:`measures.spillover.spillover_descriptives`);
* the quality records.

The identity ``S_k = ΔM_k (γ_k + β c_k)`` is asserted to 1e-12 for every bank, market and date
(:func:`measures.spillover.decompose_spillover`), and again on the tidy table. The science is
:func:`measures.spillover.estimate_spillover_banks`.
"""

from __future__ import annotations

from measures.covar_qr import loss_panel
from measures.spillover import BANK_COLUMNS, SpilloverConfig, check_plan, estimate_spillover_banks
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> dict:
    config = ctx.config()
    markets = ctx.read("market_states", required=False)
    panel = loss_panel(ctx.read("returns"), ctx.read("system_returns"), markets, config.states,
                       where="measures.spillover.states")
    ctx.events(panel.state_events, table="market_states")
    with ctx.write_parts("spillover", BANK_COLUMNS) as sink:
        result = estimate_spillover_banks(panel, config, mapper=ctx.mapper, banks=sink)
        ctx.events(result.events, table="returns")
        result.check_estimable()
    ctx.budget(result.statuses, config.max_failure_share, what="spillover bank windows")
    return {"spillover_banks": result.summary, "spillover_index": result.index,
            "spillover_index_weekly": result.index_weekly, "spillover_channels": result.channels,
            "spillover_stress": result.stress, "spillover_descriptives": result.descriptives}


def check(data, configs) -> list:
    """Which banks and markets the fits will use, from the canonical tables."""
    return check_plan(data.prices, data.market_states, configs["measures.spillover"])


STAGE = Stage(
    name="spillover",
    run=run,
    params={"measures.spillover": SpilloverConfig},
    inputs=("returns", "system_returns", "market_states"),
    outputs=("spillover", "spillover_banks", "spillover_index", "spillover_index_weekly", "spillover_channels",
             "spillover_stress", "spillover_descriptives"),
    check=check,
    realtime=True,
)
