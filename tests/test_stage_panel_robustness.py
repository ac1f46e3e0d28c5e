"""Table 3 through the stages: ``crw_robustness`` from the contagion stage, the panel stage's Table 3
(CSV, LaTeX, HTML and the long artifact), the replication CLI's ``--robustness``, a rolling-window CRW.

The CRW inputs are seeded stand-ins on the default data's year-end ratios (tests/test_stage_panel.py);
the science is tested in tests/test_panel_robustness.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run_stage
from measures.contagion import analyse_contagion, contagion_series
from measures.contagion import ContagionParams
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet
from pipeline.replication import main as replication_main
from pipeline.stage import not_estimable_mark
from pipeline.stages.panel import STAGE as PANEL_STAGE
from test_contagion_chain import planted
from test_stage_panel import make_tree, read, stand_in_crw

TABLE3 = ("table3.csv", "table3.tex", "table3.html")
#: Two of the nine models (one with LCR, which starts in 2014 in the default data), to keep the runs short.
TWO_MODELS = {"models": [{"name": "m1", "regulators": ["car", "lcr"], "interactions": [["car", "lcr"]]},
                         {"name": "m7", "regulators": ["car"]}],
              "robustness": {"subsamples": [[2008, 2013], [2014, 2020]]}}


def robustness_input(root: Path) -> pd.DataFrame:
    """``crw_robustness`` with the stand-in CRW as ``dcc`` and another seed as ``qr``."""
    bs = read(root, "balance_sheet")
    frames = [stand_in_crw(bs).assign(series="dcc"), stand_in_crw(bs, seed=5).assign(series="qr")]
    crw = pd.concat(frames, ignore_index=True)[["year", "series", "bank_id", "crw"]]
    write_parquet(crw, root / artifact("crw_robustness").path, key=["series", "bank_id", "year"])
    return crw


@pytest.fixture(scope="module")
def table3_run(tmp_path_factory, default_root) -> Path:
    root = make_tree(tmp_path_factory.mktemp("panel_table3"), default_root)
    robustness_input(root)
    run_stage(root, "panel", panel=TWO_MODELS)
    return root


def test_panel_stage_writes_table3_and_the_long_artifact(table3_run):
    out = table3_run / "data" / "processed" / "panel"
    for name in TABLE3:
        assert (out / name).is_file(), name
    long = read(table3_run, "panel/robustness").sort_values("position", kind="mergesort")
    assert list(dict.fromkeys(long["variant"])) == ["baseline", "series:dcc", "series:qr", "years:2008-2013",
                                                    "years:2014-2020", "lagged", "entity+time", "driscoll-kraay"]
    # the dcc stand-in is the baseline CRW: the same numbers
    base = long[long.variant == "baseline"].drop(columns=["variant", "label", "position"]).reset_index(drop=True)
    dcc = long[long.variant == "series:dcc"].drop(columns=["variant", "label", "position"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(base, dcc)
    coef = read(table3_run, "panel/coefficients").set_index(["model", "term"])
    b = base.set_index(["model", "term"])
    np.testing.assert_array_equal(b.loc[coef.index, "estimate"], coef["estimate"])  # baseline = Table 2
    # LCR starts in 2014: the LCR models cannot be estimated on 2008-2013 (recorded, the table goes on)
    early = long[long.variant == "years:2008-2013"].drop_duplicates("model").set_index("model")["status"]
    assert early["m1"].startswith("failed") and early["m7"] == "ok"
    q = read(table3_run, "quality/panel")
    assert q.loc[q.reason == "robustness_failed", "detail"].str.contains("years:2008-2013, model m1").any()
    t3 = read(table3_run, "panel/table3")
    assert list(t3.columns) == ["", "m1", "m7"] and "CRW from ΔCoVaR-QR" in set(t3[""])
    tex = (out / "table3.tex").read_text(encoding="utf-8")
    assert r"CRW from $\Delta$CoVaR-QR" in tex and r"\caption{Table 3." in tex
    assert '<table class="panel-table">' in (out / "table3.html").read_text(encoding="utf-8")


def test_replication_cli_robustness_gives_the_same_table3(table3_run, tmp_path):
    panel = read(table3_run, "panel/panel")
    qr = read(table3_run, "crw_robustness").query("series == 'qr'")[["bank_id", "year", "crw"]]
    csv = panel.merge(qr.rename(columns={"crw": "crw_qr"}), on=["bank_id", "year"], how="left")
    csv.to_csv(tmp_path / "panel.csv", index=False, float_format="%.17g")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"panel": TWO_MODELS}), encoding="utf-8")
    assert replication_main(["--input", str(tmp_path / "panel.csv"), "--out", str(tmp_path / "out"),
                             "--params", str(params), "--robustness"]) == 0
    for name in (*TABLE3, "robustness.csv"):
        assert (tmp_path / "out" / name).is_file(), name
    got = pd.read_csv(tmp_path / "out" / "robustness.csv", keep_default_na=False, na_values=[""])
    want = read(table3_run, "panel/robustness")
    # every variant but the lagged one is identical (the CLI lags within the file, the stage reads the t-1 balance sheet)
    keep = ~want.variant.isin(["lagged", "series:dcc"])
    order = ["variant", "model", "term"]
    w = want[keep].sort_values(order).reset_index(drop=True)
    g = got[got.variant.isin(w.variant)].sort_values(order).reset_index(drop=True)
    cols = ["variant", "model", "term", "status"]
    pd.testing.assert_frame_equal(g[cols].fillna("").astype(str), w[cols].fillna("").astype(str))
    np.testing.assert_allclose(g["estimate"], w["estimate"], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(g["std_error"], w["std_error"], rtol=1e-10, equal_nan=True)


def test_panel_stage_without_robustness_reads_no_crw_robustness(tmp_path, default_root):
    root = make_tree(tmp_path / "root", default_root)
    configs = {"panel": PANEL_STAGE.params["panel"].from_mapping({"robustness": {"enabled": False}})}
    assert PANEL_STAGE.inputs_for(configs) == ("crw", "balance_sheet")
    run_stage(root, "panel", panel={**TWO_MODELS, "robustness": {"enabled": False}})
    assert read(root, "panel/robustness").empty and not (root / "data/processed/panel/table3.csv").exists()


def test_bad_input_panel_robustness_series_the_input_lacks(tmp_path, default_root):
    root = make_tree(tmp_path / "root", default_root)
    robustness_input(root)
    run_stage(root, "panel", panel={**TWO_MODELS, "robustness": {"series": ["spillover"]}})
    mark = not_estimable_mark(root / artifact("panel/robustness").path, artifact("panel/robustness"))
    assert mark and "panel.robustness.series lists spillover" in mark["reason"]
    assert "contagion.robustness_series" in mark["needs"]
    assert not read(root, "panel/coefficients").empty  # Tables 1-2 are written as usual


def test_rolling_window_crw_feeds_the_panel(tmp_path, default_root):
    """``contagion.window: rolling`` with the default panel: the CRW is made yearly (last window of the year)."""
    root = make_tree(tmp_path / "root", default_root)
    yearly = read(root, "crw")
    rows = []
    for month, shift in ((6, 0.01), (12, 0.0)):  # the December window carries the yearly value
        rows.append(yearly.assign(window_end=pd.to_datetime(yearly["year"].astype(str) + f"-{month:02d}-28"),
                                  crw=yearly["crw"] + shift))
    rolling = pd.concat(rows, ignore_index=True)[["bank_id", "window_end", "crw"]]
    write_parquet(rolling, root / artifact("crw").path, key=["bank_id", "window_end"])
    run_stage(root, "panel", panel={**TWO_MODELS, "robustness": {"enabled": False}})
    got = read(root, "panel/panel")[["bank_id", "year", "crw"]]
    want = yearly.merge(got[["bank_id", "year"]], on=["bank_id", "year"])
    np.testing.assert_array_equal(got.sort_values(["bank_id", "year"])["crw"], want.sort_values(["bank_id", "year"])["crw"])
    q = read(root, "quality/panel")
    assert q.loc[q.reason == "crw_aggregated", "detail"].str.contains("panel.rolling_crw: last").all()


def test_contagion_stage_writes_the_crw_of_every_robustness_series(tmp_path):
    dcc, qr = planted(5, (2010, 2011), 3), planted(5, (2010, 2011), 8)
    write_parquet(dcc, tmp_path / artifact("covar_dcc").path, key=["bank_id", "date"])
    write_parquet(qr, tmp_path / artifact("covar_qr").path, key=["bank_id", "date"])
    run_stage(tmp_path, "contagion")  # robustness_series: dcc, qr, spillover (absent: recorded)
    rob = read_parquet(tmp_path / artifact("crw_robustness").path)
    crw = read_parquet(tmp_path / artifact("crw").path)
    assert list(rob.columns) == ["year", "series", "bank_id", "crw"] and set(rob.series) == {"dcc", "qr"}
    main = rob[rob.series == "dcc"].drop(columns="series").sort_values(["bank_id", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(main[["bank_id", "year", "crw"]], crw[["bank_id", "year", "crw"]])  # reused as is
    params = ContagionParams()
    want = analyse_contagion(contagion_series(qr).series, params.chain(), params.connectedness).panel.crw
    got = rob[rob.series == "qr"].set_index(["bank_id", "year"])["crw"]
    np.testing.assert_array_equal(got.loc[list(zip(want.bank_id, want.year))].to_numpy(), want["crw"].to_numpy())
    q = read_parquet(tmp_path / artifact("quality/contagion").path)
    assert q.loc[q.reason == "robustness_series_unavailable", "detail"].str.contains("spillover").all()
    assert (q.reason == "robustness_series_unavailable").sum() == 1


def test_check_says_which_robustness_series_the_data_cannot_give(default_root):
    from types import SimpleNamespace

    from pipeline.stages.contagion import STAGE as CONTAGION_STAGE

    data = SimpleNamespace(prices=read_parquet(default_root / artifact("prices").path), market_states=None)
    lines = CONTAGION_STAGE.check(data, {"contagion": ContagionParams()})
    skips = [text for kind, text in lines if kind == "skips" and "robustness_series" in text]
    assert len(skips) == 2 and "qr: the covar_qr ΔCoVaR needs a market_states table" in skips[0]
    assert not [t for k, t in CONTAGION_STAGE.check(data, {"contagion": ContagionParams(robustness_series=("dcc",))})
                if "robustness_series" in t]
