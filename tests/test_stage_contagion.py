"""The contagion stage through the runner: ΔCoVaR → Granger → PageRank CRW per year, DY connectedness, quality, report.

The covar_dcc artifact is built here from the backbone returns of the default data with the
project's science (``measures.dcc.fit_dcc_bivariate`` + ``measures.systemic.covar_dcc_frame``),
written to a private tree (the covar_dcc stage is tested on its own). Masked suspension days keep
their rows with a missing ``delta_covar``, as a ΔCoVaR stage would write them. Edge cases use tiny
hand-made artifacts. The science is tested in tests/test_contagion_chain.py, test_granger.py,
test_pagerank.py and test_connectedness.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import assert_not_estimable, repo_params, run_stage
from test_contagion_chain import planted
from measures.contagion import ConnectednessConfig, ContagionConfig
from measures.core.config import ConfigError
from measures.core.status import FailureBudgetExceeded
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet
from pipeline.report.core import ReportContext, render_report
from pipeline.report.sections import contagion as section
from pipeline.stage import StageInputError
from pipeline.stage import main as stage_main
from measures.contagion import ContagionParams
from pipeline.stages.contagion import STAGE

REPORT = {"title": "t", "episodes": [{"name": "GFC", "start": "2008-07-01", "end": "2008-12-31"}],
          "contagion": {"edge_threshold": 0.99, "layout": "circular", "layout_seed": 20071012}}
OUTPUTS = ("granger", "crw", "contagion_windows", "connectedness", "connectedness_directional")


def read(root: Path, name: str) -> pd.DataFrame:
    return read_parquet(root / artifact(name).path)


def contagion(root: Path, **overrides) -> Path:
    """Run the stage with params.yaml's ``contagion`` group updated by ``overrides``; returns ``root / data``."""
    run_stage(root, "contagion", **{"contagion": overrides})
    return root / "data"


@pytest.fixture(scope="module")
def dcc_artifact(default_data_dir) -> pd.DataFrame:
    from measures.dcc import fit_dcc_bivariate
    from measures.systemic import covar_dcc_frame

    rets = read_parquet(default_data_dir / "interim" / "returns.parquet")
    system = read_parquet(default_data_dir / "interim" / "system_returns.parquet")
    wide = rets.pivot(index="date", columns="bank_id", values="loss")
    sys_loss = system.set_index("date")["loss"].reindex(wide.index).rename("system")
    frame = covar_dcc_frame(fit_dcc_bivariate(sys_loss, wide.fillna(0.0)))  # GARCH needs gap-free series
    masked = wide.stack(future_stack=True)
    masked = masked[masked.isna()].index
    frame = frame.set_index(["date", "bank_id"])
    frame.loc[frame.index.isin(masked), "delta_covar"] = np.nan
    return frame.reset_index()[["bank_id", "date", "sigma_bank", "sigma_sys", "rho", "delta_covar", "status"]]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, dcc_artifact) -> Path:
    root = tmp_path_factory.mktemp("contagion_default")
    put(root, dcc_artifact)
    run_stage(root, "contagion")
    return root


