"""Diebold–Yilmaz connectedness: generalized FEVD vs statsmodels, known answers, identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.contagion import (
    ConnectednessConfig,
    connectedness_measures,
    estimate_connectedness,
    estimate_rolling_connectedness,
    generalized_fevd,
    window_connectedness,
)
from measures.core.adapters.statsmodels_adapter import (
    process_orthogonal_fevd,
    var_fit_arrays,
    var_orthogonal_fevd,
)


def simulate(coefs: list[np.ndarray], chol: np.ndarray, n_obs: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n, p = chol.shape[0], len(coefs)
    y = np.zeros((n_obs + 100, n))
    for t in range(p, n_obs + 100):
        y[t] = sum(a @ y[t - 1 - l] for l, a in enumerate(coefs)) + chol @ rng.standard_normal(n)
    return y[100:]


def frame(y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(y, columns=[f"b{k}" for k in range(y.shape[1])],
                        index=pd.bdate_range("2013-01-01", periods=len(y)))


CHOL = np.linalg.cholesky(np.array([[1.0, 0.5, 0.2, 0.1], [0.5, 1.0, 0.3, 0.0], [0.2, 0.3, 1.0, 0.4],
                                    [0.1, 0.0, 0.4, 1.0]]))
A1 = np.array([[0.3, 0.1, 0.0, 0.0], [0.2, 0.2, 0.1, 0.0], [0.0, 0.3, 0.1, 0.1], [0.1, 0.0, 0.0, 0.2]])
A2 = 0.1 * np.eye(4)


@pytest.mark.parametrize("horizon", [1, 4, 10])
def test_generalized_fevd_equals_statsmodels_cholesky_with_shock_first(horizon):
    """θ_ij (unnormalized) is statsmodels' orthogonalized FEVD share of i due to shock j when j is ordered first."""
    y = simulate([A1, A2], CHOL, 400, seed=1)
    fit = var_fit_arrays(y, lags=2)
    theta = generalized_fevd(fit["coefs"], fit["sigma_u"], horizon=horizon, normalize=False)
    for j in range(4):
        order = [j] + [k for k in range(4) if k != j]
        ref = var_orthogonal_fevd(y[:, order], lags=2, horizon=horizon)
        assert ref["status"] == "ok"
        column = np.empty(4)
        column[order] = ref["decomp"][:, 0]
        np.testing.assert_allclose(theta[:, j], column, atol=1e-12, rtol=0)
    assert (theta.sum(axis=1) > 1).all()  # correlated shocks: generalized shares overlap before normalizing


def test_generalized_equals_orthogonalized_fevd_with_diagonal_covariance():
    """With Σ diagonal the generalized and the Cholesky FEVD coincide (statsmodels' FEVD formula
    on a VARProcess with that exact Σ); that formula equals statsmodels' FEVD on a fitted VAR."""
    y = simulate([A1, A2], CHOL, 300, seed=2)
    fit = var_fit_arrays(y, lags=2)
    process = process_orthogonal_fevd(fit["coefs"], fit["sigma_u"], horizon=6)
    np.testing.assert_allclose(process["decomp"], var_orthogonal_fevd(y, lags=2, horizon=6)["decomp"], atol=1e-13)
    diag = np.diag([1.0, 2.0, 0.5, 1.5])
    ours = generalized_fevd(fit["coefs"], diag, horizon=6)
    ref = process_orthogonal_fevd(fit["coefs"], diag, horizon=6)
    assert ref["status"] == "ok"
    np.testing.assert_allclose(ours, ref["decomp"], atol=1e-13, rtol=0)
    np.testing.assert_allclose(ours, generalized_fevd(fit["coefs"], diag, horizon=6, normalize=False), atol=1e-14)
    assert (ours[~np.eye(4, dtype=bool)] > 0).all()  # cross shares come through the lag matrices


def test_zero_cross_dependence_gives_zero_connectedness():
    coefs = np.stack([np.diag([0.5, -0.3, 0.8]), np.diag([0.1, 0.1, 0.0])])
    theta = generalized_fevd(coefs, np.diag([1.0, 4.0, 0.2]), horizon=12)
    np.testing.assert_array_equal(theta, np.eye(3))
    c = connectedness_measures(theta, pd.Index(["x", "y", "z"]))
    assert c.total == 0.0 and (c.to == 0).all() and (c.from_ == 0).all() and (c.net == 0).all()


