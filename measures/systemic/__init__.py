"""Market-data systemic-risk measures: ΔCoVaR-DCC, MES, LRMES, SRISK, SES (docs/srisk.md)."""

from measures.systemic.benoit_companion import benoit2013
from measures.systemic.config import SRiskPanelConfig, SystemicRiskConfig
from measures.systemic.covar_dcc import covar_dcc, delta_covar_dcc
from measures.systemic.frames import covar_dcc_frame, dcc_mes_frame, dcc_paths_frame, historical_mes_frame
from measures.systemic.lrmes import (
    dcc_beta,
    lrmes_closed_form,
    lrmes_from_mes,
    simulate_lrmes,
    simulate_lrmes_paths,
)
from measures.systemic.mes import dynamic_mes, historical_mes, kernel_tail_expectation
from measures.systemic.srisk import (
    aggregate_srisk,
    carry_forward_liabilities,
    ses,
    srisk,
    srisk_share,
    srisk_status,
)
from measures.systemic.srisk_panel import (
    SRISK_COLUMNS,
    check_plan,
    daily_balance_sheet,
    simulation_dates,
    srisk_panel,
    srisk_unavailable,
    status_events,
)

__all__ = [
    "SRISK_COLUMNS",
    "SRiskPanelConfig",
    "SystemicRiskConfig",
    "aggregate_srisk",
    "benoit2013",
    "carry_forward_liabilities",
    "check_plan",
    "covar_dcc",
    "covar_dcc_frame",
    "daily_balance_sheet",
    "dcc_mes_frame",
    "dcc_paths_frame",
    "dcc_beta",
    "delta_covar_dcc",
    "dynamic_mes",
    "historical_mes",
    "historical_mes_frame",
    "kernel_tail_expectation",
    "lrmes_closed_form",
    "lrmes_from_mes",
    "ses",
    "simulate_lrmes",
    "simulate_lrmes_paths",
    "simulation_dates",
    "srisk",
    "srisk_panel",
    "srisk_share",
    "srisk_status",
    "srisk_unavailable",
    "status_events",
]
