"""The shared estimation core: configurations, fit status, windows, exact quantile
regression and the library adapters (statsmodels / arch / linearmodels)."""

from measures.core.config import Config, check_choice, check_range
from measures.core.status import FitStatus, FailureBudgetExceeded, check_failure_budget, status_from_exception

__all__ = [
    "Config",
    "check_choice",
    "check_range",
    "FitStatus",
    "FailureBudgetExceeded",
    "check_failure_budget",
    "status_from_exception",
]
