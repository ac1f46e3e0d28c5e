"""ΔCoVaR by quantile regression (Adrian–Brunnermeier 2016): known truth, identities, rolling, HiGHS reference, many banks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import RecordingMapper
from scipy import sparse
from scipy.optimize import linprog
from scipy.stats import norm

from measures.core.config import ConfigError
from measures.core.quantreg import check_loss
from measures.core.status import NotEstimable
from measures.covar_qr import (
    CoVaRConfig,
    estimate_delta_covar,
    estimate_delta_covar_banks,
    fit_covar_regressions,
    lag_states,
    loss_panel,
)

Z95 = norm.ppf(0.95)


def simulate(n: int, seed: int = 3, beta: float = 0.6):
    """Bank loss with state-dependent scale; system linear in the bank loss and states.

    X_i,t = 0.1 + 0.3 m1 - 0.2 m2 + s_t u_t, s_t = 0.5 + 0.5 m1 + 0.2 m2 (lagged states);
    X_sys,t = 0.05 + β X_i,t + 0.1 m1 + 0.3 v_t (β = 0.6). True ΔCoVaR_t(0.95) = β s_t Φ^{-1}(0.95).
    """
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2000-01-03", periods=n)
    states = pd.DataFrame({"m1": rng.uniform(0, 2, n), "m2": rng.uniform(-1, 1, n)}, index=idx)
    lagged = states.shift(1)
    scale = 0.5 + 0.5 * lagged["m1"] + 0.2 * lagged["m2"]
    bank = 0.1 + 0.3 * lagged["m1"] - 0.2 * lagged["m2"] + scale * rng.standard_normal(n)
    system = 0.05 + beta * bank + 0.1 * lagged["m1"] + 0.3 * rng.standard_normal(n)
    return bank, system, states, beta * scale * Z95


def test_known_truth_full_sample() -> None:
    bank, system, states, truth = simulate(12_000)
    values, coefs = estimate_delta_covar(bank, system, states, CoVaRConfig(q=0.95))
    assert len(values) == 12_000 - 1  # the first date has no lagged state
    assert (values["status"] == "ok").all()
    err = values["delta_covar"].to_numpy() - truth.iloc[1:].to_numpy()
    assert np.abs(err).mean() < 0.03
    est = coefs.set_index(["equation", "term"])["estimate"]
    assert est["system", "bank_loss"] == pytest.approx(0.6, abs=0.03)
    assert est["system", "const"] == pytest.approx(0.05 + 0.3 * Z95, abs=0.05)
    assert est["bank_q", "m1"] == pytest.approx(0.3 + 0.5 * Z95, abs=0.08)
    assert est["bank_median", "m1"] == pytest.approx(0.3, abs=0.05)


def test_values_follow_the_defining_equations() -> None:
    bank, system, states, _ = simulate(800)
    values, coefs = estimate_delta_covar(bank, system, states)
    est = coefs.set_index(["equation", "term"])["estimate"]
    M = lag_states(states).loc[values["date"]].to_numpy()
    var_q = est["bank_q", "const"] + M @ est["bank_q"][["m1", "m2"]].to_numpy()
    var_med = est["bank_median", "const"] + M @ est["bank_median"][["m1", "m2"]].to_numpy()
    beta = est["system", "bank_loss"]
    covar = est["system", "const"] + beta * var_q + M @ est["system"][["m1", "m2"]].to_numpy()
    np.testing.assert_allclose(values["var_q"], var_q, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(values["var_med"], var_med, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(values["covar"], covar, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(values["delta_covar"], beta * (var_q - var_med), rtol=1e-13, atol=1e-15)


def _highs(y: np.ndarray, X: np.ndarray, q: float) -> np.ndarray:
    n, p = X.shape
    eye = sparse.identity(n, format="csc")
    res = linprog(
        np.concatenate([np.zeros(p), np.full(n, q), np.full(n, 1 - q)]),
        A_eq=sparse.hstack([sparse.csc_matrix(X), eye, -eye], format="csc"),
        b_eq=y,
        bounds=[(None, None)] * p + [(0, None)] * (2 * n),
        method="highs",
    )
    return res.x[:p]


def test_reference_against_highs() -> None:
    """Each of the three regressions attains HiGHS's optimum (never worse) and matches it."""
    bank, system, states, _ = simulate(600, seed=9)
    reg = fit_covar_regressions(bank, system, lag_states(states), q=0.95)
    frame = pd.concat([bank, system, lag_states(states)], axis=1).dropna().to_numpy()
    xb, xs, M = frame[:, 0], frame[:, 1], frame[:, 2:]
    Xb = np.column_stack([np.ones(len(xb)), M])
    Xs = np.column_stack([np.ones(len(xb)), xb, M])
    for y, X, q, coef in [(xb, Xb, 0.95, reg.bank_q[0]), (xb, Xb, 0.5, reg.bank_median[0]), (xs, Xs, 0.95, reg.system[0])]:
        ref = _highs(y, X, q)
        assert check_loss(y, X, coef, q) <= check_loss(y, X, ref, q) * (1 + 1e-12)
        np.testing.assert_allclose(coef, ref, atol=1e-6)


