"""The backbone artifacts on the embedded default data (the ``default_data_dir`` fixture)."""

from __future__ import annotations

from pipeline.io import read_parquet


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
