"""ΔCoVaR by quantile regression with lagged state variables, per bank (METHODS §1.1).

Reads ``data/interim/returns.parquet`` (bank ``loss``), ``data/interim/system_returns.parquet``
(system ``loss``) and ``data/interim/canonical/market_states.parquet`` (state variables;
``measures.covar_qr.states`` picks the columns, default all). Writes

* ``data/processed/measures/covar_qr.parquet`` — daily, one row per bank and date:
  ``bank_id, date, var_q, var_med, covar, delta_covar, status`` (the input of
  ``contagion.series: qr``);
* ``data/processed/measures/covar_qr_weekly.parquet`` — the same columns on the last date of
  each week (weeks ending Friday) on which the bank has a value;
* ``data/processed/estimates/covar_qr.parquet`` — ``bank_id, window_end, equation, term,
  estimate, std_error, status``: the coefficients of the three regressions per window (one
  window, ending at the last date, for the full sample); ``std_error`` is NaN (no quantile-
  regression inference is computed, see docs/covar.md);
* ``data/processed/quality/covar_qr.parquet`` — the exclusions and flags.

The science is :func:`measures.covar_qr.estimate_delta_covar` (exact quantile regression).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.core.status import FitStatus, check_failure_budget, status_from_exception
from measures.covar_qr import CoVaRConfig, estimate_delta_covar, lag_states
from measures.spillover import weekly_last
from pipeline.io import read_parquet, write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.stages.common import parser, write_quality

STAGE = "covar_qr"
ESTIMATION = ("full", "rolling")
VALUE_COLUMNS = ["bank_id", "date", "var_q", "var_med", "covar", "delta_covar", "status"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class CovarQRParams(Config):
    """``measures.covar_qr`` (docs/parameters.md, docs/covar.md)."""

    q: float = 0.95
    estimation: str = "full"
    window: int = 250
    step: int = 1
    lag: int = 1
    states: list[str] | None = None
    min_obs: int = 250
    max_failure_share: float = 0.5

    def validate(self) -> None:
        where = "measures.covar_qr"
        check_range(f"{where}.q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        check_choice(f"{where}.estimation", self.estimation, ESTIMATION)
        check_range(f"{where}.window", self.window, low=10, integer=True)
        check_range(f"{where}.step", self.step, low=1, integer=True)
        check_range(f"{where}.lag", self.lag, low=0, integer=True)
        check_range(f"{where}.min_obs", self.min_obs, low=10, integer=True)
        check_range(f"{where}.max_failure_share", self.max_failure_share, low=0.0, high=1.0)
        check_states(f"{where}.states", self.states)

    def science(self) -> CoVaRConfig:
        window = self.window if self.estimation == "rolling" else None
        return CoVaRConfig(q=self.q, window=window, step=self.step, lag=self.lag)


def check_states(where: str, states: object) -> None:
    """``states`` is null (all columns) or a non-empty list of distinct names."""
    if states is None:
        return
    if not isinstance(states, (list, tuple)) or not states or not all(isinstance(s, str) for s in states):
        raise ValueError(f"{where} must be null (all state variables) or a non-empty list of column names, got {states!r}")
    if len(set(states)) != len(states):
        raise ValueError(f"{where} lists a state twice: {list(states)}")


# ----------------------------------------------------------------------------- inputs (shared with spillover)


def load_losses(interim: str | Path, stage: str) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Wide bank losses and previous-day market-value weights (dates x bank_id), and the system loss."""
    rets = read_parquet(Path(interim) / "returns.parquet")
    system = read_parquet(Path(interim) / "system_returns.parquet")
    for name, frame, cols in (("returns", rets, ("bank_id", "date", "loss", "weight")), ("system_returns", system, ("date", "loss"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{stage}: interim/{name}.parquet lacks column(s) {missing}; rerun the returns stage")
    losses = rets.pivot(index="date", columns="bank_id", values="loss").sort_index()
    weights = rets.pivot(index="date", columns="bank_id", values="weight").sort_index()
    losses.columns = [str(c) for c in losses.columns]
    weights.columns = [str(c) for c in weights.columns]
    sys_loss = system.set_index("date")["loss"].astype(float).sort_index().rename("system")
    return losses, sys_loss, weights


def load_states(path: str | Path, names: list[str] | None, where: str) -> pd.DataFrame:
    """The chosen state-variable columns of ``market_states.parquet`` (date index)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the data source has no market_states table; add one "
                                "(docs/formats.md §4, data.market_states) or run the ingest stage")
    frame = read_parquet(path).set_index("date").sort_index()
    available = [c for c in frame.columns]
    if names is None:
        names = available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"{where}: state variable(s) {unknown} not in market_states; available: {available}")
    if not names:
        raise ValueError(f"{where}: market_states has no state-variable column")
    return frame[list(names)].astype(float)


def state_gap_records(states: pd.DataFrame, stage: str) -> list[QualityRecord]:
    """One record per state variable with missing values (those dates are left out of every fit)."""
    records = []
    for name in states.columns:
        miss = states.index[states[name].isna()]
        if miss.size:
            records.append(QualityRecord(
                stage=stage, table="market_states", bank_id=None, date_start=miss[0], date_end=miss[-1],
                n_rows=int(miss.size), action="excluded", reason="missing_state",
                detail=f"{miss.size} date(s) without state variable {name!r} are left out of every regression"))
    return records


def bank_gap_record(stage: str, bank: str, loss: pd.Series, used: pd.Index) -> QualityRecord | None:
    """Days inside the bank's span that the fits could not use (no bank/system loss or state)."""
    span = loss.index[loss.notna()]
    if span.size == 0:
        return None
    inside = loss.index[(loss.index >= span[0]) & (loss.index <= span[-1])]
    left = inside.difference(used)
    if left.size == 0:
        return None
    return QualityRecord(
        stage=stage, table="returns", bank_id=bank, date_start=left[0], date_end=left[-1], n_rows=int(left.size),
        action="excluded", reason="missing_return",
        detail=(f"{left.size} day(s) inside the bank's span without a bank loss, a system loss or a (lagged) state "
                "variable (masked suspensions, the lag's first day, state gaps) are left out of the regressions"))


def tidy_dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    frame = frame.copy()
    for c in columns:
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[ns]")
    for c in frame.columns:
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]):
            frame[c] = frame[c].astype(object)
    return frame


# ----------------------------------------------------------------------------- estimation


def estimate_banks(
    losses: pd.DataFrame, sys_loss: pd.Series, states: pd.DataFrame, config: CovarQRParams
) -> tuple[pd.DataFrame, pd.DataFrame, list[QualityRecord], list[str]]:
    """ΔCoVaR values and coefficients of every bank; quality records; the status of every value row."""
    science = config.science()
    need = config.window if config.estimation == "rolling" else config.min_obs
    lagged = lag_states(states, config.lag)
    usable = pd.concat([sys_loss, lagged], axis=1, join="inner").dropna().index
    values, coefs, records, bank_status = [], [], [], []
    for bank in losses.columns:
        loss = losses[bank]
        used = loss.dropna().index.intersection(usable)
        if used.size < max(need, len(states.columns) + 2):
            records.append(QualityRecord(
                stage=STAGE, table="returns", bank_id=bank,
                date_start=used[0] if used.size else None, date_end=used[-1] if used.size else None,
                n_rows=int(used.size), action="excluded", reason="too_few_observations",
                detail=(f"{used.size} usable day(s) < {need} ("
                        + ("measures.covar_qr.window" if config.estimation == "rolling" else "measures.covar_qr.min_obs")
                        + "): no ΔCoVaR for this bank")))
            continue
        rec = bank_gap_record(STAGE, bank, loss, used)
        if rec is not None:
            records.append(rec)
        try:
            val, coef = estimate_delta_covar(loss, sys_loss, states, science)
        except ValueError as exc:  # e.g. a rank-deficient full sample
            status = str(status_from_exception(exc))
            val = pd.DataFrame({"date": used, "var_q": np.nan, "var_med": np.nan, "covar": np.nan,
                                "delta_covar": np.nan, "status": status})
            coef = pd.DataFrame(columns=["window_end", "equation", "term", "estimate", "status"])
        val.insert(0, "bank_id", bank)
        coef.insert(0, "bank_id", bank)
        values.append(val)
        coefs.append(coef)
        kinds = val["status"].astype(str)
        bank_status.extend(kinds)
        bad = val[kinds != "ok"]
        for st, g in bad.groupby("status", sort=True):
            parsed = FitStatus.parse(str(st))
            records.append(QualityRecord(
                stage=STAGE, table="returns", bank_id=bank, date_start=g["date"].min(), date_end=g["date"].max(),
                n_rows=len(g), action="flagged", reason="fit_failed" if parsed.failed else "fit_warning",
                detail=f"{len(g)} ΔCoVaR value(s) with status {st}"))
    values_df = pd.concat(values, ignore_index=True) if values else pd.DataFrame(columns=VALUE_COLUMNS)
    coef_df = pd.concat(coefs, ignore_index=True) if coefs else pd.DataFrame(
        columns=["bank_id", "window_end", "equation", "term", "estimate", "status"])
    coef_df["std_error"] = np.nan  # no QR inference is computed (docs/covar.md)
    coef_df = coef_df[["bank_id", "window_end", "equation", "term", "estimate", "std_error", "status"]]
    values_df = tidy_dates(values_df[VALUE_COLUMNS], "date")
    values_df[["var_q", "var_med", "covar", "delta_covar"]] = values_df[["var_q", "var_med", "covar", "delta_covar"]].astype(float)
    coef_df = tidy_dates(coef_df, "window_end")
    coef_df[["estimate", "std_error"]] = coef_df[["estimate", "std_error"]].astype(float)
    return values_df, coef_df, records, bank_status


def run(params_path: str, interim: str, canonical: str, out: str, weekly: str, estimates: str, quality: str) -> None:
    params = load_params(params_path)
    config = CovarQRParams.from_mapping(group(params, "measures.covar_qr"), where="measures.covar_qr")
    losses, sys_loss, _ = load_losses(interim, STAGE)
    states = load_states(Path(canonical) / "market_states.parquet", config.states, "measures.covar_qr.states")
    values, coefs, records, bank_status = estimate_banks(losses, sys_loss, states, config)
    records = state_gap_records(states, STAGE) + records
    write_parquet(values, out, key=["bank_id", "date"])
    write_parquet(weekly_last(values, "date", by=["bank_id"]) if len(values) else values, weekly, key=["bank_id", "date"])
    write_parquet(coefs, estimates, key=["bank_id", "window_end", "equation", "term"])
    write_quality(records, quality, STAGE)
    if not bank_status:
        raise ValueError(f"{STAGE}: no bank has enough observations for a ΔCoVaR (see {quality}/{STAGE}.parquet)")
    check_failure_budget(bank_status, config.max_failure_share, what=f"{STAGE} ΔCoVaR values (bank x date)")


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--interim", default="data/interim", help="folder with returns.parquet and system_returns.parquet")
    p.add_argument("--canonical", default="data/interim/canonical", help="folder with market_states.parquet")
    p.add_argument("--out", default="data/processed/measures/covar_qr.parquet")
    p.add_argument("--weekly", default="data/processed/measures/covar_qr_weekly.parquet")
    p.add_argument("--estimates", default="data/processed/estimates/covar_qr.parquet")
    args = p.parse_args(argv)
    run(args.params, args.interim, args.canonical, args.out, args.weekly, args.estimates, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
