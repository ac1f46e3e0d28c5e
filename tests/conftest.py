"""Shared fixtures: the repository root, the real data beside it, and one way to run stages.

Stage tests run stages through the runner (:func:`pipeline.stage.run_stage`), the same path
``dvc repro`` takes, with the repository's ``params.yaml`` and the overrides a test names.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


CN_BANK_GROUPS = {
    "state-owned": ["601288.SH", "601328.SH", "601398.SH", "601939.SH", "601988.SH"],
    "joint-stock": ["000001.SZ", "600000.SH", "600015.SH", "600016.SH", "600036.SH", "601166.SH", "601818.SH", "601998.SH"],
    "city": ["002142.SZ", "601009.SH", "601169.SH"],
}


def cn_banks_data(base: Path | str) -> dict[str, Any]:
    """``data`` params for the cn-banks Wind exports under ``base`` (with raw series for the market states)."""
    return {
        "source": "files", "format": "wind", "raw_dir": f"{base}/cn-banks/wind-exports", "currency": "CNY",
        "start": "2007-01-01", "end": None, "publication_lag_days": 120, "bank_groups": CN_BANK_GROUPS,
        "market_states": [
            {"name": "stock_vol", "file": "../cn_csi300_cgb_yields_daily.csv", "column": "csi300_close",
             "transform": "rolling_vol", "window": 20},
            {"name": "money", "file": "../cn_interbank_rates_daily.csv", "column": "shibor_1w_pct",
             "fallback_column": "ibo007_pct", "unit": "%"},
        ],
    }


def us_financials_data(base: Path | str) -> dict[str, Any]:
    """``data`` params for the us-financials toolbox workbook under ``base``."""
    return {"source": "files", "format": "toolbox", "raw_dir": f"{base}/us-financials", "files": {"workbook": "Example_Large.xlsx"},
            "money_unit": "USD m", "currency": "USD", "start": None, "end": None, "publication_lag_days": 45}


def repo_params(**overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``params.yaml`` with dotted-group overrides merged in.

    ``repo_params(**{"measures.covar_qr": {"estimation": "rolling"}})`` replaces those keys of the
    group and keeps the others; a value ``None`` for a whole group removes it.
    """
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    # in-process stage tests share the cores with pytest-xdist: map serially unless a test asks
    # for a scheduler (results do not depend on it: tests/test_compute.py)
    params["compute"] = {"scheduler": "serial"}
    for dotted, values in overrides.items():
        node = params
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if values is None:
            node.pop(last, None)
        elif isinstance(values, Mapping) and isinstance(node.get(last), Mapping):
            merged = copy.deepcopy(dict(node[last]))
            merged.update(values)
            node[last] = merged
        else:
            node[last] = values
    return params


def run_stage(root: Path, name: str, params: Mapping[str, Any] | None = None, **overrides: Mapping[str, Any]):
    """Run stage ``name`` under ``root`` (which holds ``data/``) through the runner; returns its context."""
    from pipeline.stage import run_stage as run

    return run(name, params=params if params is not None else repo_params(**overrides), root=root)


def assert_not_estimable(ctx, match: str) -> str:
    """Assert that a stage run (its context) was not estimable with a reason matching ``match``."""
    import re

    reason = ctx.not_estimable_reason
    assert reason is not None, f"stage {ctx.stage.name} ran; expected it to be not estimable ({match})"
    assert re.search(match, reason), f"not-estimable reason {reason!r} does not match {match!r}"
    return reason


def copy_root(src: Path, dst: Path, *names: str) -> Path:
    """A new data root at ``dst`` holding copies of the artifacts ``names`` (registry names) of ``src``."""
    from pipeline.artifacts import artifact

    for name in names:
        art = artifact(name)
        source = src / art.tracked
        target = dst / art.tracked
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dst


class RecordingMapper:
    """A mapper that records what it mapped and runs the items in reverse order (results must keep item order)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def map(self, fn, items, *, desc=""):
        items = list(items)
        self.calls.append((desc, len(items)))
        out = {k: fn(items[k]) for k in reversed(range(len(items)))}
        return [out[k] for k in range(len(items))]


def copy_repository(dst: Path) -> Path:
    """A git repository at ``dst`` with the repository's tracked files (no data outputs), as a user's clone."""
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    for rel in (f for f in out.splitlines() if f and (REPO / f).is_file()):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dst / rel)
    for name in ("data/interim", "data/processed", "data/report"):
        shutil.rmtree(dst / name, ignore_errors=True)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "fresh"]):
        subprocess.run(cmd, cwd=dst, check=True, capture_output=True, env={**os.environ, **env})
    return dst


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent (it is beside the repository in CI only)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def default_root(tmp_path_factory) -> Path:
    """A data root with the ingest and returns artifacts on the embedded default data (built once per session).

    Tests must not write into it: copy what a stage reads with :func:`copy_root` first.
    """
    root = tmp_path_factory.mktemp("default")
    run_stage(root, "ingest")
    run_stage(root, "returns")
    return root


@pytest.fixture(scope="session")
def default_data_dir(default_root) -> Path:
    """The ``data/`` folder of :func:`default_root`."""
    return default_root / "data"


@pytest.fixture
def stage_root(tmp_path, default_root) -> Path:
    """A fresh data root holding copies of the canonical tables and the returns artifacts."""
    return copy_root(default_root, tmp_path / "root", "prices", "returns", "system_returns", "quality/ingest", "quality/returns")


# --- pytest -n N (README, CI): each module's tests on one worker, the long modules first ----------------
#
# Under pytest-xdist's default `load` distribution consecutive tests go to different workers, so a
# module-scoped fixture (a whole `dvc repro`, the real-time runs) was built once per worker. With
# `-n N` the tests of one module (of one dataset, in the own-data runs) are instead sent to one
# worker, and the modules with `slow` tests are handed out first, so that the long ones run side by
# side rather than last. (xdist's own `--dist loadgroup` names the groups through a node attribute
# that pytest 9 no longer reads, hence this scheduler.)

#: Modules whose module-scoped fixture is parametrized: one group per parameter.
GROUP_BY_PARAM = ("tests/test_own_data_end_to_end.py",)


def _scope(nodeid: str) -> str:
    module = nodeid.split("::")[0]
    if module in GROUP_BY_PARAM and nodeid.endswith("]"):
        return f"{module}[{nodeid.rsplit('[', 1)[1]}"
    return module


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":  # an explicit --dist other than the default
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    config.option.loadscopereorder = False  # keep the collection order: slow modules first
    return ModuleScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    slow = {_scope(item.nodeid) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: _scope(item.nodeid) not in slow)  # stable: otherwise the collection order
