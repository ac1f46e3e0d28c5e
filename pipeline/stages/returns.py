"""Returns: log returns and losses per bank, market-value weights and the system return.

Reads the canonical prices (and the sector index with ``system: index``); writes
``returns`` (bank_id, date: ret, loss, market_cap, weight), ``system_returns``
(date: ret, loss, n_banks, market_cap) and the quality records (exits, suspensions,
non-trading days, gaps, plausibility screens, negative book equity). The science is
:func:`measures.returns.compute_returns` with the screens of :mod:`measures.screens`
(``data.screens``, docs/screens.md); a screen whose action is ``fail`` stops the stage
with a :class:`~pipeline.schema.DataValidationError` naming bank, date, column, value,
rule and the param to change.
"""

from __future__ import annotations

from measures.returns import ReturnsOptions, compute_returns, negative_equity_events, trading_days
from measures.screens import ScreenFailure, ScreensConfig, check_lines
from pipeline.schema import DataValidationError, require_columns
from pipeline.stage import Stage, StageContext

RETURNS = "measures.returns"
SCREENS = "data.screens"


def run(ctx: StageContext) -> dict:
    config = ctx.config(RETURNS)
    index = None
    if config.system == "index":
        index = ctx.read("system", required=False)
        require_columns(index, "system", ["close"], stage=ctx.stage.name)
    try:
        result = compute_returns(ctx.read("prices"), options=config, index=index, screens=ctx.config(SCREENS))
    except ScreenFailure as exc:
        raise DataValidationError(exc.problem, table="prices", column=exc.column, bank=exc.bank, date=exc.date,
                                  value=exc.value, allowed=exc.allowed) from None
    ctx.events(result.events, table="prices")
    balance_sheet = ctx.read("balance_sheet", required=False)
    if balance_sheet is not None:
        ctx.events(negative_equity_events(balance_sheet), table="balance_sheet")
    return {"returns": result.returns, "system_returns": result.system}


def check(data, configs) -> list[tuple[str, str]]:
    """Banks, trading days and what the plausibility screens will flag, mask or fail on."""
    prices = data.prices
    if prices is None or not {"bank_id", "date", "close", "market_cap"} <= set(prices.columns) or prices.empty:
        return [("cannot", "no prices with bank_id, date, close and market_cap: no returns")]
    close, cap, _, holidays = trading_days(prices, configs[RETURNS])
    lines = [("estimates", f"returns of {close.shape[1]} bank(s), {close.index[0]:%Y-%m-%d} .. {close.index[-1]:%Y-%m-%d} "
                           f"({len(close.index)} trading days)")]
    if holidays:
        lines.append(("skips", f"{len(holidays)} vendor-filled non-trading day(s) dropped"))
    return lines + check_lines(close, cap, configs[SCREENS])


STAGE = Stage(
    name="returns",
    run=run,
    params={RETURNS: ReturnsOptions, SCREENS: ScreensConfig},
    inputs=("prices", "system", "balance_sheet"),
    outputs=("returns", "system_returns"),
    check=check,
    realtime=True,
)
