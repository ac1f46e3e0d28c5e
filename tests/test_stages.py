"""Stage tests on tiny fixtures: ingest (files, canonical) → returns → report, through the runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_stage

from measures.core.config import ConfigError
from pipeline.io import read_parquet
from pipeline.schema import DataValidationError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "canonical"


def fixture_params(**data) -> dict:
    return {
        "data": {"source": "files", "format": "canonical", "raw_dir": str(FIXTURES), "start": None, "end": None, **data},
        "measures": {"returns": {"system": "index", "suspensions": "mask", "suspension_min_run": 5, "drop_non_trading_days": True}},
        "report": {"title": "fixture", "episodes": [{"name": "e", "start": "2020-01-02", "end": "2020-01-03"}]},
    }


def test_ingest_returns_report_on_canonical_fixture(tmp_path):
    params = fixture_params()
    data = tmp_path / "data"
    canonical, quality = data / "interim" / "canonical", data / "processed" / "quality"
    run_stage(tmp_path, "ingest", params)
    meta = json.loads((canonical / "meta.json").read_text())
    assert meta["tables"] == ["balance_sheet", "banks", "prices", "system"]
    prices = read_parquet(canonical / "prices.parquet")
    assert prices["market_cap"].iloc[0] == pytest.approx(1.5e8)  # [100m CNY] → yuan
    ingest_q = read_parquet(quality / "ingest.parquet")
    assert "ignored" in set(ingest_q["action"])  # the 'comment' column is recorded, not silently dropped
    run_stage(tmp_path, "returns", params)
    system = read_parquet(data / "interim" / "system_returns.parquet")
    assert system["ret"].iloc[0] == pytest.approx(0.0104457, abs=1e-6)  # log(1010.5/1000), index system
    run_stage(tmp_path, "report", params)
    html = (data / "report" / "index.html").read_text(encoding="utf-8")
    assert "fixture" in html and "Data quality" in html and "data:image/png;base64," in html
    assert f"files: format canonical, raw_dir {FIXTURES}" in html and "first date .. last date" in html
    metrics = json.loads((data / "report" / "metrics.json").read_text())
    assert metrics["sample"]["n_banks"] == 2


def test_ingest_refuses_an_unknown_source_value(tmp_path):
    with pytest.raises(ConfigError, match="data.source='bloomberg' is not allowed; allowed values: 'synthetic', 'files'"):
        run_stage(tmp_path, "ingest", fixture_params(source="bloomberg"))


def test_ingest_without_lag_refuses_balance_sheet_without_publication_date(tmp_path):
    with pytest.raises(DataValidationError, match="balance_sheet.csv.*bank 'AAA'.*without a publication date"):
        run_stage(tmp_path, "ingest", fixture_params(publication_lag_days=None))


def test_returns_stage_names_the_missing_index(tmp_path):
    params = fixture_params()
    run_stage(tmp_path, "ingest", params)
    (tmp_path / "data" / "interim" / "canonical" / "system.parquet").unlink()
    with pytest.raises(DataValidationError, match="stage returns needs the system table"):
        run_stage(tmp_path, "returns", params)
