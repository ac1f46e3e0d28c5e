"""Real-time DCC-GARCH (measures.dcc.realtime): schedule, filter, refits, causality, mappers."""

from __future__ import annotations

import dataclasses
import importlib.util
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pool_mapper import PoolMapper

from measures.core.config import ConfigError
from measures.dcc import CovarDCCParams, fit_dcc_banks
from measures.dcc.realtime import (
    Refit,
    backcast,
    correlation_path,
    garch_path,
    linear_recursion,
    param_paths_frame,
    realtime_path,
    refit_schedule,
)

_SPEC = importlib.util.spec_from_file_location("tiny_dcc_rt", Path(__file__).parent / "fixtures" / "covar_dcc" / "tiny.py")
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)

CONFIG = CovarDCCParams(estimation="expanding", refit_every=63)


def panel(bank_returns=None):
    dates, sim = tiny.simulate()
    wide = pd.DataFrame(sim[:, 1:] if bank_returns is None else bank_returns, index=dates, columns=list(tiny.BANKS))
    return wide, pd.Series(sim[:, 0], index=dates, name="__system__")


@pytest.fixture(scope="module")
def fits():
    wide, system = panel()
    full, _ = fit_dcc_banks(wide, system, CovarDCCParams())
    realtime, events = fit_dcc_banks(wide, system, CONFIG)
    return wide, system, full, realtime, events


def test_refit_schedule_expanding_and_rolling():
    assert refit_schedule(300, min_obs=250, refit_every=21).tolist() == [[0, 250], [0, 271], [0, 292]]
    assert refit_schedule(300, min_obs=250, refit_every=21, window=260).tolist() == [[0, 250], [11, 271], [32, 292]]
    assert refit_schedule(249, min_obs=250, refit_every=21).shape == (0, 2)


def test_linear_recursion_equals_the_loop_across_segments():
    rng = np.random.default_rng(0)
    u, coef = rng.random(50), np.repeat([0.9, 0.5, 0.95], [10, 25, 15])
    y, prev = np.empty(50), 2.0
    for t in range(50):
        prev = y[t] = u[t] + coef[t] * prev
    np.testing.assert_allclose(linear_recursion(u, coef, np.array([0, 10, 35]), 2.0), y, rtol=1e-13)


def test_constant_parameter_filter_reproduces_arch_and_the_full_fit(fits):
    """Known truth: with one refit on the whole sample, the real-time filter is the full-sample fit."""
    wide, system, full, _, _ = fits
    res = full["A"]
    garch = np.stack([[f.param(n) for n in ("mu", "omega", "alpha", "gamma", "beta")] for f in res.univariate])
    y = np.column_stack([system.to_numpy(), wide["A"].to_numpy()])
    for s in (0, 1):
        sigma, z = garch_path(y[:, s], np.broadcast_to(garch[s], (len(y), 5)), np.array([0]), backcast(y[:, s]))
        np.testing.assert_allclose(sigma, res.sigma[:, s], rtol=1e-10)
        np.testing.assert_allclose(z, res.std_resid[:, s], rtol=1e-9, atol=1e-12)
    refit = Refit(lo=0, hi=len(y), garch=garch, a=res.a, b=res.b, qbar=res.qbar[[0, 1, 0], [0, 1, 1]],
                  loglik=res.loglik, status="ok")
    rho = correlation_path(res.std_resid, np.full(len(y), res.a), np.full(len(y), res.b),
                           np.broadcast_to(refit.qbar, (len(y), 3)), np.array([0]))
    np.testing.assert_allclose(rho, res.correlation[:, 0, 1], rtol=1e-12)
    sigma, z, rho, in_force = realtime_path(y, [refit])
    assert (in_force[:-1] == -1).all() and in_force[-1] == 0  # values only from the refit's date on
    assert np.isnan(sigma[:-1]).all() and np.isnan(rho[:-1]).all()
    np.testing.assert_allclose(sigma[-1], res.sigma[-1], rtol=1e-10)
    np.testing.assert_allclose(rho[-1], res.correlation[-1, 0, 1], rtol=1e-9)


