"""DCC(1,1)-GARCH engine (Engle 2002): two-step QML, joint / composite / bivariate-per-bank.

Names are imported lazily (PEP 562), as in :mod:`measures`: a stage that only reads fitted paths
(``mes_srisk``) does not load arch and the optimisers.
"""

from __future__ import annotations

from measures.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    **{name: "measures.dcc.banks" for name in ("CovarDCCParams", "bank_system_returns", "check_plan", "fit_dcc_banks",
                                                "pair_samples")},
    "DCCConfig": "measures.dcc.config",
    **{name: "measures.dcc.fit" for name in ("check_returns", "estimates_frame", "fit_dcc", "fit_dcc_bivariate",
                                              "fit_pair_samples", "summarize_bivariate")},
    **{name: "measures.dcc.likelihood" for name in ("correlation_loglik", "correlation_matrices", "loglik_terms",
                                                     "second_moment")},
    "DCCResult": "measures.dcc.results",
    **{name: "measures.dcc.simulate" for name in ("GarchParams", "simulate_dcc_garch")},
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
