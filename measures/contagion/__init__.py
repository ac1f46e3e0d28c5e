"""Contagion networks: Granger causality → PageRank weights (seed 003 §3.2, METHODS §4) and
Diebold–Yilmaz connectedness from the generalized FEVD of a VAR."""

from measures.contagion.connectedness import (
    Connectedness,
    RollingConnectedness,
    connectedness_measures,
    estimate_connectedness,
    estimate_rolling_connectedness,
    generalized_fevd,
)
from measures.contagion.edges import benjamini_hochberg, granger_edges
from measures.contagion.granger import GrangerConfig, granger_pvalues
from measures.contagion.network import (
    ContagionConfig,
    ContagionPanel,
    estimate_contagion,
)
from measures.contagion.pagerank import contagion_weights

__all__ = [
    "Connectedness",
    "ContagionConfig",
    "ContagionPanel",
    "GrangerConfig",
    "RollingConnectedness",
    "benjamini_hochberg",
    "connectedness_measures",
    "contagion_weights",
    "estimate_connectedness",
    "estimate_contagion",
    "estimate_rolling_connectedness",
    "generalized_fevd",
    "granger_edges",
    "granger_pvalues",
]
