"""Contagion networks: Granger causality → PageRank weights (Liu–Ma 2021; docs/contagion.md) and
Diebold–Yilmaz connectedness from the generalized FEVD of a VAR — least squares, or a LASSO VAR for
many banks (Demirer et al. 2018; :mod:`~measures.contagion.sparse_var`, :mod:`~measures.contagion.route`)."""

from measures.contagion.chain import (
    SERIES,
    ContagionAnalysis,
    ContagionParams,
    analyse_contagion,
    check_plan,
    connectedness_events,
    contagion_events,
)
from measures.contagion.connectedness import (
    Connectedness,
    ConnectednessConfig,
    RollingConnectedness,
    connectedness_measures,
    estimate_connectedness,
    estimate_rolling_connectedness,
    generalized_fevd,
    window_connectedness,
)
from measures.contagion.edges import benjamini_hochberg, granger_edges
from measures.contagion.granger import GrangerConfig, granger_pvalues
from measures.contagion.inputs import ContagionSeries, bank_level_spillover, contagion_series
from measures.contagion.network import (
    ContagionConfig,
    ContagionPanel,
    estimate_contagion,
)
from measures.contagion.pagerank import contagion_weights
from measures.contagion.route import Route, choose_route
from measures.contagion.sparse_var import SparseVarConfig, SparseVarFit, fit_sparse_var

__all__ = [
    "SERIES",
    "ContagionParams",
    "Connectedness",
    "ConnectednessConfig",
    "ContagionAnalysis",
    "ContagionConfig",
    "ContagionPanel",
    "ContagionSeries",
    "GrangerConfig",
    "RollingConnectedness",
    "Route",
    "SparseVarConfig",
    "SparseVarFit",
    "analyse_contagion",
    "bank_level_spillover",
    "benjamini_hochberg",
    "check_plan",
    "choose_route",
    "connectedness_events",
    "connectedness_measures",
    "contagion_events",
    "contagion_series",
    "contagion_weights",
    "estimate_connectedness",
    "estimate_contagion",
    "estimate_rolling_connectedness",
    "fit_sparse_var",
    "generalized_fevd",
    "granger_edges",
    "granger_pvalues",
    "window_connectedness",
]
