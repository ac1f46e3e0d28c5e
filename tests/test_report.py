"""The report stage: its params group, artifacts-only sections, provenance in the page, stable bytes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_root, repo_params, run_stage
from measures.core.config import ConfigError
from pipeline.artifacts import artifact
from pipeline.io import write_parquet
from pipeline.report import provenance
from pipeline.report_config import Episode, NetworkDrawing, ReportConfig
from pipeline.report.core import ReportContext, build_sections
from pipeline.report.sections import firesale, panel_regressions

SOURCE = {"kind": "synthetic", "seed": 7, "sample": {"start": "2010-01-01", "end": "2011-12-31"}}


def put(root: Path, name: str, frame: pd.DataFrame, *, stage: str | None = None, params: dict | None = None) -> None:
    """Write artifact ``name`` under ``root``, with a provenance when ``stage`` is given."""
    prov = None if stage is None else {"stage": stage, "params": params or {}, "data_source": SOURCE, "version": "0"}
    write_parquet(frame, root / artifact(name).path, provenance=prov)


# ---------------------------------------------------------------- params


def test_defaults_equal_the_params_yaml_report_group():
    group = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["report"]
    assert ReportConfig.from_mapping(group, where="report") == ReportConfig()
    assert ReportConfig().contagion == NetworkDrawing() and len(ReportConfig().episodes) == 4


@pytest.mark.parametrize(("values", "message"), [
    ({"contagion": {"layout": "grid"}},
     "report.contagion: layout='grid' is not allowed; allowed values: 'circular', 'spring'"),
    ({"contagion": {"edge_threshold": 1.5}}, r"report.contagion: edge_threshold=1.5 is out of range; allowed: \[0.0, 1.0\]"),
    ({"contagion": {"layout_seed": 1.5}}, "report.contagion: layout_seed=1.5 must be an integer"),
    ({"contagion": {"seed": 1}}, "report.contagion: unknown option.*seed.*allowed options: edge_threshold, layout, layout_seed"),
    ({"titel": "x"}, "report: unknown option.*titel.*allowed options: contagion, episodes, title"),
    ({"episodes": [{"name": "e", "start": "2009-02-01", "end": "2009-01-01"}]},
     "report.episodes.0.: start='2009-02-01' is after end='2009-01-01'"),
    ({"episodes": [{"name": "e", "start": "2009-02-30", "end": "2009-03-01"}]}, "report.episodes.0.: start='2009-02-30' is not a date"),
])
def test_bad_values_name_the_key(values, message):
    with pytest.raises(ConfigError, match=message):
        ReportConfig.from_mapping(values, where="report")


def test_the_runner_rejects_a_bad_layout_before_reading_anything(tmp_path):
    with pytest.raises(ConfigError, match="report.contagion: layout='grid'"):
        run_stage(tmp_path, "report", **{"report.contagion": {"layout": "grid"}})


def test_yaml_dates_and_an_empty_episode_list():
    cfg = ReportConfig.from_mapping({"episodes": [{"name": "e", "start": pd.Timestamp("2009-01-01").date(),
                                                   "end": "2009-01-31"}]}, where="report")
    assert cfg.episodes == (Episode(name="e", start="2009-01-01", end="2009-01-31"),)
    assert ReportConfig.from_mapping({"episodes": []}).episodes == ()


# ---------------------------------------------------------------- artifacts only


def test_the_report_imports_no_science():
    """Only the cell formatting shared with the panel tables (measures.core.cells: stars, spreadsheet guard)."""
    out = subprocess.run(["grep", "-rE", r"^\s*(from|import) (measures|panel)", "pipeline/report"], cwd=REPO,
                         capture_output=True, text=True)
    assert [line for line in out.stdout.splitlines() if not line.endswith("from measures.core.cells import stars")] == []


def _firesale_artifacts(root: Path, *, contagion: tuple[float, float]) -> None:
    alpha = np.round(np.arange(1, 11) * 0.01, 2)
    cols = ["sr", "ll", "cl", "dl", "il", "delina", "delsi", "delloss", "lossre", "losssi", "lossla", "rounds",
            "n_failed", "n_failed_liquidity", "n_failed_insolvency", "w", "tw"]
    rows = []
    for year in (2012, 2013):
        for a in alpha:
            rows.append({"year": year, "alpha": a, **{c: a * (year - 2011) for c in cols}, "status": "ok",
                         "n_banks": 5, "omega": 1e-3})
    curve = pd.DataFrame(rows)
    params = {"stress.firesale": {"il_share": 0.6, "r_star": 20.0, "alpha": {"start": 0.01, "stop": 0.1, "step": 0.01}}}
    put(root, "firesale", curve, stage="stress_firesale", params=params)
    regions = pd.DataFrame({"year": [2012], "region": ["relief"], "alpha_from": [0.01], "alpha_to": [0.1],
                            "sr_max": [0.1], "alpha_sr_max": [0.1], "n_failed_max": [0.1], "rounds_max": [0.1]})
    put(root, "firesale_regions", regions, stage="stress_firesale", params=params)
    put(root, "firesale_mean", curve.groupby("alpha")[cols].mean().reset_index(), stage="stress_firesale", params=params)
    mean_regions = pd.DataFrame({"region": ["relief", "contagion"], "alpha_from": [0.01, contagion[0]],
                                 "alpha_to": [contagion[0] - 0.01, contagion[1]], "sr_max": [0.1, 0.2],
                                 "alpha_sr_max": [0.02, 0.05], "n_failed_max": [0.0, 0.1], "rounds_max": [0.0, 0.1]})
    put(root, "firesale_mean_regions", mean_regions, stage="stress_firesale", params=params)


def test_firesale_regions_come_from_the_stage_artifact(tmp_path):
    """The section shows the stage's mean-curve regions (its il_share), never recomputes them."""
    _firesale_artifacts(tmp_path, contagion=(0.04, 0.07))
    section = build_sections(ReportContext.open(tmp_path), [firesale])[0]
    assert (section.metrics["mean_contagion_from"], section.metrics["mean_contagion_to"]) == (0.04, 0.07)
    assert section.sources == ["firesale", "firesale_regions", "firesale_mean", "firesale_mean_regions",
                               "firesale_sr_change", "firesale_phase_curves", "firesale_phases"]
    assert "<code>il_share</code> = 60%" in section.intro and "<code>r_star</code> = 20, a 5% leverage ratio" in section.intro
    assert "stress.firesale.il_share</code></td><td>0.6" in section.provenance
    assert "<b>Simulated data.</b> Every number in this section comes from simulated data (synthetic, seed 7)" \
        in section.provenance and section.metrics["data"] == "simulated"
    assert firesale.build(ReportContext.open(tmp_path / "absent")) is None


