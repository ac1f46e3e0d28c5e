"""The source papers' missing figures and tables: the fire-sale SR change rate and three-phase comparison
(Zhang–Guo–Wen–Sun figs. 3–7), the bank VaR under market stress and the spillover descriptives
(Fang–Chen–Yang 2018 fig. 2, figs. 5–6, tables 2–3), and the report blocks drawn from them."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import repo_params
from test_spillover import long_panel

from measures.core.config import ConfigError
from measures.spillover import (
    DESCRIPTIVE_COLUMNS,
    SpilloverConfig,
    decompose_spillover,
    describe,
    estimate_spillover_banks,
    spillover_descriptives,
    stress_series,
)
from measures.stress.firesale_curve import sr_change_rate
from measures.stress.firesale_years import (
    MEAN_COLUMNS,
    PHASES,
    FireSaleParams,
    phase_comparison,
    sr_changes,
)
from pipeline.report.sections import firesale as firesale_section
from pipeline.report.sections import spillover as spillover_section

# ----------------------------------------------------------------------------- fire sales


def test_sr_change_rate_hand_case() -> None:
    got = sr_change_rate([0.01, 0.02, 0.03, 0.04, 0.05], [0.0, 1.0, 1.5, 0.75, 0.75])
    np.testing.assert_array_equal(got, [np.nan, np.nan, 0.5, -0.5, 0.0])  # SR_{k-1} = 0: NaN


def test_bad_input_sr_change_rate_not_increasing() -> None:
    with pytest.raises(ValueError, match=r"strictly increasing; alphas\[2\]"):
        sr_change_rate([0.01, 0.02, 0.02], [1.0, 2.0, 3.0])


def curve(year: int, sr: list[float], il: list[float]) -> pd.DataFrame:
    """A fire-sale curve over α = 1%..n% with the given SR and IL (other mean columns 0)."""
    n = len(sr)
    frame = pd.DataFrame({c: np.zeros(n) for c in MEAN_COLUMNS})
    frame["sr"], frame["il"] = sr, il
    frame["dl"] = np.asarray(sr) - np.asarray(il)
    frame.insert(0, "alpha", np.round(0.01 * np.arange(1, n + 1), 12))
    frame.insert(0, "year", year)
    frame["region"] = "relief"
    return frame


def test_sr_changes_per_year_keeps_tw_and_region() -> None:
    system = pd.concat([curve(2013, [1.0, 2.0, 1.0], [0, 1, 0]), curve(2012, [2.0, 3.0, 6.0], [0, 1, 4])])
    system["tw"] = np.arange(6.0)
    out = sr_changes(system)
    assert list(out.columns) == ["year", "alpha", "sr", "sr_change", "tw", "region"]
    assert list(out["year"]) == [2012] * 3 + [2013] * 3  # sorted by year, each year's change from its own curve
    np.testing.assert_allclose(out["sr_change"], [np.nan, 0.5, 1.0, np.nan, 1.0, -0.5])
    np.testing.assert_array_equal(out["tw"], [3.0, 4.0, 5.0, 0.0, 1.0, 2.0])


def test_phase_comparison_hand_case() -> None:
    """Two years in phase a (means of their curves), one in b; c has no year in the sample."""
    system = pd.concat([curve(2012, [1, 4, 2, 3], [0, 3, 1, 0]), curve(2013, [1, 2, 6, 3], [0, 1, 4, 0]),
                        curve(2016, [1, 1, 1, 1], [0, 0, 0, 0])], ignore_index=True)
    curves, summary, events = phase_comparison(system, {"a": (2012, 2013), "b": [2016, 2016], "c": (2030, 2031)},
                                               il_share=0.5)
    s = summary.set_index("phase")
    assert list(summary["phase"]) == ["all years", "a", "b"]
    # phase a: mean SR = [1, 3, 4, 3], IL = [0, 2, 2.5, 0] -> contagion (IL >= 1.25) at 2%..3%, peak 4 at 3%
    assert s.loc["a", "sr_mean"] == pytest.approx(11 / 4)
    assert (s.loc["a", "sr_max"], s.loc["a", "alpha_sr_max"]) == (4.0, 0.03)
    assert (s.loc["a", "contagion_from"], s.loc["a", "contagion_to"]) == (0.02, 0.03)
    # all years: SR = [1, 7/3, 3, 7/3], IL = [0, 4/3, 5/3, 0] -> contagion 2%..3%, peak at 3%
    assert s.loc["all years", "sr_mean"] == pytest.approx((1 + 7 / 3 + 3 + 7 / 3) / 4)
    assert s.loc["a", "sr_max_diff"] == pytest.approx(1.0)
    assert s.loc["a", "sr_mean_diff"] == pytest.approx(11 / 4 - s.loc["all years", "sr_mean"])
    assert s.loc["b", "n_years"] == 1 and np.isnan(s.loc["b", "contagion_from"])  # flat: no contagion region
    assert (s.loc["all years", ["year_from", "year_to", "n_years"]].tolist()) == [2012, 2016, 3]
    assert set(curves["phase"]) == {"a", "b"} and len(curves) == 8
    np.testing.assert_allclose(curves[curves["phase"] == "a"]["sr"], [1, 3, 4, 3])
    assert list(events["reason"]) == ["phase_outside_sample"] and "phases.c = 2030-2031" in events["detail"].iloc[0]
    assert list(events["action"]) == ["excluded"]


def test_bad_input_firesale_phases() -> None:
    with pytest.raises(ConfigError, match=r"stress.firesale.*phases.rise=\[2020, 2016\].*first <= last"):
        FireSaleParams.from_mapping({"phases": {"rise": [2020, 2016]}}, where="stress.firesale")
    with pytest.raises(ConfigError, match=r"phases.rise=\['2016', 2020\]"):
        FireSaleParams.from_mapping({"phases": {"rise": ["2016", 2020]}}, where="stress.firesale")


def test_params_phases_are_the_papers() -> None:
    group = repo_params()["stress"]["firesale"]["phases"]
    assert {k: tuple(v) for k, v in group.items()} == PHASES == {k: tuple(v) for k, v in FireSaleParams().phases.items()}


def test_tw_scale() -> None:
    assert firesale_section.tw_scale(np.array([0.5, -1.0]), np.array([12.0, np.nan])) == 10.0
    assert firesale_section.tw_scale(np.array([np.nan]), np.array([3.0])) == 1.0
    assert firesale_section.tw_scale(np.array([5.0]), np.array([0.4])) == 1.0  # never scaled up

# ----------------------------------------------------------------------------- market spillovers


def test_decompose_spillover_stress_values_hand_case() -> None:
    """Two markets: a^q = 1, c^q = (2, -1); α = 0.1, β = 0.5, γ = (0.3, 0.2); Mˢ = (2, 1)."""
    out = decompose_spillover(np.array([[1.0, 2.0, -1.0]]), np.array([[0.5, 1.0, 0.0]]),
                              np.array([[0.1, 0.5, 0.3, 0.2]]), np.array([[2.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert out["intercept"][0] == 1.0
    assert out["var_stress"][0] == pytest.approx(1 + 2 * 2 - 1 * 1, abs=1e-15)  # 4
    assert out["covar_stress"][0] == pytest.approx(0.1 + 0.5 * 4 + 0.3 * 2 + 0.2 * 1, abs=1e-15)  # 2.9
    # ΔCoVaR^M is CoVaR(q; Mˢ) minus the same at the median and normal levels: 2.9 − (0.1 + 0.5·1.5 + 0.3)
    assert out["delta_covar_m"][0] == pytest.approx(2.9 - 1.15, abs=1e-15)


def test_describe_hand_case() -> None:
    assert describe(pd.Series([1.0, 2.0, 3.0, np.nan, np.inf])) == {"n": 3, "mean": 2.0, "sd": 1.0, "min": 1.0, "max": 3.0}
    one = describe(pd.Series([5.0]))
    assert one["n"] == 1 and np.isnan(one["sd"]) and one["mean"] == 5.0


def test_stress_series_weights_and_failed_windows() -> None:
    d = pd.to_datetime(["2020-01-02", "2020-01-02", "2020-01-03", "2020-01-03"])
    banks = pd.DataFrame({"date": d, "bank_id": ["A", "B", "A", "B"], "var_stress": [1.0, 3.0, 2.0, 9.0],
                          "covar_stress": [0.0, 4.0, 1.0, 9.0], "delta_covar_m": [2.0, 6.0, 3.0, 9.0],
                          "status": ["ok", "ok", "ok", "failed:ValueError"]})
    weights = pd.DataFrame({"A": [3.0, 1.0], "B": [1.0, 1.0]}, index=pd.DatetimeIndex(d.unique(), name="date"))
    out = stress_series(banks, weights)
    assert list(out.columns) == ["date", "var_stress", "covar_stress", "delta_covar_m", "n_banks"]
    np.testing.assert_allclose(out["var_stress"], [(3 * 1 + 3) / 4, 2.0])  # B's failed window left out
    np.testing.assert_allclose(out["delta_covar_m"], [(3 * 2 + 6) / 4, 3.0])
    assert list(out["n_banks"]) == [2, 1]


@pytest.fixture(scope="module")
def spill():
    return estimate_spillover_banks(long_panel(), SpilloverConfig(window=120, step=10))


def test_stress_series_and_descriptives_on_a_simulated_panel(spill) -> None:
    """The weighted ΔCoVaR^M of the stress series is the improved index; the descriptives are those of
    the bank table (bank level) and of the weighted tables (system level)."""
    res = spill
    idx = res.index.set_index("date")
    st = res.stress.set_index("date")
    np.testing.assert_allclose(st["delta_covar_m"], idx["improved_index"].reindex(st.index), rtol=1e-13)
    # the bank's VaR under market stress is its intercept plus its loadings at the stress levels
    b = res.banks
    one = b[(b.bank_id == "A")].groupby("date").first()
    assert np.isfinite(one["a"]).all() and (one["var_stress"] != one["a"]).any()
    d = res.descriptives
    assert list(d.columns) == DESCRIPTIVE_COLUMNS and set(d["level"]) == {"bank", "system"}
    row = d[(d.level == "bank") & (d.variable == "var_stress")].iloc[0]
    per_bank_date = b.drop_duplicates(["bank_id", "date"])["var_stress"]
    assert row["n"] == len(per_bank_date) and row["sd"] == pytest.approx(per_bank_date.std(ddof=1), rel=1e-12)
    row = d[(d.level == "system") & (d.variable == "gamma") & (d.market == "bond")].iloc[0]
    g = res.channels[res.channels.market == "bond"]["gamma"]
    assert (row["mean"], row["min"], row["max"]) == (pytest.approx(g.mean()), g.min(), g.max())
    row = d[(d.level == "bank") & (d.variable == "spillover") & (d.market == "stock")].iloc[0]
    s = b[b.market == "stock"]["spillover"]
    assert row["n"] == len(s) and row["max"] == s.max()
    assert not ((d.level == "bank") & (d.variable == "delta_m")).any()  # bank-independent: system level only


def test_spillover_descriptives_leave_failed_windows_out() -> None:
    d = pd.to_datetime(["2020-01-02", "2020-01-02"])
    banks = pd.DataFrame({"date": d, "bank_id": ["A", "B"], "var_stress": [1.0, 100.0], "covar_stress": [1.0, 100.0],
                          "delta_covar_m": [1.0, 100.0], "status": ["ok", "failed:ValueError"]})
    channels = pd.DataFrame({"date": d[:1], "bank_id": ["A"], "market": ["m"], "spillover": [0.1], "delta_m": [0.2],
                             "c": [0.3], "gamma": [0.4], "beta": [0.5]})
    stress = pd.DataFrame({"date": d[:1], "var_stress": [1.0], "covar_stress": [1.0], "delta_covar_m": [1.0]})
    out = spillover_descriptives(banks, channels, stress, channels.drop(columns="bank_id"))
    row = out[(out.level == "bank") & (out.variable == "var_stress")].iloc[0]
    assert (row["n"], row["max"]) == (1, 1.0)

# ----------------------------------------------------------------------------- report blocks


def test_report_blocks_draw_the_figures_and_tables(spill) -> None:
    system = pd.concat([curve(y, [0.1, 2.0, 3.0, 1.0], [0.0, 1.5, 2.0, 0.0]) for y in (2012, 2014, 2016)],
                       ignore_index=True)
    system["region"] = np.tile(["relief", "contagion", "contagion", "outbreak"], 3)
    for col in ("cgap", "lgap"):
        system[col] = 0.1
    system["tw"] = np.tile([np.nan, 1.0, -2.0, 0.5], 3)
    regions = pd.DataFrame({"year": [2012, 2014, 2016], "region": "contagion", "alpha_from": 0.02, "alpha_to": 0.03,
                            "alpha_sr_max": 0.03})
    curves, phases, _ = phase_comparison(system, il_share=0.5)
    mean = system.groupby("alpha")[list(MEAN_COLUMNS)].mean().reset_index()
    blocks = firesale_section.paper_blocks(system, regions, sr_changes(system), curves, phases, mean, 0.01)
    html = "".join(blocks)
    assert html.count("<figure>") == 3 and html.count("<table") == 1
    text = re.sub(r"base64,[^']+", "", html)
    assert "Three-phase comparison" in text and "accumulation" in text and "nan" not in text.lower()
    res = spill
    blocks = spillover_section.paper_blocks(res.stress, res.channels, res.descriptives, [], res.index_weekly["date"])
    html = "".join(blocks)
    assert html.count("<figure>") == 2 and html.count("<table") == 2
    assert "bank VaR under market stress" in html and "information spillover γ_k" in html
    table = spillover_section.descriptive_table(res.descriptives, ("var_stress",))
    assert list(table["over"]) == ["weighted series, over dates", "banks × dates"]
    want = res.stress["var_stress"].mean() * 100
    assert table["mean"].iloc[0] == pytest.approx(want)