def test_default_data_artifacts(default_run, dcc_artifact):
    out = {name: read(default_run, name) for name in OUTPUTS}
    crw, granger, windows = out["crw"], out["granger"], out["contagion_windows"]
    assert list(crw.columns) == ["bank_id", "year", "crw"]
    assert list(granger.columns) == ["year", "source", "target", "p_value", "lags", "weight", "q_value", "significant"]
    assert list(windows.columns) == ["year", "n_banks", "nobs", "lags", "aic", "bic", "hqic", "route", "status"]
    assert windows.route.eq("ols").all()  # 16 banks: least squares (route auto)
    # sorted by key, with the declared dtypes
    assert crw.equals(crw.sort_values(["bank_id", "year"], kind="mergesort", ignore_index=True))
    assert granger.equals(granger.sort_values(["year", "source", "target"], kind="mergesort", ignore_index=True))
    assert granger.dtypes[["year", "lags", "significant"]].astype(str).tolist() == ["int64", "int64", "bool"]
    # 2007 has ~55 trading days: every bank is below min_obs, the window fails and is recorded
    assert windows.year.tolist() == list(range(2007, 2021))
    assert windows.status.iloc[0].startswith("failed:ValueError: 0 bank(s) left")
    assert (windows.status.iloc[1:] == "ok").all() and (windows.n_banks.iloc[1:] == 16).all()
    np.testing.assert_allclose(crw.groupby("year").crw.sum(), 1.0, atol=1e-12)
    assert sorted(crw.year.unique()) == list(range(2008, 2021)) and crw.crw.between(0.01, 0.2).all()
    assert (granger.groupby("year").size() == 16 * 15).all()
    np.testing.assert_allclose(granger.weight, 1.0 - granger.p_value, atol=0)
    assert (granger.q_value >= granger.p_value - 1e-15).all()
    lags = granger.groupby("year").lags.first()
    assert (lags.to_numpy() == windows.set_index("year").loc[lags.index, "lags"].to_numpy()).all()
    conn, d = out["connectedness"], out["connectedness_directional"]
    assert conn.status.eq("ok").all() and conn.total.between(0, 100).all() and conn.n_banks.eq(16).all()
    assert conn.window_end.is_monotonic_increasing and conn.window_end.min() > dcc_artifact.date.min()
    np.testing.assert_allclose(d["to"] - d["from"], d["net"], atol=1e-9)
    np.testing.assert_allclose(d.groupby("year").net.sum(), 0.0, atol=1e-8)


def test_default_data_quality_records(default_run, dcc_artifact):
    q = read(default_run, "quality/contagion")
    # the robustness series of the panel's Table 3 (contagion.robustness_series) are absent here: recorded
    unavailable = q[q.reason == "robustness_series_unavailable"]
    assert sorted(unavailable.table) == ["covar_qr", "spillover"]
    q = q.drop(unavailable.index)
    assert set(q.stage) == {"contagion"} and set(q.table) == {"covar_dcc"}
    low = q[q.reason == "min_obs"]
    assert len(low) == 16 and (low.date_start.dt.year == 2007).all() and (low.n_rows < 120).all()
    failed = q[q.reason == "window_failed"]
    assert len(failed) == 1 and failed.bank_id.isna().all()
    missing = q[q.reason == "missing_value"]
    expected = dcc_artifact[dcc_artifact.delta_covar.isna()].groupby("bank_id").size()
    assert missing.set_index("bank_id").n_rows.to_dict() == expected.to_dict() and len(expected) > 0


def test_rerun_gives_identical_bytes(default_run, tmp_path, dcc_artifact):
    put(tmp_path, dcc_artifact)
    run_stage(tmp_path, "contagion")
    for name in (*OUTPUTS, "quality/contagion"):
        rel = artifact(name).path
        assert (default_run / rel).read_bytes() == (tmp_path / rel).read_bytes(), name


def test_report_section_builds_with_stable_figures(default_run):
    data = default_run / "data"
    ctx = ReportContext.open(default_run, REPORT)
    s = section.build(ctx)
    assert s is not None and s.id == "contagion"
    assert len(s.blocks) == 7  # networks, CRW table, top banks, stability, windows, DY total, net table
    assert s.metrics["crw_pct"]["2008"]["n_banks"] == 16
    assert s.metrics["crw_pct"]["2010"]["mean"] == pytest.approx(100 / 16)
    assert s.metrics["failed_windows"] == 1 and 0 < s.metrics["dy_total"]["mean"] < 100
    assert set(s.plots) == {"crw", "stability", "dy_total"} and len(s.plots["stability"]) == 12
    html = render_report(ctx, [s])
    assert "CRW per bank and year" in html and "Granger-causality networks per year" in html
    assert section.build(ReportContext.open(data.parent, REPORT)).blocks == s.blocks  # fixed layout seed: same bytes


def test_report_spring_layout_is_seeded(tmp_path):
    edges = pd.DataFrame({"source": ["a", "a", "b"], "target": ["b", "c", "c"]})
    banks = ["a", "b", "c", "d"]
    first = section._layout(edges, banks, "spring", 7)
    again = section._layout(edges, banks, "spring", 7)
    assert all(np.array_equal(first[b], again[b]) for b in banks)
    assert not np.allclose(first["a"], section._layout(edges, banks, "spring", 8)["a"])
    with pytest.raises(ConfigError, match="report.contagion: layout='grid' is not allowed"):
        ReportContext.open(tmp_path, {**REPORT, "contagion": {"layout": "grid"}})


