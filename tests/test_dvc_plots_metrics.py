"""metrics.json by measure, the series CSVs of dvc.yaml's plots, and the experiments walk-through (docs/experiments.md)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline import dag
from pipeline.report.metrics import MEASURES, headline_metrics
from pipeline.report.series import PREFIX, SERIES, write_series

REPO = Path(__file__).resolve().parents[1]
DATES = pd.bdate_range("2010-01-04", periods=30)
SYNTHETIC = {"data_source": {"kind": "synthetic", "seed": 1}}


class FakeReport:
    """The part of :class:`pipeline.report.core.ReportContext` the metrics and series read."""

    def __init__(self, frames: dict[str, pd.DataFrame], marks: dict | None = None, records: pd.DataFrame | None = None):
        self.frames, self.marks = frames, dict(marks or {})
        self.records = records if records is not None else pd.DataFrame({"action": ["excluded", "masked", "excluded"],
                                                                          "n_rows": [3, 4, 5]})

    def artifact(self, name, columns=None):
        frame = self.frames.get(name)
        return None if frame is None else frame[[c for c in columns if c in frame]] if columns else frame

    def provenance(self, name):
        return SYNTHETIC if name in self.frames else None

    def _has_parquet(self, name):
        return name in self.frames

    def quality(self):
        return self.records


def _bank_dates(values: dict[str, float], status: dict[str, str] | None = None) -> pd.DataFrame:
    rows = [{"bank_id": b, "date": d, "delta_covar": v, "status": (status or {}).get(b, "ok")} for b, v in values.items() for d in DATES]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    alpha = np.linspace(0.0, 0.2, 5)
    return {
        "returns": _bank_dates({"A": 0.0, "B": 0.0}),
        "covar_dcc": _bank_dates({"A": 0.01, "B": 0.02}),
        "covar_qr": _bank_dates({"A": 0.01, "B": 0.03, "C": 0.5}, status={"C": "failed:ValueError: x"}),
        "srisk_total": pd.DataFrame({"date": DATES, "srisk_total": [np.nan] * 5 + [float(k) * 1e9 for k in range(25)]}),
        "srisk": pd.DataFrame({"bank_id": ["A", "B"], "date": [DATES[-1]] * 2, "srisk": [1.0, 2.0]}),
        "spillover_index": pd.DataFrame({"date": DATES, "improved_index": 0.02, "traditional_index": np.linspace(0.01, 0.03, 30)}),
        "spillover_index_weekly": pd.DataFrame({"date": DATES[4::5], "improved_index": 0.02, "traditional_index": 0.01}),
        "crw": pd.DataFrame({"bank_id": ["A", "B", "A", "B"], "year": [2011, 2011, 2010, 2010], "crw": [0.3, 0.7, 0.6, 0.4]}),
        "contagion_windows": pd.DataFrame({"status": ["ok", "failed:ValueError: few banks"]}),
        "connectedness": pd.DataFrame({"total": [50.0, 70.0]}),
        "panel/fit_stats": pd.DataFrame({"model": ["m1", "m2"], "status": ["ok", "failed:x"], "nobs": [10, 0]}),
        "firesale_mean": pd.DataFrame({"alpha": alpha[::-1], "sr": [0.1, 0.5, 0.9, 0.2, 0.0]}),
        "firesale": pd.DataFrame({"status": ["ok", "ok", "warning:x"]}),
        "cascade_surface": pd.DataFrame({"system": ["all"] * 4 + ["without_largest"] * 4, "scenario": "common",
                                         "alpha": [0.0, 0.0, 0.1, 0.1] * 2, "failed_share": [0, 0.2, 0.5, 0.7, 0, 0, 1, 1]}),
        "debtrank": pd.DataFrame({"bank_id": ["A", "B"], "debtrank": [0.1, 0.3]}),
    }


#: what the sections' ``metrics`` hold for ``frames`` (the numbers metrics.json picks from them, PICK)
SECTION_METRICS = {
    "spillover": {"top_bank": "B", "covar_qr_non_ok_rows": 30, "improved_mean_pct": 2.0, "traditional_mean_pct": 2.0,
                  "corr_improved_traditional": 0.0, "covar_qr_rows": 90},
    "srisk": {"srisk_total_latest_bn": 24.0, "srisk_total_max_bn": 24.0, "srisk_total_max_date": DATES[-1],
              "latest_top_bank": "B", "latest_date": DATES[-1]},
    "contagion": {"failed_windows": 1, "dy_total": {"mean": 60.0, "min": 50.0, "max": 70.0}},
    "panel": {"models_estimated": 1, "models_not_estimated": 1, "models": {}},
    "cascade": {"debtrank_max": 0.3, "mean_failed_share_all": 0.35, "mean_failed_share_without_largest": 0.5},
    "coes": {"delta_coes_mean_pct_dcc": 1.5, "delta_coes_mean_pct_qr": 1.4, "top_bank_dcc": "B", "top_bank_qr": "A",
             "kendall_tau_covar_coes_qr": 0.5, "conditioning_dcc": "equal", "delta_covar_mean_pct_dcc": 1.5},
    "cca": {"dd_median_latest": 5.0, "dd_median_min": 1.0, "dd_median_min_date": DATES[3],
            "expected_loss_total_max_bn": 2.0, "expected_loss_total_max_date": DATES[3], "top_share_bank_latest": "A",
            "rows": {"ok": 10}},
    "system_measures": {m: {"mean": 1.0, "max": 2.0, "date_of_max": DATES[2], "last": 1.5}
                        for m in ("absorption_ratio", "turbulence", "catfin", "dci")},
    "early_warning": {"best_series_h20": "catfin", "best_auc_h20": 0.8, "best_series_h60": "turbulence",
                      "best_auc_h60": 0.7, "series_evaluated": 10, "tau_median": 0.1},
}


def test_headline_metrics_by_measure_with_known_values(frames):
    m = headline_metrics(FakeReport(frames), SECTION_METRICS)
    assert m["covar_qr"] == {"mean_pct": 2.0, "top_bank": "B", "top_bank_mean_pct": 3.0, "rows_not_ok": 30}  # failed C left out
    assert m["covar_dcc"]["mean_pct"] == pytest.approx(1.5) and m["covar_dcc"]["top_bank"] == "B"
    assert "top_bank" not in m["spillover"] and m["spillover"]["improved_mean_pct"] == pytest.approx(2.0)
    assert m["srisk"] == {"total_latest_bn": 24.0, "total_max_bn": 24.0, "total_max_date": "2010-02-12", "top_bank": "B"}
    assert m["contagion"] == {"n_windows": 2, "crw_top_bank_last": "B", "crw_max_pct_last": 70.0, "failed_windows": 1,
                              "dy_total_mean": 60.0}
    assert m["panel"] == {"models_estimated": 1, "models_not_estimated": 1, "max_nobs": 10}
    assert m["firesale"] == {"sr_max": 0.9, "alpha_sr_max_pct": 10.0, "runs": 3, "runs_not_ok": 1}
    assert m["cascade"] == {"mean_failed_share_all": pytest.approx(0.35), "mean_failed_share_without_largest": 0.5,
                            "debtrank_max": 0.3, "debtrank_top_bank": "B"}
    assert m["quality"] == {"n_records": 3, "rows_excluded": 8, "rows_masked": 4}
    assert m["sample"] == {"n_banks": 2, "n_days": 30, "first_date": "2010-01-04", "last_date": "2010-02-12"}
    assert m["coes"] == {"delta_coes_mean_pct_dcc": 1.5, "delta_coes_mean_pct_qr": 1.4, "top_bank_dcc": "B",
                         "top_bank_qr": "A", "kendall_tau_covar_coes_qr": 0.5, "conditioning_dcc": "equal"}
    assert m["system_measures"]["catfin_max"] == 2.0 and m["granger_network"]["dci_mean"] == 1.0
    assert m["early_warning"]["best_series_h60"] == "turbulence" and m["cca"]["dd_median_min"] == 1.0
    no_frames = ("quality", "interbank", "cca", "granger_network", "system_measures", "early_warning")  # not in the fake's frames
    assert m["simulated"] == ", ".join(k for k in MEASURES if k not in no_frames)


def test_headline_metrics_take_the_sections_numbers(frames):
    """One source: a number a section shows is the one in metrics.json, not recomputed from the artifacts."""
    sections = {**SECTION_METRICS, "srisk": {**SECTION_METRICS["srisk"], "latest_top_bank": "Z"},
                "spillover": {**SECTION_METRICS["spillover"], "top_bank": "Y"}}
    m = headline_metrics(FakeReport(frames), sections)
    assert m["srisk"]["top_bank"] == "Z" and m["covar_qr"]["top_bank"] == "Y"
    assert "top_bank" not in headline_metrics(FakeReport(frames), {})["covar_qr"]  # no section: not computed twice


def test_headline_metrics_are_numbers_except_bank_ids_and_dates(frames):
    strings = {"top_bank", "crw_top_bank_last", "debtrank_top_bank", "first_date", "last_date", "total_max_date",
               "top_bank_dcc", "top_bank_qr", "conditioning_dcc", "dd_median_min_date", "expected_loss_total_max_date",
               "top_share_bank_latest", "best_series_h20", "best_series_h60", "dci_date_of_max",
               *(f"{m}_date_of_max" for m in ("absorption_ratio", "turbulence", "catfin"))}
    for measure, values in headline_metrics(FakeReport(frames), SECTION_METRICS).items():
        if measure in ("simulated", "not_estimable"):
            continue
        assert isinstance(values, dict) and len(values) <= 6, measure  # a few headline numbers, no nesting
        for key, value in values.items():
            assert isinstance(value, str) if key in strings else isinstance(value, (int, float)), (measure, key, value)


def test_headline_metrics_leave_out_absent_measures_and_list_marked_ones(frames):
    partial = {k: v for k, v in frames.items() if k not in ("covar_qr", "srisk_total", "srisk")}
    sections = {k: v for k, v in SECTION_METRICS.items() if k not in ("srisk", "spillover", "coes")}
    m = headline_metrics(FakeReport(partial, marks={"covar_qr": {"reason": "no states", "needs": "states"}}), sections)
    assert "covar_qr" not in m and "srisk" not in m and "coes" not in m
    assert m["not_estimable"] == "covar_qr, coes"  # CoES reads covar_qr too


def test_series_files_have_the_columns_dvc_yaml_plots_declare(frames, tmp_path):
    (tmp_path / f"{PREFIX}stale.csv").write_text("x\n1\n")
    (tmp_path / "section_kept.csv").write_text("x\n1\n")  # the sections' CSVs are not touched
    assert write_series(tmp_path, FakeReport(frames)) == list(SERIES)
    assert not (tmp_path / f"{PREFIX}stale.csv").exists() and (tmp_path / "section_kept.csv").exists()
    for plot_id, (x, ys, *_rest) in dag.PLOTS.items():
        for name, columns in ys.items():
            table = pd.read_csv(tmp_path / f"{PREFIX}{name}.csv")
            assert table.columns[0] == x and set(columns) <= set(table.columns), (plot_id, list(table.columns))
            assert table[x].notna().all() and table[x].is_monotonic_increasing, plot_id
    qr = pd.read_csv(tmp_path / f"{PREFIX}covar_qr.csv")
    assert list(qr["date"]) == ["2010-01-08", "2010-01-15", "2010-01-22", "2010-01-29", "2010-02-05", "2010-02-12"]
    assert np.allclose(qr["mean_delta_covar_pct"], 2.0)  # weekly mean over the banks with status ok
    cascade = pd.read_csv(tmp_path / f"{PREFIX}cascade_failed_share.csv")
    assert cascade.to_dict("list") == {"alpha_pct": [0.0, 10.0], "all_pct": [10.0, 60.0], "without_largest_pct": [0.0, 100.0]}


def test_series_skipped_when_absent(frames, tmp_path):
    assert write_series(tmp_path, FakeReport({"covar_qr": frames["covar_qr"]})) == ["covar_qr"]


def test_dvc_yaml_declares_the_plots_with_existing_templates():
    text = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    assert text == dag.render()  # generated
    plots = yaml.safe_load(text)["plots"]
    assert [next(iter(p)) for p in plots] == list(dag.PLOTS)
    builtin = {"linear", "simple", "scatter", "smooth", "confusion", "bar_horizontal"}
    for entry in plots:
        spec = next(iter(entry.values()))
        assert spec["title"] and spec["x_label"] and spec["y_label"] and spec["x"]
        assert spec["template"] in builtin or (REPO / ".dvc/plots" / f"{spec['template']}.json").is_file()
        assert all(f.startswith("data/report/plots/series_") for f in spec["y"])
    report = yaml.safe_load(text)["stages"]["report"]
    assert "plots" not in report and {"data/report/plots": {"cache": False}} in report["outs"]
    assert "dvc_plots/" in (REPO / ".gitignore").read_text(encoding="utf-8").split()


def _dvc() -> str:
    dvc = shutil.which("dvc")
    if dvc is None:
        pytest.skip("dvc is not installed")
    return dvc


def test_dvc_plots_show_draws_the_declared_axes(frames, tmp_path):
    """``dvc plots show`` on the series: every declared plot drawn against its named x, with its title."""
    dvc = _dvc()
    shutil.copy2(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copytree(REPO / ".dvc", tmp_path / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache", "config.local"))
    write_series(tmp_path / "data/report/plots", FakeReport(frames))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    out = subprocess.run([dvc, "plots", "show", "--json"], cwd=tmp_path, capture_output=True, text=True, check=True, env=env)
    shown = json.loads(out.stdout)
    assert not shown.get("errors")
    for plot_id, (x, ys, title, *_rest) in dag.PLOTS.items():
        content = shown["data"][plot_id][0]["content"]
        assert content["title"]["text"] == title and content["encoding"]["x"]["field"] == x
        assert content["encoding"]["x"]["type"] == ("temporal" if x in ("date", "year") else "quantitative")
        assert {r[x] for r in content["data"]["values"]}, plot_id


# --- the walk-through of docs/experiments.md on a copy of the repository -------------------------------------

EXPERIMENT_STAGES = ("params", "ingest", "returns", "covar_qr", "report")


def _small_dvc_yaml(root: Path) -> None:
    """``dvc.yaml`` with the stages of the walk-through only (the report reads what exists)."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))
    kept = {name: spec["stages"][name] for name in EXPERIMENT_STAGES}
    dropped = {o if isinstance(o, str) else next(iter(o)) for name, s in spec["stages"].items() if name not in kept
               for o in s.get("outs", [])}
    for stage in kept.values():  # drop the deps that only the stages left out write
        stage["deps"] = [d for d in stage["deps"] if not any(d == o or d.startswith(o + "/") for o in dropped)]
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": kept, "plots": spec["plots"]}, sort_keys=False, allow_unicode=True))