def test_panel_tables_are_the_stage_display_tables(tmp_path):
    params = {"panel": {"brackets": "t", "digits": 2, "covariance": "robust", "hausman_variance": "re"}}
    coef = pd.DataFrame({"model": ["m1", "m1", "m2", "m2"], "term": ["car", "npl", "lev", "npl"], "position": [0, 1, 0, 1],
                         "estimate": [0.5, 0.1, 0.2, 0.1], "std_error": [0.1, 0.2, 0.1, 0.2]})
    fit = pd.DataFrame({"model": ["m1", "m2", "m3"], "position": [0, 1, 2], "nobs": [30, 30, 0], "banks": [5, 5, 0],
                        "excluded": [0, 0, 0], "hausman_df": [1, 1, 0], "hausman_status": ["ok"] * 3,
                        "chosen": ["FE", "RE", ""], "status": ["ok", "ok", "failed:MissingColumns: no lcr"],
                        "r2_within": [0.1, 0.2, np.nan], "hausman": [1.0, 2.0, np.nan], "hausman_p": [0.3, 0.2, np.nan]})
    table1 = pd.DataFrame({"Variable": ["CRW"], "N": ["30"], "mean": ["0.2000"]})
    table2 = pd.DataFrame({"": ["CAR", "", "Estimator"], "m1": ["0.50***", "(5.00)", "FE"]})
    for name, frame in (("panel/coefficients", coef), ("panel/fit_stats", fit), ("panel/table1", table1),
                        ("panel/table2", table2)):
        put(tmp_path, name, frame, stage="panel", params=params)
    section = panel_regressions.build(ReportContext.open(tmp_path))
    html = "".join(section.blocks)
    assert "<td>0.50***</td>" in html and "<td>(5.00)</td>" in html and "<td>0.2000</td>" in html
    assert "Coefficients with t statistics in brackets" in html
    assert "<code>panel.covariance</code> = robust" in section.intro and "hausman_variance</code> = re" in section.intro
    assert section.metrics["models_estimated"] == 2 and section.metrics["models_not_estimated"] == 1


