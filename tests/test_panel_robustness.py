"""Table 3 (panel robustness): the variants on a seeded panel with known slopes, Driscoll–Kraay errors
against linearmodels, the rolling-window CRW made yearly, bad inputs, a process pool.

The simulated panel (30 banks, 2005–2016):

    car_it = c_i + g_t + u_it,   crw_it = mu_i + lambda_t + 0.8 car_it + 0.2 npl_it + e_it,
    crw_qr_it = mu_i - 0.4 car_it + 0.2 npl_it + e'_it,   lambda_t = 5 g_t,

so the CRW-from-QR variant must recover -0.4, the bank+year-effects variant 0.8 (the bank-effects
baseline is biased by the year effects correlated with CAR), and every year subsample of crw_qr -0.4.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from linearmodels import PanelOLS

from measures.core.config import ConfigError
from measures.contagion import ContagionParams
from panel import PanelParams, estimate_panel, lag_regressors
from panel.build import yearly_crw
from panel.robustness import RobustnessConfig, csv_robustness, robustness_variants
from pool_mapper import PoolMapper

MODELS = ({"name": "a", "regulators": ["car"]},
          {"name": "b", "regulators": ["car", "ldr"], "interactions": [["car", "ldr"]]})
PARAMS = PanelParams(models=MODELS, controls=("npl",), choose="fe",
                     robustness=RobustnessConfig(subsamples=((2005, 2010), (2011, 2016))))


def simulated_panel(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    banks, years = [f"b{i:02d}" for i in range(30)], np.arange(2005, 2017)
    c, g = rng.normal(0.12, 0.02, len(banks)), rng.normal(0.0, 0.01, len(years))
    mu = rng.normal(0.0, 0.05, len(banks))
    bi, yi = np.repeat(np.arange(len(banks)), len(years)), np.tile(np.arange(len(years)), len(banks))
    n = len(bi)
    car = c[bi] + g[yi] + rng.normal(0.0, 0.01, n)
    npl = rng.normal(0.015, 0.005, n)
    ldr = rng.normal(0.7, 0.05, n)
    crw = mu[bi] + 5 * g[yi] + 0.8 * car + 0.2 * npl + rng.normal(0.0, 0.002, n)
    crw_qr = mu[bi] - 0.4 * car + 0.2 * npl + rng.normal(0.0, 0.002, n)
    return pd.DataFrame({"bank_id": np.array(banks)[bi], "year": years[yi].astype("int64"), "crw": crw, "car": car,
                         "ldr": ldr, "npl": npl, "crw_qr": crw_qr})


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulated_panel()


@pytest.fixture(scope="module")
def robust(panel):
    return csv_robustness(panel, PARAMS)


def coef(long: pd.DataFrame, variant: str, model: str, term: str) -> pd.Series:
    row = long[(long.variant == variant) & (long.model == model) & (long.term == term)]
    assert len(row) == 1, (variant, model, term)
    return row.iloc[0]


def test_variants_of_the_default_configuration():
    names = [v.name for v in robustness_variants(PanelParams(robustness=RobustnessConfig(subsamples=((2008, 2013),))),
                                                 ["dcc", "qr", "spillover"])]
    assert names == ["baseline", "series:dcc", "series:qr", "series:spillover", "years:2008-2013", "lagged",
                     "entity+time", "driscoll-kraay"]
    # a variant equal to the baseline is left out; with lagged ratios the robustness column is contemporaneous
    same = PanelParams(effects="entity+time", covariance="driscoll-kraay", lagged=True)
    assert [v.name for v in robustness_variants(same, [])] == ["baseline", "years:2008-2013", "years:2014-2020",
                                                              "contemporaneous"]


def test_known_slopes_of_each_variant(robust):
    long = robust.long
    r = coef(long, "series:qr", "a", "car")
    assert abs(r.estimate + 0.4) < 4 * r.std_error, r
    r = coef(long, "entity+time", "a", "car")
    assert abs(r.estimate - 0.8) < 4 * r.std_error, r
    base = coef(long, "baseline", "a", "car")
    assert abs(base.estimate - 0.8) > 10 * base.std_error  # the year effects bias the one-way baseline
    for years, nobs in (("2005-2010", 180), ("2011-2016", 180)):
        r = coef(long, f"years:{years}", "a", "car")
        assert r.nobs == nobs
    assert coef(long, "baseline", "a", "npl").nobs == 360
    assert set(long["status"]) == {"ok"}


def test_baseline_and_variants_equal_direct_estimates(panel, robust):
    long = robust.long
    direct = estimate_panel(panel.drop(columns="crw_qr"), PARAMS).coefficients.set_index(["model", "term"])
    base = long[long.variant == "baseline"].set_index(["model", "term"])
    np.testing.assert_array_equal(base.loc[direct.index, "estimate"], direct["estimate"])
    lagged = estimate_panel(lag_regressors(panel.drop(columns="crw_qr"), ["car", "ldr", "npl"]), PARAMS)
    got = long[long.variant == "lagged"].set_index(["model", "term"])
    want = lagged.coefficients.set_index(["model", "term"])
    np.testing.assert_allclose(got.loc[want.index, "estimate"], want["estimate"], rtol=0, atol=0)
    assert coef(long, "lagged", "a", "car").nobs == 30 * 11  # the first year has no year-end t-1 ratios


def test_driscoll_kraay_errors_equal_linearmodels(panel, robust):
    data = panel.set_index(["bank_id", "year"])
    fit = PanelOLS(data["crw"], data[["car", "npl"]], entity_effects=True).fit(cov_type="kernel", kernel="bartlett",
                                                                                 debiased=True)
    for term in ("car", "npl"):
        r = coef(robust.long, "driscoll-kraay", "a", term)
        assert r.estimate == pytest.approx(fit.params[term], rel=1e-12)
        assert r.std_error == pytest.approx(fit.std_errors[term], rel=1e-10)
        # the point estimates are the baseline's; only the errors change
        assert r.estimate == pytest.approx(coef(robust.long, "baseline", "a", term).estimate, rel=1e-14)
    assert coef(robust.long, "driscoll-kraay", "a", "car").std_error != coef(robust.long, "baseline", "a", "car").std_error


def test_table3_blocks_rows_and_stars(robust):
    t3 = robust.table3
    assert list(t3.columns) == ["", "a", "b"]
    labels = list(t3[""])
    assert labels[0] == "Terms" and list(t3.iloc[0, 1:]) == ["CAR", "CAR, LDR, CAR × LDR"]
    for title in ("Baseline", "CRW from ΔCoVaR-QR", "Years 2005–2010", "Years 2011–2016", "Ratios of year end t−1",
                  "Bank and year effects", "Driscoll–Kraay standard errors"):
        assert title in labels
    i = labels.index("CRW from ΔCoVaR-QR")
    assert labels[i + 1] == "  Regulator 1" and t3.iat[i + 1, 1].startswith(f"{coef(robust.long, 'series:qr', 'a', 'car').estimate:.3f}")
    assert t3.iat[i + 1, 1].endswith("***")
    assert labels.count("  Observations") == 7  # baseline, QR, two subsamples, lagged, two-way, DK


def test_failed_model_in_a_variant_keeps_a_row_and_the_note(panel):
    params = dataclasses.replace(PARAMS, robustness=RobustnessConfig(subsamples=((2016, 2016),)))
    out = csv_robustness(panel, params)
    bad = out.long[out.long.variant == "years:2016-2016"]
    assert set(bad["term"]) == {""} and bad["status"].str.startswith("failed").all()
    assert "Years 2016–2016 a" in out.note
    assert out.table3.iloc[-1].tolist()[0] != ""  # the table goes on
    assert len(out.events()) == 2 and set(out.events()["reason"]) == {"robustness_failed"}


def test_process_pool_equals_serial(panel, robust):
    from panel.robustness import estimate_robustness, variant_panels

    variants = robustness_variants(PARAMS, [])
    panels = variant_panels(variants, lambda crw, lagged: lag_regressors(panel, ["car", "ldr", "npl"]) if lagged else panel)
    serial = estimate_robustness(variants, panels, PARAMS)
    pooled = estimate_robustness(variants, panels, PARAMS, mapper=PoolMapper())
    pd.testing.assert_frame_equal(serial.long, pooled.long)


# ------------------------------------------------------------------ rolling-window CRW


def test_yearly_crw_last_and_mean_of_the_windows_ending_in_the_year():
    crw = pd.DataFrame({"bank_id": ["x", "x", "x", "y", "y"],
                        "window_end": pd.to_datetime(["2010-06-30", "2010-12-31", "2011-03-31", "2010-12-31", "2011-03-31"]),
                        "crw": [0.2, 0.4, 0.6, 0.8, 0.4]})
    last, events = yearly_crw(crw, "last")
    assert last.to_dict("list") == {"bank_id": ["x", "x", "y", "y"], "year": [2010, 2011, 2010, 2011], "crw": [0.4, 0.6, 0.8, 0.4]}
    assert events["reason"].tolist() == ["crw_aggregated"] and "(3 windows) turned into 4 bank-year(s)" in events["detail"].iloc[0]
    mean, _ = yearly_crw(crw, "mean")
    np.testing.assert_allclose(mean["crw"], [0.3, 0.6, 0.8, 0.4])
    yearly = pd.DataFrame({"bank_id": ["x"], "year": [2010], "crw": [0.5]})
    same, none = yearly_crw(yearly)
    assert same is yearly and none.empty


def test_yearly_crw_leaves_out_failed_windows():
    crw = pd.DataFrame({"bank_id": ["x", "x"], "window_end": pd.to_datetime(["2010-06-30", "2010-12-31"]),
                        "crw": [0.2, 0.4], "status": ["ok", "failed:LinAlgError: singular"]})
    assert yearly_crw(crw)[0]["crw"].tolist() == [0.2]


# ------------------------------------------------------------------ bad inputs


def test_bad_input_robustness_subsample_reversed():
    with pytest.raises(ConfigError, match=r"^panel\.robustness: subsamples entry \[2015, 2010\] must be \[start_year, end_year\]"):
        PanelParams.from_mapping({"robustness": {"subsamples": [[2015, 2010]]}}, where="panel")


def test_bad_input_robustness_subsample_not_a_pair():
    with pytest.raises(ConfigError, match=r"panel\.robustness: subsamples entry .*integer years"):
        PanelParams.from_mapping({"robustness": {"subsamples": [[2010, "2015x"]]}}, where="panel")


def test_bad_input_robustness_series_unknown():
    with pytest.raises(ConfigError, match=r"panel\.robustness: series='garch' is not allowed; allowed values: 'dcc', 'qr', 'spillover'"):
        PanelParams.from_mapping({"robustness": {"series": ["garch"]}}, where="panel")


def test_bad_input_robustness_option_unknown():
    with pytest.raises(ConfigError, match=r"panel\.robustness: unknown option\(s\) lag for RobustnessConfig"):
        PanelParams.from_mapping({"robustness": {"lag": True}}, where="panel")


def test_bad_input_rolling_crw_rule():
    with pytest.raises(ConfigError, match=r"panel: rolling_crw='median' is not allowed; allowed values: 'last', 'mean'"):
        PanelParams.from_mapping({"rolling_crw": "median"}, where="panel")


def test_bad_input_contagion_robustness_series():
    with pytest.raises(ConfigError, match=r"contagion: robustness_series='ols' is not allowed"):
        ContagionParams.from_mapping({"robustness_series": ["qr", "ols"]}, where="contagion")
    with pytest.raises(ConfigError, match=r"contagion: robustness_series=\['qr', 'qr'\] lists a series twice"):
        ContagionParams.from_mapping({"robustness_series": ["qr", "qr"]}, where="contagion")


def test_bad_input_robustness_series_absent_from_the_crw_input(panel):
    from measures.core.status import NotEstimable

    params = dataclasses.replace(PARAMS, robustness=RobustnessConfig(series=("spillover",)))
    with pytest.raises(NotEstimable, match="panel.robustness.series lists spillover, which the CRW robustness input lacks"):
        csv_robustness(panel, params)
