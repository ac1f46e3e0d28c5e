"""Bank–asset cascade (Fan–Rong–Duan, docs/cascade.md): hand-computed toys, fixed point, monotonicity,
hierarchy, failure boundaries, errors, and a 263-bank synthetic cross-section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.core.status import FitStatus, is_failed
from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import CascadeConfig, cascade
from measures.stress.failure_boundary import failure_boundaries, group_failure_boundary
from measures.stress.maxent import max_entropy_matrix


# ---------------------------------------------------------------------------- toy networks
def chain_network() -> BankAssetNetwork:
    """0 <- 1 <- 2: bank 1 lent 8 to bank 0, bank 2 lent 6 to bank 1; one asset class of 10 each."""
    x = np.zeros((3, 3))
    x[1, 0], x[2, 1] = 8.0, 6.0
    return BankAssetNetwork([10.0, 10.0, 10.0], x, [1.0, 3.0, 0.2])


def random_network(seed: int, n: int = 30, n_classes: int = 3) -> BankAssetNetwork:
    rng = np.random.default_rng(seed)
    assets = rng.lognormal(3.0, 1.0, n)
    ib_a = assets * rng.uniform(0.05, 0.25, n)
    ib_l = assets * rng.uniform(0.05, 0.25, n)
    ib_l *= ib_a.sum() / ib_l.sum()
    est = max_entropy_matrix(ib_a, ib_l)
    assert est.status == "ok"
    holdings = rng.dirichlet(np.ones(n_classes), n) * (assets - ib_a)[:, None]
    holdings *= rng.uniform(size=(n, n_classes)) > 0.2
    a_fit, l_fit = est.matrix.sum(axis=1), est.matrix.sum(axis=0)
    other = 0.05 * assets + np.maximum(0.0, l_fit - a_fit - holdings.sum(axis=1))
    room = holdings.sum(axis=1) + other + a_fit - l_fit
    capital = np.minimum(assets * rng.uniform(0.04, 0.12, n), room)
    return BankAssetNetwork(holdings, est.matrix, capital, other_assets=other)


# ---------------------------------------------------------------------------- known truth
def test_chain_failure_topples_the_next_bank_through_interbank_losses_only() -> None:
    net = chain_network()
    np.testing.assert_allclose(net.other_liabilities, [1.0, 9.0, 15.8])
    res = cascade(net, external_loss=[0.5, 0.0, 0.0], beta=0.0)
    assert res.status == "ok"
    np.testing.assert_array_equal(res.layer, [1, 2, 3])
    assert res.rounds == 3
    assert [h.tolist() for h in res.hierarchy()] == [[0], [1], [2]]
    # r0 = 5 / (8 + 1); r1 = (10 + 8 r0) / (6 + 9) = 26/27; r2 = (10 + 6 r1) / 15.8
    np.testing.assert_allclose(res.recovery, [5 / 9, 26 / 27, (10 + 6 * 26 / 27) / 15.8], rtol=1e-14)
    np.testing.assert_allclose(res.interbank_loss, [0.0, 8 * 4 / 9, 6 / 27], rtol=1e-14)
    np.testing.assert_allclose(res.equity, [1 - 5, 3 - 32 / 9, 0.2 - 6 / 27], rtol=1e-13)
    assert np.all(res.fire_sale_loss == 0)
    np.testing.assert_allclose(res.shock_loss, [5.0, 0.0, 0.0])


def test_fire_sale_only_cascade() -> None:
    holdings = [[50.0, 0.0], [30.0, 0.0], [20.0, 0.0], [0.0, 40.0]]
    net = BankAssetNetwork(holdings, np.zeros((4, 4)), [5.0, 7.0, 6.0, 4.0])
    res = cascade(net, beta=0.5, initial_failures=[0])
    # layer 2: share sold 0.5 -> price 0.75: bank 1 loses 7.5 > 7, bank 2 loses 5 < 6
    # layer 3: share sold 0.8 -> price 0.6: bank 2 loses 8 > 6; bank 3 holds the other class
    np.testing.assert_array_equal(res.layer, [1, 2, 3, 0])
    np.testing.assert_allclose(res.prices, [0.5, 1.0], rtol=1e-15)
    np.testing.assert_allclose(res.fire_sale_loss, [25.0, 15.0, 10.0, 0.0], rtol=1e-15)
    assert np.all(res.interbank_loss == 0)
    assert res.total_losses() == pytest.approx({"shock": 0.0, "fire_sale": 50.0, "interbank": 0.0})


def both_channels_network(with_interbank: bool = True) -> BankAssetNetwork:
    x = np.zeros((2, 2))
    if with_interbank:
        x[1, 0] = 10.0
    return BankAssetNetwork([50.0, 50.0], x, [5.0, 10.5 if with_interbank else 0.5])


def test_failure_needs_both_channels() -> None:
    res = cascade(both_channels_network(), beta=0.4, initial_failures=[0])
    # layer 2: price 0.8; bank 1 loses 50*0.2 = 10 (fire sale) + 10*(1 - 40/45) = 10/9 (interbank) > 10.5
    np.testing.assert_array_equal(res.layer, [1, 2])
    # final: price 0.6, r0 = 30/45, r1 = (30 + 10 r0) / 49.5
    np.testing.assert_allclose(res.prices, [0.6], rtol=1e-15)
    np.testing.assert_allclose(res.recovery, [2 / 3, (30 + 20 / 3) / 49.5], rtol=1e-14)
    np.testing.assert_allclose(res.fire_sale_loss, [20.0, 20.0], rtol=1e-14)
    np.testing.assert_allclose(res.interbank_loss, [0.0, 10 / 3], rtol=1e-14)
    # each channel alone is not enough
    assert not cascade(both_channels_network(), beta=0.0, initial_failures=[0]).failed[1]
    fire_sale_alone = BankAssetNetwork([50.0, 50.0], np.zeros((2, 2)), [5.0, 10.5])
    assert not cascade(fire_sale_alone, beta=0.4, initial_failures=[0]).failed[1]


def recovery_network() -> BankAssetNetwork:
    x = np.zeros((2, 2))
    x[1, 0] = 8.0
    return BankAssetNetwork([20.0, 10.0], x, [1.0, 2.0])


def test_endogenous_recovery_saves_a_creditor_that_full_lgd_would_fail() -> None:
    net = recovery_network()
    res = cascade(net, external_loss=[0.2, 0.0])
    # bank 0: 16 left for 8 (interbank) + 11 (other) pari passu -> r0 = 16/19; bank 1 loses 8*3/19 < 2
    assert net.interbank[1, 0] > net.capital[1]  # a 100% loss given default would wipe bank 1 out
    np.testing.assert_array_equal(res.layer, [1, 0])
    np.testing.assert_allclose(res.recovery[0], 16 / 19, rtol=1e-15)
    np.testing.assert_allclose(res.equity[1], 2 - 8 * 3 / 19, rtol=1e-14)


def test_senior_external_liabilities_lower_interbank_recovery() -> None:
    res = cascade(recovery_network(), external_loss=[0.2, 0.0], config=CascadeConfig(seniority="external_senior"))
    # other liabilities (11) paid first: r0 = (16 - 11)/8; bank 1 loses 3 > 2
    np.testing.assert_allclose(res.recovery[0], 5 / 8, rtol=1e-15)
    np.testing.assert_array_equal(res.layer, [1, 2])
    assert res.status == "ok"


def test_common_shock_layer_one_is_the_direct_failures() -> None:
    net = random_network(seed=11)
    alpha = 0.08
    res = cascade(net, alpha=alpha, beta=0.3)
    direct = net.capital - alpha * net.external_assets.sum(axis=1) < net.threshold
    assert direct.any()
    np.testing.assert_array_equal(res.layer == 1, direct)


# ---------------------------------------------------------------------------- properties
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_final_state_is_a_fixed_point(seed: int) -> None:
    net = random_network(seed)
    named = [0, 5]
    res = cascade(net, alpha=0.03, beta=0.4, initial_failures=named)
    # F* = N ∪ {i: E'_i(F*) < θ_i}: revalue at F* and check both directions
    again = cascade(net, alpha=0.03, beta=0.4, initial_failures=res.failed)
    np.testing.assert_array_equal(again.failed, res.failed)
    assert again.rounds == 1
    not_named = res.failed.copy()
    not_named[named] = False
    assert np.all(again.equity[not_named] < net.threshold[not_named])
    assert np.all(again.equity[~res.failed] >= net.threshold[~res.failed])
    np.testing.assert_allclose(again.equity, res.equity, rtol=1e-12)


@pytest.mark.parametrize("seed", [4, 5])
def test_recoveries_solve_the_clearing_equation(seed: int) -> None:
    net = random_network(seed)
    res = cascade(net, alpha=0.06, beta=0.5)
    assert res.n_failed > 3
    value = (net.external_assets * res.prices).sum(axis=1) + net.other_assets + net.interbank @ res.recovery
    due = net.interbank_liabilities + net.other_liabilities
    expected = np.where(res.failed, np.minimum(1.0, value / due), 1.0)
    np.testing.assert_allclose(res.recovery, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("seed", [6, 7, 8])
def test_failures_are_monotone_in_alpha_and_beta(seed: int) -> None:
    net = random_network(seed)
    alphas = np.linspace(0.0, 0.12, 9)
    betas = np.linspace(0.0, 1.0, 9)
    failed = np.array([[cascade(net, alpha=a, beta=b).failed for b in betas] for a in alphas])
    # nested failed sets, hence monotone shares
    assert np.all(failed[1:] >= failed[:-1])
    assert np.all(failed[:, 1:] >= failed[:, :-1])
    share = failed.mean(axis=2)
    assert share[0, 0] == 0 and share[-1, -1] > 0.5


def test_more_initial_failures_fail_at_least_as_many() -> None:
    net = random_network(seed=9)
    small = cascade(net, beta=0.6, initial_failures=[1])
    large = cascade(net, beta=0.6, initial_failures=[1, 2, 3])
    assert np.all(large.failed >= small.failed)


@pytest.mark.parametrize("seed", [10, 12])
def test_hierarchy_is_consistent(seed: int) -> None:
    net = random_network(seed)
    holds = net.external_assets > 0
    deepest = 0
    for alpha in np.linspace(0.01, 0.2, 20):
        res = cascade(net, alpha=alpha, beta=0.5)
        deepest = max(deepest, res.rounds)
        for k in range(2, res.rounds + 1):
            earlier = (res.layer >= 1) & (res.layer < k)
            classes_hit = holds[earlier].any(axis=0)
            for i in np.flatnonzero(res.layer == k):
                counterparty = np.any(net.interbank[i, earlier] > 0)
                asset = np.any(holds[i] & classes_hit)
                assert counterparty or asset, f"bank {i} in layer {k} has no failed counterparty or sold asset"
    assert deepest >= 3


def test_losses_add_up_to_the_equity_change() -> None:
    net = random_network(seed=13)
    res = cascade(net, alpha=0.04, beta=0.7, external_loss=np.linspace(0, 0.1, net.n_banks))
    total = res.shock_loss + res.fire_sale_loss + res.interbank_loss
    np.testing.assert_allclose(net.capital - res.equity, total, rtol=1e-12, atol=1e-12 * net.capital.max())


def test_no_shock_no_failure_and_market_size_dampens_prices() -> None:
    net = random_network(seed=14)
    calm = cascade(net, beta=1.0)
    assert calm.n_failed == 0 and calm.rounds == 0 and np.all(calm.prices == 1.0)
    deep = BankAssetNetwork(
        net.external_assets,
        net.interbank,
        net.capital,
        other_assets=net.other_assets,
        market_size=net.external_assets.sum(axis=0) * 4,
    )
    shallow_res = cascade(net, beta=0.5, initial_failures=[0, 1, 2])
    deep_res = cascade(deep, beta=0.5, initial_failures=[0, 1, 2])
    assert np.all(deep_res.prices >= shallow_res.prices) and deep_res.n_failed <= shallow_res.n_failed


# ---------------------------------------------------------------------------- failure boundary
def test_individual_boundary_by_bisection_equals_closed_form() -> None:
    net = random_network(seed=15)
    closed = failure_boundaries(net)
    for i in (0, 3, 7):
        b = group_failure_boundary(net, [i], beta=0.5, xtol=1e-13)
        assert b.loss == pytest.approx(closed[i], rel=1e-9)
        assert b.fraction == pytest.approx(closed[i] / net.external_assets[i].sum(), rel=1e-9)


def test_boundary_is_infinite_when_the_external_book_is_too_small() -> None:
    net = BankAssetNetwork([1.0, 10.0], np.zeros((2, 2)), [2.0, 1.0], other_assets=[5.0, 0.0])
    np.testing.assert_array_equal(failure_boundaries(net), [np.inf, 1.0])
    assert group_failure_boundary(net, [0]).loss == np.inf


def test_group_boundary_of_unlinked_banks_is_the_largest_member_ratio() -> None:
    net = BankAssetNetwork([[10.0, 0.0], [0.0, 20.0]], np.zeros((2, 2)), [1.0, 5.0])
    b = group_failure_boundary(net, [0, 1], beta=0.9)
    assert b.fraction == pytest.approx(0.25, rel=1e-10)  # max(1/10, 5/20)
    assert b.loss == pytest.approx(0.25 * 30, rel=1e-10)
    assert group_failure_boundary(net, [0, 1], criterion="any").fraction == pytest.approx(0.1, rel=1e-10)


def test_group_boundary_includes_contagion_inside_the_group() -> None:
    # chain: bank 0 fails above x = 0.1; bank 1 then needs 10x + 8 (1 - 10 (1 - x) / 9) > 3 -> x > 7/34,
    # below its stand-alone ratio 3/10
    b = group_failure_boundary(chain_network(), [0, 1], xtol=1e-14)
    assert b.fraction == pytest.approx(7 / 34, rel=1e-11)
    assert b.loss == pytest.approx(7 / 34 * 20, rel=1e-11)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interbank": np.zeros((2, 2))}, r"interbank must be \(3, 3\) to match external_assets' 3 banks"),
        ({"capital": [1.0, 1.0]}, r"capital must have one entry per bank \(3\)"),
        ({"external_assets": [1.0, -1.0, 1.0]}, r"external_assets must be non-negative; external_assets\[1, 0\]=-1.0"),
        ({"interbank": np.eye(3)}, r"interbank must have a zero diagonal; interbank\[0, 0\]=1.0 \(bank 0\)"),
        ({"capital": [1.0, -0.5, 0.1]}, r"capital\[1\]=-0.5 \(bank 1\) is below its threshold 0.0"),
        ({"capital": [1.0, 30.0, 0.1]}, r"capital\[1\]=30.0 \(bank 1\) exceeds assets minus interbank liabilities"),
        ({"market_size": [5.0]}, r"market_size\[0\]=5.0 is below the banks' holdings 30.0"),
        ({"names": ["a", "b"]}, "names must have one entry per bank"),
        ({"threshold": [0.0, np.inf, 0.0]}, r"threshold must be finite; threshold\[1\]=inf"),
    ],
)
def test_bad_network_raises(kwargs: dict, message: str) -> None:
    base = {"external_assets": [10.0, 10.0, 10.0], "interbank": chain_network().interbank, "capital": [1.0, 3.0, 0.2]}
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BankAssetNetwork(base.pop("external_assets"), base.pop("interbank"), base.pop("capital"), **base)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, r"alpha must lie in \[0, 1\]; alpha\[0\]=1.5"),
        ({"alpha": [0.1, 0.2]}, r"alpha must be a scalar or have one entry per asset class \(1\)"),
        ({"beta": -0.1}, r"beta=-0.1 is out of range; allowed: \[0.0, 1.0\]"),
        ({"initial_failures": [5]}, "initial_failures contains bank index 5, outside 0..2"),
        ({"initial_failures": [0.5]}, "initial_failures must be a sequence of integer bank indices"),
        ({"external_loss": [0.0, 2.0, 0.0]}, r"external_loss must lie in \[0, 1\]; external_loss\[1\]=2.0"),
    ],
)
def test_bad_scenario_raises(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cascade(chain_network(), **kwargs)


def test_bad_options_raise() -> None:
    with pytest.raises(
        ValueError, match="seniority='junior' is not allowed; allowed values: 'pari_passu', 'external_senior'"
    ):
        CascadeConfig(seniority="junior")
    with pytest.raises(ValueError, match="group is empty"):
        group_failure_boundary(chain_network(), [])
    with pytest.raises(ValueError, match="criterion='most' is not allowed"):
        group_failure_boundary(chain_network(), [0], criterion="most")


# ---------------------------------------------------------------------------- 263 banks
GROUPS = {  # count, range of log total assets (Fan–Rong–Duan table 1: quartiles 14.94 / 16.14 / 17.07)
    "large": (6, 20.8, 21.6),
    "joint_stock": (11, 19.6, 20.4),
    "city": (100, 15.0, 19.5),
    "rural": (146, 13.5, 17.2),
}


def synthetic_cross_section(seed: int = 2019) -> tuple[BankAssetNetwork, np.ndarray]:
    """263 banks like Fan–Rong–Duan's 2019 sample: log assets and leverage quartiles of its table 1."""
    rng = np.random.default_rng(seed)
    log_assets = np.concatenate([rng.uniform(lo, hi, k) for k, lo, hi in GROUPS.values()])
    group = np.repeat(list(GROUPS), [k for k, _, _ in GROUPS.values()])
    assets = np.exp(log_assets)
    n = assets.size
    ib_a = assets * rng.uniform(0.03, 0.15, n)
    ib_l = assets * rng.uniform(0.03, 0.15, n)
    est = max_entropy_matrix(ib_a, ib_l)
    # leverage (assets / capital) lognormal with table 1's quartiles 11.74 / 14.87 around 13.06
    leverage = np.exp(rng.normal(np.log(13.06), np.log(14.87 / 11.74) / 1.349, n))
    capital = assets / leverage
    other = 0.08 * assets
    # five external classes (loans by sector, bonds, ...), banks specialised (Dirichlet 0.5)
    external = (assets - est.matrix.sum(axis=1) - other)[:, None] * rng.dirichlet(np.full(5, 0.5), n)
    return BankAssetNetwork(external, est.matrix, capital, other_assets=other), group


