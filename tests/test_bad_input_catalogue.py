"""Bad-input catalogue, params part: every stage's params group through the real entry point.

Each case runs the stage through the runner (``python -m pipeline run`` does the same) with
one bad option and asserts the message: it names the dotted group and the key, the bad value
and the allowed values. The data side of the catalogue (ingest in all three formats,
returns, stage inputs, the panel CLI) lives in the ``test_bad_input_*`` tests next to each
reader and stage; ``tests/test_end_to_end.py`` has the ``dvc repro`` cases.
"""

from __future__ import annotations

import pytest
from conftest import repo_params

from measures.core.config import ConfigError
from pipeline.stage import run_stage

# (stage, group, key, value, expected message)
CASES = [
    ("ingest", "data", "source", "bloomberg", "data.source='bloomberg' is not allowed; allowed values: 'synthetic', 'files'"),
    ("ingest", "data", "format", "csmar", "data.format='csmar' is not allowed; allowed values: 'canonical', 'wind', 'toolbox'"),
    ("ingest", "data", "seed", -5, "data.seed=-5 is out of range; allowed: [0, inf]"),
    ("ingest", "data", "n_banks", 4, "data: n_banks=4 is not allowed; allowed: an integer from 8 to 10000"),
    ("ingest", "data", "start", "20071012x", "data.start='20071012x' is not a date; allowed: YYYY-MM-DD"),
    ("ingest", "data", "files", "prices.csv", "data.files='prices.csv' must be a mapping"),
    ("ingest", "data", "publication_lag_days", -1, "data.publication_lag_days=-1 is out of range; allowed: [0, inf]"),
    ("returns", "data.screens", "spikes", "drop", "data.screens: spikes='drop' is not allowed; allowed values: "),
    ("returns", "data.screens", "mad_threshold", -1, "data.screens: mad_threshold=-1.0 is out of range; allowed: (0.0, inf]"),
    ("returns", "measures.returns", "system", "index2", "measures.returns: system='index2' is not allowed; allowed values: 'sample', 'index'"),
    ("returns", "measures.returns", "suspensions", "drop", "measures.returns: suspensions='drop' is not allowed; allowed values: 'keep', 'mask'"),
    ("returns", "measures.returns", "drop_non_trading_days", "yes", "measures.returns: drop_non_trading_days='yes' is not allowed; allowed values: True, False"),
    ("covar_dcc", "measures.covar_dcc", "vol", "egarch", "measures.covar_dcc: vol='egarch' is not allowed; allowed values: 'garch', 'gjr'"),
    ("covar_dcc", "measures.covar_dcc", "q", 1.5, "measures.covar_dcc: q=1.5 is out of range; allowed: (0.5, 1.0)"),
    ("covar_dcc", "measures.covar_dcc", "min_obs", 5, "measures.covar_dcc: min_obs=5 is out of range; allowed: [20, inf]"),
    ("covar_dcc", "measures.covar_dcc", "max_persistence", 1.0, "measures.covar_dcc: max_persistence=1.0 is out of range; allowed: [0.5, 1.0)"),
    ("mes_srisk", "measures.mes_srisk", "k", 1.5, "measures.mes_srisk: k=1.5 is out of range; allowed: (0.0, 1.0)"),
    ("rankings", "measures.rankings", "level", 1.5, "measures.rankings: level=1.5 is out of range; allowed: (0.0, 1.0)"),
    ("mes_srisk", "measures.mes_srisk", "crash", "forty", "measures.mes_srisk: crash='forty' must be a number"),
    ("mes_srisk", "measures.mes_srisk", "horizon", 1.5, "measures.mes_srisk: horizon=1.5 must be an integer"),
    ("mes_srisk", "measures.mes_srisk", "kappa", 0.02, "measures.mes_srisk: kappa=0.02 is out of range; allowed: [-inf, 0.0)"),
    ("covar_qr", "measures.covar_qr", "q", 0.05, "measures.covar_qr: q=0.05 is out of range; allowed: (0.5, 1.0)"),
    ("covar_qr", "measures.covar_qr", "estimation", "weekly", "measures.covar_qr: estimation='weekly' is not allowed; allowed values: 'full', 'expanding', 'rolling'"),
    ("covar_qr", "measures.covar_qr", "lag", -1, "measures.covar_qr: lag=-1 is out of range; allowed: [0, inf]"),
    ("covar_qr", "measures.covar_qr", "states", "stock_vol", "measures.covar_qr: states must be null (all state variables) or a non-empty list of column names, got 'stock_vol'"),
    ("spillover", "measures.spillover", "traditional", "both", "measures.spillover: traditional='both' is not allowed; allowed values: 'lagged', 'same_window'"),
    ("spillover", "measures.spillover", "window", "long", "measures.spillover: window='long' must be a number"),
    ("contagion", "contagion", "series", "srisk", "contagion: series='srisk' is not allowed; allowed values: 'dcc', 'qr', 'spillover'"),
    ("contagion", "contagion", "damping", 1.0, "contagion: damping=1.0 is out of range; allowed: (0.0, 1.0)"),
    ("contagion", "contagion", "ic", "aicc", "contagion: ic='aicc' is not allowed; allowed values: 'aic', 'bic', 'hqic'"),
    ("contagion", "contagion", "connectedness", 10, "contagion.connectedness=10 must be a mapping of the options of ConnectednessConfig"),
    ("panel", "panel", "effects", "bank", "panel: effects='bank' is not allowed; allowed values: 'entity', 'entity+time', 'none'"),
    ("panel", "panel", "covariance", "hc3", "panel: covariance='hc3' is not allowed; allowed values: 'clustered', 'robust', 'driscoll-kraay'"),
    ("panel", "panel", "models", "m1", "panel: models='m1' must be a list"),
    ("stress_firesale", "stress.firesale", "tol_basis", "relative", "stress.firesale: tol_basis='relative' is not allowed; allowed values: 'absolute', 'capital'"),
    ("stress_firesale", "stress.firesale", "max_rounds", "many", "stress.firesale: max_rounds='many' must be a number"),
    ("stress_firesale", "stress.firesale", "sector_correlations", [0.8], "stress.firesale.sector_correlations=[0.8] must be a mapping"),
    ("stress_cascade", "stress.cascade", "seniority", "senior", "stress.cascade: seniority='senior' is not allowed; allowed values: 'pari_passu', 'external_senior'"),
    ("stress_cascade", "stress.cascade", "alpha_grid", "0..1", "stress.cascade: alpha_grid='0..1' must be [start, stop, n]"),
    ("stress_cascade", "stress.cascade", "period", "end of 2019", "stress.cascade: period='end of 2019' is not a date; allowed: YYYY-MM-DD or null"),
    ("stress_interbank", "stress.interbank", "lgd", 1.5, "stress.interbank: lgd=1.5 is out of range; allowed: [0.0, 1.0]"),
    ("stress_interbank", "stress.interbank", "matrix", "dense", "stress.interbank: matrix='dense' is not allowed; allowed values: 'maxent', 'min_density'"),
    ("mes_srisk", "measures.mes_srisk", "ses_mes", "worst", "measures.mes_srisk: ses_mes='worst' is not allowed; allowed values: 'hist', 'dyn'"),
    ("cca", "measures.cca", "solver", "newton", "measures.cca: solver='newton' is not allowed; allowed values: 'two_equation', 'kmv'"),
    ("contagion", "measures.granger_network", "alpha", 1.5, "measures.granger_network: alpha=1.5 is out of range; allowed: (0.0, 1.0)"),
    ("system_measures", "measures.system", "ar_window", 1, "measures.system: ar_window=1 is out of range; allowed: [2, inf]"),
    ("early_warning", "measures.early_warning", "quantile", 1.5, "measures.early_warning: quantile=1.5 is out of range; allowed: (0.0, 1.0)"),
    ("early_warning", "measures.early_warning", "horizons", [20, 20], "measures.early_warning: horizons=[20, 20] repeats a horizon; list each once"),
    ("report", "report", "title", 5, "report: title=5 must be a string"),
    ("report", "report", "episodes", "2008", "report: episodes='2008' must be a list of {name, start, end} mappings"),
]

GROUPS = sorted({(stage, group) for stage, group, *_ in CASES})


def _params(group: str, key: str, value) -> dict:
    params = repo_params()
    node = params
    for part in group.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    return params


@pytest.mark.parametrize("stage, group, key, value, message", CASES, ids=[f"{g}.{k}" for _, g, k, *_ in CASES])
def test_bad_input_params_value(stage, group, key, value, message, tmp_path):
    with pytest.raises(ConfigError) as err:
        run_stage(stage, params=_params(group, key, value), root=tmp_path)
    assert message in str(err.value)


@pytest.mark.parametrize("stage, group", GROUPS, ids=[g for _, g in GROUPS])
def test_bad_input_params_misspelled_key(stage, group, tmp_path):
    with pytest.raises(ConfigError) as err:
        run_stage(stage, params=_params(group, "windw", 5), root=tmp_path)
    text = str(err.value)
    assert text.startswith(f"{group}: unknown option(s) windw for ") and "allowed options: " in text


def test_every_stage_group_is_in_the_catalogue():
    from pipeline.params import known_groups

    assert {g for _, g in GROUPS} == set(known_groups()) - {"compute"}  # the runner's group: tests/test_compute.py
