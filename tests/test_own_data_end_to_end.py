"""Own data end to end: ``dvc repro`` on the real datasets with only the ``data`` section changed.

A user's clone (a copy of the repository), the dataset linked under ``data/raw`` (the link is
added to the ingest stage's deps by ``python -m pipeline dag --write``), params.yaml's ``data``
group replaced, and nothing else (but fewer ranking bootstrap replications, to keep the test short): the whole DAG must run, every section built from simulated
data must be labelled, and a stage the data cannot support must say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import cn_banks_data, copy_repository, us_financials_data

from pipeline.io import read_parquet

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

DATASETS = {"cn-banks": cn_banks_data("data/raw"), "us-financials": us_financials_data("data/raw")}


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PIPELINE_CHECK_DEPS": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module", params=sorted(DATASETS))  # pytest -n: one worker per dataset (conftest.GROUP_BY_PARAM)
def own_run(request, tmp_path_factory, shared_data):
    name = request.param
    repo = copy_repository(tmp_path_factory.mktemp(name))
    (repo / "data/raw").mkdir(parents=True, exist_ok=True)
    (repo / "data/raw" / name).symlink_to(shared_data / name)
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    params["data"] = DATASETS[name]
    # the one other change: 10 bootstrap replications of the rankings instead of 200 (the rankings stage
    # is the longest; its replications are not what this test is about, tests/test_rankings.py checks them)
    params["measures"]["rankings"]["replications"] = 10
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")
    for cmd in (["-m", "pipeline", "dag", "--write"], ["-m", "dvc", "repro"]):
        proc = _run([sys.executable, *cmd], repo)
        assert proc.returncode == 0, f"{name}: {' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return name, repo, proc.stdout + proc.stderr


def test_the_whole_dag_runs_on_the_users_data(own_run):
    name, repo, log = own_run
    assert "Traceback" not in log
    assert (repo / "data/report/index.html").is_file()
    deps = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["ingest"]["deps"]
    assert any(d.startswith(f"data/raw/{name}") for d in deps)  # the linked data is tracked
    status = _run([sys.executable, "-m", "dvc", "status"], repo)
    assert "up to date" in status.stdout + status.stderr


def test_no_section_is_built_from_simulated_data_unlabelled(own_run):
    from pipeline.io import read_provenance

    name, repo, _ = own_run
    simulated = []
    for path in sorted((repo / "data/processed").rglob("*.parquet")):
        source = (read_provenance(path) or {}).get("data_source") or {}
        if source.get("kind") == "synthetic":
            simulated.append(path.relative_to(repo).as_posix())
    assert simulated == [], f"{name}: artifacts built from simulated data with data.source: files: {simulated}"
    html = (repo / "data/report/index.html").read_text(encoding="utf-8")
    assert "SO01" not in html and "CB093" not in html  # no simulated bank ids
    metrics = json.loads((repo / "data/report/metrics.json").read_text(encoding="utf-8"))
    assert "simulated" not in json.dumps(metrics).lower().replace("not simulated", "")


def test_stress_stages_run_on_the_users_balance_sheets_or_say_why(own_run):
    from pipeline.io import read_parquet, read_provenance

    name, repo, _ = own_run
    for stage, out in (("stress_firesale", "firesale"), ("stress_cascade", "cascade_surface")):
        path = repo / f"data/processed/stress/{out}.parquet"
        mark = (read_provenance(path) or {}).get("not_estimable")
        if mark is None:
            assert not read_parquet(path).empty, f"{name}: {stage} wrote no rows and no reason"
        else:
            assert mark["reason"] and mark["needs"], f"{name}: {stage} is not estimable without saying what to add"
            html = (repo / "data/report/index.html").read_text(encoding="utf-8")
            assert "Not estimable from your data" in html


def test_the_early_warning_table_is_in_the_report_of_the_users_data(own_run):
    """Which measure warns first, on the user's episodes (the data's table or report.episodes inside the sample)."""
    name, repo, _ = own_run
    auc = read_parquet(repo / "data/processed/system/early_warning.parquet")
    ok = auc[auc["status"].astype(str) == "ok"]
    assert len(ok) >= 10 and ok["auc"].between(0.0, 1.0).all() and ok["n_pos"].gt(0).all(), name
    metrics = json.loads((repo / "data/report/metrics.json").read_text(encoding="utf-8"))
    assert 0.0 <= metrics["early_warning"]["best_auc_h60"] <= 1.0
    html = (repo / "data/report/index.html").read_text(encoding="utf-8")
    assert "Early warning: which measure warns first" in html and "Not estimable from your data" not in html.split(
        "Early warning: which measure warns first", 2)[-1].split("<h2", 1)[0]
