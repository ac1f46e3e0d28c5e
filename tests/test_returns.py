"""Known-truth tests of measures.returns: log returns, weights, system return, exits, suspensions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.returns import ReturnsOptions, compute_returns, negative_equity_events

DATES = pd.bdate_range("2021-01-04", periods=10)


def long(close: dict[str, list[float]], cap: dict[str, list[float]] | None = None, volume=None) -> pd.DataFrame:
    rows = []
    for bank, prices in close.items():
        for i, p in enumerate(prices):
            c = cap[bank][i] if cap else p * 100.0
            row = {"bank_id": bank, "date": DATES[i], "close": p, "market_cap": c}
            if volume is not None:
                row["volume"] = volume[bank][i]
            rows.append(row)
    return pd.DataFrame(rows)


def test_log_returns_losses_and_value_weighted_system_return():
    rng = np.random.default_rng(1)
    a = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, 10)))
    b = 5 * np.exp(np.cumsum(rng.normal(0, 0.02, 10)))
    cap_a, cap_b = a * 300.0, b * 100.0
    res = compute_returns(long({"A": list(a), "B": list(b)}, {"A": list(cap_a), "B": list(cap_b)}))
    ra = res.returns[res.returns.bank_id == "A"]
    np.testing.assert_allclose(ra["ret"], np.diff(np.log(a)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(ra["loss"], -np.diff(np.log(a)), rtol=0, atol=1e-15)
    # system: exact log return of the portfolio weighted by yesterday's caps
    wa = cap_a[:-1] / (cap_a[:-1] + cap_b[:-1])
    port = wa * (a[1:] / a[:-1] - 1) + (1 - wa) * (b[1:] / b[:-1] - 1)
    np.testing.assert_allclose(res.system["ret"], np.log1p(port), rtol=0, atol=1e-15)
    np.testing.assert_allclose(ra["weight"], wa, rtol=1e-15)
    assert (res.system["n_banks"] == 2).all()
    assert res.events.empty


def test_weights_do_not_look_ahead():
    close = {"A": [10, 11, 12, 11, 10, 11, 12, 13, 12, 11], "B": [5, 5.5, 5.2, 5.3, 5.1, 5, 5.2, 5.1, 5.3, 5.4]}
    base = compute_returns(long(close))
    cap = {k: [p * 100.0 for p in v] for k, v in close.items()}
    cap["A"][5] *= 3  # today's cap changes: today's weight must not
    moved = compute_returns(long(close, cap))
    day = DATES[5]
    w0 = base.returns.set_index(["bank_id", "date"]).loc[("A", day), "weight"]
    w1 = moved.returns.set_index(["bank_id", "date"]).loc[("A", day), "weight"]
    assert w0 == w1
    assert moved.returns.set_index(["bank_id", "date"]).loc[("A", DATES[6]), "weight"] != w0


def test_delisted_firm_exits_at_last_valid_price_and_is_recorded():
    close = {"A": [10, 11, 12, 11, 10, 0, 0, 0, 0, 0], "B": [5, 5.5, 5.2, 5.3, 5.1, 5, 5.2, 5.1, 5.3, 5.4]}
    res = compute_returns(long(close))
    a = res.returns[res.returns.bank_id == "A"]
    assert a["date"].max() == DATES[4]
    ev = res.events.set_index("reason").loc["delisted_or_failed"]
    assert ev["bank_id"] == "A" and ev["date_start"] == DATES[5] and ev["n_rows"] == 5 and ev["action"] == "excluded"
    assert "exits at its last valid price" in ev["detail"]
    # after the exit the system is B alone
    after = res.system.set_index("date").loc[DATES[6]:]
    assert (after["n_banks"] == 1).all()
    b = res.returns[res.returns.bank_id == "B"].set_index("date")["ret"]
    np.testing.assert_allclose(after["ret"], b.loc[DATES[6]:], atol=1e-15)


@pytest.mark.parametrize("mode", ["mask", "keep"])
def test_suspension_runs_are_masked_or_kept_and_recorded(mode):
    close = {"A": [10, 11, 11, 11, 11, 11, 11, 12, 13, 12], "B": [5, 5.5, 5.2, 5.3, 5.1, 5, 5.2, 5.1, 5.3, 5.4]}
    res = compute_returns(long(close), options=ReturnsOptions(suspensions=mode, suspension_min_run=5))
    a = res.returns[res.returns.bank_id == "A"].set_index("date")["ret"]
    ev = res.events.set_index("reason").loc["suspension"]
    assert ev["date_start"] == DATES[2] and ev["date_end"] == DATES[6] and ev["n_rows"] == 5
    if mode == "mask":
        assert a.loc[DATES[2]:DATES[6]].isna().all() and ev["action"] == "masked"
    else:
        assert (a.loc[DATES[2]:DATES[6]] == 0).all() and ev["action"] == "kept"
    assert a.loc[DATES[7]] == pytest.approx(np.log(12 / 11), abs=1e-15)


def test_zero_volume_day_is_a_suspension():
    close = {"A": [10, 11, 12, 11, 10, 11, 12, 13, 12, 11], "B": [5, 5.5, 5.2, 5.3, 5.1, 5, 5.2, 5.1, 5.3, 5.4]}
    vol = {"A": [1, 1, 1, 0, 1, 1, 1, 1, 1, 1], "B": [1] * 10}
    res = compute_returns(long(close, volume=vol))
    ev = res.events[res.events.reason == "suspension"]
    assert len(ev) == 1 and ev.iloc[0]["date_start"] == DATES[3]


def test_vendor_filled_holiday_row_is_dropped_and_recorded():
    close = {"A": [10, 11, 11, 12, 13, 12, 11, 12, 13, 12], "B": [5, 5.5, 5.5, 5.3, 5.1, 5, 5.2, 5.1, 5.3, 5.4]}
    res = compute_returns(long(close))
    assert DATES[2] not in set(res.system["date"])
    ev = res.events.set_index("reason").loc["non_trading_day"]
    assert ev["date_start"] == DATES[2] and pd.isna(ev["bank_id"])
    # the return after the holiday is the one-day return from the last real close
    a = res.returns[res.returns.bank_id == "A"].set_index("date")["ret"]
    assert a.loc[DATES[3]] == pytest.approx(np.log(12 / 11), abs=1e-15)


def test_missing_price_inside_life_is_masked_and_gap_return_flagged():
    close = {"A": [10, 11, np.nan, 12, 13, 12, 11, 12, 13, 12], "B": [5, 5.5, 5.4, 5.3, 5.1, 5, 5.2, 5.1, 5.3, 5.4]}
    res = compute_returns(long(close))
    reasons = set(res.events["reason"])
    assert {"missing_price", "return_spans_gap"} <= reasons
    a = res.returns[res.returns.bank_id == "A"].set_index("date")["ret"]
    assert np.isnan(a.loc[DATES[2]]) and a.loc[DATES[3]] == pytest.approx(np.log(12 / 11), abs=1e-15)


def test_index_system_return():
    close = {"A": [10, 11, 12, 11, 10, 11, 12, 13, 12, 11]}
    index = pd.DataFrame({"date": DATES, "close": np.linspace(100, 109, 10)})
    res = compute_returns(long(close), options=ReturnsOptions(system="index"), index=index)
    np.testing.assert_allclose(res.system["ret"], np.diff(np.log(np.linspace(100, 109, 10))), atol=1e-15)


def test_negative_equity_is_flagged_per_bank():
    bs = pd.DataFrame({"bank_id": ["F", "F", "G"], "period_end": pd.to_datetime(["2008-09-30", "2008-12-31", "2008-12-31"]),
                       "equity": [-1.0, -2.0, 3.0]})
    ev = negative_equity_events(bs)
    assert list(ev["bank_id"]) == ["F"] and ev.iloc[0]["n_rows"] == 2 and ev.iloc[0]["action"] == "flagged"


def test_bad_options_name_allowed_values():
    with pytest.raises(ValueError, match="suspensions='drop' is not allowed; allowed values: 'keep', 'mask'"):
        ReturnsOptions(suspensions="drop")
