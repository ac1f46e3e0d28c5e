"""CoES / ΔCoES: the Gaussian DCC closed form and the quantile-regression grid estimator.

DCC: the closed form against numerical integration of the conditional normal law (scipy quad).
QR: known truth on a simulated location-scale model whose conditional quantiles are known;
the reference is an independent LP solve of every regression of the grid (scipy HiGHS); the
rolling and expanding values equal full-sample fits on each window's rows.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq, linprog
from scipy.special import ndtri
from scipy.stats import norm

import measures.systemic.covar_dcc  # noqa: F401
from measures.covar_qr import CoVaRConfig, estimate_delta_covar, estimate_delta_covar_banks, loss_panel
from measures.dcc import fit_dcc_banks
from measures.systemic import covar_dcc_frame

cd = sys.modules["measures.systemic.covar_dcc"]
Q = 0.95


# ----------------------------------------------------------------------------- DCC closed form

def _conditional_tail(rho: float, s_sys: float, s_i: float, x_i: float) -> tuple[float, float]:
    """CoVaR and CoES of X_sys given X_i = x_i, from the bivariate density by quadrature."""
    cov = np.array([[s_sys**2, rho * s_sys * s_i], [rho * s_sys * s_i, s_i**2]])
    inv, det = np.linalg.inv(cov), np.linalg.det(cov)

    def dens(x):  # f(x, x_i) / f_i(x_i)
        v = np.array([x, x_i])
        return np.exp(-0.5 * v @ inv @ v) / (2 * np.pi * np.sqrt(det)) / norm.pdf(x_i, scale=s_i)

    lim = 40 * s_sys
    covar = brentq(lambda c: quad(dens, c, lim, epsabs=1e-14)[0] - (1 - Q), -lim / 4, lim / 4, xtol=1e-15)
    coes = quad(lambda x: x * dens(x), covar, lim, epsabs=1e-14)[0] / (1 - Q)
    return covar, coes


@pytest.mark.parametrize("rho", [-0.4, 0.0, 0.5, 0.9])
def test_dcc_equal_coes_closed_form_equals_numerical_integration(rho):
    s_sys, s_i = 0.015, 0.025
    out = cd.conditional_measures_dcc([rho], [s_sys], q=Q, conditioning="equal")
    covar, coes = _conditional_tail(rho, s_sys, s_i, float(ndtri(Q)) * s_i)
    covar_m, coes_m = _conditional_tail(rho, s_sys, s_i, 0.0)
    assert out["covar"][0] == pytest.approx(covar, rel=1e-7, abs=1e-12)
    assert out["coes"][0] == pytest.approx(coes, rel=1e-7)
    assert out["delta_coes"][0] == pytest.approx(coes - coes_m, rel=1e-6, abs=1e-12)
    assert out["delta_covar"][0] == pytest.approx(covar - covar_m, rel=1e-6, abs=1e-12)


def test_dcc_frame_adds_the_columns_and_keeps_delta_covar(tmp_path):
    """covar_dcc_frame: the new columns beside ΔCoVaR; a process pool gives the serial frame exactly."""
    from pool_mapper import PoolMapper

    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2020-01-01", periods=400)
    z_sys = rng.standard_normal(400)
    wide = pd.DataFrame({b: 0.01 * (0.7 * z_sys + 0.7 * rng.standard_normal(400)) for b in ("A", "B")}, index=dates)
    system = pd.Series(0.01 * z_sys, index=dates, name="__system__")
    results, _ = fit_dcc_banks(wide, system)
    serial = covar_dcc_frame(results, q=Q)
    assert list(serial.columns) == ["bank_id", "date", "sigma_bank", "sigma_sys", "rho", "delta_covar", "covar", "coes",
                                    "delta_coes", "status"]
    np.testing.assert_array_equal(serial["delta_covar"], norm.ppf(Q) * serial["rho"] * serial["sigma_sys"])
    np.testing.assert_array_equal(serial["delta_coes"], serial["delta_covar"])
    pool = PoolMapper()
    try:
        for conditioning in ("equal", "at_or_below"):
            frame = covar_dcc_frame(results, q=Q, conditioning=conditioning)
            assert frame.equals(covar_dcc_frame(results, q=Q, conditioning=conditioning, mapper=pool))
    finally:
        pool.close()
    ge = covar_dcc_frame(results, q=Q, conditioning="at_or_below")
    assert (ge["covar"] > serial["covar"]).all() and (ge["coes"] > ge["covar"]).all()


# ----------------------------------------------------------------------------- quantile regression

B_SLOPE, G_SLOPE, C_STATE = 0.5, 0.2, 0.3


def _simulated(n: int, seed: int = 0) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """X_i ~ N(0, 1) iid; X_sys = 0.5 X_i + 0.3 M + (1 + 0.2 X_i) e, e ~ N(0, 1), M ~ N(0, 1) (lag 0).

    Q_sys(τ | X_i, M) = 0.5 X_i + 0.3 M + (1 + 0.2 X_i) Φ^{-1}(τ): β(τ) = 0.5 + 0.2 Φ^{-1}(τ).
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2000-01-03", periods=n)
    xi, m, e = rng.standard_normal((3, n))
    xs = B_SLOPE * xi + C_STATE * m + (1 + G_SLOPE * xi) * e
    return pd.Series(xi, dates), pd.Series(xs, dates), pd.DataFrame({"m": m}, index=dates)


