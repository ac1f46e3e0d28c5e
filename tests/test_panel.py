"""Panel regressions (Liu–Ma 2021, docs/panel.md): known truth, Hausman, specs, bad input, the panel build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import panel
from measures.core.adapters.linearmodels_adapter import fit_panel_ols
from panel import (
    ModelSpec,
    PanelConfig,
    estimate_model,
    estimate_models,
    hausman_test,
    lag_regressors,
    model_data,
    model_specs,
    seed003_models,
)

BETA = {"car": -0.10, "lcr": -0.004, "car:lcr": 0.50, "npl": 0.20, "nim": 0.0}


def simulate(seed: int, *, n_banks: int = 40, n_years: int = 12, corr: float = 1.0,
             effect_sd: float = 0.02, year_sd: float = 0.0, noise: float = 0.002) -> tuple[pd.DataFrame, pd.Series]:
    """Unbalanced FE panel: crw = alpha_i [+ lambda_t] + x'BETA + e, alpha_i correlated with car via ``corr``."""
    rng = np.random.default_rng(seed)
    alpha = pd.Series(rng.normal(0.05, effect_sd, n_banks), index=[f"b{i:02d}" for i in range(n_banks)])
    lam = rng.normal(0.0, year_sd, n_years)
    rows = [(b, 2000 + t) for b in alpha.index for t in range(n_years) if rng.random() > 0.12]
    df = pd.DataFrame(rows, columns=["bank_id", "year"])
    n = len(df)
    a = alpha[df["bank_id"]].to_numpy()
    df["car"] = 0.13 + 0.02 * rng.standard_normal(n) + corr * (a - 0.05)
    df["lcr"] = 1.3 + 0.25 * rng.standard_normal(n)
    df["npl"] = 0.013 + 0.004 * rng.standard_normal(n)
    df["nim"] = 0.026 + 0.004 * rng.standard_normal(n)
    df["loan_growth"] = 0.18 + 0.06 * rng.standard_normal(n)
    xb = sum(BETA[t] * (df["car"] * df["lcr"] if t == "car:lcr" else df[t]) for t in BETA)
    df["crw"] = a + lam[df["year"] - 2000] + xb + noise * rng.standard_normal(n)
    return df, alpha


SPEC = ModelSpec(name="kt", regulators=("car", "lcr"), interactions=(("car", "lcr"),), controls=("npl", "nim"))


# --------------------------------------------------------------------------- known truth
def test_fe_recovers_known_slopes_and_bank_effects():
    df, alpha = simulate(1)
    res = estimate_model(df, SPEC, PanelConfig(choose="fe"))
    truth = np.array([BETA[t] for t in res.fe.names])
    z = (res.fe.params - truth) / res.fe.std_errors
    assert np.all(np.abs(z) < 4), z
    assert res.fe.params[res.fe.names.index("car:lcr")] == pytest.approx(BETA["car:lcr"], abs=0.05)
    assert res.chosen == "fe" and res.fe.nobs == len(df) and res.fe.entities == 40
    tidy = res.fe.tidy()
    assert list(tidy.columns) == ["term", "estimate", "std_error", "t_stat", "p_value", "nobs", "status"]
    assert tidy["status"].eq("ok").all() and tidy["estimate"].tolist() == res.fe.params.tolist()
    effects = res.bank_effects.reindex(alpha.index)
    assert np.max(np.abs(effects - alpha)) < 0.01
    assert np.corrcoef(effects, alpha)[0, 1] > 0.99


def test_fe_with_year_effects_recovers_slopes():
    df, _ = simulate(2, year_sd=0.01)
    spec = ModelSpec(name="tw", regulators=("car", "lcr"), interactions=(("car", "lcr"),), controls=("npl",),
                     time_effects=True)
    res = estimate_model(df, spec, PanelConfig(choose="fe"))
    truth = np.array([BETA[t] for t in res.fe.names])
    assert np.all(np.abs((res.fe.params - truth) / res.fe.std_errors) < 4)
    assert res.bank_effects is None
    assert not any(t.startswith("year=") for t in res.coefficients()["term"])


