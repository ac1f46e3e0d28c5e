"""docs/extending.md's worked example, applied to a copy of the repository and run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from conftest import REPO

BLOCK = re.compile(r"<!-- (file|append|merge): (\S+) -->\n```[a-z]*\n(.*?)```", re.S)


def _merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def apply_example(root: Path) -> list[str]:
    text = (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    touched = []
    for how, rel, body in BLOCK.findall(text):
        path = root / rel
        touched.append(rel)
        if how == "file":
            assert not path.exists(), f"the example overwrites {rel}"
            path.write_text(body, encoding="utf-8")
        elif how == "append":
            path.write_text(path.read_text(encoding="utf-8") + "\n" + body, encoding="utf-8")
        else:
            merged = _merge(yaml.safe_load(path.read_text(encoding="utf-8")), yaml.safe_load(body))
            path.write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return touched


def test_the_worked_example_adds_a_stage_that_runs(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(".git", ".venv", "data", "__pycache__", ".dvc"))
    touched = apply_example(root)
    assert sorted(touched) == sorted(["measures/volatility.py", "pipeline/stages/volatility.py", "pipeline/artifacts.py",
                                      "pipeline/dag.py", "params.yaml", "tests/test_volatility.py"])
    env = {**os.environ, "PYTHONPATH": str(root)}

    def run(*args: str) -> None:
        proc = subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr

    run("-m", "pipeline", "dag", "--write")
    stage = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["volatility"]
    assert stage["deps"] == ["data/interim/code/volatility.json", "data/interim/returns.parquet"]
    assert stage["params"] == ["measures.volatility"]
    assert "data/processed/measures/volatility.parquet" in stage["outs"]
    for name in ("params", "ingest", "returns", "volatility"):
        run("-m", "pipeline", "run", name)
    code = json.loads((root / "data/interim/code/volatility.json").read_text(encoding="utf-8"))["files"]
    assert "measures/volatility.py" in code and "pipeline/stages/volatility.py" in code  # the stage's code fingerprint
    out = pd.read_parquet(root / "data/processed/measures/volatility.parquet")
    returns = pd.read_parquet(root / "data/interim/returns.parquet")
    bank = returns[returns["bank_id"] == returns["bank_id"].iloc[0]].dropna(subset=["loss"]).sort_values("date")
    expected = (bank["loss"].rolling(60).std() * 252 ** 0.5).to_numpy()
    got = out[out["bank_id"] == bank["bank_id"].iloc[0]].sort_values("date")["volatility"].to_numpy()
    assert len(got) == len(expected)
    assert ((abs(got - expected) < 1e-15) | (pd.isna(got) & pd.isna(expected))).all()
    run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_volatility.py")
