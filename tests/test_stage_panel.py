"""The panel stage through the runner on the default data, its report section, and the replication CLI.

The stage's CRW input is made here (the contagion stage is tested on its own): a seeded
stand-in with known slopes on the default data's year-end ratios,

    crw_it = 0.0625 + mu_i - 0.5 (car_it - 0.125) + 0.3 (npl_it - 0.012) + e_it,
    mu_i ~ N(0, 0.01^2),  e_it ~ N(0, 0.002^2),

so model 7 (CAR + controls) must recover -0.5 and 0.3 within sampling error. The science
(panel build, model list, tables) is tested in tests/test_panel*.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import assert_not_estimable, copy_root, repo_params, run_stage
from panel import PanelConfig, PanelParams
from pipeline.__main__ import main as cli_main
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet
from pipeline.replication import read_panel_csv
from pipeline.schema import CanonicalData
from pipeline.stage import not_estimable_mark
from pipeline.stages.panel import STAGE
from pipeline.report.core import ReportContext, render_report
from pipeline.report.sections import panel_regressions

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "reference" / "panel"
MODELS = [
    {"name": "m1", "regulators": ["car", "lcr"], "interactions": [["car", "lcr"]]},
    {"name": "m2", "regulators": ["car", "ldr"], "interactions": [["car", "ldr"]]},
    {"name": "m3", "regulators": ["car", "liq"], "interactions": [["car", "liq"]]},
    {"name": "m4", "regulators": ["lev", "lcr"], "interactions": [["lev", "lcr"]]},
    {"name": "m5", "regulators": ["lev", "ldr"], "interactions": [["lev", "ldr"]]},
    {"name": "m6", "regulators": ["lev", "liq"], "interactions": [["lev", "liq"]]},
    {"name": "m7", "regulators": ["car"]},
    {"name": "m8", "regulators": ["lev"]},
    {"name": "m9", "regulators": ["lcr"]},
]
#: The ``panel`` group exactly as in params.yaml.
PANEL = repo_params()["panel"]
TABLE_FILES = ("table1.csv", "table1.tex", "table1.html", "table2.csv", "table2.tex", "table2.html")
PARQUET = ("panel/panel", "panel/coefficients", "panel/fit_stats", "panel/descriptives", "panel/table1", "panel/table2")


def read(root: Path, name: str) -> pd.DataFrame:
    return read_parquet(root / artifact(name).path)


def stand_in_crw(balance_sheet: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    bs = balance_sheet[balance_sheet["period_end"].dt.month == 12]
    rng = np.random.default_rng(seed)
    banks = sorted(bs["bank_id"].unique())
    mu = dict(zip(banks, rng.normal(0.0, 0.01, len(banks))))
    npl = bs["npl"] if "npl" in bs.columns else 0.012  # the real cn-banks data has no NPL ratio
    car = bs["car"] if "car" in bs.columns else 0.125  # nor the US toolbox workbook a CAR
    crw = (0.0625 + bs["bank_id"].map(mu) - 0.5 * (car - 0.125) + 0.3 * (npl - 0.012)
           + rng.normal(0.0, 0.002, len(bs)))
    return pd.DataFrame({"bank_id": bs["bank_id"].to_numpy(), "year": bs["period_end"].dt.year.astype("int64").to_numpy(),
                         "crw": crw.to_numpy()})


def make_tree(root: Path, default_root: Path) -> Path:
    """A data root: the default canonical tables and the stand-in CRW."""
    copy_root(default_root, root, "balance_sheet")
    write_parquet(stand_in_crw(read(root, "balance_sheet")), root / artifact("crw").path, key=["bank_id", "year"])
    return root


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, default_root) -> Path:
    root = make_tree(tmp_path_factory.mktemp("panel_stage"), default_root)
    run_stage(root, "panel")
    return root


def test_stage_writes_every_artifact_sorted_with_statuses(default_run):
    out = default_run / "data" / "processed" / "panel"
    for name in TABLE_FILES:
        assert (out / name).is_file(), name
    for name in PARQUET:
        assert (default_run / artifact(name).path).is_file(), name
    coef = read(default_run, "panel/coefficients")
    fits = read(default_run, "panel/fit_stats")
    assert list(coef.columns[:6]) == ["model", "term", "estimate", "std_error", "t_stat", "p_value"]
    assert coef.equals(coef.sort_values(["model", "term"], kind="mergesort").reset_index(drop=True))
    assert list(fits["model"]) == [f"m{i}" for i in range(1, 10)]
    assert {"nobs", "banks", "r2_within", "hausman", "hausman_p", "chosen", "status"} <= set(fits.columns)
    assert (fits["status"] == "ok").all() and set(fits["chosen"]) <= {"fe", "re"}
    # LCR starts in 2014 in the default data: models with LCR lose the earlier bank-years
    assert fits.set_index("model").loc[["m1", "m4", "m9"], "nobs"].tolist() == [112, 112, 112]
    assert (fits.set_index("model").loc[["m2", "m7"], "nobs"] == 224).all()
    assert set(coef.loc[coef.model == "m1", "term"]) == {"car", "lcr", "car:lcr", "npl", "nim", "loan_growth"} | (
        {"const"} if fits.set_index("model").at["m1", "chosen"] == "re" else set())


def test_stage_recovers_the_known_slopes_of_the_stand_in(default_run):
    c = read(default_run, "panel/coefficients").set_index(["model", "term"])
    for term, truth in (("car", -0.5), ("npl", 0.3)):
        est, se = c.loc[("m7", term), ["estimate", "std_error"]]
        assert abs(est - truth) < 4 * se, (term, est, se)
    fits = read(default_run, "panel/fit_stats").set_index("model")
    assert fits.at["m7", "r2_within"] > 0.5
    # the stand-in's bank effects are independent of the ratios: Hausman should not reject in model 7
    assert fits.at["m7", "hausman_p"] > 0.01


def test_quality_records_rows_dropped_per_model(default_run):
    q = read(default_run, "quality/panel")
    missing = q[q.reason == "missing_value"]
    assert len(missing) and (missing.action == "excluded").all() and set(missing.table) == {"panel"}
    # 16 banks x 2007..2013 without LCR, in each of m1, m4, m9
    assert missing["n_rows"].sum() == 3 * 16 * 7
    assert missing["detail"].str.contains("model m1: missing lcr").any()


def test_tables_have_the_nine_columns_and_the_statistics_rows(default_run):
    out = default_run / "data" / "processed" / "panel"
    t2 = pd.read_csv(out / "table2.csv", keep_default_na=False, index_col=0)
    assert list(t2.columns) == [f"m{i}" for i in range(1, 10)]
    labels = list(t2.index)
    for row in ("CAR", "CAR × LCR", "LEV × LIQ", "NPL", "Within R²", "Observations", "Banks", "Hausman χ²",
                "Hausman p-value", "Estimator"):
        assert row in labels
    est = t2.loc["CAR", "m7"]
    coef = read(default_run, "panel/coefficients").set_index(["model", "term"]).loc[("m7", "car")]
    assert est.startswith(f"{coef.estimate:.3f}")
    tex = (out / "table2.tex").read_text(encoding="utf-8")
    assert "\\begin{tabular}" in tex and "CAR $\\times$ LCR" in tex
    assert (out / "table1.html").read_text(encoding="utf-8").startswith('<table class="panel-table">')
    t1 = pd.read_csv(out / "table1.csv")
    assert list(t1["Variable"]) == ["CRW", "CAR", "LCR", "LDR", "LIQ", "LEV", "NPL", "NIM", "LOAN GROWTH"]
    assert t1.set_index("Variable").at["LCR", "N"] == 112


def test_table_artifacts_are_the_csv_cells(default_run, tmp_path, default_root):
    """panel/table1 and panel/table2 hold exactly the cells of table1.csv / table2.csv (params' brackets, digits)."""
    out = default_run / "data" / "processed" / "panel"
    for name in ("table1", "table2"):
        frame = read(default_run, f"panel/{name}")
        csv = pd.read_csv(out / f"{name}.csv", dtype=str, keep_default_na=False)
        assert list(frame.columns) == [c if not c.startswith("Unnamed") else "" for c in csv.columns]
        assert frame.to_numpy().tolist() == csv.to_numpy().tolist()
    assert re.fullmatch(r"0\.\d{4}", read(default_run, "panel/table1").set_index("Variable").at["CRW", "mean"])  # digits + 1
    root = make_tree(tmp_path, default_root)
    run_stage(root, "panel", panel={"brackets": "t", "digits": 2})
    t2 = read(root, "panel/table2")
    assert t2.loc[1, "m7"].startswith("[") and len(t2.loc[0, "m7"].rstrip("*").split(".")[1]) == 2


def test_rerun_gives_identical_bytes(tmp_path, default_run, default_root):
    root = make_tree(tmp_path, default_root)
    run_stage(root, "panel")
    for name in (*PARQUET, "quality/panel"):
        rel = artifact(name).path
        assert (root / rel).read_bytes() == (default_run / rel).read_bytes(), name
    for name in TABLE_FILES:
        rel = Path(artifact("panel/tables").path) / name
        assert (root / rel).read_bytes() == (default_run / rel).read_bytes(), name


def test_lagged_regressors_drop_each_banks_first_year(tmp_path, default_root):
    root = make_tree(tmp_path, default_root)
    run_stage(root, "panel", panel={"lagged": True, "models": MODELS[6:8]})
    fits = read(root, "panel/fit_stats").set_index("model")
    assert fits.at["m7", "nobs"] == 224 - 16
    q = read(root, "quality/panel")
    assert q["reason"].eq("no_year_end_ratios").sum() == 16  # the first CRW year of every bank has no t-1 report


def test_params_yaml_group_is_the_science_defaults():
    """params.yaml's panel group = PanelParams() (the nine models written out) = PanelConfig's estimator defaults."""
    given = PanelParams.from_mapping(PANEL, where="panel")
    assert given.specs() == PanelParams().specs()
    assert dataclasses_equal(given, PanelParams(), but=("models",))
    assert PanelParams().panel_config() == PanelConfig()


def dataclasses_equal(a, b, *, but=()) -> bool:
    import dataclasses

    return all(getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(a) if f.name not in but)


def test_bad_params_stop_the_stage(tmp_path, default_root):
    from measures.core.config import ConfigError

    root = make_tree(tmp_path, default_root)
    with pytest.raises(ConfigError, match="panel: effects='bank' is not allowed; allowed values"):
        run_stage(root, "panel", panel={"effects": "bank"})
    with pytest.raises(ConfigError, match="panel: unknown option.*modles"):
        run_stage(root, "panel", panel={"modles": []})
    assert_not_estimable(run_stage(root, "panel", panel={"models": [{"name": "x", "regulators": ["zzz"]}], "missing_columns": "raise"}), r"model 'x': missing column\(s\) zzz.*missing_columns: skip")


def test_report_section_builds_from_the_artifacts(default_run):
    data = default_run / "data"
    ctx = ReportContext.open(default_run, {})
    section = panel_regressions.build(ctx)
    assert section is not None and section.metrics["models_estimated"] == 9
    html = render_report(ctx, [section])
    assert "Descriptive statistics of the panel variables" in html and "Contagion risk weight on capital and liquidity" in html
    assert "CAR × LCR" in html and "Hausman χ²" in html
    assert set(section.metrics["models"]) == {f"m{i}" for i in range(1, 10)}
    assert panel_regressions.build(ReportContext.open(data.parent / "nothing", {})) is None


# ---------------------------------------------------------------- replication mode


def _cli(args: list[str], capsys) -> tuple[int, str]:
    code = cli_main(args)
    return code, capsys.readouterr().err


def test_cli_replicates_plm_on_the_reference_panel(tmp_path, capsys):
    params = tmp_path / "fe.yaml"
    params.write_text(yaml.safe_dump({"panel": {**PANEL, "choose": "fe"}}), encoding="utf-8")
    code, err = _cli(["panel", "--input", str(REFERENCE / "panel.csv"), "--out", str(tmp_path / "out"),
                      "--params", str(params)], capsys)
    assert code == 0 and err == ""
    ref = json.loads((REFERENCE / "reference.json").read_text(encoding="utf-8"))["models"]
    coef = pd.read_csv(tmp_path / "out" / "coefficients.csv")
    assert list(coef.columns) == ["model", "term", "estimate", "std_error", "t_stat", "p_value"]
    for model in (f"m{i}" for i in range(1, 10)):
        got = coef[coef.model == model].set_index("term")
        for term, value in ref[model]["fe_coef"].items():
            assert got.at[term, "estimate"] == pytest.approx(value, abs=1e-8)
            assert got.at[term, "std_error"] == pytest.approx(ref[model]["se_sss"][term], abs=1e-6)
    fits = pd.read_csv(tmp_path / "out" / "fit_stats.csv")
    assert list(fits.columns) == ["model", "nobs", "banks", "r2_within", "hausman", "hausman_p", "chosen"]
    assert (fits["chosen"] == "fe").all() and (fits["banks"] == 18).all()
    for r in fits.itertuples():
        assert r.nobs == ref[r.model]["nobs"]
        assert r.hausman == pytest.approx(ref[r.model]["hausman_sigmaless"], rel=1e-6)
    for name in ("table1.csv", "table2.csv", "table2.tex", "table2.html", "exclusions.csv"):
        assert (tmp_path / "out" / name).is_file()


def test_cli_default_params_choose_by_hausman(tmp_path, capsys):
    code, _ = _cli(["panel", "--input", str(REFERENCE / "panel.csv"), "--out", str(tmp_path)], capsys)
    assert code == 0
    fits = pd.read_csv(tmp_path / "fit_stats.csv").set_index("model")
    # bank effects are correlated with CAR in the generated panel: FE wherever CAR enters
    assert list(fits.loc[["m1", "m2", "m3", "m7"], "chosen"]) == ["fe"] * 4
    assert list(fits.loc[["m4", "m5", "m6", "m8", "m9"], "chosen"]) == ["re"] * 5
    counts = pd.read_csv(REFERENCE / "panel.csv").groupby("bank_id").size()
    assert counts.nunique() > 1  # the panel is unbalanced
    # the worked example of docs/replication.md is this run's Table 2
    doc = (REPO / "docs" / "replication.md").read_text(encoding="utf-8")
    excerpt = doc.split("An excerpt of `replication/table2.csv`")[1].split("How to read it")[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in excerpt.splitlines() if line.startswith("|")]
    header, body = rows[0], rows[2:]
    table = pd.read_csv(tmp_path / "table2.csv", keep_default_na=False, dtype=str)
    assert header[1:] == ["m1", "m4", "m7", "m9"]
    expected = [r for r in table[[table.columns[0], *header[1:]]].values.tolist() if any(r[1:])]  # rows empty here omitted
    assert body == expected


def test_python_m_pipeline_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pipeline", "panel", "--input", str(tmp_path / "none.csv"), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 2 and "none.csv: file not found" in proc.stderr


def _bad_csv(tmp_path: Path, edit) -> Path:
    frame = pd.read_csv(REFERENCE / "panel.csv", dtype=str, keep_default_na=False)
    frame = edit(frame)
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def test_cli_missing_column_raises_or_skips(tmp_path, capsys):
    path = _bad_csv(tmp_path, lambda f: f.drop(columns="lev"))
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump({"panel": {**PANEL, "missing_columns": "raise"}}), encoding="utf-8")
    code, err = _cli(["panel", "--input", str(path), "--out", str(tmp_path / "a"), "--params", str(strict)], capsys)
    assert code == 2 and "missing column(s) lev (used by m4, m5, m6, m8)" in err
    code, err = _cli(["panel", "--input", str(path), "--out", str(tmp_path / "b")], capsys)
    assert code == 0 and "model m4 not estimated: failed:MissingColumn" in err
    assert list(pd.read_csv(tmp_path / "b" / "fit_stats.csv")["model"]) == ["m1", "m2", "m3", "m7", "m9"]


