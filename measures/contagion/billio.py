"""Granger-causality network measures of Billio, Getmansky, Lo & Pelizzon (2012; docs/network_measures.md).

From a p-value matrix ``P`` (rows = causing bank, columns = caused bank, as
:func:`~measures.contagion.granger.granger_pvalues` returns) the directed graph has the edge
``j → i`` when ``P[j, i] < alpha``; its adjacency is ``A_ji = 1{P[j, i] < alpha}`` (diagonal 0;
an untested pair, NaN, is no edge and is counted in ``n_untested``). With ``N`` banks:

* dynamic causality index ``DCI = Σ_{i≠j} A_ji / (N (N − 1))``;
* ``out_degree_j = Σ_{i≠j} A_ji / (N − 1)``, ``in_degree_j = Σ_{i≠j} A_ij / (N − 1)``,
  ``in_out_degree_j = Σ_{i≠j} (A_ij + A_ji) / (2 (N − 1))`` (Billio et al.'s normalizations);
* ``closeness_j = Σ_{i≠j} C_ji 1{j →_C i} / (N − 1)``: the shortest directed path length
  ``C_ji`` from j to each bank it reaches, unreachable banks counting 0 (Billio et al.'s
  definition; it is an average *distance*, not networkx's reciprocal ``closeness_centrality``);
* ``eigenvector``: the Perron vector of ``v = A v`` (``v_j = Σ_i A_ji v_i``: a bank is central
  when it causes central banks), found as networkx does by power iteration on ``I + A`` from the
  uniform vector, Euclidean norm 1 (a graph without cycles gives the limit of that iteration);
* ``clustering``: the directed clustering coefficient of Fagiolo (2007),
  ``c_i = [(A + A')^3]_ii / (2 [d_i (d_i − 1) − 2 d↔_i])`` with total degree ``d_i`` and reciprocal
  degree ``d↔_i = (A²)_ii`` (Billio et al. do not define one; it is networkx's ``clustering`` of a
  DiGraph), 0 where the denominator is 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import shortest_path

from measures.core.config import Config, check_range

MEASURES = ("in_degree", "out_degree", "in_out_degree", "closeness", "eigenvector", "clustering")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GrangerNetworkConfig(Config):
    """The ``measures.granger_network`` params group: the significance level of an edge (Billio et al. use 5%)."""

    alpha: float = 0.05

    def validate(self) -> None:
        check_range("alpha", self.alpha, low=0.0, high=1.0, low_open=True, high_open=True)


@dataclasses.dataclass(frozen=True)
class GrangerNetwork:
    """Result of :func:`granger_network_measures`.

    Attributes
    ----------
    dci : float
        Share of significant directed edges among the ``N (N − 1)`` ordered pairs (NaN when N < 2).
    per_bank : DataFrame
        Indexed by bank: ``in_degree, out_degree, in_out_degree, closeness, eigenvector, clustering``.
    adjacency : DataFrame
        The 0/1 adjacency ``A`` (rows cause columns).
    n_edges, n_untested : int
        Significant edges; off-diagonal pairs with a missing p-value (no edge).
    alpha : float
    """

    dci: float
    per_bank: pd.DataFrame
    adjacency: pd.DataFrame
    n_edges: int
    n_untested: int
    alpha: float


def _eigenvector(a: np.ndarray, *, tol: float = 1e-12, max_squarings: int = 64) -> np.ndarray:
    """Limit of the power iteration ``x ← (I + A) x / ||·||`` from the uniform vector (``A x``: out-direction).

    The iteration is accelerated by repeated squaring: step ``k`` applies ``M^(2^k)`` (``M = I + A``,
    rescaled to a largest entry of 1), so the limit of the plain iteration is reached in a few dozen
    matrix products even when the gap between the two largest eigenvalues is small (a plain
    iteration can need 10^5 steps on a sparse directed graph).
    """
    n = a.shape[0]
    m = np.eye(n) + a
    x = np.full(n, 1.0 / np.sqrt(n))
    for _ in range(max_squarings):
        new = m @ x
        new /= np.linalg.norm(new)
        if np.abs(new - x).sum() < n * tol:
            return new
        x = new
        m = m @ m
        m /= np.abs(m).max()
    return x


def _clustering(a: np.ndarray) -> np.ndarray:
    sym = a + a.T
    triangles = np.diag(np.linalg.matrix_power(sym, 3))
    total = a.sum(axis=0) + a.sum(axis=1)
    denom = 2.0 * (total * (total - 1) - 2.0 * np.diag(a @ a))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, triangles / np.where(denom > 0, denom, 1.0), 0.0)


def granger_network_measures(pvalues: pd.DataFrame, alpha: float = 0.05) -> GrangerNetwork:
    """Billio et al. (2012) network measures of a Granger p-value matrix (definitions: module docstring).

    Parameters
    ----------
    pvalues : DataFrame
        Square, the same banks as index and columns in the same order; ``pvalues.loc[j, i]`` is the
        p-value of "j Granger-causes i" (:func:`~measures.contagion.granger.granger_pvalues`).
    alpha : float, default 0.05
        An edge ``j → i`` is ``p < alpha``.

    Returns
    -------
    GrangerNetwork

    Raises
    ------
    ValueError
        ``pvalues`` not square with matching labels, or values outside [0, 1]; ``alpha`` outside (0, 1).
    """
    alpha = GrangerNetworkConfig(alpha=alpha).alpha
    if not isinstance(pvalues, pd.DataFrame) or pvalues.shape[0] != pvalues.shape[1] or not pvalues.index.equals(pvalues.columns):
        shape = getattr(pvalues, "shape", None)
        raise ValueError(f"pvalues must be a square DataFrame with the same banks as index and columns, in the same order; "
                         f"got {type(pvalues).__name__} of shape {shape}")
    p = pvalues.to_numpy(dtype=float, na_value=np.nan)
    n = p.shape[0]
    off = ~np.eye(n, dtype=bool)
    bad = off & np.isfinite(p) & ((p < 0) | (p > 1))
    if bad.any():
        j, i = np.argwhere(bad)[0]
        raise ValueError(f"pvalues[{pvalues.index[j]!r}, {pvalues.columns[i]!r}] = {float(p[j, i])!r} is not a probability; "
                         "allowed: values in [0, 1] or NaN")
    a = (off & (np.nan_to_num(p, nan=1.0) < alpha)).astype(float)
    banks = pd.Index(pvalues.index, name="bank_id")
    per_bank = pd.DataFrame(np.nan, index=banks, columns=list(MEASURES))
    if n >= 2:
        dist = shortest_path(a, method="D", directed=True, unweighted=True)
        dist[~np.isfinite(dist)] = 0.0
        per_bank = pd.DataFrame({
            "in_degree": a.sum(axis=0) / (n - 1),
            "out_degree": a.sum(axis=1) / (n - 1),
            "in_out_degree": (a.sum(axis=0) + a.sum(axis=1)) / (2 * (n - 1)),
            "closeness": dist.sum(axis=1) / (n - 1),
            "eigenvector": _eigenvector(a),
            "clustering": _clustering(a),
        }, index=banks)
    return GrangerNetwork(dci=float(a.sum() / (n * (n - 1))) if n >= 2 else np.nan, per_bank=per_bank,
                          adjacency=pd.DataFrame(a.astype(int), index=pvalues.index, columns=pvalues.columns),
                          n_edges=int(a.sum()), n_untested=int((off & np.isnan(p)).sum()), alpha=alpha)


def granger_network_panel(pvalues: dict, key: str, *, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The measures of every window's p-value matrix (per year or rolling, as the contagion chain estimated them).

    Parameters
    ----------
    pvalues : dict
        Window label -> p-value matrix (:attr:`~measures.contagion.network.ContagionPanel.pvalues`).
    key : str
        The window column: ``year`` or ``window_end``.
    alpha : float

    Returns
    -------
    network : DataFrame
        ``<key>, bank_id`` and the columns of :data:`MEASURES`.
    dci : DataFrame
        ``<key>, dci, n_banks, n_edges, n_untested``.
    """
    nets, dcis = [], []
    for label, p in pvalues.items():
        net = granger_network_measures(p, alpha=alpha)
        nets.append(net.per_bank.reset_index().assign(**{key: label}))
        dcis.append({key: label, "dci": net.dci, "n_banks": len(p), "n_edges": net.n_edges, "n_untested": net.n_untested})
    network = pd.concat(nets, ignore_index=True) if nets else pd.DataFrame(columns=["bank_id", *MEASURES])
    network = network.reindex(columns=[key, "bank_id", *MEASURES])
    return network, pd.DataFrame(dcis, columns=[key, "dci", "n_banks", "n_edges", "n_untested"])
