"""The ingest and returns stages on the real datasets beside the repository.

us-financials (toolbox workbook): LEH exits at its last valid price (price 0 from
2008-09-16), FNMA/FMCC negative book equity is flagged, vendor-filled 1 January rows
are dropped — all visible in the quality output. cn-banks (Wind exports + raw series
for the market states): the 16 banks load and the returns stage runs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import cn_banks_data, us_financials_data, run_stage

from pipeline.io import read_parquet

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

RETURNS = {"system": "sample", "suspensions": "mask", "suspension_min_run": 5, "drop_non_trading_days": True}


def us_financials(shared_data: Path) -> dict:
    """``data`` params for the us-financials toolbox workbook."""
    return us_financials_data(shared_data)


def cn_banks(shared_data: Path) -> dict:
    """``data`` params for the cn-banks Wind exports (and raw series for the market states)."""
    return cn_banks_data(shared_data)


def run_stages(tmp_path: Path, data: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    params = {"data": data, "measures": {"returns": RETURNS}}
    run_stage(tmp_path, "ingest", params)
    run_stage(tmp_path, "returns", params)
    quality, interim = tmp_path / "data/processed/quality", tmp_path / "data/interim"
    q = pd.concat([read_parquet(quality / "ingest.parquet"), read_parquet(quality / "returns.parquet")], ignore_index=True)
    return read_parquet(interim / "returns.parquet"), read_parquet(interim / "system_returns.parquet"), q


def test_us_financials_quality_output_shows_exit_negative_equity_and_holidays(tmp_path, shared_data):
    rets, system, q = run_stages(tmp_path, us_financials(shared_data))
    exit_ = q[(q.reason == "delisted_or_failed")]
    assert list(exit_["bank_id"]) == ["LEH"]
    assert exit_.iloc[0]["date_start"] == pd.Timestamp("2008-09-16") and exit_.iloc[0]["action"] == "excluded"
    assert rets.loc[rets.bank_id == "LEH", "date"].max() < pd.Timestamp("2008-09-16")
    neg = set(q.loc[q.reason == "negative_book_equity", "bank_id"])
    assert {"FNMA", "FMCC"} <= neg
    holidays = q[q.reason == "non_trading_day"]
    assert pd.Timestamp("2002-01-01") in set(holidays["date_start"])
    assert pd.Timestamp("2002-01-01") not in set(system["date"])
    assert rets["bank_id"].nunique() == 20
    assert system["ret"].notna().mean() > 0.99


def test_cn_banks_load_through_wind_exports_and_run(tmp_path, shared_data):
    rets, system, q = run_stages(tmp_path, cn_banks(shared_data))
    assert rets["bank_id"].nunique() == 16
    assert q.loc[q.reason == "outside_sample_period", "n_rows"].sum() > 0
    assert system["ret"].abs().max() < 0.2
    canonical = tmp_path / "data/interim/canonical"
    states = read_parquet(canonical / "market_states.parquet")
    assert {"stock_vol", "money"} <= set(states.columns)
    bs = read_parquet(canonical / "balance_sheet.parquet")
    icbc = bs[(bs.bank_id == "601398.SH") & (bs.period_end == pd.Timestamp("2013-12-31"))]
    assert 0.10 < icbc["car"].iloc[0] < 0.16  # CAR as a fraction
    assert icbc["total_assets"].iloc[0] > 1e13  # yuan, not 10k yuan
    assert (bs["publication_date"] - bs["period_end"]).dt.days.eq(120).all()
