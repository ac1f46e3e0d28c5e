"""Stage ``stress_firesale``: the 39-bank synthetic panel, the three sources, the artifacts (with the
mean curve and its regions), statuses, quality records, provenance, determinism and the real data.
The science (inputs, fills, screening, the per-year study) is tested in tests/test_firesale.py."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import cn_banks_data, us_financials_data, assert_not_estimable, copy_root, repo_params, run_stage
from measures.core.config import ConfigError
from measures.stress import fire_sale
from measures.stress.firesale_curve import fire_sale_regions
from measures.stress.firesale_inputs import validate_fire_sale_balance_sheet
from measures.stress.firesale_years import MEAN_COLUMNS
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance, write_parquet
from pipeline.simulator.stress_banks import GROUP_COUNTS, SECTOR_COLUMNS, SECTOR_CORRELATIONS, simulate_firesale_banks
from pipeline.schema import DataValidationError
from pipeline.stage import not_estimable_mark

FIXTURES = Path(__file__).parent / "fixtures" / "stress_firesale"
GROUP = "stress.firesale"
SMALL_GRID = {"start": 0.02, "stop": 0.30, "step": 0.02}
OUTPUTS = ("firesale", "firesale_banks", "firesale_regions", "firesale_inputs", "firesale_mean", "firesale_mean_regions")


def read(root: Path, name: str) -> pd.DataFrame:
    return read_parquet(root / artifact(name).path)


def firesale(root: Path, **changes) -> Path:
    run_stage(root, "stress_firesale", **{GROUP: changes})
    return root


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> Path:
    return firesale(tmp_path_factory.mktemp("firesale_default"))


@pytest.fixture
def canonical_root(tmp_path, default_root) -> Path:
    return copy_root(default_root, tmp_path / "root", "balance_sheet", "canonical/meta", "quality/ingest")


# ------------------------------------------------------------------ simulator


def test_simulator_39_banks_like_zhang_guo_wen_sun():
    bs = simulate_firesale_banks(seed=7)
    assert bs["year"].unique().tolist() == list(range(2012, 2021))
    counts = bs[bs["year"] == 2012]["group"].value_counts().to_dict()
    assert counts == GROUP_COUNTS and sum(counts.values()) == 39
    pd.testing.assert_frame_equal(bs, simulate_firesale_banks(seed=7))
    assert not bs.equals(simulate_firesale_banks(seed=8))
    # securities / loans: the paper's 27.9% (2012) and 36.1% (2020) means, within sampling error
    ratio = (bs["securities"] / bs["loans"]).groupby(bs["year"]).mean()
    assert abs(ratio[2012] - 0.279) < 0.03 and abs(ratio[2020] - 0.361) < 0.03
    for _, part in bs.groupby("year"):  # every year is a valid input (sector loans are parts of loans)
        validate_fire_sale_balance_sheet(part.drop(columns=["year", "group"]), sector_columns=SECTOR_COLUMNS)
    with pytest.raises(ValueError, match="seed"):
        simulate_firesale_banks(seed=-1)
    with pytest.raises(ValueError, match="years"):
        simulate_firesale_banks(seed=1, years=[2013, 2012])


# ------------------------------------------------------------------ default run


def test_default_run_artifacts_and_paper_shape(default_run):
    curve, banks = read(default_run, "firesale"), read(default_run, "firesale_banks")
    regions, inputs = read(default_run, "firesale_regions"), read(default_run, "firesale_inputs")
    assert len(curve) == 9 * 80 and curve[["year", "alpha"]].duplicated().sum() == 0
    assert list(curve.columns[:3]) == ["year", "alpha", "sr"] and {"tw", "omega", "region", "status"} <= set(curve.columns)
    assert len(banks) == 9 * 80 * 39 and len(inputs) == 9 * 39
    assert curve["status"].isin(["ok", "warning:HoldingFloor"]).all()  # cap_loan_sales: no oversale warning
    np.testing.assert_allclose(curve["sr"], curve["ll"] + curve["cl"], atol=1e-12)
    np.testing.assert_allclose(curve["sr"], curve["dl"] + curve["il"], atol=1e-12)
    failed = banks[banks["outcome"] == "failed"].groupby(["year", "alpha"]).size()
    merged = curve.set_index(["year", "alpha"])["n_failed"]
    assert (failed.reindex(merged.index, fill_value=0) == merged).all()
    for year, part in curve.groupby("year"):
        part = part.sort_values("alpha")
        reg = regions[regions["year"] == year]
        assert reg["region"].tolist() == ["relief", "contagion", "outbreak"]
        relief, contagion, outbreak = (reg.iloc[k] for k in range(3))
        assert (part[part["alpha"] <= relief["alpha_to"]]["n_failed"] == 0).all()  # relief: nobody fails
        mid = part[(part["alpha"] >= contagion["alpha_from"]) & (part["alpha"] <= contagion["alpha_to"])]
        assert np.diff(part["n_failed"].to_numpy()).max() >= 8  # contagion: failures jump; inverted U
        peak = int(np.argmax(mid["sr"].to_numpy()))
        after = part[part["alpha"] > contagion["alpha_to"]]["sr"]
        assert peak > 0 and mid["sr"].iloc[peak] > 1.5 * max(mid["sr"].iloc[0], after.iloc[0], part["sr"].iloc[-1])
        tail = part.tail(10)  # outbreak: every bank fails; SR = DL, exactly linear
        assert (tail["n_failed"] == 39).all()
        np.testing.assert_allclose(tail["sr"], tail["dl"], rtol=1e-12)
        np.testing.assert_allclose(np.diff(tail["sr"], 2), 0.0, atol=1e-12)
        assert 0.06 <= relief["alpha_to"] <= 0.115 and 0.17 <= outbreak["alpha_from"] <= 0.225  # docs/firesale.md
        assert (part["region"] != "").all()
    assert read(default_run, "quality/stress_firesale").empty  # synthetic input: nothing excluded or filled
    prov = read_provenance(default_run / artifact("firesale").path)
    assert prov["data_source"] == {"kind": "synthetic", "generator": "pipeline.simulator.stress_banks",
                                   "seed": 20120000, "years": [2012, 2020]}
    assert prov["params"][GROUP]["tol_basis"] == "capital" and prov["params"][GROUP]["cap_loan_sales"] is True


def test_mean_curve_and_its_regions_are_written(default_run):
    curve, mean = read(default_run, "firesale"), read(default_run, "firesale_mean")
    expected = curve.groupby("alpha", sort=True)[list(MEAN_COLUMNS)].mean().reset_index()
    pd.testing.assert_frame_equal(mean, expected, check_exact=True)
    pd.testing.assert_frame_equal(read(default_run, "firesale_mean_regions"), fire_sale_regions(expected, il_share=0.25),
                                  check_dtype=False)


def test_mean_regions_follow_il_share(tmp_path):
    wide = read(firesale(tmp_path / "a", alpha=SMALL_GRID, years=[2019, 2020]), "firesale_mean_regions")
    narrow = read(firesale(tmp_path / "b", alpha=SMALL_GRID, years=[2019, 2020], il_share=0.6), "firesale_mean_regions")
    mean = read(tmp_path / "b", "firesale_mean")
    pd.testing.assert_frame_equal(narrow, fire_sale_regions(mean, il_share=0.6), check_dtype=False)
    span = lambda r: r.set_index("region").loc["contagion", ["alpha_from", "alpha_to"]].tolist()  # noqa: E731
    assert span(narrow) != span(wide)  # the regions of the mean curve use stress.firesale.il_share, not 0.25
    assert span(narrow)[0] >= span(wide)[0] and span(narrow)[1] <= span(wide)[1]


def test_rows_equal_single_model_runs(default_run):
    curve, banks, inputs = read(default_run, "firesale"), read(default_run, "firesale_banks"), read(default_run, "firesale_inputs")
    row = curve[(curve["year"] == 2016) & (curve["alpha"] == 0.12)].iloc[0]
    bs = inputs[inputs["year"] == 2016].drop(columns=["year", "currency"]).reset_index(drop=True)
    sectors = dict(sorted({f"loans_{k}": v for k, v in SECTOR_CORRELATIONS.items()}.items()))
    res = fire_sale(bs, alpha=0.12, r_star=25.0, omega=row["omega"], tol=1e-12, tol_basis="capital",
                    cap_loan_sales=True, sector_correlations=sectors)
    for key, value in res.system().items():
        assert row[key] == value, key
    assert fire_sale(bs, alpha=0.12, sector_correlations=sectors).system() == res.system()  # ω calibrated alike
    mine = banks[(banks["year"] == 2016) & (banks["alpha"] == 0.12)].reset_index(drop=True)
    assert mine["outcome"].tolist() == res.banks["status"].tolist()
    assert mine["failure_round"].fillna(-1).astype(int).tolist() == res.banks["failure_round"].fillna(-1).astype(int).tolist()
    assert mine["outcome"].eq("failed").sum() == res.n_failed > 0


def test_deterministic_bytes(tmp_path):
    one = firesale(tmp_path / "a", alpha=SMALL_GRID, years=[2019, 2020])
    two = firesale(tmp_path / "b", alpha=SMALL_GRID, years=[2019, 2020])
    for name in OUTPUTS:
        path = artifact(name).path
        assert (one / path).read_bytes() == (two / path).read_bytes(), name


def test_loan_oversale_option_and_fixed_omega(tmp_path):
    curve = read(firesale(tmp_path, alpha=SMALL_GRID, years=[2012, 2012], cap_loan_sales=False, omega_rule="fixed", omega=1e-14), "firesale")
    assert (curve["omega"] == 1e-14).all()
    assert curve["status"].eq("warning:LoanOversale").any()  # the literal rule sells loans not held


# ------------------------------------------------------------------ other sources


def test_balance_sheet_source_on_default_data(canonical_root):
    firesale(canonical_root, source="balance_sheet", alpha=SMALL_GRID, years=[2018, 2020])
    inputs = read(canonical_root, "firesale_inputs")
    bs = read(canonical_root, "balance_sheet")
    row = inputs[(inputs["year"] == 2019)].iloc[0]
    src = bs[(bs["bank_id"] == row["bank_id"]) & (bs["period_end"] == pd.Timestamp("2019-12-31"))].iloc[0]
    assert row["capital"] == src["equity"] and row["loans"] == src["loans"]  # capital = book equity
    assert sorted(inputs["year"].unique()) == [2018, 2019, 2020]
    q = read(canonical_root, "quality/stress_firesale")
    assert "sector_column_absent" in set(q["reason"]) and "outside_years" in set(q["reason"])
    curve = read(canonical_root, "firesale")
    assert len(curve) == 3 * 15 and (curve["n_banks"] == inputs.groupby("year").size().iloc[0]).all()
    # the data source is the canonical tables'
    assert read_provenance(canonical_root / artifact("firesale").path)["data_source"] == \
        read_provenance(canonical_root / artifact("balance_sheet").path)["data_source"]


def test_bad_input_balance_sheet_table_absent_is_not_estimable(tmp_path):
    root = tmp_path / "empty"
    ctx = run_stage(root, "stress_firesale", **{GROUP: {"source": "balance_sheet"}})
    assert_not_estimable(ctx, r"stress.firesale: the dataset has no balance_sheet table \(records: "
                              r"data/processed/quality/stress_firesale.parquet\)")
    assert (root / artifact("quality/stress_firesale").path).is_file()
    assert not_estimable_mark(root / artifact("firesale").path, artifact("firesale"))["needs"].startswith(
        "a balance_sheet table with total_assets")


FILES = {"data": {"source": "files"}}  # the stage reads data.source alone: the canonical tables of default_root stand in


def test_auto_source_follows_the_data_source(canonical_root):
    # data.source: files -> the canonical balance_sheet (the same rows as source: balance_sheet)
    run_stage(canonical_root, "stress_firesale", **FILES, **{GROUP: {"alpha": SMALL_GRID, "years": [2019, 2020]}})
    inputs = read(canonical_root, "firesale_inputs")
    bs = read(canonical_root, "balance_sheet")
    assert set(inputs["bank_id"]) <= set(bs["bank_id"]) and sorted(inputs["year"].unique()) == [2019, 2020]
    assert read_provenance(canonical_root / artifact("firesale").path)["data_source"] == \
        read_provenance(canonical_root / artifact("balance_sheet").path)["data_source"]
    assert "simulated_input" not in set(read(canonical_root, "quality/stress_firesale")["reason"])


def test_explicit_synthetic_source_with_files_data_is_labelled_simulated(canonical_root):
    run_stage(canonical_root, "stress_firesale", **FILES,
              **{GROUP: {"source": "synthetic", "alpha": SMALL_GRID, "years": [2019, 2020]}})
    assert read_provenance(canonical_root / artifact("firesale").path)["data_source"]["kind"] == "synthetic"
    flag = read(canonical_root, "quality/stress_firesale").query("reason == 'simulated_input'")
    assert flag["action"].tolist() == ["flagged"] and "SIMULATED data, not from your balance sheets" in flag["detail"].iloc[0]
    assert read(canonical_root, "firesale_inputs")["bank_id"].nunique() == sum(GROUP_COUNTS.values())


def test_bad_input_balance_sheet_columns_missing_is_not_estimable(canonical_root):
    path = canonical_root / artifact("balance_sheet").path
    bs = read(canonical_root, "balance_sheet")
    write_parquet(bs.drop(columns=["liquid_assets", "real_estate_loans"]), path, key=["bank_id", "period_end"])
    ctx = run_stage(canonical_root, "stress_firesale", **FILES, **{GROUP: {"alpha": SMALL_GRID, "years": [2019, 2020]}})
    reason = assert_not_estimable(ctx, r"^stress.firesale: no year has at least 2 banks with valid inputs in years 2019-2020: "
                                       r"liquid_assets: absent from balance_sheet; real_estate_loans: absent from balance_sheet "
                                       r"\(records: data/processed/quality/stress_firesale.parquet\)$")
    assert (canonical_root / "data/processed/quality/stress_firesale.parquet").is_file()
    mark = not_estimable_mark(canonical_root / artifact("firesale").path, artifact("firesale"))
    assert mark["reason"] == reason and mark["needs"].startswith("balance_sheet columns liquid_assets, real_estate_loans")
    q = read(canonical_root, "quality/stress_firesale")
    assert q.loc[q.reason == "missing_input", "n_rows"].sum() == bs["period_end"].dt.year.between(2019, 2020).sum()
    # with fill rules for the two columns the same data run, and every fill is a record
    fill = {"liquid_assets": {"share": 0.2, "of": "total_assets"}, "real_estate_loans": {"share": 0.3, "of": "loans"}}
    run_stage(canonical_root, "stress_firesale", **FILES,
              **{GROUP: {"alpha": SMALL_GRID, "years": [2019, 2020], "fill": fill}})
    q = read(canonical_root, "quality/stress_firesale")
    assert {"fill_liquid_assets", "fill_real_estate_loans"} <= set(q["reason"])
    assert q.loc[q.reason == "fill_liquid_assets", "n_rows"].sum() == len(read(canonical_root, "firesale_inputs"))


def check_with(name: str, root: Path):
    """``lines(**overrides)``: the check hook of stage ``name`` on the canonical tables under ``root``."""
    from pipeline.schema import CanonicalData
    from pipeline.stage import configs_for, load_stage

    stage = load_stage(name)
    c = root / "data/interim/canonical"
    data = CanonicalData(banks=read_parquet(c / "banks.parquet"), prices=pd.DataFrame(),
                         balance_sheet=read_parquet(c / "balance_sheet.parquet"))
    return lambda **overrides: stage.check(data, configs_for(stage, repo_params(**overrides)))


def test_check_hook_says_what_the_stage_will_run_on(default_root):
    from pipeline.schema import CanonicalData
    from pipeline.stage import configs_for, load_stage

    lines = check_with("stress_firesale", default_root)
    default = lines()
    assert default[0][0] == "estimates" and default[0][1].startswith(
        "SIMULATED data (pipeline.simulator.stress_banks, seed 20120000): fire sale on 39 banks in 2012-2020")
    assert "NOT your balance sheets" in lines(data={"source": "files"}, **{GROUP: {"source": "synthetic"}})[0][1]
    own = lines(data={"source": "files"})
    assert own[0][0] == "estimates" and own[0][1].startswith("fire sale on 16 banks in 2012-2020")
    assert ("skips", "outside_years") in {(k, t.split(":")[0]) for k, t in own}
    stage = load_stage("stress_firesale")
    cannot = stage.check(CanonicalData(banks=pd.DataFrame(), prices=pd.DataFrame()),
                         configs_for(stage, repo_params(data={"source": "files"})))
    assert cannot == [("cannot", "stress.firesale: the dataset has no balance_sheet table; needs: a balance_sheet table "
                                 "with total_assets, equity, liquid_assets, interbank_assets, loans, securities and "
                                 "real_estate_loans at 31 December for at least 2 banks in a year (docs/formats.md)")]


def test_eba_source_reads_space_separated_file(tmp_path):
    eba = {"file": str(FIXTURES / "eba_small.csv")}
    firesale(tmp_path, source="eba", eba=eba, alpha=SMALL_GRID)
    inputs = read(tmp_path, "firesale_inputs").set_index("bank_id")
    # AA01: CET1E 1000, leverage 5% -> assets 20000; securities = debt_sec 4000; loans = .95*20000 - 4000
    assert inputs.loc["AA01", "total_assets"] == pytest.approx(20000.0, rel=1e-15)
    assert inputs.loc["AA01", "loans"] == pytest.approx(15000.0, rel=1e-15)
    assert inputs.loc["AA01", "real_estate_loans"] == pytest.approx(4500.0, rel=1e-15)
    assert (inputs["year"] == 2018).all() and (inputs["currency"] == "EUR m").all()
    assert "eba_mapping" in set(read(tmp_path, "quality/stress_firesale")["reason"])
    assert read_provenance(tmp_path / artifact("firesale").path)["data_source"]["format"] == "eba2018"


def test_eba_file_problems_name_the_file_and_the_params_key(tmp_path):
    with pytest.raises(DataValidationError, match=r"nowhere.csv: file not found \(params key stress.firesale.eba.file\)"):
        firesale(tmp_path, source="eba", eba={"file": str(tmp_path / "nowhere.csv")}, alpha=SMALL_GRID)
    bad = tmp_path / "bad.csv"
    bad.write_text("bank_id,CET1E,leverage\nAA01 1000 0.05\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"bad.csv: header .* is not the EBA 2018 extract's \(allowed: bank_id CET1E"):
        firesale(tmp_path, source="eba", eba={"file": str(bad)}, alpha=SMALL_GRID)


def test_the_eba_file_becomes_a_dependency_of_the_stage():
    from pipeline.dag import stage_entry
    from pipeline.stage import load_stage

    params = repo_params(**{GROUP: {"source": "eba", "eba": {"file": "inputs/EBA_2018.csv"}}})
    assert "inputs/EBA_2018.csv" in stage_entry(load_stage("stress_firesale"), params)["deps"]
    assert not any("EBA" in d for d in stage_entry(load_stage("stress_firesale"), repo_params())["deps"])


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"source": "bloomberg"}, "source='bloomberg' is not allowed; allowed values: 'auto', 'synthetic', 'balance_sheet', 'eba'"),
        ({"alpha": {"start": 0.1, "stop": 0.05, "step": 0.01}}, "stop >= start"),
        ({"fill": {"securities": {"share": 2, "of": "total_assets"}}}, "share"),
        ({"fill": {"capital": {"share": 0.1, "of": "equity"}}}, "allowed values: 'total_assets', 'loans'"),
        ({"source": "eba"}, "eba.file is required"),
        ({"tol_basis": "relative"}, "tol_basis='relative' is not allowed; allowed values: 'absolute', 'capital'"),
        ({"omega_calibration": {"sold_share": 0.0}}, "stress.firesale.omega_calibration: sold_share"),
        ({"eba": {"colour": 1}}, "unknown option"),
        ({"colour": 1}, "unknown option"),
    ],
)
def test_bad_params_raise(tmp_path, changes, match):
    with pytest.raises(ConfigError, match=match):
        firesale(tmp_path, **changes)


def test_params_yaml_group_is_the_study_config():
    from measures.stress.firesale import FireSaleConfig
    from measures.stress.firesale_years import FireSaleParams

    group = repo_params()["stress"]["firesale"]
    cfg = FireSaleParams.from_mapping(group, where=GROUP)
    assert cfg.model() == FireSaleConfig() == FireSaleParams().model()  # the API's defaults are the pipeline's
    assert cfg == FireSaleParams(sector_correlations=group["sector_correlations"])  # every other key at its default


# ------------------------------------------------------------------ real data


def cn_data(shared_data: Path) -> dict:
    """The data section for the Chinese Wind exports."""
    return cn_banks_data(shared_data)


def us_data(shared_data: Path) -> dict:
    """The data section for the US toolbox workbook."""
    return us_financials_data(shared_data)


def ingested(tmp_path_factory, name: str, data: dict) -> Path:
    root = tmp_path_factory.mktemp(name)
    run_stage(root, "ingest", data=data)
    return root


@pytest.fixture(scope="module")
def cn_root(tmp_path_factory, shared_data) -> Path:
    return ingested(tmp_path_factory, "cn", cn_data(shared_data))


@pytest.fixture(scope="module")
def us_root(tmp_path_factory, shared_data) -> Path:
    return ingested(tmp_path_factory, "us", us_data(shared_data))


CN_MISSING = "000001.SZ, 600000.SH, 600036.SH, 601288.SH, 601998.SH"


def assert_firesale_not_estimable(root: Path, data: dict, expected: str) -> None:
    """Only the data section changed: the stage is not estimable with exactly ``expected``, its quality file exists."""
    records = "(records: data/processed/quality/stress_firesale.parquet)"
    assert_not_estimable(run_stage(root, "stress_firesale", data=data), "^" + re.escape(f"{expected} {records}") + "$")
    q = read(root, "quality/stress_firesale")
    assert "not_estimable" in set(q["action"]) and "simulated_input" not in set(q["reason"])


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_auto_source_is_not_estimable_and_says_what_is_missing(cn_root, shared_data):
    # the Wind exports have no liquid assets, securities or real-estate loans
    assert_firesale_not_estimable(cn_root, cn_data(shared_data), (
        "stress.firesale: no year has at least 2 banks with valid inputs in years 2012-2014: "
        f"total_assets: missing for 5 of 16 banks ({CN_MISSING}) in 2014; equity: missing for 5 of 16 banks "
        f"({CN_MISSING}) in 2014; liquid_assets: absent from balance_sheet; securities: absent from balance_sheet; "
        "real_estate_loans: absent from balance_sheet"))
    mark = not_estimable_mark(cn_root / artifact("firesale").path, artifact("firesale"))
    assert mark["needs"].startswith("balance_sheet columns total_assets, equity, liquid_assets, securities, "
                                    "real_estate_loans for at least 2 banks in a year")
    q = read(cn_root, "quality/stress_firesale")
    assert q.loc[q.reason == "missing_input", "n_rows"].sum() == 37


@pytest.mark.realdata
@pytest.mark.slow
def test_us_toolbox_auto_source_is_not_estimable_and_says_what_is_missing(us_root, shared_data):
    # the toolbox workbook has total assets and equity only
    assert_firesale_not_estimable(us_root, us_data(shared_data), (
        "stress.firesale: no year has at least 2 banks with valid inputs in years 2012-2019: "
        "total_assets: missing for 1 of 20 banks (LEH) in 2012-2019; equity: missing for 1 of 20 banks (LEH) in "
        "2012-2019; liquid_assets: absent from balance_sheet; interbank_assets: absent from balance_sheet; "
        "loans: absent from balance_sheet; securities: absent from balance_sheet; real_estate_loans: absent from "
        "balance_sheet"))


@pytest.mark.realdata
def test_eba_2018_real_data(tmp_path, shared_data):
    firesale(tmp_path, source="eba", eba={"file": str(shared_data / "eu-eba2018" / "EBA_2018.csv")})
    curve, regions = read(tmp_path, "firesale"), read(tmp_path, "firesale_regions")
    assert (curve["n_banks"] == 48).all() and len(curve) == 80
    assert regions["region"].tolist() == ["relief", "contagion", "outbreak"]
    assert curve["n_failed"].max() < 48  # the best-capitalised banks survive even α = 40% of 30% of loans


@pytest.mark.realdata
@pytest.mark.slow
def test_cn_banks_balance_sheets(tmp_path, shared_data):
    cn = shared_data / "cn-banks"
    data = {"source": "files", "format": "wind", "raw_dir": str(cn / "wind-exports"), "currency": "CNY",
            "start": "2007-01-01", "end": None, "publication_lag_days": 120}
    run_stage(tmp_path, "ingest", data=data)
    fill = {"securities": {"share": 0.22, "of": "total_assets"}, "liquid_assets": {"share": 0.25, "of": "total_assets"},
            "real_estate_loans": {"share": 0.75, "of": "loans"}}
    run_stage(tmp_path, "stress_firesale", data=data, **{GROUP: {"source": "balance_sheet", "years": [2007, 2013],
                                                                  "fill": fill, "sector_correlations": {}}})
    q = read(tmp_path, "quality/stress_firesale")
    bad = q[q["reason"] == "invalid_input"]
    assert bad["bank_id"].tolist() == ["601288.SH"] and "capital" in bad["detail"].iloc[0]  # ABC 2007: negative equity
    regions = read(tmp_path, "firesale_regions")
    assert sorted(regions["year"].unique()) == list(range(2007, 2014))
    assert (regions.groupby("year")["region"].apply(list) == pd.Series([["relief", "contagion", "outbreak"]] * 7,
                                                                        index=range(2007, 2014))).all()
