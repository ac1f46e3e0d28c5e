"""Market-spillover ΔCoVaR and its decomposition (METHODS §1.3, seed 004)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.spillover import (
    SpilloverConfig,
    decompose_spillover,
    estimate_market_spillover,
    market_levels,
    weekly_last,
)

FIVE = ["real_estate", "stock", "money", "bond", "fx"]


def random_coefficients(K: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    bank_q = rng.normal(size=(K, 1 + k))
    bank_med = rng.normal(size=(K, 1 + k))
    system = rng.normal(size=(K, 2 + k))
    normal = rng.normal(size=(K, k))
    stress = normal + rng.uniform(0, 2, size=(K, k))
    return bank_q, bank_med, system, stress, normal


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_identity_holds_to_1e12(k: int) -> None:
    bank_q, bank_med, system, stress, normal = random_coefficients(500, k, seed=k)
    out = decompose_spillover(bank_q, bank_med, system, stress, normal)
    beta, gamma = system[:, 1], system[:, 2:]
    identity = (stress - normal) * (gamma + beta[:, None] * bank_q[:, 1:])
    assert np.abs(out["spillover"] - identity).max() <= 1e-12
    np.testing.assert_array_equal(out["own_risk"], stress - normal)
    np.testing.assert_array_equal(out["risk_taking"], bank_q[:, 1:])
    np.testing.assert_array_equal(out["information"], gamma)
    np.testing.assert_array_equal(out["connectedness"], beta)


def test_hand_computed_single_market() -> None:
    """One market: a^q=1, c^q=2, a^.5=0.5, c^.5=1; alpha=0.1, beta=0.5, gamma=0.3; Ms=2, Mn=1."""
    out = decompose_spillover(
        np.array([[1.0, 2.0]]), np.array([[0.5, 1.0]]), np.array([[0.1, 0.5, 0.3]]),
        np.array([[2.0]]), np.array([[1.0]]), current=np.array([[1.5]]),
    )
    covar_stress = 0.1 + 0.5 * (1 + 2 * 2) + 0.3 * 2  # 3.2
    covar_normal = 0.1 + 0.5 * (0.5 + 1 * 1) + 0.3 * 1  # 1.15
    assert out["delta_covar_m"][0] == pytest.approx(covar_stress - covar_normal, abs=1e-15)
    assert out["spillover"][0, 0] == pytest.approx((2 - 1) * (0.3 + 0.5 * 2), abs=1e-15)
    assert out["delta_covar"][0] == pytest.approx(0.5 * ((1 + 2 * 1.5) - (0.5 + 1.5)), abs=1e-15)


def test_market_levels_match_pandas_rolling_quantile() -> None:
    rng = np.random.default_rng(1)
    M = rng.normal(size=(300, 3))
    stress, normal = market_levels(M, 120, 0.95, step=7)
    ref = pd.DataFrame(M).rolling(120)
    np.testing.assert_allclose(stress, ref.quantile(0.95).to_numpy()[119::7], rtol=1e-13)
    np.testing.assert_allclose(normal, ref.median().to_numpy()[119::7], rtol=1e-13)


def simulate(n: int, markets: list[str], seed: int = 4):
    """States U(0,1); bank X_i = 0.01 c'M + 0.01 u; system = 0.5 X_bank + 0.01 g'M + small noise."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2012-01-02", periods=n)
    k = len(markets)
    M = pd.DataFrame(rng.uniform(0, 1, size=(n, k)), index=idx, columns=markets)
    c = np.linspace(0.5, 1.5, k)
    g = np.linspace(0.2, -0.2, k)
    losses = pd.DataFrame(
        {b: 0.01 * (M.to_numpy() @ c) + 0.01 * rng.standard_normal(n) for b in ("A", "B")}, index=idx
    )
    system = 0.5 * losses.mean(axis=1) + 0.01 * (M.to_numpy() @ g) + 0.002 * rng.standard_normal(n)
    return losses, system, M, c, g