@pytest.mark.slow
def test_exp_run_covar_qr_q_shows_in_metrics_diff(tmp_path):
    """docs/experiments.md: ``dvc exp run -S measures.covar_qr.q=0.99`` then ``dvc exp show`` and ``dvc metrics diff``."""
    from conftest import copy_repository

    dvc = _dvc()
    root = copy_repository(tmp_path / "repo")
    _small_dvc_yaml(root)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(root), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["compute"] = {"scheduler": "serial"}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))

    def run(*args: str) -> str:
        done = subprocess.run(args, cwd=root, capture_output=True, text=True, env=env)
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        return done.stdout

    run("git", "add", "-A")
    run("git", "commit", "-qm", "small pipeline")
    run(dvc, "repro")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "baseline results")
    before = json.loads((root / "data/report/metrics.json").read_text(encoding="utf-8"))
    run(dvc, "exp", "run", "-S", "measures.covar_qr.q=0.99")
    shown = pd.read_csv(io.StringIO(run(dvc, "exp", "show", "--only-changed", "--csv")))
    assert {"covar_qr.mean_pct", "covar_qr.top_bank", "measures.covar_qr.q"} <= set(shown.columns)
    assert sorted(shown["measures.covar_qr.q"]) == [0.95, 0.99, 0.99]  # the commit, the workspace and the experiment
    assert not any(c.startswith(("spillover.", "sample.", "simulated")) for c in shown.columns)  # only what changed
    diff = json.loads(run(dvc, "metrics", "diff", "--json"))["data/report/metrics.json"]
    change = diff["covar_qr.mean_pct"]
    assert change["old"] == before["covar_qr"]["mean_pct"] and change["new"] > change["old"] and change["diff"] > 0
    assert "spillover.top_bank" not in diff  # ΔCoVaR-QR's headline is under its own key
    text = run(dvc, "metrics", "diff")
    assert "covar_qr.mean_pct" in text
