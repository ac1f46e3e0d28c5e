"""The ranking bootstrap's science (measures.ranking): the stationary bootstrap, rank summaries, known truths.

Known truths: the stationary bootstrap's blocks have the mean length asked for; its variance of
the mean of an AR(1) is the series' long-run variance (and agrees with arch's independent
StationaryBootstrap); planted banks with well-separated means get tight rank intervals and
P(top k) = 1, banks with equal means wide ones; the bank that drives a planted VAR ranks first by
CRW. Mapped = serial exactly (tests/pool_mapper.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pool_mapper import PoolMapper
from test_contagion_chain import planted
from measures.contagion import ContagionConfig, contagion_series, estimate_contagion
from measures.core.config import ConfigError
from measures.core.status import NotEstimable
from measures.ranking import (
    RankingConfig,
    block_length_rule,
    descending_ranks,
    kendall_tau,
    kendall_taus,
    rank_crw,
    rank_measures,
    rank_table,
    replication_rng,
    stationary_indices,
    usable_panel,
    year_crw,
)
from measures.ranking.config import check_plan

OPTIONS = ContagionConfig().chain_options()


def ar1(n: int, phi: float, rng: np.random.Generator, mean: float = 0.0) -> np.ndarray:
    e = rng.standard_normal(n + 100)
    x = np.zeros_like(e)
    for t in range(1, len(e)):
        x[t] = phi * x[t - 1] + e[t]
    return mean + x[100:]


def panel(means, *, n=1500, phi=0.5, seed=1) -> pd.DataFrame:
    """Dates x banks, bank j an AR(1) around ``means[j]`` (unit innovations)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-01", periods=n, name="date")
    return pd.DataFrame({f"B{j}": ar1(n, phi, rng, m) for j, m in enumerate(means)}, index=dates)


# -- the stationary bootstrap ---------------------------------------------------------------------
def test_stationary_blocks_have_the_mean_length_asked_for():
    n, length = 200_000, 25.0
    idx = stationary_indices(n, length, replication_rng(7, (0,)))
    assert idx.min() >= 0 and idx.max() < n and idx.dtype == np.int64
    starts = np.r_[True, idx[1:] != (idx[:-1] + 1) % n]
    assert np.mean(np.diff(np.flatnonzero(starts))) == pytest.approx(length, rel=0.02)
    assert stationary_indices(50, 1.0, replication_rng(7, (0,))).size == 50  # L = 1: the iid bootstrap
    starts1 = stationary_indices(10_000, 1.0, replication_rng(7, (1,)))
    assert np.mean(starts1[1:] == (starts1[:-1] + 1) % 10_000) < 0.01


def test_stationary_indices_depend_on_the_seed_and_key_only():
    a = stationary_indices(300, 10.0, replication_rng(5, (3,)))
    assert np.array_equal(a, stationary_indices(300, 10.0, replication_rng(5, (3,))))
    assert not np.array_equal(a, stationary_indices(300, 10.0, replication_rng(5, (4,))))
    assert not np.array_equal(a, stationary_indices(300, 10.0, replication_rng(6, (3,))))
    with pytest.raises(ValueError, match="mean_block"):
        stationary_indices(10, 0.5, replication_rng(5, (0,)))


def test_bootstrap_variance_of_an_ar1_mean_is_its_long_run_variance():
    """T·Var*(x̄*) ≈ σ²/(1-φ)² = 4 for φ = 0.5; arch's StationaryBootstrap (another RNG) agrees."""
    from arch.bootstrap import StationaryBootstrap

    phi, n, length, reps = 0.5, 2000, 30.0, 300
    ours, theirs = [], []
    for s in range(12):
        x = ar1(n, phi, np.random.default_rng(100 + s))
        means = [x[stationary_indices(n, length, replication_rng(s, (b,)))].mean() for b in range(reps)]
        ours.append(n * np.var(means))
        bs = StationaryBootstrap(length, x, seed=np.random.default_rng(200 + s))
        theirs.append(n * np.var([data[0][0].mean() for data in bs.bootstrap(reps)]))
    lrv = 1.0 / (1.0 - phi) ** 2
    assert np.mean(ours) == pytest.approx(lrv, rel=0.15)
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.1)


