"""ΔCoVaR-QR inference and real time: standard errors and p-values in the estimates, H0: ΔCoVaR = 0,
expanding windows (causal), for_realtime, warm-started solves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t
from test_covar_qr import simulate as covar_qr_simulate

from measures.core.quantreg import quantile_regression, solve_quantile_regression
from measures.core.quantreg.expanding import expanding_quantile_regression_se, solve_expanding_quantile_regression
from measures.core.quantreg.inference import quantile_regression_se, rolling_quantile_regression_se, t_test_p_values
from measures.covar_qr import NO_SE, CoVaRConfig, estimate_delta_covar, estimate_delta_covar_banks, lag_states, loss_panel


def simulate(n: int, seed: int = 3, beta: float = 0.6):
    """The bank, system and states of tests/test_covar_qr.py (system = ... + beta X_i + ...)."""
    return covar_qr_simulate(n, seed, beta)[:3]


def designs(bank, system, states):
    frame = pd.concat([bank, system, lag_states(states, 1)], axis=1).dropna().to_numpy()
    ones = np.ones((len(frame), 1))
    Xb = np.hstack([ones, frame[:, 2:]])
    return {("bank_q", 0.95): (frame[:, 0], Xb), ("bank_median", 0.5): (frame[:, 0], Xb),
            ("system", 0.95): (frame[:, 1], np.hstack([ones, frame[:, [0]], frame[:, 2:]]))}


@pytest.mark.parametrize("method", ["iid", "nid", "ker"])
def test_full_sample_std_errors_and_p_values_equal_the_core_functions(method):
    bank, system, states = simulate(600)
    _, coef = estimate_delta_covar(bank, system, states, CoVaRConfig(se=method))
    for (eq, q), (y, X) in designs(bank, system, states).items():
        rows = coef[coef.equation == eq]
        want = quantile_regression_se(y, X, q, method=method)  # cold fits: the path checked against R
        assert np.allclose(rows["std_error"], want, rtol=1e-9, atol=0)
        n, p = X.shape
        tstat = np.abs(rows["estimate"].to_numpy() / rows["std_error"].to_numpy())
        assert np.allclose(rows["p_value"], 2 * student_t.sf(tstat, n - p), rtol=1e-12, atol=1e-300)
    assert (coef["status"] == "ok").all()


def test_p_value_of_beta_tests_delta_covar_zero_at_the_nominal_size():
    """H0 true (system independent of the bank): β's 10 % test rejects in about 10 % of samples;
    H0 false (β = 0.6): always."""
    rejects = []
    for seed in range(120):
        bank, system, states = simulate(300, seed=seed, beta=0.0)
        y, X = designs(bank, system, states)[("system", 0.95)]
        b = quantile_regression(y, X, 0.95)
        se = quantile_regression_se(y, X, 0.95, method="nid", coef=b)
        rejects.append(t_test_p_values(b[1], se[1], len(y) - X.shape[1]) < 0.10)
    assert 0.04 <= np.mean(rejects) <= 0.18
    _, coef = estimate_delta_covar(*simulate(300, seed=1, beta=0.6))
    assert coef.query("equation == 'system' and term == 'bank_loss'")["p_value"].iloc[0] < 1e-6


def test_t_test_p_values_match_scipy_and_missing_se_is_nan():
    p = t_test_p_values([2.0, -1.0, 1.0, 1.0], [1.0, 0.5, np.nan, 0.0], 30)
    assert np.allclose(p[:2], [2 * student_t.sf(2.0, 30), 2 * student_t.sf(2.0, 30)])
    assert np.isnan(p[2:]).all()


def test_warm_started_solve_reaches_the_cold_optimum():
    bank, system, states = simulate(900)
    y, X = designs(bank, system, states)[("system", 0.95)]
    first = solve_quantile_regression(y[:600], X[:600], 0.95)
    warm = solve_quantile_regression(y, X, 0.95, init_basis=first.basis[0])
    cold = solve_quantile_regression(y, X, 0.95)
    assert warm.certified[0] and warm.status[0] == "ok"
    assert abs(warm.check_loss[0] - cold.check_loss[0]) <= 1e-12 * cold.check_loss[0]
    assert np.allclose(warm.coef, cold.coef, rtol=1e-9, atol=1e-12)
    assert warm.pivots[0] < cold.pivots[0]


def test_bad_input_init_basis_names_the_rows():
    bank, system, states = simulate(100)
    y, X = designs(bank, system, states)[("system", 0.95)]
    with pytest.raises(ValueError, match=r"init_basis=.* must be 4 distinct row numbers in \[0, 99\)"):
        solve_quantile_regression(y, X, 0.95, init_basis=[0, 1, 2, 2])
    with pytest.raises(ValueError, match=r"must be 4 distinct row numbers"):
        solve_quantile_regression(y, X, 0.95, init_basis=[0, 1, 2, 500])


def test_expanding_fits_equal_cold_fits_on_the_rows_up_to_each_end():
    bank, system, states = simulate(700)
    y, X = designs(bank, system, states)[("bank_q", 0.95)]
    sol = solve_expanding_quantile_regression(y, X, 0.95, 300, 50)
    assert list(sol.stop) == list(range(300, len(y) + 1, 50)) and (sol.start == 0).all()
    se = expanding_quantile_regression_se(y, X, sol, method="nid")
    for k, stop in enumerate(sol.stop):
        cold = solve_quantile_regression(y[:stop], X[:stop], 0.95)
        assert abs(sol.check_loss[k] - cold.check_loss[0]) <= 1e-12 * cold.check_loss[0]
        assert np.allclose(se[k], quantile_regression_se(y[:stop], X[:stop], 0.95, method="nid"), rtol=1e-8)


def test_expanding_values_use_the_last_fit_ending_at_or_before_each_date():
    bank, system, states = simulate(700)
    cfg = CoVaRConfig(estimation="expanding", min_obs=300, refit_every=50)
    values, coef = estimate_delta_covar(bank, system, states, cfg)
    ends = sorted(coef["window_end"].unique())
    assert values["date"].iloc[0] == ends[0] and len(values) == 699 - 299  # every day from the first fit's end
    sys_beta = coef[(coef.equation == "system") & (coef.term == "bank_loss")].set_index("window_end")["estimate"]
    used = sys_beta.reindex(values["date"]).ffill().to_numpy()  # the last refit at or before t
    assert np.array_equal(values["delta_covar"].to_numpy(), used * (values["var_q"] - values["var_med"]).to_numpy())
    # a value at t is unchanged when the data after t change (perturb everything after a cut-off)
    cut = values["date"].iloc[200]
    later = bank.index > cut
    bank2, system2 = bank.copy(), system.copy()
    bank2[later] *= 3.0
    system2[later] += 1.0
    values2, coef2 = estimate_delta_covar(bank2, system2, states, cfg)
    before = values["date"] < cut
    pd.testing.assert_frame_equal(values[before], values2[before.to_numpy()])
    early = coef["window_end"] < cut
    pd.testing.assert_frame_equal(coef[early], coef2[early.to_numpy()])


def test_for_realtime_makes_full_expanding_and_keeps_rolling():
    assert CoVaRConfig().for_realtime() == CoVaRConfig(estimation="expanding")
    rolling = CoVaRConfig(estimation="rolling", window=100)
    assert rolling.for_realtime() is rolling
    expanding = CoVaRConfig(estimation="expanding", refit_every=5)
    assert expanding.for_realtime() is expanding


def test_rolling_std_errors_equal_the_rolling_core_and_tail_failures_are_flagged():
    bank, system, states = simulate(400)
    cfg = CoVaRConfig(estimation="rolling", window=120, step=10, q=0.99)
    _, coef = estimate_delta_covar(bank, system, states, cfg)
    y, X = designs(bank, system, states)[("system", 0.95)]
    want = rolling_quantile_regression_se(y, X, 0.99, 120, 10, method="nid", errors="nan")
    got = coef[coef.equation == "system"].pivot(index="window_end", columns="term", values="std_error")
    got = got[["const", "bank_loss", "m1", "m2"]].to_numpy()
    assert np.allclose(got, want, rtol=1e-12, equal_nan=True)
    missing = np.isnan(want).any(axis=1)
    assert missing.any() and not missing.all()  # nid at q = 0.99 on 120 rows fails in some windows
    status = coef[coef.equation == "system"].drop_duplicates("window_end")["status"].to_numpy()
    assert all(s.startswith(NO_SE) for s in status[missing]) and (status[~missing] == "ok").all()


def test_bad_input_windows_without_standard_errors_are_recorded():
    bank, system, states = simulate(400)
    returns = pd.DataFrame({"bank_id": "A", "date": bank.index, "loss": bank.to_numpy(), "weight": 1.0})
    sys_ret = pd.DataFrame({"date": system.index, "loss": system.to_numpy()})
    market = states.reset_index(names="date")
    res = estimate_delta_covar_banks(loss_panel(returns, sys_ret, market),
                                     CoVaRConfig(estimation="rolling", window=120, step=10, q=0.99))
    ev = res.events[res.events.detail.str.contains("std_error and p_value missing")]
    assert len(ev) == 1 and ev["action"].iloc[0] == "flagged" and ev["bank_id"].iloc[0] == "A"
    assert "measures.covar_qr.se" in ev["detail"].iloc[0] and NO_SE in ev["detail"].iloc[0]
    assert (res.values["status"] == "ok").all()  # the values themselves are fine


def test_coefficients_sink_receives_the_batches_in_bank_order(monkeypatch):
    import measures.covar_qr as cq

    monkeypatch.setattr(cq, "BANK_BATCH", 2)
    rows = []
    for i, bank_id in enumerate(("A", "B", "C")):
        bank, system, states = simulate(320, seed=10 + i)
        rows.append(pd.DataFrame({"bank_id": bank_id, "date": bank.index, "loss": bank.to_numpy(), "weight": 1.0}))
    sys_ret = pd.DataFrame({"date": system.index, "loss": system.to_numpy()})
    panel = loss_panel(pd.concat(rows), sys_ret, states.reset_index(names="date"))
    whole = estimate_delta_covar_banks(panel, CoVaRConfig())
    parts = []
    streamed = estimate_delta_covar_banks(panel, CoVaRConfig(), coefficients=parts.append)
    assert streamed.coefficients is None and [sorted(p["bank_id"].unique()) for p in parts] == [["A", "B"], ["C"]]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole.coefficients)
    pd.testing.assert_frame_equal(streamed.values, whole.values)


@pytest.mark.parametrize("se", ["nid", "boot"])
def test_expanding_bank_fits_with_standard_errors_through_a_pool_equal_serial(se):
    from pool_mapper import PoolMapper
    from test_covar_qr import long_tables

    panel = loss_panel(*long_tables())
    config = CoVaRConfig(estimation="expanding", min_obs=250, refit_every=100, se=se, B=20, seed=3)
    serial = estimate_delta_covar_banks(panel, config)
    pool = PoolMapper(2)
    try:
        pooled = estimate_delta_covar_banks(panel, config, mapper=pool)
    finally:
        pool.close()
    for name in ("values", "weekly", "coefficients", "events"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(serial, name), check_exact=True)
    assert serial.coefficients["std_error"].notna().all()
