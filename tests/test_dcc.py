"""DCC(1,1)-GARCH engine: known truth, reference implementations, modes, bad input."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RecordingMapper

from measures.core.adapters.arch_adapter import fit_univariate_garch
from measures.dcc import (
    DCCConfig,
    GarchParams,
    correlation_loglik,
    fit_dcc,
    fit_dcc_bivariate,
    loglik_terms,
    second_moment,
    simulate_dcc_garch,
    summarize_bivariate,
)
from measures.dcc.likelihood import bivariate_terms, pair_indices

# the plain-loop likelihood is a benchmark baseline (benchmarks/dcc_loop.py), not part of the science package
_SPEC = importlib.util.spec_from_file_location("dcc_loop", Path(__file__).parents[1] / "benchmarks" / "dcc_loop.py")
_LOOP = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_LOOP)
correlation_loglik_loop = _LOOP.correlation_loglik_loop

TRUE_A, TRUE_B = 0.05, 0.90
GARCH = (
    GarchParams(omega=2e-6, alpha=0.04, gamma=0.08, beta=0.88, mu=3e-4),
    GarchParams(omega=4e-6, alpha=0.05, gamma=0.06, beta=0.87, mu=1e-4),
    GarchParams(omega=3e-6, alpha=0.06, gamma=0.04, beta=0.87, mu=0.0),
)
QBAR3 = np.array([[1.0, 0.6, 0.4], [0.6, 1.0, 0.5], [0.4, 0.5, 1.0]])


@pytest.fixture(scope="module")
def simulated_pair() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(20240601)
    r, _, rho = simulate_dcc_garch(3000, GARCH[:2], TRUE_A, TRUE_B, QBAR3[:2, :2], rng)
    dates = pd.bdate_range("2010-01-01", periods=3000)
    return pd.DataFrame(r, index=dates, columns=["system", "bank"]), rho[:, 0, 1]


@pytest.fixture(scope="module")
def pair_fit(simulated_pair):
    frame, _ = simulated_pair
    return fit_dcc(frame, config=DCCConfig(vol="gjr", mean="constant"))


# ---------------------------------------------------------------- known truth


def test_bivariate_fit_recovers_dcc_and_garch_parameters(pair_fit, simulated_pair):
    _, true_rho = simulated_pair
    res = pair_fit
    assert res.status == "ok" and res.converged
    se_a, se_b = res.std_errors
    assert abs(res.a - TRUE_A) < 3 * se_a and abs(res.b - TRUE_B) < 3 * se_b
    assert 0 < se_a < 0.03 and 0 < se_b < 0.08
    for fit, truth in zip(res.univariate, GARCH[:2]):
        for name in ("alpha", "gamma", "beta"):
            k = fit.param_names.index(name)
            assert abs(fit.params[k] - getattr(truth, name)) < 3.5 * fit.std_errors[k], (name, fit.params[k])
        assert abs(fit.param("omega") / truth.omega - 1) < 0.6
    # the fitted correlation path tracks the true one
    assert np.corrcoef(res.correlation[:, 0, 1], true_rho)[0, 1] > 0.9
    assert np.all(np.abs(res.correlation[:, 0, 1]) < 1)


def test_joint_trivariate_fit_recovers_parameters():
    rng = np.random.default_rng(7)
    r, _, _ = simulate_dcc_garch(3000, GARCH, TRUE_A, TRUE_B, QBAR3, rng)
    res = fit_dcc(r, config=DCCConfig(likelihood="full"))
    assert res.status == "ok"
    assert abs(res.a - TRUE_A) < 3 * res.std_errors[0]
    assert abs(res.b - TRUE_B) < 3 * res.std_errors[1]
    np.testing.assert_allclose(np.diag(res.qbar), 1.0, atol=0.08)
    assert res.correlation.shape == (3000, 3, 3)
    np.testing.assert_allclose(np.diagonal(res.correlation, axis1=1, axis2=2), 1.0, atol=1e-12)


def test_univariate_adapter_converts_percent_back_to_decimals():
    rng = np.random.default_rng(3)
    y, sigma_true, _ = simulate_dcc_garch(3000, GARCH[:1], 0.0, 0.0, np.eye(1), rng)
    fit = fit_univariate_garch(y[:, 0], vol="gjr", dist="normal", mean="zero")
    assert fit.status == "ok" and fit.param_names == ("omega", "alpha", "gamma", "beta")
    # sigma in decimals, close to the truth
    assert np.median(np.abs(fit.sigma / sigma_true[:, 0] - 1)) < 0.1
    # the reported log-likelihood is the Gaussian one of the decimal returns at sigma_t
    e = y[:, 0]
    direct = -0.5 * np.sum(np.log(2 * np.pi) + np.log(fit.sigma**2) + e**2 / fit.sigma**2)
    assert fit.loglik == pytest.approx(direct, abs=1e-6)
    np.testing.assert_allclose(fit.std_resid, e / fit.sigma, rtol=1e-10)


# ---------------------------------------------------------------- reference: direct loop


@pytest.mark.parametrize(("a", "b"), [(0.05, 0.9), (0.0, 0.0), (0.2, 0.79), (0.01, 0.98)])
@pytest.mark.parametrize("n", [2, 4])
def test_vectorised_loglik_equals_direct_loop(a, b, n):
    rng = np.random.default_rng(11 + n)
    z = rng.standard_normal((1500, n)) @ np.linalg.cholesky(0.5 * np.eye(n) + 0.5).T
    qbar = second_moment(z)
    assert correlation_loglik(z, qbar, a, b) == pytest.approx(correlation_loglik_loop(z, qbar, a, b), abs=1e-8)


def test_composite_loglik_is_sum_of_pairwise_loops():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((800, 4)) @ np.linalg.cholesky(0.6 * np.eye(4) + 0.4).T
    qbar = second_moment(z)
    for pairs in ("all", "contiguous"):
        i, j = pair_indices(4, pairs)
        expected = sum(
            correlation_loglik_loop(z[:, [p, q]], qbar[np.ix_([p, q], [p, q])], 0.04, 0.93) for p, q in zip(i, j)
        )
        got = correlation_loglik(z, qbar, 0.04, 0.93, likelihood="composite", pairs=pairs)
        assert got == pytest.approx(expected, abs=1e-8)
    assert len(pair_indices(4, "all")[0]) == 6 and len(pair_indices(4, "contiguous")[0]) == 3


def test_bivariate_closed_form_equals_matrix_form():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((400, 2))
    qbar = second_moment(z)
    contributions, rho = bivariate_terms(z, qbar, 0.07, 0.9, np.array([0]), np.array([1]))
    assert rho.shape == (400, 1) and np.all(np.abs(rho) < 1)
    assert contributions.sum() == pytest.approx(correlation_loglik_loop(z, qbar, 0.07, 0.9), abs=1e-8)


# ---------------------------------------------------------------- reference: multigarch (test-only dependency)


def test_loglik_equals_multigarch():
    jit = pytest.importorskip("multigarch._jit", reason="multigarch (test-only reference) is not installed")
    rng = np.random.default_rng(21)
    z = rng.standard_normal((1000, 3)) @ np.linalg.cholesky(0.5 * np.eye(3) + 0.5).T
    m = second_moment(z)
    qbar = m / np.sqrt(np.outer(np.diag(m), np.diag(m)))  # multigarch's CL assumes a unit diagonal
    zeros = np.zeros((3, 3))
    # multigarch returns 1/2 sum_{t>=1} (log|R_t| + z'R^-1 z); ours is Engle's L_C from t = 1 (t=0 in 0-based)
    for a, b in [(0.05, 0.9), (0.02, 0.97)]:
        nll = jit.dcc_loglik_loop(z, qbar, zeros, a, b, 0.0)
        ours = loglik_terms(z, qbar, a, b)[1:].sum()
        assert ours == pytest.approx(-nll + 0.5 * np.sum(z[1:] ** 2), abs=1e-8)
        nll_cl = jit.dcc_cl_loglik(z, qbar, zeros, a, b, 0.0)
        ours_cl = loglik_terms(z, qbar, a, b, likelihood="composite", pairs="contiguous")[1:].sum()
        assert ours_cl == pytest.approx(-nll_cl + np.sum(z[1:, :-1] ** 2 + z[1:, 1:] ** 2) / 2, abs=1e-8)


@pytest.mark.slow
def test_estimates_agree_with_multigarch(simulated_pair, pair_fit):
    multigarch = pytest.importorskip("multigarch", reason="multigarch (test-only reference) is not installed")
    frame, _ = simulated_pair
    other = multigarch.DCC(o=1, mean="constant", n_jobs=1).fit(frame.to_numpy())
    assert other.converged
    # different GARCH optimisers and Qbar (corrcoef vs z'z/T): agree well inside one standard error
    assert abs(other.a - pair_fit.a) < 0.25 * pair_fit.std_errors[0]
    assert abs(other.b - pair_fit.b) < 0.25 * pair_fit.std_errors[1]


# ---------------------------------------------------------------- modes agree


def test_bivariate_mode_equals_joint_fit_of_the_pair(simulated_pair, pair_fit):
    frame, _ = simulated_pair
    per_bank = fit_dcc_bivariate(frame["system"], frame[["bank"]])
    res = per_bank["bank"]
    assert res.names == ("system", "bank")
    assert res.a == pytest.approx(pair_fit.a, abs=1e-10) and res.b == pytest.approx(pair_fit.b, abs=1e-10)
    # with N = 2 the composite likelihood is the full likelihood
    comp = fit_dcc(frame, config=DCCConfig(likelihood="composite"))
    assert comp.a == pytest.approx(pair_fit.a, abs=1e-8) and comp.b == pytest.approx(pair_fit.b, abs=1e-8)
    table = summarize_bivariate(per_bank)
    assert list(table["bank"]) == ["bank"] and table.loc[0, "status"] == "ok"
    pd.testing.assert_series_equal(res.rho("system", "bank"), pair_fit.rho("system", "bank"))


def test_composite_and_full_agree_on_trivariate():
    rng = np.random.default_rng(17)
    r, _, _ = simulate_dcc_garch(2500, GARCH, TRUE_A, TRUE_B, QBAR3, rng)
    full = fit_dcc(r, config=DCCConfig(likelihood="full"))
    comp = fit_dcc(r, config=DCCConfig(likelihood="composite"))
    assert abs(full.a - comp.a) < full.std_errors[0] and abs(full.b - comp.b) < full.std_errors[1]
    assert comp.std_error_method == "sandwich" and np.all(np.isfinite(comp.std_errors))


# ---------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors():
    rng = np.random.default_rng(0)
    good = pd.DataFrame(rng.standard_normal((400, 2)) * 0.01, columns=["sys", "b1"])
    with pytest.raises(ValueError, match="at least min_obs=250"):
        fit_dcc(good.iloc[:100])
    nan = good.copy()
    nan.iloc[37, 1] = np.nan
    with pytest.raises(ValueError, match=r"returns\['b1'\] has a non-finite value nan at index 37"):
        fit_dcc(nan)
    const = good.assign(b1=0.001)
    with pytest.raises(ValueError, match=r"returns\['b1'\] is constant"):
        fit_dcc(const)
    with pytest.raises(ValueError, match="at least 2 columns"):
        fit_dcc(good[["sys"]])
    with pytest.raises(ValueError, match="likelihood='exact' is not allowed"):
        DCCConfig(likelihood="exact")
    with pytest.raises(ValueError, match="max_persistence=1.0 is out of range"):
        DCCConfig(max_persistence=1.0)


def test_per_bank_problems_become_statuses():
    rng = np.random.default_rng(1)
    r, _, _ = simulate_dcc_garch(600, GARCH[:2], TRUE_A, TRUE_B, QBAR3[:2, :2], rng)
    system = pd.Series(r[:, 0], name="sys")
    late = np.r_[np.full(200, np.nan), r[200:, 1]]  # listed late: trimmed, still fitted
    short = np.r_[np.full(500, np.nan), r[500:, 1]]  # 100 obs < min_obs
    hole = r[:, 1].copy()
    hole[300:305] = np.nan  # a run of NaN inside the sample
    flat = np.full(600, 0.0)
    banks = pd.DataFrame({"late": late, "short": short, "hole": hole, "flat": flat})
    out = fit_dcc_bivariate(system, banks)
    assert out["late"].status == "ok" and out["late"].nobs == 400 and out["late"].index[0] == 200
    assert out["short"].status.startswith("failed:ValueError:") and "min_obs=250" in out["short"].status
    assert "non-finite value nan at index 300" in out["hole"].status
    assert "is constant" in out["flat"].status
    assert not out["flat"].converged and np.isnan(out["flat"].a)
    with pytest.raises(ValueError, match="same index"):
        fit_dcc_bivariate(system, banks.iloc[1:])


def test_non_converged_univariate_fit_is_flagged_not_used(monkeypatch):
    from types import SimpleNamespace

    import measures.core.adapters.arch_adapter as adapter

    real = adapter.arch_model

    class NotConverged:
        def __init__(self, res):
            self._res = res
            self.convergence_flag = 9
            self.optimization_result = SimpleNamespace(message="forced non-convergence")

        def __getattr__(self, name):
            return getattr(self._res, name)

    class Model:
        def __init__(self, model):
            self._model = model

        def fit(self, **kwargs):
            return NotConverged(self._model.fit(**kwargs))

    monkeypatch.setattr(adapter, "arch_model", lambda *a, **k: Model(real(*a, **k)))
    rng = np.random.default_rng(2)
    r, _, _ = simulate_dcc_garch(400, GARCH[:2], TRUE_A, TRUE_B, QBAR3[:2, :2], rng)
    res = fit_dcc(r)
    assert res.univariate[0].status == "failed:ConvergenceError: forced non-convergence"
    assert res.status.startswith("failed:UnivariateFitFailed: series 'x0'")
    assert not res.converged and np.isnan(res.a) and np.isnan(res.correlation).all()


def test_hessian_and_sandwich_standard_errors_agree_under_correct_specification(simulated_pair, pair_fit):
    # Gaussian DGP: the information-matrix equality holds, so -H^-1 and H^-1 J H^-1 are close
    frame, _ = simulated_pair
    hess = fit_dcc(frame, config=DCCConfig(std_errors="hessian"))
    assert hess.a == pair_fit.a and hess.b == pair_fit.b
    np.testing.assert_allclose(hess.std_errors, pair_fit.std_errors, rtol=0.3)
    table = pair_fit.estimates()
    assert set(table["term"]) >= {"mu", "omega", "alpha", "gamma", "beta", "dcc_a", "dcc_b"}
    assert table.loc[table["term"] == "dcc_b", "t_stat"].iloc[0] == pytest.approx(pair_fit.b / pair_fit.std_errors[1])


def test_student_t_zero_mean_garch_option():
    rng = np.random.default_rng(44)
    t = 3000
    nu = 6.0
    shocks = rng.standard_t(nu, size=t) / np.sqrt(nu / (nu - 2))
    var = np.empty(t)
    r = np.empty(t)
    var[0] = 1e-4
    for k in range(t):
        if k:
            var[k] = 2e-6 + 0.08 * r[k - 1] ** 2 + 0.9 * var[k - 1]
        r[k] = np.sqrt(var[k]) * shocks[k]
    fit = fit_univariate_garch(r, vol="garch", dist="t", mean="zero")
    assert fit.status == "ok" and fit.param_names == ("omega", "alpha", "beta", "nu")
    assert abs(fit.param("nu") - nu) < 3 * fit.std_errors[3]
    assert abs(fit.param("alpha") - 0.08) < 3 * fit.std_errors[1]
    assert fit.param("gamma") == 0.0 and fit.param("mu") == 0.0
    with pytest.raises(ValueError, match="name='delta' is not a parameter"):
        fit.param("delta")
    with pytest.raises(ValueError, match="dist='skewt' is not allowed"):
        fit_univariate_garch(r, dist="skewt")


# ---------------------------------------------------------------- per-bank fits on a panel (the covar_dcc stage's science)


@pytest.fixture(scope="module")
def bank_panel() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(77)
    r, _, _ = simulate_dcc_garch(600, list(GARCH), TRUE_A, TRUE_B, QBAR3, rng)
    dates = pd.bdate_range("2015-01-01", periods=600)
    wide = pd.DataFrame({"A": r[:, 1], "B": r[:, 2], "C": r[:, 1] * 0.5 + r[:, 2] * 0.5, "D": np.nan}, index=dates)
    wide.iloc[100:103, 2] = np.nan  # C: three days without a return inside its span
    wide.iloc[:50, 1] = np.nan  # B: listed later (a shorter span, not a gap)
    return wide, pd.Series(r[:, 0], index=dates, name="__system__")


def test_fit_dcc_banks_samples_events_and_shared_system_fit(bank_panel):
    from measures.dcc import fit_dcc_banks, pair_samples

    wide, system = bank_panel
    samples, events = pair_samples(wide, system, missing="drop")
    assert len(samples["A"]) == 600 and len(samples["B"]) == 550 and len(samples["C"]) == 597 and len(samples["D"]) == 0
    assert events[["bank_id", "n_rows", "action", "reason"]].values.tolist() == [["C", 3, "excluded", "missing_return"]]
    assert events["date_start"].iloc[0] == wide.index[100] and events["date_end"].iloc[0] == wide.index[102]
    mapper = RecordingMapper()
    results, events = fit_dcc_banks(wide, system, DCCConfig(), mapper=mapper)
    assert list(results) == ["A", "B", "C", "D"]
    assert mapper.calls == [("system GARCH", 3), ("bank DCC fits", 4)]  # A, B, C have three different samples
    # each bank's fit is the plain bivariate fit of its own sample
    alone = fit_dcc_bivariate(system.loc[samples["C"]], wide.loc[samples["C"], ["C"]])["C"]
    assert results["C"].a == alone.a and np.array_equal(results["C"].sigma, alone.sigma, equal_nan=True)
    assert results["D"].status.startswith("failed:ValueError:") and results["D"].nobs == 0
    flagged = events[events.reason == "fit_failed"]
    assert flagged["bank_id"].tolist() == ["D"] and flagged["action"].tolist() == ["flagged"]
    # missing="fail": the inside gap fails C with a status naming the first missing date
    failed, events = fit_dcc_banks(wide, system, DCCConfig(), missing="fail")
    assert failed["C"].status.startswith("failed:ValueError:") and str(wide.index[100]) in failed["C"].status
    assert failed["A"].a == results["A"].a and "missing_return" not in set(events["reason"])
    with pytest.raises(ValueError, match="missing='zero' is not allowed"):
        fit_dcc_banks(wide, system, missing="zero")


def test_banks_with_one_sample_share_the_system_fit_and_the_mapper_changes_nothing(bank_panel):
    wide, system = bank_panel
    both = wide[["A", "B"]].iloc[50:]
    mapper = RecordingMapper()
    mapped = fit_dcc_bivariate(system.iloc[50:], both, mapper=mapper)
    serial = fit_dcc_bivariate(system.iloc[50:], both)
    assert mapper.calls == [("system GARCH", 1), ("bank DCC fits", 2)]
    assert mapped["A"].univariate[0] is mapped["B"].univariate[0]
    for bank in ("A", "B"):
        assert mapped[bank].a == serial[bank].a and np.array_equal(mapped[bank].correlation, serial[bank].correlation)


def test_estimates_frame_layout(bank_panel):
    from measures.dcc import estimates_frame, fit_dcc_banks

    wide, system = bank_panel
    results, _ = fit_dcc_banks(wide[["A", "D"]], system)
    est = estimates_frame(results)
    assert list(est.columns) == ["bank_id", "window_end", "term", "estimate", "std_error", "status"]
    a = est[est.bank_id == "A"].set_index("term")
    assert a.loc["dcc_a", "estimate"] == results["A"].a and a.loc["nobs", "estimate"] == 600
    assert a.loc["bank_gamma", "estimate"] == results["A"].univariate[1].param("gamma")
    assert (a["window_end"] == wide.index[-1]).all() and np.isnan(a.loc["loglik", "std_error"])
    d = est[est.bank_id == "D"]
    assert d["term"].tolist() == ["dcc_a", "dcc_b", "loglik", "nobs"] and d["window_end"].isna().all()
