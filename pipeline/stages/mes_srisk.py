"""MES (historical and dynamic), LRMES, SRISK, SRISK% and aggregate SRISK (METHODS §3).

Reads ``data/interim/returns.parquet``, ``data/interim/system_returns.parquet`` and
``data/interim/canonical/balance_sheet.parquet`` (total_liabilities, publication_date; equity
optional); writes ``data/processed/measures/mes.parquet`` (bank_id, date: mes_hist, mes_dyn,
status), ``data/processed/measures/srisk.parquet`` (bank_id, date: beta, lrmes, srisk,
srisk_share, status), ``data/processed/system/srisk_total.parquet`` (date: srisk_total) and
``data/processed/quality/mes_srisk.parquet``.

The bivariate DCC-GARCH fits are those of the ``covar_dcc`` stage (same function, same
``measures.covar_dcc`` parameters, refitted here: about a second per 16 banks); the measure
options are ``measures.mes_srisk``. Book liabilities are carried forward from their
publication date, never backward, and count as missing once older than
``max_liability_age_days``. The science is :mod:`measures.systemic`.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from measures.core.config import check_choice, check_range
from measures.core.status import FitStatus
from measures.systemic import (
    SystemicRiskConfig,
    aggregate_srisk,
    carry_forward_liabilities,
    dcc_mes_frame,
    historical_mes,
    srisk,
    srisk_share,
    srisk_status,
)
from pipeline.io import read_parquet, write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.schema import require_columns
from pipeline.stages.common import parser, write_quality
from pipeline.stages.covar_dcc import CovarDCCParams, fit_banks, load_returns

STAGE = "mes_srisk"
SIMULATION_DATES = ("last", "year_end", "quarter_end")
_SEVERITY = {"ok": 0, "warning": 1, "failed": 2}


@dataclasses.dataclass(frozen=True, kw_only=True)
class MesSriskParams(SystemicRiskConfig):
    """``measures.mes_srisk`` (docs/parameters.md): the measures' options plus the stage's own."""

    simulation_dates: str = "last"
    max_liability_age_days: int | None = 550

    def validate(self) -> None:
        super().validate()
        check_choice("measures.mes_srisk.simulation_dates", self.simulation_dates, SIMULATION_DATES)
        if self.max_liability_age_days is not None:
            check_range("measures.mes_srisk.max_liability_age_days", self.max_liability_age_days, low=1, integer=True)

    def systemic_config(self) -> SystemicRiskConfig:
        """The options of the measures alone."""
        names = {f.name for f in dataclasses.fields(SystemicRiskConfig)}
        return SystemicRiskConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})


def _published(balance_sheet: pd.DataFrame, column: str) -> pd.DataFrame:
    """Wide frame (publication date x bank) of the last period published on each date."""
    rows = balance_sheet.dropna(subset=[column, "publication_date"]).sort_values(
        ["bank_id", "publication_date", "period_end"], kind="mergesort"
    )
    rows = rows.drop_duplicates(["bank_id", "publication_date"], keep="last")
    wide = rows.pivot(index="publication_date", columns="bank_id", values=column).sort_index()
    wide.columns = [str(c) for c in wide.columns]
    return wide.astype(float)


def daily_balance_sheet(
    balance_sheet: pd.DataFrame, dates: pd.DatetimeIndex, banks: list[str], max_age_days: int | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Daily liabilities, the age (days) of the value used, and book equity, carried forward.

    A value is used from its publication date on (never before); after ``max_age_days`` without
    a new publication it counts as missing (liabilities) or unknown (equity).
    """
    require_columns(balance_sheet, "balance_sheet", ["total_liabilities", "publication_date"], stage=STAGE)
    bs = balance_sheet.copy()
    bs["bank_id"] = bs["bank_id"].astype(str)
    bs["publication_date"] = pd.to_datetime(bs["publication_date"])
    liab_pub = _published(bs, "total_liabilities").reindex(columns=banks)
    liab = carry_forward_liabilities(liab_pub, dates)
    stamp = liab_pub.notna().mul(liab_pub.index.asi8.astype(float), axis=0).where(liab_pub.notna())
    published_on = carry_forward_liabilities(stamp, dates)
    now = pd.Series(np.asarray(dates.asi8, dtype=float), index=dates)
    age = published_on.rsub(now, axis=0) / 86400e9
    equity = None
    if "equity" in bs.columns and bs["equity"].notna().any():
        equity = carry_forward_liabilities(_published(bs, "equity").reindex(columns=banks), dates)
    if max_age_days is not None:
        stale = age > max_age_days
        liab = liab.mask(stale)
        if equity is not None:
            equity = equity.mask(stale)
    return liab, age, equity


