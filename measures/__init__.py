"""Market-data and balance-sheet systemic-risk measures.

Pure science: no file I/O, no DVC, no ``params.yaml``. Every estimator is a
pure function or a small class whose ``fit()`` returns a results object.

Public names are imported lazily (``from measures import eisenberg_noe`` loads only
the module that defines it), so that a stage pays only for what it uses.
"""

from __future__ import annotations

from measures.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # returns and the system
    "ReturnsOptions": "measures.returns",
    "compute_returns": "measures.returns",
    # the estimation core: windows and exact quantile regression
    **{name: "measures.core.windows" for name in ("Windows", "rolling_windows", "expanding_windows", "calendar_windows", "weekly_last")},
    **{
        name: "measures.core.quantreg"
        for name in (
            "QuantileRegressionNotCertified", "QuantileRegressionSolution", "check_loss", "quantile_regression",
            "rolling_quantile_regression", "solve_quantile_regression", "solve_rolling_quantile_regression",
        )
    },
    # quantile-regression inference: iid / nid / ker standard errors as R summary.rq, and the xy-pair bootstrap
    **{name: "measures.core.quantreg.inference" for name in ("bootstrap_coefficients", "hall_sheather_bandwidth", "quantile_regression_se",
                                                                   "rolling_quantile_regression_se")},
    # ΔCoVaR by quantile regression (Adrian–Brunnermeier 2016) and the market-spillover decomposition (Fang–Chen–Yang 2018)
    **{
        name: "measures.covar_qr"
        for name in (
            "CoVaRConfig", "DeltaCoVaRBanks", "LossPanel", "estimate_delta_covar", "estimate_delta_covar_banks",
            "fit_covar_regressions", "lag_states", "loss_panel", "rank_deficient_windows", "select_states",
        )
    },
    **{
        name: "measures.spillover"
        for name in (
            "SpilloverBanks", "SpilloverConfig", "SpilloverResult", "check_identity", "decompose_spillover",
            "estimate_market_spillover", "estimate_spillover_banks", "market_levels",
        )
    },
    # DCC-GARCH and the measures built on it (docs/srisk.md)
    **{
        name: "measures.dcc"
        for name in ("DCCConfig", "DCCResult", "GarchParams", "correlation_loglik", "fit_dcc", "fit_dcc_bivariate", "simulate_dcc_garch")
    },
    **{
        name: "measures.systemic"
        for name in (
            "SystemicRiskConfig", "aggregate_srisk", "benoit2013", "carry_forward_liabilities", "covar_dcc", "covar_dcc_frame",
            "dcc_beta", "dcc_mes_frame", "delta_covar_dcc", "dynamic_mes", "historical_mes", "kernel_tail_expectation",
            "lrmes_closed_form", "lrmes_from_mes", "ses", "simulate_lrmes", "srisk", "srisk_share", "srisk_status",
        )
    },
    # contingent-claims analysis: Merton distance to default, implicit put, system expected loss (docs/cca.md)
    **{name: "measures.systemic.cca" for name in ("MertonResult", "implied_asset_value", "merton_dd", "merton_dd_kmv")},
    **{name: "measures.systemic.cca_panel" for name in ("CCAConfig", "cca_panel")},
    # contagion networks (docs/contagion.md)
    **{
        name: "measures.contagion"
        for name in (
            "Connectedness", "ContagionConfig", "ContagionPanel", "GrangerConfig", "RollingConnectedness", "benjamini_hochberg",
            "connectedness_measures", "contagion_weights", "estimate_connectedness", "estimate_contagion",
            "estimate_rolling_connectedness", "generalized_fevd", "granger_edges", "granger_pvalues",
        )
    },
    # Granger-network measures (Billio et al. 2012) and system-wide market measures (docs/network_measures.md)
    **{name: "measures.contagion.billio" for name in ("GrangerNetwork", "GrangerNetworkConfig", "granger_network_measures",
                                                       "granger_network_panel")},
    **{name: "measures.systemic.market" for name in ("CatfinConfig", "SystemMeasuresConfig", "absorption_ratio", "catfin",
                                                      "system_measures", "turbulence")},
    # balance-sheet contagion (docs/firesale.md, docs/cascade.md)
    **{
        name: "measures.stress"
        for name in (
            "BankAssetNetwork", "CascadeConfig", "CascadeResult", "ClearingResult", "DebtRankResult", "FailureBoundary",
            "FireSaleConfig", "FireSaleResult", "InterbankMatrixEstimate", "MaxEntropyConfig", "SequentialDefaultResult",
            "alpha_grid", "calibrate_omega", "cascade", "debtrank", "debtrank_by_bank", "eisenberg_noe", "failure_boundaries",
            "fire_sale", "fire_sale_curve", "fire_sale_regions", "group_failure_boundary", "map_eba_balance_sheet",
            "max_entropy_matrix", "minimum_density_matrix", "saleable_stock", "sequential_default", "fire_sale_curve_with_banks",
        )
    },
    # the many-bank studies the stages run (one call per stage)
    **{name: "measures.contagion" for name in ("ConnectednessConfig", "ContagionParams", "ContagionAnalysis", "ContagionSeries", "analyse_contagion", "contagion_series", "window_connectedness")},
    **{name: "measures.dcc" for name in ("CovarDCCParams", "estimates_frame", "fit_dcc_banks", "pair_samples")},
    **{name: "measures.stress" for name in ("CascadeParams", "CascadeStudy", "CascadeStudyConfig", "FireSaleParams", "FireSaleYears", "NamedFailure", "OmegaRule", "cascade_study", "fire_sale_years", "mean_curve")},
    **{name: "measures.systemic" for name in ("SRiskPanelConfig", "daily_balance_sheet", "dcc_paths_frame", "historical_mes_frame", "srisk_panel")},
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
