"""Market-data and balance-sheet systemic-risk measures.

Pure science: no file I/O, no DVC, no ``params.yaml``. Every estimator is a
pure function or a small class whose ``fit()`` returns a results object.

Public names are imported lazily (``from measures import eisenberg_noe`` loads only
the module that defines it), so that a stage pays only for what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # returns and the system
    "ReturnsOptions": "measures.returns",
    "compute_returns": "measures.returns",
    # balance-sheet contagion (METHODS §6)
    **{
        name: "measures.stress"
        for name in (
            "BankAssetNetwork", "CascadeConfig", "CascadeResult", "ClearingResult", "DebtRankResult", "FailureBoundary",
            "FireSaleConfig", "FireSaleResult", "InterbankMatrixEstimate", "MaxEntropyConfig", "SequentialDefaultResult",
            "alpha_grid", "calibrate_omega", "cascade", "debtrank", "debtrank_by_bank", "eisenberg_noe", "failure_boundaries",
            "fire_sale", "fire_sale_curve", "fire_sale_regions", "group_failure_boundary", "map_eba_balance_sheet",
            "max_entropy_matrix", "minimum_density_matrix", "saleable_stock", "sequential_default",
        )
    },
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'measures' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
