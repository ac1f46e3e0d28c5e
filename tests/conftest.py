"""Shared fixtures: the repository root and the real data beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


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
def default_data_dir(tmp_path_factory) -> Path:
    """A DVC-like data tree with the backbone artifacts on the embedded default data.

    Runs the ingest and returns stages (not DVC) with the repository's ``params.yaml``
    into a temporary ``data/`` folder: ``interim/canonical/*``, ``interim/returns.parquet``,
    ``interim/system_returns.parquet``, ``processed/quality/{ingest,returns}.parquet``.
    Stage tests read these and write their own outputs beside them.
    """
    from pipeline.stages import ingest, returns

    data = tmp_path_factory.mktemp("default") / "data"
    params = str(REPO / "params.yaml")
    quality = data / "processed" / "quality"
    ingest.run(params, str(data / "interim" / "canonical"), str(quality), root=str(REPO))
    returns.run(params, str(data / "interim" / "canonical"), str(data / "interim"), str(quality))
    return data