def test_synthetic_263_banks_over_an_alpha_beta_grid() -> None:
    net, group = synthetic_cross_section()
    assert net.n_banks == 263 and (group == "rural").sum() == 146 and (group == "large").sum() == 6
    q1, q2, q3 = np.percentile(
        np.log(net.external_assets.sum(axis=1) + net.other_assets + net.interbank_assets), [25, 50, 75]
    )
    assert 14.3 < q1 < 15.6 and 15.5 < q2 < 16.8 and 16.4 < q3 < 17.7
    alphas = np.linspace(0.05, 0.1, 12)  # the transition region of this synthetic system
    betas = np.linspace(0.0, 0.3, 12)
    share = np.empty((12, 12))
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            res = cascade(net, alpha=a, beta=b)
            assert res.status == "ok"
            share[i, j] = res.share_failed
    assert np.all(np.diff(share, axis=0) >= 0) and np.all(np.diff(share, axis=1) >= 0)
    assert share[0, 0] == 0.0 and share[-1, -1] == 1.0
    assert np.unique(share).size > 10  # a graded surface, not a single jump
    largest = int(np.argmax(net.capital))
    named = cascade(net, beta=0.6, initial_failures=[largest])
    assert named.layer[largest] == 1 and named.status == "ok"


# ---------------------------------------------------------------------------- recovery solver
def _clearing_inputs(seed: int, n: int = 12) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, (n, n)) * (rng.uniform(size=(n, n)) < 0.6)
    np.fill_diagonal(x, 0.0)
    resources = rng.uniform(0, 30, n)
    other = rng.uniform(0.5, 20, n)
    failed = rng.uniform(size=n) < 0.7
    return x, resources, other, failed


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_monotone_iteration_equals_exact_fictitious_default(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from measures.stress import recovery

    x, resources, other, failed = _clearing_inputs(seed)
    senior, den = recovery.recovery_terms(x.sum(axis=0), other, "pari_passu")
    fast, ok = recovery.clear_failed_banks(x, resources, senior, den, failed)
    assert ok and np.any(fast[failed] < 1)
    monkeypatch.setattr(recovery, "PICARD_BUDGET", 1)  # force the exact linear-algebra path
    exact, ok_exact = recovery.clear_failed_banks(x, resources, senior, den, failed)
    assert ok_exact
    np.testing.assert_allclose(fast, exact, rtol=0, atol=1e-14)


@pytest.mark.parametrize(("seed", "floor_hit"), [(24, True), (25, False)])
def test_senior_rule_reaches_the_zero_floor_and_is_a_fixed_point(seed: int, floor_hit: bool) -> None:
    from measures.stress import recovery

    x, resources, other, failed = _clearing_inputs(seed)
    senior, den = recovery.recovery_terms(x.sum(axis=0), other, "external_senior")
    r, ok = recovery.clear_failed_banks(x, resources, senior, den, failed)
    assert ok
    active = failed & (den > 0)
    expected = np.where(active, np.clip((resources + x @ r - senior) / np.where(active, den, 1), 0, 1), 1.0)
    np.testing.assert_allclose(r, expected, rtol=0, atol=1e-12)
    assert np.any(r[active] == 0) == floor_hit
    assert np.any((r[active] > 0) & (r[active] < 1))


def test_round_cap_is_reported() -> None:
    res = cascade(chain_network(), external_loss=[0.5, 0.0, 0.0], config=CascadeConfig(max_rounds=1))
    assert is_failed(res.status) and FitStatus.parse(res.status).cls == "NotConverged"
    np.testing.assert_array_equal(res.layer, [1, 0, 0])


def test_config_from_params_mapping() -> None:
    cfg = CascadeConfig.from_mapping({"seniority": "external_senior"})
    assert cfg.seniority == "external_senior"
    with pytest.raises(ValueError, match="unknown option"):
        CascadeConfig.from_mapping({"lgd": 0.6})


def test_restrict_keeps_balance_sheets_and_cuts_links_to_removed_banks() -> None:
    net = random_network(seed=16)
    keep = np.arange(net.n_banks) >= 5
    sub = net.restrict(keep)
    assert sub.n_banks == net.n_banks - 5 and sub.names[0] == "bank 5"
    np.testing.assert_allclose(sub.capital, net.capital[keep])
    # debts to removed banks become other liabilities; claims on them become other assets
    moved_in = net.interbank[np.ix_(keep, ~keep)].sum(axis=1)
    moved_out = net.interbank[np.ix_(~keep, keep)].sum(axis=0)
    np.testing.assert_allclose(sub.other_assets, net.other_assets[keep] + moved_in, rtol=1e-12)
    np.testing.assert_allclose(sub.other_liabilities, net.other_liabilities[keep] + moved_out, rtol=1e-10)
    np.testing.assert_allclose(sub.market_size, net.external_assets[keep].sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(net.restrict(keep, market="original").market_size, net.market_size)
    with pytest.raises(ValueError, match="keep must select at least 2 banks; got 1"):
        net.restrict([3])
    with pytest.raises(ValueError, match="market='all' is not allowed"):
        net.restrict(keep, market="all")


@pytest.mark.parametrize("seed", [26, 27])
def test_clearing_equals_eisenberg_noe_linear_programme(seed: int) -> None:
    # independent reference: the greatest clearing vector maximises sum_j d_j r_j subject to
    # d_j r_j <= c_j + sum_k X_jk r_k and 0 <= r_j <= 1 (Eisenberg & Noe 2001, Lemma 4); solved by HiGHS
    from scipy.optimize import linprog

    from measures.stress import recovery

    x, resources, other, failed = _clearing_inputs(seed, n=15)
    failed[:] = True
    senior, den = recovery.recovery_terms(x.sum(axis=0), other, "pari_passu")
    r, ok = recovery.clear_failed_banks(x, resources, senior, den, failed)
    assert ok and np.sum(r < 1) >= 3
    lp = linprog(
        -den,
        A_ub=np.diag(den) - x,
        b_ub=resources,
        bounds=[(0.0, 1.0)] * den.size,
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    assert lp.status == 0
    np.testing.assert_allclose(r, lp.x, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- the study (measures.stress.cascade_study)
def study_frame(n: int = 12, seed: int = 5):
    """A small cross-section with the study's input columns (closed interbank market)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    assets = rng.lognormal(3.0, 1.0, n)
    ib_a = assets * rng.uniform(0.05, 0.2, n)
    ib_l = assets * rng.uniform(0.05, 0.2, n)
    ib_l *= ib_a.sum() / ib_l.sum()
    loans = assets * rng.uniform(0.4, 0.55, n)
    return pd.DataFrame({
        "bank_id": [f"B{k:02d}" for k in range(n)], "group": ["big" if k < 4 else "small" for k in range(n)],
        "total_assets": assets, "equity": assets * rng.uniform(0.05, 0.1, n), "loans": loans,
        "real_estate_loans": loans * rng.uniform(0.2, 0.3, n), "securities": assets * rng.uniform(0.1, 0.2, n),
        "interbank_assets": ib_a, "interbank_liabilities": ib_l,
    })


class ReversedMapper:
    """Computes the items in reverse order and returns the results in item order."""

    def map(self, fn, items, *, desc=""):
        return [fn(x) for x in reversed(list(items))][::-1]


def test_build_network_balances_the_sheet_and_deepens_the_market() -> None:
    from measures.stress.cascade_study import build_network

    frame = study_frame()
    # total assets below interbank liabilities + equity: other assets raised so that the sheet balances
    frame.loc[0, "total_assets"] = frame.loc[0, "equity"] + 0.5 * frame.loc[0, "interbank_liabilities"]
    x = max_entropy_matrix(frame["interbank_assets"], frame["interbank_liabilities"]).matrix
    net, raised = build_network(frame, x, threshold=0.1, depth=4.0)
    assert raised == ["B00"]
    q = net.external_assets
    np.testing.assert_allclose(q[:, 0] + q[:, 1], frame["loans"])
    np.testing.assert_allclose(q[:, 1], frame["real_estate_loans"])
    np.testing.assert_allclose(net.market_size, 4.0 * q.sum(axis=0))
    np.testing.assert_allclose(net.threshold, 0.1 * frame["equity"])
    assert (net.other_liabilities >= -1e-9 * frame["total_assets"].to_numpy()).all()


def test_estimate_matrix_smaller_rescales_to_the_smaller_total() -> None:
    from measures.stress.cascade_study import CascadeStudyConfig, estimate_interbank_matrix

    frame = study_frame()
    frame["interbank_liabilities"] *= 2.0
    est = estimate_interbank_matrix(frame, CascadeStudyConfig())
    np.testing.assert_allclose(est.matrix.sum(axis=1), frame["interbank_assets"], rtol=1e-9)
    assert est.status == "warning:RescaledMargins" and est.relative_mismatch < 0
    dense = estimate_interbank_matrix(frame, CascadeStudyConfig(matrix="min_density"))
    assert dense.n_links < est.n_links


def test_cascade_study_tables_and_mapper_independence() -> None:
    import pandas as pd

    from measures.stress.cascade_study import CascadeStudyConfig, NamedFailure, cascade_study

    cfg = CascadeStudyConfig(alpha_grid=(0.0, 0.15, 4), beta_grid=(0.0, 1.0, 3), named_betas=(0.5, 1.0), n_largest=3,
                             named=(NamedFailure(name="largest_1", banks="largest", n=1),
                                    NamedFailure(name="smallest_20", banks="smallest", n=20)))
    frame = study_frame()
    when = pd.Timestamp("2019-12-31")
    study = cascade_study(frame, cfg, when=when)
    assert study.events["reason"].tolist() == ["named_scenario_not_run"]
    surface = study.surface
    assert set(surface["system"]) == {"all", "without_largest"}
    common = surface[surface["scenario"] == "common"]
    assert len(common) == 2 * 4 * 3 and set(common.loc[common.system == "without_largest", "n_banks"]) == {9}
    assert set(surface.loc[surface.system == "without_largest", "scenario"]) == {"common"}  # the largest bank is gone
    named = surface[surface.scenario == "largest_1"]
    largest = frame.loc[frame["total_assets"].idxmax(), "bank_id"]
    h = study.hierarchy
    assert set(h.loc[h.layer == 1, "bank_id"]) == {largest} and len(h) == named["n_failed"].sum()
    bounds = study.boundary.set_index("id")
    assert {"largest_3", "group:big", "group:small"} <= set(bounds.index)
    assert bounds.loc[largest, "size_rank"] == 1
    assert study.matrix["system"].tolist() == ["all"] and study.matrix["period_end"].iloc[0] == when
    assert len(study.debtrank) == len(frame) and study.debtrank["debtrank"].between(0, 1).all()
    other = cascade_study(frame, cfg, when=when, mapper=ReversedMapper())
    for name in ("matrix", "surface", "hierarchy", "boundary", "debtrank", "descriptives", "boundary_stats"):
        pd.testing.assert_frame_equal(getattr(other, name), getattr(study, name))


def test_cascade_study_needs_two_banks() -> None:
    import pandas as pd

    from measures.core.status import NotEstimable
    from measures.stress.cascade_study import cascade_study

    with pytest.raises(NotEstimable, match="at least 2 banks"):
        cascade_study(study_frame().head(1), when=pd.Timestamp("2019-12-31"))


def test_residual_assets_to_securities() -> None:
    from measures.stress.cascade_study import with_residual_assets

    frame = study_frame()
    moved = with_residual_assets(frame, "securities")
    rest = (frame["total_assets"] - frame["loans"] - frame["securities"] - frame["interbank_assets"]).clip(lower=0)
    np.testing.assert_allclose(moved["securities"], frame["securities"] + rest)
    assert with_residual_assets(frame, "other") is frame


# ----------------------------------------------------------------------------- balance-sheet inputs


def _sheets() -> pd.DataFrame:
    when = pd.to_datetime(["2019-12-31"] * 3 + ["2020-06-30"] * 3)
    return pd.DataFrame({"bank_id": ["A", "B", "C"] * 2, "period_end": when,
                         "total_assets": [100.0, 80.0, 60.0] * 2, "equity": [8.0, 6.0, 5.0] * 2,
                         "loans": [50.0, 40.0, 30.0] * 2,
                         "interbank_assets": [5.0, 4.0, 3.0, 5.0, np.nan, np.nan],
                         "interbank_liabilities": [4.0, 5.0, 3.0, 4.0, np.nan, np.nan]})


def test_balance_sheet_inputs_latest_usable_period_and_zero_fills():
    from measures.stress.cascade_study import balance_sheet_inputs

    plan = balance_sheet_inputs(_sheets())
    assert plan.reason is None and plan.period == pd.Timestamp("2019-12-31") and len(plan.frame) == 3
    assert (plan.frame["securities"] == 0).all() and (plan.frame["real_estate_loans"] == 0).all()
    filled = plan.events[plan.events["action"] == "filled"]
    assert sorted(filled["reason"].unique()) == ["fill_real_estate_loans", "fill_securities"] and len(filled) == 6
    assert (filled["date_start"] == pd.Timestamp("2019-12-31")).all()
    later = plan.events[plan.events["reason"] == "later_periods_incomplete"]
    assert later["n_rows"].tolist() == [3] and "2020-06-30" in later["detail"].iloc[0]
    assert plan.check_lines()[0] == ("estimates", "cascade on 3 banks at 2019-12-31 (one cross-section)")


def test_bad_input_cascade_balance_sheet_without_interbank_columns_is_not_estimable():
    from measures.stress.cascade_study import DEFAULT_FILL, balance_sheet_inputs

    plan = balance_sheet_inputs(_sheets().drop(columns=["interbank_assets", "interbank_liabilities"]))
    assert plan.reason.startswith("stress.cascade needs at least 2 banks with complete balance sheets in any period "
                                  "of balance_sheet (2019-12-31, 2020-06-30); got 0 at 2020-06-30: ")
    assert "interbank_assets: absent from balance_sheet; interbank_liabilities: absent from balance_sheet" in plan.reason
    assert plan.needs.startswith("balance_sheet columns total_assets, equity, loans, interbank_assets")
    # a fill rule for the interbank margins makes it estimable, and each fill is recorded
    fill = {**DEFAULT_FILL, "interbank_assets": {"share": 0.05, "of": "total_assets"},
            "interbank_liabilities": {"share": 0.05, "of": "total_assets"}}
    ok = balance_sheet_inputs(_sheets().drop(columns=["interbank_assets", "interbank_liabilities"]), fill=fill)
    assert ok.reason is None and ok.period == pd.Timestamp("2020-06-30")
    assert ok.frame["interbank_assets"].tolist() == [5.0, 4.0, 3.0]
    assert set(ok.events.loc[ok.events["action"] == "filled", "reason"]) == {"fill_interbank_assets", "fill_interbank_liabilities", "fill_real_estate_loans", "fill_securities"}
    # without the default zero fills a missing securities figure excludes the bank (recorded)
    none = balance_sheet_inputs(_sheets(), period="2019-12-31", fill={})
    assert none.reason.startswith("stress.cascade needs at least 2 banks with complete balance sheets at "
                                  "stress.cascade.period 2019-12-31; got 0: real_estate_loans: absent")
