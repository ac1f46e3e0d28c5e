"""Exact quantile regression (Koenker & Bassett 1978), batched over rolling windows (docs/covar.md, "The solver: exact quantile regression")."""

from measures.core.quantreg.solve import (
    CHAIN_LENGTH,
    QuantileRegressionNotCertified,
    QuantileRegressionSolution,
    check_loss,
    quantile_regression,
    rolling_quantile_regression,
    solve_quantile_regression,
    solve_rolling_quantile_regression,
)

__all__ = [
    "CHAIN_LENGTH",
    "QuantileRegressionNotCertified",
    "QuantileRegressionSolution",
    "check_loss",
    "quantile_regression",
    "rolling_quantile_regression",
    "solve_quantile_regression",
    "solve_rolling_quantile_regression",
]