def test_report_section_absent_without_artifacts(tmp_path):
    assert section.build(ReportContext.open(tmp_path, REPORT)) is None


# ---------------------------------------------------------------- tiny fixtures


def planted_artifact(n_banks: int = 5, years=(2010, 2011), seed: int = 3) -> pd.DataFrame:
    """A VAR(1) in which bank B0 drives every other bank strongly (known source)."""
    return planted(n_banks, years, seed)


def put(root: Path, frame: pd.DataFrame, name: str = "covar_dcc", key=("bank_id", "date")) -> None:
    write_parquet(frame, root / artifact(name).path, key=list(key))


def test_planted_source_status_filter_and_min_obs(tmp_path):
    art = planted_artifact()
    bad = (art.bank_id == "B3") & (art.date >= "2011-03-01") & (art.date < "2011-11-01")
    art.loc[bad, "status"] = "failed:ConvergenceError: no"
    art.loc[(art.bank_id == "B2") & (art.date == "2010-05-03"), "status"] = "warning:ConvergenceWarning"
    put(tmp_path, art)
    data = contagion(tmp_path)
    crw = read_parquet(data / "processed" / "contagion" / "crw.parquet")
    top = crw.loc[crw.groupby("year").crw.idxmax()]
    assert top.bank_id.tolist() == ["B0", "B0"]
    assert set(crw[crw.year == 2011].bank_id) == {"B0", "B1", "B2", "B4"}  # B3 below min_obs in 2011
    q = read_parquet(data / "processed" / "quality" / "contagion.parquet")
    fs = q[q.reason == "fit_status"]
    assert fs.bank_id.tolist() == ["B3"] and fs.n_rows.iloc[0] == bad.sum() and "ConvergenceError" in fs.detail.iloc[0]
    mo = q[q.reason == "min_obs"]
    assert mo.bank_id.tolist() == ["B3"] and mo.date_start.iloc[0] == pd.Timestamp("2011-01-03")
    assert mo.n_rows.iloc[0] == (art[(art.bank_id == "B3") & (art.date.dt.year == 2011)].shape[0] - bad.sum())
    granger = read_parquet(data / "processed" / "contagion" / "granger.parquet")
    sig = granger[granger.significant]
    assert {("B0", f"B{k}") for k in range(1, 5)} <= set(zip(sig.source, sig.target))


def test_target_direction_and_no_fdr(tmp_path):
    put(tmp_path, planted_artifact())
    source = read_parquet(contagion(tmp_path) / "processed" / "contagion" / "crw.parquet")
    data = contagion(tmp_path, direction="target", fdr_alpha=None)
    crw = read_parquet(data / "processed" / "contagion" / "crw.parquet")
    b0 = crw.bank_id == "B0"
    # plain PageRank ranks receivers; B0's uniform row of 1 - p is spread evenly over the leaves, so
    # "target" cannot single out any leaf (the normalization caveat of docs/contagion.md)
    assert (crw[b0].crw.to_numpy() < source[b0].crw.to_numpy() - 0.03).all()
    np.testing.assert_allclose(crw.groupby("year").crw.sum(), 1.0, atol=1e-12)
    granger = read_parquet(data / "processed" / "contagion" / "granger.parquet")
    assert list(granger.columns) == ["year", "source", "target", "p_value", "lags", "weight"]


def test_rolling_windows_key_by_window_end(tmp_path):
    put(tmp_path, planted_artifact())
    data = contagion(tmp_path, window="rolling", step=125)
    crw = read_parquet(data / "processed" / "contagion" / "crw.parquet")
    assert list(crw.columns) == ["bank_id", "window_end", "crw"]
    ends = sorted(crw.window_end.unique())
    assert len(ends) == 3 and np.allclose(crw.groupby("window_end").crw.sum(), 1.0)
    d = read_parquet(data / "processed" / "contagion" / "connectedness_directional.parquet")
    assert list(d.columns[:2]) == ["window_end", "bank_id"] and d.window_end.nunique() == 3
    s = section.build(ReportContext.open(data.parent, REPORT))
    assert sorted(s.plots["crw"].year.unique()) == [2010, 2011]  # last window of each year


