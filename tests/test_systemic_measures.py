"""ΔCoVaR-DCC, MES, LRMES, SRISK, SES: closed-form cases, simulated known truth, independent references."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize
from scipy.stats import multivariate_normal, norm

from measures.core.adapters.arch_adapter import UnivariateGarchFit
from measures.dcc import DCCResult
from measures.systemic.lrmes import GARCH_TERMS
from measures.systemic import (
    SystemicRiskConfig,
    aggregate_srisk,
    carry_forward_liabilities,
    covar_dcc,
    dcc_beta,
    delta_covar_dcc,
    dynamic_mes,
    historical_mes,
    kernel_tail_expectation,
    lrmes_closed_form,
    lrmes_from_mes,
    ses,
    simulate_lrmes,
    simulate_lrmes_paths,
    srisk,
    srisk_share,
    srisk_status,
)

# ---------------------------------------------------------------- ΔCoVaR-DCC


def test_delta_covar_dcc_hand_case_and_definition():
    got = delta_covar_dcc(np.array([0.5, -0.2]), np.array([0.02, 0.01]), q=0.95)
    np.testing.assert_allclose(got, [1.6448536269514722 * 0.5 * 0.02, -1.6448536269514722 * 0.2 * 0.01], rtol=1e-14)
    rho, s_sys, s_i = 0.6, 0.015, 0.025
    stress = covar_dcc(rho, s_sys, s_i, norm.ppf(0.95) * s_i, q=0.95)
    median = covar_dcc(rho, s_sys, s_i, 0.0, q=0.95)
    assert float(stress - median) == pytest.approx(float(delta_covar_dcc(rho, s_sys, q=0.95)), abs=1e-15)


def test_covar_dcc_equals_quantile_of_conditional_bivariate_normal():
    # independent reference: invert P(X_sys <= y | X_i = x) computed by numerical integration of the density
    rho, s_sys, s_i, x = 0.45, 0.018, 0.03, 0.04
    dist = multivariate_normal(mean=[0, 0], cov=[[s_i**2, rho * s_i * s_sys], [rho * s_i * s_sys, s_sys**2]])
    f_x = norm.pdf(x, scale=s_i)

    def cdf(y):
        return integrate.quad(lambda s: dist.pdf([x, s]), -1.0, y, epsabs=1e-13)[0] / f_x

    reference = optimize.brentq(lambda y: cdf(y) - 0.95, -0.5, 0.5, xtol=1e-14)
    assert float(covar_dcc(rho, s_sys, s_i, x, q=0.95)) == pytest.approx(reference, abs=1e-9)


def test_covar_bad_input():
    with pytest.raises(ValueError, match="rho must lie in"):
        delta_covar_dcc([0.5, 1.2], [0.01, 0.01])
    with pytest.raises(ValueError, match="sigma_sys must be positive"):
        delta_covar_dcc([0.5], [0.0])
    with pytest.raises(ValueError, match="same shape"):
        delta_covar_dcc([0.5, 0.4], [0.01])
    with pytest.raises(ValueError, match="q=1.0 is out of range"):
        delta_covar_dcc([0.5], [0.01], q=1.0)


# ---------------------------------------------------------------- historical MES


def test_historical_mes_hand_case_and_rolling_reference():
    rng = np.random.default_rng(4)
    idx = pd.bdate_range("2020-01-01", periods=300)
    rm = pd.Series(rng.standard_normal(300) * 0.01, index=idx)
    ri = pd.Series(0.8 * rm.to_numpy() + rng.standard_normal(300) * 0.01, index=idx)
    got = historical_mes(ri, rm, window=20, tail=0.05)  # 1 worst day
    assert got.iloc[:19].isna().all()
    worst = int(np.argmin(rm.iloc[:20].to_numpy()))
    assert got.iloc[19] == pytest.approx(-ri.iloc[worst], abs=1e-15)
    # independent reference: pandas rolling with a plain function, 252-day window, 13 tail days
    full = historical_mes(ri, rm, window=252, tail=0.05)
    both = pd.concat([rm.rename("m"), ri.rename("i")], axis=1)
    ref = [-both.iloc[t - 251 : t + 1].nsmallest(13, "m")["i"].mean() for t in range(251, 300)]
    np.testing.assert_allclose(full.iloc[251:].to_numpy(), ref, rtol=1e-12)
    assert (full.iloc[251:] > 0).all()  # positive loss for a positively related firm


def test_historical_mes_nan_window_and_bad_input():
    idx = pd.RangeIndex(60)
    rm = pd.Series(np.sin(np.arange(60.0)) / 100, index=idx)
    ri = rm.copy()
    ri.iloc[30] = np.nan
    got = historical_mes(ri, rm, window=20)
    assert got.iloc[30:50].isna().all() and np.isfinite(got.iloc[29]) and np.isfinite(got.iloc[50])
    with pytest.raises(ValueError, match="same index"):
        historical_mes(ri.iloc[1:], rm)
    with pytest.raises(ValueError, match="window=5 is out of range"):
        historical_mes(ri, rm, window=5)


# ---------------------------------------------------------------- dynamic MES (Brownlees–Engle)


def test_kernel_tail_expectation_known_truth():
    rng = np.random.default_rng(8)
    eps = rng.standard_normal(20000)
    h = eps.size ** (-0.2)
    c = np.array([-1.5, -1.0])
    got = kernel_tail_expectation(eps, eps, c, h)
    # the kernel conditions on eps + h*eta < c, eta ~ N(0,1): E = -(1/s) phi(c/s)/Phi(c/s), s = sqrt(1+h^2)
    s = np.sqrt(1 + h**2)
    truth = -norm.pdf(c / s) / norm.cdf(c / s) / s
    np.testing.assert_allclose(got, truth, atol=0.03)
    # with h -> 0 it is the sample tail mean (one unique threshold: a constant market volatility is cheap)
    sharp = kernel_tail_expectation(eps, eps, np.array([-1.5]), 1e-6)
    assert sharp[0] == pytest.approx(eps[eps < -1.5].mean(), abs=1e-9)


def test_dynamic_mes_bivariate_normal_known_truth_and_loop_reference():
    rng = np.random.default_rng(12)
    t, rho, s_i, s_m, kappa = 100_000, 0.6, 0.025, 0.015, -0.02
    e = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=t)
    ones = np.ones(t)
    mes = dynamic_mes(s_i * ones, s_m * ones, rho * ones, e[:, 0], e[:, 1], kappa=kappa)
    c = kappa / s_m
    s = np.sqrt(1 + t ** (-0.4))
    kernel_truth = s_i * rho * norm.pdf(c / s) / norm.cdf(c / s) / s  # xi is independent of eps_m
    exact_truth = s_i * rho * norm.pdf(c) / norm.cdf(c)  # MES = sigma_i rho phi(c)/Phi(c)
    np.testing.assert_allclose(mes, kernel_truth, rtol=0.02)
    np.testing.assert_allclose(mes, exact_truth, rtol=0.03)
    # several firms at once (shared market kernel) equal one-by-one evaluation
    block = dynamic_mes(
        s_i * np.ones((t, 2)),
        s_m * ones,
        np.column_stack([rho * ones, 0.2 * ones]),
        e[:, 0],
        np.column_stack([e[:, 1], e[:, 0]]),
        kappa=kappa,
    )
    np.testing.assert_allclose(block[:, 0], mes, rtol=1e-12)
    # independent reference on a short time-varying sample: a direct double loop
    n = 150
    sm = 0.01 + 0.01 * rng.random(n)
    si = 0.02 + 0.01 * rng.random(n)
    rh = 0.3 + 0.5 * rng.random(n)
    em, ei = rng.standard_normal(n), rng.standard_normal(n)
    got = dynamic_mes(si, sm, rh, em, ei, kappa=-0.02)
    h = n ** (-0.2)
    for k in (0, 77, n - 1):
        ck = -0.02 / sm[k]
        w = [norm.cdf((ck - em[j]) / h) for j in range(n)]
        xi = [(ei[j] - rh[j] * em[j]) / np.sqrt(1 - rh[j] ** 2) for j in range(n)]
        k1 = sum(w[j] * em[j] for j in range(n)) / sum(w)
        k2 = sum(w[j] * xi[j] for j in range(n)) / sum(w)
        expected = -(si[k] * rh[k] * k1 + si[k] * np.sqrt(1 - rh[k] ** 2) * k2)
        assert got[k] == pytest.approx(expected, abs=1e-13)


def test_dynamic_mes_bad_input():
    x = np.ones(10)
    with pytest.raises(ValueError, match="kappa=0.02 is out of range"):
        dynamic_mes(x, x, x * 0.5, x, x, kappa=0.02)
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="eps_firm has a non-finite value at position 3"):
        dynamic_mes(x, x, x * 0.5, x, bad)


# ---------------------------------------------------------------- LRMES


def test_lrmes_closed_forms():
    np.testing.assert_allclose(lrmes_closed_form([0.0, 1.0, 2.0], crash=0.4), [0.0, 0.4, 1 - 0.36], rtol=1e-14)
    np.testing.assert_allclose(lrmes_from_mes([0.0, 0.02]), [0.0, 1 - np.exp(-0.36)], rtol=1e-14)
    np.testing.assert_allclose(dcc_beta(0.5, 0.03, 0.015), 1.0)


def _constant_result(rho: float, s_m: float, s_i: float, t: int, rng: np.random.Generator) -> DCCResult:
    """A hand-made bivariate DCC result with constant volatility and correlation (a = b = 0)."""
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=t)
    fits = tuple(
        UnivariateGarchFit(
            param_names=("omega", "alpha", "beta"),
            params=np.array([s**2, 0.0, 0.0]),
            std_errors=np.zeros(3),
            loglik=0.0,
            sigma=np.full(t, s),
            std_resid=z[:, k],
            status="ok",
            vol="garch",
            dist="normal",
            mean="zero",
        )
        for k, s in enumerate((s_m, s_i))
    )
    corr = np.broadcast_to(np.array([[1, rho], [rho, 1]]), (t, 2, 2)).copy()
    return DCCResult(
        names=("m", "i"),
        index=pd.RangeIndex(t),
        univariate=fits,
        a=0.0,
        b=0.0,
        std_errors=np.zeros(2),
        std_error_method="sandwich",
        loglik_correlation=0.0,
        loglik=0.0,
        sigma=np.column_stack([np.full(t, s_m), np.full(t, s_i)]),
        std_resid=z,
        qbar=np.array([[1, rho], [rho, 1]]),
        correlation=corr,
        likelihood="full",
        status="ok",
    )


def test_simulated_lrmes_matches_bivariate_normal_truth():
    rho, s_m, s_i, h, d = 0.7, 0.02, 0.03, 22, 0.10
    res = _constant_result(rho, s_m, s_i, 20000, np.random.default_rng(1))
    value, status = simulate_lrmes(res, crash=d, horizon=h, n_paths=20000, rng=np.random.default_rng(2))
    assert status == "ok"
    sm, si, c = s_m * np.sqrt(h), s_i * np.sqrt(h), np.log1p(-d)
    truth = 1 - np.exp(si**2 / 2) * norm.cdf((c - rho * si * sm) / sm) / norm.cdf(c / sm)
    assert value == pytest.approx(truth, abs=0.01)
    again, _ = simulate_lrmes(res, crash=d, horizon=h, n_paths=20000, rng=np.random.default_rng(2))
    assert again == value  # seeded: reproducible
    none, status = simulate_lrmes(res, crash=0.9, horizon=2, n_paths=200, rng=np.random.default_rng(3))
    assert np.isnan(none) and status.startswith("failed:NoCrisisPaths")


# ---------------------------------------------------------------- SRISK, SES


def _frames():
    idx = pd.bdate_range("2021-01-01", periods=3)
    cols = ["A", "B", "C"]
    cap = pd.DataFrame([[100.0, 50.0, 0.0], [100.0, 40.0, 10.0], [80.0, 40.0, 10.0]], index=idx, columns=cols)
    debt = pd.DataFrame([[900.0, 300.0, 50.0], [900.0, 300.0, np.nan], [900.0, 300.0, 50.0]], index=idx, columns=cols)
    lrmes = pd.DataFrame(0.4, index=idx, columns=cols)
    equity = pd.DataFrame([[10.0, 5.0, 1.0], [10.0, -5.0, 1.0], [10.0, 5.0, 1.0]], index=idx, columns=cols)
    return cap, debt, lrmes, equity


def test_srisk_hand_case_aggregate_share_and_status():
    cap, debt, lrmes, equity = _frames()
    got = srisk(debt, cap, lrmes, k=0.08)
    # A day 1: 0.08*900 - 0.92*0.6*100 = 72 - 55.2 = 16.8 ; B day 1: 24 - 27.6 = -3.6
    assert got.loc[got.index[0], "A"] == pytest.approx(16.8, abs=1e-12)
    assert got.loc[got.index[0], "B"] == pytest.approx(-3.6, abs=1e-12)
    assert np.isnan(got.iloc[0, 2]) and np.isnan(got.iloc[1, 2])  # price 0, missing liabilities
    agg = aggregate_srisk(got)
    assert agg.iloc[0] == pytest.approx(16.8, abs=1e-12)  # negatives are not summed
    day3 = 16.8 + 5.76 + (0.08 * 50 - 0.92 * 0.6 * 10)  # A: 72 - 0.552*80; B: 24 - 22.08; C: 4 - 5.52 < 0
    assert agg.iloc[2] == pytest.approx(72 - 0.552 * 80 + (24 - 0.552 * 40), abs=1e-12)
    assert day3 != 0
    share = srisk_share(got)
    assert share.iloc[0]["A"] == pytest.approx(1.0) and share.iloc[0]["B"] == 0.0
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    status = srisk_status(debt, cap, equity)
    assert status.iloc[0, 2].startswith("failed:NonPositiveMarketCap")
    assert status.iloc[1, 2].startswith("failed:MissingLiabilities")
    assert status.iloc[1, 1] == "warning:NegativeBookEquity" and status.iloc[0, 0] == "ok"


def test_ses_hand_case():
    cap, debt, _, _ = _frames()
    mes = pd.DataFrame(0.03, index=cap.index, columns=cap.columns)
    got = ses(debt, cap, mes, k=0.08, theta=0.5, delta=0.01)
    # A day 1: L = 10, (0.8 - 1 + 0.015 + 0.01) * 100 = -17.5
    assert got.iloc[0, 0] == pytest.approx(-17.5, abs=1e-12)
    assert np.isnan(got.iloc[0, 2])
    with pytest.raises(ValueError, match="same index and columns"):
        ses(debt.iloc[:2], cap, mes, theta=0.5, delta=0.0)


def test_liabilities_are_carried_forward_never_backward():
    published = pd.DataFrame({"A": [100.0, 120.0]}, index=pd.to_datetime(["2020-03-31", "2020-06-30"]))
    dates = pd.bdate_range("2020-03-27", "2020-07-02")
    daily = carry_forward_liabilities(published, dates)
    assert daily.loc["2020-03-30", "A"] != daily.loc["2020-03-30", "A"]  # NaN before first publication
    assert daily.loc["2020-03-31", "A"] == 100.0 and daily.loc["2020-06-29", "A"] == 100.0
    assert daily.loc["2020-06-30", "A"] == 120.0 and daily.loc["2020-07-02", "A"] == 120.0
    with pytest.raises(ValueError, match="unique, increasing"):
        carry_forward_liabilities(published.iloc[::-1], dates)


def test_systemic_config_validation():
    assert SystemicRiskConfig().lrmes_route == "closed_form"
    with pytest.raises(ValueError, match="lrmes_route='exact' is not allowed"):
        SystemicRiskConfig(lrmes_route="exact")
    with pytest.raises(ValueError, match="unknown option"):
        SystemicRiskConfig.from_mapping({"kk": 1})


# ---------------------------------------------------------------- long frames for the stages


@pytest.fixture(scope="module")
def bank_inputs():
    from measures.dcc import GarchParams, simulate_dcc_garch

    rng = np.random.default_rng(31)
    garch = [GarchParams(omega=2e-6, alpha=0.04, gamma=0.08, beta=0.88)] * 2
    idx = pd.bdate_range("2015-01-01", periods=700)
    system = None
    banks = {}
    for name, rho in (("B1", 0.7), ("B2", 0.4)):
        r, _, _ = simulate_dcc_garch(700, garch, 0.04, 0.9, np.array([[1, rho], [rho, 1]]), rng)
        system = r[:, 0] if system is None else system
        banks[name] = r[:, 1]
    banks["B3"] = np.r_[np.full(600, np.nan), banks["B1"][600:]]  # too short: failed
    return pd.DataFrame(banks, index=idx), pd.Series(system, index=idx, name="sys")


@pytest.fixture(scope="module")
def bank_fits(bank_inputs):
    from measures.dcc import fit_dcc_bivariate

    wide, system = bank_inputs
    return fit_dcc_bivariate(system, wide)


def test_covar_dcc_frame_layout_and_values(bank_fits):
    from measures.systemic import covar_dcc_frame

    frame = covar_dcc_frame(bank_fits, q=0.95)
    assert list(frame.columns) == ["bank_id", "date", "sigma_bank", "sigma_sys", "rho", "delta_covar", "covar", "coes",
                                   "delta_coes", "status"]
    b1 = frame[frame["bank_id"] == "B1"]
    res = bank_fits["B1"]
    np.testing.assert_allclose(b1["delta_covar"], norm.ppf(0.95) * res.correlation[:, 0, 1] * res.sigma[:, 0])
    b3 = frame[frame["bank_id"] == "B3"]
    assert len(b3) == 100 and b3["delta_covar"].isna().all() and b3["status"].str.startswith("failed:").all()


def test_dcc_mes_frame_grouped_kernel_and_routes(bank_fits):
    from measures.systemic import dcc_mes_frame

    frame = dcc_mes_frame(bank_fits, config=SystemicRiskConfig(lrmes_route="closed_form"))
    assert list(frame.columns) == ["bank_id", "date", "beta", "mes_dyn", "lrmes", "status"]
    for bank in ("B1", "B2"):
        res = bank_fits[bank]
        alone = dynamic_mes(
            res.sigma[:, 1], res.sigma[:, 0], res.correlation[:, 0, 1], res.std_resid[:, 0], res.std_resid[:, 1],
            causal=True,  # SystemicRiskConfig's default: no look-ahead
        )
        rows = frame[frame["bank_id"] == bank]
        np.testing.assert_allclose(rows["mes_dyn"], alone, rtol=1e-12)
        np.testing.assert_allclose(rows["lrmes"], 1 - 0.6 ** rows["beta"], rtol=1e-12)
    mes_route = dcc_mes_frame(bank_fits, config=SystemicRiskConfig(lrmes_route="mes"))
    np.testing.assert_allclose(mes_route["lrmes"], 1 - np.exp(-18 * mes_route["mes_dyn"]), rtol=1e-12)
    config = SystemicRiskConfig(lrmes_route="simulation", crash=0.1, horizon=22, n_paths=2000)
    sim = dcc_mes_frame({"B1": bank_fits["B1"]}, config=config)
    again = dcc_mes_frame({"B1": bank_fits["B1"]}, config=config)
    assert sim["lrmes"].iloc[:-1].isna().all() and np.isfinite(sim["lrmes"].iloc[-1])
    assert sim["lrmes"].iloc[-1] == again["lrmes"].iloc[-1]


def test_causal_dynamic_mes_uses_no_future_residuals():
    rng = np.random.default_rng(13)
    n = 120
    sm, si, rh = 0.01 + 0.01 * rng.random(n), 0.02 + 0.01 * rng.random(n), 0.3 + 0.5 * rng.random(n)
    em, ei = rng.standard_normal(n), rng.standard_normal(n)
    full = dynamic_mes(si, sm, rh, em, ei, causal=True)
    # changing the future leaves the past unchanged
    em2, ei2 = em.copy(), ei.copy()
    em2[80:] = rng.standard_normal(40) * 3
    ei2[80:] = 5.0
    cut = dynamic_mes(si, sm, rh, em2, ei2, causal=True)
    np.testing.assert_array_equal(full[:80], cut[:80])
    assert not np.allclose(full[80:], cut[80:])
    # the last date of the causal estimator uses the whole sample, with h = T^(-1/5): equals the in-sample value
    assert full[-1] == pytest.approx(dynamic_mes(si, sm, rh, em, ei)[-1], abs=1e-14)
    # date k: a direct sum over s <= k
    k = 50
    h = (k + 1) ** (-0.2)
    w = norm.cdf((-0.02 / sm[k] - em[: k + 1]) / h)
    xi = (ei[: k + 1] - rh[: k + 1] * em[: k + 1]) / np.sqrt(1 - rh[: k + 1] ** 2)
    expected = -(si[k] * rh[k] * (w @ em[: k + 1]) / w.sum() + si[k] * np.sqrt(1 - rh[k] ** 2) * (w @ xi) / w.sum())
    assert full[k] == pytest.approx(expected, abs=1e-13)


def test_measures_from_stored_paths_equal_those_from_the_fits(bank_inputs, bank_fits):
    from measures.dcc import estimates_frame
    from measures.systemic import dcc_mes_frame, dcc_paths_frame, historical_mes_frame

    wide, system = bank_inputs
    paths = dcc_paths_frame(bank_fits, wide, system)
    assert list(paths.columns) == ["bank_id", "date", "ret_bank", "ret_sys", "sigma_bank", "sigma_sys", "rho",
                                   "z_bank", "z_sys", "status"]
    b1 = paths[paths.bank_id == "B1"]
    np.testing.assert_array_equal(b1["z_sys"], bank_fits["B1"].std_resid[:, 0])
    np.testing.assert_array_equal(b1["ret_bank"], wide["B1"])
    assert len(paths[paths.bank_id == "B3"]) == 100  # the failed fit keeps its sample rows
    estimates = estimates_frame(bank_fits)
    for route in ("closed_form", "mes"):
        config = SystemicRiskConfig(lrmes_route=route)
        pd.testing.assert_frame_equal(dcc_mes_frame(paths, config=config), dcc_mes_frame(bank_fits, config=config))
    # the simulation from the stored paths and estimates is the simulation from the fit object
    config = SystemicRiskConfig(lrmes_route="simulation", crash=0.1, horizon=22, n_paths=2000, seed=5, mes_causal=False)
    dates = [wide.index[300], wide.index[-1]]
    sim = dcc_mes_frame(paths, config=config, estimates=estimates, simulation_dates=dates).set_index(["bank_id", "date"])
    causal = dcc_mes_frame(paths, config=dataclasses.replace(config, mes_causal=True), estimates=estimates,
                           simulation_dates=dates).set_index(["bank_id", "date"])
    for rank, bank in enumerate(("B1", "B2")):
        for pos in (300, 699):
            expected, _ = simulate_lrmes(bank_fits[bank], at=pos, crash=0.1, horizon=22, n_paths=2000,
                                         rng=np.random.default_rng([5, rank, pos]))
            assert sim.loc[(bank, wide.index[pos]), "lrmes"] == expected
        # mes_causal: the bootstrap pool and Qbar from the residuals up to t only
        res = bank_fits[bank]
        expected, _ = simulate_lrmes_paths(res.sigma[:301], res.std_resid[:301], res.correlation[:301, 0, 1],
                                           {n: np.array([f.param(n) for f in res.univariate]) for n in GARCH_TERMS},
                                           res.a, res.b, at=300, crash=0.1, horizon=22, n_paths=2000,
                                           rng=np.random.default_rng([5, rank, 300]))
        assert causal.loc[(bank, wide.index[300]), "lrmes"] == expected != sim.loc[(bank, wide.index[300]), "lrmes"]
        assert causal.loc[(bank, wide.index[699]), "lrmes"] == sim.loc[(bank, wide.index[699]), "lrmes"]
    assert sim["lrmes"].notna().sum() == 4 and sim.loc["B3", "status"].str.startswith("failed:").all()
    with pytest.raises(ValueError, match="needs the fit estimates"):
        dcc_mes_frame(paths, config=config)
    # historical MES on each bank's fitted sample
    hist = historical_mes_frame(paths, window=100, tail=0.05).set_index(["bank_id", "date"])
    np.testing.assert_array_equal(hist.loc["B2", "mes_hist"], historical_mes(wide["B2"], system, window=100, tail=0.05))
    assert hist.loc["B3", "mes_hist"].iloc[-1] == pytest.approx(
        historical_mes(wide["B3"].iloc[600:], system.iloc[600:], window=100).iloc[-1])


def test_daily_balance_sheet_carries_forward_ages_and_goes_stale():
    from measures.systemic import daily_balance_sheet

    bs = pd.DataFrame({
        "bank_id": ["A", "A", "A", "B"],
        "period_end": pd.to_datetime(["2020-03-31", "2020-06-30", "2020-06-30", "2020-03-31"]),
        "publication_date": pd.to_datetime(["2020-05-15", "2020-08-14", "2020-08-14", "2020-05-15"]),
        "total_liabilities": [100.0, 120.0, 130.0, 50.0],
        "equity": [10.0, -1.0, -2.0, 5.0],
    })
    dates = pd.bdate_range("2020-05-01", "2021-06-30")
    liab, age, equity = daily_balance_sheet(bs, dates, ["A", "B", "C"], max_age_days=300)
    assert np.isnan(liab.loc["2020-05-14", "A"]) and liab.loc["2020-05-15", "A"] == 100.0
    assert liab.loc["2020-08-14", "A"] == 130.0 and equity.loc["2020-08-14", "A"] == -2.0  # the last row published that day
    assert age.loc["2020-08-20", "A"] == 6.0 and liab["C"].isna().all()
    stale_from = pd.Timestamp("2020-05-15") + pd.Timedelta(days=301)
    assert np.isnan(liab.loc[liab.index >= stale_from, "B"]).all() and liab.loc["2021-03-10", "B"] == 50.0
    assert np.isnan(equity.loc[liab.index >= stale_from, "B"]).all()
    unlimited, _, _ = daily_balance_sheet(bs, dates, ["B"], max_age_days=None)
    assert (unlimited["B"].loc["2020-05-15":] == 50.0).all()


def test_simulation_dates_and_status_events():
    from measures.systemic import simulation_dates, status_events

    dates = pd.bdate_range("2019-11-01", "2020-05-05")
    assert simulation_dates(dates, "last") is None
    assert simulation_dates(dates, "year_end") == [pd.Timestamp("2019-12-31"), pd.Timestamp("2020-05-05")]
    assert simulation_dates(dates, "quarter_end") == [pd.Timestamp("2019-12-31"), pd.Timestamp("2020-03-31"),
                                                      pd.Timestamp("2020-05-05")]
    with pytest.raises(ValueError, match="how='month_end' is not allowed"):
        simulation_dates(dates, "month_end")
    frame = pd.DataFrame({
        "bank_id": ["A", "A", "A", "B", "B"], "date": dates[:5],
        "bs_status": ["ok", "warning:NegativeBookEquity", "warning:NegativeBookEquity",
                      "failed:MissingLiabilities: none", np.nan],
    })
    events = status_events(frame)
    assert events[["bank_id", "n_rows", "action", "reason"]].values.tolist() == [
        ["A", 2, "flagged", "negative_book_equity"], ["B", 1, "masked", "missing_liabilities"]]
    assert events["date_start"].iloc[0] == dates[1] and events["date_end"].iloc[0] == dates[2]


def test_historical_mes_of_many_firms_equals_each_firm_alone_with_gaps():
    from measures.systemic.mes import historical_mes_columns

    rng = np.random.default_rng(8)
    idx = pd.bdate_range("2020-01-01", periods=200)
    market = pd.Series(rng.standard_normal(200), index=idx)
    market.iloc[[30, 31]] = np.nan
    firms = rng.standard_normal((200, 4))
    firms[150, 2] = np.nan
    firms[:, 3] = np.round(firms[:, 3])  # ties in the firm returns do not matter; market ties by position
    many = historical_mes_columns(firms, market.to_numpy(), window=40, tail=0.1)
    for k in range(4):
        alone = historical_mes(pd.Series(firms[:, k], index=idx), market, window=40, tail=0.1)
        np.testing.assert_array_equal(many[:, k], alone.to_numpy())
    assert np.isnan(many[31 + 39, 0]) and np.isfinite(many[32 + 39, 0]) and np.isnan(many[150:190, 2]).all()
    with pytest.raises(ValueError, match="window"):
        historical_mes_columns(firms, market.to_numpy(), window=5)


def test_historical_mes_frame_sorts_the_market_windows_once_per_system_path(bank_inputs, bank_fits):
    from conftest import RecordingMapper
    from measures.systemic import dcc_paths_frame, historical_mes_frame

    wide, system = bank_inputs
    paths = dcc_paths_frame(bank_fits, wide, system)
    mapper = RecordingMapper()
    frame = historical_mes_frame(paths, window=100, mapper=mapper)
    assert mapper.calls == [("historical MES", 2)]  # B1 and B2 share dates and system returns; B3 is shorter
    np.testing.assert_array_equal(frame[frame.bank_id == "B2"]["mes_hist"], historical_mes(wide["B2"], system, window=100))
