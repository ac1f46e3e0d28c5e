"""Look-ahead tests of the stages covar_qr and spillover with their real-time configurations.

The inputs (bank and system losses, weights, market states) are perturbed on the last 60 trading
days; every row dated before the cut-off must be bit-identical."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_stage

from measures.covar_qr import CoVaRConfig
from measures.spillover import SpilloverConfig
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet

BANKS = ("CCB01", "JSB02", "SOB03")
START = "2016-01-01"


def _subset(default_root: Path, root: Path, cut: pd.Timestamp | None) -> Path:
    """Three banks of the default data from 2016 on; with ``cut``, every input changed on dates >= cut."""
    tables = {}
    for name in ("returns", "system_returns", "market_states"):
        frame = read_parquet(default_root / artifact(name).path)
        frame = frame[frame["date"] >= START]
        if "bank_id" in frame.columns:
            frame = frame[frame["bank_id"].isin(BANKS)]
        tables[name] = frame.reset_index(drop=True)
    if cut is not None:
        rng = np.random.default_rng(5)
        for name, frame in tables.items():
            later = frame["date"] >= cut
            for col in [c for c in frame.columns if c in ("loss", "weight") or name == "market_states"]:
                if col == "date":
                    continue
                frame.loc[later, col] = frame.loc[later, col] * 1.5 + 0.01 * rng.standard_normal(int(later.sum()))
    for name, frame in tables.items():
        art = artifact(name)
        write_parquet(frame, root / art.path, key=art.key)
    return root


@pytest.fixture(scope="module")
def cut(default_root) -> pd.Timestamp:
    dates = read_parquet(default_root / artifact("system_returns").path)["date"]
    return pd.Timestamp(dates.iloc[-60])


def _before(frame: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    column = "window_end" if "window_end" in frame.columns else "date"
    return frame[frame[column] < cut].reset_index(drop=True)


def _assert_causal(default_root, tmp_path, cut, stage, group, config, outputs):
    params = {group: config.to_dict()}
    roots = []
    for name, c in (("same", None), ("perturbed", cut)):
        root = _subset(default_root, tmp_path / name, c)
        run_stage(root, stage, **params)
        roots.append(root)
    for name in outputs:
        a, b = (read_parquet(r / artifact(name).path) for r in roots)
        full_a = a
        a, b = _before(a, cut), _before(b, cut)
        assert len(a) and len(a) < len(full_a), name  # rows on both sides of the cut-off
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    later = [read_parquet(r / artifact(outputs[0]).path) for r in roots]
    assert not later[0].equals(later[1])  # the perturbation reached the values after the cut-off


@pytest.mark.slow
def test_covar_qr_realtime_has_no_look_ahead(default_root, tmp_path, cut):
    config = CoVaRConfig().for_realtime()
    assert config.estimation == "expanding"
    _assert_causal(default_root, tmp_path, cut, "covar_qr", "measures.covar_qr", config,
                   ("covar_qr", "covar_qr_weekly", "covar_qr_estimates"))


def test_covar_qr_rolling_realtime_has_no_look_ahead(default_root, tmp_path, cut):
    config = CoVaRConfig(estimation="rolling", step=5).for_realtime()
    assert config.estimation == "rolling"
    _assert_causal(default_root, tmp_path, cut, "covar_qr", "measures.covar_qr", config,
                   ("covar_qr", "covar_qr_estimates"))


def test_spillover_realtime_has_no_look_ahead(default_root, tmp_path, cut):
    config = SpilloverConfig().for_realtime()
    assert config == SpilloverConfig()  # every window, quantile and stress level ends at t already
    _assert_causal(default_root, tmp_path, cut, "spillover", "measures.spillover", config,
                   ("spillover", "spillover_index", "spillover_index_weekly", "spillover_channels"))


def test_full_sample_covar_qr_does_look_ahead(default_root, tmp_path, cut):
    """The default (realtime: false) full-sample fit uses later data: the check above can fail."""
    roots = [_subset(default_root, tmp_path / n, c) for n, c in (("same", None), ("perturbed", cut))]
    for root in roots:
        run_stage(root, "covar_qr")
    a, b = (_before(read_parquet(r / artifact("covar_qr").path), cut) for r in roots)
    assert not np.array_equal(a["delta_covar"], b["delta_covar"])
