"""Contingent-claims analysis (measures.systemic.cca, cca_panel): hand case, known truth, reference, bad inputs.

The reference is an independent solve of the two Merton equations with scipy.optimize.fsolve
written here; the known truth a simulated GBM asset path whose equity is priced by
Black–Scholes, from which the KMV iteration recovers the asset volatility.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import fsolve
from scipy.stats import norm

from measures import CCAConfig, MertonResult, cca_panel, merton_dd, merton_dd_kmv
from measures.core.config import ConfigError
from measures.systemic.cca import MISSING, NOT_CONVERGED, call_value, implied_asset_value
from measures.systemic.cca_panel import barrier_table, kmv_rows, rate_series


def merton_equations(V, s, E, sE, D, r, T):
    """Both Merton equations' residuals, written out with scipy.stats.norm (independent of the module)."""
    d1 = (np.log(V / D) + (r + s * s / 2) * T) / (s * np.sqrt(T))
    d2 = d1 - s * np.sqrt(T)
    return V * norm.cdf(d1) - D * np.exp(-r * T) * norm.cdf(d2) - E, norm.cdf(d1) * s * V - sE * E


def test_hand_case_solves_both_equations_and_dd_is_the_closed_form():
    E, sE, D, r, T = 3.0, 0.4, 10.0, 0.05, 1.0
    res = merton_dd(E, sE, D, r, T)
    assert isinstance(res, MertonResult) and res.status == "ok" and bool(res.converged)
    V, s = float(res.asset_value), float(res.asset_vol)
    f1, f2 = merton_equations(V, s, E, sE, D, r, T)
    assert abs(f1) < 1e-10 and abs(f2) < 1e-10
    dd = (np.log(V / D) + (r - s * s / 2) * T) / (s * np.sqrt(T))
    assert float(res.distance_to_default) == pytest.approx(dd, abs=1e-12)
    assert float(res.default_probability) == pytest.approx(norm.cdf(-dd), abs=1e-14)
    # the implicit put: V = E + D e^{-rT} - P (put-call parity), and the spread it implies
    assert V == pytest.approx(E + D * np.exp(-r * T) - float(res.expected_loss), abs=1e-10)
    assert float(res.credit_spread) == pytest.approx(-np.log(1 - float(res.put_value) / (D * np.exp(-r * T))) / T)


def test_reference_fsolve_on_the_two_equations():
    cases = [(3.0, 0.4, 10.0, 0.05, 1.0), (10.0, 0.3, 100.0, 0.02, 1.0), (1.0, 1.2, 100.0, 0.01, 1.0),
             (50.0, 0.25, 40.0, 0.0, 2.0), (0.5, 0.9, 20.0, 0.03, 0.5)]
    E, sE, D, r, T = (np.array(c) for c in zip(*cases))
    res = merton_dd(E, sE, D, r, T)
    for i, case in enumerate(cases):
        e, se, d = case[:3]
        x0 = (e + d, se * e / (e + d))
        sol = fsolve(lambda x: merton_equations(x[0], x[1], *case), x0, xtol=1e-14)
        assert res.asset_value[i] == pytest.approx(sol[0], rel=1e-9)
        assert res.asset_vol[i] == pytest.approx(sol[1], rel=1e-8)


def test_deep_distress_restarts_from_the_bracketing_solve():
    """A GSE-like day (E / D = 0.2%, sigma_E = 209%): Newton from the default start fails; the bisection start solves it."""
    E, sE, D, r = 1.397e9, 2.0928, 7.99187e11, 0.0015
    res = merton_dd(E, sE, D, r)
    assert res.status == "ok" and int(res.iterations) > 10
    f1, f2 = merton_equations(float(res.asset_value), float(res.asset_vol), E, sE, D, r, 1.0)
    assert abs(f1) < 1e-10 * (E + D) and abs(f2) < 1e-10 * sE * E
    assert float(res.distance_to_default) < -1.0


def test_known_truth_round_trip_and_broadcasting():
    V = np.array([[95.0], [105.0], [150.0]])
    s = np.array([[0.02, 0.05, 0.15, 0.4]])
    D, r, T = 100.0, 0.03, 1.0
    E = call_value(V, D, r, s, T)
    d1 = (np.log(V / D) + (r + s * s / 2) * T) / (s * np.sqrt(T))
    sE = norm.cdf(d1) * s * V / E
    res = merton_dd(E, sE, D, r, T)
    assert res.asset_value.shape == (3, 4) and (res.status == "ok").all()
    np.testing.assert_allclose(res.asset_value, np.broadcast_to(V, (3, 4)), rtol=1e-9)
    np.testing.assert_allclose(res.asset_vol, np.broadcast_to(s, (3, 4)), rtol=1e-8)