def test_table3_follows_table2_numbered_with_its_note_and_files(tmp_path):
    params = {"panel": {"brackets": "se", "digits": 3, "covariance": "clustered", "hausman_variance": "re"}}
    coef = pd.DataFrame({"model": ["m1"], "term": ["car"], "position": [0], "estimate": [0.5], "std_error": [0.1]})
    fit = pd.DataFrame({"model": ["m1"], "position": [0], "nobs": [30], "banks": [5], "excluded": [0], "hausman_df": [1],
                        "hausman_status": ["ok"], "chosen": ["FE"], "status": ["ok"], "r2_within": [0.1],
                        "hausman": [1.0], "hausman_p": [0.3]})
    table3 = pd.DataFrame({"": ["Terms", "Baseline", "  Regulator 1", "", "Years 2008–2009", "  Regulator 1"],
                           "m1": ["CAR", "", "0.500***", "(0.100)", "", "–"]})
    long = pd.DataFrame({"variant": ["baseline", "years:2008-2009"], "model": ["m1", "m1"], "term": ["car", ""],
                         "label": ["Baseline", "Years 2008–2009"], "status": ["ok", "failed:LinAlgError: singular"]})
    for name, frame in (("panel/coefficients", coef), ("panel/fit_stats", fit), ("panel/table1", pd.DataFrame({"N": ["30"]})),
                        ("panel/table2", pd.DataFrame({"": ["CAR"], "m1": ["0.50***"]})), ("panel/table3", table3),
                        ("panel/robustness", long)):
        put(tmp_path, name, frame, stage="panel", params=params)
    section = build_sections(ReportContext.open(tmp_path), [panel_regressions], tables=tmp_path / "tables")[0]
    html = "".join(section.blocks)
    assert html.index("<b>Table 2. </b>") < html.index("<b>Table 3. </b>Robustness of Table 2:")
    assert "Controls and effects as in Table 2 (not shown). – not estimated: Years 2008–2009 m1." in html
    assert "<td>Years 2008–2009</td>" in html and "<td>–</td>" in html
    assert sorted(p.name for p in (tmp_path / "tables").glob("tab03*")) == ["tab03_panel_table3.csv", "tab03_panel_table3.tex"]


# ---------------------------------------------------------------- provenance


def test_provenance_texts():
    files = {"kind": "files", "format": "wind", "raw_dir": "data/raw", "sample": {"start": None, "end": "2020-12-31"}}
    assert provenance.source_text(files) == "your files: format wind, raw_dir data/raw"
    assert provenance.sample_text(files) == "first date .. 2020-12-31"
    assert provenance.source_text(SOURCE) == "simulated data (synthetic, seed 7)"
    assert provenance.flatten({"b": {"y": [1, 2], "x": {"z": None}}, "a": 1.0}) == [("a", 1.0), ("b.x.z", None), ("b.y", [1, 2])]
    assert provenance.header({"banks": None}) == {"source": "provenance not recorded", "sample": "provenance not recorded",
                                                  "version": ""}
    html = provenance.section_html({"crw": None})
    assert "crw: provenance not recorded" in html and "simulated" not in html


def test_the_header_states_the_estimation_mode_and_flags_artifacts_of_the_other_mode():
    made = {"covar_dcc": {"stage": "covar_dcc", "realtime": True}, "crw": {"stage": "contagion", "realtime": True},
            "prices": {"stage": "ingest"}, "firesale": None}
    assert provenance.mode_text(True, made).startswith("real time (realtime: true): every value dated t")
    assert provenance.mode_text(True, made).endswith("docs/realtime.md)")
    stale = provenance.mode_text(False, made)
    assert stale.startswith("paper defaults (realtime: false)")
    assert stale.endswith("but the artifacts of contagion, covar_dcc were made with realtime: true (rerun dvc repro)")


@pytest.fixture(scope="module")
def report_root(default_root, tmp_path_factory) -> Path:
    """The report on the ingest and returns artifacts of the default data (other sections skipped)."""
    root = copy_root(default_root, tmp_path_factory.mktemp("report"), "prices", "banks", "balance_sheet",
                     "market_states", "episodes", "canonical/meta", "returns", "system_returns", "quality/ingest",
                     "quality/returns")
    run_stage(root, "report")
    return root


