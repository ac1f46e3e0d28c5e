"""What a market-data measure can estimate, from the canonical prices alone (``python -m pipeline check``).

The stages' ``check`` hooks say, before anything runs, which banks have enough observed days for
a fit and which are too short. A bank's days are its dates with a positive close (its returns are
one fewer); the measures' own sample rules (pair samples, aligned states, window screening) can
only drop more, so these lines are an upper bound that names the banks that certainly fail.
"""

from __future__ import annotations

import pandas as pd

#: A check line: (kind, text), kind in estimates | fills | skips | cannot.
Line = tuple[str, str]


def price_days(prices: pd.DataFrame) -> pd.DataFrame:
    """Per bank: ``n`` return days (observed positive closes minus one), ``first`` and ``last`` date."""
    observed = prices[prices["close"].gt(0)] if "close" in prices.columns else prices
    grouped = observed.groupby(observed["bank_id"].astype(str), sort=True)["date"]
    out = pd.DataFrame({"n": grouped.size() - 1, "first": grouped.min(), "last": grouped.max()})
    return out.reindex(sorted(set(prices["bank_id"].astype(str))), fill_value=0)


def _names(banks: list[str], limit: int = 8) -> str:
    return ", ".join(banks[:limit]) + (f", ... ({len(banks)} in all)" if len(banks) > limit else "")


def bank_days_lines(prices: pd.DataFrame, need: int, option: str, what: str) -> tuple[list[str], list[Line]]:
    """The banks with at least ``need`` return days, and the check lines (estimates / skips / cannot).

    ``option`` names the params key that sets ``need`` (e.g. ``measures.covar_dcc.min_obs``);
    ``what`` the estimate (e.g. ``ΔCoVaR-DCC``).
    """
    days = price_days(prices)
    keep = [b for b in days.index if days.at[b, "n"] >= need]
    short = [b for b in days.index if b not in keep]
    lines: list[Line] = []
    if keep:
        span = f"{days.loc[keep, 'first'].min():%Y-%m-%d} .. {days.loc[keep, 'last'].max():%Y-%m-%d}"
        lines.append(("estimates", f"{what} for {len(keep)} bank(s) over {span}: {_names(keep)}"))
    for bank in short:
        lines.append(("skips", f"{what}: bank {bank} has {int(days.at[bank, 'n'])} return day(s) < {need} ({option})"))
    if not keep:
        lines.append(("cannot", f"{what}: no bank has {need} return days ({option})"))
    return keep, lines