def test_block_length_rule_grows_with_persistence():
    rng = np.random.default_rng(2)
    short = block_length_rule([ar1(2000, 0.1, rng) for _ in range(3)], n=2000)
    long = block_length_rule([ar1(2000, 0.95, rng) for _ in range(3)], n=2000)
    assert 1.0 <= short < long <= 2000.0
    assert block_length_rule([np.ones(50), np.full(5, np.nan)], n=50) == 1.0  # nothing usable: 1
    assert block_length_rule([ar1(2000, 0.99, rng)], n=40) == 40.0  # clipped to the dates resampled


# -- ranks ---------------------------------------------------------------------------------------
def test_descending_ranks_share_the_best_rank_on_ties_and_keep_nan():
    r = descending_ranks(np.array([[3.0, 1.0, 3.0, np.nan], [0.0, 2.0, 1.0, 5.0]]))
    assert np.array_equal(r[0, :3], [1.0, 3.0, 1.0]) and np.isnan(r[0, 3])
    assert np.array_equal(r[1], [4.0, 2.0, 3.0, 1.0])


def test_rank_table_intervals_and_p_top_k_from_known_replications():
    point = pd.Series([3.0, 2.0, 1.0], index=["a", "b", "c"])
    boot = np.array([[3.0, 2.0, 1.0]] * 6 + [[1.0, 2.0, 3.0]] * 4)  # c first in 4 of 10 replications
    t = rank_table(point, boot, level=0.9, top_k=1).set_index("bank_id")
    assert t.loc["a", "rank"] == 1 and t.loc["a", "p_top_k"] == pytest.approx(0.6)
    assert (t.loc["c", "rank_lo"], t.loc["c", "rank_hi"]) == (1.0, 3.0)
    assert (t.loc["b", "rank_lo"], t.loc["b", "rank_hi"], t.loc["b", "p_top_k"]) == (2.0, 2.0, 0.0)
    assert t["replications"].tolist() == [10, 10, 10]


def test_kendall_tau_of_known_orders():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == (1.0, 4)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == (-1.0, 4)
    tau, n = kendall_tau([1, 2, np.nan, 4], [1, 2, 3, np.nan])
    assert np.isnan(tau) and n == 2  # fewer than 3 common banks


def test_vectorized_ranks_and_tau_equal_scipy_bit_for_bit_with_ties_and_gaps():
    """Reference: scipy.stats.rankdata(method="min") and kendalltau (τ-b) row by row."""
    from scipy.stats import kendalltau, rankdata

    rng = np.random.default_rng(11)
    a = rng.integers(0, 6, size=(300, 12)).astype(float)  # many ties
    b = np.where(rng.random((300, 12)) < 0.5, a + rng.integers(-2, 3, size=(300, 12)), rng.normal(size=(300, 12)))
    a[rng.random(a.shape) < 0.1] = np.nan
    b[rng.random(b.shape) < 0.1] = np.nan
    a[0], b[1, :10] = 1.0, np.nan  # a constant row; a row with two common banks
    ranks = descending_ranks(a)
    taus, counts = kendall_taus(a, b)
    for row in range(len(a)):
        ok = np.isfinite(a[row])
        assert np.array_equal(ranks[row, ok], rankdata(-a[row, ok], method="min"))
        assert np.isnan(ranks[row, ~ok]).all()
        both = ok & np.isfinite(b[row])
        assert counts[row] == both.sum()
        if both.sum() < 3 or np.ptp(a[row, both]) == 0 or np.ptp(b[row, both]) == 0:
            assert np.isnan(taus[row])
        else:
            assert taus[row] == kendalltau(a[row, both], b[row, both]).statistic  # exact, not approx
    assert np.isnan(taus[0]) and np.isnan(taus[1]) and np.isfinite(taus).sum() > 250


# -- known truth: planted means ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted_ranking():
    """Banks B0..B2 with means 3, 2, 1 (far apart for a sd of the mean ~0.05), B3..B5 all at 0."""
    data = panel([3.0, 2.0, 1.0, 0.0, 0.0, 0.0])
    other = panel([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], seed=2)
    config = RankingConfig(replications=200, top_k=3, block_length=20.0)
    return rank_measures({"m1": data, "m2": other}, config), config


