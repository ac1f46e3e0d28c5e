"""Market-data systemic-risk measures: ΔCoVaR-DCC, MES, LRMES, SRISK, SES (METHODS §2–3)."""

from measures.systemic.benoit_companion import benoit2013
from measures.systemic.config import SystemicRiskConfig
from measures.systemic.covar_dcc import covar_dcc, delta_covar_dcc
from measures.systemic.frames import covar_dcc_frame, dcc_mes_frame
from measures.systemic.lrmes import dcc_beta, lrmes_closed_form, lrmes_from_mes, simulate_lrmes
from measures.systemic.mes import dynamic_mes, historical_mes, kernel_tail_expectation
from measures.systemic.srisk import (
    aggregate_srisk,
    carry_forward_liabilities,
    ses,
    srisk,
    srisk_share,
    srisk_status,
)

__all__ = [
    "SystemicRiskConfig",
    "aggregate_srisk",
    "benoit2013",
    "carry_forward_liabilities",
    "covar_dcc",
    "covar_dcc_frame",
    "dcc_mes_frame",
    "dcc_beta",
    "delta_covar_dcc",
    "dynamic_mes",
    "historical_mes",
    "kernel_tail_expectation",
    "lrmes_closed_form",
    "lrmes_from_mes",
    "ses",
    "simulate_lrmes",
    "srisk",
    "srisk_share",
    "srisk_status",
]
