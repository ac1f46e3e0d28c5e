"""Fan–Rong–Duan's experiments in the cascade study: named scenarios by rank range / list / exclusion, the
rescue cost (bisection against its closed form), the dependency-form failure boundary and Table 1.

Known truths on hand-built systems; the stage-level runs are in tests/test_stage_stress_cascade.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.core.config import ConfigError
from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import cascade, equity_at
from measures.stress.cascade_named import DEFAULT_NAMED, NamedFailure, scenario_members
from measures.stress.cascade_study import CascadeParams, CascadeStudyConfig, cascade_study
from measures.stress.cascade_tables import balance_sheet_descriptives
from measures.stress.failure_boundary import dependency_boundaries, dependency_group_boundary, dependency_matrix
from measures.stress.rescue import RESCUE_TOL, rescue_cost

GROUP = "stress.cascade"
WHEN = pd.Timestamp("2019-12-31")


def ranked_frame(n: int = 10) -> pd.DataFrame:
    """``n`` banks B00 … with total assets 100, 90, …: bank B0k has size rank k + 1; closed interbank market."""
    assets = 100.0 - 10.0 * np.arange(n)
    ib = 0.1 * assets
    return pd.DataFrame({
        "bank_id": [f"B{k:02d}" for k in range(n)], "group": "all", "total_assets": assets,
        "equity": 0.08 * assets, "loans": 0.5 * assets, "real_estate_loans": 0.1 * assets,
        "securities": 0.2 * assets, "interbank_assets": ib, "interbank_liabilities": ib,
    }).sample(frac=1.0, random_state=3).reset_index(drop=True)  # row order is not size order


def small_config(**kw) -> CascadeStudyConfig:
    return CascadeStudyConfig(**{"alpha_grid": (0.0, 0.1, 2), "beta_grid": (0.0, 1.0, 2), "named_betas": (0.5,),
                                 "n_largest": 2, **kw})


# ----------------------------------------------------------------------------- groups


def test_default_named_scenarios_are_the_papers_five_experiments():
    spec = {s.name: (s.banks, s.n, s.ranks, s.exclude_ranks) for s in DEFAULT_NAMED}
    assert spec == {
        "largest_1": ("largest", 1, None, None),
        "ranks_16_45": (None, None, (16, 45), None),
        "ranks_16_115": (None, None, (16, 115), None),
        "ranks_16_45_without_15": (None, None, (16, 45), (1, 15)),
        "ranks_16_115_without_15": (None, None, (16, 115), (1, 15)),
    }
    assert CascadeParams().named == DEFAULT_NAMED and CascadeParams().n_largest == 15


def test_default_groups_on_the_263_banks_are_ranks_16_45_and_16_115():
    from pipeline.simulator.network_banks import simulate_network_banks

    banks = simulate_network_banks(seed=20190101)
    frame = banks.assign(size_rank=banks["total_assets"].rank(method="first", ascending=False).astype(int))
    by_size = list(banks.sort_values("total_assets", ascending=False)["bank_id"])
    members = {s.name: scenario_members(frame, s)[0] for s in DEFAULT_NAMED}
    assert members["largest_1"] == by_size[:1]
    assert members["ranks_16_45"] == members["ranks_16_45_without_15"] == by_size[15:45]
    assert members["ranks_16_115"] == members["ranks_16_115_without_15"] == by_size[15:115]
    assert not set(members["ranks_16_115"]) & set(by_size[:15])  # none of the 15 large banks


def test_rank_ranges_lists_and_exclusion_on_a_hand_built_system():
    frame = ranked_frame()
    named = (NamedFailure(name="top", banks="largest", n=2), NamedFailure(name="mid", ranks=(3, 5)),
             NamedFailure(name="mid_without_top2", ranks=(3, 5), exclude_ranks=(1, 2)),
             NamedFailure(name="mid_without_1", ranks=(3, 5), exclude_ranks=(1, 1)),
             NamedFailure(name="pair", banks=("B09", "B07")),
             NamedFailure(name="low", banks="smallest", n=3))
    study = cascade_study(frame, small_config(named=named), when=WHEN)
    h = study.hierarchy
    first = {s: set(g.loc[g.layer == 1, "bank_id"]) for s, g in h.groupby("scenario")}
    assert first["top"] >= {"B00", "B01"} and first["mid"] >= {"B02", "B03", "B04"}
    assert {"B02", "B03", "B04"} <= first["mid_without_top2"] and {"B07", "B09"} <= first["pair"]
    systems = study.surface.groupby("scenario")["system"].first().to_dict()
    n_banks = study.surface.groupby("scenario")["n_banks"].first().to_dict()
    assert systems["mid"] == "all" and n_banks["mid"] == 10
    assert systems["mid_without_top2"] == "without_largest" and n_banks["mid_without_top2"] == 8  # n_largest = 2
    assert systems["mid_without_1"] == "without_ranks_1_1" and n_banks["mid_without_1"] == 9
    assert not set(h.loc[h.system == "without_largest", "bank_id"]) & {"B00", "B01"}
    # the common surface runs on all and without_largest only
    assert set(study.surface.loc[study.surface.scenario == "common", "system"]) == {"all", "without_largest"}
    groups = set(study.boundary.loc[study.boundary.kind == "group", "id"])
    assert {"largest_2", "top", "mid", "pair", "low"} <= groups and "mid_without_top2" not in groups
    stats = study.boundary_stats.set_index(["rule", "group"])
    banks = study.boundary[study.boundary.kind == "bank"].set_index("id")
    mid = banks.loc[["B02", "B03", "B04"]]
    assert stats.loc[("equity", "mid"), "n_banks"] == 3
    assert stats.loc[("equity", "mid"), "mean"] == pytest.approx(mid["boundary"].mean(), rel=1e-12)
    assert stats.loc[("equity", "mid"), "min"] == mid["boundary"].min()
    assert stats.loc[("dependency", "pair"), "sd"] == pytest.approx(banks.loc[["B09", "B07"], "boundary_dependency"].std())
    assert set(stats.index.get_level_values("rule")) == {"equity", "dependency"}


def test_scenarios_the_sample_cannot_hold_are_recorded_not_run():
    frame = ranked_frame()
    named = (NamedFailure(name="deep", ranks=(5, 12)), NamedFailure(name="ghost", banks=("B01", "XX")),
             NamedFailure(name="low_without_tail", banks="smallest", n=2, exclude_ranks=(9, 10)),
             NamedFailure(name="ok", ranks=(2, 3)))
    study = cascade_study(frame, small_config(named=named), when=WHEN)
    ev = study.events[study.events.reason == "named_scenario_not_run"]
    assert len(ev) == 3 and set(ev["action"]) == {"ignored"}
    text = " | ".join(ev["detail"])
    assert "deep: ranks 5-12 requested but the sample has only 10 banks" in text
    assert "ghost: bank(s) XX not in the sample" in text and "low_without_tail: bank(s)" in text
    assert set(study.surface.scenario) == {"common", "ok"}


# ----------------------------------------------------------------------------- rescue


def rescue_network(beta_capital: float = 2.0) -> BankAssetNetwork:
    """Bank 0 (the only holder of class 1, capital 1, owes bank 1 5), bank 1 (class 2: 10, claim 5 on bank 0,
    capital 2), bank 2 (class 2: 10, capital 5). At β = 0.5 bank 0's fire sale halves its class: it pays
    r0 = 5/9, bank 1 loses 5 · 4/9 = 20/9 > 2 and fails; bank 2 is untouched."""
    x = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    q = np.array([[10.0, 0.0], [0.0, 10.0], [0.0, 10.0]])
    return BankAssetNetwork(q, x, [1.0, beta_capital, 5.0])


def test_rescue_bisection_equals_the_analytic_injection():
    net = rescue_network()
    assert cascade(net, beta=0.5, initial_failures=[0]).failed.tolist() == [True, True, False]
    shortfall = 5.0 * (1 - 5.0 / 9.0) - 2.0  # 2/9
    rate = shortfall / 2.0
    res = rescue_cost(net, [0], beta=0.5)
    assert res.rate == pytest.approx(rate, rel=RESCUE_TOL) and res.rate >= rate
    assert res.cost == pytest.approx(rate * (2.0 + 5.0), rel=RESCUE_TOL)
    assert res.targeted == pytest.approx(shortfall, rel=1e-12)
    np.testing.assert_allclose(equity_at(net, [0], beta=0.5), [1.0 - 5.0, 2.0 - 20.0 / 9.0, 5.0])
    # the injected system stops at bank 0; a hair less does not
    weight = np.array([0.0, 2.0, 5.0])
    from measures.stress.rescue import recapitalised

    assert not cascade(recapitalised(net, res.rate * weight), beta=0.5, initial_failures=[0]).failed[1]
    assert cascade(recapitalised(net, rate * (1 - 1e-6) * weight), beta=0.5, initial_failures=[0]).failed[1]


def test_rescue_is_zero_without_contagion_and_follows_the_tolerance():
    net = rescue_network()
    assert rescue_cost(net, [0], beta=0.1) == rescue_cost(net, [0], beta=0.1)
    quiet = rescue_cost(rescue_network(beta_capital=3.0), [0], beta=0.5)  # 20/9 < 3: no contagion
    assert quiet.rate == quiet.cost == quiet.targeted == 0.0
    coarse = rescue_cost(net, [0], beta=0.5, tol=1e-3)
    assert abs(coarse.rate - 1.0 / 9.0) <= 1e-3 * coarse.rate and coarse.iterations < rescue_cost(net, [0], beta=0.5).iterations


def test_rescue_on_random_networks_matches_the_closed_form():
    from test_cascade import random_network

    for seed in range(4):
        net = random_network(seed)
        named = [0, 1, 2]
        res = rescue_cost(net, named, alpha=0.03, beta=0.8)
        others = np.ones(net.n_banks, bool)
        others[named] = False
        short = np.maximum(net.threshold - equity_at(net, named, alpha=0.03, beta=0.8), 0.0)
        assert res.rate == pytest.approx((short[others] / net.capital[others]).max(), rel=1e-8, abs=1e-15)
        assert res.targeted == pytest.approx(short[others].sum(), rel=1e-12)


# ----------------------------------------------------------------------------- dependency boundary


def test_dependency_matrix_and_boundary_known_truth():
    # bank 0 lends 4 to bank 1 and nothing else; bank 1 borrows 4 (reported 5: 1 from outside the sample)
    x = np.array([[0.0, 4.0], [0.0, 0.0]])
    a, c_hat = dependency_matrix(x, np.array([0.0, 5.0]))
    np.testing.assert_allclose(c_hat, [1.0, 0.2])
    # C = [[0, 0.8], [0, 0]]: (I − C)^{-1} = [[1, 0.8], [0, 1]]; A = diag(c_hat) (I − C)^{-1}
    np.testing.assert_allclose(a, [[1.0, 0.8], [0.0, 0.2]])
    np.testing.assert_allclose(a.sum(axis=0), 1.0)  # a loss is fully shared out
    net = BankAssetNetwork([10.0, 10.0], x, [1.0, 0.5], other_assets=[0.0, 0.0])
    np.testing.assert_allclose(dependency_boundaries(net, a), [1.0, 0.5 / 0.2])
    frac, loss = dependency_group_boundary(net, a, [0, 1])
    # member 0 loses x (10 + 8), member 1 loses 2x: all fail at max(1/18, 0.5/2)
    assert frac == pytest.approx(0.25) and loss == pytest.approx(5.0)
    b, _ = dependency_matrix(x, np.array([0.0, 4.0]), outside_share=0.2)
    np.testing.assert_allclose(b, a)


def test_dependency_boundary_of_a_closed_system_is_nan_and_flagged():
    a, c_hat = dependency_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 1.0]))
    assert np.isnan(a).all() and np.allclose(c_hat, 0.0)
    study = cascade_study(ranked_frame(), small_config(named=(), outside_share=None), when=WHEN)
    assert study.boundary["boundary_dependency"].isna().all()
    assert "dependency_boundary_closed_system" in set(study.events["reason"])


def test_dependency_boundary_reaches_the_papers_order_of_magnitude_on_the_263_banks():
    """Fan–Rong–Duan: ICBC 40.838 trn yuan, 15 × its equity; the equity form gives its equity (≈ 2.8 trn)."""
    from measures.stress.cascade_study import build_network, estimate_interbank_matrix
    from pipeline.simulator.network_banks import simulate_network_banks

    frame = simulate_network_banks(seed=20190101)
    net, _ = build_network(frame, estimate_interbank_matrix(frame).matrix, 0.0, 4.0)
    a, _ = dependency_matrix(net.interbank, frame["interbank_liabilities"].to_numpy(), 0.04)
    b = dependency_boundaries(net, a)
    top = int(frame["total_assets"].idxmax())
    assert 1e13 <= b[top] < 1e14 and b[top] > 5 * net.capital[top]
    np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-9)


# ----------------------------------------------------------------------------- Table 1


def test_descriptives_known_values():
    frame = pd.DataFrame({"total_assets": [1e4, 1e4 * np.e, 1e4 * np.e ** 2], "equity": [1e3, 1e3 * np.e, 2e3 * np.e ** 2],
                          "loans": [5e3, 5e3 * np.e, 5e3 * np.e ** 2], "deposits": [1e4, 5e3 * np.e, 1e4 * np.e ** 2]})
    t = balance_sheet_descriptives(frame).set_index("item")
    assert list(t.index) == ["ln_total_assets", "leverage", "ldr", "loans_share"]
    assert t.loc["ln_total_assets", "mean"] == pytest.approx(1.0) and t.loc["ln_total_assets", "sd"] == pytest.approx(1.0)
    assert t.loc["leverage", "q50"] == pytest.approx(10.0) and t.loc["leverage", "min"] == pytest.approx(5.0)
    assert t.loc["ldr", "max"] == pytest.approx(100.0) and t.loc["loans_share", "sd"] == pytest.approx(0.0)
    assert (t["n"] == 3).all()


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("named", "match"),
    [
        ({"name": "r", "ranks": [45, 16]}, r"named\[0\]: named\[r\].ranks=\[45, 16\] is not a rank range; allowed: \[first, last\]"),
        ({"name": "r", "ranks": [16]}, r"named\[r\].ranks=\[16\] is not a rank range"),
        ({"name": "r", "ranks": [0, 5]}, r"named\[r\].ranks=\[0, 5\] is not a rank range.*1 <= first"),
        ({"name": "r", "ranks": [1.5, 5]}, r"named\[r\].ranks=\[1.5, 5\] is not a rank range"),
    ],
)
def test_bad_input_named_rank_range(named, match):
    with pytest.raises(ConfigError, match=match):
        CascadeParams.from_mapping({"named": [named]}, where=GROUP)


@pytest.mark.parametrize(
    ("named", "match"),
    [
        ({"name": "x", "banks": "largest", "ranks": [1, 2]}, r"named\[x\]: give exactly one of banks or ranks \(got banks, ranks\)"),
        ({"name": "x"}, r"named\[x\]: give exactly one of banks or ranks \(got neither\); allowed: \{name, banks"),
        ({"name": "x", "banks": "largest"}, r"named\[x\]: banks='largest' needs n"),
        ({"name": "x", "ranks": [2, 3], "n": 3}, r"named\[x\]: n=3 applies only to banks: largest \| smallest"),
        ({"name": "x", "banks": []}, r"named\[x\].banks=\[\]: a bank list must be non-empty"),
        ({"name": "x", "banks": ["A", "A"]}, r"named\[x\].banks=\['A', 'A'\]: .*without repeated bank_ids"),
        ({"name": "x", "banks": 7}, r"named\[x\].banks=7 is not allowed; allowed: largest, smallest or a list"),
        ({"name": "", "banks": "largest", "n": 1}, r"name='' must be a non-empty string"),
    ],
)
def test_bad_input_named_members(named, match):
    with pytest.raises(ConfigError, match=match):
        CascadeParams.from_mapping({"named": [named]}, where=GROUP)


@pytest.mark.parametrize(
    ("named", "match"),
    [
        ({"name": "x", "ranks": [10, 20], "exclude_ranks": [1, 15]},
         r"named\[x\]: ranks=\[10, 20\] overlaps exclude_ranks=\[1, 15\].*allowed: an exclusion disjoint"),
        ({"name": "x", "banks": "largest", "n": 1, "exclude_ranks": [1, 15]}, r"named\[x\]: the 1 largest banks overlaps"),
        ({"name": "x", "ranks": [16, 45], "exclude_ranks": [15, 1]}, r"named\[x\].exclude_ranks=\[15, 1\] is not a rank range"),
    ],
)
def test_bad_input_named_exclusion(named, match):
    with pytest.raises(ConfigError, match=match):
        CascadeParams.from_mapping({"named": [named]}, where=GROUP)


def test_bad_input_named_duplicate_names():
    twice = [{"name": "a", "ranks": [2, 3]}, {"name": "a", "banks": "largest", "n": 1}]
    with pytest.raises(ConfigError, match=r"stress.cascade: named: scenario name\(s\) a given more than once"):
        CascadeParams.from_mapping({"named": twice}, where=GROUP)


@pytest.mark.parametrize(("override", "match"), [
    ({"outside_share": 1.0}, r"stress.cascade: outside_share=1.0 is out of range"),
    ({"outside_share": 0}, r"outside_share=0.0 is out of range"),
    ({"rescue_tol": 0.5}, r"rescue_tol=0.5 is out of range"),
])
def test_bad_input_boundary_and_rescue_params(override, match):
    with pytest.raises(ConfigError, match=match):
        CascadeParams.from_mapping(override, where=GROUP)


def test_report_section_shows_the_tables_from_the_study_outputs():
    from pipeline.report.sections import cascade_study as section

    named = (NamedFailure(name="top", banks="largest", n=1), NamedFailure(name="mid", ranks=(3, 5)))
    study = cascade_study(ranked_frame(), small_config(named=named, named_betas=(0.5, 1.0)), when=WHEN)
    frames = {"cascade_descriptives": study.descriptives, "cascade_boundary_stats": study.boundary_stats,
              "cascade_surface": study.surface, "cascade_boundary": study.boundary}

    class Ctx:
        def artifact(self, name, columns=None):
            return frames.get(name)

        def param(self, name, dotted):  # no provenance recorded: the text says so
            return None

    out = section.build(Ctx())
    assert len(out.blocks) == 5 and "Table 1" in out.blocks[0] and "ln(total assets" in out.blocks[0]
    assert "Rescue cost, targeted minimum" in out.blocks[3]
    assert set(out.metrics["rescue_at_max_beta"]) == {"top", "mid"}
    assert out.metrics["largest_bank_boundary"]["equity"] == pytest.approx(8.0)  # 0.08 × 100
    frames.clear()
    assert section.build(Ctx()) is None


def test_rank_scenarios_and_rescues_through_a_process_pool_equal_serial():
    from pool_mapper import PoolMapper

    named = (NamedFailure(name="mid", ranks=(3, 5)), NamedFailure(name="mid_without_top2", ranks=(3, 5), exclude_ranks=(1, 2)),
             NamedFailure(name="pair", banks=("B09", "B07")))
    cfg = small_config(named=named, named_betas=(0.5, 1.0))
    serial = cascade_study(ranked_frame(), cfg, when=WHEN)
    mapper = PoolMapper(2)
    try:
        pooled = cascade_study(ranked_frame(), cfg, when=WHEN, mapper=mapper)
    finally:
        mapper.close()
    for name in ("surface", "hierarchy", "boundary", "boundary_stats", "descriptives", "events"):
        pd.testing.assert_frame_equal(getattr(pooled, name), getattr(serial, name))
    assert serial.surface["rescue_rate"].notna().sum() == 6
