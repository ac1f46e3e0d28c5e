"""Sector correlations of the fire-sale shock from industry index series: the estimator (known truth),
the optional canonical table ``sector_indices`` (ingest, every format), the stage's use of it
(estimated where the table has the sector, params elsewhere, recorded) and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import repo_params, run_stage
from measures.core.config import ConfigError
from measures.stress.firesale_inputs import sector_correlations_from_indices
from measures.stress.firesale_years import SECTOR_CORRELATIONS, FireSaleParams, SectorIndices
from pipeline import adapters
from pipeline.adapters.common import file_roles
from pipeline.artifacts import artifact
from pipeline.export import export_data
from pipeline.io import read_parquet, write_parquet
from pipeline.params import DataConfig
from pipeline.schema import DataValidationError
from pipeline.simulator import simulate
from pipeline.simulator.stress_banks import SECTOR_COLUMNS
from pipeline.stages.stress_firesale import indexed_sectors, sector_choice

GROUP = "stress.firesale"
SMALL = {"alpha": {"start": 0.05, "stop": 0.25, "step": 0.05}, "years": [2012, 2013], "source": "synthetic"}
RAW = "data/raw/default"


def indices(rho: dict[str, float], n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """Index levels whose daily log returns are Gaussian with corr(r_s, r_re) = rho[s] (sectors independent given re)."""
    rng = np.random.default_rng(seed)
    re = rng.standard_normal(n)
    cols = {"real_estate": re}
    for name, r in rho.items():
        cols[name] = r * re + np.sqrt(1 - r * r) * rng.standard_normal(n)
    returns = pd.DataFrame(cols, index=pd.bdate_range("2010-01-01", periods=n, name="date")) * 0.01
    return 100 * np.exp(returns.cumsum())


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (dates x indices) as the canonical ``sector_indices`` table."""
    return frame.reset_index()


# ------------------------------------------------------------------ the estimator (known truth)


def test_known_correlations_are_recovered():
    truth = {"loans_construction": 0.9, "loans_mining": 0.3, "loans_finance": -0.2}
    got = sector_correlations_from_indices(indices(truth))
    assert list(got) == list(truth)
    for name, r in truth.items():
        assert abs(got[name] - r) < 4 * (1 - r * r) / np.sqrt(4000), (name, got[name])


def test_equals_the_pearson_correlation_of_losses_and_returns_mode():
    prices = indices({"loans_transport": 0.5}, n=300)
    prices.iloc[10, 1] = np.nan  # two returns of the sector are not observed
    losses = -np.log(prices).diff()
    both = losses.dropna()
    want = np.corrcoef(both["loans_transport"], both["real_estate"])[0, 1]
    got = sector_correlations_from_indices(prices)["loans_transport"]
    assert got == pytest.approx(want, rel=1e-12) and len(both) == 299 - 2
    returns = np.log(prices).diff().iloc[1:]
    assert sector_correlations_from_indices(returns, values="returns")["loans_transport"] == pytest.approx(got, rel=1e-12)


# ------------------------------------------------------------------ the canonical table through ingest


@pytest.fixture(scope="module")
def small_raw(tmp_path_factory) -> Path:
    """A data root with one simulated year as canonical CSV files and a sector_indices.csv (planted truth)."""
    root = tmp_path_factory.mktemp("sector_files")
    export_data(simulate(seed=1, start="2015-01-05", end="2015-12-31"), root / RAW)
    return root


def files_config(**data) -> DataConfig:
    return DataConfig.from_mapping({"source": "files", "format": "canonical", "raw_dir": RAW, "start": "2015-01-05",
                                    "end": "2015-12-31", **data}, where="data")