def test_block_structure_has_no_cross_block_connectedness():
    a = np.zeros((4, 4))
    a[:2, :2] = [[0.4, 0.2], [0.3, 0.1]]
    a[2:, 2:] = [[0.2, 0.0], [0.5, 0.3]]
    sigma = np.zeros((4, 4))
    sigma[:2, :2] = [[1.0, 0.4], [0.4, 1.0]]
    sigma[2:, 2:] = [[2.0, -0.5], [-0.5, 1.0]]
    theta = generalized_fevd(a[None], sigma, horizon=8)
    assert (theta[:2, 2:] == 0).all() and (theta[2:, :2] == 0).all()
    assert (theta[:2, :2] > 0).all() and (theta[2:, 2:] > 0).all()


@pytest.mark.parametrize("rho", [0.0, 0.3, -0.8])
def test_hand_computed_two_variable_horizon_one(rho):
    """H = 1: θ_ij = Σ_ij² / (σ_ii σ_jj), so the cross share is ρ² / (1 + ρ²) whatever the VAR coefficients."""
    theta = generalized_fevd(np.array([[[0.5, 0.2], [0.1, 0.3]]]), np.array([[1.0, rho], [rho, 1.0]]), horizon=1)
    cross = rho**2 / (1 + rho**2)
    np.testing.assert_allclose(theta, [[1 - cross, cross], [cross, 1 - cross]], atol=1e-15)
    c = connectedness_measures(theta, pd.Index(["a", "b"]))
    assert c.total == pytest.approx(100 * cross, abs=1e-12)


def test_hand_computed_two_variable_horizon_two():
    """A = [[a, 0], [b, 0]], Σ = I, H = 2: θ_21 = b² / (1 + b²), nothing flows from 2 to 1."""
    a, b = 0.5, 0.8
    theta = generalized_fevd(np.array([[[a, 0.0], [b, 0.0]]]), np.eye(2), horizon=2)
    share = b**2 / (1 + b**2)
    np.testing.assert_allclose(theta, [[1.0, 0.0], [share, 1 - share]], atol=1e-15)
    c = connectedness_measures(theta, pd.Index(["a", "b"]))
    assert c.to["a"] == pytest.approx(100 * share) and c.from_["b"] == pytest.approx(100 * share)
    assert c.net["a"] == pytest.approx(100 * share) and c.net["b"] == pytest.approx(-100 * share)
    assert c.net_pairwise.loc["a", "b"] == pytest.approx(100 * share)
    assert c.total == pytest.approx(50 * share)


def test_connectedness_identities_on_estimated_var():
    c = estimate_connectedness(frame(simulate([A1, A2], CHOL, 500, seed=3)), horizon=10, max_lags=4)
    assert c.lags in (1, 2) and c.nobs == 500 - c.lags and c.horizon == 10
    np.testing.assert_allclose(c.table.sum(axis=1), 100.0, atol=1e-10)
    assert c.to.sum() == pytest.approx(c.from_.sum()) and c.to.sum() == pytest.approx(4 * c.total)
    assert c.net.sum() == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(c.net_pairwise.to_numpy(), -c.net_pairwise.to_numpy().T, atol=1e-12)
    np.testing.assert_allclose(c.net_pairwise.sum(axis=1).to_numpy(), c.net.to_numpy(), atol=1e-10)
    assert 0 < c.total < 100


def test_rolling_connectedness_equals_full_sample_per_window():
    df = frame(simulate([A1], CHOL, 300, seed=4))
    roll = estimate_rolling_connectedness(df, window=150, step=75, horizon=5, lags=1)
    assert roll.total.window_end.tolist() == [df.index[149], df.index[224], df.index[299]]
    for k, end in enumerate(roll.total.window_end):
        stop = df.index.get_loc(end) + 1
        c = estimate_connectedness(df.iloc[stop - 150 : stop], horizon=5, lags=1)  # the FEVD is scale-invariant
        assert roll.total.total.iloc[k] == pytest.approx(c.total, abs=1e-10)
        got = roll.directional[roll.directional.window_end == end]
        np.testing.assert_allclose(got["net"].to_numpy(), c.net.to_numpy(), atol=1e-10)
    assert len(roll.directional) == 3 * 4 and (roll.total.status == "ok").all() and (roll.total.n_banks == 4).all()


