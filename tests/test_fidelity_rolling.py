"""``contagion.window: rolling`` with the default panel, through the stages: contagion (rolling windows)
→ panel (Tables 1–3) → the report's contagion and panel sections.

The ΔCoVaR input is a planted VAR (tests/test_contagion_chain.py) on six of the default data's banks
over 2013–2016, so the default balance sheet's year-end ratios join; windows are coarse (step 125)
to keep the run short; the panel group is params.yaml's with two of its nine models. Before the rolling CRW was made yearly the panel stage stopped with
"missing column(s) year".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_root, run_stage
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet
from test_contagion_chain import planted

BANKS = ("CCB01", "CCB02", "CCB03", "JSB01", "JSB02", "JSB03")
ROLLING = {"window": "rolling", "window_length": 250, "step": 125, "connectedness": {"step": 125}}
#: Two of the default nine models (one with LCR, one without; the rest of the panel group, Table 3's
#: variants included, as in params.yaml), to keep the run short.
TWO_MODELS = {"models": [{"name": "m1", "regulators": ["car", "lcr"], "interactions": [["car", "lcr"]]},
                         {"name": "m7", "regulators": ["car"]}]}


def read(root: Path, name: str) -> pd.DataFrame:
    return read_parquet(root / artifact(name).path)


@pytest.fixture(scope="module")
def rolling_run(tmp_path_factory, default_root) -> Path:
    root = copy_root(default_root, tmp_path_factory.mktemp("rolling"), "banks", "balance_sheet")
    dcc = planted(len(BANKS), (2013, 2016), 11)
    dcc["bank_id"] = dcc["bank_id"].map({f"B{k}": b for k, b in enumerate(BANKS)})
    write_parquet(dcc, root / artifact("covar_dcc").path, key=["bank_id", "date"])
    run_stage(root, "contagion", contagion=ROLLING)
    run_stage(root, "panel", panel=TWO_MODELS)  # the default panel group otherwise: Table 3 on
    return root


def window_years(root: Path, name: str) -> set[int]:
    return set(read(root, name)["window_end"].dt.year)


def test_rolling_crw_feeds_the_default_panel(rolling_run):
    crw = read(rolling_run, "crw")
    assert list(crw.columns) == ["bank_id", "window_end", "crw"] and crw["window_end"].nunique() >= 6
    years = window_years(rolling_run, "crw")
    assert years == {2013, 2014, 2015, 2016}
    panel = read(rolling_run, "panel/panel")
    assert set(panel["year"]) == years and set(panel["bank_id"]) == set(BANKS)
    assert len(panel) == len(years) * len(BANKS)
    # the last window of each year (panel.rolling_crw: last) is the bank-year's CRW
    last = crw.assign(year=crw["window_end"].dt.year.astype("int64")).sort_values("window_end").groupby(["bank_id", "year"]).tail(1)
    got = panel.set_index(["bank_id", "year"])["crw"].sort_index()
    pd.testing.assert_series_equal(got, last.set_index(["bank_id", "year"])["crw"].sort_index(), check_names=False)
    fit = read(rolling_run, "panel/fit_stats")
    assert (fit["status"] == "ok").any() and not read(rolling_run, "panel/coefficients").empty
    q = read(rolling_run, "quality/panel")
    assert q.loc[q.reason == "crw_aggregated", "detail"].str.contains("panel.rolling_crw: last").all()


def test_table3_takes_the_rolling_robustness_crw(rolling_run):
    rob = read(rolling_run, "crw_robustness")
    assert "window_end" in rob.columns and set(rob["series"]) == {"dcc"}
    long = read(rolling_run, "panel/robustness")
    assert {"baseline", "series:dcc", "lagged", "entity+time", "driscoll-kraay"} <= set(long["variant"])
    ok = long[long["status"] == "ok"]
    assert not ok.empty and set(ok["variant"]) >= {"baseline", "series:dcc"}
    assert (rolling_run / "data" / "processed" / "panel" / "table3.csv").is_file()
    assert not read(rolling_run, "panel/table3").empty


def test_report_sections_build_on_the_rolling_run(rolling_run):
    from pipeline.report.core import ReportContext, build_sections
    from pipeline.report.sections import contagion, panel_regressions

    sections = build_sections(ReportContext.open(rolling_run), [contagion, panel_regressions])
    assert [s.estimable for s in sections] == ["all", "all"]
    html = "".join(sections[1].blocks)
    assert "Table" in html and "CCB01" not in sections[1].intro
    assert sections[0].blocks
    assert "In each rolling window of <code>contagion.window_length</code>" in sections[0].intro
    assert "In each calendar year" not in sections[0].intro
