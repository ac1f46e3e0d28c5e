"""End to end: ``dvc repro`` on the embedded default in a fresh copy of the repository.

Checks the acceptance of the backbone: the report exists, ``dvc status`` is
clean, a second ``dvc repro`` runs nothing, ``dvc repro -f`` gives byte-identical
Parquet artifacts, every Parquet artifact carries its provenance, and the committed
``dvc.lock`` matches the code and params. Stages run with ``PIPELINE_CHECK_DEPS=1``:
each fails when it imported a repository module that its code fingerprint misses.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_repository

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


ENV = {"DVC_NO_ANALYTICS": "1", "PIPELINE_CHECK_DEPS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@t"}


def run(cmd: list[str], cwd: Path, *, rc: int | None = 0, **env: str) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **ENV, **env}, capture_output=True, text=True, check=False)
    if rc is not None:
        assert proc.returncode == rc, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "data").rglob("*.parquet"))}


@pytest.fixture(scope="module")
def fresh_repo(tmp_path_factory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("repo"))


def dvc(*args: str, cwd: Path, rc: int | None = 0, **env: str) -> str:
    return run([sys.executable, "-m", "dvc", *args], cwd, rc=rc, **env)


def test_repro_builds_the_report_and_is_reproducible(fresh_repo):
    out = dvc("repro", cwd=fresh_repo)
    assert "Running stage 'report'" in out
    report = fresh_repo / "data" / "report" / "index.html"
    assert report.is_file()
    html = report.read_text(encoding="utf-8")
    for title in ("Sample and coverage", "Data quality", "Returns", "Market states"):
        assert title in html
    assert (fresh_repo / "data" / "report" / "metrics.json").is_file()
    assert list((fresh_repo / "data" / "report" / "plots").glob("*.csv"))

    status = dvc("status", cwd=fresh_repo)
    assert "up to date" in status, status

    again = dvc("repro", cwd=fresh_repo)
    assert "Running stage" not in again, again

    first = digests(fresh_repo)
    assert any(k.endswith("returns.parquet") for k in first)
    from pipeline.io import read_provenance

    for rel in first:
        prov = read_provenance(fresh_repo / rel)
        assert prov is not None, f"{rel} has no provenance"
        assert {"stage", "params", "data_source", "version"} <= set(prov), rel
        assert prov["data_source"] is not None, rel
    lock = (fresh_repo / "dvc.lock").read_text(encoding="utf-8")
    # the user's thread settings do not change a byte (BLAS pinned to one thread inside the stages): the
    # estimators that lean on BLAS rerun here on the full default data; tests/test_compute_stages.py reruns
    # every mapping stage with 2 BLAS threads under each scheduler
    rerun = ["returns", "covar_dcc", "mes_srisk", "covar_qr", "spillover", "contagion"]
    dvc("repro", "-f", "-s", *rerun, cwd=fresh_repo, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    assert digests(fresh_repo) == first
    assert (fresh_repo / "dvc.lock").read_text(encoding="utf-8") == lock


def test_a_stage_killed_mid_run_is_restored_by_the_next_repro(fresh_repo):
    import signal
    import time

    dvc("repro", cwd=fresh_repo)
    # a stage whose only consumer is the report, so that the next repro reruns little
    before, out = digests(fresh_repo), fresh_repo / "data/processed/stress/firesale.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "-f", "-s", "stress_firesale"], cwd=fresh_repo,
                            env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(600):  # DVC removes the stage's outputs before it runs the command: then it is mid-stage
        if not out.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "the stage finished before it could be killed"
    assert "stress_firesale" in dvc("status", cwd=fresh_repo)
    dvc("repro", cwd=fresh_repo)
    assert digests(fresh_repo) == before
    assert "up to date" in dvc("status", cwd=fresh_repo)


def test_bad_input_misspelled_params_group_fails_repro_and_marks_the_report_stale(fresh_repo):
    dvc("repro", cwd=fresh_repo)
    params = fresh_repo / "params.yaml"
    text = params.read_text(encoding="utf-8")
    try:
        params.write_text(text + "\ncontagoin:\n  window: rolling\n", encoding="utf-8")
        out = dvc("repro", cwd=fresh_repo, rc=None)
        assert "unknown top-level group 'contagoin' (did you mean 'contagion'?); allowed groups: compute, contagion, data, measures" in out
        assert "Traceback" not in out
        html = (fresh_repo / "data/report/index.html").read_text(encoding="utf-8")
        assert "This report is stale: stage params failed on the last run" in html
    finally:
        params.write_text(text, encoding="utf-8")
    dvc("repro", cwd=fresh_repo)
    assert "This report is stale" not in (fresh_repo / "data/report/index.html").read_text(encoding="utf-8")


def test_a_code_change_reruns_only_the_stages_that_load_it(fresh_repo):
    """One code dep per stage (its fingerprint, written by ``params``): editing a module that one stage
    loads changes that stage's fingerprint only; ``dvc status`` then names that stage alone."""
    import json

    dvc("repro", cwd=fresh_repo)
    code = fresh_repo / "data/interim/code"
    users: dict[str, list[str]] = {}
    for path in sorted(code.glob("*.json")):
        for rel in json.loads(path.read_text(encoding="utf-8"))["files"]:
            users.setdefault(rel, []).append(path.stem)
    rel, (only,) = next((f, u) for f, u in sorted(users.items()) if len(u) == 1 and f.startswith("measures/"))
    module = fresh_repo / rel
    text = module.read_text(encoding="utf-8")
    try:
        module.write_text(text + "\n# an edit\n", encoding="utf-8")
        assert "params" in dvc("status", cwd=fresh_repo)  # the package folders changed
        dvc("repro", "params", cwd=fresh_repo)
        status = yaml.safe_load(dvc("status", "--json", cwd=fresh_repo).strip().splitlines()[-1])
        assert list(status) == [only], (rel, status)
    finally:
        module.write_text(text, encoding="utf-8")
    dvc("repro", "params", cwd=fresh_repo)
    assert "up to date" in dvc("status", cwd=fresh_repo)


def test_committed_lock_matches_code_and_params(fresh_repo):
    """The committed dvc.lock records the current code and params (run `dvc repro` and commit dvc.lock)."""
    committed = yaml.safe_load((REPO / "dvc.lock").read_text(encoding="utf-8"))
    dvc("repro", cwd=fresh_repo)
    fresh = yaml.safe_load((fresh_repo / "dvc.lock").read_text(encoding="utf-8"))
    assert set(committed["stages"]) == set(fresh["stages"])
    for name, stage in fresh["stages"].items():
        old = committed["stages"][name]
        assert old.get("params") == stage.get("params"), f"stage {name}: params changed since dvc.lock was committed"
        code = lambda s: {d["path"]: d.get("md5") for d in s.get("deps", [])  # noqa: E731
                          if not d["path"].startswith("data/") or d["path"].startswith("data/interim/code/")}
        assert code(old) == code(stage), f"stage {name}: code dependencies changed since dvc.lock was committed"
