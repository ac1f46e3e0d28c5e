"""Stage spillover: market-spillover ΔCoVaR, channels and indices on the default data; report section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.io import read_parquet
from pipeline.report.core import ReportContext, render_report
from pipeline.report.sections import spillover as section
from pipeline.stages import covar_qr, spillover
from pipeline.stages.contagion import load_series

DEFAULTS = {"q": 0.95, "window": 120, "step": 1, "states": None, "traditional": "lagged", "max_failure_share": 0.5}
CQ = {"q": 0.95, "estimation": "full", "window": 250, "step": 1, "lag": 1, "states": None, "min_obs": 250,
      "max_failure_share": 0.5}
REPORT = {"title": "t", "episodes": [
    {"name": "2008Q3-Q4 global financial crisis", "start": "2008-07-01", "end": "2008-12-31"},
    {"name": "2013Q2 money-market squeeze", "start": "2013-04-01", "end": "2013-06-30"}]}


def run_stage(data: Path, out: Path, **over) -> Path:
    """Run the stage into ``out`` laid out like data/ (processed/measures, processed/system, processed/quality)."""
    out.mkdir(parents=True, exist_ok=True)
    params = out / "params.yaml"
    params.write_text(yaml.safe_dump({"measures": {"spillover": {**DEFAULTS, **over}}}), encoding="utf-8")
    spillover.run(str(params), str(data / "interim"), str(data / "interim" / "canonical"),
                  str(out / "processed" / "measures" / "spillover.parquet"), str(out / "processed" / "system"),
                  str(out / "processed" / "quality"))
    return out


@pytest.fixture(scope="module")
def default_run(default_data_dir, tmp_path_factory):
    return run_stage(default_data_dir, tmp_path_factory.mktemp("spill"))


def test_artifacts_identity_and_indices(default_run, default_data_dir):
    b = read_parquet(default_run / "processed" / "measures" / "spillover.parquet")
    assert list(b.columns) == spillover.BANK_COLUMNS
    assert not b.duplicated(["bank_id", "date", "market"]).any()
    markets = ["real_estate", "stock_vol", "money", "bond", "fx"]
    assert set(b["market"]) == set(markets) and (b["status"] == "ok").all()
    rhs = b["delta_m"] * (b["gamma"] + b["beta"] * b["c"])
    assert np.max(np.abs(b["spillover"] - rhs) / (1 + np.abs(rhs))) <= 1e-12
    # one ΔCoVaR^M per bank and date (repeated over markets)
    assert b.groupby(["bank_id", "date"])["delta_covar_m"].nunique().max() == 1
    idx = read_parquet(default_run / "processed" / "system" / "spillover_index.parquet")
    assert list(idx.columns) == ["date", "improved_index", "traditional_index", "n_banks", *[f"spill_{m}" for m in markets]]
    # the improved index is the previous-day market-value-weighted mean of the bank ΔCoVaR^M
    rets = read_parquet(default_data_dir / "interim" / "returns.parquet")
    day = idx["date"].iloc[500]
    w = rets[rets.date == day].set_index("bank_id")["weight"]
    bm = b[(b.date == day) & (b.market == "fx")].set_index("bank_id")["delta_covar_m"]
    assert np.isclose(idx["improved_index"].iloc[500], (bm * w.reindex(bm.index)).sum() / w.reindex(bm.index).sum(), rtol=1e-12)
    sk = b[(b.date == day) & (b.market == "money")].set_index("bank_id")["spillover"]
    assert np.isclose(idx["spill_money"].iloc[500], (sk * w.reindex(sk.index)).sum() / w.reindex(sk.index).sum(), rtol=1e-12)
    # first value after the first full 120-day window
    assert idx["date"].iloc[0] == sorted(set(rets["date"]))[119]
    weekly = read_parquet(default_run / "processed" / "system" / "spillover_index_weekly.parquet")
    per_week = idx.groupby(idx["date"].dt.to_period("W-FRI")).tail(1)
    assert list(weekly["date"]) == list(per_week["date"])
    ch = read_parquet(default_run / "processed" / "system" / "spillover_channels.parquet")
    assert list(ch.columns) == ["date", "market", "spillover", "delta_m", "c", "gamma", "beta", "n_banks"]


def test_spillover_artifact_is_a_contagion_input(default_run):
    frame, records = load_series(default_run / "processed" / "measures" / "spillover.parquet", "spillover")
    assert frame.shape[1] == 16 and len(frame) > 3000 and not records


def test_traditional_index_is_the_weighted_lagged_state_delta_covar(default_run, default_data_dir):
    """Default traditional index: METHODS §1.1 ΔCoVaR (states lagged 1 day) on the same 120-day windows."""
    from measures.covar_qr import CoVaRConfig, estimate_delta_covar

    rets = read_parquet(default_data_dir / "interim" / "returns.parquet")
    system = read_parquet(default_data_dir / "interim" / "system_returns.parquet").set_index("date")["loss"]
    states = read_parquet(default_data_dir / "interim" / "canonical" / "market_states.parquet").set_index("date")
    b = read_parquet(default_run / "processed" / "measures" / "spillover.parquet")
    bank = "CCB01"
    loss = rets[rets.bank_id == bank].set_index("date")["loss"]
    values, _ = estimate_delta_covar(loss, system, states, CoVaRConfig(q=0.95, window=120, lag=1))
    got = b[(b.bank_id == bank) & (b.market == "bond")].set_index("date")["delta_covar"]
    want = values.set_index("date")["delta_covar"].reindex(got.index)
    assert np.allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-15, equal_nan=True)
    assert got.notna().mean() > 0.99


def test_subset_of_markets_same_window_traditional_and_determinism(default_data_dir, tmp_path):
    over = {"states": ["money", "bond"], "window": 250, "step": 10, "traditional": "same_window"}
    a = run_stage(default_data_dir, tmp_path / "a", **over)
    b = run_stage(default_data_dir, tmp_path / "b", **over)
    files = ["measures/spillover.parquet", "system/spillover_index.parquet", "system/spillover_index_weekly.parquet",
             "system/spillover_channels.parquet", "quality/spillover.parquet"]
    for f in files:
        assert (a / "processed" / f).read_bytes() == (b / "processed" / f).read_bytes(), f
    idx = read_parquet(a / "processed" / "system" / "spillover_index.parquet")
    assert [c for c in idx.columns if c.startswith("spill_")] == ["spill_money", "spill_bond"]
    # same_window: ΔCoVaR = β (VaR_q − VaR_50) at the day's states from the spillover fits themselves
    per = read_parquet(a / "processed" / "measures" / "spillover.parquet")
    assert per["delta_covar"].notna().all()
    with pytest.raises(ValueError, match="traditional"):
        run_stage(default_data_dir, tmp_path / "c", traditional="both")


def test_identity_check_catches_a_broken_table():
    frame = pd.DataFrame({"delta_m": [1.0], "gamma": [0.1], "beta": [0.5], "c": [0.2], "spillover": [0.2 + 1e-9]})
    with pytest.raises(AssertionError, match="identity"):
        spillover.check_identity(frame)
    frame["spillover"] = 0.2
    assert spillover.check_identity(frame) <= 1e-12


def test_report_section_builds_with_both_stages(default_run, default_data_dir):
    params = default_run / "cq.yaml"
    params.write_text(yaml.safe_dump({"measures": {"covar_qr": CQ}}), encoding="utf-8")
    covar_qr.run(str(params), str(default_data_dir / "interim"), str(default_data_dir / "interim" / "canonical"),
                 str(default_run / "processed" / "measures" / "covar_qr.parquet"),
                 str(default_run / "processed" / "measures" / "covar_qr_weekly.parquet"),
                 str(default_run / "processed" / "estimates" / "covar_qr.parquet"), str(default_run / "processed" / "quality"))
    ctx = ReportContext.open(default_run.parent, REPORT)
    sec = section.build(ctx)
    assert sec is not None and sec.id == "spillover" and len(sec.blocks) == 5
    assert set(sec.metrics["mean_spillover_pct"]) == {"real_estate", "stock_vol", "money", "bond", "fx"}
    assert sec.metrics["covar_qr_non_ok_rows"] == 0 and sec.metrics["top_bank"]
    assert list(sec.plots["episodes"]["episode"]) == [e["name"] for e in REPORT["episodes"]]
    html = render_report(ctx, [sec])
    assert "Improved index" in html and "connectedness" in html
    assert section.build(ReportContext.open(default_run.parent / "nothing", REPORT)) is None


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_improved_index_rises_in_2008q3_and_2013(tmp_path, shared_data):
    """Both stages on cn-banks with the four available markets (docs/covar.md §5)."""
    from pipeline.stages import ingest, returns

    cn = shared_data / "cn-banks"
    data = {"source": "files", "format": "wind", "raw_dir": str(cn / "wind-exports"), "currency": "CNY",
            "start": "2007-01-01", "end": None, "publication_lag_days": 120, "market_states": [
                {"name": "stock_vol", "file": "../cn_csi300_cgb_yields_daily.csv", "column": "csi300_close",
                 "transform": "rolling_vol", "window": 20},
                {"name": "money", "file": "../cn_interbank_rates_daily.csv", "column": "shibor_1w_pct",
                 "fallback_column": "ibo007_pct", "unit": "%"},
                {"name": "bond", "file": "../cn_csi300_cgb_yields_daily.csv", "column": "cgb_10y_yield_pct",
                 "transform": "yield_change_loss", "duration": 8.5, "unit": "%"},
                {"name": "fx", "file": "../cn_usdcny_central_parity_monthly.csv",
                 "column": "usdcny_central_parity_monthly_avg", "date_column": "month", "transform": ["loss", "carry_forward"]}]}
    returns_params = {"system": "sample", "suspensions": "mask", "suspension_min_run": 5, "drop_non_trading_days": True}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": data, "measures": {"returns": returns_params, "covar_qr": CQ,
                                                                 "spillover": DEFAULTS}}), encoding="utf-8")
    d = tmp_path / "data"
    can, qual = d / "interim" / "canonical", d / "processed" / "quality"
    ingest.run(str(params), str(can), str(qual), root=str(tmp_path))
    returns.run(str(params), str(can), str(d / "interim"), str(qual))
    covar_qr.run(str(params), str(d / "interim"), str(can), str(d / "processed" / "measures" / "covar_qr.parquet"),
                 str(d / "processed" / "measures" / "covar_qr_weekly.parquet"),
                 str(d / "processed" / "estimates" / "covar_qr.parquet"), str(qual))
    spillover.run(str(params), str(d / "interim"), str(can), str(d / "processed" / "measures" / "spillover.parquet"),
                  str(d / "processed" / "system"), str(qual))
    cq = read_parquet(d / "processed" / "measures" / "covar_qr.parquet")
    assert cq["bank_id"].nunique() == 16 and (cq["status"] == "ok").all()
    idx = read_parquet(d / "processed" / "system" / "spillover_index.parquet").set_index("date")
    assert idx.index.max() == pd.Timestamp("2015-01-13")  # 2015Q2 is out of sample
    assert [c for c in idx.columns if c.startswith("spill_")] == ["spill_stock_vol", "spill_money", "spill_bond", "spill_fx"]
    qm = idx[["improved_index", "traditional_index"]].resample("QE").mean()
    imp, trad = qm["improved_index"], qm["traditional_index"]
    assert imp["2008-09-30"] > 1.3 * imp["2008-06-30"]  # 2008Q3 rise (4.7 % vs 3.4 %)
    assert imp["2013-06-30"] > 1.3 * imp["2013-03-31"] and imp["2013-09-30"] > 2 * imp["2013-03-31"]
    # the traditional index stays flatter in 2013 (seed 004)
    assert trad["2013"].max() / trad["2013"].min() < 0.6 * imp["2013"].max() / imp["2013"].min()
    sec = section.build(ReportContext.open(d.parent, REPORT))
    assert sec is not None and sec.metrics["mean_spillover_pct"]["stock_vol"] > 0
