"""Optional canonical tables are optional: removing one skips only the market-data outputs that need it.

``market_states`` feeds covar_qr and spillover (and contagion with ``series: qr | spillover``);
``balance_sheet`` feeds SRISK only; ``system`` feeds the returns stage with ``system: index`` only.
Each test starts from a root where every table is present and removes one.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_not_estimable, run_stage

from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet
from pipeline.stage import load_stage, not_estimable_mark

_SPEC = importlib.util.spec_from_file_location("tiny_dcc", Path(__file__).parent / "fixtures" / "covar_dcc" / "tiny.py")
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)

STAGES = ("covar_dcc", "mes_srisk", "covar_qr", "spillover", "contagion")
SMALL = {"measures.covar_qr": {"min_obs": 250}, "measures.spillover": {"window": 250, "step": 50}}


def path(root: Path, name: str) -> Path:
    return root / artifact(name).path


def marked(root: Path, name: str) -> bool:
    return not_estimable_mark(path(root, name), artifact(name)) is not None


@pytest.fixture(scope="module")
def full_root(tmp_path_factory) -> Path:
    """Tiny returns, balance sheet and two state variables, with covar_dcc fitted once."""
    root = tiny.write_interim(tmp_path_factory.mktemp("full"))
    dates, _ = tiny.simulate()
    rng = np.random.default_rng(11)
    write_parquet(pd.DataFrame({"date": dates, "s1": rng.normal(size=len(dates)), "s2": rng.normal(size=len(dates))}),
                  path(root, "market_states"))
    run_stage(root, "covar_dcc", **tiny.overrides())
    return root


def run_all(root: Path, **contagion) -> dict[str, object]:
    over = {**tiny.overrides(), **SMALL, "contagion": {"min_obs": 100, **contagion}}
    return {name: run_stage(root, name, **over) for name in ("mes_srisk", "covar_qr", "spillover", "contagion")}


def copy(full_root: Path, tmp_path: Path) -> Path:
    shutil.copytree(full_root / "data", tmp_path / "data")
    return tmp_path


def test_declarations_read_optional_tables_only_where_needed():
    inputs = {name: set(load_stage(name).inputs) for name in STAGES}
    assert {n for n, i in inputs.items() if "market_states" in i} == {"covar_qr", "spillover"}
    assert {n for n, i in inputs.items() if "balance_sheet" in i} == {"mes_srisk"}
    assert not any("system" in i for i in inputs.values())  # the system *table*; system_returns is the returns stage's


def test_bad_input_without_market_states_only_the_quantile_regressions_are_skipped(full_root, tmp_path):
    root = copy(full_root, tmp_path)
    path(root, "market_states").unlink()
    ctx = run_all(root)
    for name in ("covar_qr", "spillover"):
        assert_not_estimable(ctx[name], "no market_states table")
    assert ctx["mes_srisk"].not_estimable_reason is None and ctx["contagion"].not_estimable_reason is None
    assert not read_parquet(path(root, "srisk")).empty and not read_parquet(path(root, "crw")).empty
    assert all(marked(root, n) for n in ("covar_qr", "covar_qr_weekly", "spillover", "spillover_index"))
    # contagion on the qr series inherits the reason (marked, not stopped)
    assert_not_estimable(run_stage(root, "contagion", contagion={"series": "qr"}), "covar_qr.parquet is not estimable")


def test_bad_input_without_balance_sheet_only_srisk_is_skipped(full_root, tmp_path):
    root = copy(full_root, tmp_path)
    path(root, "balance_sheet").unlink()
    ctx = run_all(root)
    assert all(c.not_estimable_reason is None for c in ctx.values())  # no whole stage is skipped
    assert marked(root, "srisk") and marked(root, "srisk_total") and not marked(root, "mes")
    assert not read_parquet(path(root, "mes")).empty
    for name in ("covar_qr", "spillover", "crw"):
        assert not read_parquet(path(root, name)).empty, name


def test_bad_input_without_system_table_only_the_index_system_return_needs_it(default_root, tmp_path):
    """No sector index: the default system return (market-value-weighted sample) is unchanged, so every
    market-data stage gets the same inputs; only ``measures.returns.system: index`` needs the table."""
    from conftest import copy_root

    from pipeline.schema import DataValidationError

    root = copy_root(default_root, tmp_path / "root", "prices")
    path(root, "system").unlink()
    run_stage(root, "returns")
    for name in ("returns", "system_returns"):
        pd.testing.assert_frame_equal(read_parquet(path(root, name)), read_parquet(path(default_root, name)))
    with pytest.raises(DataValidationError, match="needs the system table"):
        run_stage(root, "returns", **{"measures.returns": {"system": "index"}})


def test_bad_input_no_market_states_through_the_cli_and_dvc_deps(full_root, tmp_path, capsys):
    """No raw "[Errno 2] No such file or directory": the stages' DVC deps name the canonical folder (always
    written by ingest), never an optional table's file, and the CLI prints one not-estimable line, exit 0."""
    import yaml

    from pipeline.dag import render
    from pipeline.stage import main

    spec = yaml.safe_load(render())["stages"]
    optional = {artifact(n).path for n in ("market_states", "balance_sheet", "system")}
    for name in STAGES:
        assert not optional & set(spec[name]["deps"]), name
    root = copy(full_root, tmp_path)
    path(root, "market_states").unlink()
    params = tmp_path / "params.yaml"
    from conftest import repo_params

    params.write_text(yaml.safe_dump(repo_params(**SMALL)), encoding="utf-8")
    assert main(["covar_qr", "--params", str(params), "--root", str(root)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("stage covar_qr: not estimable from this data: the data source has no market_states table")
    assert "Errno" not in err and "Traceback" not in err
