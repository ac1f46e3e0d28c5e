"""The estimation panel: each bank-year's contagion risk weight with the bank's year-end ratios.

Liu–Ma 2021 regress the CRW of year t on the capital and liquidity ratios of the same year end
(31 December); with ``lagged`` the ratios of year end t-1 explain the CRW of year t (the
real-time variant: the report of t-1 is published during t). Canonical balance-sheet columns map
to the paper's names (:data:`RATIOS`); ``ln_assets = ln(total_assets)`` (non-positive assets are
missing). Nothing is dropped silently: the functions return event frames ``bank_id, date_start,
date_end, n_rows, action, reason, detail`` for a ratio the data lack (``ratio_unavailable``) and
for CRW bank-years without a year-end row (``no_year_end_ratios``). Choices: docs/panel.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from measures.core.events import EVENT_COLUMNS
from measures.core.status import NotEstimable, is_failed

#: Canonical balance-sheet column -> panel variable name (Liu–Ma 2021's abbreviations).
RATIOS = {"car": "car", "leverage_ratio": "lev", "lcr": "lcr", "ldr": "ldr", "liquidity_ratio": "liq",
          "npl": "npl", "nim": "nim", "loan_growth": "loan_growth"}
#: Panel variables in the canonical order (``ln_assets`` = log of ``total_assets``).
PANEL_VARIABLES = ("crw", *RATIOS.values(), "ln_assets")


def year_end_ratios(balance_sheet: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Year-end (31 December) ratios per bank and the events of the ratios left out.

    Parameters
    ----------
    balance_sheet : DataFrame
        The canonical balance sheet (``bank_id, period_end`` and ratio columns).

    Returns
    -------
    (ratios, events)
        ``bank_id, year`` + the panel names of the ratios present, sorted; one ``ratio_unavailable``
        event per ratio absent from the table or missing in every year-end row (the models that
        need it are then skipped or raise, per ``missing_columns``).
    """
    bs = balance_sheet[(balance_sheet["period_end"].dt.month == 12) & (balance_sheet["period_end"].dt.day == 31)]
    out = pd.DataFrame({"bank_id": bs["bank_id"].astype(str).to_numpy(), "year": bs["period_end"].dt.year.astype("int64").to_numpy()})
    events = []
    for column, name in {**RATIOS, "total_assets": "ln_assets"}.items():
        values = bs[column].to_numpy(dtype=float, na_value=np.nan) if column in bs.columns else None
        if values is None or not np.isfinite(values).any():
            events.append({"bank_id": None, "date_start": None, "date_end": None, "n_rows": len(bs), "action": "ignored",
                           "reason": "ratio_unavailable",
                           "detail": f"{column} ({name}) is {'absent from' if values is None else 'missing in every year-end row of'} "
                                     f"the balance sheet; models using {name} are skipped (panel.missing_columns)"})
            continue
        if name == "ln_assets":
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
        out[name] = values
    ratios = out.sort_values(["bank_id", "year"], kind="mergesort").reset_index(drop=True)
    return ratios, pd.DataFrame(events, columns=list(EVENT_COLUMNS))


