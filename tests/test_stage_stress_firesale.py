"""Stage ``stress_firesale`` (issue 7): the 39-bank synthetic cross-section, the three sources,
artifacts, statuses, quality records, determinism, the report section, and the real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from measures.stress import fire_sale
from pipeline.io import read_parquet
from pipeline.report.core import ReportContext
from pipeline.report.sections import firesale as section
from pipeline.simulator.stress_banks import (
    GROUP_COUNTS,
    SECTOR_COLUMNS,
    SECTOR_CORRELATIONS,
    simulate_firesale_banks,
)
from pipeline.stages import stress_firesale as stage

FIXTURES = Path(__file__).parent / "fixtures" / "stress_firesale"

# The defaults of the stress.firesale group (the same as the params.yaml snippet).
DEFAULTS = {
    "source": "synthetic",
    "seed": 20120000,
    "years": [2012, 2020],
    "alpha": {"start": 0.005, "stop": 0.40, "step": 0.005},
    "r_star": 25.0,
    "omega": None,
    "omega_rule": {"sold_share": 0.01, "price_drop": 0.01},
    "tol": 1.0e-12,
    "tol_basis": "capital",
    "max_rounds": 100,
    "cap_loan_sales": True,
    "sector_correlations": {f"loans_{k}": v for k, v in SECTOR_CORRELATIONS.items()},
    "fill": {},
    "eba": {"file": None, "year": 2018, "cash_share": 0.05, "interbank_share": 0.0, "real_estate_share": 0.3},
    "il_share": 0.25,
}
SMALL_GRID = {"start": 0.02, "stop": 0.30, "step": 0.02}


def write_params(tmp_path: Path, **changes) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"stress": {"firesale": DEFAULTS | changes}}), encoding="utf-8")
    return str(path)


def run_stage(tmp_path: Path, canonical: Path | str = "unused", **changes) -> tuple[Path, Path]:
    out, quality = tmp_path / "stress", tmp_path / "quality"
    stage.run(write_params(tmp_path, **changes), str(canonical), str(out), str(quality))
    return out, quality


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("firesale_default")
    run_stage(tmp)
    return tmp


# ------------------------------------------------------------------ simulator


def test_simulator_39_banks_like_seed_000():
    bs = simulate_firesale_banks(seed=7)
    assert bs["year"].unique().tolist() == list(range(2012, 2021))
    counts = bs[bs["year"] == 2012]["group"].value_counts().to_dict()
    assert counts == GROUP_COUNTS and sum(counts.values()) == 39
    pd.testing.assert_frame_equal(bs, simulate_firesale_banks(seed=7))
    assert not bs.equals(simulate_firesale_banks(seed=8))
    # securities / loans: seed 000's 27.9% (2012) and 36.1% (2020) means, within sampling error
    ratio = (bs["securities"] / bs["loans"]).groupby(bs["year"]).mean()
    assert abs(ratio[2012] - 0.279) < 0.03 and abs(ratio[2020] - 0.361) < 0.03
    # every year is a valid fire-sale input (sector loans are parts of loans)
    for _, part in bs.groupby("year"):
        stage.validate_fire_sale_balance_sheet(part.drop(columns=["year", "group"]), sector_columns=SECTOR_COLUMNS)
    with pytest.raises(ValueError, match="seed"):
        simulate_firesale_banks(seed=-1)
    with pytest.raises(ValueError, match="years"):
        simulate_firesale_banks(seed=1, years=[2013, 2012])


# ------------------------------------------------------------------ default run


def test_default_run_artifacts_and_seed_000_shape(default_run):
    out = default_run / "stress"
    curve = read_parquet(out / "firesale.parquet")
    banks = read_parquet(out / "firesale_banks.parquet")
    regions = read_parquet(out / "firesale_regions.parquet")
    inputs = read_parquet(out / "firesale_inputs.parquet")
    assert len(curve) == 9 * 80 and curve[["year", "alpha"]].duplicated().sum() == 0
    assert list(curve.columns[:3]) == ["year", "alpha", "sr"] and {"tw", "omega", "region", "status"} <= set(curve.columns)
    assert len(banks) == 9 * 80 * 39 and len(inputs) == 9 * 39
    assert curve["status"].isin(["ok", "warning:HoldingFloor"]).all()  # cap_loan_sales: no oversale warning
    np.testing.assert_allclose(curve["sr"], curve["ll"] + curve["cl"], atol=1e-12)
    np.testing.assert_allclose(curve["sr"], curve["dl"] + curve["il"], atol=1e-12)
    # per-bank counts add up to the system's
    failed = banks[banks["outcome"] == "failed"].groupby(["year", "alpha"]).size()
    merged = curve.set_index(["year", "alpha"])["n_failed"]
    assert (failed.reindex(merged.index, fill_value=0) == merged).all()
    for year, part in curve.groupby("year"):
        part = part.sort_values("alpha")
        reg = regions[regions["year"] == year]
        assert reg["region"].tolist() == ["relief", "contagion", "outbreak"]
        relief, contagion, outbreak = (reg.iloc[k] for k in range(3))
        # relief: nobody fails, SR linear in α (losses absorbed)
        low = part[part["alpha"] <= relief["alpha_to"]]
        assert (low["n_failed"] == 0).all()
        # contagion: failures jump; inverted U (peak well above both ends)
        mid = part[(part["alpha"] >= contagion["alpha_from"]) & (part["alpha"] <= contagion["alpha_to"])]
        assert np.diff(part["n_failed"].to_numpy()).max() >= 8
        peak = int(np.argmax(mid["sr"].to_numpy()))
        after = part[part["alpha"] > contagion["alpha_to"]]["sr"]
        assert peak > 0 and mid["sr"].iloc[peak] > 1.5 * max(mid["sr"].iloc[0], after.iloc[0], part["sr"].iloc[-1])
        # outbreak: every bank fails; the last points are SR = DL, exactly linear
        tail = part.tail(10)
        assert (tail["n_failed"] == 39).all()
        np.testing.assert_allclose(tail["sr"], tail["dl"], rtol=1e-12)
        np.testing.assert_allclose(np.diff(tail["sr"], 2), 0.0, atol=1e-12)
        # where the regions fall (docs/firesale.md §5): relief ends 6.5–11%, outbreak starts 17.5–22%
        assert 0.06 <= relief["alpha_to"] <= 0.115 and 0.17 <= outbreak["alpha_from"] <= 0.225
        assert (part["region"] != "").all()
    q = read_parquet(default_run / "quality" / "stress_firesale.parquet")
    assert q.empty  # synthetic input: nothing excluded or filled


def test_rows_equal_single_model_runs(default_run):
    curve = read_parquet(default_run / "stress" / "firesale.parquet")
    banks = read_parquet(default_run / "stress" / "firesale_banks.parquet")
    inputs = read_parquet(default_run / "stress" / "firesale_inputs.parquet")
    row = curve[(curve["year"] == 2016) & (curve["alpha"] == 0.12)].iloc[0]
    bs = inputs[inputs["year"] == 2016].drop(columns=["year", "currency"]).reset_index(drop=True)
    res = fire_sale(bs, alpha=0.12, r_star=25.0, omega=row["omega"], tol=1e-12, tol_basis="capital",
                    cap_loan_sales=True, sector_correlations=dict(sorted(DEFAULTS["sector_correlations"].items())))
    for key, value in res.system().items():
        assert row[key] == value, key
    mine = banks[(banks["year"] == 2016) & (banks["alpha"] == 0.12)].reset_index(drop=True)
    assert mine["outcome"].tolist() == res.banks["status"].tolist()
    assert mine["failure_round"].fillna(-1).astype(int).tolist() == res.banks["failure_round"].fillna(-1).astype(int).tolist()
    assert mine["outcome"].eq("failed").sum() == res.n_failed > 0


def test_deterministic_bytes(tmp_path):
    one, _ = run_stage(tmp_path / "a", alpha=SMALL_GRID, years=[2019, 2020])
    two, _ = run_stage(tmp_path / "b", alpha=SMALL_GRID, years=[2019, 2020])
    for name in ("firesale", "firesale_banks", "firesale_regions", "firesale_inputs"):
        assert (one / f"{name}.parquet").read_bytes() == (two / f"{name}.parquet").read_bytes(), name


def test_loan_oversale_option_and_fixed_omega(tmp_path):
    out, _ = run_stage(tmp_path, alpha=SMALL_GRID, years=[2012, 2012], cap_loan_sales=False, omega=1e-14)
    curve = read_parquet(out / "firesale.parquet")
    assert (curve["omega"] == 1e-14).all()
    assert curve["status"].eq("warning:LoanOversale").any()  # METHODS' literal rule sells loans not held


# ------------------------------------------------------------------ other sources


def test_balance_sheet_source_on_default_data(tmp_path, default_data_dir):
    canonical = default_data_dir / "interim" / "canonical"
    out, quality = run_stage(tmp_path, canonical, source="balance_sheet", alpha=SMALL_GRID, years=[2018, 2020])
    inputs = read_parquet(out / "firesale_inputs.parquet")
    bs = read_parquet(canonical / "balance_sheet.parquet")
    row = inputs[(inputs["year"] == 2019)].iloc[0]
    src = bs[(bs["bank_id"] == row["bank_id"]) & (bs["period_end"] == pd.Timestamp("2019-12-31"))].iloc[0]
    assert row["capital"] == src["equity"] and row["loans"] == src["loans"]  # capital = book equity
    assert sorted(inputs["year"].unique()) == [2018, 2019, 2020]
    q = read_parquet(quality / "stress_firesale.parquet")
    assert "sector_column_absent" in set(q["reason"]) and "outside_years" in set(q["reason"])
    curve = read_parquet(out / "firesale.parquet")
    assert len(curve) == 3 * 15 and (curve["n_banks"] == inputs.groupby("year").size().iloc[0]).all()


def test_fill_rules_and_invalid_rows_are_recorded():
    cfg = stage.FireSaleStageConfig.from_mapping(DEFAULTS | {
        "source": "balance_sheet", "years": None,
        "fill": {"securities": {"share": 0.2, "of": "total_assets"}, "real_estate_loans": {"share": 0.5, "of": "loans"}}})
    bs = pd.DataFrame({
        "bank_id": ["A", "B", "C"], "period_end": pd.to_datetime(["2015-12-31", "2015-12-31", "2015-06-30"]),
        "total_assets": [100.0, 50.0, 80.0], "equity": [8.0, -1.0, 5.0], "loans": [50.0, 20.0, 40.0],
        "liquid_assets": [15.0, 10.0, 10.0], "interbank_assets": [3.0, 2.0, 1.0],
    })
    records: list = []
    frame = stage._from_balance_sheet(cfg, bs, records)
    assert frame["securities"].tolist() == [20.0, 10.0] and frame["real_estate_loans"].tolist() == [25.0, 10.0]
    reasons = {r.reason for r in records}
    assert {"not_annual", "fill_securities", "fill_real_estate_loans"} <= reasons
    kept, bad = stage.screen_inputs(frame, [])
    assert kept["bank_id"].tolist() == ["A"]
    assert bad[0].bank_id == "B" and bad[0].reason == "invalid_input" and "capital" in bad[0].detail
    _, recs = stage.screen_inputs(frame.assign(liquid_assets=[np.nan, 1.0]), [])
    assert recs[0].reason == "missing_input" and "liquid_assets" in recs[0].detail and recs[0].bank_id == "A"


def test_eba_source_reads_space_separated_file(tmp_path):
    eba = {**DEFAULTS["eba"], "file": str(FIXTURES / "eba_small.csv")}
    out, quality = run_stage(tmp_path, source="eba", eba=eba, alpha=SMALL_GRID)
    inputs = read_parquet(out / "firesale_inputs.parquet").set_index("bank_id")
    # AA01: CET1E 1000, leverage 5% -> assets 20000; securities = debt_sec 4000; loans = .95*20000 - 4000
    assert inputs.loc["AA01", "total_assets"] == pytest.approx(20000.0, rel=1e-15)
    assert inputs.loc["AA01", "loans"] == pytest.approx(15000.0, rel=1e-15)
    assert inputs.loc["AA01", "real_estate_loans"] == pytest.approx(4500.0, rel=1e-15)
    assert (inputs["year"] == 2018).all() and (inputs["currency"] == "EUR m").all()
    assert "eba_mapping" in set(read_parquet(quality / "stress_firesale.parquet")["reason"])


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"source": "bloomberg"}, "source"),
        ({"alpha": {"start": 0.1, "stop": 0.05, "step": 0.01}}, "stop >= start"),
        ({"fill": {"securities": {"share": 2, "of": "total_assets"}}}, "share"),
        ({"fill": {"capital": {"share": 0.1, "of": "equity"}}}, "of"),
        ({"source": "eba"}, "eba.file is required"),
        ({"tol_basis": "relative"}, "tol_basis"),
        ({"colour": 1}, "unknown option"),
    ],
)
def test_bad_params_raise(tmp_path, changes, match):
    with pytest.raises(ValueError, match=match):
        run_stage(tmp_path, **changes)


# ------------------------------------------------------------------ report


def test_report_section_builds(default_run):
    data = default_run / "data"
    (data / "processed").mkdir(parents=True)
    shutil.copytree(default_run / "stress", data / "processed" / "stress")
    sec = section.build(ReportContext.open(default_run, {}))
    assert sec is not None and sec.id == "firesale" and len(sec.blocks) == 8
    assert sec.metrics["years"] == 9 and sec.metrics["runs"] == 720
    assert 0.06 < sec.metrics["mean_contagion_from"] < sec.metrics["mean_alpha_sr_max"] < sec.metrics["mean_contagion_to"]
    assert "LL" in sec.intro and "TW" in sec.intro and "il_share" in sec.intro
    assert section.build(ReportContext.open(tmp := default_run / "empty", {})) is None and not tmp.exists()


# ------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_eba_2018_real_data(tmp_path, shared_data):
    path = shared_data / "eu-eba2018" / "EBA_2018.csv"
    eba = {**DEFAULTS["eba"], "file": str(path)}
    out, _ = run_stage(tmp_path, source="eba", eba=eba)
    curve = read_parquet(out / "firesale.parquet")
    regions = read_parquet(out / "firesale_regions.parquet")
    assert (curve["n_banks"] == 48).all() and len(curve) == 80
    assert regions["region"].tolist() == ["relief", "contagion", "outbreak"]
    assert curve["n_failed"].max() < 48  # the best-capitalised banks survive even α = 40% of 30% of loans


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_balance_sheets(tmp_path, shared_data):
    from pipeline.stages import ingest

    cn = shared_data / "cn-banks"
    data = {"source": "files", "format": "wind", "raw_dir": str(cn / "wind-exports"), "currency": "CNY",
            "start": "2007-01-01", "end": None, "publication_lag_days": 120}
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"data": data}), encoding="utf-8")
    canonical = tmp_path / "canonical"
    ingest.run(str(tmp_path / "data.yaml"), str(canonical), str(tmp_path / "q0"), root=str(tmp_path))
    fill = {"securities": {"share": 0.22, "of": "total_assets"}, "liquid_assets": {"share": 0.25, "of": "total_assets"},
            "real_estate_loans": {"share": 0.75, "of": "loans"}}
    out, quality = run_stage(tmp_path, canonical, source="balance_sheet", years=[2007, 2013], fill=fill,
                             sector_correlations={})
    q = read_parquet(quality / "stress_firesale.parquet")
    bad = q[q["reason"] == "invalid_input"]
    assert bad["bank_id"].tolist() == ["601288.SH"] and "capital" in bad["detail"].iloc[0]  # ABC 2007: negative equity
    regions = read_parquet(out / "firesale_regions.parquet")
    assert sorted(regions["year"].unique()) == list(range(2007, 2014))
    assert (regions.groupby("year")["region"].apply(list) == pd.Series([["relief", "contagion", "outbreak"]] * 7,
                                                                        index=range(2007, 2014))).all()


def test_curve_with_banks_equals_single_runs():
    from measures.stress.firesale_curve import (
        fire_sale_curve,
        fire_sale_curve_with_banks,
    )

    bs = simulate_firesale_banks(seed=3, years=[2015]).drop(columns=["year", "group"])
    sectors = dict(sorted({c: SECTOR_CORRELATIONS[c[6:]] for c in SECTOR_COLUMNS}.items()))
    grid = [0.05, 0.1, 0.15, 0.3]
    opts = {"r_star": 25.0, "omega": 1.2e-14, "tol_basis": "capital", "cap_loan_sales": True,
            "sector_correlations": sectors}
    curve, banks = fire_sale_curve_with_banks(bs, grid, **opts)
    pd.testing.assert_frame_equal(curve, fire_sale_curve(bs, grid, **opts))
    assert banks["alpha"].tolist() == [a for a in grid for _ in range(39)]
    for alpha in grid:
        single = fire_sale(bs, alpha=alpha, **opts).banks
        mine = banks[banks["alpha"] == alpha].drop(columns="alpha").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, single)


def test_fill_of_loans_is_applied_before_shares_of_loans():
    cfg = stage.FireSaleStageConfig.from_mapping(DEFAULTS | {
        "source": "balance_sheet", "years": None,
        "fill": {"real_estate_loans": {"share": 0.5, "of": "loans"}, "loans": {"share": 0.6, "of": "total_assets"}}})
    bs = pd.DataFrame({"bank_id": ["A"], "period_end": pd.to_datetime(["2016-12-31"]), "total_assets": [100.0],
                       "equity": [8.0], "liquid_assets": [15.0], "interbank_assets": [3.0], "securities": [20.0]})
    records: list = []
    frame = stage._from_balance_sheet(cfg, bs, records)
    assert frame["loans"].tolist() == [60.0] and frame["real_estate_loans"].tolist() == [30.0]
    assert [r.reason for r in records] == ["fill_loans", "fill_real_estate_loans"]
    assert records[0].date_start == records[0].date_end == pd.Timestamp("2016-12-31")
