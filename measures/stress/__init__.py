"""Balance-sheet contagion models: interbank default cascades, Eisenberg–Noe clearing,
double-layer fire sales, maximum-entropy interbank matrices, bank–asset cascades, DebtRank.

Pure functions of balance-sheet tables (no I/O): docs/firesale.md, docs/cascade.md,
docs/interbank.md. The studies the ``stress_firesale``, ``stress_cascade`` and
``stress_interbank`` stages run are :mod:`measures.stress.firesale_years`,
:mod:`measures.stress.cascade_study` and :mod:`measures.stress.interbank_study`.
"""

from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import CascadeConfig, CascadeResult, cascade
from measures.stress.cascade_study import CascadeParams, CascadeStudy, CascadeStudyConfig, NamedFailure, cascade_study
from measures.stress.debtrank import DebtRankResult, debtrank, debtrank_by_bank
from measures.stress.failure_boundary import FailureBoundary, failure_boundaries, group_failure_boundary
from measures.stress.firesale import FireSaleConfig, FireSaleResult, OmegaRule, fire_sale
from measures.stress.firesale_curve import (
    alpha_grid,
    fire_sale_curve,
    fire_sale_curve_with_banks,
    fire_sale_regions,
    weighted_round_elasticity,
)
from measures.stress.firesale_inputs import calibrate_omega, map_eba_balance_sheet, saleable_stock, validate_fire_sale_balance_sheet
from measures.stress.firesale_years import FireSaleParams, FireSaleYears, fire_sale_years, mean_curve
from measures.stress.interbank import ClearingResult, SequentialDefaultResult, eisenberg_noe, sequential_default
from measures.stress.interbank_study import InterbankConfig, InterbankScenario, InterbankStudy, interbank_study
from measures.stress.maxent import (
    InterbankMatrixEstimate,
    MaxEntropyConfig,
    margins_matrix,
    max_entropy_matrix,
    minimum_density_matrix,
)

__all__ = [
    "BankAssetNetwork",
    "CascadeConfig",
    "CascadeParams",
    "CascadeResult",
    "CascadeStudy",
    "CascadeStudyConfig",
    "ClearingResult",
    "DebtRankResult",
    "FailureBoundary",
    "FireSaleConfig",
    "FireSaleParams",
    "FireSaleResult",
    "FireSaleYears",
    "InterbankConfig",
    "InterbankMatrixEstimate",
    "InterbankScenario",
    "InterbankStudy",
    "MaxEntropyConfig",
    "NamedFailure",
    "OmegaRule",
    "SequentialDefaultResult",
    "alpha_grid",
    "calibrate_omega",
    "cascade",
    "cascade_study",
    "debtrank",
    "debtrank_by_bank",
    "eisenberg_noe",
    "failure_boundaries",
    "fire_sale",
    "fire_sale_curve",
    "fire_sale_curve_with_banks",
    "fire_sale_regions",
    "fire_sale_years",
    "group_failure_boundary",
    "interbank_study",
    "map_eba_balance_sheet",
    "margins_matrix",
    "mean_curve",
    "max_entropy_matrix",
    "minimum_density_matrix",
    "saleable_stock",
    "sequential_default",
    "validate_fire_sale_balance_sheet",
    "weighted_round_elasticity",
]