def test_rolling_equals_full_sample_fit_per_window() -> None:
    bank, system, states, _ = simulate(400, seed=5)
    config = CoVaRConfig(q=0.95, estimation="rolling", window=150, step=25)
    values, coefs = estimate_delta_covar(bank, system, states, config)
    assert len(values) == (399 - 150) // 25 + 1
    lagged = lag_states(states)
    aligned = pd.concat([bank.rename("b"), system.rename("s"), lagged], axis=1).dropna()
    for k in (0, 3, len(values) - 1):
        rows = aligned.iloc[k * 25 : k * 25 + 150]
        full, _ = estimate_delta_covar(rows["b"], rows["s"], rows[["m1", "m2"]], CoVaRConfig(q=0.95, lag=0))
        last = full.iloc[-1]
        assert values["date"].iloc[k] == last["date"]
        for col in ("var_q", "var_med", "covar", "delta_covar"):
            assert values[col].iloc[k] == pytest.approx(last[col], rel=1e-9, abs=1e-12)
    assert set(coefs["equation"]) == {"bank_q", "bank_median", "system"}
    assert coefs.groupby("window_end").size().eq(3 + 3 + 4).all()


def test_missing_rows_are_dropped_per_bank() -> None:
    bank, system, states, _ = simulate(300)
    bank.iloc[10:20] = np.nan
    values, _ = estimate_delta_covar(bank, system, states)
    assert len(values) == 299 - 10
    assert not values["date"].isin(bank.index[10:20]).any()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"q": 0.3}, r"q=0.3 is out of range; allowed: \(0.5, 1.0\)"),
        ({"window": 1}, r"window=1 is out of range"),
        ({"estimation": "recursive"}, r"estimation='recursive' is not allowed; allowed values: 'full', 'expanding', 'rolling'"),
        ({"refit_every": 0}, r"refit_every=0 is out of range"),
        ({"se": "hc1"}, r"se='hc1' is not allowed; allowed values: 'iid', 'nid', 'ker', 'boot'"),
        ({"B": 1}, r"B=1 is out of range"),
        ({"seed": -1}, r"seed=-1 is out of range"),
        ({"states": ("a", "a")}, r"states lists a state twice"),
        ({"states": ()}, r"states must be null \(all state variables\) or a non-empty list"),
        ({"min_obs": 5}, r"min_obs=5 is out of range"),
        ({"max_failure_share": 1.5}, r"max_failure_share=1.5 is out of range"),
        ({"step": 0}, r"step=0 is out of range"),
        ({"lag": -1}, r"lag=-1 is out of range"),
    ],
)
def test_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CoVaRConfig(**options)


def test_config_unknown_option_and_states_error() -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) tau for CoVaRConfig; allowed options: B, coes_levels, conditioning, estimation, lag, "
                       r"max_failure_share, min_obs, q, "
                       r"refit_every, se, seed, states, step, window"):
        CoVaRConfig.from_mapping({"tau": 0.9})
    bank, system, states, _ = simulate(50)
    with pytest.raises(ValueError, match=r"states must be a DataFrame with at least one state variable column"):
        estimate_delta_covar(bank, system, states.iloc[:, :0])


def test_infinite_loss_is_named_by_date() -> None:
    bank, system, states, _ = simulate(100)
    bank.iloc[40] = np.inf
    with pytest.raises(ValueError, match=r"bank_loss is infinite \(inf\) at 2000-02-28 00:00:00"):
        estimate_delta_covar(bank, system, states)


# ----------------------------------------------------------------------------- many banks


