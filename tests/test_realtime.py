"""``realtime: true``: every artifact value dated before a cut-off is unchanged when only the data
after it changes, stage by stage (docs/realtime.md).

Two data roots share the canonical tables of the default simulated data on a shortened sample;
in the second, the last 60 trading days of bank prices, market caps and the system index are
perturbed. Every estimating stage then runs on both with ``realtime: true``, and every row of
every output dated before the cut-off must be bit-identical. With ``realtime: false`` the
full-sample fits change earlier values (the test can fail).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import copy_root, repo_params, run_stage

from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance, write_parquet
from pipeline.stage import load_stage

pytestmark = pytest.mark.slow

#: Estimating stages in DAG order (the stress stages read balance sheets and simulate, no prices;
#: early_warning's AUC and concordance tables summarize the whole sample and its lead rows are
#: tested for look-ahead in tests/test_early_warning.py, on a sample with episodes inside it).
STAGES = ("returns", "system_measures", "covar_qr", "spillover", "covar_dcc", "mes_srisk", "cca", "contagion", "rankings",
          "panel")
#: Columns that date a row, in the order they are looked for; a ``year`` row is dated at the year's end;
#: a summary over dates (per-bank means, rankings, quality records) by the last date it covers.
DATING = ("date", "window_end", "refit_date", "year", "last_date", "date_end")
#: Outputs without a dating column: full-sample summaries by construction (docs/realtime.md).
UNDATED = {"panel/coefficients", "panel/fit_stats", "panel/descriptives", "panel/table1", "panel/table2", "panel/robustness",
           "panel/table3", "rankings_tau", "spillover_descriptives"}
PERTURBED_DAYS = 60
START, END = "2017-01-02", "2020-12-31"


def _params(realtime: bool) -> dict:
    return repo_params(**{
        "realtime": realtime,
        "data": {"start": START, "end": END},
        # fewer refits keep the test short; the property does not depend on the refit interval
        "measures.covar_qr": {"refit_every": 63},
        "measures.covar_dcc": {"refit_every": 63},
        "measures.rankings": {"replications": 10},
    })


def _perturb(root, cutoff: pd.Timestamp) -> None:
    """Multiply prices, caps and the index after ``cutoff`` by a seeded random walk factor."""
    rng = np.random.default_rng(60)
    for name, columns in (("prices", ("close", "market_cap")), ("system", ("close",))):
        path = root / artifact(name).path
        frame = read_parquet(path)
        late = frame["date"] >= cutoff
        factor = np.exp(rng.normal(0.0, 0.03, int(late.sum())))
        for column in columns:
            if column in frame:
                frame.loc[late, column] = frame.loc[late, column] * factor
        write_parquet(frame, path, key=artifact(name).key, dtypes=artifact(name).dtypes, provenance=read_provenance(path))


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """(base root, perturbed root, cut-off): ingest once, copy, perturb the copy."""
    base = tmp_path_factory.mktemp("realtime_base")
    run_stage(base, "ingest", _params(True))
    dates = read_parquet(base / artifact("system").path)["date"].sort_values().unique()
    cutoff = pd.Timestamp(dates[-PERTURBED_DAYS])
    names = [n for n in load_stage("ingest").all_outputs if (base / artifact(n).path).exists()]
    perturbed = copy_root(base, tmp_path_factory.mktemp("realtime_perturbed") / "root", *names)
    _perturb(perturbed, cutoff)
    return base, perturbed, cutoff


def _dated_before(frame: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame | None:
    for column in DATING:
        if column in frame:
            when = frame[column]
            keep = when < cutoff.year if column == "year" else pd.to_datetime(when) < cutoff
            return frame[keep.fillna(False).to_numpy(bool)].reset_index(drop=True)
    return None


def _compare(stage: str, base, perturbed, cutoff) -> tuple[list[str], list[str]]:
    """(outputs with a row dated before the cut-off that changed, outputs that changed after it)."""
    early, late = [], []
    for name in load_stage(stage).all_outputs:
        art = artifact(name)
        if art.kind != "parquet" or not (base / art.path).exists():
            continue
        a, b = read_parquet(base / art.path), read_parquet(perturbed / art.path)
        before_a, before_b = _dated_before(a, cutoff), _dated_before(b, cutoff)
        if before_a is None:
            assert name in UNDATED, f"{name} has no dating column; classify it in UNDATED with a reason in docs/realtime.md"
            continue
        if not before_a.equals(before_b):
            early.append(name)
        if not a.equals(b):
            late.append(name)
    return early, late


@pytest.fixture(scope="module")
def realtime_runs(roots):
    base, perturbed, cutoff = roots
    for stage in STAGES:
        for root in (base, perturbed):
            run_stage(root, stage, _params(True))
    return base, perturbed, cutoff


@pytest.mark.parametrize("stage", STAGES)
def test_realtime_values_dated_before_the_cutoff_do_not_change(stage, realtime_runs):
    base, perturbed, cutoff = realtime_runs
    early, late = _compare(stage, base, perturbed, cutoff)
    assert early == [], f"stage {stage}: rows dated before {cutoff:%Y-%m-%d} changed in {early} with realtime: true"
    if stage != "panel":  # the perturbation reaches the stage's values after the cut-off
        assert late, f"stage {stage}: nothing changed after the cut-off; the test would not see look-ahead"


def test_realtime_is_recorded_in_the_provenance(realtime_runs):
    base, _, _ = realtime_runs
    prov = read_provenance(base / artifact("covar_dcc").path)
    assert prov["realtime"] is True and prov["params"]["measures.covar_dcc"]["estimation"] == "expanding"


def test_full_sample_fits_change_earlier_values(roots, tmp_path):
    """The counterpart: with ``realtime: false`` the one full-sample fit per bank moves values dated years before."""
    base, perturbed, cutoff = roots
    out = []
    for src in (base, perturbed):
        root = copy_root(src, tmp_path / src.name, "prices", "system", "market_states", "balance_sheet", "banks")
        run_stage(root, "returns", _params(False))
        run_stage(root, "covar_qr", _params(False))
        out.append(root)
    early, _ = _compare("covar_qr", *out, cutoff)
    assert "covar_qr" in early
