"""Market-data systemic-risk measures: ΔCoVaR-DCC, MES, LRMES, SRISK, SES (docs/srisk.md).

Names are imported lazily (PEP 562), as in :mod:`measures`: ``from measures.systemic import
srisk`` loads only :mod:`measures.systemic.srisk`, not the DCC engine of the Benoit companion.
"""

from __future__ import annotations

from measures.core.lazy import lazy_exports

# functions named like their modules: imported now, or a later import of the module would bind
# the package attribute to the module
from measures.systemic.covar_dcc import covar_dcc  # noqa: F401
from measures.systemic.srisk import srisk  # noqa: F401
from measures.systemic.srisk_panel import srisk_panel  # noqa: F401

_EXPORTS: dict[str, str] = {
    "benoit2013": "measures.systemic.benoit_companion",
    **{name: "measures.systemic.config" for name in ("SRiskPanelConfig", "SystemicRiskConfig")},
    **{name: "measures.systemic.covar_dcc" for name in ("covar_dcc", "delta_covar_dcc")},  # covar_dcc: imported above
    **{name: "measures.systemic.frames" for name in ("covar_dcc_frame", "dcc_mes_frame", "dcc_paths_frame",
                                                      "historical_mes_frame")},
    **{name: "measures.systemic.lrmes" for name in ("dcc_beta", "lrmes_closed_form", "lrmes_from_mes", "simulate_lrmes",
                                                     "simulate_lrmes_paths")},
    **{name: "measures.systemic.mes" for name in ("dynamic_mes", "historical_mes", "kernel_tail_expectation")},
    **{name: "measures.systemic.srisk" for name in ("aggregate_srisk", "carry_forward_liabilities", "ses", "srisk",
                                                     "srisk_share", "srisk_status")},
    **{name: "measures.systemic.srisk_panel" for name in ("SRISK_COLUMNS", "check_plan", "daily_balance_sheet",
                                                           "simulation_dates", "srisk_panel", "srisk_unavailable",  # srisk_panel: above
                                                           "status_events")},
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
