"""State variables from raw series: hand-computed cases, the cn-banks series, and spec errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.adapters.states import build_market_states
from pipeline.schema import DataValidationError


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "daily.csv").write_text(
        "date,index,yield_pct,rate,backup\n"
        "2020-01-30,100,3.00,,2.0\n"
        "2020-01-31,110,3.10,1.5,2.1\n"
        "2020-02-03,99,3.05,,2.2\n"
        "2020-02-04,,3.00,1.7,2.3\n"
        "2020-02-05,108.9,2.90,1.8,\n",
        encoding="utf-8",
    )
    (tmp_path / "monthly.csv").write_text("month,fx\n2019-12-31,7.0\n2020-01-31,6.93\n2020-02-29,7.0\n", encoding="utf-8")
    return tmp_path


def _one(root: Path, **spec) -> pd.Series:
    frame = build_market_states([{"name": "s", "file": "daily.csv", **spec}], root=root)
    return frame.set_index("date")["s"]


def test_level_sign_and_fallback(root: Path) -> None:
    quality: list = []
    frame = build_market_states([{"name": "m", "file": "daily.csv", "column": "rate", "fallback_column": "backup", "unit": "%", "sign": -1}], root=root, quality=quality)
    assert frame["m"].tolist() == pytest.approx([-0.020, -0.015, -0.022, -0.017, -0.018])
    fill = next(r for r in quality if r.reason == "fallback_column")
    assert fill.n_rows == 2 and fill.date_start == pd.Timestamp("2020-01-30") and fill.date_end == pd.Timestamp("2020-02-03")


def test_loss_skips_missing_and_spans_the_gap(root: Path) -> None:
    quality: list = []
    s = build_market_states([{"name": "s", "file": "daily.csv", "column": "index", "transform": "loss"}], root=root, quality=quality).set_index("date")["s"]
    assert s.index.tolist() == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-03"), pd.Timestamp("2020-02-05")]
    assert s.tolist() == pytest.approx([-math.log(1.1), -math.log(0.9), -math.log(1.1)])
    assert any(r.reason == "missing_source_value" and r.n_rows == 1 for r in quality)


def test_rolling_vol_hand_computed(root: Path) -> None:
    s = _one(root, column="index", transform="rolling_vol", window=2)
    r = np.log([110 / 100, 99 / 110, 108.9 / 99])
    assert s.tolist() == pytest.approx([np.std(r[:2], ddof=1), np.std(r[1:], ddof=1)])


def test_yield_change_loss_in_percent(root: Path) -> None:
    s = _one(root, column="yield_pct", transform="yield_change_loss", duration=5, unit="%")
    assert s.tolist() == pytest.approx([5 * 0.001, 5 * -0.0005, 5 * -0.0005, 5 * -0.001])


def test_carry_forward_from_first_business_day_after_month_end(root: Path) -> None:
    calendar = pd.bdate_range("2020-01-29", "2020-03-03")
    frame = build_market_states([{"name": "fx", "file": "monthly.csv", "column": "fx", "date_column": "month", "transform": ["loss", "carry_forward"]}], root=root, calendar=calendar)
    s = frame.set_index("date")["fx"]
    jan = -math.log(6.93 / 7.0)
    feb = -math.log(7.0 / 6.93)
    assert s.index[0] == pd.Timestamp("2020-02-03")  # January's value known on Mon 3 Feb, not on Fri 31 Jan
    assert s.loc["2020-02-03":"2020-02-28"].tolist() == pytest.approx([jan] * 20)
    assert s.loc["2020-03-02"] == pytest.approx(feb)  # Feb 29 2020 is a Saturday -> Monday 2 March


# --------------------------------------------------------------------------- the cn-banks series


@pytest.fixture(scope="module")
def cn(shared_data: Path):
    specs = [
        {"name": "stock_vol", "file": "cn_csi300_cgb_yields_daily.csv", "column": "csi300_close", "transform": "rolling_vol", "window": 20},
        {"name": "money", "file": "cn_interbank_rates_daily.csv", "column": "shibor_1w_pct", "fallback_column": "ibo007_pct", "unit": "%"},
        {"name": "bond", "file": "cn_csi300_cgb_yields_daily.csv", "column": "cgb_10y_yield_pct", "transform": "yield_change_loss", "duration": 8.5, "unit": "%"},
        {"name": "fx", "file": "cn_usdcny_central_parity_monthly.csv", "column": "usdcny_central_parity_monthly_avg", "date_column": "month", "transform": ["loss", "carry_forward"]},
    ]
    quality: list = []
    frame = build_market_states(specs, root=shared_data / "cn-banks", quality=quality)
    return frame.set_index("date"), quality, shared_data / "cn-banks"


@pytest.mark.realdata
def test_cn_stock_vol_matches_independent_computation(cn) -> None:
    states, _, base = cn
    raw = pd.read_csv(base / "cn_csi300_cgb_yields_daily.csv", parse_dates=["date"])
    close = raw.dropna(subset=["csi300_close"]).set_index("date")["csi300_close"]
    i = close.index.get_loc(pd.Timestamp("2015-07-08"))
    returns = np.diff(np.log(close.to_numpy()[i - 20 : i + 1]))
    assert states.loc["2015-07-08", "stock_vol"] == pytest.approx(np.std(returns, ddof=1), rel=1e-12)


@pytest.mark.realdata
def test_cn_money_uses_ibo007_before_shibor(cn) -> None:
    states, quality, _ = cn
    assert states.loc["2006-09-29", "money"] == pytest.approx(0.027533)  # IBO007: Shibor not yet published
    assert states.loc["2006-10-09", "money"] != pytest.approx(0.0)
    raw = pd.read_csv(cn[2] / "cn_interbank_rates_daily.csv", parse_dates=["date"]).set_index("date")
    assert states.loc["2013-06-20", "money"] == pytest.approx(raw.loc["2013-06-20", "shibor_1w_pct"] / 100)
    fill = next(r for r in quality if r.reason == "fallback_column")
    assert fill.date_end == pd.Timestamp("2006-09-30")


@pytest.mark.realdata
def test_cn_bond_and_fx(cn) -> None:
    states, _, base = cn
    y = pd.read_csv(base / "cn_csi300_cgb_yields_daily.csv", parse_dates=["date"]).dropna(subset=["cgb_10y_yield_pct"]).set_index("date")["cgb_10y_yield_pct"]
    i = y.index.get_loc(pd.Timestamp("2013-06-20"))
    assert states.loc["2013-06-20", "bond"] == pytest.approx(8.5 * (y.iloc[i] - y.iloc[i - 1]) / 100)
    fx = pd.read_csv(base / "cn_usdcny_central_parity_monthly.csv", parse_dates=["month"]).set_index("month")["usdcny_central_parity_monthly_avg"]
    may, apr, mar = fx.loc["2015-05-31"], fx.loc["2015-04-30"], fx.loc["2015-03-31"]
    assert states.loc["2015-05-29", "fx"] == pytest.approx(-math.log(apr / mar))  # May's average not yet known
    assert states.loc["2015-06-01", "fx"] == pytest.approx(-math.log(may / apr))


# --------------------------------------------------------------------------- spec errors


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"column": "index", "transform": "diff"}, r"data.market_states\[s\]: transform 'diff' is unknown; allowed: level, loss, rolling_vol, yield_change_loss, carry_forward"),
        ({"column": "index", "transform": "rolling_vol"}, r"rolling_vol needs an integer window >= 2, got None"),
        ({"column": "yield_pct", "transform": "yield_change_loss", "duration": 8}, r"yield_change_loss needs the unit of the yield column; allowed: %, '', bp"),
        ({"column": "yield_pct", "transform": "yield_change_loss", "unit": "%"}, r"yield_change_loss needs a duration > 0 \(years\), got None"),
        ({"column": "index", "transform": ["carry_forward", "loss"]}, r"carry_forward must be the last transform"),
        ({"column": "index", "lag": 1}, r"unknown key\(s\) lag; allowed: name, file, sheet, column"),
        ({"column": "index", "sign": 2}, r"sign 2; allowed: \+1 or -1"),
        ({"column": "yield_pct", "unit": "furlongs"}, r"unit 'furlongs' cannot be read as a ratio unit"),
    ],
)
def test_bad_specs(root: Path, spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_market_states([{"name": "s", "file": "daily.csv", **spec}], root=root)


def test_column_not_found(root: Path) -> None:
    with pytest.raises(DataValidationError, match=r"daily.csv, column 'csi300': column not found for market state 's' \(allowed: columns present: date, index, yield_pct, rate, backup\)"):
        build_market_states([{"name": "s", "file": "daily.csv", "column": "csi300"}], root=root)


def test_loss_of_non_positive_values(root: Path) -> None:
    (root / "neg.csv").write_text("date,x\n2020-01-02,1\n2020-01-03,0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"data.market_states\[s\]: loss needs positive values; 2020-01-03 has 0.0"):
        build_market_states([{"name": "s", "file": "neg.csv", "column": "x", "transform": "loss"}], root=root)


def test_missing_state_file(root: Path) -> None:
    with pytest.raises(DataValidationError, match=r"nothere.csv: market state 's' file not found"):
        build_market_states([{"name": "s", "file": "nothere.csv", "column": "x"}], root=root)
