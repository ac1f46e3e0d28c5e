"""DCC(1,1)-GARCH engine (Engle 2002): two-step QML, joint / composite / bivariate-per-bank."""

from measures.dcc.banks import CovarDCCParams, bank_system_returns, check_plan, fit_dcc_banks, pair_samples
from measures.dcc.config import DCCConfig
from measures.dcc.fit import (
    check_returns,
    estimates_frame,
    fit_dcc,
    fit_dcc_bivariate,
    fit_pair_samples,
    summarize_bivariate,
)
from measures.dcc.likelihood import correlation_loglik, correlation_matrices, loglik_terms, second_moment
from measures.dcc.results import DCCResult
from measures.dcc.simulate import GarchParams, simulate_dcc_garch

__all__ = [
    "CovarDCCParams",
    "DCCConfig",
    "DCCResult",
    "GarchParams",
    "bank_system_returns",
    "check_plan",
    "check_returns",
    "correlation_loglik",
    "correlation_matrices",
    "estimates_frame",
    "fit_dcc",
    "fit_dcc_banks",
    "fit_dcc_bivariate",
    "fit_pair_samples",
    "loglik_terms",
    "pair_samples",
    "second_moment",
    "simulate_dcc_garch",
    "summarize_bivariate",
]
