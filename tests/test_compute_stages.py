"""Byte-identical artifacts whatever the scheduler and the worker count.

Every stage that maps work runs as ``dvc repro`` runs it (``python -m pipeline run`` in a fresh
interpreter, so the process pool is forked as in production) under ``compute.scheduler:
serial``, ``processes`` with 1 and 2 workers and ``dask`` (a LocalCluster of 2 workers), with
BLAS thread settings of 2 in the environment; every output (Parquet, JSON, the report's HTML and
plot CSVs) must have the same bytes. The sample is two years of the default data, with the rolling routes on, so that every
kind of map (banks, windows, years, models, grids) is exercised.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, repo_params, run_stage

STAGES = ("system_measures", "covar_dcc", "mes_srisk", "cca", "covar_qr", "spillover", "contagion", "rankings", "panel",
          "stress_firesale", "stress_cascade", "stress_interbank", "early_warning", "report")
COMPUTE = {
    "serial": {"scheduler": "serial"},
    "processes-1": {"scheduler": "processes", "workers": 1},
    "processes-2": {"scheduler": "processes", "workers": 2},
    "dask-2": {"scheduler": "dask", "workers": 2},
}


def _params(compute: dict) -> dict:
    params = repo_params(**{
        "data": {"start": "2013-01-01", "end": "2014-12-31"},
        "measures.covar_qr": {"estimation": "rolling", "window": 250, "step": 5},
        "measures.spillover": {"window": 120, "step": 5},
        "measures.mes_srisk": {"lrmes_route": "simulation", "n_paths": 200, "simulation_dates": "year_end"},
        "stress.firesale": {"alpha": {"start": 0.05, "stop": 0.4, "step": 0.05}},
        "stress.cascade": {"alpha_grid": [0.0, 0.15, 6], "beta_grid": [0.0, 1.0, 4]},
        "measures.rankings": {"replications": 10},
    })
    params["compute"] = compute
    return params


def _outputs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "data").rglob("*"))
            if p.is_file() and p.suffix in (".parquet", ".json", ".html", ".csv")}


@pytest.mark.slow
def test_every_scheduler_and_worker_count_writes_the_same_bytes(tmp_path):
    base = tmp_path / "base"
    for name in ("ingest", "returns"):
        run_stage(base, name, params=_params(COMPUTE["serial"]))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2",
           "MKL_NUM_THREADS": "2"}
    seen: dict[str, dict[str, bytes]] = {}
    for label, compute in COMPUTE.items():
        root = tmp_path / label
        shutil.copytree(base, root)
        params = root / "params.yaml"
        params.write_text(yaml.safe_dump(_params(compute)), encoding="utf-8")
        for stage in STAGES:
            done = subprocess.run([sys.executable, "-m", "pipeline", "run", stage, "--params", str(params), "--root", str(root)],
                                  cwd=REPO, env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"{label} {stage}: {done.stderr[-2000:]}"
        seen[label] = _outputs(root)
    reference = seen["serial"]
    assert len(reference) > 30 and any(k.endswith("covar_qr.parquet") for k in reference)
    for label, outputs in seen.items():
        assert outputs.keys() == reference.keys(), label
        differ = [k for k in reference if outputs[k] != reference[k]]
        assert differ == [], f"{label}: these artifacts differ from the serial run: {differ}"