def long_tables(n: int = 600, seed: int = 4):
    """Long returns / system / market-states tables: bank A full, B with a 10-day gap, C short; state m2 with a gap."""
    bank, system, states, _ = simulate(n, seed=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for name, start in (("A", 0), ("B", 0), ("C", n - 150)):
        loss = bank + 0.1 * rng.standard_normal(n) if name != "A" else bank
        if name == "B":
            loss = loss.copy()
            loss.iloc[100:110] = np.nan
        rows.append(pd.DataFrame({"bank_id": name, "date": bank.index[start:], "loss": loss.iloc[start:].to_numpy(),
                                  "weight": 1.0}))
    returns = pd.concat(rows, ignore_index=True)
    sys_tab = pd.DataFrame({"date": system.index, "loss": system.to_numpy()})
    market = states.reset_index(names="date")
    market.loc[300:304, "m2"] = np.nan
    return returns, sys_tab, market


def test_banks_equal_the_single_bank_fits_with_events_and_weekly() -> None:
    returns, system, market = long_tables()
    panel = loss_panel(returns, system, market)
    mapper = RecordingMapper()
    res = estimate_delta_covar_banks(panel, CoVaRConfig(min_obs=250), mapper=mapper)
    assert mapper.calls == [("ΔCoVaR per bank", 2)]  # C is excluded before the fits
    for bank in ("A", "B"):
        want, coef = estimate_delta_covar(panel.losses[bank], panel.system, panel.states)
        got = res.values[res.values.bank_id == bank].drop(columns="bank_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        for col in ("estimate", "std_error", "p_value"):
            assert np.array_equal(res.coefficients.loc[res.coefficients.bank_id == bank, col], coef[col])
    assert res.coefficients["std_error"].gt(0).all()  # nid standard errors (tests/test_covar_qr_inference.py)
    ev = res.events.set_index(["bank_id", "reason"])
    assert ev.loc[("C", "too_few_observations"), "n_rows"] == 150  # its last 150 days, after the state gap
    assert ev.loc[("C", "too_few_observations"), "detail"].startswith("150 usable day(s) < 250 (measures.covar_qr.min_obs)")
    assert ev.loc[("B", "missing_return"), "n_rows"] == 10 + 5  # the gap and the (lagged) state gap
    assert list(panel.state_events["reason"]) == ["missing_state"] and panel.state_events["n_rows"].iloc[0] == 5
    # weekly: the last row of each Friday-ending week per bank
    a = res.values[res.values.bank_id == "A"]
    last = a.groupby(a["date"].dt.to_period("W-FRI")).tail(1)
    assert list(res.weekly.loc[res.weekly.bank_id == "A", "date"]) == list(last["date"])
    res.check_estimable()


def test_failed_full_sample_fit_is_kept_with_status_and_flagged() -> None:
    returns, system, market = long_tables()
    market["m2"] = 2.0 * market["m1"] + 1.0  # collinear states: the full-sample design is rank-deficient
    res = estimate_delta_covar_banks(loss_panel(returns, system, market), CoVaRConfig(min_obs=100))
    assert res.values["delta_covar"].isna().all() and res.values["status"].str.startswith("failed:").all()
    flagged = res.events[res.events.reason == "fit_failed"]
    assert sorted(flagged["bank_id"]) == ["A", "B", "C"] and set(flagged["action"]) == {"flagged"}
    assert res.coefficients.empty and list(res.coefficients.columns)[-3:] == ["std_error", "p_value", "status"]


def test_bad_input_constant_or_empty_state_is_refused_naming_the_column() -> None:
    from measures.covar_qr import state_problems

    returns, system, market = long_tables()
    market["m2"] = 0.5
    with pytest.raises(ConfigError, match=r"^g.states: market_states column 'm2' is constant \(0.5\) over .*"
                                          r"drop it from g.states \(e.g. g.states: \['m1'\]\)"):
        loss_panel(returns, system, market, where="g.states")
    assert list(loss_panel(returns, system, market, ("m1",)).states.columns) == ["m1"]  # not chosen: not checked
    market["m1"] = np.nan
    chosen, problems = state_problems(market)
    assert chosen == ["m1", "m2"] and [c for c, _ in problems] == ["m1", "m2"]
    assert problems[0][1] == "has no value (every row is missing)"


def test_no_bank_estimable_and_input_errors() -> None:
    returns, system, market = long_tables(n=200)
    res = estimate_delta_covar_banks(loss_panel(returns, system, market), CoVaRConfig(min_obs=1000))
    assert res.values.empty and set(res.events["reason"]) == {"too_few_observations"}
    with pytest.raises(NotEstimable, match="no bank has enough observations"):
        res.check_estimable()
    with pytest.raises(NotEstimable, match=r"returns table lacks column\(s\) \['weight'\]"):
        loss_panel(returns.drop(columns="weight"), system, market)
    with pytest.raises(NotEstimable, match="no market_states table"):
        loss_panel(returns, system, None)
    with pytest.raises(ConfigError, match=r"g.states: state variable\(s\) \['vix'\] not in market_states; available: \['m1', 'm2'\]"):
        loss_panel(returns, system, market, ("vix",), where="g.states")
    assert list(loss_panel(returns, system, market, ("m2",)).states.columns) == ["m2"]
