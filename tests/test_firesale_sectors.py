"""Sector correlations of the fire-sale shock estimated from industry index series (known truth, the
stage's ``stress.firesale.sector_indices``, bad inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_stage
from measures.core.config import ConfigError
from measures.stress.firesale_inputs import sector_correlations_from_indices
from measures.stress.firesale_years import FireSaleParams
from pipeline.artifacts import artifact
from pipeline.io import read_parquet
from pipeline.schema import DataValidationError
from pipeline.simulator.stress_banks import SECTOR_COLUMNS
from pipeline.stages.stress_firesale import read_sector_indices

GROUP = "stress.firesale"
SMALL = {"alpha": {"start": 0.05, "stop": 0.25, "step": 0.05}, "years": [2012, 2013]}


def indices(rho: dict[str, float], n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """Index levels whose daily log returns are Gaussian with corr(r_s, r_re) = rho[s] (sectors independent given re)."""
    rng = np.random.default_rng(seed)
    re = rng.standard_normal(n)
    cols = {"real_estate": re}
    for name, r in rho.items():
        cols[name] = r * re + np.sqrt(1 - r * r) * rng.standard_normal(n)
    returns = pd.DataFrame(cols, index=pd.bdate_range("2010-01-01", periods=n, name="date")) * 0.01
    return 100 * np.exp(returns.cumsum())


def test_known_correlations_are_recovered():
    truth = {"loans_construction": 0.9, "loans_mining": 0.3, "loans_finance": -0.2}
    got = sector_correlations_from_indices(indices(truth))
    assert list(got) == list(truth)
    for name, r in truth.items():
        assert abs(got[name] - r) < 4 * (1 - r * r) / np.sqrt(4000), (name, got[name])


def test_equals_the_pearson_correlation_of_losses_and_returns_mode():
    prices = indices({"loans_transport": 0.5}, n=300)
    prices.iloc[10, 1] = np.nan  # two returns of the sector are not observed
    losses = -np.log(prices).diff()
    both = losses.dropna()
    want = np.corrcoef(both["loans_transport"], both["real_estate"])[0, 1]
    got = sector_correlations_from_indices(prices)["loans_transport"]
    assert got == pytest.approx(want, rel=1e-12) and len(both) == 299 - 2
    returns = np.log(prices).diff().iloc[1:]
    assert sector_correlations_from_indices(returns, values="returns")["loans_transport"] == pytest.approx(got, rel=1e-12)


@pytest.fixture(scope="module")
def sector_file(tmp_path_factory) -> Path:
    truth = dict(zip(SECTOR_COLUMNS, np.linspace(0.3, 0.9, len(SECTOR_COLUMNS))))
    path = tmp_path_factory.mktemp("sectors") / "sectors.csv"
    frame = indices(truth, n=500).reset_index()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


def test_stage_uses_the_estimated_correlations(tmp_path, sector_file):
    estimated = sector_correlations_from_indices(read_sector_indices(str(sector_file)))
    a, b = tmp_path / "a", tmp_path / "b"
    run_stage(a, "stress_firesale", **{GROUP: {**SMALL, "sector_indices": {"file": str(sector_file)}}})
    run_stage(b, "stress_firesale", **{GROUP: {**SMALL, "sector_correlations": estimated}})
    for name in ("firesale", "firesale_banks"):
        pd.testing.assert_frame_equal(read_parquet(a / artifact(name).path), read_parquet(b / artifact(name).path))
    q = read_parquet(a / artifact("quality/stress_firesale").path)
    detail = q.loc[q.reason == "sector_correlations_estimated", "detail"]
    assert len(detail) == 1 and f"loans_construction {estimated['loans_construction']:.4f}" in detail.iloc[0]
    default = tmp_path / "c"
    run_stage(default, "stress_firesale", **{GROUP: SMALL})
    assert not read_parquet(default / artifact("firesale").path)["sr"].equals(read_parquet(a / artifact("firesale").path)["sr"])


def test_sector_file_is_a_dependency():
    from pipeline.stages.stress_firesale import STAGE

    cfg = FireSaleParams.from_mapping({"sector_indices": {"file": "data/raw/sectors.csv"}}, where=GROUP)
    assert STAGE.param_files({GROUP: cfg}) == ("data/raw/sectors.csv",)
    assert STAGE.param_files({GROUP: FireSaleParams()}) == ()


# ------------------------------------------------------------------ bad inputs


def test_bad_input_sector_indices_without_real_estate():
    with pytest.raises(ValueError, match="sector indices: no real-estate column 'real_estate'; columns: loans_mining"):
        sector_correlations_from_indices(indices({"loans_mining": 0.5}, n=100).drop(columns="real_estate"))


def test_bad_input_sector_indices_non_positive_price():
    prices = indices({"loans_mining": 0.5}, n=100)
    prices.iloc[5, 1] = 0.0
    with pytest.raises(ValueError, match="column 'loans_mining' has a non-positive price"):
        sector_correlations_from_indices(prices)


def test_bad_input_sector_indices_too_few_observations():
    with pytest.raises(ValueError, match="column 'loans_mining' has 49 losses observed together with 'real_estate'; at least 60"):
        sector_correlations_from_indices(indices({"loans_mining": 0.5}, n=50))


def test_bad_input_sector_indices_constant_series():
    prices = indices({"loans_mining": 0.5}, n=100).assign(loans_mining=100.0)
    with pytest.raises(ValueError, match="column 'loans_mining' or 'real_estate' is constant"):
        sector_correlations_from_indices(prices)


def test_bad_input_sector_indices_file(tmp_path):
    with pytest.raises(DataValidationError, match="sector_indices.file .*missing.csv.*file not found"):
        read_sector_indices(str(tmp_path / "missing.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("day,real_estate\n2020-01-01,1\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="column 'date': no date column"):
        read_sector_indices(str(bad))
    bad.write_text("date,real_estate\n2020-01-02,1\n2020-01-01,2\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="column 'date'.*row 2.*2020-01-01.*strictly increasing"):
        read_sector_indices(str(bad))
    bad.write_text("date,real_estate\n2020-01-01,1\n2020-01-02,n/a\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="column 'real_estate'.*row 2.*n/a.*not a number"):
        read_sector_indices(str(bad))


def test_bad_input_sector_indices_stage_message(tmp_path):
    path = tmp_path / "few.csv"
    indices({"loans_mining": 0.5}, n=20).reset_index().to_csv(path, index=False)
    with pytest.raises(DataValidationError, match=r"stress.firesale.sector_indices.file .*few.csv.*loans_mining.*at least 60"):
        run_stage(tmp_path / "root", "stress_firesale", **{GROUP: {**SMALL, "sector_indices": {"file": str(path)}}})


def test_bad_input_sector_indices_params():
    with pytest.raises(ConfigError, match=r"stress.firesale.sector_indices: values='levels' is not allowed"):
        FireSaleParams.from_mapping({"sector_indices": {"values": "levels"}}, where=GROUP)