def _grid(J: int = 4) -> np.ndarray:
    return Q + (1 - Q) * (np.arange(1, J + 1) - 0.5) / J


@pytest.fixture(scope="module")
def big():
    bank, system, states = _simulated(40_000)
    values, _ = estimate_delta_covar(bank, system, states, CoVaRConfig(lag=0, min_obs=100), inference=False)
    return bank, system, states, values


def test_qr_coes_known_truth_location_scale(big):
    """True CoES on the grid and ΔCoES = mean_j β(τ_j) (VaR(q) − VaR(0.5)), not ΔCoVaR."""
    _, _, states, v = big
    zj = ndtri(_grid())
    m = states["m"].to_numpy()
    var_q, var_med = ndtri(Q), 0.0
    true_coes = B_SLOPE * var_q + C_STATE * m + (1 + G_SLOPE * var_q) * zj.mean()
    true_delta = (B_SLOPE + G_SLOPE * zj.mean()) * (var_q - var_med)
    np.testing.assert_allclose(v["coes"], true_coes, atol=0.05)
    assert v["delta_coes"].mean() == pytest.approx(true_delta, abs=0.02)
    assert v["delta_covar"].mean() == pytest.approx((B_SLOPE + G_SLOPE * ndtri(Q)) * var_q, abs=0.04)
    assert (v["delta_coes"] > v["delta_covar"]).all()  # β rises with τ here
    # the midpoint grid's own bias against the exact ES of the innovation (documented in docs/covar.md)
    assert zj.mean() == pytest.approx(norm.pdf(ndtri(Q)) / (1 - Q), rel=0.015)


def _lp_quantreg(y: np.ndarray, X: np.ndarray, tau: float) -> np.ndarray:
    """min Σ ρ_τ(y − Xb) as an LP (scipy HiGHS), independent of the project's simplex."""
    n, p = X.shape
    c = np.concatenate([np.zeros(2 * p), tau * np.ones(n), (1 - tau) * np.ones(n)])
    A = np.hstack([X, -X, np.eye(n), -np.eye(n)])
    res = linprog(c, A_eq=A, b_eq=y, bounds=(0, None), method="highs")
    return res.x[:p] - res.x[p:2 * p]