def test_implied_asset_value_inverts_the_call():
    V, s = np.array([50.0, 100.0, 300.0]), np.array([0.3, 0.05, 0.01])
    E = call_value(V, 90.0, 0.02, s, 1.0)
    np.testing.assert_allclose(implied_asset_value(E, 90.0, 0.02, s, 1.0), V, rtol=1e-10)
    np.testing.assert_allclose(implied_asset_value(E, 90.0, 0.02, s, 1.0, start=V * 0.7), V, rtol=1e-10)


@pytest.fixture(scope="module")
def gbm():
    """A GBM asset path (sigma_V = 0.05, 1000 days) and its Black–Scholes equity, barrier 90, r = 2%."""
    rng = np.random.default_rng(20080915)
    n, sigma, dt = 1000, 0.05, 1 / 252
    V = 100.0 * np.exp(np.cumsum(rng.normal((0.03 - sigma**2 / 2) * dt, sigma * np.sqrt(dt), n)))
    return V, sigma, call_value(V, 90.0, 0.02, sigma, 1.0)


def test_known_truth_kmv_recovers_the_asset_volatility(gbm):
    V, sigma, E = gbm
    res = merton_dd_kmv(E, 90.0, 0.02, 1.0)
    assert res.status == "ok" and int(res.iterations) > 1
    se = sigma / np.sqrt(2 * len(V))  # sampling error of a sd from n returns
    assert abs(float(res.asset_vol) - sigma) < 4 * se
    np.testing.assert_allclose(res.asset_path, V, rtol=0.01)
    # the fixed point: sigma_V is the annualized sd of the implied asset returns
    implied = np.diff(np.log(res.asset_path)).std(ddof=1) * np.sqrt(252)
    assert float(res.asset_vol) == pytest.approx(implied, rel=1e-7)
    # the credit measures are those of the last day at that sigma_V
    last = merton_dd(E[-1], float(norm.cdf((np.log(res.asset_path[-1] / 90) + (0.02 + res.asset_vol**2 / 2)) / res.asset_vol)
                                   * res.asset_vol * res.asset_path[-1] / E[-1]), 90.0, 0.02)
    assert float(last.distance_to_default) == pytest.approx(float(res.distance_to_default), rel=1e-8)


def test_kmv_windows_are_vectorized_like_one_series_each(gbm):
    _, _, E = gbm
    windows = np.lib.stride_tricks.sliding_window_view(E, 250)[::250]
    res = merton_dd_kmv(windows, 90.0, 0.02, 1.0)
    one = [float(merton_dd_kmv(w, 90.0, 0.02, 1.0).asset_vol) for w in windows]
    np.testing.assert_allclose(res.asset_vol, one, rtol=1e-12)
    assert res.asset_path.shape == windows.shape


def test_missing_inputs_give_nan_with_a_status():
    res = merton_dd([np.nan, 3.0], 0.4, [10.0, np.nan], 0.05)
    assert list(res.status) == [MISSING, MISSING] and np.isnan(res.distance_to_default).all()
    assert NOT_CONVERGED.startswith("failed:NotConverged")
    res = merton_dd_kmv(np.full(10, np.nan), 90.0, 0.02)
    assert res.status == MISSING