def test_report_on_the_default_data_shows_source_sample_and_parameters(report_root):
    html = (report_root / artifact("report/html").path).read_text(encoding="utf-8")
    params = repo_params()["data"]
    header = re.search(r'<dl class="source">(.*?)</dl>', html, re.S).group(1)
    assert f"simulated data (synthetic, seed {params['seed']})" in header
    assert f"{params['start']} .. {params['end']}" in header
    assert "Parameters (ingest, returns)" in html and "<code>measures.returns.system</code></td><td>sample" in html
    assert html.count('<span class="badge simulated">Simulated data</span></h2>') == 4  # sample, quality, returns, states
    assert html.count("<b>Simulated data.</b> Every number in this section comes from simulated data (synthetic, "
                      f"seed {params['seed']}), not from observed data.") == 4
    metrics = json.loads((report_root / artifact("report/metrics").path).read_text(encoding="utf-8"))
    assert sorted(metrics) == ["quality", "sample", "simulated"] and metrics["sample"]["n_banks"] == 16
    assert metrics["simulated"] == "sample"  # headline numbers by measure (pipeline.report.metrics)
    assert sorted(p.name for p in (report_root / artifact("report/plots").path).glob("*.csv"))[0] == "market_states_states.csv"
    assert not (report_root / "data/processed/quality/report.parquet").exists()  # quality=False


def test_report_bytes_are_stable(report_root, tmp_path):
    root = copy_root(report_root, tmp_path, "prices", "banks", "balance_sheet", "market_states", "episodes",
                     "canonical/meta", "returns", "system_returns", "quality/ingest", "quality/returns")
    run_stage(root, "report")
    for name in ("report/html", "report/metrics"):
        assert (root / artifact(name).path).read_bytes() == (report_root / artifact(name).path).read_bytes()


class _PoolMapper:
    """A real two-process pool (the stage's ``processes`` scheduler maps the same way)."""

    def map(self, fn, items, desc=""):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as ex:
            return list(ex.map(fn, items))


def _figure_module(values: np.ndarray):
    from types import SimpleNamespace

    from pipeline.report.core import Section, figure_html

    def build(ctx):
        blocks = []
        for k in range(3):  # each figure keeps the values it captured when figure_html was called
            data = values * (k + 1)
            blocks.append(figure_html(lambda fig, data=data: fig.subplots().plot(data), caption=f"figure {k}"))
        values[:] = 0.0  # changed after the calls: the figures must not see it
        blocks.append(f"<div>{figure_html(lambda fig: fig.subplots().bar([0, 1], [1, 2]), caption='inside')}</div>")
        return Section("fig", "Figures", "intro", blocks)

    return SimpleNamespace(build=build, ID="fig", TITLE="Figures", INTRO="intro", __name__="figure_module")