def yearly_crw(crw: pd.DataFrame, rule: str = "last") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A rolling-window CRW (``bank_id, window_end, crw``) as a yearly one (``bank_id, year, crw``).

    ``rule="last"``: ``CRW_i,t`` is the weight of bank i in the last window ending in year t in which
    it has a weight (the window closest to the 31 December of the year-end ratios; with a window of
    about one year of rows it is nearly the calendar-year window of Liu–Ma 2021). ``rule="mean"``:
    the mean of bank i's weights over the windows ending in year t. Failed rows (``status``) do not
    enter. A yearly CRW (a ``year`` column) is returned unchanged, with no event; otherwise one
    ``crw_aggregated`` event says how many windows became how many bank-years.
    """
    if "year" in crw.columns or "window_end" not in crw.columns:
        return crw, pd.DataFrame(columns=list(EVENT_COLUMNS))
    from measures.core.config import check_choice

    check_choice("panel.rolling_crw", rule, ("last", "mean"))
    frame = crw
    if "status" in frame.columns:
        frame = frame[[not is_failed(s) for s in frame["status"].astype(str)]]
    frame = frame[np.isfinite(frame["crw"].to_numpy(dtype=float, na_value=np.nan))]
    ends = pd.to_datetime(frame["window_end"])
    frame = pd.DataFrame({"bank_id": frame["bank_id"].astype(str).to_numpy(), "year": ends.dt.year.astype("int64").to_numpy(),
                          "window_end": ends.to_numpy(), "crw": frame["crw"].to_numpy(dtype=float)})
    groups = frame.sort_values(["bank_id", "window_end"], kind="mergesort").groupby(["bank_id", "year"], sort=True)["crw"]
    out = (groups.last() if rule == "last" else groups.mean()).reset_index()
    events = pd.DataFrame([{"bank_id": None, "date_start": ends.min() if len(ends) else None,
                            "date_end": ends.max() if len(ends) else None, "n_rows": len(frame), "action": "flagged",
                            "reason": "crw_aggregated",
                            "detail": f"rolling-window CRW ({crw['window_end'].nunique()} windows) turned into {len(out)} "
                                      f"bank-year(s) by panel.rolling_crw: {rule} "
                                      f"({'last window ending in the year' if rule == 'last' else 'mean over the windows ending in the year'})"}],
                          columns=list(EVENT_COLUMNS))
    return out, events


def build_panel(crw: pd.DataFrame, ratios: pd.DataFrame, *, lagged: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join the CRW panel with year-end ratios by (bank_id, year).

    ``panel_it = (crw_it, ratios_i,t)`` or, with ``lagged``, ``(crw_it, ratios_i,t-1)``. A
    ``status`` column of ``crw`` turns failed rows into missing CRW. A bank-year without
    (previous) year-end ratios is left out of the panel; with ``lagged`` a bank-year whose
    earlier report exists but lacks a ratio keeps a missing value and is dropped per model.

    Returns
    -------
    (panel, events)
        ``bank_id, year, crw`` + the ratios in :data:`PANEL_VARIABLES` order, sorted; one
        ``no_year_end_ratios`` event per bank with the years left out.

    Raises
    ------
    NotEstimable
        ``crw`` lacks ``bank_id``, ``year`` or ``crw`` (a rolling-window CRW: :func:`yearly_crw` first).
    """
    missing = [c for c in ("bank_id", "year", "crw") if c not in crw.columns]
    if missing:
        raise NotEstimable(f"crw: missing column(s) {', '.join(missing)}; the panel needs the yearly CRW panel "
                           f"(bank_id, year, crw) of the contagion stage with contagion.window: year")
    left = pd.DataFrame({"bank_id": crw["bank_id"].astype(str).to_numpy(), "year": crw["year"].astype("int64").to_numpy(),
                         "crw": crw["crw"].to_numpy(dtype=float, na_value=np.nan)})
    if "status" in crw.columns:
        left.loc[[is_failed(s) for s in crw["status"].astype(str)], "crw"] = np.nan
    names = [c for c in ratios.columns if c not in ("bank_id", "year")]
    if lagged:
        ratios = ratios.assign(year=ratios["year"] + 1)
    merged = left.merge(ratios, on=["bank_id", "year"], how="left", validate="one_to_one", indicator=True)
    what = "previous year-end (panel.lagged)" if lagged else "year-end"
    events = []
    for bank, g in merged[merged["_merge"] == "left_only"].groupby("bank_id", sort=True):
        years = sorted(int(y) for y in g["year"])
        events.append({"bank_id": str(bank), "date_start": pd.Timestamp(f"{years[0]}-12-31"),
                       "date_end": pd.Timestamp(f"{years[-1]}-12-31"), "n_rows": len(years), "action": "excluded",
                       "reason": "no_year_end_ratios",
                       "detail": f"CRW of {', '.join(map(str, years))} has no {what} balance-sheet row; "
                                 "bank-year(s) left out of the panel"})
    panel = merged[merged["_merge"] == "both"].drop(columns="_merge")
    panel = panel[["bank_id", "year", "crw", *[v for v in PANEL_VARIABLES if v in names]]]
    panel = panel.sort_values(["bank_id", "year"], kind="mergesort").reset_index(drop=True)
    return panel, pd.DataFrame(events, columns=list(EVENT_COLUMNS))