def test_known_truth_channels_and_spillover() -> None:
    markets = FIVE
    losses, system, M, c, g = simulate(6000, markets)
    weights = pd.DataFrame(1.0, index=losses.index, columns=losses.columns)
    result = estimate_market_spillover(
        losses[["A"]], system, M, weights[["A"]], SpilloverConfig(q=0.95, window=3000, step=1500)
    )
    ch = result.channels.set_index("market")
    dM = 0.95 - 0.5  # quantiles of U(0,1)
    for k, name in enumerate(markets):
        row = ch.loc[name].iloc[0]
        assert row["own_risk"] == pytest.approx(dM, abs=0.03)
        assert row["risk_taking"] == pytest.approx(0.01 * c[k], abs=0.003)
        # X_sys = 0.25 X_A + 0.25 X_B + 0.01 g'M + e and X_B = 0.01 c'M + noise independent of X_A:
        # given (X_A, M) the system quantile has beta = 0.25 and gamma = 0.0025 c + 0.01 g (+ const)
        assert row["connectedness"] == pytest.approx(0.25, abs=0.03)
        assert row["information"] == pytest.approx(0.0025 * c[k] + 0.01 * g[k], abs=0.0015)
        truth = dM * (0.0025 * c[k] + 0.01 * g[k] + 0.25 * 0.01 * c[k])
        assert row["spillover"] == pytest.approx(truth, abs=0.0015)
        assert row["spillover"] == pytest.approx(
            row["own_risk"] * (row["information"] + row["connectedness"] * row["risk_taking"]), abs=1e-12
        )
    assert (result.banks["status"] == "ok").all()


def test_weighted_indices_and_any_subset_of_markets() -> None:
    for markets in (["stock"], ["money", "fx"], FIVE, ["VIX", "TED_SPREAD"]):
        losses, system, M, _, _ = simulate(400, markets, seed=len(markets))
        weights = pd.DataFrame({"A": 3.0, "B": 1.0}, index=losses.index)
        result = estimate_market_spillover(losses, system, M, weights, SpilloverConfig(window=120, step=10))
        banks = result.banks.pivot(index="date", columns="bank_id", values="delta_covar_m")
        expected = (3 * banks["A"] + banks["B"]) / 4
        got = result.system.set_index("date")["improved_index"]
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-13)
        assert set(result.markets["market"]) == set(markets)
        assert len(result.system) == (400 - 120) // 10 + 1
        spill = result.channels.pivot_table(index="date", columns=["market"], values="spillover", aggfunc="mean")
        assert spill.shape[1] == len(markets)


def test_weights_renormalised_when_a_bank_is_missing() -> None:
    losses, system, M, _, _ = simulate(400, ["stock", "bond"])
    losses.loc[losses.index[:200], "B"] = np.nan
    weights = pd.DataFrame({"A": 3.0, "B": 1.0}, index=losses.index)
    result = estimate_market_spillover(losses, system, M, weights, SpilloverConfig(window=120, step=20))
    first = result.system.iloc[0]
    assert first["n_banks"] == 1
    a = result.banks[(result.banks.bank_id == "A") & (result.banks.date == first["date"])]
    assert first["improved_index"] == pytest.approx(a["delta_covar_m"].iloc[0], rel=1e-14)


def test_weekly_last_takes_the_last_trading_day_of_each_week() -> None:
    idx = pd.bdate_range("2024-01-01", "2024-01-31").drop(pd.Timestamp("2024-01-19"))  # a Friday holiday
    frame = pd.DataFrame({"date": idx, "x": np.arange(len(idx))})
    weekly = weekly_last(frame)
    days = list(weekly["date"].dt.strftime("%Y-%m-%d"))
    assert days == ["2024-01-05", "2024-01-12", "2024-01-18", "2024-01-26", "2024-01-31"]


def test_errors() -> None:
    losses, system, M, _, _ = simulate(200, ["stock"])
    with pytest.raises(ValueError, match=r"weights has no column for bank\(s\) \['B'\]"):
        estimate_market_spillover(losses, system, M, pd.DataFrame({"A": 1.0}, index=losses.index))
    with pytest.raises(ValueError, match=r"window=1 is out of range"):
        SpilloverConfig(window=1)
    with pytest.raises(ValueError, match=r"window=500 is larger than the data \(n=200 rows\)"):
        estimate_market_spillover(losses, system, M, pd.DataFrame(1.0, index=losses.index, columns=["A", "B"]),
                                  SpilloverConfig(window=500))
