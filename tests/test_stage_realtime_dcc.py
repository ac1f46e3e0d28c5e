"""Stages covar_dcc and mes_srisk with the real-time configs: no value dated before a cut-off depends on later data."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_stage

from measures.dcc import CovarDCCParams
from measures.systemic import SRiskPanelConfig
from pipeline.io import read_parquet, write_parquet

_SPEC = importlib.util.spec_from_file_location("tiny_dcc_la", Path(__file__).parent / "fixtures" / "covar_dcc" / "tiny.py")
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)

#: artifact -> its date column (rows dated before the cut-off must not change)
DATED = {"measures/covar_dcc": "date", "estimates/dcc_paths": "date", "estimates/dcc_param_paths": "refit_date",
         "measures/mes": "date", "measures/srisk": "date", "system/srisk_total": "date"}
CUT = 60  # the last 60 trading days are perturbed


def realtime_params(mes: dict | None = None) -> dict:
    """The resolved (``for_realtime``) groups of both stages, with quicker refits than the defaults."""
    covar = CovarDCCParams(**{**tiny.COVAR_DCC, "refit_every": 42}).for_realtime()
    srisk = SRiskPanelConfig(**{**tiny.MES_SRISK, **(mes or {})}).for_realtime()
    assert covar.estimation == "expanding" and srisk.mes_causal
    return tiny.overrides(covar=dataclasses.asdict(covar), mes=dataclasses.asdict(srisk))


def perturb(root: Path) -> pd.Timestamp:
    """Change every return, market cap and system return of the last ``CUT`` days; the cut-off date."""
    interim = root / "data" / "interim"
    returns, system = read_parquet(interim / "returns.parquet"), read_parquet(interim / "system_returns.parquet")
    cut = pd.DatetimeIndex(sorted(system["date"]))[-CUT]
    late = returns["date"] >= cut
    returns.loc[late, "ret"] = -2.0 * returns.loc[late, "ret"] + 0.003
    returns.loc[late, "market_cap"] *= 0.5
    returns.loc[late, "loss"] = -returns.loc[late, "ret"]
    system.loc[system["date"] >= cut, "ret"] *= 3.0
    write_parquet(returns, interim / "returns.parquet", key=["bank_id", "date"])
    write_parquet(system, interim / "system_returns.parquet", key=["date"])
    return cut


def run_both(root: Path, params: dict) -> dict[str, pd.DataFrame]:
    for stage in ("covar_dcc", "mes_srisk"):
        run_stage(root, stage, **params)
    return {name: read_parquet(root / "data" / "processed" / f"{name}.parquet") for name in DATED}


@pytest.mark.parametrize("mes", [{}, {"lrmes_route": "simulation", "n_paths": 300, "crash": 0.1,
                                      "simulation_dates": "quarter_end"}], ids=["closed_form", "simulation"])
def test_realtime_outputs_before_the_cut_off_ignore_later_data(tmp_path, mes):
    params = realtime_params(mes)
    base = run_both(tiny.write_interim(tmp_path / "base"), params)
    root = tiny.write_interim(tmp_path / "changed")
    cut = perturb(root)
    changed = run_both(root, params)
    for name, column in DATED.items():
        before, after = base[name], changed[name]
        early = before[before[column] < cut].reset_index(drop=True)
        assert len(early) > 0, name
        pd.testing.assert_frame_equal(early, after[after[column] < cut].reset_index(drop=True), check_exact=True,
                                      obj=name)
        late = before[column] >= cut
        if name != "estimates/dcc_param_paths":  # the inputs did change after the cut-off
            numeric = before.select_dtypes("number").columns
            assert not before.loc[late, numeric].equals(after.loc[after[column] >= cut, numeric].set_axis(
                before.index[late])), name
    covar = base["measures/covar_dcc"]
    assert covar["status"].str.startswith("failed:InsufficientHistory").sum() == 3 * 249  # min_obs before the first value
    assert covar.loc[covar["status"] == "ok", "delta_covar"].notna().all()
    mes_frame = base["measures/mes"]
    assert mes_frame.loc[mes_frame["status"] == "ok", "mes_dyn"].notna().all()
    if mes:
        srisk = base["measures/srisk"]
        simulated = srisk.loc[srisk["lrmes"].notna(), "date"]
        assert len(simulated) >= 3 * 7  # the quarter ends from the first value on (2019Q4 .. 2021Q3)
        assert simulated.min() >= covar.loc[covar["status"] == "ok", "date"].min()


def test_full_mode_uses_later_data_which_realtime_avoids(tmp_path):
    """The contrast: with estimation full, perturbing the last 60 days changes earlier ΔCoVaR values."""
    params = tiny.overrides()
    base = run_both(tiny.write_interim(tmp_path / "base"), params)
    root = tiny.write_interim(tmp_path / "changed")
    cut = perturb(root)
    changed = run_both(root, params)
    before = base["measures/covar_dcc"]
    after = changed["measures/covar_dcc"]
    early = before["date"] < cut
    assert not np.array_equal(before.loc[early, "rho"], after.loc[early.to_numpy(), "rho"])
    assert len(base["estimates/dcc_param_paths"]) == 3  # one full-sample row per bank
