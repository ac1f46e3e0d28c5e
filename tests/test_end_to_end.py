"""End to end: ``dvc repro`` on the embedded default in a fresh copy of the repository.

Checks the acceptance of the backbone: the report exists, ``dvc status`` is
clean, a second ``dvc repro`` runs nothing, ``dvc repro -f`` gives byte-identical
Parquet artifacts, every Parquet artifact carries its provenance, and the committed
``dvc.lock`` matches the code and params. Stages run with ``PIPELINE_CHECK_DEPS=1``:
each fails when it imported a repository module that its ``dvc.yaml`` deps miss.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PIPELINE_CHECK_DEPS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    return [f for f in out.splitlines() if f and (REPO / f).is_file()]


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "data").rglob("*.parquet"))}


@pytest.fixture(scope="module")
def fresh_repo(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("repo")
    for rel in tracked_files():
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest)
    for name in ("data/interim", "data/processed", "data/report"):
        shutil.rmtree(root / name, ignore_errors=True)
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", "fresh"], root)
    return root


def dvc(*args: str, cwd: Path) -> str:
    return run([sys.executable, "-m", "dvc", *args], cwd)


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
    dvc("repro", "-f", cwd=fresh_repo)
    assert digests(fresh_repo) == first


def test_committed_lock_matches_code_and_params(fresh_repo):
    """The committed dvc.lock records the current code and params (run `dvc repro` and commit dvc.lock)."""
    committed = yaml.safe_load((REPO / "dvc.lock").read_text(encoding="utf-8"))
    dvc("repro", cwd=fresh_repo)
    fresh = yaml.safe_load((fresh_repo / "dvc.lock").read_text(encoding="utf-8"))
    assert set(committed["stages"]) == set(fresh["stages"])
    for name, stage in fresh["stages"].items():
        old = committed["stages"][name]
        assert old.get("params") == stage.get("params"), f"stage {name}: params changed since dvc.lock was committed"
        code = lambda s: {d["path"]: d.get("md5") for d in s.get("deps", []) if not d["path"].startswith("data/")}  # noqa: E731
        assert code(old) == code(stage), f"stage {name}: code dependencies changed since dvc.lock was committed"
