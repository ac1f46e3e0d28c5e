"""The shared estimation core: configurations, fit status, windows, exact quantile
regression and the library adapters (statsmodels / arch / linearmodels)."""

from measures.core.config import Config, check_choice, check_range
from measures.core.config import ConfigError
from measures.core.status import FailureBudgetExceeded, FitStatus, NotEstimable, check_failure_budget, status_from_exception, worst

__all__ = [
    "Config",
    "ConfigError",
    "NotEstimable",
    "worst",
    "check_choice",
    "check_range",
    "FitStatus",
    "FailureBudgetExceeded",
    "check_failure_budget",
    "status_from_exception",
]
