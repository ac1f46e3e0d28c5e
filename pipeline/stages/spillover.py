"""Market-spillover ΔCoVaR, its four channels and the system indices (seed 004; METHODS §1.3).

Reads ``data/interim/returns.parquet`` (bank ``loss`` and the previous-day market-value
``weight``), ``data/interim/system_returns.parquet`` (system ``loss``) and
``data/interim/canonical/market_states.parquet`` (``measures.spillover.states`` picks the
markets / state variables, default all; contemporaneous, larger = more stress). Writes

* ``data/processed/measures/spillover.parquet`` — one row per bank, date and market:
  ``bank_id, date, market, delta_m`` (own risk ΔM_k), ``c`` (risk-taking c_k^q), ``gamma``
  (information spillover γ_k^q), ``beta`` (connectedness β^q), ``spillover`` (S_k,i),
  ``delta_covar_m`` (bank-level ΔCoVaR^M, eq. 5, repeated over the markets), ``delta_covar``
  (traditional ΔCoVaR from the same window), ``status``;
* ``data/processed/system/spillover_index.parquet`` — daily ``date, improved_index,
  traditional_index, n_banks, spill_<market>...`` (market-value-weighted over banks);
* ``data/processed/system/spillover_index_weekly.parquet`` — the same on the last trading day
  of each week (weeks ending Friday);
* ``data/processed/system/spillover_channels.parquet`` — ``date, market, spillover, delta_m,
  c, gamma, beta, n_banks``: weighted means over banks per date and market;
* ``data/processed/quality/spillover.parquet``.

The identity ``S_k = ΔM_k (γ_k + β c_k)`` is asserted to 1e-12 for every bank, market and date
(:func:`measures.spillover.decompose_spillover`), and again on the written table.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.core.status import FitStatus, check_failure_budget
from measures.covar_qr import CoVaRConfig, estimate_delta_covar
from measures.spillover import IDENTITY_TOL, SpilloverConfig, estimate_market_spillover, weekly_last
from pipeline.io import write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.stages.common import parser, write_quality
from pipeline.stages.covar_qr import bank_gap_record, check_states, load_losses, load_states, state_gap_records, tidy_dates

STAGE = "spillover"
TRADITIONAL = ("lagged", "same_window")
CHANNELS = {"own_risk": "delta_m", "risk_taking": "c", "information": "gamma", "connectedness": "beta"}
BANK_COLUMNS = ["bank_id", "date", "market", "delta_m", "c", "gamma", "beta", "spillover", "delta_covar_m",
                "delta_covar", "status"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpilloverParams(Config):
    """``measures.spillover`` (docs/parameters.md, docs/covar.md)."""

    q: float = 0.95
    window: int = 120
    step: int = 1
    states: list[str] | None = None
    traditional: str = "lagged"
    max_failure_share: float = 0.5

    def validate(self) -> None:
        where = "measures.spillover"
        check_choice(f"{where}.traditional", self.traditional, TRADITIONAL)
        check_range(f"{where}.q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        check_range(f"{where}.window", self.window, low=10, integer=True)
        check_range(f"{where}.step", self.step, low=1, integer=True)
        check_range(f"{where}.max_failure_share", self.max_failure_share, low=0.0, high=1.0)
        check_states(f"{where}.states", self.states)

    def science(self) -> SpilloverConfig:
        return SpilloverConfig(q=self.q, window=self.window, step=self.step)


def check_identity(frame: pd.DataFrame) -> float:
    """Largest relative gap of ``spillover = delta_m (gamma + beta c)`` over the finite rows; raises above 1e-12."""
    ok = frame["spillover"].notna()
    f = frame.loc[ok]
    rhs = f["delta_m"] * (f["gamma"] + f["beta"] * f["c"])
    size = 1.0 + f["delta_m"].abs() * (f["gamma"].abs() + (f["beta"] * f["c"]).abs())
    gap = float(((f["spillover"] - rhs).abs() / size).max()) if len(f) else 0.0
    if not gap <= IDENTITY_TOL:
        raise AssertionError(f"{STAGE}: identity S_k = dM_k (gamma_k + beta c_k) fails by {gap:.3e} > {IDENTITY_TOL}")
    return gap


def lagged_delta_covar(losses: pd.DataFrame, sys_loss: pd.Series, states: pd.DataFrame, config: SpilloverParams) -> pd.DataFrame:
    """METHODS §1.1 ΔCoVaR (states lagged one day) on the same rolling windows: bank_id, date, delta_covar, status."""
    science = CoVaRConfig(q=config.q, window=config.window, step=config.step, lag=1)
    parts = []
    for bank in losses.columns:
        values, _ = estimate_delta_covar(losses[bank], sys_loss, states, science)
        values.insert(0, "bank_id", bank)
        parts.append(values[["bank_id", "date", "delta_covar", "status"]])
    return pd.concat(parts, ignore_index=True)


def weighted_index(frame: pd.DataFrame, weights: pd.DataFrame, column: str) -> pd.Series:
    """Σ_i w_i x_i / Σ_i w_i by date over the rows with a finite value and a non-failed status."""
    w = weights.stack().rename("w").rename_axis(["date", "bank_id"]).reset_index()
    m = frame.merge(w, on=["date", "bank_id"], how="inner")
    m = m[np.isfinite(m[column]) & (m["w"] > 0) & ~m["status"].astype(str).str.startswith("failed")]
    num = (m[column] * m["w"]).groupby(m["date"]).sum()
    return num / m.groupby("date")["w"].sum()


def run(params_path: str, interim: str, canonical: str, out: str, system_dir: str, quality: str) -> None:
    params = load_params(params_path)
    config = SpilloverParams.from_mapping(group(params, "measures.spillover"), where="measures.spillover")
    losses, sys_loss, weights = load_losses(interim, STAGE)
    states = load_states(Path(canonical) / "market_states.parquet", config.states, "measures.spillover.states")
    records = state_gap_records(states, STAGE)
    usable = pd.concat([sys_loss, states], axis=1, join="inner").dropna().index
    keep = []
    for bank in losses.columns:
        used = losses[bank].dropna().index.intersection(usable)
        if used.size < config.window:
            records.append(QualityRecord(
                stage=STAGE, table="returns", bank_id=bank,
                date_start=used[0] if used.size else None, date_end=used[-1] if used.size else None,
                n_rows=int(used.size), action="excluded", reason="too_few_observations",
                detail=f"{used.size} usable day(s) < measures.spillover.window={config.window}: no spillover for this bank"))
            continue
        rec = bank_gap_record(STAGE, bank, losses[bank], used)
        if rec is not None:
            records.append(rec)
        keep.append(bank)
    if not keep:
        write_quality(records, quality, STAGE)
        raise ValueError(f"{STAGE}: no bank has {config.window} usable days (see {quality}/{STAGE}.parquet)")
    res = estimate_market_spillover(losses[keep], sys_loss, states, weights[keep].fillna(0.0), config.science())

    banks = res.banks
    if config.traditional == "lagged":  # METHODS §1.3: the traditional index uses §1.1's ΔCoVaR
        lag = lagged_delta_covar(losses[keep], sys_loss, states, config)
        failed_lag = lag[lag["status"].astype(str).str.startswith("failed")]
        for (bank, st), g in failed_lag.groupby(["bank_id", "status"], sort=True):
            records.append(QualityRecord(
                stage=STAGE, table="returns", bank_id=str(bank), date_start=g["date"].min(), date_end=g["date"].max(),
                n_rows=len(g), action="masked", reason="fit_failed",
                detail=f"{len(g)} lagged-state ΔCoVaR window(s) with status {st}: delta_covar missing, out of the traditional index"))
        lag.loc[failed_lag.index, "delta_covar"] = np.nan
        banks = banks.drop(columns=["delta_covar"]).merge(lag.drop(columns=["status"]), on=["bank_id", "date"], how="left")
        w = weights[keep].fillna(0.0)
        system = res.system.set_index("date")
        system["traditional_index"] = weighted_index(banks, w, "delta_covar").reindex(system.index)
        res = dataclasses.replace(res, system=system.reset_index())
    for (bank, st), g in banks[banks["status"] != "ok"].groupby(["bank_id", "status"], sort=True):
        parsed = FitStatus.parse(str(st))
        records.append(QualityRecord(
            stage=STAGE, table="returns", bank_id=str(bank), date_start=g["date"].min(), date_end=g["date"].max(),
            n_rows=len(g), action="flagged" if not parsed.failed else "excluded",
            reason="fit_failed" if parsed.failed else "fit_warning",
            detail=f"{len(g)} window(s) with status {st}" + (" (left out of the indices)" if parsed.failed else "")))

    per_bank = res.channels.rename(columns=CHANNELS).merge(banks, on=["date", "bank_id"], how="left")
    per_bank = tidy_dates(per_bank[BANK_COLUMNS], "date")
    check_identity(per_bank)

    markets = res.markets.rename(columns=CHANNELS)
    wide = markets.pivot(index="date", columns="market", values="spillover")
    wide = wide[[m for m in states.columns if m in wide.columns]]
    wide.columns = [f"spill_{m}" for m in wide.columns]
    index = res.system.set_index("date").join(wide, how="left").reset_index()
    index["n_banks"] = index["n_banks"].astype("int64")
    index = tidy_dates(index, "date")
    channels = tidy_dates(markets[["date", "market", "spillover", "delta_m", "c", "gamma", "beta", "n_banks"]], "date")
    channels["n_banks"] = channels["n_banks"].astype("int64")

    system_dir = Path(system_dir)
    write_parquet(per_bank, out, key=["bank_id", "date", "market"])
    write_parquet(index, system_dir / "spillover_index.parquet", key=["date"])
    write_parquet(weekly_last(index, "date") if len(index) else index, system_dir / "spillover_index_weekly.parquet", key=["date"])
    write_parquet(channels, system_dir / "spillover_channels.parquet", key=["date", "market"])
    write_quality(records, quality, STAGE)
    check_failure_budget(banks["status"].astype(str).tolist(), config.max_failure_share, what=f"{STAGE} bank windows")


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--interim", default="data/interim", help="folder with returns.parquet and system_returns.parquet")
    p.add_argument("--canonical", default="data/interim/canonical", help="folder with market_states.parquet")
    p.add_argument("--out", default="data/processed/measures/spillover.parquet")
    p.add_argument("--system", default="data/processed/system", help="folder of the system-level outputs")
    args = p.parse_args(argv)
    run(args.params, args.interim, args.canonical, args.out, args.system, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