def test_clustered_se_cover_the_sampling_spread():
    """Across seeds, bank-clustered standard errors match the spread of the FE estimates."""
    estimates, ses = [], []
    for seed in range(20):
        df, _ = simulate(100 + seed, n_banks=25, n_years=8)
        md = model_data(df, SPEC)
        fit = fit_panel_ols(md.y, md.x, md.entity, md.time, names=md.names)
        estimates.append(fit.params[0])
        ses.append(fit.std_errors[0])
    ratio = np.std(estimates, ddof=1) / np.mean(ses)
    assert 0.6 < ratio < 1.6, ratio


def test_hausman_rejects_correlated_effects_and_keeps_re_when_uncorrelated():
    correlated, _ = simulate(3, corr=1.0, effect_sd=0.03)
    for variance in ("fe", "re"):
        res = estimate_model(correlated, SPEC, PanelConfig(hausman_variance=variance))
        assert res.hausman.positive_definite and res.hausman.p_value < 1e-4 and res.chosen == "fe"
    # own variances (plm phtest): here V_FE - V_RE is not positive definite -> flagged, FE kept
    res = estimate_model(correlated, SPEC, PanelConfig(hausman_variance="own"))
    assert res.hausman.status == "warning:NotPositiveDefinite" and res.chosen == "fe"
    assert res.fit_stats()["status"] == "warning:NotPositiveDefinite"
    uncorrelated, _ = simulate(4, corr=0.0, n_banks=60)
    res = estimate_model(uncorrelated, SPEC, PanelConfig(hausman_variance="own"))
    assert res.hausman.positive_definite and res.hausman.p_value > 0.05
    assert res.chosen == "re" and res.re is not None
    coefs = res.coefficients().set_index("term")["estimate"]
    assert "const" in coefs.index
    assert coefs["car:lcr"] == pytest.approx(BETA["car:lcr"], abs=0.1)
    # the fe rule reports FE whatever the test says
    assert estimate_model(uncorrelated, SPEC, PanelConfig(choose="fe")).chosen == "fe"


def test_hausman_hand_computed():
    h = hausman_test(np.array([1.0, 2.0]), np.diag([2.0, 5.0]), np.zeros(2), np.diag([1.0, 1.0]))
    assert h.statistic == pytest.approx(1.0 + 1.0)
    assert h.df == 2 and h.p_value == pytest.approx(np.exp(-1.0))
    assert h.positive_definite and h.status == "ok" and h.rejects(0.5) and not h.rejects(0.05)
    indefinite = hausman_test(np.array([1.0, 2.0]), np.diag([2.0, 0.0]), np.zeros(2), np.diag([1.0, 4.0]))
    assert not indefinite.positive_definite and indefinite.status == "warning:NotPositiveDefinite"
    assert indefinite.statistic == pytest.approx(1.0 - 1.0) and indefinite.p_value == 1.0
    singular = hausman_test(np.array([3.0, 0.0]), np.diag([2.0, 1.0]), np.zeros(2), np.diag([1.0, 1.0]))
    assert singular.statistic == pytest.approx(9.0)  # Moore-Penrose inverse: the null direction is ignored
    assert singular.p_value == pytest.approx(stats.chi2.sf(9.0, 2))
    with pytest.raises(ValueError, match="k x k"):
        hausman_test(np.ones(2), np.eye(3), np.ones(2), np.eye(3))


def test_pooled_model_without_entity_effects():
    df, _ = simulate(5, effect_sd=0.0)
    spec = ModelSpec(name="pooled", regulators=("car",), controls=("npl",), entity_effects=False)
    res = estimate_models(df, [spec])
    row = res.fit_stats.iloc[0]
    assert row["chosen"] == "pooled" and np.isnan(row["hausman"]) and row["hausman_status"] == "not applicable"
    coefs = res.coefficients.set_index("term")["estimate"]
    assert coefs["const"] == pytest.approx(0.05, abs=0.01) and coefs["car"] == pytest.approx(-0.10 + 0.5 * 1.3, abs=0.1)


