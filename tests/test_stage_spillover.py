"""Stage spillover: market-spillover ΔCoVaR, channels and indices on the default data; report section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_not_estimable, copy_root, repo_params, run_stage

from measures.core.config import ConfigError
from measures.covar_qr import CoVaRConfig, estimate_delta_covar
from measures.spillover import BANK_COLUMNS, SpilloverConfig
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet
from pipeline.report.core import ReportContext, render_report
from pipeline.report.sections import spillover as section
from pipeline.stage import load_stage

INPUTS = ("prices", "returns", "system_returns")
OUTPUTS = ("spillover", "spillover_banks", "spillover_index", "spillover_index_weekly", "spillover_channels",
           "quality/spillover")
MARKETS = ["real_estate", "stock_vol", "money", "bond", "fx"]
REPORT = {"title": "t", "episodes": [
    {"name": "2008Q3-Q4 global financial crisis", "start": "2008-07-01", "end": "2008-12-31"},
    {"name": "2013Q2 money-market squeeze", "start": "2013-04-01", "end": "2013-06-30"}]}


def out(root: Path, name: str) -> Path:
    return root / artifact(name).path


def read(root: Path, name: str) -> pd.DataFrame:
    return read_parquet(out(root, name))


@pytest.fixture(scope="module")
def default_run(default_root, tmp_path_factory) -> Path:
    root = copy_root(default_root, tmp_path_factory.mktemp("spill"), *INPUTS)
    run_stage(root, "spillover")
    return root


def test_params_group_is_the_science_config_with_the_same_defaults() -> None:
    assert load_stage("spillover").params == {"measures.spillover": SpilloverConfig}
    group = repo_params()["measures"]["spillover"]
    assert SpilloverConfig.from_mapping(group, where="measures.spillover") == SpilloverConfig()
    assert set(group) == set(SpilloverConfig().to_dict())


def test_artifacts_identity_and_indices(default_run, default_data_dir):
    b = read(default_run, "spillover")
    assert list(b.columns) == BANK_COLUMNS
    assert not b.duplicated(["bank_id", "date", "market"]).any()
    assert set(b["market"]) == set(MARKETS) and (b["status"] == "ok").all()
    rhs = b["delta_m"] * (b["gamma"] + b["beta"] * b["c"])
    assert np.max(np.abs(b["spillover"] - rhs) / (1 + np.abs(rhs))) <= 1e-12
    # one ΔCoVaR^M per bank and date (repeated over markets): what contagion.series spillover reads
    per_day = b.groupby(["bank_id", "date"])["delta_covar_m"]
    assert per_day.nunique().max() == 1
    wide = per_day.first().unstack("bank_id")
    assert wide.shape[1] == 16 and len(wide) > 3000
    idx = read(default_run, "spillover_index")
    assert list(idx.columns) == ["date", "improved_index", "traditional_index", "n_banks", *[f"spill_{m}" for m in MARKETS]]
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
    weekly = read(default_run, "spillover_index_weekly")
    per_week = idx.groupby(idx["date"].dt.to_period("W-FRI")).tail(1)
    assert list(weekly["date"]) == list(per_week["date"])
    summary = read(default_run, "spillover_banks")
    assert list(summary["bank_id"]) == sorted(set(b["bank_id"])) and summary["n_windows"].dtype == "int64"
    ok = b[b.status == "ok"].drop_duplicates(["bank_id", "date"])
    assert np.array_equal(summary["delta_covar_m_mean"], ok.groupby("bank_id")["delta_covar_m"].mean())
    ch = read(default_run, "spillover_channels")
    assert list(ch.columns) == ["date", "market", "spillover", "delta_m", "c", "gamma", "beta", "n_banks"]
    assert ch["n_banks"].dtype == "int64" and idx["n_banks"].dtype == "int64"


def test_traditional_index_is_the_weighted_lagged_state_delta_covar(default_run, default_data_dir):
    """Default traditional ΔCoVaR: Adrian–Brunnermeier's (states lagged 1 day) on the same 120-day windows."""
    rets = read_parquet(default_data_dir / "interim" / "returns.parquet")
    system = read_parquet(default_data_dir / "interim" / "system_returns.parquet").set_index("date")["loss"]
    states = read_parquet(default_data_dir / "interim" / "canonical" / "market_states.parquet").set_index("date")
    b = read(default_run, "spillover")
    bank = "CCB01"
    loss = rets[rets.bank_id == bank].set_index("date")["loss"]
    values, _ = estimate_delta_covar(loss, system, states, CoVaRConfig(q=0.95, estimation="rolling", window=120, lag=1))
    got = b[(b.bank_id == bank) & (b.market == "bond")].set_index("date")["delta_covar"]
    want = values.set_index("date")["delta_covar"].reindex(got.index)
    assert np.allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-15, equal_nan=True)
    assert got.notna().mean() > 0.99


def test_subset_of_markets_same_window_traditional_and_determinism(default_root, tmp_path):
    over = {"measures.spillover": {"states": ["money", "bond"], "window": 250, "step": 10, "traditional": "same_window"}}
    roots = [copy_root(default_root, tmp_path / name, *INPUTS) for name in ("a", "b")]
    for root in roots:
        run_stage(root, "spillover", **over)
    for name in OUTPUTS:
        assert out(roots[0], name).read_bytes() == out(roots[1], name).read_bytes(), name
    idx = read(roots[0], "spillover_index")
    assert [c for c in idx.columns if c.startswith("spill_")] == ["spill_money", "spill_bond"]
    # same_window: ΔCoVaR = β (VaR_q − VaR_50) at the day's states from the spillover fits themselves
    assert read(roots[0], "spillover")["delta_covar"].notna().all()


