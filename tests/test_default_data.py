"""The backbone artifacts on the embedded default data (the ``default_data_dir`` fixture)."""

from __future__ import annotations

from conftest import repo_params, run_stage

from pipeline.io import read_parquet, read_provenance


def test_default_returns_cover_sixteen_banks_and_the_whole_period(default_data_dir):
    rets = read_parquet(default_data_dir / "interim" / "returns.parquet")
    system = read_parquet(default_data_dir / "interim" / "system_returns.parquet")
    assert rets["bank_id"].nunique() == 16
    assert str(system["date"].min().date()) == "2007-10-15" and str(system["date"].max().date()) == "2020-12-31"
    # weights are market-value shares: they sum to one on every date
    sums = rets.groupby("date")["weight"].sum()
    assert (sums.sub(1.0).abs() < 1e-12).all()
    q = read_parquet(default_data_dir / "processed" / "quality" / "returns.parquet")
    assert set(q["reason"]) == {"suspension"}  # the simulator plants suspensions only


def test_ingest_and_returns_at_64_simulated_banks(tmp_path):
    """``data.n_banks: 64``: the canonical tables and returns cover 64 banks in the 16-bank group
    proportions, provenance records the size, the planted suspensions (2P..3P, P = 4 pairs) are recorded."""
    params = repo_params(data={"n_banks": 64})
    run_stage(tmp_path, "ingest", params)
    run_stage(tmp_path, "returns", params)
    data = tmp_path / "data"
    banks = read_parquet(data / "interim" / "canonical" / "banks.parquet")
    assert banks["group"].value_counts().to_dict() == {"joint-stock": 32, "state-owned": 20, "city": 12}
    assert read_provenance(data / "interim" / "canonical" / "prices.parquet")["data_source"]["n_banks"] == 64
    assert read_parquet(data / "interim" / "returns.parquet")["bank_id"].nunique() == 64
    q = read_parquet(data / "processed" / "quality" / "returns.parquet")
    assert set(q["reason"]) == {"suspension"} and 8 <= q["bank_id"].nunique() <= 12
