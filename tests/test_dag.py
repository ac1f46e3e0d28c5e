"""dvc.yaml is generated from the stage declarations; each stage's code fingerprint covers every module it imports."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
import yaml
from conftest import REPO

from pipeline.dag import STAGES, fingerprint_path, import_closure, render, stage_code


def test_dvc_yaml_is_up_to_date_with_the_declarations():
    assert (REPO / "dvc.yaml").read_text(encoding="utf-8") == render(), (
        "dvc.yaml is out of date: run `python -m pipeline dag --write`, then `dvc repro`, and commit both")


def test_dag_check_command_agrees():
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dag", "--check"], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_every_stage_runs_the_runner_and_its_fingerprint_lists_the_shared_plumbing():
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert list(spec) == list(STAGES)
    assert spec["params"]["deps"] == ["measures", "panel", "pipeline"]  # any code change reruns the fingerprints
    assert spec["params"]["outs"] == ["data/interim/code"]
    for name, stage in spec.items():
        assert stage["cmd"] == f"python -m pipeline run {name}"
        if name == "params":
            continue
        assert stage["deps"][0] == fingerprint_path(name) == f"data/interim/code/{name}.json"
        assert not [d for d in stage["deps"] if d.endswith(".py")], f"{name}: code is listed in its fingerprint only"
        for module in ("pipeline/__main__.py", "pipeline/stage.py", "pipeline/io.py", "pipeline/params.py",
                       "pipeline/quality.py", "measures/core/config.py", "measures/core/status.py", f"pipeline/stages/{name}.py"):
            assert module in stage_code(name), f"{name} misses {module}"


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """The packages copied to ``tmp_path``, with :mod:`pipeline.dag` reading them there."""
    import shutil

    import pipeline.dag as dag

    for package in dag.PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(dag, "REPO", tmp_path)
    caches = (dag.import_closure, dag._lazy_exports, dag._imported_modules, dag.module_file)
    for cache in caches:
        cache.cache_clear()
    yield tmp_path
    for cache in caches:
        cache.cache_clear()


def test_a_fingerprint_changes_only_for_the_stages_that_load_the_edited_module(package_copy, tmp_path):
    import pipeline.dag as dag

    out = tmp_path / "code"
    assert dag.write_fingerprints(out) == [s for s in STAGES if s != "params"]
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert dag.write_fingerprints(out) == [] and {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
    # a science module that exactly one stage loads: only that stage's fingerprint changes
    users = {}
    for name in STAGES[1:]:
        for rel in dag.stage_code(name):
            users.setdefault(rel, []).append(name)
    rel, (only,) = next((f, u) for f, u in sorted(users.items()) if len(u) == 1 and f.startswith("measures/"))
    with (package_copy / rel).open("a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    assert dag.write_fingerprints(out) == [only]
    assert json.loads((out / f"{only}.json").read_text(encoding="utf-8"))["files"][rel] == hashlib.sha256(
        (package_copy / rel).read_bytes()).hexdigest()
    # a module of the runner: every stage
    with (package_copy / "pipeline/io.py").open("a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    assert dag.write_fingerprints(out) == [s for s in STAGES if s != "params"]
    # a module no stage loads: none; a stage that left the DAG loses its file
    (package_copy / "pipeline/unused_probe.py").write_text("x = 1\n", encoding="utf-8")
    assert dag.write_fingerprints(out, stages=STAGES[:-1]) == [] and not (out / f"{STAGES[-1]}.json").exists()


def test_the_dependency_check_reads_the_modules_from_the_fingerprint(tmp_path):
    """``PIPELINE_CHECK_DEPS``: a loaded module that the stage's fingerprint misses is reported."""
    import pipeline.dag as dag
    from pipeline.stage import check_imports_covered, load_stage

    stage = load_stage("covar_qr")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"covar_qr": dag.stage_entry(stage)}}), encoding="utf-8")
    code = tmp_path / dag.fingerprint_path("covar_qr")
    code.parent.mkdir(parents=True)
    every = sorted(p.relative_to(REPO).as_posix() for pkg in dag.PACKAGES for p in (REPO / pkg).rglob("*.py"))
    code.write_text(json.dumps({"stage": "covar_qr", "files": {f: "" for f in every}}), encoding="utf-8")
    assert check_imports_covered(stage, tmp_path / "dvc.yaml") == []
    code.write_text(json.dumps({"stage": "covar_qr", "files": {f: "" for f in every if f != "pipeline/stage.py"}}),
                    encoding="utf-8")
    assert check_imports_covered(stage, tmp_path / "dvc.yaml") == ["pipeline/stage.py"]
    code.unlink()  # no fingerprint (the params stage has not run): nothing is covered
    assert "pipeline/stage.py" in check_imports_covered(stage, tmp_path / "dvc.yaml")


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
        for cache in (dag.import_closure, dag._imported_modules, dag.module_file):
            cache.cache_clear()
        files = import_closure("pipeline._closure_probe")
    finally:
        tmp.unlink()
        for cache in (dag.import_closure, dag._imported_modules, dag.module_file):
            cache.cache_clear()
    assert "measures/stress/__init__.py" in files and any(f.startswith("measures/stress/interbank") for f in files)


def test_contagion_depends_on_the_chosen_series_only():
    from pipeline.dag import stage_entry
    from pipeline.stage import load_stage

    stage = load_stage("contagion")
    for series, path in (("dcc", "covar_dcc"), ("qr", "covar_qr"), ("spillover", "spillover")):
        deps = stage_entry(stage, {"contagion": {"series": series, "robustness_series": []}})["deps"]
        data = [d for d in deps[1:] if d.startswith("data/")]  # deps[0]: the code fingerprint
        assert data == [f"data/processed/measures/{path}.parquet"], series
    # the robustness series (the panel's Table 3) are read too, each once
    deps = stage_entry(stage, {"contagion": {"series": "qr", "robustness_series": ["dcc", "qr"]}})["deps"]
    assert [d for d in deps[1:] if d.startswith("data/")] == ["data/processed/measures/covar_qr.parquet",
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