def write_indices(root: Path, text: str, name: str = "sector_indices.csv") -> Path:
    path = root / RAW / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def raw_root(tmp_path, small_raw) -> Path:
    """A fresh copy of :func:`small_raw`'s files (tests add their own sector_indices file)."""
    (tmp_path / RAW).mkdir(parents=True)
    for path in (small_raw / RAW).iterdir():
        (tmp_path / RAW / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_ingest_writes_the_table_and_the_stage_recovers_planted_correlations(raw_root):
    truth = {"loans_construction": 0.85, "loans_mining": 0.35}
    planted = indices(truth, n=3000, seed=4)
    frame = table(planted)
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(raw_root / RAW / "sector_indices.csv", index=False, float_format="%.17g")
    params = repo_params(data={"source": "files", "format": "canonical", "raw_dir": RAW, "start": "2015-01-05",
                               "end": "2015-12-31"}, **{GROUP: SMALL})
    run_stage(raw_root, "ingest", params=params)
    stored = read_parquet(raw_root / artifact("sector_indices").path)
    assert list(stored.columns) == ["date", "real_estate", *truth] and len(stored) == 3000  # not trimmed to data.start..end
    np.testing.assert_allclose(stored.set_index("date").to_numpy(), planted.to_numpy(), rtol=1e-15)
    run_stage(raw_root, "stress_firesale", params=params)
    q = read_parquet(raw_root / artifact("quality/stress_firesale").path)
    detail = q.loc[q.reason == "sector_correlations_estimated", "detail"].item()
    estimated = sector_correlations_from_indices(planted)
    for name, r in truth.items():
        assert abs(estimated[name] - r) < 4 * (1 - r * r) / np.sqrt(3000)
        assert f"{name} {estimated[name]:.4f}" in detail
    # the sectors without an index keep their params value, and the record says so
    assert "stress.firesale.sector_correlations for loans_transport" in detail and "loans_transport 0.8000" in detail
    assert "sector_indices.csv" in detail
    inputs = read_parquet(raw_root / artifact("firesale_inputs").path)
    assert {"loans_construction", "loans_mining"} <= set(inputs.columns)


def test_the_table_is_read_in_every_format_through_data_files():
    assert file_roles({"sector_indices": "sw.xlsx", "workbook": "x.xlsx"}, ("workbook",), fmt="toolbox") == \
        {"sector_indices": "sw.xlsx", "workbook": "x.xlsx"}
    with pytest.raises(ConfigError, match="data.files has unknown key\\(s\\) sectors for format wind"):
        file_roles({"sectors": "sw.xlsx"}, ("banks",), fmt="wind")


def test_check_lists_the_table_and_the_stage_line(raw_root):
    from pipeline.stages.stress_firesale import STAGE

    write_indices(raw_root, table(indices({"loans_mining": 0.5}, n=200)).to_csv(index=False))
    data, _ = adapters.load(files_config(), root=raw_root)
    assert data.sector_indices is not None and list(data.sector_indices.columns) == ["date", "real_estate", "loans_mining"]
    lines = STAGE.check(data, {GROUP: FireSaleParams.from_mapping(SMALL, where=GROUP), "data": files_config()})
    assert any(k == "estimates" and "from the sector_indices table" in t and "loans_mining" in t for k, t in lines)


# ------------------------------------------------------------------ the stage on a planted table


@pytest.fixture(scope="module")
def stage_runs(tmp_path_factory) -> dict[str, Path]:
    """The stage (simulated banks with the nine sector-loan columns) with a table for all sectors but one,
    with the merged correlations as params, and without a table."""
    base = tmp_path_factory.mktemp("sector_stage")
    truth = dict(zip(SECTOR_COLUMNS[1:], np.linspace(0.3, 0.9, len(SECTOR_COLUMNS) - 1)))
    frame = table(indices(truth, n=500))
    estimated = sector_correlations_from_indices(frame.set_index("date"))
    roots = {k: base / k for k in ("table", "params", "none")}
    write_parquet(frame, roots["table"] / artifact("sector_indices").path, key=["date"])
    run_stage(roots["table"], "stress_firesale", **{GROUP: SMALL})
    run_stage(roots["params"], "stress_firesale", **{GROUP: {**SMALL, "sector_correlations": SECTOR_CORRELATIONS | estimated}})
    run_stage(roots["none"], "stress_firesale", **{GROUP: SMALL})
    return roots | {"estimated": estimated}


def test_stage_with_the_table_equals_the_params_run_with_the_estimates(stage_runs):
    a, b = stage_runs["table"], stage_runs["params"]
    for name in ("firesale", "firesale_banks"):
        pd.testing.assert_frame_equal(read_parquet(a / artifact(name).path), read_parquet(b / artifact(name).path))
    assert not read_parquet(stage_runs["none"] / artifact("firesale").path)["sr"].equals(read_parquet(a / artifact("firesale").path)["sr"])
    q = read_parquet(a / artifact("quality/stress_firesale").path)
    detail = q.loc[q.reason == "sector_correlations_estimated", "detail"].item()
    first = SECTOR_COLUMNS[0]
    assert f"{GROUP}.sector_correlations for {first}" in detail
    assert f"{first} {SECTOR_CORRELATIONS[first]:.4f}" in detail


def test_without_the_table_the_params_are_used_and_in_the_provenance(stage_runs):
    from pipeline.io import read_provenance

    path = stage_runs["none"] / artifact("firesale").path
    assert read_provenance(path)["params"][GROUP]["sector_correlations"] == SECTOR_CORRELATIONS
    q = read_parquet(stage_runs["none"] / artifact("quality/stress_firesale").path)
    assert not q.reason.str.startswith("sector_correlations").any()  # the default runs' records are unchanged


def test_sector_choice_merges_and_keeps_the_order():
    cfg = FireSaleParams(sector_correlations={"loans_mining": 0.1, "loans_finance": 0.2})
    frame = table(indices({"loans_finance": 0.6, "loans_other": 0.4}, n=400))
    out, events = sector_choice(cfg, frame, "sw.csv")
    est = sector_correlations_from_indices(frame.set_index("date"))
    assert dict(out.sector_correlations) == {"loans_mining": 0.1, "loans_finance": est["loans_finance"],
                                             "loans_other": est["loans_other"]}
    assert events["action"].item() == "filled" and "(sw.csv)" in events["detail"].item()
    same, none = sector_choice(cfg, None)
    assert same is cfg and none.empty


# ------------------------------------------------------------------ bad inputs


def test_bad_input_sector_indices_without_real_estate():
    frame = table(indices({"loans_mining": 0.5}, n=100)).drop(columns="real_estate")
    with pytest.raises(DataValidationError, match=r"table sector_indices: sector indices: no real-estate column 'real_estate'; "
                                                  r"columns: loans_mining \(allowed: a column 'real_estate'"):
        indexed_sectors(frame, SectorIndices())


def test_bad_input_sector_indices_non_positive_level():
    frame = table(indices({"loans_mining": 0.5}, n=100))
    frame.loc[5, "loans_mining"] = -2.5
    with pytest.raises(DataValidationError, match=r"^sw.csv, table sector_indices, column 'loans_mining', date 2010-01-08, "
                                                  r"value -2.5: not a positive index level \(allowed: index levels > 0, "
                                                  r"or stress.firesale.sector_indices.values: returns\)"):
        indexed_sectors(frame, SectorIndices(), "sw.csv")
    assert indexed_sectors(frame.assign(loans_mining=frame["loans_mining"] * 1e-3 - 0.05), SectorIndices(values="returns", min_obs=50))


def test_bad_input_sector_indices_too_few_observations():
    with pytest.raises(DataValidationError, match="column 'loans_mining' has 49 losses observed together with 'real_estate'; "
                                                  "at least 60 are needed"):
        indexed_sectors(table(indices({"loans_mining": 0.5}, n=50)), SectorIndices())


def test_bad_input_sector_indices_constant_series():
    frame = table(indices({"loans_mining": 0.5}, n=100)).assign(loans_mining=100.0)
    with pytest.raises(DataValidationError, match="column 'loans_mining' or 'real_estate' is constant"):
        indexed_sectors(frame, SectorIndices())


def test_bad_input_sector_indices_stage_stops_naming_the_table(tmp_path):
    write_parquet(table(indices({"loans_mining": 0.5}, n=20)), tmp_path / artifact("sector_indices").path, key=["date"])
    with pytest.raises(DataValidationError, match=r"table sector_indices: .*loans_mining.*at least 60"):
        run_stage(tmp_path, "stress_firesale", **{GROUP: SMALL})


@pytest.mark.parametrize("text, match", [
    ("date,real_estate\n2020-01-01,1\nyesterday,2\n", r"sector_indices.csv, table sector_indices, column 'date', row 3, value 'yesterday'"),
    ("date,real_estate\n2020-01-01,1\n2020-01-02,n.a.\n", r"sector_indices.csv, table sector_indices, column 'real_estate', row 3.*'n.a.'"),
    ("date,real_estate\n2020-01-01,1\n2020-01-01,2\n", r"table sector_indices.*2020-01-01.*duplicate"),
    ("date\n2020-01-01\n", r"table sector_indices: no industry-index column"),
    ("day,real_estate\n2020-01-01,1\n", r"table sector_indices: missing required column\(s\) 'date'"),
], ids=["date", "number", "duplicate", "no-index", "no-date"])
def test_bad_input_sector_indices_file(raw_root, text, match):
    write_indices(raw_root, text)
    with pytest.raises(DataValidationError, match=match):
        adapters.load(files_config(), root=raw_root)


def test_bad_input_sector_indices_named_file_absent(raw_root):
    with pytest.raises(DataValidationError, match=r"sector_indices file not found \(named in data.files.sector_indices\)"):
        adapters.load(files_config(files={"sector_indices": "sw.csv"}), root=raw_root)


def test_bad_input_sector_indices_old_file_key():
    with pytest.raises(ConfigError, match=r"^stress.firesale.sector_indices.file='data/raw/sw.csv': the industry index series "
                                          r"are now the optional canonical table sector_indices"):
        FireSaleParams.from_mapping({"sector_indices": {"file": "data/raw/sw.csv"}}, where=GROUP)


def test_bad_input_sector_indices_params():
    with pytest.raises(ConfigError, match=r"stress.firesale.sector_indices: values='levels' is not allowed"):
        FireSaleParams.from_mapping({"sector_indices": {"values": "levels"}}, where=GROUP)