def test_rolling_connectedness_screens_banks_and_keeps_failed_windows():
    df = frame(simulate([A1], CHOL, 300, seed=5))
    df.iloc[:200, 3] = np.nan  # b3 is observed only in the last 100 rows
    df.iloc[100:, 2] = 1.0  # b2 is constant from row 100 on
    roll = estimate_rolling_connectedness(df, window=100, step=100, horizon=5, lags=1, min_obs=80)
    assert roll.total.n_banks.tolist() == [3, 2, 3]
    by_end = roll.directional.groupby("window_end").bank_id.apply(list)
    assert by_end.tolist() == [["b0", "b1", "b2"], ["b0", "b1"], ["b0", "b1", "b3"]]
    # a window with fewer than two banks, or too small for its VAR, keeps a failed row and no directional rows
    thin = estimate_rolling_connectedness(df.iloc[100:200].assign(b1=2.0), window=100, min_obs=80, lags=1)
    assert thin.total.status.tolist() == ["failed:ValueError: 1 bank(s) with min_obs=80 observations; need 2"]
    assert thin.directional.empty and np.isnan(thin.total.total.iloc[0])
    big = estimate_rolling_connectedness(frame(np.random.default_rng(0).standard_normal((60, 10))), window=30, lags=3)
    assert len(big.total) == 7 and big.total.status.str.startswith("failed:ValueError: system VAR too large").all()
    short = estimate_rolling_connectedness(df.iloc[:50], window=100)
    assert short.total.empty and list(short.total.columns) == ["window_end", "n_banks", "total", "lags", "nobs", "status"]


def test_window_connectedness_uses_each_windows_banks():
    df = frame(simulate([A1], CHOL, 200, seed=6))
    windows = pd.DataFrame({"year": [1, 1, 1, 2, 2], "bank_id": ["b0", "b1", "b2", "b1", "b3"],
                            "date_start": [df.index[0]] * 3 + [df.index[100]] * 2,
                            "date_end": [df.index[99]] * 3 + [df.index[199]] * 2})
    directional, failed = window_connectedness(df, windows, key="year", horizon=5, lags=1)
    assert failed.empty and directional.groupby("year").bank_id.apply(list).tolist() == [["b0", "b1", "b2"], ["b1", "b3"]]
    c = estimate_connectedness(df.iloc[100:200][["b1", "b3"]], horizon=5, lags=1)
    np.testing.assert_allclose(directional[directional.year == 2]["to"], c.to.to_numpy(), atol=1e-10)
    directional, failed = window_connectedness(df, windows, key="year", lags=40)
    assert directional.empty and failed.year.tolist() == [1, 2]
    assert failed.status.str.startswith("failed:ValueError: system VAR too large").all()


def test_connectedness_results_do_not_depend_on_the_mapper():
    class Reversed:
        def map(self, fn, items, *, desc=""):
            return [fn(x) for x in items[::-1]][::-1]

    df = frame(simulate([A1], CHOL, 300, seed=7))
    a = estimate_rolling_connectedness(df, window=100, step=50, lags=1)
    b = estimate_rolling_connectedness(df, window=100, step=50, lags=1, mapper=Reversed())
    pd.testing.assert_frame_equal(a.total, b.total)
    pd.testing.assert_frame_equal(a.directional, b.directional)


def test_connectedness_config_validates():
    assert ConnectednessConfig() == ConnectednessConfig.from_mapping({"horizon": 10, "window": 250, "step": 5, "lags": None})
    with pytest.raises(ValueError, match=r"contagion.connectedness: horizon=0 is out of range"):
        ConnectednessConfig.from_mapping({"horizon": 0}, where="contagion.connectedness")
    with pytest.raises(ValueError, match="unknown option.*h for ConnectednessConfig"):
        ConnectednessConfig.from_mapping({"h": 1})


def test_connectedness_errors():
    with pytest.raises(ValueError, match="horizon=0 is out of range"):
        generalized_fevd(np.zeros((1, 2, 2)), np.eye(2), horizon=0)
    with pytest.raises(ValueError, match=r"coefs must be \(p, N, N\) and sigma_u \(N, N\); got \(1, 2, 2\) and \(3, 3\)"):
        generalized_fevd(np.zeros((1, 2, 2)), np.eye(3), horizon=2)
    with pytest.raises(ValueError, match="positive diagonal"):
        generalized_fevd(np.zeros((1, 2, 2)), np.diag([1.0, 0.0]), horizon=2)
    with pytest.raises(ValueError, match=r"N=10 series at lag order 3 need 31 parameters .* 27 observations"):
        estimate_connectedness(frame(np.random.default_rng(0).standard_normal((30, 10))), lags=3)