def test_series_qr_and_spillover_inputs(tmp_path):
    art = planted_artifact(years=(2010,))
    put(tmp_path, art, "covar_qr")
    data = contagion(tmp_path, series="qr")
    qr = read_parquet(data / "processed" / "contagion" / "crw.parquet")
    # spillover: per-market rows summed per bank and date (no bank-level delta_covar column)
    markets = []
    for k, share in enumerate((0.25, 0.75)):
        m = art.rename(columns={"delta_covar": "spillover"}).assign(market=f"m{k}")
        m["spillover"] *= share
        markets.append(m)
    spill = pd.concat(markets, ignore_index=True)
    put(tmp_path, spill, "spillover", key=("bank_id", "date", "market"))
    data = contagion(tmp_path, series="spillover")
    sp = read_parquet(data / "processed" / "contagion" / "crw.parquet")
    assert sp.bank_id.tolist() == qr.bank_id.tolist()
    np.testing.assert_allclose(sp.crw, qr.crw, atol=1e-10)  # 0.25 x + 0.75 x = x
    # a failed status in one market excludes the bank's day (worst status over the markets)
    spill.loc[(spill.bank_id == "B1") & (spill.market == "m1") & (spill.date == "2010-06-01"), "status"] = "failed:X: y"
    put(tmp_path, spill, "spillover", key=("bank_id", "date", "market"))
    data = contagion(tmp_path, series="spillover")
    q = read_parquet(data / "processed" / "quality" / "contagion.parquet")
    assert q.loc[q.reason == "fit_status", ["bank_id", "n_rows"]].values.tolist() == [["B1", 1]]
    # with a bank-level delta_covar_m column (ΔCoVaR^M, eq. 5) it is taken as is, and must agree across markets;
    # a `delta_covar` column beside it (the traditional ΔCoVaR) is not used
    bank_level = art.rename(columns={"delta_covar": "delta_covar_m"}).assign(delta_covar=0.0)
    spill = pd.concat([bank_level.assign(market="m0"), bank_level.assign(market="m1")], ignore_index=True)
    put(tmp_path, spill, "spillover", key=("bank_id", "date", "market"))
    data = contagion(tmp_path, series="spillover")
    pd.testing.assert_frame_equal(read_parquet(data / "processed" / "contagion" / "crw.parquet"), qr)
    put(tmp_path, bank_level, "spillover")  # a bank-level artifact (no market column)
    data = contagion(tmp_path, series="spillover")
    pd.testing.assert_frame_equal(read_parquet(data / "processed" / "contagion" / "crw.parquet"), qr)
    spill.loc[0, "delta_covar_m"] += 1.0
    put(tmp_path, spill, "spillover", key=("bank_id", "date", "market"))
    assert_not_estimable(run_stage(tmp_path, "contagion", contagion=dict(series="spillover")), "delta_covar_m differs across markets for bank 'B0' on 2010-01-01")
    put(tmp_path, spill.drop(columns=["delta_covar_m"]), "spillover", key=("bank_id", "date", "market"))
    assert_not_estimable(run_stage(tmp_path, "contagion", contagion=dict(series="spillover")), "neither a 'delta_covar_m' nor a 'spillover' column")