# --------------------------------------------------------------------------- outputs
def test_estimate_models_frames_and_exclusions():
    df, _ = simulate(6)
    df.loc[3, "nim"] = np.nan
    df.loc[7, "car"] = np.inf
    specs = model_specs([{"name": "a", "regulators": ["car"], "controls": ["nim"]},
                         {"name": "b", "regulators": ["lcr"]}])
    res = estimate_models(df, specs)
    assert list(res.coefficients.columns) == ["model", "term", "estimate", "std_error", "t_stat", "p_value"]
    assert list(res.fit_stats.columns[:7]) == ["model", "nobs", "banks", "r2_within", "hausman", "hausman_p", "chosen"]
    assert list(res.fit_stats["nobs"]) == [len(df) - 2, len(df)]
    assert list(res.fit_stats["excluded"]) == [2, 0]
    ex = res.exclusions
    assert list(ex.columns) == ["model", "bank_id", "year", "reason"]
    assert sorted(ex["reason"]) == ["missing car", "missing nim"]
    assert set(zip(ex["bank_id"], ex["year"])) == {tuple(df.loc[3, ["bank_id", "year"]]), tuple(df.loc[7, ["bank_id", "year"]])}


def test_input_order_does_not_matter():
    df, _ = simulate(7)
    a = estimate_model(df, SPEC)
    b = estimate_model(df.sample(frac=1.0, random_state=0), SPEC)
    np.testing.assert_array_equal(a.fe.params, b.fe.params)
    assert a.hausman.statistic == b.hausman.statistic


# --------------------------------------------------------------------------- specs
def test_seed003_models_are_the_nine_of_methods_5():
    specs = seed003_models()
    assert [s.name for s in specs] == [f"m{i}" for i in range(1, 10)]
    assert specs[0].terms == ("car", "lcr", "car:lcr", "npl", "nim", "loan_growth")
    assert specs[5].terms == ("lev", "liq", "lev:liq", "npl", "nim", "loan_growth")
    assert [s.terms[0] for s in specs[6:]] == ["car", "lev", "lcr"] and all(len(s.terms) == 4 for s in specs[6:])
    assert all(s.covariance == "clustered" and s.entity_effects and not s.time_effects for s in specs)
    assert panel.model_variables(specs) == ("crw", "car", "lcr", "ldr", "liq", "lev", "npl", "nim", "loan_growth")
    sized = seed003_models({"ln_assets": True, "covariance": "driscoll-kraay", "bandwidth": 2})
    assert sized[0].controls == ("npl", "nim", "loan_growth", "ln_assets") and sized[8].bandwidth == 2


def test_spec_lists_from_plain_mappings_are_frozen_tuples():
    (spec,) = model_specs([{"name": "x", "regulators": ["car", "lcr"], "interactions": [["car", "lcr"]]}],
                          defaults={"controls": ["npl"], "time_effects": True})
    assert spec.interactions == (("car", "lcr"),) and spec.controls == ("npl",) and spec.time_effects
    with pytest.raises(AttributeError):
        spec.name = "y"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"name": "m", "regulators": ["car"], "covariance": "hac"}, "covariance='hac' is not allowed; allowed values: 'clustered'"),
        ({"name": "m", "regulators": ["car"], "colour": 1}, r"models\[0\]: unknown option\(s\) colour"),
        ({"name": "m", "regulators": []}, "regulators=\\(\\) is empty"),
        ({"name": "m", "regulators": "car"}, "must be a list of column names"),
        ({"name": "m", "regulators": ["car"], "interactions": [["car", "lcr"]]}, "'lcr' is not a main effect"),
        ({"name": "m", "regulators": ["car"], "interactions": [["car"]]}, "must be a pair"),
        ({"name": "m", "regulators": ["car", "car"]}, "'car' appears twice"),
        ({"name": "m", "regulators": ["crw"]}, "dependent variable 'crw' is also a regressor"),
        ({"name": "m", "regulators": ["car"], "bandwidth": -1}, "bandwidth=-1 is out of range"),
        ({"name": "m", "regulators": ["car"], "kernel": "tukey"}, "kernel='tukey' is not allowed"),
        ({"name": "", "regulators": ["car"]}, "name='' must be a non-empty string"),
    ],
)
def test_bad_specs_raise_clear_errors(mapping, message):
    with pytest.raises(ValueError, match=message):
        model_specs([mapping])


