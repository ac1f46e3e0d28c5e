"""Panel econometrics of the contagion risk weight (specs, FE/RE, Hausman, tables).

Pure science on top of linearmodels: no file I/O, no DVC, no ``params.yaml``.
Liu–Ma 2021 eq. 7 (docs/panel.md): ``CRW_it = mu_i + b1 R1 + b2 R2 + b3 R1 R2 + controls + e_it``.
"""

from panel.build import PANEL_VARIABLES, RATIOS, build_panel, year_end_ratios
from panel.data import EXCLUSION_COLUMNS, ModelData, check_panel, lag_regressors, model_data
from panel.estimate import (
    COEFFICIENT_COLUMNS,
    FIT_COLUMNS,
    ModelResult,
    PanelConfig,
    PanelResults,
    estimate_model,
    estimate_models,
)
from panel.hausman import HausmanTest, hausman_test
from panel.model_list import (
    COEFFICIENT_CSV,
    FIT_CSV,
    PanelOutput,
    PanelParams,
    estimate_panel,
    estimator_note,
    table1_frame,
)
from panel.spec import SEED003_CONTROLS, SEED003_MODELS, ModelSpec, interaction_name, model_specs, model_variables, seed003_models
from panel.tables import (
    describe_variables,
    format_table,
    regression_table,
    table_note,
    table_to_csv,
    table_to_html,
    table_to_latex,
)

__all__ = [
    "COEFFICIENT_COLUMNS",
    "COEFFICIENT_CSV",
    "FIT_CSV",
    "PANEL_VARIABLES",
    "RATIOS",
    "PanelOutput",
    "PanelParams",
    "build_panel",
    "estimate_panel",
    "estimator_note",
    "format_table",
    "table1_frame",
    "year_end_ratios",
    "EXCLUSION_COLUMNS",
    "FIT_COLUMNS",
    "SEED003_CONTROLS",
    "SEED003_MODELS",
    "HausmanTest",
    "ModelData",
    "ModelResult",
    "ModelSpec",
    "PanelConfig",
    "PanelResults",
    "check_panel",
    "describe_variables",
    "estimate_model",
    "estimate_models",
    "hausman_test",
    "interaction_name",
    "lag_regressors",
    "model_data",
    "model_specs",
    "model_variables",
    "regression_table",
    "seed003_models",
    "table_note",
    "table_to_csv",
    "table_to_html",
    "table_to_latex",
]