def test_figures_drawn_through_a_process_pool_equal_those_drawn_in_place(tmp_path):
    from pipeline.report.core import render_figure

    ctx = ReportContext.open(tmp_path)
    values = np.linspace(0.0, 1.0, 50)
    expected = [render_figure((lambda fig, data=values * (k + 1): fig.subplots().plot(data), f"figure {k}", 9.0, 3.6))
                for k in range(3)]
    pooled = build_sections(ctx, [_figure_module(values.copy())], mapper=_PoolMapper(),
                            figures=tmp_path / "pooled", tables=tmp_path / "tables")
    serial = build_sections(ctx, [_figure_module(values.copy())], figures=tmp_path / "serial")
    assert pooled[0].blocks == serial[0].blocks and pooled[0].figures == []
    assert "report-figure" not in "".join(pooled[0].blocks)
    for k, (block, alone) in enumerate(zip(pooled[0].blocks, expected)):  # the same image, now numbered
        assert re.search("src='(.*?)'", block).group(1) == re.search("src='(.*?)'", alone).group(1)
        assert f"<b>Figure {k + 1}. </b>figure {k}" in block
    assert "<b>Figure 4. </b>inside" in pooled[0].blocks[3]
    names = sorted(p.name for p in (tmp_path / "pooled").iterdir())
    assert len(names) == 12 and names[:3] == ["fig01_fig_figure_0.pdf", "fig01_fig_figure_0.png", "fig01_fig_figure_0.svg"]
    for name in names:  # the same bytes whichever process drew them
        assert (tmp_path / "pooled" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()


def test_a_figure_that_captures_the_report_context_is_refused(tmp_path):
    from types import SimpleNamespace

    from pipeline.report.core import Section, figure_html

    ctx = ReportContext.open(tmp_path)
    module = SimpleNamespace(ID="x", TITLE="X", INTRO="", __name__="x",
                             build=lambda c: Section("x", "X", "", [figure_html(lambda fig: c.episodes)]))
    with pytest.raises(TypeError, match="must not capture the ReportContext"):
        build_sections(ctx, [module])


def test_artifact_reads_only_the_columns_asked_for(tmp_path):
    frame = pd.DataFrame({"bank_id": ["A", "B"], "date": pd.to_datetime(["2020-01-02", "2020-01-03"]),
                          "status": ["ok", "ok"], "x": [1.0, 2.0]})
    put(tmp_path, "covar_qr", frame)
    ctx = ReportContext.open(tmp_path)
    part = ctx.artifact("covar_qr", ("bank_id", "x", "not_there"))
    assert list(part.columns) == ["bank_id", "x"] and part["x"].tolist() == [1.0, 2.0]
    whole = ctx.artifact("covar_qr")
    assert list(whole.columns) == list(frame.columns) and whole[["bank_id", "x"]].equals(part)
    assert ctx.artifact("covar_qr", ("status",))["status"].tolist() == ["ok", "ok"]
    assert ctx.used == ["covar_qr"]


def test_delta_covar_tests_take_the_last_bank_loss_coefficient_and_star_it():
    from pipeline.report.sections.spillover import delta_covar_tests, top_banks

    est = pd.DataFrame({"bank_id": ["A", "A", "A", "B", "B"],
                        "window_end": pd.to_datetime(["2019-12-31", "2020-12-31", "2020-12-31", "2020-12-31", "2020-12-31"]),
                        "equation": ["system", "system", "bank_median", "system", "system"],
                        "term": ["bank_loss", "bank_loss", "bank_loss", "bank_loss", "const"],
                        "estimate": [9.0, 0.5, 7.0, 0.1, 1.0], "std_error": [1.0, 0.1, 1.0, 0.08, 1.0],
                        "p_value": [0.5, 0.004, 0.5, 0.21, 0.001]})
    tests = delta_covar_tests(est)
    assert tests["estimate"].to_dict() == {"A": 0.5, "B": 0.1} and tests["stars"].to_dict() == {"A": "***", "B": ""}
    covar = pd.DataFrame({"bank_id": ["A", "B"], "date": pd.to_datetime(["2020-01-02"] * 2), "var_q": [0.02, 0.03],
                          "covar": [0.01, 0.02], "delta_covar": [0.01, 0.02], "status": ["ok", "ok"]})
    table = top_banks(covar, None, tests=tests)
    assert table["β (H0: ΔCoVaR = 0)"].tolist() == ["0.1000", "0.5000***"] and table["p-value"].tolist() == [0.21, 0.004]
    assert delta_covar_tests(est.drop(columns="p_value")) is None  # artifacts made before the tests existed


def test_real_time_dcc_parameter_paths_are_drawn_and_tabulated(tmp_path):
    from pipeline.report.sections import srisk

    dates = pd.to_datetime(["2019-01-31", "2019-03-01", "2019-04-01"])
    paths = pd.DataFrame({"bank_id": ["A"] * 3 + ["B"] * 3, "refit_date": list(dates) * 2,
                          "bank_alpha": 0.05, "bank_gamma": 0.04, "bank_beta": 0.9,
                          "dcc_a": [0.02, 0.03, np.nan, 0.05, 0.05, 0.06], "dcc_b": [0.95, 0.94, np.nan, 0.9, 0.9, 0.91],
                          "status": ["ok", "ok", "failed:NotConverged", "ok", "ok", "ok"]})
    put(tmp_path, "dcc_param_paths", paths)
    section = srisk.build(ReportContext.open(tmp_path))
    html = "".join(section.blocks)
    assert "Real-time DCC: parameters of each refit" in html and "Real-time DCC refits per bank" in html
    assert section.metrics["refits"] == 6 and section.metrics["failed_refits"] == 1
    median = section.plots["dcc_parameter_paths"].set_index("refit_date")["dcc_a"]
    assert median.tolist() == [0.035, 0.04, 0.045]  # A's failed refit carries its previous parameters
    put(tmp_path, "dcc_param_paths", paths.groupby("bank_id").tail(1))  # a full-sample run: one refit per bank
    assert "refits" not in srisk.build(ReportContext.open(tmp_path)).metrics