def test_separated_means_get_tight_intervals_and_equal_means_wide_ones(planted_ranking):
    result, _ = planted_ranking
    t = result.ranks[result.ranks["measure"] == "m1"].set_index("bank_id")
    for bank, rank in (("B0", 1), ("B1", 2), ("B2", 3)):
        assert (t.loc[bank, "rank"], t.loc[bank, "rank_lo"], t.loc[bank, "rank_hi"]) == (rank, rank, rank)
        assert t.loc[bank, "p_top_k"] == 1.0
    tied = t.loc[["B3", "B4", "B5"]]
    assert (tied["rank_lo"] >= 4).all() and (tied["rank_hi"] <= 6).all()
    assert (tied["rank_hi"] - tied["rank_lo"] >= 1).all()  # none can be told apart from the others
    assert (tied["p_top_k"] == 0).all()
    assert t.loc["B0", "value"] == pytest.approx(3.0, abs=0.2)


def test_kendall_tau_between_measures_with_interval(planted_ranking):
    result, _ = planted_ranking
    row = result.tau.iloc[0]
    assert (row["kind"], row["a"], row["b"], row["n_banks"], row["replications"]) == ("measures", "m1", "m2", 6, 200)
    assert row["tau"] < -0.7 and row["tau_lo"] <= row["tau_hi"] < -0.5


def test_measure_bootstrap_mapped_equals_serial(planted_ranking):
    result, config = planted_ranking
    mapper = PoolMapper(2)
    try:
        mapped = rank_measures({"m1": panel([3.0, 2.0, 1.0, 0.0, 0.0, 0.0]), "m2": panel([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], seed=2)},
                               config, mapper=mapper)
    finally:
        mapper.close()
    assert mapped.ranks.equals(result.ranks) and mapped.tau.equals(result.tau)
    assert mapper.sizes[0][:2] == ("ranking bootstrap", 200)


def test_uneven_coverage_means_over_each_banks_own_dates():
    data = panel([1.0, 2.0, 3.0])
    data.iloc[:500, 2] = np.nan
    result = rank_measures({"m": data}, RankingConfig(replications=20, block_length=10.0))
    t = result.ranks.set_index("bank_id")
    assert t.loc["B2", "n_obs"] == 1000 and t.loc["B2", "date_start"] == data.index[500]
    assert t.loc["B2", "value"] == pytest.approx(data["B2"].mean())
    assert t.loc["B2", "block_length"] == 10.0


def test_usable_panel_leaves_out_failed_missing_and_short_banks():
    dates = pd.bdate_range("2010-01-01", periods=300)
    long = pd.DataFrame({"bank_id": np.repeat(["A", "B", "C"], 300), "date": np.tile(dates, 3),
                         "x": np.arange(900, dtype=float), "status": "ok"})
    long.loc[:9, "status"] = "failed:MissingLiabilities: none"
    long.loc[10, "status"] = "warning:ConvergenceWarning"  # kept
    long.loc[20, "x"] = np.nan
    long.loc[long.bank_id == "C", "status"] = "garbage"  # unreadable = failed
    wide, events = usable_panel(long, "x", min_obs=250, name="t.parquet")
    assert list(wide.columns) == ["A", "B"] and wide["A"].notna().sum() == 289
    ev = events.set_index(["bank_id", "reason"])
    assert ev.loc[("A", "fit_status"), "n_rows"] == 10 and ev.loc[("A", "missing_value"), "n_rows"] == 1
    assert ev.loc[("C", "fit_status"), "n_rows"] == 300
    short, ev2 = usable_panel(long, "x", min_obs=295, name="t.parquet")
    assert list(short.columns) == ["B"] and "fewer than min_obs=295" in ev2.set_index("reason").loc["min_obs", "detail"]


def test_bad_input_measure_without_its_column():
    with pytest.raises(NotEstimable, match="t.parquet: column\\(s\\) \\['srisk'\\] missing"):
        usable_panel(pd.DataFrame({"bank_id": ["A"], "date": [pd.Timestamp("2010-01-01")]}), "srisk", min_obs=2,
                     name="t.parquet")


@pytest.mark.parametrize("key, value, match", [
    ("replications", 5, "replications=5 is out of range"),
    ("level", 1.0, "level=1.0 is out of range"),
    ("block_length", 0.5, "block_length=0.5 is out of range"),
    ("top_k", 0, "top_k=0 is out of range"),
    ("crw", "yes", "crw='yes' must be true or false"),
])
def test_bad_input_ranking_params(key, value, match):
    with pytest.raises(ConfigError, match=f"^measures.rankings: {match}"):
        RankingConfig.from_mapping({key: value}, where="measures.rankings")