def test_realtime_fits_layout_statuses_and_parameter_paths(fits):
    wide, _, full, realtime, events = fits
    res = realtime["A"]
    n_refits = len(refit_schedule(len(wide), min_obs=250, refit_every=63))
    assert len(res.refits) == n_refits and (res.refits["status"] == "ok").all()
    assert list(res.refits["refit_date"]) == list(wide.index[249::63][:n_refits])
    assert (res.refits["valid_from"] == res.refits["refit_date"]).all()
    assert res.refits["nobs"].tolist() == list(range(250, len(wide) + 1, 63))
    assert np.isnan(res.sigma[:249]).all() and np.isfinite(res.sigma[249:]).all()
    assert set(res.row_status[:249]) == {"failed:InsufficientHistory: no converged refit on min_obs=250 or more "
                                          "observations up to this date"}
    assert set(res.row_status[249:]) == {"ok"} and res.status == "ok"
    # the last refit is the estimator on its sample: a, b are those of a full fit on rows [0, hi)
    last = res.refits.iloc[-1]
    cut = int(last["nobs"])
    short, _ = fit_dcc_banks(wide.iloc[:cut], pd.Series(fits[1].to_numpy()[:cut], index=wide.index[:cut], name="__system__"),
                             CovarDCCParams())
    assert abs(last["dcc_a"] - short["A"].a) < 2e-3 and abs(last["dcc_b"] - short["A"].b) < 2e-2  # warm vs cold start
    paths = param_paths_frame(realtime)
    assert len(paths) == 3 * n_refits and paths["bank_id"].tolist()[:n_refits] == ["A"] * n_refits
    one = param_paths_frame(full)  # full fits: one row per bank, valid from the first date
    assert len(one) == 3 and (one["valid_from"] == wide.index[0]).all() and (one["refit_date"] == wide.index[-1]).all()
    np.testing.assert_array_equal(one["dcc_a"], [full[b].a for b in tiny.BANKS])


def test_values_before_a_cut_off_do_not_depend_on_later_returns(fits):
    wide, system, _, realtime, _ = fits
    cut = 520
    changed = wide.copy()
    changed.iloc[cut:] = changed.iloc[cut:] * 3.0 + 0.01
    system2 = system.copy()
    system2.iloc[cut:] = -system2.iloc[cut:]
    again, _ = fit_dcc_banks(changed, system2, CONFIG)
    for bank in tiny.BANKS:
        a, b = realtime[bank], again[bank]
        np.testing.assert_array_equal(a.sigma[:cut], b.sigma[:cut])
        np.testing.assert_array_equal(a.correlation[:cut], b.correlation[:cut])
        np.testing.assert_array_equal(a.std_resid[:cut], b.std_resid[:cut])
        early = a.refits["refit_date"] < wide.index[cut]
        pd.testing.assert_frame_equal(a.refits[early], b.refits[early.to_numpy()])
        assert not np.array_equal(a.sigma[cut + 5:], b.sigma[cut + 5:])


def test_rolling_and_cold_refits_and_a_process_pool_give_the_same_kind_of_results(fits):
    wide, system, _, realtime, _ = fits
    rolling, _ = fit_dcc_banks(wide, system, dataclasses.replace(CONFIG, estimation="rolling", window=300))
    assert rolling["A"].refits["nobs"].max() == 300 and rolling["A"].refits["sample_start"].iloc[-1] > wide.index[0]
    cold, _ = fit_dcc_banks(wide, system, CONFIG, warm=False)
    np.testing.assert_allclose(cold["A"].refits["bank_beta"], realtime["A"].refits["bank_beta"], atol=2e-3)
    pool = PoolMapper(2)
    try:
        mapped, _ = fit_dcc_banks(wide, system, CONFIG, mapper=pool)
    finally:
        pool.close()
    for bank in tiny.BANKS:
        np.testing.assert_array_equal(mapped[bank].sigma, realtime[bank].sigma)
        pd.testing.assert_frame_equal(mapped[bank].refits, realtime[bank].refits)


