"""Granger-network measures (Billio et al. 2012): DCI on a planted VAR, degrees / closeness / eigenvector /
clustering against networkx on the same graphs, bad input, and the contagion stage's two artifacts."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from conftest import run_stage
from measures import granger_network_measures, granger_pvalues
from measures.contagion.billio import GrangerNetworkConfig, granger_network_panel
from measures.core.config import ConfigError
from pipeline.artifacts import artifact
from pipeline.io import read_parquet
from test_stage_contagion import planted_artifact, put


def _pvalues_of(adj: np.ndarray, banks=None) -> pd.DataFrame:
    """A p-value matrix whose edges at 5% are exactly ``adj`` (0.01 on edges, 0.5 elsewhere)."""
    banks = banks or [f"B{i}" for i in range(adj.shape[0])]
    p = np.where(adj > 0, 0.01, 0.5).astype(float)
    np.fill_diagonal(p, np.nan)
    return pd.DataFrame(p, index=pd.Index(banks, name="source"), columns=pd.Index(banks, name="target"))


def _random_graph(n: int, share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = (rng.uniform(size=(n, n)) < share).astype(int)
    np.fill_diagonal(a, 0)
    return a


@pytest.fixture(scope="module")
def planted_var():
    """A VAR(1) of 8 banks with 14 of the 56 directed edges planted (coefficient 0.2), T = 3000."""
    n, t = 8, 3000
    adj = _random_graph(n, 0.25, seed=11)
    coef = 0.2 * adj.T + 0.1 * np.eye(n)  # y_t[i] = Σ_j coef[i, j] y_{t-1}[j]: edge j -> i
    assert np.max(np.abs(np.linalg.eigvals(coef))) < 0.9
    rng = np.random.default_rng(5)
    y = np.zeros((t + 100, n))
    for s in range(1, t + 100):
        y[s] = coef @ y[s - 1] + rng.standard_normal(n)
    frame = pd.DataFrame(y[100:], columns=[f"B{i}" for i in range(n)], index=pd.bdate_range("2000-01-03", periods=t))
    return adj, granger_pvalues(frame, lags=1)


def test_planted_var_dci_equals_the_planted_share_within_sampling_error(planted_var):
    adj, p = planted_var
    n = adj.shape[0]
    share = adj.sum() / (n * (n - 1))
    # at alpha the nulls are false positives with probability alpha: E[DCI] = share + alpha (1 - share) (power ~ 1)
    for alpha in (0.05, 0.001):
        net = granger_network_measures(p, alpha=alpha)
        sd = np.sqrt(alpha * (1 - alpha) * (1 - share) / (n * (n - 1)))
        assert abs(net.dci - (share + alpha * (1 - share))) <= 3 * sd + 1e-12, (alpha, net.dci, share)
        assert (net.adjacency.to_numpy()[adj > 0] == 1).all()  # every planted edge found
    net = granger_network_measures(p, alpha=0.001)
    np.testing.assert_allclose(net.per_bank["out_degree"], adj.sum(axis=1) / (n - 1), atol=1 / (n - 1) + 1e-12)


def test_hand_case_three_banks():
    # A -> B, B -> C, C -> A? no: A -> B, B -> C, A -> C
    adj = np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    net = granger_network_measures(_pvalues_of(adj, ["A", "B", "C"]))
    assert net.dci == pytest.approx(3 / 6) and net.n_edges == 3 and net.n_untested == 0
    pb = net.per_bank
    assert pb["out_degree"].tolist() == [1.0, 0.5, 0.0]
    assert pb["in_degree"].tolist() == [0.0, 0.5, 1.0]
    assert pb["in_out_degree"].tolist() == [0.5, 0.5, 0.5]
    assert pb["closeness"].tolist() == [1.0, 0.5, 0.0]  # A reaches B and C in one step each: (1 + 1) / 2
    assert pb.index.name == "bank_id"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_measures_equal_networkx_on_the_same_graph(seed):
    n = 12
    adj = _random_graph(n, 0.3, seed)
    net = granger_network_measures(_pvalues_of(adj))
    g = nx.from_numpy_array(adj, create_using=nx.DiGraph)
    banks = net.per_bank.index
    ref_in = np.array([g.in_degree(k) for k in range(n)]) / (n - 1)
    ref_out = np.array([g.out_degree(k) for k in range(n)]) / (n - 1)
    np.testing.assert_allclose(net.per_bank["in_degree"], ref_in, atol=1e-15)
    np.testing.assert_allclose(net.per_bank["out_degree"], ref_out, atol=1e-15)
    np.testing.assert_allclose(net.per_bank["in_out_degree"], (ref_in + ref_out) / 2, atol=1e-15)
    # Billio et al.'s closeness: mean over the N - 1 others of the outward shortest-path length (unreachable: 0)
    ref_close = [sum(nx.single_source_shortest_path_length(g, k).values()) / (n - 1) for k in range(n)]
    np.testing.assert_allclose(net.per_bank["closeness"], ref_close, atol=1e-14)
    # v = A v (out-direction): networkx's (in-edge) eigenvector centrality of the reversed graph
    ref_eig = nx.eigenvector_centrality(g.reverse(), max_iter=10_000, tol=1e-13)
    np.testing.assert_allclose(net.per_bank["eigenvector"], [ref_eig[k] for k in range(n)], atol=1e-8)
    ref_clust = nx.clustering(g)
    np.testing.assert_allclose(net.per_bank["clustering"], [ref_clust[k] for k in range(n)], atol=1e-14)
    assert list(banks) == [f"B{i}" for i in range(n)]


def test_empty_graph_and_missing_pvalues():
    p = _pvalues_of(np.zeros((4, 4), dtype=int))
    p.iloc[0, 1] = np.nan
    net = granger_network_measures(p)
    assert net.dci == 0.0 and net.n_untested == 1
    assert (net.per_bank[["in_degree", "out_degree", "closeness", "clustering"]] == 0).all().all()
    np.testing.assert_allclose(net.per_bank["eigenvector"], 0.5)


def test_bad_input_pvalues_not_square_or_not_probabilities():
    with pytest.raises(ValueError, match="square DataFrame"):
        granger_network_measures(pd.DataFrame(np.zeros((2, 3))))
    p = _pvalues_of(np.zeros((3, 3), dtype=int))
    p.iloc[1, 2] = 1.5
    with pytest.raises(ValueError, match=r"pvalues\['B1', 'B2'\] = 1.5 is not a probability"):
        granger_network_measures(p)
    with pytest.raises(ConfigError, match="alpha=1.0 is out of range"):
        granger_network_measures(_pvalues_of(np.zeros((3, 3), dtype=int)), alpha=1.0)
    with pytest.raises(ConfigError, match="measures.granger_network: alpha=0"):
        GrangerNetworkConfig.from_mapping({"alpha": 0}, where="measures.granger_network")


def test_panel_stacks_the_windows():
    pvals = {2010: _pvalues_of(_random_graph(5, 0.4, 1)), 2011: _pvalues_of(_random_graph(4, 0.4, 2))}
    network, dci = granger_network_panel(pvals, "year")
    assert list(network.columns[:2]) == ["year", "bank_id"] and len(network) == 9
    assert dci["year"].tolist() == [2010, 2011]
    assert dci["dci"].tolist() == [granger_network_measures(p).dci for p in pvals.values()]


@pytest.mark.parametrize("window", ["year", "rolling"])
def test_contagion_stage_writes_the_network_of_every_window(tmp_path, window):
    put(tmp_path, planted_artifact())
    run_stage(tmp_path, "contagion", contagion={"window": window, "step": 125})
    key = "year" if window == "year" else "window_end"
    net = read_parquet(tmp_path / artifact("granger_network").path)
    dci = read_parquet(tmp_path / artifact("granger_dci").path)
    granger = read_parquet(tmp_path / artifact("granger").path)
    assert list(net.columns[:2]) == [key, "bank_id"] and list(dci.columns[:2]) == [key, "dci"]
    share = granger.assign(edge=granger.p_value < 0.05).groupby(key).edge.mean()
    np.testing.assert_allclose(dci.set_index(key)["dci"], share.loc[dci[key]].to_numpy(), atol=1e-12)
    b0 = net[net.bank_id == "B0"]
    assert (b0.out_degree == 1.0).all()  # B0 drives every other bank (the planted source)


def test_eigenvector_is_the_limit_of_the_power_iteration_on_a_slowly_mixing_graph():
    """A directed chain with one back edge: the plain iteration needs ~10^5 steps; the accelerated one
    returns a vector with (I + A) v = λ v, λ the largest eigenvalue (residual at rounding level)."""
    from measures.contagion.billio import _eigenvector

    n = 12
    a = np.zeros((n, n))
    a[np.arange(n - 1), np.arange(1, n)] = 1.0  # i -> i+1
    a[n - 1, 0] = 1.0  # closes the cycle: periodic, so the I + A shift is what converges
    a[3, 7] = 1.0
    v = _eigenvector(a)
    m = np.eye(n) + a
    lam = float(v @ m @ v / (v @ v))
    assert np.abs(m @ v - lam * v).max() < 1e-10
    assert lam == pytest.approx(np.abs(np.linalg.eigvals(m)).max(), rel=1e-10)
    assert (v > 0).all() and np.linalg.norm(v) == pytest.approx(1.0)
