"""What a stress study can take from a balance-sheet table: the input source, the fill rules, the gaps.

Shared by the fire-sale study (:mod:`measures.stress.firesale_years`) and the cascade study
(:mod:`measures.stress.cascade_study`), so that the stages, their ``check`` hooks and their
"not estimable" messages read the same rules (docs/firesale.md, docs/cascade.md):

* :func:`resolve_source` — ``source: auto``: the user's ``balance_sheet`` table when the data
  come from files, the stress simulator only when the whole dataset is simulated;
* :class:`FillRule`, :func:`apply_fills` — a missing input set to ``share × of`` (``of`` =
  ``total_assets`` or ``loans``), one ``filled`` quality event per bank and column naming
  the periods and the rule;
* :func:`describe_missing` — the missing inputs as "column: banks × periods" text for the
  messages of a study the data cannot support.

No I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.events import EVENT_COLUMNS

FILL_BASES = ("total_assets", "loans")
AUTO = "auto"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FillRule(Config):
    """A missing input set to ``share`` times the bank's ``of`` (``total_assets`` or ``loans``) of the same period."""

    share: float
    of: str

    def validate(self) -> None:
        check_range("share", self.share, low=0.0, high=1.0)
        check_choice("of", self.of, FILL_BASES)


def check_fill(fill: Mapping[str, Mapping[str, Any]], fillable: Sequence[str]) -> dict[str, FillRule]:
    """The validated fill rules ``{column: FillRule}`` (``ConfigError`` naming ``fill.<column>``)."""
    rules = {}
    for col, rule in fill.items():
        check_choice("fill key", col, fillable)
        if not isinstance(rule, Mapping):
            raise ConfigError(f"fill.{col}={rule!r} must be a mapping {{share: s, of: total_assets | loans}}")
        rules[col] = FillRule.from_mapping(rule, where=f"fill.{col}")
    return rules


def resolve_source(source: str, data_kind: str | None) -> str:
    """The input a stress study runs on: ``source`` itself, or for ``auto`` the canonical
    ``balance_sheet`` table when ``data_kind`` (``data.source``) is ``files`` and the
    simulator (``synthetic``) only when it is ``synthetic``."""
    if source != AUTO:
        return source
    return "synthetic" if data_kind == "synthetic" else "balance_sheet"


def simulated_input_event(key: str) -> pd.DataFrame:
    """The ``flagged`` event of a study run on its simulator while the dataset is the user's
    files (``key``: the params key set to ``synthetic``), so the quality output says it."""
    return pd.DataFrame([_event(None, None, None, 0, "flagged", "simulated_input",
                                f"{key} = synthetic while data.source = files: these results are from SIMULATED data, "
                                f"not from your balance sheets (set {key}: auto to use them)")], columns=list(EVENT_COLUMNS))


def span(values: Iterable[int]) -> str:
    """Sorted integers as ranges: ``[2007, 2008, 2009, 2012] -> "2007-2009, 2012"``."""
    vals = np.array(sorted({int(v) for v in values}), dtype=np.int64)
    runs = np.split(vals, np.flatnonzero(np.diff(vals) != 1) + 1) if vals.size else []
    return ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def names(values: Iterable[object], limit: int = 5) -> str:
    """At most ``limit`` sorted names, then "and N more"."""
    vals = sorted({str(v) for v in values})
    shown = ", ".join(vals[:limit])
    return shown + (f" and {len(vals) - limit} more" if len(vals) > limit else "")


def periods_text(dates: Iterable[pd.Timestamp]) -> str:
    """Dates as text: the years when every date is a 31 December, the dates when at most four,
    else their count, first and last."""
    dates = sorted(set(pd.to_datetime(list(dates))))
    if all(d.month == 12 and d.day == 31 for d in dates):
        return span(d.year for d in dates)
    if len(dates) <= 4:
        return ", ".join(str(d.date()) for d in dates)
    return f"{len(dates)} periods from {dates[0].date()} to {dates[-1].date()}"


def _event(bank: object, start: object, end: object, n: int, action: str, reason: str, detail: str) -> dict[str, Any]:
    return {"bank_id": None if bank is None else str(bank), "date_start": start, "date_end": end, "n_rows": int(n),
            "action": action, "reason": reason, "detail": detail}