def test_oversize_system_var_is_refused_and_pairwise_runs(tmp_path):
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2012-01-02", periods=60)
    long = pd.DataFrame([(f"B{k:02d}", d, rng.standard_normal(), "ok") for k in range(15) for d in dates],
                        columns=["bank_id", "date", "delta_covar", "status"])
    put(tmp_path, long)
    assert_not_estimable(run_stage(tmp_path, "contagion", contagion=dict(min_obs=50, max_lags=4, route="ols")),
                         r"year 2012: system VAR too large: N=15 series .*route='sparse'.*mode='pairwise'")
    data = contagion(tmp_path, min_obs=50, max_lags=4)  # route auto: the LASSO VAR
    assert read_parquet(data / "processed" / "contagion" / "windows.parquet").route.tolist() == ["sparse"]
    assert len(read_parquet(data / "processed" / "contagion" / "crw.parquet")) == 15
    data = contagion(tmp_path, min_obs=50, max_lags=4, mode="pairwise", route="ols",
                     connectedness={"horizon": 10, "window": 50, "step": 10, "lags": None})
    crw = read_parquet(data / "processed" / "contagion" / "crw.parquet")
    assert len(crw) == 15 and crw.crw.sum() == pytest.approx(1.0)
    d = read_parquet(data / "processed" / "contagion" / "connectedness_directional.parquet")
    q = read_parquet(data / "processed" / "quality" / "contagion.parquet")
    reasons = sorted(r for r in q.reason if r != "robustness_series_unavailable")  # Table 3's series, absent here
    assert d.empty and reasons == ["connectedness_failed"] * 3 + ["significant_edges", "var_route"]  # the OLS DY VARs are too large
    conn = read_parquet(data / "processed" / "contagion" / "connectedness.parquet")
    assert len(conn) == 2 and conn.status.str.startswith("failed:ValueError: system VAR too large").all()


def test_failure_budget(tmp_path):
    art = planted_artifact(years=(2010, 2011))
    art = art[~((art.date.dt.year == 2011) & (art.bank_id != "B0"))]
    put(tmp_path, art)
    with pytest.raises(FailureBudgetExceeded, match="1 of 2 fits failed"):
        contagion(tmp_path, max_failure_share=0.4)
    data = contagion(tmp_path)
    assert read_parquet(data / "processed" / "contagion" / "windows.parquet").status.str.startswith("failed").sum() == 1


@pytest.mark.parametrize(("override", "match"), [
    ({"series": "garch"}, "contagion: series='garch' is not allowed; allowed values: 'dcc', 'qr', 'spillover'"),
    ({"bogus": 1}, "contagion: unknown option.*bogus for ContagionParams; allowed options: .*connectedness.*series"),
    ({"direction": "up"}, "contagion: direction='up' is not allowed; allowed values: 'source', 'target'"),
    ({"min_obs": 1}, r"contagion: min_obs=1 is out of range"),
    ({"max_failure_share": 2}, r"contagion: max_failure_share=2.0 is out of range"),
    ({"connectedness": {"horizon": 0}}, r"contagion.connectedness: horizon=0 is out of range"),
    ({"connectedness": {"window": 250, "h": 1}}, "contagion.connectedness: unknown option"),
])
def test_bad_input_params_carry_the_group_prefix(tmp_path, override, match):
    put(tmp_path, planted_artifact(years=(2010,)))
    with pytest.raises(ConfigError, match=match):
        contagion(tmp_path, **override)


def test_bad_inputs_raise(tmp_path):
    with pytest.raises(StageInputError, match="covar_dcc.parquet not found"):
        contagion(tmp_path)
    art = planted_artifact(years=(2010,))
    put(tmp_path, art.drop(columns=["delta_covar"]))
    assert_not_estimable(run_stage(tmp_path, "contagion"), r"covar_dcc.parquet: column\(s\) \['delta_covar'\] missing")
    put(tmp_path, pd.concat([art, art.iloc[:1]]), key=())
    assert_not_estimable(run_stage(tmp_path, "contagion"), "duplicated row for bank 'B0' on 2010-01-01")


def test_params_yaml_group_is_the_science_defaults():
    """params.yaml's contagion group = ContagionParams() = the science configs' defaults."""
    given = ContagionParams.from_mapping(repo_params()["contagion"], where="contagion")
    assert given == ContagionParams()
    assert ContagionParams().chain() == ContagionConfig() and ContagionParams().connectedness == ConnectednessConfig()
    assert set(STAGE.inputs) == {"covar_dcc", "covar_qr", "spillover"}


