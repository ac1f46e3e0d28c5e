"""Contagion risk weights (CRW): PageRank on the Granger network (Liu–Ma 2021; docs/contagion.md).

Adjacency ``A_ij = 1 - p_ij`` for "bank i Granger-causes bank j" (edge i -> j), ``A_ii = 0``.
PageRank (Page, Brin, Motwani & Winograd 1999) with damping ``d`` is the stationary vector

.. math:: \\pi_k = \\frac{1-d}{N} + d \\Big( \\sum_{m \\to k} \\pi_m \\frac{W_{mk}}{\\sum_l W_{ml}}
          + \\sum_{m\\ \\mathrm{dangling}} \\frac{\\pi_m}{N} \\Big),\\qquad \\sum_k \\pi_k = 1,

computed by ``networkx.pagerank`` on the weighted directed graph ``W`` (a node whose
out-weights are all zero is dangling and spreads its mass uniformly).

Direction — why ``"source"`` is the default: Liu–Ma 2021 read the weight as a bank's capacity to
**cause** contagion (引发传染风险可能性的大小). Plain PageRank on ``A`` (``W = A``) rewards the
banks that many others point *to*, i.e. the banks that are Granger-*caused* — the receivers.
Running PageRank on the reversed graph (``W = A'``: edge j -> i with weight ``A_ij``) makes
each caused bank pass its mass back to the banks that cause it, so the weight accumulates at
the **sources**. ``direction="target"`` gives plain PageRank (receivers of contagion).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from measures.contagion.edges import pvalue_matrix
from measures.core.config import check_choice, check_range

DIRECTIONS = ("source", "target")


def contagion_weights(
    pvalues: pd.DataFrame,
    *,
    direction: str = "source",
    damping: float = 0.85,
    tol: float = 1e-14,
    max_iter: int = 10_000,
) -> pd.Series:
    """PageRank contagion risk weight of every bank from a Granger p-value matrix.

    Parameters
    ----------
    pvalues : DataFrame
        Banks x banks, ``P[i, j]`` = p-value of "i Granger-causes j" (as from
        :func:`granger_pvalues`); the diagonal is ignored.
    direction : {"source", "target"}
        ``"source"`` (default): PageRank on the reversed graph, weight flows to the banks that
        Granger-cause others (Liu–Ma 2021's capacity to cause contagion, see module docstring);
        ``"target"``: plain PageRank, weight flows to the banks that are caused.
    damping : float
        PageRank damping factor ``d`` in (0, 1) (0.85, the networkx default, as in docs/contagion.md).
    tol, max_iter
        Power-iteration tolerance (networkx's ``N * tol`` on the L1 change) and iteration cap;
        the defaults reach machine precision.

    Returns
    -------
    Series
        Weight per bank (index = banks, name ``"crw"``), non-negative, summing to 1.
    """
    check_choice("direction", direction, DIRECTIONS)
    check_range("damping", damping, low=0.0, high=1.0, low_open=True, high_open=True)
    check_range("tol", tol, low=0.0, low_open=True)
    check_range("max_iter", max_iter, low=1, integer=True)
    adjacency = 1.0 - pvalue_matrix(pvalues)
    np.fill_diagonal(adjacency, 0.0)
    weights = adjacency.T if direction == "source" else adjacency
    n = weights.shape[0]
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    rows, cols = np.nonzero(weights > 0)
    graph.add_weighted_edges_from(zip(rows.tolist(), cols.tolist(), weights[rows, cols].tolist()))
    try:
        rank = nx.pagerank(graph, alpha=damping, weight="weight", tol=tol, max_iter=max_iter)
    except nx.PowerIterationFailedConvergence as exc:
        raise ValueError(f"PageRank did not converge in max_iter={max_iter} iterations at tol={tol}: {exc}") from None
    values = np.array([rank[k] for k in range(n)])
    return pd.Series(values / values.sum(), index=pvalues.index.rename("bank_id"), name="crw")
