"""Panel regressions against R plm 2.6 (numbers in tests/reference/panel/reference.json).

The panel (tests/reference/panel/panel.csv, 18 banks x 2011-2020, unbalanced, 3 missing
``nim``) is made by make_panel.py; make_reference.R fits Liu–Ma 2021's nine models with plm.
Mapping of the covariance corrections (linearmodels 7.1 -> plm), see the adapter docstring:
clustered small_sample=True -> vcovHC(arellano, group, "sss"); small_sample=False -> "HC0";
robust / Driscoll-Kraay -> white1 / vcovSCC "HC0" times sqrt(n / (n - G - k)).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from measures.core.adapters.linearmodels_adapter import fit_panel_ols
from panel import PanelConfig, estimate_model, estimate_models, model_data, seed003_models

HERE = Path(__file__).resolve().parent / "reference" / "panel"
REF = json.loads((HERE / "reference.json").read_text())["models"]
MODELS = [f"m{i}" for i in range(1, 10)]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(HERE / "panel.csv")


@pytest.fixture(scope="module")
def fitted(panel):
    results = estimate_models(panel, seed003_models(), PanelConfig(choose="fe", hausman_variance="own"))
    return {r.spec.name: r for r in results.results}, results


def _by_name(values: dict, names) -> np.ndarray:
    return np.array([values[n] for n in names])


@pytest.mark.parametrize("model", MODELS)
def test_fe_coefficients_match_plm_within(fitted, model):
    res = fitted[0][model]
    np.testing.assert_allclose(res.fe.params, _by_name(REF[model]["fe_coef"], res.fe.names), rtol=0, atol=1e-8)


@pytest.mark.parametrize("model", MODELS)
def test_clustered_se_match_plm_arellano_sss(fitted, model):
    res = fitted[0][model]
    ref = REF[model]
    np.testing.assert_allclose(res.fe.std_errors, _by_name(ref["se_sss"], res.fe.names), rtol=1e-6, atol=0)
    # p-values: t with n - G - k degrees of freedom, as lmtest::coeftest on the plm fit
    np.testing.assert_allclose(res.fe.p_values, _by_name(ref["p_sss"], res.fe.names), rtol=1e-6, atol=1e-300)
    assert res.fe.df_resid == ref["df_residual"]


@pytest.mark.parametrize("model", MODELS)
def test_fit_counts_and_within_r2_match_plm(fitted, model):
    res = fitted[0][model]
    ref = REF[model]
    assert (res.fe.nobs, res.fe.entities) == (ref["nobs"], ref["groups"])
    assert res.fe.r2_within == pytest.approx(ref["r2"], abs=1e-10)
    # the three rows with a missing nim are recorded, not dropped silently
    assert len(res.data.exclusions) == 159 - ref["nobs"]


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"covariance": "clustered", "small_sample": False}, "se_hc0"),
        ({"covariance": "robust"}, "se_white1"),
        ({"covariance": "driscoll-kraay", "bandwidth": 2}, "se_scc2"),
    ],
)
def test_other_covariances_match_plm(panel, options, key):
    fits = {}
    for spec in seed003_models(options):
        md = model_data(panel, spec)
        fit = fit_panel_ols(md.y, md.x, md.entity, md.time, names=md.names, covariance=spec.covariance,
                            small_sample=spec.small_sample, kernel=spec.kernel, bandwidth=spec.bandwidth)
        ref = REF[spec.name]
        expected = _by_name(ref[key], fit.names)
        if key != "se_hc0":  # linearmodels counts the bank effects: n / (n - G - k)
            expected = expected * np.sqrt(ref["nobs"] / ref["df_residual"])
        np.testing.assert_allclose(fit.std_errors, expected, rtol=1e-6, atol=0, err_msg=f"{key} {spec.name}")
        fits[spec.name] = fit
    # the same through estimate_model (the spec -> adapter plumbing)
    res = estimate_model(panel, seed003_models(options)[0], PanelConfig(choose="fe"))
    np.testing.assert_allclose(res.fe.std_errors, fits["m1"].std_errors, rtol=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_random_effects_match_plm_swamy_arora(fitted, model):
    res = fitted[0][model]
    ref = REF[model]
    re = res.re_conventional
    names = ["(Intercept)" if n == "const" else n for n in re.names]
    np.testing.assert_allclose(re.params, _by_name(ref["re_coef"], names), rtol=0, atol=1e-8)
    np.testing.assert_allclose(re.std_errors, _by_name(ref["se_re_plain"], names), rtol=1e-6, atol=0)
    assert re.sigma2_idiosyncratic == pytest.approx(ref["sigma2_idios"], rel=1e-8)
    assert re.sigma2_effect == pytest.approx(ref["sigma2_id"], rel=1e-8)
    fe_plain = res.fe_conventional
    np.testing.assert_allclose(fe_plain.std_errors, _by_name(ref["se_fe_plain"], fe_plain.names), rtol=1e-6, atol=0)


@pytest.mark.parametrize("model", MODELS)
def test_hausman_matches_phtest(fitted, model):
    res = fitted[0][model]
    ref = REF[model]
    h = res.hausman
    assert h.df == ref["phtest_df"]
    # phtest reports abs(d' (V_FE - V_RE)^-1 d); the generalized inverse equals the inverse here
    assert abs(h.statistic) == pytest.approx(ref["phtest_stat"], rel=1e-6)
    if h.positive_definite:
        assert h.statistic == pytest.approx(ref["phtest_stat"], rel=1e-6)
        assert h.p_value == pytest.approx(ref["phtest_p"], rel=1e-6)
        assert h.status == "ok"
    else:
        assert h.status == "warning:NotPositiveDefinite"
        assert h.p_value == 1.0 or h.statistic > 0


@pytest.mark.parametrize(("variance", "key"), [("fe", "hausman_sigmaless"), ("re", "hausman_sigmamore")])
def test_hausman_with_a_common_residual_variance_matches_r(panel, variance, key):
    specs = [s for s in seed003_models() if s.name in ("m1", "m5", "m7")]
    results = estimate_models(panel, specs, PanelConfig(hausman_variance=variance)).results
    for r in results:
        assert r.hausman.positive_definite and r.hausman.status == "ok", r.spec.name
        assert r.hausman.statistic == pytest.approx(REF[r.spec.name][key], rel=1e-6), r.spec.name
    # the simulated bank effects are correlated with car: the car models reject at 5%
    assert [r.chosen for r in results] == ["fe", "re", "fe"]


def test_reference_panel_has_both_hausman_cases(fitted):
    """The reference covers a positive-definite and a non-positive-definite V_FE - V_RE."""
    flags = {m: fitted[0][m].hausman.positive_definite for m in MODELS}
    assert any(flags.values()) and not all(flags.values())


def test_twoway_fe_matches_plm(panel):
    spec = seed003_models({"time_effects": True, "small_sample": False})[0]
    res = estimate_models(panel, [spec], PanelConfig(choose="fe")).results[0]
    ref = REF["m1_twoways"]
    assert res.fe.nobs == ref["nobs"]
    np.testing.assert_allclose(res.fe.params, _by_name(ref["fe_coef"], res.fe.names), rtol=0, atol=1e-8)
    # with bank and year effects linearmodels counts all d = G + T - 1 effects even when clustering by bank
    d = ref["groups"] + ref["periods"] - 1
    expected = _by_name(ref["se_hc0"], res.fe.names) * np.sqrt(ref["nobs"] / (ref["nobs"] - d))
    np.testing.assert_allclose(res.fe.std_errors, expected, rtol=1e-6, atol=0)