def _worst(*statuses: str) -> str:
    return max(statuses, key=lambda s: _SEVERITY[FitStatus.parse(s).kind])


def _status_runs(frame: pd.DataFrame) -> list[QualityRecord]:
    """One quality record per bank and balance-sheet status class (days flagged)."""
    records = []
    bad = frame[frame["bs_status"] != "ok"]
    for (bank, status), g in bad.groupby(["bank_id", "bs_status"], sort=True):
        kind = FitStatus.parse(status)
        reason = {"MissingLiabilities": "missing_liabilities", "StaleLiabilities": "stale_liabilities",
                  "NonPositiveMarketCap": "non_positive_market_cap", "NegativeBookEquity": "negative_book_equity"}
        records.append(
            QualityRecord(
                stage=STAGE, table="balance_sheet", bank_id=str(bank),
                date_start=g["date"].min(), date_end=g["date"].max(), n_rows=len(g),
                action="flagged" if kind.kind == "warning" else "masked",
                reason=reason.get(kind.cls, kind.cls), detail=f"SRISK {'kept, ' if kind.kind == 'warning' else 'set missing, '}{status}",
            )
        )
    return records


def _simulation_dates(dates: pd.DatetimeIndex, how: str) -> list[pd.Timestamp] | None:
    if how == "last":
        return None
    freq = {"year_end": dates.year, "quarter_end": dates.year * 10 + dates.quarter}[how]
    last = pd.Series(dates, index=dates).groupby(np.asarray(freq)).max()
    return list(last)


