"""dvc.yaml is generated from the stage declarations and covers every module each stage imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import REPO

from pipeline.dag import import_closure, render
from pipeline.dag import STAGES


def test_dvc_yaml_is_up_to_date_with_the_declarations():
    assert (REPO / "dvc.yaml").read_text(encoding="utf-8") == render(), (
        "dvc.yaml is out of date: run `python -m pipeline dag --write`, then `dvc repro`, and commit both")


def test_dag_check_command_agrees():
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dag", "--check"], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_stage_runs_the_runner_and_lists_the_shared_plumbing():
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert list(spec) == list(STAGES)
    for name, stage in spec.items():
        assert stage["cmd"] == f"python -m pipeline run {name}"
        for module in ("pipeline/__main__.py", "pipeline/stage.py", "pipeline/io.py", "pipeline/params.py",
                       "pipeline/quality.py", "measures/core/config.py", "measures/core/status.py", f"pipeline/stages/{name}.py"):
            assert module in stage["deps"], f"{name} misses {module}"


@pytest.mark.parametrize("name", STAGES)
def test_deps_are_precise(name):
    """A stage depends on the science it imports and nothing else (editing measures/stress reruns no market measure)."""
    files = import_closure(f"pipeline.stages.{name}")
    others = [f"pipeline/stages/{s}.py" for s in STAGES if s != name]
    assert not set(files) & set(others), "a stage imports another stage"
    if name in ("ingest", "returns", "covar_dcc", "mes_srisk", "covar_qr", "spillover", "contagion", "panel"):
        assert not [f for f in files if f.startswith("measures/stress/")]
    if name == "report":
        science = [f for f in files if f.startswith(("measures/", "panel/"))]
        assert set(science) <= {"measures/__init__.py", "measures/core/__init__.py", "measures/core/config.py",
                                "measures/core/status.py", "measures/core/mapping.py", "measures/core/cells.py",
                                "measures/core/lazy.py"}, science


def test_lazy_exports_are_followed():
    """``from measures import eisenberg_noe`` loads measures/stress: the closure must say so."""
    import pipeline.dag as dag

    tmp = REPO / "pipeline" / "_closure_probe.py"
    tmp.write_text("from measures import eisenberg_noe\n", encoding="utf-8")
    try:
        dag.import_closure.cache_clear()
        files = import_closure("pipeline._closure_probe")
    finally:
        tmp.unlink()
        dag.import_closure.cache_clear()
    assert "measures/stress/__init__.py" in files and any(f.startswith("measures/stress/interbank") for f in files)


def test_contagion_depends_on_the_chosen_series_only():
    from pipeline.dag import stage_entry
    from pipeline.stage import load_stage

    stage = load_stage("contagion")
    for series, path in (("dcc", "covar_dcc"), ("qr", "covar_qr"), ("spillover", "spillover")):
        deps = stage_entry(stage, {"contagion": {"series": series, "robustness_series": []}})["deps"]
        data = [d for d in deps if d.startswith("data/")]
        assert data == [f"data/processed/measures/{path}.parquet"], series
    # the robustness series (the panel's Table 3) are read too, each once
    deps = stage_entry(stage, {"contagion": {"series": "qr", "robustness_series": ["dcc", "qr"]}})["deps"]
    assert [d for d in deps if d.startswith("data/")] == ["data/processed/measures/covar_qr.parquet",
                                                          "data/processed/measures/covar_dcc.parquet"]


def test_bad_input_a_series_that_dvc_yaml_does_not_list_stops_with_the_fix(tmp_path):
    import yaml

    from measures.core.config import ConfigError
    from pipeline.stage import run_stage

    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"contagion": {
        "deps": ["pipeline/stage.py", "data/processed/measures/covar_dcc.parquet"]}}}), encoding="utf-8")
    params = {"compute": {"scheduler": "serial"}, "contagion": {"series": "qr", "robustness_series": []}}
    with pytest.raises(ConfigError, match=r"contagion(, measures.granger_network)?: with these params stage contagion reads "
                       r"data/processed/measures/covar_qr.parquet, which its deps in dvc.yaml do not list .*"
                       r"run python -m pipeline dag --write"):
        run_stage("contagion", params=params, root=tmp_path)