def test_cli_absorbed_and_collinear_regressors_name_model_and_variable(tmp_path, capsys):
    def edit(f):
        f = f.copy()
        f["car"] = f.groupby("bank_id")["car"].transform("first")  # constant within every bank
        f["liq"] = f["ldr"]  # perfectly collinear with ldr in a model holding both
        return f

    path = _bad_csv(tmp_path, edit)
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({"panel": {**PANEL, "models": [*MODELS[:3], MODELS[4],
                                                                    {"name": "both", "regulators": ["ldr", "liq"]}]}}),
                      encoding="utf-8")
    code, err = _cli(["panel", "--input", str(path), "--out", str(tmp_path / "out"), "--params", str(params)], capsys)
    assert code == 0
    assert "model m1 not estimated: failed:ValueError: model 'm1': regressor 'car' is constant within every bank" in err
    assert "model 'both': regressor 'liq' is perfectly collinear with ldr" in err
    assert list(pd.read_csv(tmp_path / "out" / "fit_stats.csv")["model"]) == ["m5"]


def test_read_panel_csv_treats_empty_and_na_as_missing(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("bank_id,year,crw,car\nA,2010,0.1,\nA,2011,NA,0.12\nB,2010, 0.2 ,0.13\n", encoding="utf-8")
    frame = read_panel_csv(path, ["crw", "car", "lev"])
    assert list(frame.columns) == ["bank_id", "year", "crw", "car"]
    assert np.isnan(frame.at[0, "car"]) and np.isnan(frame.at[1, "crw"]) and frame.at[2, "crw"] == 0.2


# ---------------------------------------------------------------- what the data lack


def test_models_without_their_columns_are_skipped_and_listed(tmp_path, default_root):
    root = make_tree(tmp_path, default_root)
    path = root / artifact("balance_sheet").path
    write_parquet(read(root, "balance_sheet").drop(columns=["lcr"]), path, key=["bank_id", "period_end"])
    run_stage(root, "panel")
    fits = read(root, "panel/fit_stats").set_index("model")
    skipped = fits[fits["status"].str.startswith("failed:MissingColumn")].index.tolist()
    assert skipped == ["m1", "m4", "m9"] and (fits.drop(index=skipped)["status"] == "ok").all()
    q = read(root, "quality/panel")
    assert sorted(q.loc[q.reason == "model_skipped", "detail"].str.split(":").str[0]) == ["model m1", "model m4", "model m9"]
    assert q["detail"].str.startswith("lcr (lcr) is absent from the balance sheet").any()
    tex = (root / artifact("panel/tables").path / "table2.tex").read_text(encoding="utf-8")
    assert "Not estimated: m1 (no lcr in the data); m4 (no lcr in the data); m9 (no lcr in the data)." in tex


def test_bad_input_no_balance_sheet_is_not_estimable(tmp_path, default_root):
    root = make_tree(tmp_path, default_root)
    (root / artifact("balance_sheet").path).unlink()
    assert_not_estimable(run_stage(root, "panel"), r"^no balance_sheet table")
    mark = not_estimable_mark(root / artifact("panel/coefficients").path, artifact("panel/coefficients"))
    assert "year-end (31 December) rows of car, leverage_ratio" in mark["needs"]


def canonical(root: Path) -> CanonicalData:
    return CanonicalData(banks=read(root, "banks"), prices=read(root, "prices"), balance_sheet=read(root, "balance_sheet"))


def test_check_hook_on_the_default_data(default_root):
    lines = STAGE.check(canonical(default_root), {"panel": PanelParams.from_mapping(PANEL, where="panel")})
    assert lines == [("estimates", "models m1, m2, m3, m4, m5, m6, m7, m8, m9 (of 9) on 16 banks with year-end "
                                   "(31 December) rows, CRW years 2007–2020; the CRW comes from the contagion stage")]
    bad = CanonicalData(banks=read(default_root, "banks"), prices=read(default_root, "prices"),
                        balance_sheet=pd.DataFrame({"bank_id": ["A"]}))
    (kind, text), = STAGE.check(bad, {"panel": PanelParams()})
    assert kind == "cannot" and "the balance sheet cannot be read for the panel" in text


# ---------------------------------------------------------------- real data (no params beyond the data section)

CN_DATA = {"source": "files", "format": "wind", "raw_dir": "cn-banks/wind-exports", "currency": "CNY",
           "start": "2007-01-01", "end": None, "publication_lag_days": 120}
US_DATA = {"source": "files", "format": "toolbox", "raw_dir": "us-financials", "files": {"workbook": "Example_Large.xlsx"},
           "money_unit": "USD m", "currency": "USD", "start": None, "end": None, "publication_lag_days": 45}


def real_run(tmp_path: Path, shared_data: Path, data: dict) -> dict:
    """Ingest the real data and write the stand-in CRW (the contagion stage's output in a full run)."""
    data = {**data, "raw_dir": str(shared_data / data["raw_dir"])}
    run_stage(tmp_path, "ingest", data=data)
    write_parquet(stand_in_crw(read(tmp_path, "balance_sheet")), tmp_path / artifact("crw").path, key=["bank_id", "year"])
    return data


@pytest.mark.realdata
def test_cn_banks_default_list_is_not_estimable_and_says_what_runs(tmp_path, shared_data):
    """The Wind exports have CAR and LDR but none of the controls: every default model is skipped, the stage
    is not estimable (exit 0, the DAG goes on) and says which models the data can carry."""
    data = real_run(tmp_path, shared_data, CN_DATA)
    lines = STAGE.check(canonical(tmp_path), {"panel": PanelParams.from_mapping(PANEL, where="panel")})
    assert [k for k, _ in lines] == ["cannot"] and "m2 lacks npl, nim, loan_growth" in lines[0][1]
    ctx = run_stage(tmp_path, "panel", data=data)
    reason = assert_not_estimable(ctx, r"m1 lacks lcr, npl, nim, loan_growth; m2 lacks npl, nim, loan_growth; .*"
                                       r"columns available: crw, car, ldr, ln_assets")
    mark = not_estimable_mark(tmp_path / artifact("panel/fit_stats").path, artifact("panel/fit_stats"))
    assert "leverage_ratio (leverage ratio; for m4, m5, m6, m8)" in mark["needs"]
    assert "set panel.models to the models on the columns you have (m2, m7) and panel.controls to []" in mark["needs"]
    q = read(tmp_path, "quality/panel")
    unavailable = set(q.loc[q.reason == "ratio_unavailable", "detail"].str.split(" ").str[0])
    assert {"lcr", "leverage_ratio", "liquidity_ratio", "npl", "nim", "loan_growth"} <= unavailable
    assert "not_estimable" in set(q["action"]) and reason
    # following the advice: the two models on CAR and LDR, with the size control the data have
    run_stage(tmp_path, "panel", data=data, panel={"controls": ["ln_assets"], "models": [MODELS[1], MODELS[6]]})
    fits = read(tmp_path, "panel/fit_stats").set_index("model")
    assert (fits["status"] == "ok").all() and (fits["banks"] == 16).all() and (fits["nobs"] > 80).all()


@pytest.mark.realdata
def test_us_workbook_default_list_is_not_estimable_with_what_to_add(tmp_path, shared_data):
    """The toolbox workbook has total assets, liabilities and equity only: no regulator of the list."""
    data = real_run(tmp_path, shared_data, US_DATA)
    (kind, text), = STAGE.check(canonical(tmp_path), {"panel": PanelParams.from_mapping(PANEL, where="panel")})
    assert kind == "cannot" and "columns available: crw, ln_assets" in text
    assert_not_estimable(run_stage(tmp_path, "panel", data=data), r"m7 lacks car, npl, nim, loan_growth; .*"
                                                                   r"columns available: crw, ln_assets")
    mark = not_estimable_mark(tmp_path / artifact("panel/coefficients").path, artifact("panel/coefficients"))
    assert "car (capital adequacy ratio; for m1, m2, m3, m7)" in mark["needs"]
    assert "no model of the list has its dependent variable and regulators in the data" in mark["needs"]
    for name in PARQUET:
        assert read(tmp_path, name).empty, name