def test_check_plan_names_what_the_data_lacks():
    lines = check_plan(has_states=False, has_balance_sheet=False, config=RankingConfig(), contagion_window="rolling",
                       contagion_series="dcc")
    text = "\n".join(f"{k}: {t}" for k, t in lines)
    assert "covar_dcc, mes:" in text and "covar_qr is not ranked: the data has no market_states" in text
    assert "srisk is not ranked" in text and "per calendar year only" in text
    assert RankingConfig().for_realtime() == RankingConfig()


# -- CRW ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crw_series() -> pd.DataFrame:
    return contagion_series(planted(n_banks=4, years=(2010, 2011))).series


def test_year_crw_as_is_is_the_contagion_chain(crw_series):
    block = crw_series[crw_series.index.year == 2010]
    expected = estimate_contagion(crw_series, **OPTIONS).crw
    expected = expected[expected.year == 2010].set_index("bank_id")["crw"]
    assert np.allclose(year_crw(block, OPTIONS), expected.reindex(block.columns).to_numpy(), rtol=0, atol=1e-12)


def test_planted_driver_ranks_first_by_crw(crw_series):
    """B0 drives the others: rank 1 on the data and in most replications; the others are rarely first."""
    config = RankingConfig(replications=20, top_k=1)
    result = rank_crw(crw_series, {2010: "ols", 2011: "ols"}, OPTIONS, config)
    t = result.ranks.set_index(["year", "bank_id"])
    for year in (2010, 2011):
        assert t.loc[(year, "B0"), "rank"] == 1 and t.loc[(year, "B0"), "p_top_k"] >= 0.75
        assert t.loc[(year, "B0"), "rank_lo"] == 1 and t.loc[(year, "B0"), "rank_hi"] <= 2
        assert t.loc[year].drop("B0")["p_top_k"].max() <= 0.25
        assert 1.0 <= t.loc[(year, "B0"), "block_length"] <= 261
    row = result.tau.iloc[0]
    assert (row["kind"], row["a"], row["b"], row["n_banks"]) == ("crw_years", "2010", "2011", 4)
    assert result.events.empty


def test_crw_bootstrap_mapped_equals_serial_and_years_are_independent(crw_series):
    config = RankingConfig(replications=10, block_length=15.0)
    serial = rank_crw(crw_series, {2010: "ols", 2011: "ols"}, OPTIONS, config)
    mapper = PoolMapper(2)
    try:
        mapped = rank_crw(crw_series, {2010: "ols", 2011: "ols"}, OPTIONS, config, mapper=mapper)
    finally:
        mapper.close()
    assert mapped.ranks.equals(serial.ranks) and mapped.tau.equals(serial.tau)
    alone = rank_crw(crw_series, {2010: "ols"}, OPTIONS, config)  # year 2010 without 2011: same numbers
    assert alone.ranks.equals(serial.ranks[serial.ranks.year == 2010].reset_index(drop=True))


def test_failed_replications_are_flagged(crw_series):
    short = crw_series.iloc[:130]  # 2010's first 130 days: min_obs 120 screening in the resample still passes
    config = RankingConfig(replications=10, block_length=5.0)
    result = rank_crw(short, {2010: "ols"}, {**OPTIONS, "min_obs": 130}, config)
    assert result.ranks["replications"].eq(10).all()
    broken = rank_crw(short, {2010: "ols"}, {**OPTIONS, "lags": 40, "max_lags": 40}, config)  # VAR too large
    assert broken.ranks.empty and broken.events["reason"].tolist() == ["window_failed"]
    # a bank the chain leaves out of the year on the data is not resampled either
    gappy = crw_series.copy()
    gappy.iloc[:200, 3] = np.nan  # B3: 61 days in 2010 < contagion.min_obs = 120
    kept = rank_crw(gappy, {2010: "ols"}, OPTIONS, config)
    assert kept.ranks["bank_id"].tolist() == ["B0", "B1", "B2"] and kept.ranks["replications"].eq(10).all()
    # two banks, B1 with exactly min_obs days: a resample with fewer leaves one bank, and that replication fails
    pair = crw_series[["B0", "B1"]].copy()
    pair.iloc[130:261, 1] = np.nan
    flaky = rank_crw(pair, {2010: "ols"}, {**OPTIONS, "min_obs": 130}, config)
    failed = flaky.events.set_index("reason").loc["replication_failed", "n_rows"]
    assert 0 < failed < 10 and flaky.ranks["replications"].eq(10 - failed).all()