def test_bad_option_and_too_short_data_raise(stage_root):
    with pytest.raises(ConfigError, match=r"measures.spillover: traditional='both' is not allowed; allowed values: 'lagged', 'same_window'"):
        run_stage(stage_root, "spillover", **{"measures.spillover": {"traditional": "both"}})
    with pytest.raises(ConfigError, match=r"measures.spillover.states: state variable\(s\) \['vix'\] not in market_states"):
        run_stage(stage_root, "spillover", **{"measures.spillover": {"states": ["vix"]}})
    assert_not_estimable(run_stage(stage_root, "spillover", **{"measures.spillover": {"window": 5000}}), "no bank has 5000 usable days")
    q = read(stage_root, "quality/spillover")
    assert (q.loc[q.table == "returns", "reason"] == "too_few_observations").sum() == 16


def test_report_section_builds_with_both_stages(default_run):
    run_stage(default_run, "covar_qr")
    ctx = ReportContext.open(default_run, REPORT)
    sec = section.build(ctx)
    # 5 blocks, and the paper's figure 2, table 2, figures 5-6 and table 3 (tests/test_seed_figures.py)
    assert sec is not None and sec.id == "spillover" and len(sec.blocks) == 9
    assert set(sec.metrics["mean_spillover_pct"]) == set(MARKETS)
    assert sec.metrics["covar_qr_non_ok_rows"] == 0 and sec.metrics["top_bank"]
    assert list(sec.plots["episodes"]["episode"]) == [e["name"] for e in REPORT["episodes"]]
    html = render_report(ctx, [sec])
    assert "Improved index" in html and "connectedness" in html
    assert section.build(ReportContext.open(default_run.parent / "nothing", REPORT)) is None


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_improved_index_rises_in_2008q3_and_2013(tmp_path, shared_data):
    """Both stages on cn-banks with the four available markets (docs/covar.md, "Real data")."""
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
    params = repo_params(data=None)
    params["data"] = data
    params["measures"]["returns"] = {"system": "sample", "suspensions": "mask", "suspension_min_run": 5,
                                     "drop_non_trading_days": True}
    for stage in ("ingest", "returns", "covar_qr", "spillover"):
        run_stage(tmp_path, stage, params=params)
    cq = read(tmp_path, "covar_qr")
    assert cq["bank_id"].nunique() == 16 and (cq["status"] == "ok").all()
    idx = read(tmp_path, "spillover_index").set_index("date")
    assert idx.index.max() == pd.Timestamp("2015-01-13")  # 2015Q2 is out of sample
    assert [c for c in idx.columns if c.startswith("spill_")] == ["spill_stock_vol", "spill_money", "spill_bond", "spill_fx"]
    qm = idx[["improved_index", "traditional_index"]].resample("QE").mean()
    imp, trad = qm["improved_index"], qm["traditional_index"]
    assert imp["2008-09-30"] > 1.3 * imp["2008-06-30"]  # 2008Q3 rise (4.7 % vs 3.4 %)
    assert imp["2013-06-30"] > 1.3 * imp["2013-03-31"] and imp["2013-09-30"] > 2 * imp["2013-03-31"]
    # the traditional index stays flatter in 2013 (Fang–Chen–Yang 2018)
    assert trad["2013"].max() / trad["2013"].min() < 0.6 * imp["2013"].max() / imp["2013"].min()
    sec = section.build(ReportContext.open(tmp_path, REPORT))
    assert sec is not None and sec.metrics["mean_spillover_pct"]["stock_vol"] > 0


# ---------------------------------------------------------------- bad inputs, optional tables, check


def _states(root: Path) -> Path:
    return root / artifact("market_states").path


def test_bad_input_constant_market_names_the_column(stage_root):
    states = read_parquet(_states(stage_root))
    states["money"] = 0.25
    write_parquet(states, _states(stage_root))
    with pytest.raises(ConfigError, match=r"^measures.spillover.states: market_states column 'money' is constant \(0.25\) "
                                          r"over .*drop it from measures.spillover.states"):
        run_stage(stage_root, "spillover")


def test_bad_input_no_market_states_is_not_estimable(stage_root):
    _states(stage_root).unlink()
    assert_not_estimable(run_stage(stage_root, "spillover"), "no market_states table")
    assert all(read(stage_root, name).empty for name in OUTPUTS[:-1])


@pytest.mark.parametrize(("override", "match"), [
    ({"windw": 100}, r"^measures.spillover: unknown option\(s\) windw"),
    ({"window": 3}, r"^measures.spillover: window=3 is out of range"),
])
def test_bad_input_params_carry_the_group_prefix(stage_root, override, match):
    with pytest.raises(ConfigError, match=match):
        run_stage(stage_root, "spillover", **{"measures.spillover": override})


def test_check_lines_on_the_default_tables(default_data_dir):
    from pipeline.schema import CanonicalData

    canonical = default_data_dir / "interim" / "canonical"
    tables = {name: read_parquet(canonical / f"{name}.parquet") for name in ("banks", "prices", "market_states")}
    stage = load_stage("spillover")
    lines = stage.check(CanonicalData(**tables), {"measures.spillover": SpilloverConfig()})
    assert lines[0] == ("estimates", f"market spillover: state variables {', '.join(MARKETS)}")
    assert lines[1][0] == "estimates" and "for 16 bank(s)" in lines[1][1] and len(lines) == 2
    tables["market_states"] = tables["market_states"].assign(fx=np.nan)
    lines = stage.check(CanonicalData(**tables), {"measures.spillover": SpilloverConfig()})
    assert lines == [("cannot", "market spillover: market_states column 'fx' has no value (every row is missing); "
                                "drop it from measures.spillover.states")]
    del tables["market_states"]
    assert stage.check(CanonicalData(**tables), {"measures.spillover": SpilloverConfig()})[0][0] == "cannot"
