"""ΔCoVaR by DCC-GARCH: one bivariate DCC(1,1)-GARCH per bank with the system (METHODS §2).

Reads ``data/interim/returns.parquet`` and ``data/interim/system_returns.parquet``; writes
``data/processed/measures/covar_dcc.parquet`` (bank_id, date: sigma_bank, sigma_sys, rho,
delta_covar, status), ``data/processed/estimates/covar_dcc.parquet`` (bank_id, window_end,
term: estimate, std_error, status) and ``data/processed/quality/covar_dcc.parquet``.
The science is :func:`measures.dcc.fit_dcc_bivariate` and :func:`measures.systemic.covar_dcc_frame`.

Each bank's pair sample is the set of days on which both the bank's and the system's return
exist (``missing: drop``; days masked by the returns stage, e.g. suspensions, are left out and
recorded), or the bank's whole span (``missing: fail``: a missing value inside fails the bank).
A fit that failed keeps its rows with NaN values and a ``failed:`` status; warnings are kept
and flagged. :func:`fit_banks` is shared with the ``mes_srisk`` stage, so both stages use the
same fits for the same parameters.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.core.status import FitStatus, check_failure_budget
from measures.dcc import DCCConfig, DCCResult, fit_dcc_bivariate
from measures.systemic import covar_dcc_frame
from pipeline.io import read_parquet, write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.stages.common import parser, write_quality

STAGE = "covar_dcc"
SYSTEM = "__system__"
MISSING = ("drop", "fail")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CovarDCCParams(Config):
    """``measures.covar_dcc`` (docs/parameters.md): the DCC-GARCH specification and ΔCoVaR options."""

    vol: str = "gjr"
    dist: str = "normal"
    mean: str = "constant"
    std_errors: str = "sandwich"
    min_obs: int = 250
    max_persistence: float = 0.9999
    q: float = 0.95
    missing: str = "drop"
    max_failure_share: float = 0.5

    def validate(self) -> None:
        self.dcc_config()  # validates the DCC keys with the engine's own checks
        check_range("measures.covar_dcc.q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        check_choice("measures.covar_dcc.missing", self.missing, MISSING)
        check_range("measures.covar_dcc.max_failure_share", self.max_failure_share, low=0.0, high=1.0)

    def dcc_config(self) -> DCCConfig:
        return DCCConfig(
            vol=self.vol,
            dist=self.dist,
            mean=self.mean,
            std_errors=self.std_errors,
            min_obs=self.min_obs,
            max_persistence=self.max_persistence,
        )


def load_returns(interim: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """Wide bank returns (dates x bank_id) and the system return on the same dates."""
    rets = read_parquet(Path(interim) / "returns.parquet")
    system = read_parquet(Path(interim) / "system_returns.parquet")
    for name, frame, cols in (("returns", rets, ("bank_id", "date", "ret")), ("system_returns", system, ("date", "ret"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{STAGE}: interim/{name}.parquet lacks column(s) {missing}; rerun the returns stage")
    wide = rets.pivot(index="date", columns="bank_id", values="ret").sort_index()
    wide.columns = [str(c) for c in wide.columns]
    dates = wide.index.union(pd.DatetimeIndex(system["date"]))
    wide = wide.reindex(dates)
    sys_ret = system.set_index("date")["ret"].astype(float).reindex(dates).rename(SYSTEM)
    return wide, sys_ret


def _samples(wide: pd.DataFrame, sys_ret: pd.Series, missing: str) -> tuple[dict[str, pd.Index], list[QualityRecord]]:
    """Each bank's pair sample (dates) and the quality records of the days left out."""
    samples: dict[str, pd.Index] = {}
    records: list[QualityRecord] = []
    sys_ok = sys_ret.notna().to_numpy()
    for bank in wide.columns:
        bank_ok = wide[bank].notna().to_numpy()
        both = np.flatnonzero(bank_ok & sys_ok)
        if both.size == 0:
            samples[bank] = wide.index[:0]
            continue
        span = np.arange(both[0], both[-1] + 1)
        if missing == "fail":
            samples[bank] = wide.index[span]
            continue
        keep = span[bank_ok[span] & sys_ok[span]]
        dropped = np.setdiff1d(span, keep)
        samples[bank] = wide.index[keep]
        if dropped.size:
            records.append(
                QualityRecord(
                    stage=STAGE, table="returns", bank_id=bank,
                    date_start=wide.index[dropped[0]], date_end=wide.index[dropped[-1]], n_rows=int(dropped.size),
                    action="excluded", reason="missing_return",
                    detail=(f"{dropped.size} day(s) inside the bank's span without a bank or system return "
                            "(masked suspensions, missing prices) left out of the DCC sample (missing: drop)"),
                )
            )
    return samples, records