def test_bad_model_lists_and_config():
    with pytest.raises(ValueError, match="duplicated: a"):
        model_specs([{"name": "a", "regulators": ["car"]}, {"name": "a", "regulators": ["lev"]}])
    with pytest.raises(ValueError, match="options name are fixed"):
        seed003_models({"name": "x"})
    with pytest.raises(ValueError, match="choose='re' is not allowed"):
        PanelConfig(choose="re")
    with pytest.raises(ValueError, match="alpha=1.5 is out of range"):
        PanelConfig(alpha=1.5)


# --------------------------------------------------------------------------- bad data
@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return simulate(8, n_banks=10, n_years=6)[0]


def test_missing_column_names_model_and_column(data):
    with pytest.raises(ValueError, match=r"model 'kt': missing column\(s\) nim; available columns: bank_id"):
        estimate_model(data.drop(columns="nim"), SPEC)


def test_models_with_absent_columns_can_be_skipped(data):
    specs = seed003_models()
    rng = np.random.default_rng(0)
    no_lcr = data.drop(columns="lcr").assign(**{c: rng.normal(size=len(data)) for c in ("lev", "ldr", "liq")})
    with pytest.raises(ValueError, match=r"model 'm1': missing column\(s\) lcr"):
        estimate_models(no_lcr, specs, PanelConfig(missing_columns="raise"))
    res = estimate_models(no_lcr, specs)  # skip is the default
    assert res.skipped.values.tolist() == [["m1", "missing column(s) lcr"], ["m4", "missing column(s) lcr"],
                                           ["m9", "missing column(s) lcr"]]
    assert res.fit_stats["model"].tolist() == ["m2", "m3", "m5", "m6", "m7", "m8"]
    with pytest.raises(ValueError, match="no model can be estimated: m1: missing column"):
        estimate_models(no_lcr, specs[:1], PanelConfig(missing_columns="skip"))


def test_regressor_constant_within_banks_is_named(data):
    bad = data.assign(size=data["bank_id"].str[1:].astype(float))
    spec = ModelSpec(name="abs", regulators=("car",), controls=("size",))
    with pytest.raises(ValueError, match="model 'abs': regressor 'size' is constant within every bank; it is absorbed"):
        estimate_model(bad, spec)
    spec_t = ModelSpec(name="abs_t", regulators=("car",), controls=("trend",), time_effects=True)
    with pytest.raises(ValueError, match="regressor 'trend' is constant within every year"):
        estimate_model(data.assign(trend=data["year"] * 1.0 + 0.5 * (data["year"] == 2003)), spec_t)


def test_perfect_collinearity_is_named(data):
    bad = data.assign(car2=2.0 * data["car"] - data["npl"])
    spec = ModelSpec(name="col", regulators=("car",), controls=("npl", "car2"))
    with pytest.raises(ValueError, match="model 'col': regressor 'car2' is perfectly collinear with car, npl"):
        estimate_model(bad, spec)


def test_fewer_than_two_periods(data):
    with pytest.raises(ValueError, match="model 'kt': the estimation sample has 1 year"):
        estimate_model(data[data["year"] == 2001], SPEC)
    holes = data.assign(crw=np.where(data["year"] == 2002, data["crw"], np.nan))
    with pytest.raises(ValueError, match=r"1 year\(s\) after dropping"):
        estimate_model(holes, SPEC)