def test_cli_exit_status_and_message(tmp_path, capsys):
    put(tmp_path, planted_artifact(years=(2010,)))
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump(repo_params(contagion={"series": "garch"})), encoding="utf-8")
    assert stage_main(["contagion", "--params", str(params), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stage contagion: contagion: series='garch' is not allowed") and "Traceback" not in err
    params.write_text(yaml.safe_dump(repo_params()), encoding="utf-8")
    assert stage_main(["contagion", "--params", str(params), "--root", str(tmp_path)]) == 0
    assert all((tmp_path / artifact(name).path).is_file() for name in (*OUTPUTS, "quality/contagion"))


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_dcc_chain(tmp_path, shared_data):
    """cn-banks 2007-2014 through ingest -> returns -> ΔCoVaR-DCC (the existing science) -> contagion:
    ABC (601288.SH) and CEB (601818.SH) listed in 2010 are excluded before 2011 and recorded; Liu–Ma 2021's
    moments hold roughly (mean = 1/N, min > 1%, max < 15%)."""
    from measures.dcc import fit_dcc_bivariate
    from measures.systemic import covar_dcc_frame

    cn = shared_data / "cn-banks"
    data_params = {"source": "files", "format": "wind", "raw_dir": str(cn / "wind-exports"), "currency": "CNY",
                   "start": "2007-01-01", "end": "2014-12-31", "publication_lag_days": 120}
    run_stage(tmp_path, "ingest", data=data_params)
    run_stage(tmp_path, "returns", **{"data": data_params, "measures.returns": {
        "system": "sample", "suspensions": "mask", "suspension_min_run": 5, "drop_non_trading_days": True}})
    rets = read(tmp_path, "returns")
    system = read(tmp_path, "system_returns")
    wide = rets.pivot(index="date", columns="bank_id", values="loss")
    inside = wide.notna().cummax() & wide[::-1].notna().cummax()[::-1]  # between a bank's first and last day
    res = fit_dcc_bivariate(system.set_index("date")["loss"].reindex(wide.index).rename("system"),
                            wide.where(~inside | wide.notna(), 0.0))
    frame = covar_dcc_frame(res).set_index(["date", "bank_id"])
    gaps = (wide.isna() & inside).stack()
    frame.loc[frame.index.isin(gaps[gaps].index), "delta_covar"] = np.nan
    put(tmp_path, frame.reset_index())
    run_stage(tmp_path, "contagion", data=data_params)
    crw = read(tmp_path, "crw")
    windows = read(tmp_path, "contagion_windows")
    assert (windows.status == "ok").all() and windows.year.tolist() == list(range(2007, 2015))
    assert windows.set_index("year").n_banks.loc[2011:].eq(16).all()
    np.testing.assert_allclose(crw.groupby("year").crw.sum(), 1.0, atol=1e-12)
    late = crw[crw.bank_id.isin(["601288.SH", "601818.SH"])]
    assert late.year.min() == 2011
    q = read(tmp_path, "quality/contagion")
    assert {("601288.SH", y) for y in range(2007, 2011)} <= set(zip(q[q.reason == "min_obs"].bank_id,
                                                                      q[q.reason == "min_obs"].date_start.dt.year))
    yearly = crw[crw.year >= 2008]
    assert yearly.crw.min() > 0.01 and yearly.crw.max() < 0.15


# ---------------------------------------------------------------- bad inputs: sparse banks, no window, check


def _sparse(art: pd.DataFrame, bank: str, share: float = 0.3, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = art.index[art.bank_id == bank]
    return art.drop(index=rng.choice(rows, size=int(share * len(rows)), replace=False))


def test_bad_input_bank_with_30pct_missing_days_is_excluded_from_the_year_not_fatal(tmp_path):
    art = _sparse(planted_artifact(n_banks=16, years=(2010,)), "B7")
    put(tmp_path, art)
    data = contagion(tmp_path)
    windows = read_parquet(data / "processed" / "contagion" / "windows.parquet")
    assert windows.status.tolist() == ["ok"] and windows.n_banks.tolist() == [15]
    crw = read_parquet(data / "processed" / "contagion" / "crw.parquet")
    assert "B7" not in set(crw.bank_id) and crw.crw.sum() == pytest.approx(1.0)
    q = read_parquet(data / "processed" / "quality" / "contagion.parquet")
    sparse = q[(q.reason == "too_sparse") & q.detail.str.startswith("year")]
    assert sparse.bank_id.tolist() == ["B7"] and sparse.n_rows.tolist() == [(art.bank_id == "B7").sum()]
    assert sparse.date_start.iloc[0] == pd.Timestamp("2010-01-01")
    assert sparse.detail.str.match(r"year 2010: too sparse for the system VAR after aligning: with it \d+ observations "
                                   r"are usable at lag order 5 .*the VAR needs 97$").all()
    # the rolling DY windows leave it out too (recorded once), and are estimated on the other 15
    conn = read_parquet(data / "processed" / "contagion" / "connectedness.parquet")
    assert len(conn) == 3 and (conn.status == "ok").all() and (conn.n_banks == 15).all()
    rolling = q[(q.reason == "too_sparse") & q.detail.str.startswith("left out of 3 rolling")]
    assert rolling.bank_id.tolist() == ["B7"] and rolling.n_rows.tolist() == [3]
    assert "connectedness_failed" not in set(q.reason)


def test_bad_input_all_but_one_bank_sparse_fails_the_window_and_the_stage_is_not_estimable(tmp_path):
    art = planted_artifact(n_banks=3, years=(2010,))
    for k, bank in enumerate(("B1", "B2")):
        art = _sparse(art, bank, share=0.6, seed=k)
    put(tmp_path, art)
    ctx = run_stage(tmp_path, "contagion", contagion={"min_obs": 50})
    assert_not_estimable(ctx, r"no window can be estimated; year 2010: 1 bank\(s\) left")
    q = read(tmp_path, "quality/contagion")
    assert sorted(q.loc[(q.reason == "too_sparse") & q.detail.str.startswith("year 2010"), "bank_id"]) == ["B1", "B2"]
    assert read(tmp_path, "contagion_windows").empty and read(tmp_path, "crw").empty


def test_check_lines_say_years_and_short_banks():
    from pipeline.schema import CanonicalData

    dates = pd.bdate_range("2009-10-01", "2011-12-31")
    prices = pd.DataFrame([(b, d, 1.0 + 0.01 * k, 1e9) for b in ("A", "B", "C") for k, d in enumerate(dates)
                           if not (b == "C" and d.year == 2011 and d.month > 3)],
                          columns=["bank_id", "date", "close", "market_cap"])
    banks = pd.DataFrame({"bank_id": ["A", "B", "C"], "name": ["A", "B", "C"], "group": "g"})
    data = CanonicalData(banks=banks, prices=prices)
    lines = STAGE.check(data, {"contagion": ContagionParams(robustness_series=("dcc",))})
    assert lines == [("estimates", "CRW per year for 2010..2011 (2 year(s); ΔCoVaR series: dcc)"),
                     ("skips", "contagion year 2009: fewer than 2 banks with 120 days (contagion.min_obs): no weights"),
                     ("skips", "contagion year 2011: bank(s) C below contagion.min_obs=120 days, left out of that year")]
    lines = STAGE.check(data, {"contagion": ContagionParams(series="qr")})
    assert lines[0][0] == "cannot" and "needs a market_states table" in lines[0][1]


# ---------------------------------------------------------------- real time

CUTOFF = pd.Timestamp("2012-07-02")


def _ends(frame: pd.DataFrame, spans: dict) -> pd.Series:
    """The last date of each row's window (``year`` through the run's windows, else ``window_end``)."""
    return frame["year"].map(spans) if "year" in frame.columns else frame["window_end"]


@pytest.mark.parametrize("params", [
    {"filter": "garch"},  # calendar years, OLS, GARCH pre-filter fitted per window
    {"window": "rolling", "step": 60, "filter": "difference"},  # rolling contagion windows
    {"route": "sparse", "max_lags": 2},  # the LASSO VAR (its batched paths) in every window
], ids=["year-garch", "rolling-difference", "sparse"])
def test_lookahead_outputs_before_the_cutoff_do_not_depend_on_later_data(tmp_path, params):
    """Real time: ΔCoVaR values after CUTOFF perturbed (noise of their own size, and one bank's values
    missing), every output row whose window ends before CUTOFF is bit-identical; rows of windows that
    reach past it do change. The params are the resolved real-time config (``for_realtime``)."""
    resolved = dataclasses.asdict(ContagionParams.from_mapping(params, where="contagion").for_realtime())
    art = planted_artifact(years=(2010, 2011, 2012))
    late = art.date >= CUTOFF
    rng = np.random.default_rng(7)
    perturbed = art.copy()
    perturbed.loc[late, "delta_covar"] += rng.standard_normal(late.sum()) * art.delta_covar.std()
    perturbed.loc[late & (art.bank_id == "B4") & (art.date < "2012-09-01"), "delta_covar"] = np.nan
    runs = []
    for name, frame in (("base", art), ("perturbed", perturbed)):
        root = tmp_path / name
        put(root, frame)
        contagion(root, **resolved)
        runs.append({o: read(root, o) for o in OUTPUTS})
    spans = {y: pd.Timestamp(f"{y}-12-31") for y in (2010, 2011, 2012)}
    changed = 0
    for name in OUTPUTS:
        base, other = runs[0][name], runs[1][name]
        early_base, early_other = (f[_ends(f, spans) < CUTOFF].reset_index(drop=True) for f in (base, other))
        assert len(early_base) > 0, name
        pd.testing.assert_frame_equal(early_base, early_other, check_exact=True, obj=name)
        late_base, late_other = (f[_ends(f, spans) >= CUTOFF].reset_index(drop=True) for f in (base, other))
        changed += not late_base.equals(late_other)
    assert changed >= 3  # the perturbation reaches the later windows


def test_for_realtime_resolves_the_route_per_window():
    assert ContagionParams().for_realtime() == ContagionParams(route_scope="window")
    assert ContagionParams(route="ols").for_realtime() == ContagionParams(route="ols")  # nothing to resolve
    params = ContagionParams(filter="garch", window="rolling").for_realtime()
    assert (params.filter, params.window, params.route_scope) == ("garch", "rolling", "window")


def test_route_scope_window_resolves_each_window_alone():
    """A bank panel that grows from 8 to 40 banks in its last year: with route_scope panel every year uses the
    LASSO VAR (the last year needs it), with route_scope window only the last year does — the estimator of
    the early years no longer depends on later data."""
    from measures.contagion import estimate_contagion
    from test_sparse_var import planted_var

    y, _ = planted_var(2, n=40, t=750, density=0.05)
    series = pd.DataFrame(y, index=pd.bdate_range("2010-01-01", periods=750), columns=[f"B{k:02d}" for k in range(40)])
    series.loc[series.index.year < 2012, series.columns[8:]] = np.nan
    panel = estimate_contagion(series, min_obs=100)
    alone = estimate_contagion(series, min_obs=100, route_scope="window")
    assert panel.windows.route.tolist() == ["sparse"] * 3 and alone.windows.route.tolist() == ["ols", "ols", "sparse"]
    assert alone.route.reason == "route auto per window (contagion.route_scope: window): 2 window(s) ols, 1 sparse, " \
                                 "each from its own banks and rows"
    pd.testing.assert_frame_equal(alone.crw[alone.crw.year == 2012], panel.crw[panel.crw.year == 2012])


def test_check_says_the_route_per_year_in_real_time():
    from measures.contagion.chain import check_plan

    dates = pd.bdate_range("2014-01-01", "2015-12-31")
    prices = pd.DataFrame([(f"B{k:02d}", d, 1.0) for k in range(40) for d in dates if k < 8 or d.year == 2015],
                          columns=["bank_id", "date", "close"])
    lines = check_plan(prices, ContagionParams().for_realtime(), has_states=False)
    assert lines[-1] == ("estimates", "contagion VARs chosen per year (contagion.route_scope: window): 1 year(s) least "
                                      "squares, 1 the LASSO VAR (from the price days)")


def test_bad_input_route_scope():
    with pytest.raises(ValueError, match="contagion: route_scope='year' is not allowed; allowed values: 'panel', 'window'"):
        ContagionParams.from_mapping({"route_scope": "year"}, where="contagion")