def test_a_failed_refit_keeps_the_previous_parameters_with_a_warning(monkeypatch):
    import measures.dcc.realtime as rt

    real = rt.correlation_step
    calls = []

    def step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("Inequality constraints incompatible")
        return real(*args, **kwargs)

    monkeypatch.setattr(rt, "correlation_step", step)
    wide, system = panel()
    res, events = fit_dcc_banks(wide[["A"]], system, CONFIG)
    refits = res["A"].refits
    assert refits["status"].iloc[1] == "failed:ValueError: Inequality constraints incompatible"
    assert np.isnan(refits["dcc_a"].iloc[1]) and res["A"].status == "warning:RefitFailed"
    period = slice(249 + 63, 249 + 126)
    assert set(res["A"].row_status[period]) == {"warning:RefitFailed"} and np.isfinite(res["A"].sigma[period]).all()
    assert events.loc[events.reason == "fit_warning", "bank_id"].tolist() == ["A"]


def test_for_realtime_resolves_full_to_expanding_and_keeps_rolling():
    from measures.systemic import SRiskPanelConfig

    assert CovarDCCParams().for_realtime().estimation == "expanding"
    rolling = CovarDCCParams(estimation="rolling", window=500)
    assert rolling.for_realtime() is rolling
    resolved = SRiskPanelConfig(mes_causal=False, k=0.1).for_realtime()
    assert isinstance(resolved, SRiskPanelConfig) and resolved.mes_causal and resolved.k == 0.1


def test_bad_input_estimation_params():
    with pytest.raises(ConfigError, match="estimation='recursive' is not allowed; allowed values: 'full', 'expanding', 'rolling'"):
        CovarDCCParams(estimation="recursive")
    with pytest.raises(ConfigError, match=r"window=100 is out of range; allowed: \[250, inf\]"):
        CovarDCCParams(estimation="rolling", window=100)
    with pytest.raises(ConfigError, match="refit_every=0 is out of range"):
        CovarDCCParams(refit_every=0)


def test_bad_input_too_short_sample_fails_the_bank_with_insufficient_history():
    wide, system = panel()
    wide = wide.copy()
    wide.iloc[:500, 0] = np.nan
    res, events = fit_dcc_banks(wide, system, CONFIG, missing="drop")
    assert res["A"].status.startswith("failed:InsufficientHistory: no converged refit (200 observations < min_obs=250)")
    assert np.isnan(res["A"].sigma).all() and len(res["A"].refits) == 0
    assert "A" in set(events.loc[events.reason == "fit_failed", "bank_id"])


def test_check_plan_says_when_refits_run():
    from measures.dcc import check_plan

    dates, sim = tiny.simulate()
    prices = pd.DataFrame({"bank_id": "A", "date": dates, "close": np.exp(np.cumsum(sim[:, 1])), "market_cap": 1e9})
    lines = check_plan(prices, CONFIG)
    assert ("estimates", "ΔCoVaR-DCC: parameters refitted every 63 days on all the data up to the refit date "
                         "(expanding); each bank's first 249 days have no value") in lines
    assert not any("refitted" in text for _, text in check_plan(prices, CovarDCCParams()))


# --- the warm refits' own optimisers (measures.dcc.refit) -------------------------------------

def _returns(n=1500, seed=7):
    from measures.dcc import GarchParams, simulate_dcc_garch

    garch = [GarchParams(omega=2e-6, alpha=0.05, beta=0.90, gamma=0.06, mu=2e-4)] * 2
    returns, _, _ = simulate_dcc_garch(n, garch, 0.04, 0.93, np.array([[1.0, 0.6], [0.6, 1.0]]),
                                       np.random.default_rng(seed))
    return returns


