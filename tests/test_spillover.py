"""Market-spillover ΔCoVaR and its decomposition (Fang–Chen–Yang 2018)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_covar_qr import RecordingMapper

from measures.core.config import ConfigError
from measures.core.status import NotEstimable
from measures.covar_qr import CoVaRConfig, estimate_delta_covar, loss_panel
from measures.spillover import (
    BANK_COLUMNS,
    SpilloverConfig,
    check_identity,
    decompose_spillover,
    estimate_market_spillover,
    estimate_spillover_banks,
    market_levels,
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


def test_errors() -> None:
    losses, system, M, _, _ = simulate(200, ["stock"])
    with pytest.raises(ValueError, match=r"weights has no column for bank\(s\) \['B'\]"):
        estimate_market_spillover(losses, system, M, pd.DataFrame({"A": 1.0}, index=losses.index))
    with pytest.raises(ValueError, match=r"window=1 is out of range"):
        SpilloverConfig(window=1)
    with pytest.raises(ValueError, match=r"window=500 is larger than the data \(n=200 rows\)"):
        estimate_market_spillover(losses, system, M, pd.DataFrame(1.0, index=losses.index, columns=["A", "B"]),
                                  SpilloverConfig(window=500))
    with pytest.raises(ConfigError, match=r"traditional='both' is not allowed; allowed values: 'lagged', 'same_window'"):
        SpilloverConfig(traditional="both")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) lag for SpilloverConfig; allowed options: max_failure_share, q, "
                                          r"states, step, traditional, window"):
        SpilloverConfig.from_mapping({"lag": 1})


def test_identity_check_catches_a_broken_table() -> None:
    frame = pd.DataFrame({"delta_m": [1.0], "gamma": [0.1], "beta": [0.5], "c": [0.2], "spillover": [0.2 + 1e-9]})
    with pytest.raises(AssertionError, match="identity"):
        check_identity(frame)
    frame["spillover"] = 0.2
    assert check_identity(frame) <= 1e-12


def long_panel(n: int = 400, markets: tuple[str, ...] = ("stock", "bond"), short: int = 0):
    """The simulated banks A, B (and a bank C with ``short`` rows) as the long tables of the pipeline."""
    losses, system, M, _, _ = simulate(n, list(markets))
    if short:
        losses["C"] = np.nan
        losses.iloc[-short:, 2] = losses["A"].iloc[-short:].to_numpy()
    returns = losses.stack().rename("loss").rename_axis(["date", "bank_id"]).reset_index()
    returns["weight"] = returns["bank_id"].map({"A": 3.0, "B": 1.0, "C": 1.0})
    return loss_panel(returns, system.rename("loss").rename_axis("date").reset_index(), M.rename_axis("date").reset_index())


def test_spillover_banks_tables_traditional_lagged_and_events() -> None:
    panel = long_panel(short=50)
    mapper = RecordingMapper()
    config = SpilloverConfig(window=120, step=10)
    res = estimate_spillover_banks(panel, config, mapper=mapper)
    assert mapper.calls == [("spillover per bank", 2), ("lagged ΔCoVaR per bank", 2)]
    assert list(res.banks.columns) == BANK_COLUMNS and set(res.banks["bank_id"]) == {"A", "B"}
    short = res.events[res.events.reason == "too_few_observations"]
    assert list(short["bank_id"]) == ["C"] and short["n_rows"].iloc[0] == 50
    # the traditional ΔCoVaR is the lagged-state one on the same windows, weighted 3:1
    lagged = {b: estimate_delta_covar(panel.losses[b], panel.system, panel.states,
                                      CoVaRConfig(estimation="rolling", window=120, step=10, lag=1))[0].set_index("date")
              for b in ("A", "B")}
    got = res.banks[(res.banks.bank_id == "A") & (res.banks.market == "bond")].set_index("date")["delta_covar"]
    want = lagged["A"]["delta_covar"].reindex(got.index)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    both = pd.concat({b: lagged[b]["delta_covar"] for b in lagged}, axis=1).dropna()
    idx = res.index.set_index("date")["traditional_index"].reindex(both.index).dropna()
    np.testing.assert_allclose(idx, ((3 * both["A"] + both["B"]) / 4).reindex(idx.index), rtol=1e-13)
    assert list(res.index.columns) == ["date", "improved_index", "traditional_index", "n_banks", "spill_stock", "spill_bond"]
    assert res.index["n_banks"].dtype == "int64" and res.channels["n_banks"].dtype == "int64"
    assert len(res.statuses) == res.banks.groupby(["bank_id", "date"]).ngroups and (res.statuses == "ok").all()
    weeks = res.index.groupby(res.index["date"].dt.to_period("W-FRI"))["date"].max()
    assert list(res.index_weekly["date"]) == list(weeks)
    res.check_estimable()


def test_spillover_banks_same_window_and_not_estimable() -> None:
    panel = long_panel()
    mapper = RecordingMapper()
    res = estimate_spillover_banks(panel, SpilloverConfig(window=120, step=20, traditional="same_window"), mapper=mapper)
    assert [d for d, _ in mapper.calls] == ["spillover per bank"]  # no extra fits
    direct = estimate_market_spillover(panel.losses, panel.system, panel.states, panel.weights, SpilloverConfig(window=120, step=20))
    np.testing.assert_array_equal(res.index["traditional_index"], direct.system["traditional_index"])
    empty = estimate_spillover_banks(panel, SpilloverConfig(window=1000))
    assert empty.banks.empty and sorted(empty.events["bank_id"]) == ["A", "B"]
    with pytest.raises(NotEstimable, match="no bank has 1000 usable days"):
        empty.check_estimable()


def test_bank_table_streamed_per_batch_and_the_bank_summary(monkeypatch) -> None:
    import measures.spillover as sp

    panel = long_panel()
    config = SpilloverConfig(window=120, step=10)
    whole = estimate_spillover_banks(panel, config)
    monkeypatch.setattr(sp, "BANK_BATCH", 1)
    parts = []
    streamed = estimate_spillover_banks(panel, config, banks=parts.append)
    assert streamed.banks is None and [list(p["bank_id"].unique()) for p in parts] == [["A"], ["B"]]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole.banks)
    pd.testing.assert_frame_equal(streamed.index, whole.index)
    # the summary: one row per bank, means over the ok windows (as the report computes them from the table)
    s = whole.summary.set_index("bank_id")
    b = whole.banks[whole.banks["status"] == "ok"].drop_duplicates(["bank_id", "date"])
    assert list(whole.summary.columns) == sp.SUMMARY_COLUMNS and list(s.index) == ["A", "B"]
    np.testing.assert_array_equal(s["delta_covar_m_mean"], b.groupby("bank_id")["delta_covar_m"].mean())
    np.testing.assert_array_equal(s["delta_covar_mean"], b.groupby("bank_id")["delta_covar"].mean())
    assert (s["n_windows"] == b.groupby("bank_id").size()).all() and (s["n_ok"] == s["n_windows"]).all()
    assert (s["first_date"] == b.groupby("bank_id")["date"].min()).all()
