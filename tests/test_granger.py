"""Granger p-value matrices: known truth, parity with statsmodels / R lmtest, BH FDR, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.api import VAR
from statsmodels.tsa.stattools import grangercausalitytests

from measures.contagion import (
    benjamini_hochberg,
    contagion_weights,
    granger_edges,
    granger_pvalues,
)
from measures.core.adapters import statsmodels_adapter as sma

REFERENCE = Path(__file__).parent / "reference" / "contagion" / "reference.json"


def simulate_var1(coef: np.ndarray, n_obs: int, rng: np.random.Generator, burn: int = 50) -> np.ndarray:
    """y_t = coef @ y_{t-1} + e_t, e_t ~ N(0, I)."""
    n = coef.shape[0]
    y = np.zeros((n_obs + burn, n))
    shocks = rng.standard_normal((n_obs + burn, n))
    for t in range(1, n_obs + burn):
        y[t] = coef @ y[t - 1] + shocks[t]
    return y[burn:]


def frame(y: np.ndarray, names=None) -> pd.DataFrame:
    names = names or [f"b{k}" for k in range(y.shape[1])]
    return pd.DataFrame(y, columns=names, index=pd.bdate_range("2012-01-02", periods=len(y)))


def planted_graph(seed: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """VAR(1) coefficients with bank 0 causing half of the others strongly plus 3 random edges.

    Returns ``(coef, truth)`` with ``truth[i, j]`` True when i Granger-causes j.
    """
    rng = np.random.default_rng(seed)
    truth = np.zeros((n, n), dtype=bool)
    truth[0, rng.choice(np.arange(1, n), size=n // 2, replace=False)] = True
    candidates = [(i, j) for i in range(1, n) for j in range(n) if i != j and not truth[i, j]]
    for k in rng.choice(len(candidates), size=3, replace=False):
        truth[candidates[k]] = True
    coef = 0.2 * np.eye(n)
    src, tgt = np.nonzero(truth)  # src causes tgt: coefficient of src in equation tgt
    coef[tgt, src] = np.where(src == 0, 0.4, 0.3)
    assert np.abs(np.linalg.eigvals(coef)).max() < 1
    return coef, truth


def test_known_truth_leader_detected():
    """Bank A leads B and C: only the A -> B and A -> C p-values are small."""
    coef = np.array([[0.3, 0.0, 0.0], [0.4, 0.2, 0.0], [0.4, 0.0, 0.2]])
    y = simulate_var1(coef, 300, np.random.default_rng(1))
    p = granger_pvalues(frame(y, ["A", "B", "C"]), max_lags=4)
    assert p.loc["A", "B"] < 1e-6 and p.loc["A", "C"] < 1e-6
    for src, tgt in [("B", "A"), ("C", "A"), ("B", "C"), ("C", "B")]:
        assert p.loc[src, tgt] > 0.1
    assert np.isnan(np.diag(p.to_numpy())).all()
    assert p.index.name == "source" and p.columns.name == "target"
    assert p.attrs["lags"] == 1 and p.attrs["lag_choice"]["aic"] == 1


def _auc(scores_pos: np.ndarray, scores_neg: np.ndarray) -> float:
    diff = scores_pos[:, None] - scores_neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def _planted_run(seed: int) -> tuple[float, bool]:
    coef, truth = planted_graph(seed)
    y = simulate_var1(coef, 250, np.random.default_rng(1000 + seed))
    p = granger_pvalues(frame(y), max_lags=3)
    off = ~np.eye(10, dtype=bool)
    score = 1.0 - p.to_numpy()
    crw = contagion_weights(p, direction="source")
    return _auc(score[truth & off], score[~truth & off]), bool(crw.to_numpy().argmax() == 0)


def test_planted_graph_auc():
    """Acceptance (docs/contagion.md §3): the p-values rank true edges above non-edges, ROC AUC >= 0.9 in each of 20 seeds."""
    aucs = [_planted_run(seed)[0] for seed in range(20)]
    assert min(aucs) >= 0.9, aucs


def test_planted_source_has_largest_weight():
    """Acceptance (docs/contagion.md §3): the planted source has the largest CRW ("source") in >= 80% of the seeds.

    Measured over 200 seeds, not 20: with the seed-003 adjacency ``A = 1 - p`` every non-edge keeps
    a U(0, 1) weight whatever the sample size, so the hit rate is about 0.83 and a batch of 20
    seeds scatters between 0.6 and 1.0 (seeds 0..19 give 15/20). 200 seeds make the 80% claim testable.
    """
    hits = [_planted_run(seed)[1] for seed in range(200)]
    assert np.mean(hits) >= 0.8, np.mean(hits)


@pytest.mark.parametrize("max_lags", [1, 3])
def test_system_pvalues_equal_statsmodels_test_causality(max_lags):
    rng = np.random.default_rng(11)
    coef, _ = planted_graph(3, n=5)
    y = simulate_var1(coef, 200, rng)
    p = granger_pvalues(frame(y), max_lags=max_lags, ic="bic")
    sel = VAR(y).select_order(maxlags=max_lags, trend="c").selected_orders
    assert p.attrs["lag_choice"] == {k: sel[k] for k in ("aic", "bic", "hqic")}
    lags = max(1, sel["bic"])
    res = VAR(y).fit(maxlags=lags, ic=None, trend="c")
    for i in range(5):
        for j in range(5):
            if i != j:
                t = res.test_causality(caused=[j], causing=[i], kind="f")
                assert abs(p.iloc[i, j] - t.pvalue) < 1e-10
                assert p.attrs["df"] == tuple(t.df)
    assert p.attrs["nobs"] == res.nobs


def test_engine_statsmodels_equals_numpy_in_both_modes():
    y = simulate_var1(planted_graph(5, n=4)[0], 180, np.random.default_rng(5))
    for mode in ("system", "pairwise"):
        a = granger_pvalues(frame(y), max_lags=3, mode=mode)
        b = granger_pvalues(frame(y), max_lags=3, mode=mode, engine="statsmodels")
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-10, rtol=0)
        assert b.attrs["status"] == "ok"


def test_pairwise_equals_r_lmtest_grangertest():
    ref = json.loads(REFERENCE.read_text())
    series = pd.DataFrame(ref["series"])
    series.index = pd.bdate_range("2015-01-05", periods=len(series))
    assert len(ref["tests"]) == 18
    for lags in (1, 2, 3):
        p = granger_pvalues(series, lags=lags, mode="pairwise")
        for row in (r for r in ref["tests"] if r["lags"] == lags):
            assert abs(p.loc[row["source"], row["target"]] - row["p_value"]) < 1e-12, row
            i, j = p.index.get_loc(row["source"]), p.columns.get_loc(row["target"])
            assert p.attrs["nobs"][i][j] - 2 * lags - 1 == row["df_denom"]
    assert granger_pvalues(series, lags=1, mode="pairwise").loc["a", "b"] < 1e-4  # a leads b by design


def test_pairwise_equals_grangercausalitytests_ssr_ftest():
    y = simulate_var1(planted_graph(8, n=3)[0], 150, np.random.default_rng(8))
    p = granger_pvalues(frame(y), max_lags=4, mode="pairwise")
    for i in range(3):
        for j in range(3):
            if i != j:
                lags = p.attrs["lags"][i][j]
                res = grangercausalitytests(y[:, [j, i]], maxlag=[lags])
                assert abs(p.iloc[i, j] - res[lags][0]["ssr_ftest"][1]) < 1e-10
    lags = np.asarray(p.attrs["lags"])
    assert (lags == lags.T).all() and (np.diag(lags) == 0).all()
    assert set(p.attrs["lag_choice"]) == {"aic", "bic", "hqic"} and p.attrs["df"] is None
    assert len(p.melt()) == 9  # attrs hold plain values: pandas may compare them


def test_benjamini_hochberg_equals_statsmodels_fdr_bh():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 0.01, 15), rng.uniform(0, 1, 60), [0.02, 0.02, 0.5, 1.0]])
    for alpha in (0.01, 0.05, 0.2):
        survives, q = benjamini_hochberg(p, alpha=alpha)
        reject, q_sm, _, _ = multipletests(p, alpha=alpha, method="fdr_bh")
        assert (survives == reject).all()
        np.testing.assert_allclose(q, q_sm, atol=1e-12, rtol=0)
    assert 0 < survives.sum() < p.size


def test_granger_edges_survivors():
    coef = np.array([[0.3, 0.0, 0.0], [0.4, 0.2, 0.0], [0.4, 0.0, 0.2]])
    p = granger_pvalues(frame(simulate_var1(coef, 300, np.random.default_rng(1)), ["A", "B", "C"]), max_lags=2)
    edges = granger_edges(p, fdr_alpha=0.05)
    assert list(edges.columns) == ["source", "target", "p_value", "q_value", "significant", "lags", "weight"]
    assert len(edges) == 6
    survivors = set(map(tuple, edges.loc[edges.significant, ["source", "target"]].to_numpy()))
    assert survivors == {("A", "B"), ("A", "C")}
    np.testing.assert_allclose(edges.weight, 1 - edges.p_value)
    assert (edges.lags == p.attrs["lags"]).all()


def test_oversize_system_var_is_refused():
    y = np.random.default_rng(0).standard_normal((100, 30))
    with pytest.raises(ValueError) as info:
        granger_pvalues(frame(y), max_lags=5)
    msg = str(info.value)
    for part in ("N=30", "lag order 5", "151 parameters", "95 observations", "mode='pairwise'"):
        assert part in msg, msg
    p = granger_pvalues(frame(y[:, :4]), max_lags=5, mode="pairwise")  # the suggested way out works
    assert p.shape == (4, 4)


def test_lag_selection_needs_n_residual_degrees_of_freedom():
    y = np.random.default_rng(0).standard_normal((60, 10))
    with pytest.raises(ValueError, match=r"max_lags=5 with N=10 series leaves 4 residual degrees of freedom "
                                         r"\(55 observations, 51 parameters.*at least N=10.*mode='pairwise'"):
        granger_pvalues(frame(y), max_lags=5)
    assert granger_pvalues(frame(y), lags=5).attrs["df"] == (5, 40)  # a fixed order only needs df_resid >= 1


def test_ic_choice_zero_is_raised_to_one():
    y = np.random.default_rng(1).standard_normal((300, 3))
    p = granger_pvalues(frame(y), max_lags=4, ic="bic")
    assert p.attrs["lag_choice"]["bic"] == 0 and p.attrs["lags"] == 1


def test_missing_values_are_lag_aware():
    y = simulate_var1(np.diag([0.3, 0.3, 0.3]), 200, np.random.default_rng(2))
    df = frame(y)
    df.iloc[100, 1] = np.nan
    p = granger_pvalues(df, lags=2)
    assert p.attrs["nobs"] == 200 - 2 - 3  # t = 100, 101, 102 lose y_t or a lag
    pw = granger_pvalues(df, lags=2, mode="pairwise")
    assert pw.attrs["nobs"][0][2] == 198 and pw.attrs["nobs"][0][1] == 195


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ic": "sc"}, r"ic='sc' is not allowed; allowed values: 'aic', 'bic', 'hqic'"),
        ({"mode": "full"}, r"mode='full' is not allowed; allowed values: 'system', 'pairwise'"),
        ({"max_lags": 0}, r"max_lags=0 is out of range"),
        ({"lags": 1.5}, r"lags=1.5 must be an integer"),
        ({"engine": "r"}, r"engine='r' is not allowed"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        granger_pvalues(frame(np.zeros((50, 2))), **kwargs)


def test_bad_series_raise():
    good = np.random.default_rng(4).standard_normal((60, 3))
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        granger_pvalues(good)
    with pytest.raises(ValueError, match="at least 2 bank columns; got 1"):
        granger_pvalues(frame(good[:, :1]))
    with pytest.raises(ValueError, match=r"duplicated bank columns \['x'\]"):
        granger_pvalues(frame(good, ["x", "x", "y"]))
    bad = frame(good)
    bad.iloc[5, 2] = np.inf
    with pytest.raises(ValueError, match="infinite value at date .*2012-01-09.*bank 'b2'"):
        granger_pvalues(bad)
    with pytest.raises(ValueError, match="without NaN"):
        nan = frame(good)
        nan.iloc[3, 0] = np.nan
        granger_pvalues(nan, lags=1, engine="statsmodels")


def test_adapter_records_warnings_as_status():
    import warnings

    def noisy():
        warnings.warn("convergence trouble", RuntimeWarning)
        return 1

    assert sma._call(noisy) == (1, "warning:RuntimeWarning")
    assert sma.var_select_order(np.random.default_rng(0).standard_normal((80, 2)), max_lags=2)["status"] == "ok"


def test_collinear_banks_carry_a_warning_status():
    y = simulate_var1(np.diag([0.3, 0.3, 0.3]), 200, np.random.default_rng(6))
    df = frame(np.column_stack([y, 2.0 * y[:, 0] + 1.0]))  # b3 is an affine copy of b0
    p = granger_pvalues(df, lags=1)
    assert p.attrs["status"] == "warning:IllConditionedDesign"
    assert granger_pvalues(df.iloc[:, :3], lags=1).attrs["status"] == "ok"
    assert granger_pvalues(df, lags=1, mode="pairwise").attrs["status"] == "warning:IllConditionedDesign"