def test_qr_coes_equals_an_independent_lp_solve_of_the_grid():
    bank, system, states = _simulated(600, seed=4)
    v, _ = estimate_delta_covar(bank, system, states, CoVaRConfig(lag=0, min_obs=100), inference=False)
    ones = np.ones(600)
    Xb = np.column_stack([ones, states["m"]])
    Xs = np.column_stack([ones, bank, states["m"]])
    a_q, a_m = _lp_quantreg(bank.to_numpy(), Xb, Q), _lp_quantreg(bank.to_numpy(), Xb, 0.5)
    var_q, var_med = Xb @ a_q, Xb @ a_m
    tails = np.array([_lp_quantreg(system.to_numpy(), Xs, t) for t in _grid()])
    coes = np.mean([t[0] + t[1] * var_q + t[2] * states["m"].to_numpy() for t in tails], axis=0)
    delta = tails[:, 1].mean() * (var_q - var_med)
    np.testing.assert_allclose(v["coes"], coes, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(v["delta_coes"], delta, rtol=1e-7, atol=1e-9)


def test_qr_rolling_and_expanding_coes_equal_full_fits_on_each_window():
    bank, system, states = _simulated(420, seed=9)
    roll, _ = estimate_delta_covar(bank, system, states, CoVaRConfig(lag=0, estimation="rolling", window=300, step=60),
                                   inference=False)
    exp, _ = estimate_delta_covar(bank, system, states, CoVaRConfig(lag=0, estimation="expanding", min_obs=300,
                                                                    refit_every=60), inference=False)
    full = CoVaRConfig(lag=0, min_obs=10)
    for k, end in enumerate(roll["date"]):
        stop = bank.index.get_loc(end) + 1
        ref, _ = estimate_delta_covar(bank.iloc[stop - 300:stop], system.iloc[stop - 300:stop],
                                      states.iloc[stop - 300:stop], full, inference=False)
        np.testing.assert_allclose(roll.loc[k, ["coes", "delta_coes"]].to_numpy(float),
                                   ref.iloc[-1][["coes", "delta_coes"]].to_numpy(float), rtol=1e-9)
    ref, _ = estimate_delta_covar(bank.iloc[:360], system.iloc[:360], states.iloc[:360], full, inference=False)
    row = exp[exp["date"] == bank.index[359]].iloc[0]  # the second fit ends at row 360
    np.testing.assert_allclose(row[["coes", "delta_coes"]].to_numpy(float),
                               ref.iloc[-1][["coes", "delta_coes"]].to_numpy(float), rtol=1e-9)


def test_qr_coes_levels_zero_skips_the_fits_and_leaves_the_rest_unchanged(big):
    bank, system, states, _ = big
    n = 2_000
    args = (bank.iloc[:n], system.iloc[:n], states.iloc[:n])
    with_coes, coef_a = estimate_delta_covar(*args, CoVaRConfig(lag=0, min_obs=100))
    without, coef_b = estimate_delta_covar(*args, CoVaRConfig(lag=0, min_obs=100, coes_levels=0))
    assert without[["coes", "delta_coes"]].isna().all().all()
    cols = ["date", "var_q", "var_med", "covar", "delta_covar", "status"]
    assert with_coes[cols].equals(without[cols]) and coef_a.equals(coef_b)


def test_qr_rank_deficient_window_leaves_coes_missing_with_one_record():
    """A window with a constant state fails (status, NaN); its CoES is NaN too and not recorded twice."""
    bank, system, states = _simulated(400, seed=2)
    states = states.copy()
    states.iloc[100:260, 0] = 1.0  # constant over rows 100..259: windows of 120 inside it are rank-deficient
    losses = pd.DataFrame({"A": bank})
    panel = loss_panel(
        pd.DataFrame({"bank_id": "A", "date": bank.index, "loss": bank.to_numpy(), "weight": 1.0}),
        pd.DataFrame({"date": system.index, "loss": system.to_numpy()}),
        states.reset_index().rename(columns={"index": "date"}))
    assert list(panel.losses.columns) == list(losses.columns)
    out = estimate_delta_covar_banks(panel, CoVaRConfig(lag=0, estimation="rolling", window=120, step=10))
    failed = out.values["status"].str.startswith("failed")
    assert failed.any() and out.values.loc[failed, ["coes", "delta_coes"]].isna().all().all()
    assert out.values.loc[~failed, ["coes", "delta_coes"]].notna().all().all()
    assert not out.events["detail"].str.contains("CoES").any()


def test_bad_input_covar_qr_coes_levels_out_of_range():
    from measures.core.config import ConfigError

    with pytest.raises(ConfigError, match=r"coes_levels"):
        CoVaRConfig(coes_levels=-1)
    with pytest.raises(ConfigError, match=r"coes_levels"):
        CoVaRConfig(coes_levels=2.5)