def apply_fills(frame: pd.DataFrame, rules: Mapping[str, FillRule], *, where: str,
                date_col: str = "period_end") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Set every missing value of a ruled column to ``share × of`` of the same row.

    ``loans`` first (other inputs may be shares of loans), then the columns by name; a value
    stays missing when its base is missing too. A column ``frame`` lacks is treated as
    missing everywhere. Returns the filled copy and one ``filled`` event per bank and column
    (``date_start``/``date_end`` = first and last period filled; the detail lists the periods
    and the rule, ``where`` names the params key).
    """
    out = frame.copy()
    rows: list[dict[str, Any]] = []
    for col in sorted(rules, key=lambda c: (c != "loans", c)):
        rule = rules[col]
        if col not in out.columns:
            out[col] = np.nan
        base = out[rule.of] if rule.of in out.columns else pd.Series(np.nan, index=out.index)
        miss = out[col].isna() & base.notna()
        if not miss.any():
            continue
        out.loc[miss, col] = float(rule.share) * base[miss]
        for bank, g in out[miss].groupby("bank_id", sort=True):
            dates = g[date_col]
            rows.append(_event(bank, dates.min(), dates.max(), len(g), "filled", f"fill_{col}",
                               f"{col} missing in {periods_text(dates)}; set to {rule.share:g} x {rule.of} ({where})"))
    return out, pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def describe_missing(frame: pd.DataFrame, columns: Sequence[str], *, date_col: str = "period_end",
                     present: Sequence[str] | None = None) -> list[str]:
    """One "column: which banks in which periods" phrase per input column with missing values.

    ``present``: the columns of the user's table (a column not among them is "absent from
    balance_sheet"); default ``frame.columns``. Periods as :func:`periods_text`.
    """
    present = list(frame.columns if present is None else present)
    n_banks = frame["bank_id"].nunique()
    out = []
    for col in columns:
        miss = frame[col].isna() if col in frame.columns else pd.Series(True, index=frame.index)
        if not miss.any():
            continue
        part = frame[miss]
        where = f"{part['bank_id'].nunique()} of {n_banks} banks ({names(part['bank_id'])})"
        when = periods_text(part[date_col])
        if col not in present:
            out.append(f"{col}: absent from balance_sheet")
        elif miss.all():
            out.append(f"{col}: missing for every bank in {when}")
        else:
            out.append(f"{col}: missing for {where} in {when}")
    return out


def choose_period(frame: pd.DataFrame, usable: pd.Series, period: str | None, *, key: str
                  ) -> tuple[pd.Timestamp, list[dict[str, Any]], str | None]:
    """The cross-section date of a one-period study: ``period`` (a ``period_end``), or the latest
    ``period_end`` with at least two ``usable`` rows (``ignored`` event for the later periods).

    Returns ``(when, events, reason)``; ``reason`` (naming the params ``key``) when ``period``
    has no rows.
    """
    if period is not None:
        when = pd.Timestamp(str(period))
        if not (frame["period_end"] == when).any():
            latest = ", ".join(str(d.date()) for d in sorted(frame["period_end"].unique())[-8:])
            return when, [], f"{key}={period!r}: no balance_sheet rows at {when.date()}; latest periods: {latest}"
        return when, [], None
    counts = frame.loc[usable, "period_end"].value_counts()
    good = counts[counts >= 2].index
    when = max(good) if len(good) else frame["period_end"].max()
    later = frame["period_end"] > when
    rows = []
    if later.any():
        rows.append(_event(None, when, when, int(later.sum()), "ignored", "later_periods_incomplete",
                           f"later periods {periods_text(frame.loc[later, 'period_end'])} have fewer than 2 banks "
                           f"with the inputs; the cross-section is {when.date()}"))
    return when, rows, None


@dataclasses.dataclass(frozen=True)
class InputPlan:
    """What a stress study will run on: the inputs it will use, the quality events, and the
    reason (with what to add) when the data cannot support it.

    frame : the rows the study uses (empty when not estimable). events : fills, ignored
    periods and exclusions (EVENT_COLUMNS). reason, needs : None / "" when estimable.
    summary : one sentence on what is estimated (banks, periods). period : the cross-section
    date of a one-period study. sectors : the sector-loan correlations used (fire sale).
    """

    frame: pd.DataFrame
    events: pd.DataFrame
    summary: str = ""
    reason: str | None = None
    needs: str = ""
    period: pd.Timestamp | None = None
    sectors: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def check_lines(self) -> list[tuple[str, str]]:
        """The ``check`` lines: estimates or cannot, then one ``fills`` / ``skips`` line per event reason."""
        head = [("cannot", f"{self.reason}; needs: {self.needs}")] if self.reason else [("estimates", self.summary)]
        return head + event_lines(self.events)


def event_lines(events: pd.DataFrame) -> list[tuple[str, str]]:
    """One ``(kind, text)`` line per (action, reason) of quality events: ``fills`` for ``filled``,
    ``skips`` for ``excluded`` / ``ignored``; the banks, the row count and the first detail."""
    lines = []
    for (action, reason), g in events.groupby(["action", "reason"], sort=True):
        if action not in ("filled", "excluded", "ignored"):
            continue
        banks = g["bank_id"].dropna()
        who = f" of {banks.nunique()} bank(s) ({names(banks)})" if len(banks) else ""
        lines.append(("fills" if action == "filled" else "skips",
                      f"{reason}: {int(g['n_rows'].sum())} row(s){who}; {g['detail'].iloc[0]}"))
    return lines