def test_duplicate_bank_year(data):
    dup = pd.concat([data, data.iloc[[4]]], ignore_index=True)
    b, y = data.iloc[4][["bank_id", "year"]]
    with pytest.raises(ValueError, match=f"duplicate \\(bank_id, year\\) = \\('{b}', {y}\\)"):
        estimate_model(dup, SPEC)


def test_non_numeric_and_missing_keys(data):
    with pytest.raises(ValueError, match="model 'kt': column 'npl' is not numeric"):
        estimate_model(data.assign(npl="high"), SPEC)
    with pytest.raises(ValueError, match=r"missing key column\(s\) year"):
        estimate_model(data.drop(columns="year"), SPEC)


def test_panel_imports_from_this_repository(repo_root: Path):
    # HoloViz also ships a package named "panel": the import must resolve to this repository
    assert Path(panel.__file__).resolve().parent == repo_root / "panel"


def test_hausman_unavailable_with_too_few_banks_keeps_fe_with_a_warning():
    df, _ = simulate(9, n_banks=4, n_years=10)
    spec = ModelSpec(name="few", regulators=("car", "lcr"), interactions=(("car", "lcr"),), controls=("npl", "nim"))
    res = estimate_model(df, spec)
    assert res.hausman is None and res.chosen == "fe"
    assert res.hausman_status.startswith("failed:ValueError: The variance of the effects cannot be estimated")
    row = res.fit_stats()
    assert row["status"] == "warning:HausmanFailed" and np.isnan(row["hausman"])


def test_library_errors_name_the_model(data):
    spec = ModelSpec(name="dk", regulators=("car",), covariance="driscoll-kraay", bandwidth=50)
    with pytest.raises(ValueError, match="^model 'dk': .*bandwidth"):
        estimate_model(data, spec)


def test_years_must_be_numeric(data):
    with pytest.raises(ValueError, match="column 'year' must hold numeric years"):
        estimate_model(data.assign(year=data["year"].astype(str)), SPEC)


def test_lag_regressors_within_bank():
    df = pd.DataFrame({"bank_id": ["a", "a", "a", "b", "b"], "year": [2001, 2002, 2004, 2001, 2002],
                       "car": [1.0, 2.0, 4.0, 10.0, 20.0], "crw": [0.1, 0.2, 0.3, 0.4, 0.5]})
    lagged = lag_regressors(df, ["car"])
    assert list(lagged.columns) == list(df.columns) and lagged["crw"].tolist() == df["crw"].tolist()
    np.testing.assert_array_equal(lagged["car"], [np.nan, 1.0, np.nan, np.nan, 10.0])
    with pytest.raises(ValueError, match="lag=0 must be an integer >= 1"):
        lag_regressors(df, ["car"], lag=0)


@pytest.mark.slow
def test_hausman_size_under_random_effects():
    """Under H0 (effects uncorrelated with the regressors) the common-variance Hausman test
    is positive definite and rejects at about its level; with own variances (plm phtest)
    the difference is often not positive definite (then flagged, and FE is kept)."""
    p_values, not_pd_own = [], 0
    for seed in range(25):
        df, _ = simulate(500 + seed, corr=0.0, n_banks=30, n_years=8)
        res = estimate_model(df, SPEC, PanelConfig(hausman_variance="fe"))
        assert res.hausman.positive_definite
        p_values.append(res.hausman.p_value)
        if seed < 6:
            not_pd_own += not estimate_model(df, SPEC, PanelConfig(hausman_variance="own")).hausman.positive_definite
    p_values = np.array(p_values)
    assert np.mean(p_values < 0.05) <= 0.15
    assert 0.3 < p_values.mean() < 0.7  # roughly uniform
    assert not_pd_own >= 1


# --------------------------------------------------------------------------- the panel build and the model list


