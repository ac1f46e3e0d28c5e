"""Contagion: Granger causality on ΔCoVaR → PageRank weights per year; Diebold–Yilmaz connectedness.

Reads the ΔCoVaR series named by ``contagion.series`` (``dcc``: ``covar_dcc.parquet``, ``qr``:
``covar_qr.parquet``, ``spillover``: the bank-level market ΔCoVaR of ``spillover.parquet``, see
:func:`_aggregate_spillover`) from the measures directory. Only rows whose ``status`` is ``ok`` or
``warning:<Class>`` enter; the others are recorded as exclusions. The science is
:func:`measures.contagion.estimate_contagion` (standardize per window → Granger p-values →
Benjamini–Hochberg edge set → PageRank CRW) and :func:`measures.contagion.estimate_connectedness`.

Writes to ``--out`` (``data/processed/contagion``):

* ``granger.parquet`` — ``year, source, target``: ``p_value, lags, weight`` (``1 - p``) and, unless
  ``contagion.fdr_alpha`` is null, ``q_value, significant``;
* ``crw.parquet`` — ``bank_id, year``: ``crw`` (sums to 1 per year);
* ``windows.parquet`` — ``year``: ``n_banks, nobs, lags, aic, bic, hqic, status``;
* ``connectedness.parquet`` — ``window_end``: ``n_banks, total, lags, nobs, status`` (rolling DY
  total connectedness, percent);
* ``connectedness_directional.parquet`` — ``year, bank_id``: ``to, from, net`` (DY directional
  connectedness, percent, on each contagion window);

and ``data/processed/quality/contagion.parquet``. With ``contagion.window: rolling`` the window key
is ``window_end`` (the last date of the window) instead of ``year``. Documentation:
``docs/contagion.md``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from measures.contagion import (
    ContagionConfig,
    estimate_connectedness,
    estimate_contagion,
)
from measures.core.config import Config, check_choice, check_range
from measures.core.status import check_failure_budget
from measures.core.windows import calendar_windows, rolling_windows
from pipeline.io import read_parquet, write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.stages.common import parser, write_quality

STAGE = "contagion"
SERIES_FILES = {"dcc": "covar_dcc.parquet", "qr": "covar_qr.parquet", "spillover": "spillover.parquet"}
_SEVERITY = {"ok": 0, "warning": 1, "failed": 2}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectednessOptions(Config):
    """``contagion.connectedness``: Diebold–Yilmaz connectedness (docs/contagion.md).

    ``horizon``: forecast horizon H of the generalized FEVD; ``window`` / ``step``: rows of the
    rolling windows of the total-connectedness series; ``lags``: fixed VAR order (null: chosen by
    ``contagion.ic`` up to ``contagion.max_lags``, as the Granger VAR).
    """

    horizon: int = 10
    window: int = 250
    step: int = 5
    lags: int | None = None

    def validate(self) -> None:
        check_range("contagion.connectedness.horizon", self.horizon, low=1, integer=True)
        check_range("contagion.connectedness.window", self.window, low=10, integer=True)
        check_range("contagion.connectedness.step", self.step, low=1, integer=True)
        if self.lags is not None:
            check_range("contagion.connectedness.lags", self.lags, low=1, integer=True)


@dataclasses.dataclass(frozen=True)
class StageOptions:
    """The whole ``contagion`` group: the input, the chain options, FDR switch, budget, connectedness."""

    series: str
    chain: ContagionConfig
    fdr: bool
    max_failure_share: float
    connectedness: ConnectednessOptions


def stage_options(mapping: Mapping[str, Any] | None) -> StageOptions:
    """Validate the ``contagion`` params group (unknown keys raise, naming the allowed ones)."""
    m = dict(mapping or {})
    series = m.pop("series", "dcc")
    check_choice("contagion.series", series, tuple(SERIES_FILES))
    budget = m.pop("max_failure_share", 0.5)
    check_range("contagion.max_failure_share", budget, low=0.0, high=1.0)
    conn = ConnectednessOptions.from_mapping(m.pop("connectedness", None), where="contagion.connectedness")
    fdr = m.get("fdr_alpha", 0.05) is not None
    if not fdr:
        m["fdr_alpha"] = 0.05  # the science always computes q-values; the stage drops them
    try:
        chain = ContagionConfig.from_mapping(m, where="contagion")
    except ValueError as exc:
        text = str(exc)
        if "unknown option" in text:
            text += "; the stage also takes: series, max_failure_share, connectedness"
        else:
            text = f"contagion.{text}"  # the science names the bare field
        raise ValueError(text) from None
    return StageOptions(series=series, chain=chain, fdr=fdr, max_failure_share=float(budget), connectedness=conn)


# ---------------------------------------------------------------- input


def _status_kind(status: pd.Series) -> pd.Series:
    text = status.astype(str)
    kind = pd.Series("failed", index=status.index, dtype=object)
    kind[text == "ok"] = "ok"
    kind[text.str.startswith("warning:")] = "warning"
    return kind


def _aggregate_spillover(frame: pd.DataFrame) -> pd.DataFrame:
    """One ``delta_covar`` per bank and date from the spillover artifact (METHODS §1.3).

    The value is the bank-level market ΔCoVaR ``ΔCoVaR^M_i,t`` (eq. 5), column ``delta_covar_m``,
    when the artifact has it; otherwise, in a per-market artifact (a ``market`` column), the bank's
    total market spillover ``Σ_k S_k,i,t`` (``spillover`` summed over the markets; every market
    missing gives a missing value). Per-market rows of ``delta_covar_m`` must agree for a bank and
    date. The status of a bank and date is its worst status over the markets. A bank-level
    artifact (no ``market`` column) without ``delta_covar_m`` is used through its ``delta_covar``.
    """
    has_market = "market" in frame.columns
    if "delta_covar_m" in frame.columns:
        value = "delta_covar_m"
    elif has_market and "spillover" in frame.columns:
        value = "spillover"
    elif not has_market:
        return frame
    else:
        raise ValueError("spillover.parquet has neither a 'delta_covar_m' nor a 'spillover' column; "
                         f"columns: {list(frame.columns)}")
    if not has_market:
        return frame.drop(columns=["delta_covar"], errors="ignore").rename(columns={value: "delta_covar"})
    status = frame["status"].astype(str) if "status" in frame.columns else pd.Series("ok", index=frame.index)
    work = pd.DataFrame({"bank_id": frame["bank_id"], "date": frame["date"], "value": frame[value].astype(float),
                         "status": status, "severity": _status_kind(status).map(_SEVERITY)})
    work = work.sort_values(["bank_id", "date", "severity"], kind="mergesort")
    grouped = work.groupby(["bank_id", "date"], sort=True)
    if value == "delta_covar_m":
        hi, lo = grouped["value"].max(), grouped["value"].min()
        bad = (hi - lo).abs() > 1e-12 * np.maximum(1.0, hi.abs())
        if bad.any():
            bank, date = bad[bad].index[0]
            raise ValueError(f"spillover.parquet: delta_covar_m differs across markets for bank {bank!r} on "
                             f"{pd.Timestamp(date):%Y-%m-%d}; the bank-level ΔCoVaR^M must be one value per bank and date")
        agg = grouped["value"].first()
    else:
        agg = grouped["value"].sum(min_count=1)  # every market missing -> missing
    return pd.DataFrame({"delta_covar": agg, "status": grouped["status"].last()}).reset_index()


def load_series(path: Path, series: str) -> tuple[pd.DataFrame, list[QualityRecord]]:
    """The dates x banks ΔCoVaR frame and the records of the rows left out.

    Rows with a status other than ``ok`` / ``warning:<Class>`` are excluded (one record per bank
    and status); rows with a usable status but a missing value are recorded as missing. A
    missing ``status`` column counts as ``ok`` (a user's own series).
    """
    frame = read_parquet(path)
    table = path.stem
    if series == "spillover":
        frame = _aggregate_spillover(frame)
    missing = [c for c in ("bank_id", "date", "delta_covar") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: column(s) {missing} missing; the contagion stage needs bank_id, date, delta_covar "
                         "(and status)")
    if frame.empty:
        raise ValueError(f"{path} has no rows; the contagion stage needs a ΔCoVaR series per bank")
    dup = frame.duplicated(["bank_id", "date"])
    if dup.any():
        row = frame.loc[dup].iloc[0]
        raise ValueError(f"{path}: duplicated row for bank {row.bank_id!r} on {pd.Timestamp(row.date):%Y-%m-%d}; "
                         "one value per bank and date is allowed")
    status = frame["status"].astype(str) if "status" in frame.columns else pd.Series("ok", index=frame.index)
    usable = _status_kind(status) != "failed"
    records = []
    bad = frame.loc[~usable].assign(status=status[~usable])
    for (bank, st), g in bad.groupby(["bank_id", "status"], sort=True):
        records.append(QualityRecord(
            stage=STAGE, table=table, bank_id=str(bank), date_start=g["date"].min(), date_end=g["date"].max(),
            n_rows=len(g), action="excluded", reason="fit_status",
            detail=f"{len(g)} rows with status {st!r} are not used by the Granger VAR"))
    good = frame.loc[usable]
    nan = good[good["delta_covar"].isna()]
    for bank, g in nan.groupby("bank_id", sort=True):
        records.append(QualityRecord(
            stage=STAGE, table=table, bank_id=str(bank), date_start=g["date"].min(), date_end=g["date"].max(),
            n_rows=len(g), action="excluded", reason="missing_value",
            detail=f"{len(g)} rows with a usable status but a missing delta_covar"))
    good = good.dropna(subset=["delta_covar"])
    wide = good.pivot(index="date", columns="bank_id", values="delta_covar").sort_index().sort_index(axis=1)
    wide.index = pd.DatetimeIndex(wide.index, name="date")
    wide.columns = pd.Index([str(c) for c in wide.columns], name="bank_id", dtype=object)
    return wide.astype(float), records


# ---------------------------------------------------------------- windows


def _window_spans(index: pd.DatetimeIndex, chain: ContagionConfig) -> dict[Any, tuple[pd.Timestamp, pd.Timestamp, int]]:
    """Window label -> (first date, last date, rows), the same windows as the science."""
    if chain.window == "year":
        wins = calendar_windows(index, "Y")
        labels = [int(p.year) for p in wins.label]
    else:
        wins = rolling_windows(index, chain.window_length, chain.step)
        labels = list(wins.label)
    return {lab: (index[a], index[b - 1], int(b - a)) for lab, a, b in zip(labels, wins.start.tolist(), wins.stop.tolist())}


def _standardize(block: pd.DataFrame) -> pd.DataFrame:
    return (block - block.mean()) / block.std(ddof=1)


def rolling_connectedness(wide: pd.DataFrame, chain: ContagionConfig, opts: ConnectednessOptions) -> pd.DataFrame:
    """DY total connectedness on rolling windows ending at ``window_end`` (no look-ahead).

    In each window the banks with at least ``min_obs`` observations and a varying series enter,
    standardized; a window that cannot be estimated keeps a row with a ``failed`` status.
    """
    cols = ["window_end", "n_banks", "total", "lags", "nobs", "status"]
    if len(wide) < opts.window:
        return pd.DataFrame(columns=cols)
    rows = []
    wins = rolling_windows(wide.index, opts.window, opts.step)
    values = wide.to_numpy(dtype=float)
    banks = np.asarray(wide.columns, dtype=object)
    min_obs = min(chain.min_obs, opts.window)
    for end, rows_slice in zip(wins.label, wins.slices()):
        y = values[rows_slice]
        counts = np.isfinite(y).sum(axis=0)
        observed = np.isfinite(y)
        mean = np.where(observed, y, 0.0).sum(axis=0) / np.maximum(counts, 1)
        sd = np.sqrt((np.where(observed, y - mean, 0.0) ** 2).sum(axis=0) / np.maximum(counts - 1, 1))
        keep = np.flatnonzero((counts >= min_obs) & (sd > 0))
        kept = banks[keep].tolist()
        row = {"window_end": end, "n_banks": len(kept), "total": np.nan, "lags": np.nan, "nobs": np.nan}
        if len(kept) < 2:
            row["status"] = f"failed:ValueError: {len(kept)} bank(s) with min_obs={chain.min_obs} observations; need 2"
        else:
            try:
                z = pd.DataFrame((y[:, keep] - mean[keep]) / sd[keep], columns=kept)
                c = estimate_connectedness(z, horizon=opts.horizon, lags=opts.lags,
                                           max_lags=chain.max_lags, ic=chain.ic)
                row.update(total=c.total, lags=c.lags, nobs=c.nobs, status=c.status)
            except ValueError as exc:
                row["status"] = f"failed:ValueError: {' '.join(str(exc).split())}"
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    return out.astype({"n_banks": "int64", "total": float, "lags": float, "nobs": float})


def window_directional(wide: pd.DataFrame, crw: pd.DataFrame, key: str, spans: dict, chain: ContagionConfig,
                       opts: ConnectednessOptions) -> tuple[pd.DataFrame, list[tuple]]:
    """DY to/from/net per bank on each contagion window, on the banks that window kept."""
    parts, failures = [], []
    for label, banks in crw.groupby(key, sort=True)["bank_id"]:
        first, last, _ = spans[label]
        block = _standardize(wide.loc[first:last, list(banks)])
        try:
            c = estimate_connectedness(block, horizon=opts.horizon, lags=opts.lags, max_lags=chain.max_lags, ic=chain.ic)
        except ValueError as exc:
            failures.append((label, " ".join(str(exc).split())))
            continue
        parts.append(pd.DataFrame({key: label, "bank_id": c.to.index.to_numpy(), "to": c.to.to_numpy(),
                                   "from": c.from_.to_numpy(), "net": c.net.to_numpy()}))
    cols = [key, "bank_id", "to", "from", "net"]
    return (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)), failures


# ---------------------------------------------------------------- run


def run(params_path: str, measures: str, out: str, quality: str) -> None:
    params = load_params(params_path)
    opts = stage_options(group(params, "contagion"))
    chain = opts.chain
    source = Path(measures) / SERIES_FILES[opts.series]
    wide, records = load_series(source, opts.series)
    if wide.shape[1] < 2:
        raise ValueError(f"{source}: {wide.shape[1]} bank(s) with usable ΔCoVaR; the contagion network needs at least 2")
    panel = estimate_contagion(wide, **chain.to_dict())
    key = "year" if chain.window == "year" else "window_end"
    spans = _window_spans(wide.index, chain)
    table = source.stem

    for e in panel.exclusions.itertuples(index=False):
        first, last, _ = spans[getattr(e, key)]
        reason = "min_obs" if str(e.reason).startswith("fewer than") else "constant_series"
        records.append(QualityRecord(stage=STAGE, table=table, bank_id=str(e.bank_id), date_start=first, date_end=last,
                                     n_rows=int(e.n_obs), action="excluded", reason=reason,
                                     detail=f"{key} {getattr(e, key)}: {e.reason}"))
    for w in panel.windows.itertuples(index=False):
        if str(w.status).startswith("failed:"):
            first, last, n = spans[getattr(w, key)]
            records.append(QualityRecord(stage=STAGE, table=table, bank_id=None, date_start=first, date_end=last,
                                         n_rows=n, action="excluded", reason="window_failed",
                                         detail=f"{key} {getattr(w, key)}: no contagion weights: {w.status}"))
    check_failure_budget(panel.windows["status"], opts.max_failure_share, what=f"contagion windows ({key})")

    edges = panel.edges.copy()
    if not opts.fdr:
        edges = edges.drop(columns=["q_value", "significant"])
    edge_cols = [key, "source", "target", "p_value", "lags", "weight"] + (["q_value", "significant"] if opts.fdr else [])
    edges = edges[edge_cols].astype({"lags": "int64"})
    if opts.fdr:
        edges = edges.astype({"significant": bool})
    crw = panel.crw[["bank_id", key, "crw"]].astype({"crw": float})
    windows = panel.windows.astype({"n_banks": "int64", "nobs": float, "lags": float, "aic": float, "bic": float,
                                    "hqic": float})
    if key == "year":
        edges, crw, windows = (f.astype({"year": "int64"}) for f in (edges, crw, windows))

    conn = rolling_connectedness(wide, chain, opts.connectedness)
    directional, failures = window_directional(wide, crw, key, spans, chain, opts.connectedness)
    for label, message in failures:
        first, last, n = spans[label]
        records.append(QualityRecord(stage=STAGE, table=table, bank_id=None, date_start=first, date_end=last, n_rows=n,
                                     action="flagged", reason="connectedness_failed",
                                     detail=f"{key} {label}: no directional connectedness: {message}"))
    for row in conn.itertuples(index=False):
        if str(row.status).startswith("failed:"):
            records.append(QualityRecord(stage=STAGE, table=table, bank_id=None, date_start=row.window_end,
                                         date_end=row.window_end, n_rows=opts.connectedness.window, action="flagged",
                                         reason="connectedness_failed",
                                         detail=f"rolling window ending {row.window_end:%Y-%m-%d}: {row.status}"))

    out_dir = Path(out)
    write_parquet(edges, out_dir / "granger.parquet", key=[key, "source", "target"])
    write_parquet(crw, out_dir / "crw.parquet", key=["bank_id", key])
    write_parquet(windows, out_dir / "windows.parquet", key=[key])
    write_parquet(conn, out_dir / "connectedness.parquet", key=["window_end"])
    write_parquet(directional.astype({"to": float, "from": float, "net": float}),
                  out_dir / "connectedness_directional.parquet", key=[key, "bank_id"])
    write_quality(records, quality, STAGE)


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--measures", default="data/processed/measures", help="directory of the ΔCoVaR artifacts")
    p.add_argument("--out", default="data/processed/contagion")
    args = p.parse_args(argv)
    run(args.params, args.measures, args.out, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