def compute(
    wide: pd.DataFrame,
    sys_ret: pd.Series,
    market_cap: pd.DataFrame,
    balance_sheet: pd.DataFrame,
    dcc: CovarDCCParams,
    options: MesSriskParams,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[QualityRecord]]:
    """The three artifacts (mes, srisk, srisk_total) and the quality records, from in-memory inputs."""
    results, _ = fit_banks(wide, sys_ret, dcc)
    config = options.systemic_config()
    dyn = dcc_mes_frame(results, config=config, simulation_dates=_simulation_dates(wide.index, options.simulation_dates))
    dyn["date"] = pd.to_datetime(dyn["date"]).astype("datetime64[ns]")
    hist = []
    for bank, res in results.items():
        if res.nobs == 0:
            continue
        h = historical_mes(wide.loc[res.index, bank], sys_ret.loc[res.index], window=options.window, tail=options.tail)
        hist.append(pd.DataFrame({"bank_id": bank, "date": res.index, "mes_hist": h.to_numpy()}))
    hist_frame = pd.concat(hist, ignore_index=True) if hist else pd.DataFrame(columns=["bank_id", "date", "mes_hist"])
    merged = dyn.merge(hist_frame, on=["bank_id", "date"], how="left", validate="one_to_one")

    banks = sorted(results)
    dates = pd.DatetimeIndex(sorted(merged["date"].unique()))
    lr = merged.pivot(index="date", columns="bank_id", values="lrmes").reindex(index=dates, columns=banks)
    cap = market_cap.reindex(index=dates, columns=banks).astype(float)
    liab, age, equity = daily_balance_sheet(balance_sheet, dates, banks, options.max_liability_age_days)
    value = srisk(liab, cap, lr, k=options.k)
    share = srisk_share(value)
    total = aggregate_srisk(value).where(value.notna().any(axis=1))  # NaN, not 0, when no firm is measured
    bs_status = srisk_status(liab, cap, equity)
    if options.max_liability_age_days is not None:
        stale = (age > options.max_liability_age_days) & ~(cap.isna() | ~(cap > 0))
        msg = f"failed:StaleLiabilities: last published liabilities older than max_liability_age_days={options.max_liability_age_days}"
        bs_status = bs_status.mask(stale, msg)

    def long(frame: pd.DataFrame, name: str) -> pd.Series:
        return frame.stack(future_stack=True).rename(name)

    panel = pd.concat([long(value, "srisk"), long(share, "srisk_share"), long(bs_status, "bs_status")], axis=1)
    panel.index.names = ["date", "bank_id"]
    panel = panel.reset_index()
    merged = merged.merge(panel, on=["bank_id", "date"], how="left", validate="one_to_one")
    merged["fit_status"] = merged["status"]
    merged["status"] = [_worst(a, b) if isinstance(b, str) else a for a, b in zip(merged["status"], merged["bs_status"])]
    # rows the DCC could not produce keep NaN SRISK (srisk() already NaN there) and the fit status
    mes = merged[["bank_id", "date", "mes_hist", "mes_dyn", "fit_status"]].rename(columns={"fit_status": "status"})
    srisk_frame = merged[["bank_id", "date", "beta", "lrmes", "srisk", "srisk_share", "status"]].copy()
    total_frame = pd.DataFrame({"date": dates, "srisk_total": total.reindex(dates).to_numpy(dtype=float)})
    for frame in (mes, srisk_frame):
        frame["bank_id"] = frame["bank_id"].astype(object)
        frame["status"] = frame["status"].astype(object)
        for col in frame.columns.difference(["bank_id", "date", "status"]):
            frame[col] = frame[col].astype(float)
    return mes, srisk_frame, total_frame, _status_runs(merged)


def run(params_path: str, interim: str, canonical: str, measures_dir: str, system_dir: str, quality: str) -> None:
    params = load_params(params_path)
    dcc = CovarDCCParams.from_mapping(group(params, "measures.covar_dcc"), where="measures.covar_dcc")
    options = MesSriskParams.from_mapping(group(params, "measures.mes_srisk"), where="measures.mes_srisk")
    wide, sys_ret = load_returns(interim)
    rets = read_parquet(Path(interim) / "returns.parquet")
    require_columns(rets, "returns", ["market_cap"], stage=STAGE)
    market_cap = rets.pivot(index="date", columns="bank_id", values="market_cap")
    market_cap.columns = [str(c) for c in market_cap.columns]
    bs_path = Path(canonical) / "balance_sheet.parquet"
    if not bs_path.is_file():
        raise FileNotFoundError(f"stage {STAGE} needs the balance_sheet table ({bs_path}); the data source does not provide it")
    balance_sheet = read_parquet(bs_path)
    mes, srisk_frame, total, records = compute(wide, sys_ret, market_cap, balance_sheet, dcc, options)
    write_parquet(mes, Path(measures_dir) / "mes.parquet", key=["bank_id", "date"])
    write_parquet(srisk_frame, Path(measures_dir) / "srisk.parquet", key=["bank_id", "date"])
    write_parquet(total, Path(system_dir) / "srisk_total.parquet", key=["date"])
    write_quality(records, quality, STAGE)


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--interim", default="data/interim", help="folder with returns.parquet and system_returns.parquet")
    p.add_argument("--canonical", default="data/interim/canonical", help="folder with balance_sheet.parquet")
    p.add_argument("--measures", default="data/processed/measures", help="output folder of mes.parquet, srisk.parquet")
    p.add_argument("--system", default="data/processed/system", help="output folder of srisk_total.parquet")
    args = p.parse_args(argv)
    run(args.params, args.interim, args.canonical, args.measures, args.system, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
