"""Balance-sheet contagion models: interbank default cascades, Eisenberg–Noe clearing,
double-layer fire sales, maximum-entropy interbank matrices, bank–asset cascades, DebtRank.

Pure functions of balance-sheet tables (no I/O). METHODS §6; docs/cascade.md.
"""

from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import CascadeConfig, CascadeResult, cascade
from measures.stress.debtrank import DebtRankResult, debtrank, debtrank_by_bank
from measures.stress.failure_boundary import FailureBoundary, failure_boundaries, group_failure_boundary
from measures.stress.firesale import FireSaleConfig, FireSaleResult, fire_sale
from measures.stress.firesale_curve import (
    alpha_grid,
    fire_sale_curve,
    fire_sale_curve_with_banks,
    fire_sale_regions,
    weighted_round_elasticity,
)
from measures.stress.firesale_inputs import calibrate_omega, map_eba_balance_sheet, saleable_stock, validate_fire_sale_balance_sheet
from measures.stress.interbank import ClearingResult, SequentialDefaultResult, eisenberg_noe, sequential_default
from measures.stress.maxent import InterbankMatrixEstimate, MaxEntropyConfig, max_entropy_matrix, minimum_density_matrix

__all__ = [
    "BankAssetNetwork",
    "CascadeConfig",
    "CascadeResult",
    "ClearingResult",
    "DebtRankResult",
    "FailureBoundary",
    "FireSaleConfig",
    "FireSaleResult",
    "InterbankMatrixEstimate",
    "MaxEntropyConfig",
    "SequentialDefaultResult",
    "alpha_grid",
    "calibrate_omega",
    "cascade",
    "debtrank",
    "debtrank_by_bank",
    "eisenberg_noe",
    "failure_boundaries",
    "fire_sale",
    "fire_sale_curve",
    "fire_sale_curve_with_banks",
    "fire_sale_regions",
    "group_failure_boundary",
    "map_eba_balance_sheet",
    "max_entropy_matrix",
    "minimum_density_matrix",
    "saleable_stock",
    "sequential_default",
    "validate_fire_sale_balance_sheet",
    "weighted_round_elasticity",
]
