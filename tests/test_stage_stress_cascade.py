"""The stress_cascade stage: the 263-bank cross-section, scenarios, artifacts, sources, params, provenance, real data.

The science (network, scenarios, boundaries) is tested in tests/test_cascade.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import assert_not_estimable, copy_root, repo_params, run_stage
from measures.core.config import ConfigError
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance, write_parquet
from pipeline.stage import not_estimable_mark
from pipeline.simulator.network_banks import GROUP_COUNTS, simulate_network_banks

GROUP = "stress.cascade"
SMALL = {"alpha_grid": [0.0, 0.15, 8], "beta_grid": [0.0, 1.0, 6], "named_betas": [0.5, 1.0]}
OUTPUTS = ("cascade_matrix", "cascade_surface", "cascade_hierarchy", "cascade_boundary", "debtrank",
           "cascade_descriptives", "cascade_boundary_stats")


def outputs(root: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return ({k: read_parquet(root / artifact(k).path) for k in OUTPUTS},
            read_parquet(root / artifact("quality/stress_cascade").path))


def cascade(root: Path, **override):
    run_stage(root, "stress_cascade", **{GROUP: override})
    return outputs(root)


def canonical(default_root: Path, root: Path) -> Path:
    return copy_root(default_root, root, "balance_sheet", "banks", "canonical/meta")


# ----------------------------------------------------------------------------- simulator


def test_network_banks_match_seed_001_table_1():
    banks = simulate_network_banks(seed=20190101)
    assert banks["group"].value_counts().to_dict() == GROUP_COUNTS
    assert len(banks) == 263 and banks["bank_id"].is_unique
    ln_assets = np.log(banks["total_assets"] / 1e4)  # table 1: ln(total assets in 10^4 yuan)
    assert abs(ln_assets.mean() - 16.23) < 0.15 and abs(ln_assets.std() - 1.66) < 0.15
    np.testing.assert_allclose(ln_assets.quantile([0.25, 0.5, 0.75]), [14.94, 16.14, 17.07], atol=0.2)
    leverage = banks["total_assets"] / banks["equity"]
    assert abs(leverage.mean() - 13.48) < 0.3 and abs(leverage.median() - 13.06) < 0.6
    assert abs(banks["car"].mean() * 100 - 14.07) < 0.5 and abs(banks["ldr"].mean() * 100 - 72.87) < 2.5
    np.testing.assert_allclose(banks["total_assets"], banks["total_liabilities"] + banks["equity"], rtol=1e-14)
    assert banks["interbank_assets"].sum() == pytest.approx(banks["interbank_liabilities"].sum(), rel=1e-12)
    used = banks["loans"] + banks["securities"] + banks["interbank_assets"]
    assert (used <= 0.97 * banks["total_assets"] * (1 + 1e-12)).all()
    assert (banks["real_estate_loans"] <= banks["loans"]).all()
    # the six state-owned banks are the six largest
    top6 = banks.nlargest(6, "total_assets")
    assert set(top6["group"]) == {"state-owned"}


def test_network_banks_deterministic_and_seeded():
    a, b = simulate_network_banks(seed=7), simulate_network_banks(seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["equity"], simulate_network_banks(seed=8)["equity"])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        simulate_network_banks(seed=-1)


# ----------------------------------------------------------------------------- stage on the defaults


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cascade")
    out, quality = cascade(root)
    return root, out, quality


def test_default_run_artifacts_and_statuses(default_run):
    root, out, quality = default_run
    matrix = out["cascade_matrix"]
    assert list(matrix["system"]) == ["all"] and matrix["status"].eq("ok").all()
    assert matrix["max_margin_error"].iloc[0] <= 1e-10 and matrix["relative_mismatch"].iloc[0] == 0.0
    assert matrix["n_banks"].iloc[0] == 263 and matrix["period_end"].iloc[0] == pd.Timestamp("2019-12-31")
    surface = out["cascade_surface"]
    common = surface[surface["scenario"] == "common"]
    assert common.groupby("system").size().to_dict() == {"all": 2500, "without_largest": 2500}
    assert surface["status"].eq("ok").all()
    assert set(common.loc[common["system"] == "without_largest", "n_banks"]) == {248}
    losses = surface[["loss_shock", "loss_fire_sale", "loss_interbank"]]
    assert (losses >= 0).all().all()
    # Fan–Rong–Duan's five experiments: three in the full system, ranks 16–45 / 16–115 also without the 15 largest
    named = surface[surface["scenario"] != "common"]
    assert set(named.loc[named["system"] == "all", "scenario"]) == {"largest_1", "ranks_16_45", "ranks_16_115"}
    assert set(named.loc[named["system"] == "without_largest", "scenario"]) == {"ranks_16_45_without_15",
                                                                                "ranks_16_115_without_15"}
    assert named[["rescue_rate", "rescue_cost", "rescue_targeted"]].notna().all().all()
    assert common[["rescue_rate", "rescue_cost", "rescue_targeted"]].isna().all().all()
    assert (named["rescue_cost"] >= named["rescue_targeted"]).all()
    assert ((named["rescue_cost"] > 0) == (named["rounds"] > 1)).all()  # α = 0.04 fails no bank by itself
    assert len(quality) == 0
    prov = read_provenance(root / artifact("cascade_surface").path)
    assert prov["data_source"] == {"kind": "synthetic", "generator": "pipeline.simulator.network_banks", "seed": 20190101}


def test_surface_is_monotone_and_graded(default_run):
    surface = default_run[1]["cascade_surface"]
    for system, g in surface[surface["scenario"] == "common"].groupby("system"):
        grid = g.pivot(index="beta", columns="alpha", values="failed_share").to_numpy()
        assert (np.diff(grid, axis=0) >= 0).all() and (np.diff(grid, axis=1) >= 0).all(), system
        assert grid[0, 0] == 0.0 and grid[-1, -1] == 1.0
        # graded, not all-or-nothing: many grid points with some but not all banks failed
        partial = (grid > 0) & (grid < 1)
        assert partial.sum() >= 100, (system, partial.sum())
        assert len(np.unique(np.round(grid, 6))) >= 40


def test_hierarchy_is_consistent_with_the_surface(default_run):
    _, out, _ = default_run
    surface, hierarchy = out["cascade_surface"], out["cascade_hierarchy"]
    banks = simulate_network_banks(seed=20190101).sort_values(["total_assets"], ascending=False)
    largest, ranks_16_45 = banks["bank_id"].iloc[0], list(banks["bank_id"].iloc[15:45])
    for row in surface[surface["scenario"] != "common"].itertuples():
        h = hierarchy[(hierarchy.system == row.system) & (hierarchy.scenario == row.scenario) & (hierarchy.beta == row.beta)]
        assert len(h) == row.n_failed and h["layer"].max() == row.rounds
        assert set(range(1, row.rounds + 1)) == set(h["layer"])  # no empty layer in between
        first = set(h.loc[h.layer == 1, "bank_id"])
        if row.scenario == "largest_1":
            assert first == {largest}
        elif row.scenario.startswith("ranks_16_45"):
            assert first >= set(ranks_16_45) and (row.rounds > 1 or first == set(ranks_16_45))
    big = surface[(surface.scenario == "largest_1")].set_index("beta")["n_failed"]
    assert big.is_monotonic_increasing and big.iloc[0] == 1 and big.iloc[-1] > 1  # the largest bank's failure cascades at high β


def test_boundaries_and_debtrank(default_run):
    _, out, _ = default_run
    bounds = out["cascade_boundary"]
    banks = bounds[bounds["kind"] == "bank"]
    assert len(banks) == 263
    np.testing.assert_allclose(banks["boundary"], banks["capital"], rtol=1e-15)  # threshold 0: b_i = E_i
    groups = bounds[bounds["kind"] == "group"].set_index("id")
    assert {"largest_15", "ranks_16_45", "ranks_16_115", "group:state-owned", "group:rural"} <= set(groups.index)
    # Fan–Rong–Duan's dependency form: every boundary above the equity one (1 / A_ii > 1), the largest bank's
    # of the order of 10^13 (the paper: 40.838 trn yuan for ICBC)
    assert (banks["boundary_dependency"] > banks["boundary"]).all()
    top = banks.loc[banks["size_rank"] == 1].iloc[0]
    assert 1e13 <= top["boundary_dependency"] < 1e14
    # tables 2-3: the members of ranks 16-45 are the banks of those ranks, in both rules
    stats = out["cascade_boundary_stats"].set_index(["rule", "group"])
    mid = banks[banks["size_rank"].between(16, 45)]
    assert stats.loc[("equity", "ranks_16_45"), "mean"] == pytest.approx(mid["boundary"].mean(), rel=1e-12)
    assert stats.loc[("dependency", "ranks_16_45"), "max"] == pytest.approx(mid["boundary_dependency"].max(), rel=1e-12)
    assert stats.loc[("dependency", "ranks_16_115"), "joint_boundary"] == groups.loc["ranks_16_115", "boundary_dependency"]
    assert (groups["n_failed"] >= groups["n_banks"]).all()
    # a joint failure needs at least the write-down of the most robust member minus what the cascade adds,
    # and never more than it
    for name, g in groups.iterrows():
        assert 0 < g["fraction"] <= 1
    dr = out["debtrank"]
    assert len(dr) == 263 and dr["debtrank"].between(0, 1).all() and dr["debtrank"].max() > 0


def test_deterministic_bytes(tmp_path):
    cascade(tmp_path / "one", **SMALL)
    cascade(tmp_path / "two", **SMALL)
    for k in OUTPUTS:
        path = artifact(k).path
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes(), k


def test_min_density_and_reestimate_options(tmp_path):
    out, _ = cascade(tmp_path, matrix="min_density", without_largest="reestimate", **SMALL)
    matrix = out["cascade_matrix"].set_index("system")
    assert list(matrix.index) == ["all", "without_largest"]
    assert (matrix["n_links"] <= 2 * matrix["n_banks"] - 1).all() and (matrix["max_margin_error"] <= 1e-10).all()
    assert matrix.loc["without_largest", "n_banks"] == 248


# ----------------------------------------------------------------------------- balance_sheet source


def test_balance_sheet_source_on_default_data(tmp_path, default_root):
    root = canonical(default_root, tmp_path / "root")
    out, quality = cascade(root, source="balance_sheet", **SMALL)
    bs = read_parquet(root / artifact("balance_sheet").path)
    matrix = out["cascade_matrix"]
    assert matrix["n_banks"].iloc[0] == 16 and matrix["period_end"].iloc[0] == bs["period_end"].max()
    # 15 largest removed leaves one bank: the system without them is not run, and that is recorded
    assert set(out["cascade_surface"]["system"]) == {"all"}
    assert {"too_few_banks", "named_scenario_not_run"} <= set(quality["reason"])
    assert len(out["debtrank"]) == 16
    assert read_provenance(root / artifact("debtrank").path)["data_source"] == \
        read_provenance(root / artifact("balance_sheet").path)["data_source"]


def test_balance_sheet_exclusions_are_recorded(tmp_path, default_root):
    root = canonical(default_root, tmp_path / "root")
    path = root / artifact("balance_sheet").path
    bs = read_parquet(path)
    last = bs["period_end"] == bs["period_end"].max()
    ids = sorted(bs.loc[last, "bank_id"])
    bs.loc[last & (bs.bank_id == ids[0]), "interbank_liabilities"] = np.nan
    bs.loc[last & (bs.bank_id == ids[1]), "equity"] = -1.0
    bs.loc[last & (bs.bank_id == ids[2]), "securities"] = np.nan
    write_parquet(bs, path, key=["bank_id", "period_end"])
    out, quality = cascade(root, source="balance_sheet", n_largest=5, **SMALL)
    assert out["cascade_matrix"]["n_banks"].iloc[0] == 14
    excluded = quality[quality.action == "excluded"].set_index("bank_id")["reason"].to_dict()
    assert excluded == {ids[0]: "missing_interbank_margin", ids[1]: "non_positive_equity"}
    filled = quality[quality.bank_id == ids[2]]
    assert filled["reason"].tolist() == ["fill_securities"] and filled["action"].tolist() == ["filled"]
    assert "set to 0 x total_assets (stress.cascade.fill)" in filled["detail"].iloc[0]
    assert set(out["cascade_surface"]["system"]) == {"all", "without_largest"}


FILES = {"data": {"source": "files"}}  # the stage reads data.source alone: the canonical tables of default_root stand in


def test_auto_source_follows_the_data_source(tmp_path, default_root):
    root = canonical(default_root, tmp_path / "root")
    ctx = run_stage(root, "stress_cascade", **FILES, **{GROUP: dict(n_largest=5, **SMALL)})
    assert ctx.not_estimable_reason is None
    out, quality = outputs(root)
    assert out["cascade_matrix"]["n_banks"].iloc[0] == 16 and len(out["debtrank"]) == 16
    assert read_provenance(root / artifact("debtrank").path)["data_source"]["kind"] == "synthetic"  # the ingested tables'
    assert read_provenance(root / artifact("debtrank").path)["data_source"] == \
        read_provenance(root / artifact("balance_sheet").path)["data_source"]
    assert "simulated_input" not in set(quality["reason"])


def test_explicit_synthetic_source_with_files_data_is_labelled_simulated(tmp_path):
    run_stage(tmp_path, "stress_cascade", **FILES, **{GROUP: dict(source="synthetic", **SMALL)})
    out, quality = outputs(tmp_path)
    assert out["cascade_matrix"]["n_banks"].iloc[0] == 263
    assert read_provenance(tmp_path / artifact("debtrank").path)["data_source"]["kind"] == "synthetic"
    flag = quality[quality.reason == "simulated_input"]
    assert flag["action"].tolist() == ["flagged"] and "stress.cascade.source = synthetic while data.source = files" in \
        flag["detail"].iloc[0]


def test_bad_input_interbank_columns_missing_is_not_estimable(tmp_path, default_root):
    root = canonical(default_root, tmp_path / "root")
    path = root / artifact("balance_sheet").path
    write_parquet(read_parquet(path).drop(columns=["interbank_assets", "interbank_liabilities"]), path,
                  key=["bank_id", "period_end"])
    reason = assert_not_estimable(run_stage(root, "stress_cascade", **FILES, **{GROUP: SMALL}),
                                  r"^stress.cascade needs at least 2 banks with complete balance sheets in any period "
                                  r"of balance_sheet \(.*\); got 0 at .*: interbank_assets: absent from balance_sheet; "
                                  r"interbank_liabilities: absent from balance_sheet \(records: "
                                  r"data/processed/quality/stress_cascade.parquet\)$")
    mark = not_estimable_mark(root / artifact("cascade_surface").path, artifact("cascade_surface"))
    assert mark["reason"] == reason and "interbank_assets" in mark["needs"]
    assert (root / artifact("quality/stress_cascade").path).is_file()


def test_check_hook_says_what_the_stage_will_run_on(default_root):
    from test_stage_stress_firesale import check_with

    lines = check_with("stress_cascade", default_root)
    data = read_parquet(default_root / artifact("balance_sheet").path)
    assert lines() == [("estimates", "SIMULATED data (pipeline.simulator.network_banks, seed 20190101): cascade on "
                                     "the 263-bank 2019 cross-section")]
    assert "NOT your balance sheets" in lines(data={"source": "files"}, **{GROUP: {"source": "synthetic"}})[0][1]
    last = data["period_end"].max().date()
    files = lines(data={"source": "files"})
    assert files[0] == ("estimates", f"cascade on 16 banks at {last} (one cross-section)")
    # the paper's rank groups need more banks than the 16 of the default data: said before any stage runs
    assert [t for k, t in files if k == "skips"] == [
        "named scenario ranks_16_45: ranks 16-45 requested but the sample has only 16 banks; not run",
        "named scenario ranks_16_115: ranks 16-115 requested but the sample has only 16 banks; not run",
        "named scenario ranks_16_45_without_15: ranks 16-45 requested but the sample has only 16 banks; not run",
        "named scenario ranks_16_115_without_15: ranks 16-115 requested but the sample has only 16 banks; not run"]
    assert lines(data={"source": "files"}, **{GROUP: {"period": "1999-12-31"}})[0][0] == "cannot"


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"colour": 1}, "unknown option"),
        ({"matrix": "ras"}, "matrix='ras' is not allowed; allowed values: 'maxent', 'min_density'"),
        ({"alpha_grid": [0.2, 0.1, 5]}, "alpha_grid stop"),
        ({"beta_grid": [0.0, 1.0]}, r"beta_grid=.*\[start, stop, n\]"),
        ({"named": [{"name": "x", "banks": "middle", "n": 3}]}, r"named\[0\]: named\[x\].banks='middle'"),
        ({"named": [{"name": "x", "banks": "largest", "n": 3, "k": 1}]}, "unknown option"),
        ({"named": [{"name": "common", "banks": "largest", "n": 1}]}, "reserved"),
        ({"threshold": 1.0}, "threshold"),
        ({"market_depth": 0.5}, "market_depth"),
        ({"period": "yesterday"}, "is not a date"),
        ({"source": "files"}, "source='files' is not allowed; allowed values: 'auto', 'synthetic', 'balance_sheet'"),
        ({"fill": {"equity": {"share": 0.1, "of": "total_assets"}}}, "fill key='equity' is not allowed"),
        ({"fill": {"securities": {"share": 0.1, "of": "deposits"}}}, r"fill.securities: of='deposits'"),
        ({"fill": {"securities": 0.1}}, "must be a mapping"),
    ],
)
def test_bad_params_raise(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        cascade(tmp_path, **override)


def test_bad_period_is_not_estimable(tmp_path, default_root):
    root = canonical(default_root, tmp_path / "root")
    assert_not_estimable(run_stage(root, "stress_cascade", **{GROUP: dict(source="balance_sheet", period="1999-12-31")}), r"stress.cascade.period='1999-12-31': no balance_sheet rows")
    assert_not_estimable(run_stage(tmp_path / "empty", "stress_cascade", **{GROUP: dict(source="balance_sheet")}), "stress.cascade: the dataset has no balance_sheet table")


def test_params_yaml_group_is_the_study_config():
    from measures.stress.cascade import CascadeConfig
    from measures.stress.cascade_study import CascadeParams, CascadeStudyConfig
    from measures.stress.maxent import MaxEntropyConfig

    cfg = CascadeParams.from_mapping(repo_params()["stress"]["cascade"], where=GROUP)
    assert cfg == CascadeParams()  # params.yaml holds the defaults
    assert cfg.study() == CascadeStudyConfig()
    assert cfg.cascade_config() == CascadeConfig() and cfg.tol == MaxEntropyConfig().tol


# ----------------------------------------------------------------------------- real data


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_interbank_matrix_2014_and_2013(tmp_path, shared_data):
    from test_stage_stress_firesale import cn_data

    data = {**cn_data(shared_data), "market_states": []}
    source = tmp_path / "source"
    run_stage(source, "ingest", data=data)
    real = {"source": "balance_sheet", "residual_assets": "securities", "n_largest": 5,
            "named": [{"name": "largest_1", "banks": "largest", "n": 1}, {"name": "smallest_5", "banks": "smallest", "n": 5}],
            **SMALL}
    for period in ("2014-06-30", "2013-12-31"):
        out, quality = cascade(canonical(source, tmp_path / period), period=period, **real)
        m = out["cascade_matrix"].iloc[0]
        # the 16 listed banks borrow far more on the interbank market than they lend to each other
        assert m["n_banks"] == 16 and m["relative_mismatch"] < -0.5 and m["status"] == "warning:RescaledMargins"
        assert m["max_margin_error"] <= 1e-10
        assert (quality["reason"] == "interbank_margins").sum() == 1
        hier = out["cascade_hierarchy"]
        assert set(hier.loc[(hier.scenario == "largest_1") & (hier.layer == 1), "bank_id"]) == {"601398.SH"}
    # 2014-12-31: interbank margins for 5 banks only, and no total assets or equity: nothing to run
    late = canonical(source, tmp_path / "late")
    reason = assert_not_estimable(run_stage(late, "stress_cascade", **{GROUP: dict(period="2014-12-31", **real)}),
                                  "at least 2 banks with complete balance sheets at stress.cascade.period 2014-12-31; got 0")
    assert reason.startswith("stress.cascade needs at least 2 banks with complete balance sheets at stress.cascade.period "
                             "2014-12-31; got 0: total_assets: missing for every bank in 2014; equity: missing for "
                             "every bank in 2014")
    assert read_parquet(late / artifact("quality/stress_cascade").path)["action"].tolist() == ["not_estimable"]


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_auto_source_runs_on_the_latest_usable_period_with_fills(tmp_path_factory, shared_data):
    from test_stage_stress_firesale import cn_data, ingested

    data = cn_data(shared_data)
    root = ingested(tmp_path_factory, "cn_cascade", data)
    ctx = run_stage(root, "stress_cascade", data=data)  # only the data section changed
    assert ctx.not_estimable_reason is None
    out, quality = outputs(root)
    m = out["cascade_matrix"].iloc[0]
    # 2014-12-31 lacks total assets for 5 banks; 2014-09-30 is the latest period with the inputs, 5 banks lack margins
    assert m["period_end"] == pd.Timestamp("2014-09-30") and m["n_banks"] == 11
    assert quality.loc[quality.reason == "later_periods_incomplete", "n_rows"].tolist() == [5]
    assert sorted(quality.loc[quality.reason == "missing_interbank_margin", "bank_id"]) == \
        ["000001.SZ", "600000.SH", "600036.SH", "601288.SH", "601998.SH"]
    fills = quality[quality.action == "filled"]
    assert fills.groupby("reason")["bank_id"].nunique().to_dict() == {"fill_real_estate_loans": 11, "fill_securities": 11}
    assert read_provenance(root / artifact("debtrank").path)["data_source"]["kind"] == "files"


@pytest.mark.realdata
@pytest.mark.slow
def test_us_toolbox_auto_source_is_not_estimable_and_says_what_is_missing(tmp_path_factory, shared_data):
    from test_stage_stress_firesale import ingested, us_data

    data = us_data(shared_data)
    root = ingested(tmp_path_factory, "us_cascade", data)
    reason = assert_not_estimable(run_stage(root, "stress_cascade", data=data), re.escape(
        "stress.cascade needs at least 2 banks with complete balance sheets in any period of balance_sheet "
        "(73 periods from 2001-12-31 to 2019-12-31); got 0 at 2019-12-31: "))
    assert reason.endswith("loans: absent from balance_sheet; interbank_assets: absent from balance_sheet; "
                           "interbank_liabilities: absent from balance_sheet; real_estate_loans: absent from "
                           "balance_sheet; securities: absent from balance_sheet "
                           "(records: data/processed/quality/stress_cascade.parquet)")
    assert "total_assets: missing for 1 of 20 banks (LEH)" in reason
    mark = not_estimable_mark(root / artifact("debtrank").path, artifact("debtrank"))
    assert mark["needs"].startswith("balance_sheet columns total_assets, equity, loans, interbank_assets and "
                                    "interbank_liabilities for at least 2 banks in one period")