@pytest.mark.parametrize("kwargs, match", [
    ({"debt": -1.0}, r"debt must be finite and > 0; got -1.0"),
    ({"debt": 0.0}, r"debt must be finite and > 0"),
    ({"equity_vol": 0.0}, r"equity_vol must be finite and > 0; got 0.0"),
    ({"equity_vol": -0.2}, r"equity_vol must be finite and > 0"),
    ({"equity_value": -5.0}, r"equity_value must be finite and > 0"),
    ({"horizon": 0.0}, r"horizon must be finite and > 0"),
    ({"rate": np.inf}, r"rate must be finite"),
    ({"debt": [10.0, -2.0]}, r"debt .* at position \(1,\)"),
])
def test_bad_input_merton_dd(kwargs, match):
    args = {"equity_value": 3.0, "equity_vol": 0.4, "debt": 10.0, "rate": 0.05, "horizon": 1.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        merton_dd(**args)


def test_bad_input_kmv_series():
    with pytest.raises(ValueError, match=r"needs a time axis .* at least 3 days"):
        merton_dd_kmv([1.0, 2.0], 90.0, 0.02)
    with pytest.raises(ValueError, match=r"debt must be finite and > 0"):
        merton_dd_kmv(np.ones(10), -90.0, 0.02)


@pytest.mark.parametrize("values, match", [
    ({"solver": "newton"}, r"measures.cca: solver='newton' is not allowed; allowed values: 'two_equation', 'kmv'"),
    ({"barrier": "kmv"}, r"barrier='kmv' is not allowed"),
    ({"min_obs": 300}, r"min_obs=300 is out of range; allowed: \[10, 250\]"),
    ({"horizon": 0}, r"horizon=0.0 is out of range"),
    ({"rate_state": ""}, r"rate_state='' must be a market_states column name or null"),
    ({"rate_unit": "bp"}, r"rate_unit='bp' is not allowed"),
    ({"kmv_every": 0}, r"kmv_every=0 is out of range"),
])
def test_bad_input_cca_config(values, match):
    with pytest.raises(ConfigError, match=match):
        CCAConfig.from_mapping(values, where="measures.cca")


def test_bad_input_rate_state_not_in_market_states():
    dates = pd.bdate_range("2020-01-01", periods=5)
    states = pd.DataFrame({"date": dates, "money": 2.0})
    with pytest.raises(ConfigError, match=r"measures.cca: rate_state='FFR' is not a column .* allowed: 'money'"):
        rate_series(states, dates, CCAConfig(rate_state="FFR"))
    rate = rate_series(states.iloc[[0, 2]], dates, CCAConfig(rate_state="money"))
    assert list(rate) == [0.02] * 5  # percent, carried forward to days without a value


def test_barrier_rules():
    bs = pd.DataFrame({"bank_id": ["A", "B"], "period_end": pd.to_datetime(["2020-12-31"] * 2),
                       "publication_date": pd.to_datetime(["2021-03-31"] * 2), "total_liabilities": [100.0, 50.0],
                       "deposits": [60.0, 40.0], "interbank_liabilities": [10.0, np.nan]})
    assert list(barrier_table(bs, "total")["total_liabilities"]) == [100.0, 50.0]
    kmv = barrier_table(bs, "short_plus_half_long")["total_liabilities"]
    assert kmv.iloc[0] == 70.0 + 0.5 * 30.0 and np.isnan(kmv.iloc[1])


def test_kmv_rows_restart_after_gaps():
    ready = np.array([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1], dtype=bool)
    assert list(kmv_rows(ready, 3)) == [0, 3, 7, 10]


def _panel(n_days=400, banks=("A", "B"), seed=7):
    """Market caps from Black–Scholes on GBM assets, returns, and a balance sheet published mid-sample."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-01", periods=n_days)
    caps, rets = {}, {}
    for j, b in enumerate(banks):
        V = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.04 / np.sqrt(252), n_days)))
        E = call_value(V, 90.0 + 2 * j, 0.02, 0.04, 1.0)
        caps[b], rets[b] = E, np.r_[np.nan, np.diff(np.log(E))]
    k = len(banks)
    bs = pd.DataFrame({"bank_id": list(banks) * 2, "period_end": pd.to_datetime(["2009-12-31"] * k + ["2010-12-31"] * k),
                       "publication_date": [dates[n_days // 4]] * k + [dates[3 * n_days // 4]] * k,
                       "total_liabilities": [90.0 + j for j in range(k)] + [91.0 + j for j in range(k)]})
    return pd.DataFrame(caps, index=dates), pd.DataFrame(rets, index=dates), bs


@pytest.mark.parametrize("solver", ["two_equation", "kmv"])
def test_panel_uses_barriers_from_publication_and_sums_expected_losses(solver):
    cap, ret, bs = _panel()
    config = CCAConfig(solver=solver, window=60, min_obs=50, kmv_every=5)
    frame, total, events = cca_panel(cap, ret, bs, pd.Series(0.02, index=cap.index), config)
    a = frame[frame.bank_id == "A"].set_index("date")
    dates = cap.index
    assert a.loc[: dates[99], "barrier"].isna().all() and (a.loc[: dates[99], "status"].str.contains("MissingBarrier")).all()
    assert (a.loc[dates[100]: dates[299], "barrier"] == 90.0).all() and (a.loc[dates[300]:, "barrier"] == 91.0).all()
    assert (a.loc[dates[100]:, "status"] == "ok").all()
    assert {"missing_barrier"} <= set(events["reason"])
    t = total.set_index("date")
    both = frame[frame.status == "ok"].groupby("date")["expected_loss"].sum()
    np.testing.assert_allclose(t.loc[both.index, "expected_loss_total"], both.to_numpy(), rtol=1e-12)
    shares = frame[frame.status == "ok"].groupby("date")["el_share"].sum()
    np.testing.assert_allclose(shares, 1.0, rtol=1e-12)
    if solver == "kmv":  # the implied assets' volatility is near the simulated 4%
        assert a.loc[dates[300]:, "asset_vol"].between(0.025, 0.06).all()


def test_panel_with_a_process_pool_equals_serial():
    from pool_mapper import PoolMapper

    cap, ret, bs = _panel(n_days=200, banks=("A", "B", "C"))
    config = CCAConfig(solver="kmv", window=60, min_obs=50)
    serial = cca_panel(cap, ret, bs, pd.Series(0.02, index=cap.index), config)
    mapper = PoolMapper(2)
    try:
        pooled = cca_panel(cap, ret, bs, pd.Series(0.02, index=cap.index), config, mapper=mapper)
    finally:
        mapper.close()
    for a, b in zip(serial, pooled):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
