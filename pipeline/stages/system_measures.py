"""System measures: Absorption Ratio and Turbulence (daily), CATFIN and its three VaRs (monthly).

Reads ``returns`` (the banks' daily log returns); writes ``system_measures`` (date, measure:
frequency, value, n_banks) with the measures of :data:`measures.systemic.market.SYSTEM_MEASURES`.
The science is :func:`measures.systemic.market.system_measures` (Kritzman et al. 2011, Kritzman &
Li 2010, Allen–Bali–Tang 2012). Every value dated t uses returns up to t only (trailing windows, the
month's own returns), so ``realtime: true`` changes nothing. A bank not observed on every row of a
window is left out of that window (``n_banks``); the stage is not estimable when the returns have
fewer than two banks or fewer rows than the shortest window. Documentation: ``docs/network_measures.md``.
"""

from __future__ import annotations

from measures.core.status import NotEstimable
from measures.systemic.market import SystemMeasuresConfig, system_measures, wide_returns
from pipeline.stage import Stage, StageContext

GROUP = "measures.system"


def _needs(config: SystemMeasuresConfig) -> int:
    return min(config.ar_window, config.turbulence_window + 1)


def run(ctx: StageContext) -> None:
    config = ctx.config(GROUP)
    returns = wide_returns(ctx.read("returns"))
    if returns.shape[1] < 2 or len(returns) < _needs(config):
        raise NotEstimable(f"the returns hold {returns.shape[1]} bank(s) and {len(returns)} trading day(s); the system "
                           f"measures need two banks and {_needs(config)} days (measures.system.ar_window, turbulence_window)",
                           needs="more banks or a longer sample, or shorter measures.system windows")
    ctx.write("system_measures", system_measures(returns, config, mapper=ctx.mapper))


def check(data, configs) -> list:
    """How many banks and trading days the system measures will use, from the canonical prices."""
    prices = data.prices
    if prices is None or not {"bank_id", "date", "close"} <= set(prices.columns) or prices.empty:
        return [("cannot", "system measures: no prices")]
    config = configs[GROUP]
    days, banks = prices["date"].nunique(), prices["bank_id"].nunique()
    if banks < 2 or days - 1 < _needs(config):
        return [("cannot", f"system measures: {banks} bank(s), {days} day(s); need 2 banks and {_needs(config) + 1} days")]
    return [("estimates", f"Absorption Ratio ({config.ar_window}-day windows), Turbulence ({config.turbulence_window}-day "
                          f"history) daily and CATFIN monthly on {banks} bank(s)")]


STAGE = Stage(
    name="system_measures",
    run=run,
    params={"measures.system": SystemMeasuresConfig},
    inputs=("returns",),
    outputs=("system_measures",),
    check=check,
    realtime=True,
)