@pytest.mark.parametrize(("vol", "mean"), [("gjr", "constant"), ("garch", "zero")])
def test_refit_garch_gradient_is_exact_and_its_optimum_is_archs(vol, mean):
    from scipy.optimize import approx_fprime

    from measures.core.adapters.arch_adapter import SCALE, arch_model, fit_univariate_garch
    from measures.dcc.refit import negloglik, refit_garch

    y = _returns()[:, 1]
    has_mu, has_gamma = mean == "constant", vol == "gjr"
    x = y * SCALE
    theta = np.array([0.02, 0.03, 0.05, 0.06, 0.88])[[*([0] if has_mu else []), 1, 2, *([3] if has_gamma else []), 4]]
    f = partial(negloglik, x=x, bc=backcast(x, mean), has_mu=has_mu, has_gamma=has_gamma)
    np.testing.assert_allclose(f(theta)[1], approx_fprime(theta, lambda t: f(t)[0], 1e-7), rtol=1e-4, atol=1e-6)
    arch_fit = fit_univariate_garch(y, vol=vol, mean=mean, std_errors=False)
    own = refit_garch(y, arch_fit.params * 1.1, vol=vol, mean=mean)
    assert own.param_names == arch_fit.param_names and own.status == "ok"
    unscale = np.array([{"mu": SCALE, "omega": SCALE**2}.get(n, 1.0) for n in own.param_names])
    model = arch_model(x, mean="Constant" if has_mu else "Zero", vol="GARCH", p=1, o=int(has_gamma), q=1,
                       rescale=False)
    tight = model.fit(disp="off", starting_values=own.params * unscale, options={"ftol": 1e-14, "maxiter": 1000})
    np.testing.assert_allclose(own.params * unscale, np.asarray(tight.params), rtol=1e-5, atol=1e-6)
    assert own.loglik == pytest.approx(float(tight.loglikelihood) + y.size * np.log(SCALE), abs=1e-6)
    assert own.loglik >= arch_fit.loglik - 1e-6


def test_refit_correlation_is_the_correlation_step_with_an_exact_gradient():
    from scipy.optimize import approx_fprime

    from measures.dcc import loglik_terms, second_moment
    from measures.dcc.estimate import estimate_correlation_step
    from measures.dcc.refit import correlation_negloglik, refit_correlation

    r = _returns()
    z = (r - r.mean(axis=0)) / r.std(axis=0)
    qbar = second_moment(z)
    theta = np.array([0.05, 0.9])
    value, grad = correlation_negloglik(theta, z, qbar)
    assert value == pytest.approx(-loglik_terms(z, qbar, 0.05, 0.9).sum() / z.shape[0], rel=1e-12)
    np.testing.assert_allclose(grad, approx_fprime(theta, lambda t: correlation_negloglik(t, z, qbar)[0], 1e-8),
                               rtol=1e-5)
    ref = estimate_correlation_step(z, qbar, likelihood="full", pairs="all", std_errors=None, max_persistence=0.9999)
    own = refit_correlation(z, qbar, (0.02, 0.95), max_persistence=0.9999)
    np.testing.assert_allclose([own.a, own.b], [ref.a, ref.b], atol=1e-6)
    assert own.loglik == pytest.approx(ref.loglik, abs=1e-7) and np.isnan(own.std_errors).all()


def test_bad_input_refit_start_that_cannot_be_used_falls_back_to_arch():
    from measures.dcc.realtime import univariate_chain
    from measures.dcc.refit import refit_correlation, refit_garch

    y = _returns()[:, 1]
    assert refit_garch(y, np.full(5, np.nan)) is None and refit_garch(y, np.ones(3)) is None
    assert refit_correlation(np.zeros((10, 2)), np.eye(2), (np.nan, 0.9), max_persistence=0.9999) is None
    fits = univariate_chain(y, refit_schedule(y.size, min_obs=1000, refit_every=250), CovarDCCParams(dist="t"))
    assert [f.param_names[-1] for f in fits] == ["nu"] * 3 and all(f.status != "failed" for f in fits)


def test_scoring_finds_a_quadratic_minimum_and_gives_up_off_the_interior_or_without_curvature():
    from measures.dcc.refit import scoring

    target, curvature = np.array([0.3, 0.5]), np.array([[2.0, 0.5], [0.5, 1.0]])

    def quadratic(theta, info=curvature):
        d = theta - target
        return 0.5 * d @ curvature @ d, curvature @ d, info

    def inside(t):
        return bool(np.all(t > 0.0))

    np.testing.assert_allclose(scoring(quadratic, np.array([1.0, 2.0]), inside), target, atol=1e-9)
    assert scoring(quadratic, np.array([-1.0, 2.0]), inside) is None  # start outside
    assert scoring(quadratic, np.array([1.0, 2.0]), lambda t: bool(np.all(t > 0.4))) is None  # optimum on the edge
    assert scoring(partial(quadratic, info=-curvature), np.array([1.0, 2.0]), inside) is None  # not a descent
