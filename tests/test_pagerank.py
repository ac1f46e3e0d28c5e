"""Contagion risk weights (PageRank on the Granger network) and the per-window chain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.contagion import (
    ContagionConfig,
    contagion_weights,
    estimate_contagion,
    granger_pvalues,
)


def pagerank_linear_solve(weights: np.ndarray, damping: float) -> np.ndarray:
    """PageRank by a direct linear solve: ``(I - d M') π = (1 - d)/N 1`` with M row-stochastic,
    dangling rows (zero out-weight) replaced by the uniform distribution."""
    n = weights.shape[0]
    out = weights.sum(axis=1)
    m = np.where(out[:, None] > 0, weights / np.where(out > 0, out, 1.0)[:, None], 1.0 / n)
    pi = np.linalg.solve(np.eye(n) - damping * m.T, np.full(n, (1 - damping) / n))
    return pi / pi.sum()


def pvalue_frame(p: np.ndarray, banks=None) -> pd.DataFrame:
    banks = banks or [f"b{k}" for k in range(p.shape[0])]
    p = p.astype(float).copy()
    np.fill_diagonal(p, np.nan)
    return pd.DataFrame(p, index=pd.Index(banks, name="source"), columns=pd.Index(banks, name="target"))


def test_star_graph_hub_is_source_leaves_are_targets():
    n = 6
    p = np.ones((n, n))  # a star: the only edges are hub (bank 0) -> leaf
    p[0, 1:] = 0.001
    src = contagion_weights(pvalue_frame(p), direction="source")
    tgt = contagion_weights(pvalue_frame(p), direction="target")
    assert src.idxmax() == "b0" and src["b0"] > 2 * src.drop("b0").max()
    assert (tgt.drop("b0") > tgt["b0"]).all()
    assert src.sum() == pytest.approx(1.0, abs=1e-15) and tgt.sum() == pytest.approx(1.0, abs=1e-15)
    assert src.name == "crw" and src.index.name == "bank_id"


@pytest.mark.parametrize("direction", ["source", "target"])
@pytest.mark.parametrize("damping", [0.85, 0.5])
def test_pagerank_equals_linear_solve(direction, damping):
    rng = np.random.default_rng(4)
    p = rng.uniform(size=(7, 7))
    p[3, :] = 1.0  # bank 3 causes nobody: a dangling node of the reversed graph
    p[:, 5] = 1.0  # nobody causes bank 5: a dangling node of the plain graph
    a = 1.0 - p
    np.fill_diagonal(a, 0.0)
    expected = pagerank_linear_solve(a.T if direction == "source" else a, damping)
    got = contagion_weights(pvalue_frame(p), direction=direction, damping=damping)
    np.testing.assert_allclose(got.to_numpy(), expected, atol=1e-10, rtol=0)


def test_target_direction_ignores_the_scale_of_a_row():
    """PageRank normalizes out-weights: a bank whose row of 1 - p is uniform spreads its mass
    uniformly however significant its edges are; with every row uniform the weights are equal."""
    p = np.full((4, 4), 0.9)
    p[0, 1:] = 0.001
    tgt = contagion_weights(pvalue_frame(p), direction="target")
    np.testing.assert_allclose(tgt.to_numpy(), 0.25, atol=1e-12)
    assert contagion_weights(pvalue_frame(p), direction="source").idxmax() == "b0"


def test_known_truth_leader_has_largest_source_weight():
    """Bank A leads B and C in a simulated VAR(1): A carries the largest source weight."""
    coef = np.array([[0.3, 0.0, 0.0], [0.4, 0.2, 0.0], [0.4, 0.0, 0.2]])
    rng = np.random.default_rng(1)
    y = np.zeros((350, 3))
    for t in range(1, 350):
        y[t] = coef @ y[t - 1] + rng.standard_normal(3)
    p = granger_pvalues(pd.DataFrame(y[50:], columns=["A", "B", "C"]), max_lags=4)
    crw = contagion_weights(p)
    assert crw.idxmax() == "A"
    assert crw["A"] > 1 / 3 + 0.05 > crw.drop("A").max()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"direction": "in"}, r"direction='in' is not allowed; allowed values: 'source', 'target'"),
        ({"damping": 1.0}, r"damping=1.0 is out of range; allowed: \(0.0, 1.0\)"),
        ({"damping": 0}, r"damping=0 is out of range"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contagion_weights(pvalue_frame(np.full((3, 3), 0.5)), **kwargs)


def test_bad_pvalues_raise():
    p = np.full((3, 3), 0.5)
    p[1, 2] = 1.2
    with pytest.raises(ValueError, match=r"in \[0, 1\] off the diagonal; got 1.2 for source 'b1', target 'b2'"):
        contagion_weights(pvalue_frame(p))
    p[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"got nan for source 'b1', target 'b2'"):
        contagion_weights(pvalue_frame(p))
    with pytest.raises(ValueError, match=r"square banks x banks frame .* got shape \(3, 2\)"):
        contagion_weights(pvalue_frame(np.full((3, 3), 0.5)).iloc[:, :2])
    shuffled = pvalue_frame(np.full((3, 3), 0.5))
    shuffled.columns = ["b1", "b0", "b2"]
    with pytest.raises(ValueError, match="same banks, in the same order"):
        contagion_weights(shuffled)


def _two_year_panel() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    dates = pd.bdate_range("2010-01-01", "2011-12-31")
    coef = np.array([[0.3, 0, 0, 0], [0.4, 0.2, 0, 0], [0.4, 0, 0.2, 0], [0, 0, 0, 0.2]])
    y = np.zeros((len(dates), 4))
    for t in range(1, len(dates)):
        y[t] = coef @ y[t - 1] + rng.standard_normal(4)
    df = pd.DataFrame(5.0 + 3.0 * y, index=dates, columns=["A", "B", "C", "D"])
    df.loc["2010-03-01":"2010-12-31", "D"] = np.nan  # D is thin in 2010 only
    return df


def test_estimate_contagion_per_year():
    df = _two_year_panel()
    out = estimate_contagion(df, min_obs=100, max_lags=3)
    assert out.exclusions.to_dict("records") == [
        {"bank_id": "D", "year": 2010, "n_obs": 41, "reason": "fewer than min_obs=100 observations in the window (41)"}
    ]
    assert sorted(out.crw.groupby("year").size().to_dict().items()) == [(2010, 3), (2011, 4)]
    np.testing.assert_allclose(out.crw.groupby("year").crw.sum(), 1.0, atol=1e-12)
    assert out.crw.loc[out.crw.groupby("year").crw.idxmax(), "bank_id"].tolist() == ["A", "A"]
    block = df.loc["2011"]
    expected = granger_pvalues((block - block.mean()) / block.std(), max_lags=3)
    np.testing.assert_allclose(out.pvalues[2011].to_numpy(), expected.to_numpy(), atol=1e-12, rtol=0)
    raw = granger_pvalues(block, max_lags=3)  # standardization does not change the F tests
    np.testing.assert_allclose(raw.to_numpy(), expected.to_numpy(), atol=1e-9, rtol=0)
    assert out.windows.columns.tolist() == ["year", "n_banks", "nobs", "lags", "aic", "bic", "hqic", "route", "status"]
    assert out.windows.route.eq("ols").all() and out.route.var == "ols"
    assert out.windows.status.tolist() == ["ok", "ok"] and out.windows.n_banks.tolist() == [3, 4]
    assert len(out.edges) == 3 * 2 + 4 * 3
    assert set(out.edges.loc[(out.edges.year == 2011) & out.edges.significant, "source"]) == {"A"}


def test_estimate_contagion_rolling_and_pairwise():
    df = _two_year_panel().loc["2011"]
    out = estimate_contagion(df, window="rolling", window_length=120, step=60, min_obs=100, mode="pairwise",
                             max_lags=2)
    assert out.crw.window_end.unique().tolist() == [df.index[119], df.index[179], df.index[239]]
    np.testing.assert_allclose(out.crw.groupby("window_end").crw.sum(), 1.0, atol=1e-12)
    first = granger_pvalues(df.iloc[:120].pipe(lambda b: (b - b.mean()) / b.std()), max_lags=2, mode="pairwise")
    np.testing.assert_allclose(out.pvalues[df.index[119]].to_numpy(), first.to_numpy(), atol=1e-12, rtol=0)


def test_estimate_contagion_errors():
    df = _two_year_panel()
    with pytest.raises(ValueError, match=r"contagion: unknown option\(s\) windw for ContagionConfig; allowed"):
        ContagionConfig.from_mapping({"windw": "year"}, where="contagion")
    cfg = ContagionConfig.from_mapping({"min_obs": 100, "max_lags": 3})
    assert estimate_contagion(df, **cfg.to_dict()).crw.equals(estimate_contagion(df, min_obs=100, max_lags=3).crw)
    with pytest.raises(ValueError, match="window='month' is not allowed; allowed values: 'year', 'rolling'"):
        estimate_contagion(df, window="month")
    with pytest.raises(ValueError, match="DatetimeIndex"):
        estimate_contagion(df.reset_index(drop=True))
    short = estimate_contagion(df.loc["2010-01":"2010-01"], min_obs=15, max_lags=5, route="ols")  # the window fails
    assert short.crw.empty and short.windows.status.iloc[0].startswith("failed:ValueError: system VAR too large: N=4 series at lag order 5")
    assert "route='sparse'" in short.windows.status.iloc[0] and "mode='pairwise'" in short.windows.status.iloc[0]
    auto = estimate_contagion(df.loc["2010-01":"2010-01"], min_obs=15, max_lags=5)  # auto: the LASSO VAR, too short too
    assert auto.route.var == "sparse" and auto.windows.route.tolist() == ["sparse"]
    assert auto.windows.status.iloc[0] == ("failed:ValueError: sparse VAR too short: 16 usable observations at lag order 5 "
                                           "(every bank and lag observed); the LASSO VAR needs 30")
    thin = estimate_contagion(df.loc["2010"], min_obs=300)
    assert thin.crw.empty and thin.windows.status.iloc[0].startswith("failed:ValueError: 0 bank(s) left")
    assert len(thin.exclusions) == 4


@pytest.mark.realdata
def test_cn_banks_yearly_chain_runs(shared_data):
    """cn-banks 2008-2014 (losses as a stand-in for ΔCoVaR): the late listings are excluded and recorded,
    every year's weights sum to 1 and stay near 1/N (Liu–Ma 2021's table 1: min ≈ 3%, max < 10-12%)."""
    wide = pd.read_csv(shared_data / "cn-banks" / "cn_bank_daily_returns_wide_1991_2016.csv", index_col=0)
    wide.index = pd.to_datetime(wide.index, format="%Y-%m-%d")
    out = estimate_contagion(-wide.loc["2008":"2014"], min_obs=120, max_lags=5)
    assert out.windows.year.tolist() == list(range(2008, 2015)) and (out.windows.status == "ok").all()
    assert set(zip(out.exclusions.bank_id, out.exclusions.year)) == {
        ("601288.SH", 2008), ("601288.SH", 2009), ("601288.SH", 2010),
        ("601818.SH", 2008), ("601818.SH", 2009), ("601818.SH", 2010),
    }
    sums = out.crw.groupby("year").crw.sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    assert out.crw.crw.min() > 0.02 and out.crw.crw.max() < 0.15
    assert out.windows.n_banks.tolist() == [14, 14, 14, 16, 16, 16, 16]


def test_no_edges_gives_uniform_weights():
    p = pvalue_frame(np.ones((4, 4)))
    for direction in ("source", "target"):
        np.testing.assert_allclose(contagion_weights(p, direction=direction).to_numpy(), 0.25, atol=1e-15)