def test_year_end_ratios_and_the_join_record_what_is_left_out(default_data_dir):
    from panel import PanelParams, build_panel, estimate_panel, year_end_ratios

    bs = pd.read_parquet(default_data_dir / "interim" / "canonical" / "balance_sheet.parquet")
    ratios, events = year_end_ratios(bs.drop(columns=["lcr", "leverage_ratio"]))
    assert {"lcr", "lev"}.isdisjoint(ratios.columns) and {"car", "ldr", "liq", "ln_assets"} <= set(ratios.columns)
    assert sorted(events.loc[events.reason == "ratio_unavailable", "detail"].str.split(" ").str[0]) == ["lcr", "leverage_ratio"]
    assert (ratios["year"].diff().dropna() != 0).any() and ratios.equals(ratios.sort_values(["bank_id", "year"], ignore_index=True))
    year_end = bs[(bs.period_end.dt.month == 12) & (bs.period_end.dt.day == 31)]
    np.testing.assert_allclose(np.exp(ratios["ln_assets"]), year_end.sort_values(["bank_id", "period_end"])["total_assets"])
    rng = np.random.default_rng(0)
    crw = ratios[["bank_id", "year"]].assign(crw=0.06 + 0.01 * rng.standard_normal(len(ratios)) - 0.5 * ratios["car"])
    crw = pd.concat([crw, pd.DataFrame({"bank_id": ["CCB01"], "year": [2030], "crw": [0.06]})], ignore_index=True)
    data, more = build_panel(crw, ratios)
    assert more[["bank_id", "reason", "n_rows"]].values.tolist() == [["CCB01", "no_year_end_ratios", 1]]
    assert len(data) == len(ratios) and list(data.columns[:3]) == ["bank_id", "year", "crw"]
    lagged, missing = build_panel(crw, ratios, lagged=True)
    assert missing["n_rows"].sum() == ratios["bank_id"].nunique() + 1  # each bank's first year, and 2030
    output = estimate_panel(data, PanelParams())
    status = output.fit_stats.set_index("model")["status"]
    assert (status[["m2", "m3", "m7"]] == "ok").all()
    for m in ("m1", "m4", "m5", "m6", "m8", "m9"):
        assert status[m].startswith(f"failed:MissingColumn: model '{m}': missing column(s) l")
    assert list(output.table2.columns) == ["", "m2", "m3", "m7"] and "Not estimated: m1 (" in output.note
    assert output.events().reason.value_counts().to_dict() == {"model_skipped": 6}
    assert set(output.display_tables()) == {"table1", "table2"}
    assert set(output.table_files()) == {f"table{i}.{ext}" for i in (1, 2) for ext in ("csv", "tex", "html")}
    from measures.core.status import NotEstimable

    with pytest.raises(NotEstimable, match=r"model 'm1': missing column\(s\) lcr.*missing_columns: skip"):
        estimate_panel(data, PanelParams(missing_columns="raise"))
    with pytest.raises(NotEstimable, match="no model of the panel model list could be estimated"):
        estimate_panel(data[["bank_id", "year", "crw"]], PanelParams())


def test_model_list_params_are_validated():
    from panel import PanelParams

    with pytest.raises(ValueError, match="unknown option"):
        PanelParams.from_mapping({"modles": []})
    with pytest.raises(ValueError, match="panel: effects='bank' is not allowed; allowed values"):
        PanelParams.from_mapping({"effects": "bank"}, where="panel")
    with pytest.raises(ValueError, match="hausman_variance='both' is not allowed"):
        PanelParams.from_mapping({"hausman_variance": "both"})
    with pytest.raises(ValueError, match="models='m1' must be a list"):
        PanelParams.from_mapping({"models": "m1"})
    with pytest.raises(ValueError, match=r"model 'x'.*'car:ldr'|interaction"):
        PanelParams.from_mapping({"models": [{"name": "x", "regulators": ["car"], "interactions": [["car", "ldr"]]}]})
    params = PanelParams()
    assert len(params.specs()) == 9  # empty model list = Liu–Ma 2021's nine
    assert params.panel_config() == PanelConfig()  # the model list's estimator defaults are the API's
    assert PanelParams.from_mapping({"controls": ["npl"]}).controls == ("npl",)  # YAML lists become tuples