def fit_banks(
    wide: pd.DataFrame, sys_ret: pd.Series, config: CovarDCCParams
) -> tuple[dict[str, DCCResult], list[QualityRecord]]:
    """Bivariate DCC fits per bank; banks with the same pair sample share the system's first step."""
    samples, records = _samples(wide, sys_ret, config.missing)
    by_sample: dict[tuple, list[str]] = {}
    for bank, dates in samples.items():
        by_sample.setdefault(tuple(dates.asi8), []).append(bank)
    results: dict[str, DCCResult] = {}
    for key, banks in by_sample.items():
        dates = pd.DatetimeIndex(np.asarray(key, dtype="datetime64[ns]"))
        if dates.size == 0:
            dates = wide.index[:0]
        fits = fit_dcc_bivariate(sys_ret.loc[dates], wide.loc[dates, banks], config=config.dcc_config())
        results.update(fits)
    results = {bank: results[bank] for bank in sorted(results)}
    for bank, res in results.items():
        status = FitStatus.parse(res.status)
        if status.ok:
            continue
        records.append(
            QualityRecord(
                stage=STAGE, table="returns", bank_id=bank,
                date_start=res.index[0] if res.nobs else None, date_end=res.index[-1] if res.nobs else None,
                n_rows=res.nobs, action="flagged", reason="fit_failed" if status.failed else "fit_warning",
                detail=f"bivariate DCC-GARCH with the system: {res.status}",
            )
        )
    return results, records


def estimates_frame(results: Mapping[str, DCCResult]) -> pd.DataFrame:
    """Long table ``bank_id, window_end, term, estimate, std_error, status`` of every fit.

    Terms: ``sys_<p>`` and ``bank_<p>`` for the univariate parameters (``mu``, ``omega``,
    ``alpha``, ``gamma``, ``beta``, ``nu``; decimal units), ``dcc_a``, ``dcc_b``, and the
    fit's ``loglik`` and ``nobs`` (no standard error). ``window_end`` is the last date of the
    fitted sample (one full-sample fit per bank).
    """
    rows: list[tuple[Any, ...]] = []
    for bank, res in results.items():
        end = res.index[-1] if res.nobs else pd.NaT
        for prefix, fit in zip(("sys", "bank"), res.univariate):
            for term, est, se in zip(fit.param_names, fit.params, fit.std_errors):
                rows.append((bank, end, f"{prefix}_{term}", float(est), float(se), fit.status))
        for term, est, se in zip(("dcc_a", "dcc_b"), (res.a, res.b), res.std_errors):
            rows.append((bank, end, term, float(est), float(se), res.status))
        rows.append((bank, end, "loglik", float(res.loglik), np.nan, res.status))
        rows.append((bank, end, "nobs", float(res.nobs), np.nan, res.status))
    frame = pd.DataFrame(rows, columns=["bank_id", "window_end", "term", "estimate", "std_error", "status"])
    frame["window_end"] = pd.to_datetime(frame["window_end"]).astype("datetime64[ns]")
    frame["bank_id"] = frame["bank_id"].astype(object)
    frame["term"] = frame["term"].astype(object)
    frame["status"] = frame["status"].astype(object)
    return frame


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["bank_id"] = frame["bank_id"].astype(object)
    frame["status"] = frame["status"].astype(object)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def run(params_path: str, interim: str, out: str, estimates: str, quality: str) -> None:
    params = load_params(params_path)
    config = CovarDCCParams.from_mapping(group(params, "measures.covar_dcc"), where="measures.covar_dcc")
    wide, sys_ret = load_returns(interim)
    results, records = fit_banks(wide, sys_ret, config)
    frame = _tidy(covar_dcc_frame(results, q=config.q))
    write_parquet(frame, out, key=["bank_id", "date"])
    write_parquet(estimates_frame(results), estimates, key=["bank_id", "window_end", "term"])
    write_quality(records, quality, STAGE)
    check_failure_budget([r.status for r in results.values()], config.max_failure_share, what=f"{STAGE} bank fits")


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--interim", default="data/interim", help="folder with returns.parquet and system_returns.parquet")
    p.add_argument("--out", default="data/processed/measures/covar_dcc.parquet")
    p.add_argument("--estimates", default="data/processed/estimates/covar_dcc.parquet")
    args = p.parse_args(argv)
    run(args.params, args.interim, args.out, args.estimates, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
