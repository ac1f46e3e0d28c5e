"""The input of the contagion chain: one ΔCoVaR value per bank and date, usable rows only.

A long frame ``bank_id, date, delta_covar[, status]`` (the ΔCoVaR-DCC or ΔCoVaR-QR artifact,
or a user's own series) becomes the dates x banks frame of :func:`estimate_contagion`:

* rows whose ``status`` is neither ``ok`` nor ``warning:<Class>`` (:class:`~measures.core.status.FitStatus`;
  an unreadable status counts as failed) are left out, one ``fit_status`` event per bank and status;
* rows with a usable status but a missing value are left out, one ``missing_value`` event per bank;
* a frame without ``status`` counts as ``ok``; duplicated (bank, date) rows are refused.

The per-market spillover artifact is first reduced to one value per bank and date by
:func:`bank_level_spillover`. The events are frames ``bank_id, date_start, date_end, n_rows,
action, reason, detail`` (the pipeline turns them into quality records). Choices:
docs/contagion.md ("The chain", step 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.events import EVENT_COLUMNS
from measures.core.status import SEVERITY, FitStatus, NotEstimable

FAILED = SEVERITY["failed"]


def status_severity(status: pd.Series) -> pd.Series:
    """Severity of each status string (0 ok, 1 warning, 2 failed); an unreadable status is a failure."""

    def severity(text: str) -> int:
        try:
            return FitStatus.parse(text).severity
        except ValueError:
            return FAILED

    text = status.astype(str)
    return text.map({s: severity(s) for s in text.unique()}).astype("int64")


def bank_level_spillover(frame: pd.DataFrame) -> pd.DataFrame:
    """One ``delta_covar`` per bank and date from the spillover artifact (Fan–Rong–Duan market ΔCoVaR).

    The value is the bank-level market ΔCoVaR ``ΔCoVaR^M_i,t`` (column ``delta_covar_m``)
    when the artifact has it; otherwise, in a per-market artifact (a ``market`` column), the bank's
    total market spillover ``Σ_k S_k,i,t`` (``spillover`` summed over the markets; every market
    missing gives a missing value). Per-market rows of ``delta_covar_m`` must agree for a bank and
    date. The status of a bank and date is its worst status over the markets (the last market of
    equal severity). A bank-level artifact (no ``market`` column) without ``delta_covar_m`` is
    returned as it is (its ``delta_covar`` is used).

    Raises
    ------
    NotEstimable
        Neither value column, or ``delta_covar_m`` differing across markets.
    """
    has_market = "market" in frame.columns
    if "delta_covar_m" in frame.columns:
        value = "delta_covar_m"
    elif has_market and "spillover" in frame.columns:
        value = "spillover"
    elif not has_market:
        return frame
    else:
        raise NotEstimable("spillover.parquet has neither a 'delta_covar_m' nor a 'spillover' column; "
                           f"columns: {list(frame.columns)}")
    if not has_market:
        return frame.drop(columns=["delta_covar"], errors="ignore").rename(columns={value: "delta_covar"})
    status = frame["status"].astype(str) if "status" in frame.columns else pd.Series("ok", index=frame.index)
    work = pd.DataFrame({"bank_id": frame["bank_id"], "date": frame["date"], "value": frame[value].astype(float),
                         "status": status, "severity": status_severity(status)})
    work = work.sort_values(["bank_id", "date", "severity"], kind="mergesort")
    grouped = work.groupby(["bank_id", "date"], sort=True)
    if value == "delta_covar_m":
        hi, lo = grouped["value"].max(), grouped["value"].min()
        bad = (hi - lo).abs() > 1e-12 * np.maximum(1.0, hi.abs())
        if bad.any():
            bank, date = bad[bad].index[0]
            raise NotEstimable(f"spillover.parquet: delta_covar_m differs across markets for bank {bank!r} on "
                               f"{pd.Timestamp(date):%Y-%m-%d}; the bank-level ΔCoVaR^M must be one value per bank and date")
        agg = grouped["value"].first()
    else:
        agg = grouped["value"].sum(min_count=1)  # every market missing -> missing
    return pd.DataFrame({"delta_covar": agg, "status": grouped["status"].last()}).reset_index()


@dataclass(frozen=True)
class ContagionSeries:
    """``series``: dates x banks ΔCoVaR (float, columns sorted); ``events``: the rows left out."""

    series: pd.DataFrame
    events: pd.DataFrame


def _events(frame: pd.DataFrame, by: list[str], reason: str, detail) -> list[dict]:
    rows = []
    for keys, g in frame.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        rows.append({"bank_id": str(keys[0]), "date_start": g["date"].min(), "date_end": g["date"].max(),
                     "n_rows": len(g), "action": "excluded", "reason": reason, "detail": detail(len(g), *keys[1:])})
    return rows


def contagion_series(frame: pd.DataFrame, *, name: str = "the ΔCoVaR artifact", spillover: bool = False) -> ContagionSeries:
    """The dates x banks ΔCoVaR frame of the contagion chain and the events of the rows left out.

    Parameters
    ----------
    frame : DataFrame
        Long ``bank_id, date, delta_covar[, status]`` (with ``spillover``: the spillover artifact,
        reduced by :func:`bank_level_spillover` first).
    name : str
        How messages name the input.
    spillover : bool
        The input is the spillover artifact.

    Raises
    ------
    NotEstimable
        A required column is missing, the frame is empty, a (bank, date) is duplicated, or fewer
        than two banks have a usable value.
    """
    if spillover:
        frame = bank_level_spillover(frame)
    missing = [c for c in ("bank_id", "date", "delta_covar") if c not in frame.columns]
    if missing:
        raise NotEstimable(f"{name}: column(s) {missing} missing; the contagion chain needs bank_id, date, delta_covar "
                           "(and status)")
    if frame.empty:
        raise NotEstimable(f"{name} has no rows; the contagion chain needs a ΔCoVaR series per bank")
    dup = frame.duplicated(["bank_id", "date"])
    if dup.any():
        row = frame.loc[dup].iloc[0]
        raise NotEstimable(f"{name}: duplicated row for bank {row.bank_id!r} on {pd.Timestamp(row.date):%Y-%m-%d}; "
                           "one value per bank and date is allowed")
    status = frame["status"].astype(str) if "status" in frame.columns else pd.Series("ok", index=frame.index)
    usable = (status_severity(status) < FAILED).to_numpy()
    events = _events(frame.loc[~usable].assign(status=status[~usable]), ["bank_id", "status"], "fit_status",
                     lambda n, st: f"{n} rows with status {st!r} are not used by the Granger VAR")
    good = frame.loc[usable]
    events += _events(good[good["delta_covar"].isna()], ["bank_id"], "missing_value",
                      lambda n: f"{n} rows with a usable status but a missing delta_covar")
    good = good.dropna(subset=["delta_covar"])
    wide = good.pivot(index="date", columns="bank_id", values="delta_covar").sort_index().sort_index(axis=1)
    wide.index = pd.DatetimeIndex(wide.index, name="date")
    wide.columns = pd.Index([str(c) for c in wide.columns], name="bank_id", dtype=object)
    if wide.shape[1] < 2:
        raise NotEstimable(f"{name}: {wide.shape[1]} bank(s) with usable ΔCoVaR; the contagion network needs at least 2")
    return ContagionSeries(series=wide.astype(float), events=pd.DataFrame(events, columns=list(EVENT_COLUMNS)))
