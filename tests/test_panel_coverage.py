"""Which models of the list the data can carry (panel.coverage): skipped models, messages, the check lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.core.status import NotEstimable, is_failed
from panel import PanelParams, estimate_panel
from panel.coverage import model_coverage, panel_check

SPECS = PanelParams().specs()
#: What the Chinese Wind exports give the panel: CAR, LDR and total assets, no controls.
CN = ("bank_id", "year", "crw", "car", "ldr", "ln_assets")


def balance_sheet(columns=("car", "ldr", "npl", "nim", "loan_growth"), banks=("A", "B", "C"), years=range(2010, 2015)):
    rng = np.random.default_rng(1)
    rows = [{"bank_id": b, "period_end": pd.Timestamp(f"{y}-{md}")} for b in banks for y in years for md in ("06-30", "12-31")]
    bs = pd.DataFrame(rows)
    for c in columns:
        bs[c] = rng.uniform(0.01, 0.2, len(bs))
    bs["total_assets"] = 1e9
    return bs


def test_coverage_lists_each_models_missing_columns():
    cov = model_coverage(SPECS, CN)
    assert cov.available == ("crw", "car", "ldr", "ln_assets")
    assert cov.estimable == ()
    assert cov.absent["m2"] == ("npl", "nim", "loan_growth")
    assert cov.absent["m4"] == ("lev", "lcr", "npl", "nim", "loan_growth")
    assert cov.message().startswith("m1 lacks lcr, npl, nim, loan_growth; m2 lacks npl, nim, loan_growth;")
    without_controls = model_coverage(PanelParams(controls=()).specs(), CN)
    assert [s.name for s in without_controls.estimable] == ["m2", "m7"]
    assert [s.name for s in without_controls.skipped] == ["m1", "m3", "m4", "m5", "m6", "m8", "m9"]


def test_needs_names_the_source_columns_and_the_models_the_data_can_carry():
    cov = model_coverage(SPECS, CN)
    needs = cov.needs("balance_sheet")
    assert "leverage_ratio (leverage ratio; for m4, m5, m6, m8)" in needs
    assert "liquidity_ratio (liquidity ratio; for m3, m6)" in needs
    assert "npl (non-performing loan ratio; for every model)" in needs
    assert "set panel.models to the models on the columns you have (m2, m7) and panel.controls to []" in needs
    assert "size control: ln_assets" in needs
    csv = cov.needs("csv")
    assert "lev (leverage ratio; for m4, m5, m6, m8)" in csv and "to the panel CSV" in csv
    with pytest.raises(ValueError, match="source='x' is not allowed"):
        cov.needs("x")
    nothing = model_coverage(SPECS, ["crw", "ln_assets"]).needs()
    assert "no model of the list has its dependent variable and regulators in the data" in nothing


def _panel(columns) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"bank_id": np.repeat(list("ABCDEF"), 5), "year": np.tile(range(2010, 2015), 6)})
    for c in columns:
        frame[c] = rng.uniform(0.01, 0.2, len(frame))
    return frame


def test_estimate_panel_skips_and_lists_models_without_their_columns():
    out = estimate_panel(_panel(["crw", "car", "ldr", "npl", "nim", "loan_growth"]))
    status = out.fit_stats.set_index("model")["status"]
    assert list(status[~status.map(is_failed)].index) == ["m2", "m7"]
    assert "Not estimated: m1 (no lcr in the data); m3 (no liq in the data); m4 (no lev, lcr in the data)" in out.note
    assert set(out.events()["reason"]) == {"model_skipped"}


def test_bad_input_no_model_estimable_names_each_model_and_what_to_add():
    with pytest.raises(NotEstimable) as err:
        estimate_panel(_panel(["crw", "car", "ldr", "ln_assets"]))
    assert "m2 lacks npl, nim, loan_growth" in str(err.value) and "columns available: crw, car, ldr, ln_assets" in str(err.value)
    assert "the balance_sheet column(s) lcr (liquidity coverage ratio; for m1, m4, m9)" in err.value.needs


def test_check_says_what_the_stage_will_estimate():
    lines = panel_check(balance_sheet(), SPECS)
    assert [k for k, _ in lines] == ["estimates", "skips"]
    assert lines[0][1].startswith("models m2, m7 (of 9) on 3 banks with year-end (31 December) rows, CRW years 2010–2014")
    assert "m4 (no leverage_ratio, lcr)" in lines[1][1] and "m3 (no liquidity_ratio)" in lines[1][1]
    lagged = panel_check(balance_sheet(), SPECS, lagged=True)
    assert "CRW years 2011–2015 (ratios of the previous year end, panel.lagged)" in lagged[0][1]


def test_bad_input_check_cannot_without_usable_balance_sheet():
    for bs in (None, balance_sheet().iloc[:0]):
        (kind, text), = panel_check(bs, SPECS)
        assert kind == "cannot" and text.startswith("no balance_sheet table")
    (kind, text), = panel_check(balance_sheet(columns=("car", "ldr")), SPECS)
    assert kind == "cannot" and "m2 lacks npl, nim, loan_growth" in text and "needs: add the balance_sheet column(s)" in text
    only_june = balance_sheet()
    only_june = only_june[only_june["period_end"].dt.month == 6]
    (kind, text), = panel_check(only_june, SPECS)
    assert kind == "cannot" and "m7 lacks car, npl, nim, loan_growth" in text
