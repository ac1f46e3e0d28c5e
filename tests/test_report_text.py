"""The method text of the sections from templates: parameter values from the artifacts' provenance, text that
follows the data (the measures present, the episodes inside the sample, the scenarios run), SES in SRISK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.artifacts import artifact
from pipeline.io import write_parquet
from pipeline.report.core import ReportContext, build_section
from pipeline.report.provenance import NOT_RECORDED
from pipeline.report.sections import cascade_study, cca, interbank, srisk, system_measures

SOURCE = {"kind": "synthetic", "seed": 3}
DATES = pd.bdate_range("2010-01-04", periods=40)
EPISODES = {"episodes": [{"name": "inside", "start": "2010-01-20", "end": "2010-01-29"},
                         {"name": "later", "start": "2015-01-01", "end": "2015-02-01"}]}  # the report group


def put(root: Path, name: str, frame: pd.DataFrame, params: dict | None = None) -> None:
    prov = None if params is None else {"stage": "x", "params": params, "data_source": SOURCE, "version": "0"}
    art = artifact(name)
    write_parquet(frame, root / art.path, dtypes=art.dtypes, provenance=prov)


def test_cca_text_takes_the_recorded_parameters_and_the_episodes_inside(tmp_path):
    frame = pd.DataFrame({"bank_id": "A", "date": DATES, "distance_to_default": 2.0, "default_probability": 0.01,
                          "expected_loss": 1e9, "el_share": 1.0, "asset_vol": 0.1, "status": "ok"})
    put(tmp_path, "cca", frame, {"measures.cca": {"barrier": "kmv", "solver": "kmv", "window": 120, "horizon": 0.5,
                                                  "rate": None, "rate_state": "shibor", "rate_unit": "percent"}})
    text = cca.intro(ReportContext.open(tmp_path, EPISODES))
    assert "<code>barrier</code> = kmv" in text and "last 120 daily returns" in text and "T = 0.5 years" in text
    assert "the market state <code>shibor</code> (percent)" in text
    assert "stress episodes inside the sample (inside)" in text and "later" not in text


def test_cca_text_without_provenance_says_not_recorded(tmp_path):
    put(tmp_path, "cca", pd.DataFrame({"bank_id": ["A"], "date": DATES[:1], "distance_to_default": [1.0],
                                       "default_probability": [0.1], "expected_loss": [1.0], "el_share": [1.0],
                                       "asset_vol": [0.1], "status": ["ok"]}))
    text = cca.intro(ReportContext.open(tmp_path))
    assert f"<code>solver</code> = {NOT_RECORDED}" in text and f"rate r: {NOT_RECORDED}" in text


def test_system_measures_text_names_only_the_measures_present(tmp_path):
    frame = pd.DataFrame({"date": DATES, "measure": "turbulence", "value": np.linspace(1, 2, 40), "n_banks": 4})
    put(tmp_path, "system_measures", frame, {"measures.system": {"ar_window": 300, "turbulence_window": 60,
                                                                 "ar_components": None,
                                                                 "catfin": {"q": 0.05, "sample": "daily", "tail": 0.1}}})
    section = build_section(ReportContext.open(tmp_path, EPISODES), system_measures)
    assert "<b>Turbulence</b>" in section.intro and "<code>turbulence_window</code> = 60 days" in section.intro
    assert "4.0 on average here" in section.intro
    assert "Absorption Ratio" not in section.intro and "CATFIN" not in section.intro and "DCI" not in section.intro
    assert "of the sample (inside; shaded)" in section.intro


def test_interbank_text_lists_the_scenarios_run_with_their_parameters(tmp_path):
    scenarios = pd.DataFrame({"scenario": ["big", "shock"], "model": "sequential", "n_initial": [1, 0],
                              "n_defaulted": [1, 2], "assets_defaulted_share": 0.1, "rounds": 1,
                              "loss_share_equity": 0.1, "shortfall": 0.0})
    put(tmp_path, "interbank_scenarios", scenarios, {"stress.interbank": {
        "matrix": "maxent", "lgd": 0.6, "initial_loss": 0.4, "rv_alpha": 0.3, "rv_beta": 0.8,
        "scenarios": [{"name": "big", "ranks": [1, 2], "banks": [], "shock": 0.0},
                      {"name": "shock", "ranks": None, "banks": [], "shock": 0.05}]}})
    text = build_section(ReportContext.open(tmp_path), interbank).intro
    assert "<code>big</code> = size ranks 1–2; <code>shock</code> = common shock 5%." in text
    assert "λ = 0.6" in text and "<code>initial_loss</code> = 0.4" in text and "α = 0.3" in text and "β = 0.8" in text
    assert "<b>Figure</b>" not in text  # no bank table: no recovery figure


def test_cascade_study_text_lists_the_named_scenarios(tmp_path):
    surface = pd.DataFrame({"system": "all", "scenario": ["largest_2"], "alpha": [0.04], "beta": [0.1],
                            "failed_share": [0.5], "n_failed": [2], "rescue_cost": [1.0], "rescue_targeted": [0.5]})
    put(tmp_path, "cascade_surface", surface, {"stress.cascade": {"named_alpha": 0.03, "named": [
        {"name": "largest_2", "banks": "largest", "n": 2, "ranks": None, "exclude_ranks": None},
        {"name": "mid", "banks": None, "n": None, "ranks": [3, 5], "exclude_ranks": [1, 2]}]}})
    text = cascade_study.intro(ReportContext.open(tmp_path))
    assert "<code>largest_2</code>: the 2 largest banks; <code>mid</code>: size ranks 3–5, in the system without ranks 1–2" in text
    assert "α = 0.03" in text


def test_srisk_section_shows_ses_with_its_parameters(tmp_path):
    sr = pd.DataFrame({"bank_id": ["A", "B"], "date": DATES[-1], "beta": 1.0, "lrmes": 0.4, "srisk": [2e9, 1e9],
                       "srisk_share": [2 / 3, 1 / 3], "ses": [3e9, -1e9], "status": "ok"})
    put(tmp_path, "srisk", sr, {"measures.mes_srisk": {"k": 0.08, "ses_theta": 0.9, "ses_delta": 0.01, "ses_mes": "dyn"}})
    section = build_section(ReportContext.open(tmp_path), srisk)
    assert "<b>SES</b>" in section.intro and "θ = 0.9, δ = 0.01" in section.intro and "= dyn" in section.intro
    ranking = section.plots["ranking_latest"]
    assert list(ranking["SES (bn)"]) == [3.0, -1.0] and "SES (systemic expected shortfall)" in "".join(section.blocks)


def test_srisk_text_without_ses_column_says_nothing_of_it(tmp_path):
    sr = pd.DataFrame({"bank_id": ["A"], "date": DATES[-1:], "beta": 1.0, "lrmes": 0.4, "srisk": [2e9],
                       "srisk_share": [1.0], "status": "ok"})
    put(tmp_path, "srisk", sr, {"measures.mes_srisk": {"k": 0.08}})
    section = build_section(ReportContext.open(tmp_path), srisk)
    assert "SES" not in section.intro and "SES (bn)" not in section.plots["ranking_latest"]
