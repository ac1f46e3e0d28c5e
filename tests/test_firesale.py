"""Double-layer fire-sale model (Zhang–Guo–Wen–Sun; docs/firesale.md): hand cases, invariants, the α-shape,
the ω calibration and the EBA 2018 mapping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from measures.stress.firesale import SYSTEM_OUTPUTS, fire_sale
from measures.stress.firesale_curve import alpha_grid, fire_sale_curve, fire_sale_regions, weighted_round_elasticity
from measures.stress.firesale_inputs import (
    FIRE_SALE_COLUMNS,
    calibrate_omega,
    map_eba_balance_sheet,
    saleable_stock,
    validate_fire_sale_balance_sheet,
)


def _sheet(**columns) -> pd.DataFrame:
    return pd.DataFrame({name: columns[name] for name in FIRE_SALE_COLUMNS})


# Toy 1 (r* = 10, ω = 0.012, α = 0.5). Columns: a, c, l, ina, la, si, re.
TOY1 = _sheet(
    bank_id=["A", "B", "C", "D"],
    total_assets=[100.0, 100.0, 100.0, 50.0],
    capital=[5.0, 11.0, 10.0, 5.0],
    liquid_assets=[20.0, 30.0, 25.0, 3.0],
    interbank_assets=[5.0, 10.0, 2.0, 1.0],
    loans=[60.0, 70.0, 63.0, 31.0],
    securities=[20.0, 0.0, 20.0, 10.0],
    real_estate_loans=[20.0, 4.0, 6.0, 2.0],
)


def test_toy1_round0_liquidity_and_insolvency_failures_by_hand():
    res = fire_sale(TOY1, alpha=0.5, r_star=10.0, omega=0.012)
    # Round 0: loss0 = 0.5*re = (10, 2, 3, 1). A: cgap0 = 5 − 10 = −5 < 0 -> fails (insolvency).
    #   B: a = 98, c = 9, la = 68;  C: a = 97, c = 7, la = 60;  D: a = 49, c = 4, la = 30.
    # Round 1: del = a − 10c: B 8, C 27, D 9.
    #   B: delina = 8, u = 0.  C: delina = 2, u = 25, k = 60/80 = .75, della = 18.75, delsi = 6.25.
    #   D: delina = 1, u = 8, k = 30/40, della = 6, delsi = 2.
    #   DA = 24.75, DS = 8.25; ω·DA = .297, ω·DS = .099.
    #   B: losssi = .099*0 = 0, cgap = 9, lgap = 30 − 8 = 22 -> survives.
    #   C: lossla = .297*18.75 = 5.56875, losssi = .099*20 = 1.98, cgap = 7 − 7.54875 = −.54875 -> insolvency.
    #   D: lossla = .297*6 = 1.782, losssi = .99, cgap = 1.228 >= 0, lgap = 3 − .99 − 1 − 2 = −.99 -> liquidity.
    # Round 2: B has a = 90, c = 9: del = 0, nobody has to sell -> stop. T = 1.
    l0, c0, a0 = 78.0, 31.0, 350.0
    expected = {
        "delina": (8 + 2 + 1) / l0,
        "delsi": (6.25 + 2) / l0,
        "delloss": (1.98 + 0.99) / l0,
        "lossre": (10 + 2 + 3 + 1) / c0,
        "losssi": (1.98 + 0.99) / c0,
        "lossla": (5.56875 + 1.782) / c0,
        "lgap": 0.99 / l0,
        "cgap": (5 + 0.54875) / c0,
        "w": (0 * 100 + 1 * 100 + 1 * 50) / a0,
    }
    expected["ll"] = expected["delina"] + expected["delsi"] + expected["delloss"]
    expected["cl"] = expected["lossre"] + expected["losssi"] + expected["lossla"]
    expected["sr"] = expected["ll"] + expected["cl"]
    expected["dl"] = expected["lossre"]
    expected["il"] = expected["sr"] - expected["dl"]
    for name, value in expected.items():
        assert getattr(res, name) == pytest.approx(value, rel=1e-12, abs=1e-15), name
    assert (res.rounds, res.n_failed, res.n_failed_liquidity, res.n_failed_insolvency) == (1, 3, 1, 2)
    assert res.status == "ok"
    banks = res.banks.set_index("bank_id")
    assert banks["failure_round"].tolist()[:1] == [0] and banks.loc["C", "failure_round"] == 1
    assert banks["cause"].tolist()[0] == "insolvency" and banks.loc["D", "cause"] == "liquidity"
    assert pd.isna(banks.loc["B", "failure_round"]) and banks.loc["B", "status"] == "survived"
    # a bank failing at t = 0 never sells; the survivor's final balance sheet
    assert banks.loc["A", ["delina", "della", "delsi", "lossla", "losssi"]].eq(0).all()
    assert banks.loc["B", ["total_assets", "capital", "liquid_assets", "interbank_assets", "loans"]].tolist() == [
        90.0, 9.0, 22.0, 2.0, 68.0
    ]


def test_toy2_two_rounds_stopped_by_tolerance():
    bs = _sheet(bank_id=["E"], total_assets=[100.0], capital=[10.0], liquid_assets=[40.0], interbank_assets=[0.0],
                loans=[42.0], securities=[40.0], real_estate_loans=[10.0])
    omega, tol = 0.001, 0.1
    res = fire_sale(bs, alpha=0.2, r_star=10.0, omega=omega, tol=tol, tol_basis="absolute")
    # Round 0: loss0 = 2 -> a = 98, c = 8, la = 40.
    # Round 1: del = 98 − 80 = 18, delina = 0, k = 40/80, della = delsi = 9;
    #   lossla = .001*9*9 = .081, losssi = .001*40*9 = .36 (sum .441 >= tol: go on).
    #   a = 98 − .441 − 18 = 79.559, c = 7.559, l = 40 − .36 − 9 = 30.64, la = 31, si = 40 − 9 − .36 = 30.64.
    d2 = 79.559 - 10 * 7.559  # = 9 * .441 = 3.969
    della2 = 31 / 61.64 * d2
    delsi2 = d2 - della2
    lossla2 = omega * della2 * della2
    losssi2 = omega * 30.64 * delsi2
    assert lossla2 + losssi2 < tol  # round 2 ends the run
    assert res.rounds == 2 and res.n_failed == 0 and res.w == 0.0
    assert res.lossla == pytest.approx((0.081 + lossla2) / 10, rel=1e-12)
    assert res.losssi == pytest.approx((0.36 + losssi2) / 10, rel=1e-12)
    assert res.delsi == pytest.approx((9 + delsi2) / 40, rel=1e-12)
    assert res.lossre == pytest.approx(0.2, rel=1e-15)
    final = res.banks.iloc[0]
    assert final["capital"] == pytest.approx(7.559 - lossla2 - losssi2, rel=1e-12)
    assert final["loans"] == pytest.approx(31 - della2, rel=1e-12)
    # the same stop with a capital-relative tolerance (0.01 · C0 = 0.1)
    rel = fire_sale(bs, alpha=0.2, r_star=10.0, omega=omega, tol=0.01, tol_basis="capital")
    assert rel.system() == res.system()


def test_price_floor_caps_impact_and_sets_status():
    # ω·DA = 10 * 24.75 > 1: the price falls to 0, not below; sold loans lose exactly their value
    res = fire_sale(TOY1, alpha=0.5, r_star=10.0, omega=10.0)
    assert res.status == "warning:PriceFloor"
    banks = res.banks.set_index("bank_id")
    assert banks.loc["C", "lossla"] == banks.loc["C", "della"] == 18.75
    assert banks.loc["C", "losssi"] == 20.0  # ω·DS = 82.5 -> capped at 1: all securities lose their value


def test_max_rounds_sets_status():
    res = fire_sale(TOY1.iloc[[2]], alpha=0.1, r_star=10.0, omega=0.001, max_rounds=1)
    assert res.rounds == 1 and res.status == "warning:MaxRoundsReached"


# ---------------------------------------------------------------- random balance sheets
def random_sheet(rng: np.random.Generator, n: int) -> pd.DataFrame:
    a = rng.uniform(50, 5000, n)
    la = a * rng.uniform(0.3, 0.6, n)
    si = a * rng.uniform(0.05, 0.3, n)
    ina = a * rng.uniform(0.0, 0.08, n)
    return _sheet(
        bank_id=[f"b{k}" for k in range(n)],
        total_assets=a,
        capital=a * rng.uniform(0.03, 0.10, n),
        liquid_assets=a * rng.uniform(0.02, 0.3, n),
        interbank_assets=ina,
        loans=la,
        securities=si,
        real_estate_loans=la * rng.uniform(0.0, 0.7, n),
    )


HOLDINGS = ["total_assets", "capital", "liquid_assets", "interbank_assets", "loans", "securities"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 25), alpha=st.floats(0.0, 1.0),
       impact=st.floats(0.0, 3.0), r_star=st.floats(1.0, 40.0))
def test_invariants_on_random_balance_sheets(seed, n, alpha, impact, r_star):
    bs = random_sheet(np.random.default_rng(seed), n)
    omega = impact / saleable_stock(bs)
    res = fire_sale(bs, alpha=alpha, r_star=r_star, omega=omega)
    assert abs(res.sr - (res.ll + res.cl)) <= 1e-12 * max(1.0, res.sr)
    assert abs(res.sr - (res.dl + res.il)) <= 1e-12 * max(1.0, res.sr)
    assert abs(res.ll - (res.delina + res.delsi + res.delloss)) <= 1e-12 * max(1.0, res.ll)
    assert abs(res.cl - (res.lossre + res.losssi + res.lossla)) <= 1e-12 * max(1.0, res.cl)
    banks = res.banks
    assert (banks[HOLDINGS] >= 0).all().all()  # no negative holdings
    assert (banks[["delina", "della", "delsi", "lossla", "losssi"]] >= 0).all().all()
    round0 = banks["failure_round"].eq(0).fillna(False).to_numpy()
    assert (banks.loc[round0, ["delina", "della", "delsi"]] == 0).all().all()  # failed banks never sell
    failed = banks.dropna(subset=["failure_round", "last_sale_round"])
    assert (failed["last_sale_round"] <= failed["failure_round"]).all()  # ... after their failure round
    hist = res.history
    assert len(hist) >= res.rounds and hist["n_failed_insolvency"].sum() + hist["n_failed_liquidity"].sum() == (
        res.n_failed - int(round0.sum()))
    np.testing.assert_allclose(hist[["delina", "della", "delsi"]].sum().to_numpy(),
                               banks[["delina", "della", "delsi"]].sum().to_numpy(), rtol=1e-12, atol=1e-9)
    assert res.n_failed == res.n_failed_liquidity + res.n_failed_insolvency == banks["status"].eq("failed").sum()
    assert 0 <= res.w <= max(res.rounds, 0) + 1e-12
    assert res.lossre == pytest.approx(alpha * bs["real_estate_loans"].sum() / bs["capital"].sum(), rel=1e-12)


def literal_fire_sale(rows: list[dict], alpha: float, r_star: float, omega: float, tol: float, max_rounds: int,
                      cap: bool = False) -> dict:
    """docs/firesale.md transcribed bank by bank with plain Python floats (the independent reference);
    ``cap`` sells at most the loan book (``cap_loan_sales=True``)."""
    banks = [dict(r) for r in rows]
    L0 = sum(b["liquid_assets"] for b in banks)
    C0 = sum(b["capital"] for b in banks)
    A0 = sum(b["total_assets"] for b in banks)
    tot = {"delina": 0.0, "delsi": 0.0, "losssi": 0.0, "lossla": 0.0, "loss0": 0.0, "lgap": 0.0, "cgap": 0.0, "w": 0.0}
    n_liq = n_ins = T = 0
    for b in banks:
        loss0 = alpha * b["real_estate_loans"]
        tot["loss0"] += loss0
        if b["capital"] - loss0 < 0:
            b["alive"] = False
            n_ins += 1
            tot["cgap"] += -(b["capital"] - loss0)
        else:
            b["alive"] = True
            b["total_assets"] -= loss0
            b["capital"] -= loss0
            b["loans"] -= loss0
    for t in range(1, max_rounds + 1):
        alive = [b for b in banks if b["alive"]]
        for b in alive:
            a, c = b["total_assets"], b["capital"]
            b["del"] = a - r_star * c if a / c > r_star else 0.0
        if not any(b["del"] > 0 for b in alive):
            break
        for b in alive:
            b["delina"] = min(b["interbank_assets"], b["del"])
            u = b["del"] - b["delina"]
            k = b["loans"] / (b["loans"] + b["securities"]) if b["loans"] + b["securities"] > 0 else 0.0
            b["della"] = min(b["loans"], k * u) if cap else k * u
            b["delsi"] = min(b["securities"], u - b["della"])
        DA = sum(b["della"] for b in alive)
        DS = sum(b["delsi"] for b in alive)
        failed_now = 0
        losses = 0.0
        if any(b["delina"] + b["della"] + b["delsi"] > 0 for b in alive):
            T += 1
        for b in alive:
            lossla = omega * b["della"] * DA
            losssi = omega * b["securities"] * DS
            lgap = b["liquid_assets"] - losssi - b["delina"] - b["delsi"]
            cgap = b["capital"] - lossla - losssi
            losses += lossla + losssi
            tot["delina"] += b["delina"]
            tot["delsi"] += b["delsi"]
            tot["losssi"] += losssi
            tot["lossla"] += lossla
            if cgap < 0 or lgap < 0:
                b["alive"] = False
                failed_now += 1
                if cgap < 0:
                    n_ins += 1
                else:
                    n_liq += 1
                tot["lgap"] += max(-lgap, 0.0)
                tot["cgap"] += max(-cgap, 0.0)
                tot["w"] += t * b["a0"]
            else:
                b["total_assets"] -= lossla + losssi + b["delina"] + b["della"] + b["delsi"]
                b["capital"] -= lossla + losssi
                b["liquid_assets"] -= losssi + b["delina"] + b["delsi"]
                b["interbank_assets"] -= b["delina"]
                b["loans"] -= b["della"]
                b["securities"] -= b["delsi"] + losssi
        if failed_now == 0 and losses < tol:
            break
    ll = (tot["delina"] + tot["delsi"] + tot["losssi"]) / L0
    cl = (tot["loss0"] + tot["losssi"] + tot["lossla"]) / C0
    return {"sr": ll + cl, "ll": ll, "cl": cl, "dl": tot["loss0"] / C0, "lgap": tot["lgap"] / L0,
            "cgap": tot["cgap"] / C0, "w": tot["w"] / A0, "rounds": T, "n_failed_liquidity": n_liq,
            "n_failed_insolvency": n_ins}


@pytest.mark.parametrize("cap", [False, True])
@pytest.mark.parametrize("seed", range(10))
def test_matches_literal_transcription_of_methods(seed, cap):
    rng = np.random.default_rng(1000 + seed)
    bs = random_sheet(rng, 15)
    rows = [dict(r, a0=r["total_assets"]) for r in bs.to_dict("records")]
    omega = rng.uniform(0.2, 2.0) / saleable_stock(bs)
    checked = 0
    for alpha in (0.02, 0.06, 0.1, 0.15, 0.25, 0.4):
        res = fire_sale(bs, alpha=alpha, r_star=25.0, omega=omega, tol=1e-9, tol_basis="absolute", cap_loan_sales=cap)
        if res.status not in ("ok", "warning:LoanOversale"):  # a guard acted where the literal algorithm breaks down
            continue
        ref = literal_fire_sale(rows, alpha, 25.0, omega, 1e-9, 100, cap=cap)
        for name, value in ref.items():
            assert getattr(res, name) == pytest.approx(value, rel=1e-12, abs=1e-14), (alpha, name)
        checked += 1
    assert checked >= 3


def test_loan_oversale_by_hand():
    # One bank with 20 of other (unsaleable) assets: a = 100, c = 5, ina = 0, la = 40, si = 40, re = 10.
    # α = 0.4: loss0 = 4 -> a = 96, c = 1, la = 36; r* = 10: del = 86 = u > la + si = 76.
    # The literal rule: k = 36/76, della = 86*36/76 = 40.7368... > 36 (sold loans it does not hold),
    #          delsi = min(40, 86 − della) = 40*86/76 > 40 -> 40.
    bs = _sheet(bank_id=["X"], total_assets=[100.0], capital=[5.0], liquid_assets=[60.0], interbank_assets=[0.0],
                loans=[40.0], securities=[40.0], real_estate_loans=[10.0])
    res = fire_sale(bs, alpha=0.4, r_star=10.0, omega=0.0, cap_loan_sales=False)
    assert res.status == "warning:HoldingFloor"  # ω = 0: it survives, and its loans would be 36 − 40.74 < 0
    assert res.banks.loc[0, "della"] == pytest.approx(86 * 36 / 76, rel=1e-15)
    assert res.banks.loc[0, "delsi"] == 40.0 and res.banks.loc[0, "loans"] == 0.0
    capped = fire_sale(bs, alpha=0.4, r_star=10.0, omega=0.0, cap_loan_sales=True)
    assert capped.status == "ok"
    assert capped.banks.loc[0, "della"] == 36.0 and capped.banks.loc[0, "delsi"] == 40.0
    # with a price impact the bank fails in that round: the literal algorithm's phantom 40.74 of loans is priced
    failing = fire_sale(bs, alpha=0.4, r_star=10.0, omega=0.01, cap_loan_sales=False)
    assert failing.status == "warning:LoanOversale" and failing.n_failed == 1
    assert failing.lossla == pytest.approx(0.01 * (86 * 36 / 76) ** 2 / 5.0, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_direct_loss_and_round0_failures_are_monotone_in_alpha(seed):
    bs = random_sheet(np.random.default_rng(seed), 30)
    grid = alpha_grid()
    curve = fire_sale_curve(bs, grid, r_star=25.0, omega=1.0 / saleable_stock(bs))
    assert (np.diff(curve["dl"]) > 0).all()
    failed0 = [set(fire_sale(bs, alpha=a, r_star=25.0, omega=0.0).banks.query("failure_round == 0")["bank_id"])
               for a in grid[::8]]
    assert all(x <= y for x, y in zip(failed0, failed0[1:]))


def test_curve_rows_equal_single_runs_and_tw():
    bs = random_sheet(np.random.default_rng(3), 12)
    grid = alpha_grid(0.05, 0.3, 0.05)
    curve = fire_sale_curve(bs, grid, r_star=20.0, omega=2.0 / saleable_stock(bs))
    assert list(curve.columns) == ["alpha", *SYSTEM_OUTPUTS, "tw", "status"]
    for row, alpha in zip(curve.itertuples(index=False), grid):
        single = fire_sale(bs, alpha=alpha, r_star=20.0, omega=2.0 / saleable_stock(bs)).system()
        assert {k: getattr(row, k) for k in single} == single
    np.testing.assert_allclose(curve["tw"], weighted_round_elasticity(curve["alpha"], curve["w"]), equal_nan=True)


def test_weighted_round_elasticity_by_hand():
    # TW_k = ((W_k − W_{k−1})/W_{k−1}) / ((α_k − α_{k−1})/α_{k−1}); NaN at k = 0 and where W_{k−1} = 0.
    tw = weighted_round_elasticity([0.1, 0.2, 0.3, 0.4], [0.0, 2.0, 3.0, 1.5])
    assert np.isnan(tw[0]) and np.isnan(tw[1])
    assert tw[2] == pytest.approx((1.0 / 2.0) / (0.1 / 0.2))  # = 1
    assert tw[3] == pytest.approx((-1.5 / 3.0) / (0.1 / 0.3))  # = −1.5
    with pytest.raises(ValueError, match="strictly increasing"):
        weighted_round_elasticity([0.2, 0.1], [1.0, 1.0])


def test_regions_by_hand():
    # IL peaks at 2; with il_share = .25 the contagion region is where IL >= .5: grid points 2..4.
    curve = pd.DataFrame({"alpha": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], "sr": [0.1, 0.3, 1.5, 2.6, 1.2, 0.9, 1.0],
                          "il": [0.0, 0.1, 1.0, 2.0, 0.5, 0.1, 0.0], "n_failed": [0, 1, 5, 9, 10, 10, 10],
                          "rounds": [0, 2, 5, 3, 2, 1, 0]})
    regions = fire_sale_regions(curve)
    assert regions["region"].tolist() == ["relief", "contagion", "outbreak"]
    assert regions["alpha_from"].tolist() == [0.1, 0.3, 0.6] and regions["alpha_to"].tolist() == [0.2, 0.5, 0.7]
    assert regions.loc[1, "alpha_sr_max"] == 0.4 and regions.loc[1, "n_failed_max"] == 10
    calm = fire_sale_regions(curve.assign(il=0.0))
    assert calm["region"].tolist() == ["relief"]
    with pytest.raises(ValueError, match="missing column"):
        fire_sale_regions(curve.drop(columns="il"))


def test_alpha_grid_default_is_seed_000():
    grid = alpha_grid()
    assert len(grid) == 80 and grid[0] == 0.005 and grid[-1] == 0.4 and grid[14] == 0.075


def test_omega_calibration_makes_results_unit_free():
    bs = random_sheet(np.random.default_rng(11), 20)
    scaled = bs.copy()
    amounts = list(FIRE_SALE_COLUMNS[1:])
    scaled[amounts] = scaled[amounts] * 1e6  # e.g. millions -> units
    results = []
    for sheet in (bs, scaled):
        omega = calibrate_omega(saleable_stock(sheet), sold_share=0.01, price_drop=0.02)
        results.append(fire_sale(sheet, alpha=0.12, r_star=25.0, omega=omega, tol=1e-12, tol_basis="capital"))
    small, big = results
    assert big.rounds == small.rounds and big.n_failed == small.n_failed
    for name in ("sr", "ll", "cl", "il", "lgap", "cgap", "w"):
        assert getattr(big, name) == pytest.approx(getattr(small, name), rel=1e-9, abs=1e-14), name
    # Zhang–Guo–Wen–Sun's worked example: ω = 1e-14 per yuan on a saleable stock of 1e14 yuan = "1% sold moves the price 1%"
    assert calibrate_omega(1e14, sold_share=0.01, price_drop=0.01) == pytest.approx(1e-14, rel=1e-15)
    assert calibrate_omega(1e5, sold_share=0.01, price_drop=0.01) == pytest.approx(1e-5, rel=1e-15)  # per billion
    with pytest.raises(ValueError, match="sold_share=0 is out of range"):
        calibrate_omega(1e14, sold_share=0, price_drop=0.01)


def test_sector_loans_add_correlated_direct_loss():
    bs = TOY1.assign(manufacturing=[10.0, 20.0, 5.0, 2.0], mining=[1.0, 1.0, 1.0, 1.0])
    res = fire_sale(bs, alpha=0.1, r_star=10.0, omega=0.0, sector_correlations={"manufacturing": 0.5, "mining": -0.3})
    # loss0 = α (re + max(0, .5) manufacturing + max(0, −.3) mining)
    np.testing.assert_allclose(res.banks["loss0"], 0.1 * (TOY1["real_estate_loans"] + 0.5 * bs["manufacturing"]))
    with pytest.raises(ValueError, match="missing column"):
        fire_sale(TOY1, alpha=0.1, r_star=10.0, omega=0.0, sector_correlations={"energy": 0.2})
    with pytest.raises(ValueError, match=r"sector_correlations\['mining'\]=1.5 is out of range"):
        fire_sale(bs, alpha=0.1, r_star=10.0, omega=0.0, sector_correlations={"mining": 1.5})


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.assign(securities=[20.0, -1.0, 20.0, 10.0]), r"column 'securities', bank 'B': value -1.0"),
        (lambda d: d.assign(capital=[5.0, 11.0, 101.0, 5.0]), r"column 'capital', bank 'C'.*must not exceed total_assets"),
        (lambda d: d.drop(columns="loans"), r"missing column\(s\) 'loans'"),
        (lambda d: d.assign(liquid_assets=[20.0, np.nan, 25.0, 3.0]), r"column 'liquid_assets', bank 'B': value nan"),
        (lambda d: d.assign(real_estate_loans=[20.0, 4.0, 64.0, 2.0]), r"bank 'C'.*must not exceed loans"),
        (lambda d: d.assign(loans=[60.0, 95.0, 63.0, 31.0]), r"bank 'B'.*must not exceed total_assets"),
        (lambda d: d.assign(bank_id=["A", "B", "A", "D"]), r"duplicate bank 'A'"),
        (lambda d: d.assign(capital=[5.0, 0.0, 10.0, 5.0]), r"bank 'B'.*capital must be > 0"),
        (lambda d: d.assign(loans=["60", "x", "63", "31"]), r"column 'loans', bank 'B': value 'x'"),
    ],
)
def test_bad_balance_sheet(change, match):
    with pytest.raises(ValueError, match=match):
        fire_sale(change(TOY1.copy()), alpha=0.1, r_star=10.0, omega=0.001)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.5}, r"alpha=1.5 is out of range; allowed: \[0.0, 1.0\]"),
        ({"alpha": -0.1}, r"alpha=-0.1 is out of range"),
        ({"r_star": 0.5}, r"r_star=0.5 is out of range"),
        ({"omega": -1.0}, r"omega=-1.0 is out of range"),
        ({"tol": 0.0}, r"tol=0.0 is out of range"),
        ({"max_rounds": 0}, r"max_rounds=0 is out of range"),
        ({"tol_basis": "relative"}, r"tol_basis='relative' is not allowed; allowed values: 'absolute', 'capital'"),
    ],
)
def test_bad_options(kwargs, match):
    options = {"alpha": 0.1, "r_star": 10.0, "omega": 0.001} | kwargs
    with pytest.raises(ValueError, match=match):
        fire_sale(TOY1, **options)


# ---------------------------------------------------------------- Zhang–Guo–Wen–Sun's α-shape
BANK_TYPES = {  # count, total-assets range, capital/assets range (Zhang–Guo–Wen–Sun's 39 listed banks)
    "large": (6, (15000.0, 30000.0), (0.065, 0.080)),
    "joint_stock": (9, (3000.0, 8000.0), (0.055, 0.070)),
    "city": (17, (300.0, 2500.0), (0.045, 0.070)),
    "rural": (7, (100.0, 1000.0), (0.050, 0.080)),
}


def synthetic_cross_section(seed: int) -> pd.DataFrame:
    """39 banks like Zhang–Guo–Wen–Sun's sample, shares of total assets drawn uniformly: loans 45–55%,
    securities 20–30%, interbank 2–5%, liquid assets 10–16%; real-estate (plus correlated
    sector) loans 50–70% of loans. Amounts in yuan billions. Capital/real-estate loans is at most
    0.08/(0.45·0.5) ≈ 0.356, so every bank fails at t = 0 for α ≥ 36%."""
    rng = np.random.default_rng(seed)
    rows = []
    for kind, (count, assets, capital) in BANK_TYPES.items():
        for j in range(count):
            a = rng.uniform(*assets)
            la = a * rng.uniform(0.45, 0.55)
            rows.append({
                "bank_id": f"{kind}{j:02d}", "total_assets": a, "capital": a * rng.uniform(*capital),
                "liquid_assets": a * rng.uniform(0.10, 0.16), "interbank_assets": a * rng.uniform(0.02, 0.05),
                "loans": la, "securities": a * rng.uniform(0.20, 0.30),
                "real_estate_loans": la * rng.uniform(0.50, 0.70),
            })
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(4))
def test_synthetic_39_banks_show_linear_inverted_u_linear(seed):
    """Robust features of Zhang–Guo–Wen–Sun's shape (ω: selling 1% of the saleable stock moves its price 1%):
    relief — at α ≤ 1% nobody fails and SR is the direct loss (IL ≤ 5% of SR);
    contagion — failures jump by ≥ 8 banks between two neighbouring α in (2%, 30%), and SR peaks
    strictly inside the grid at ≥ 1.5 × its value at 40% (inverted U);
    outbreak — the last 5 grid points have every bank failing at t = 0, so SR = DL is exactly
    linear in α (zero second differences), no rounds."""
    bs = synthetic_cross_section(seed)
    omega = calibrate_omega(saleable_stock(bs), sold_share=0.01, price_drop=0.01)
    curve = fire_sale_curve(bs, alpha_grid(), r_star=25.0, omega=omega)
    low = curve[curve["alpha"] <= 0.01]
    assert (low["n_failed"] == 0).all() and (low["il"] <= 0.05 * low["sr"]).all()
    jumps = np.diff(curve["n_failed"].to_numpy())
    k = int(np.argmax(jumps))
    assert jumps[k] >= 8 and 0.02 < curve["alpha"].iloc[k + 1] < 0.30
    peak = int(curve["sr"].idxmax())
    assert 0 < peak < len(curve) - 1 and curve["sr"].iloc[peak] >= 1.5 * curve["sr"].iloc[-1]
    tail = curve.tail(5)
    assert (tail["n_failed"] == len(bs)).all() and (tail["rounds"] == 0).all()
    np.testing.assert_allclose(tail["sr"], tail["dl"], rtol=1e-12)
    np.testing.assert_allclose(np.diff(tail["sr"], 2), 0.0, atol=1e-12)
    regions = fire_sale_regions(curve)
    assert regions["region"].tolist() == ["relief", "contagion", "outbreak"]
    assert regions["alpha_from"].is_monotonic_increasing


# ---------------------------------------------------------------- EU data
@pytest.mark.realdata
def test_eba_2018_maps_to_model_inputs(shared_data):
    path = shared_data / "eu-eba2018" / "EBA_2018.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    raw = pd.read_csv(path, sep=" ", skiprows=1, header=None, names=["bank_id", "CET1E", "leverage", "debt_sec", "govbonds"],
                      dtype={"govbonds": str})
    assert len(raw) == 48
    bs = map_eba_balance_sheet(raw)
    at01 = bs.set_index("bank_id").loc["AT01"]
    # AT01: CET1E 14712, leverage 6.55% -> assets 14712/0.0655; govbonds "13+27682" = 27695 <= debt_sec 34241
    assert at01["total_assets"] == pytest.approx(14712 / 0.0655, rel=1e-15)
    assert at01["government_bonds"] == 27695.0 and at01["securities"] == 34241.0
    assert at01["loans"] == pytest.approx(14712 / 0.0655 * 0.95 - 34241, rel=1e-15)
    assert (bs["total_assets"] / bs["capital"] < 30).all()  # leverage ratios 3.4%..11.9%
    omega = calibrate_omega(saleable_stock(bs), sold_share=0.01, price_drop=0.01)
    curve = fire_sale_curve(bs, alpha_grid(), r_star=25.0, omega=omega)
    assert (curve["status"].str.startswith(("ok", "warning:"))).all()
    assert abs(curve["sr"] - curve["ll"] - curve["cl"]).max() <= 1e-12
    # 48 banks; at α = 40% of a 30% real-estate share (12% of loans) most, not all, fail
    assert curve["n_failed"].iloc[0] < curve["n_failed"].iloc[-1] <= 48
    with pytest.raises(ValueError, match=r"column 'govbonds', bank 'AT01': value 'x\+1'"):
        map_eba_balance_sheet(raw.assign(govbonds=["x+1", *raw["govbonds"][1:]]))


# ---------------------------------------------------------------- one config, the per-year study


def test_api_defaults_are_the_pipeline_defaults():
    from measures.stress.firesale import FireSaleConfig, OmegaRule

    cfg = FireSaleConfig()
    assert (cfg.tol_basis, cfg.cap_loan_sales, cfg.omega, cfg.omega_rule, cfg.omega_calibration) == ("capital", True, None, "calibrated", OmegaRule())
    bs = synthetic_cross_section(1)
    omega = calibrate_omega(saleable_stock(bs), sold_share=0.01, price_drop=0.01)
    explicit = fire_sale(bs, alpha=0.12, r_star=25.0, omega=omega, tol=1e-12, max_rounds=100, tol_basis="capital",
                         cap_loan_sales=True)
    assert fire_sale(bs, alpha=0.12).system() == explicit.system()
    pd.testing.assert_frame_equal(fire_sale_curve(bs, [0.05, 0.12]), fire_sale_curve(bs, [0.05, 0.12], omega=omega))


def test_curve_with_banks_equals_single_runs():
    from measures.stress.firesale_curve import fire_sale_curve_with_banks

    bs = synthetic_cross_section(3)
    grid = [0.05, 0.1, 0.15, 0.3]
    opts = {"r_star": 25.0, "omega": 1.2 / saleable_stock(bs), "tol_basis": "capital", "cap_loan_sales": True}
    curve, banks = fire_sale_curve_with_banks(bs, grid, **opts)
    pd.testing.assert_frame_equal(curve, fire_sale_curve(bs, grid, **opts))
    assert banks["alpha"].tolist() == [a for a in grid for _ in range(len(bs))]
    for alpha in grid:
        single = fire_sale(bs, alpha=alpha, **opts).banks
        mine = banks[banks["alpha"] == alpha].drop(columns="alpha").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, single)


def test_balance_sheet_inputs_fill_rules_and_screening():
    from measures.stress.firesale_years import balance_sheet_inputs, screen_inputs

    fill = {"securities": {"share": 0.2, "of": "total_assets"}, "real_estate_loans": {"share": 0.5, "of": "loans"}}
    bs = pd.DataFrame({
        "bank_id": ["A", "B", "C"], "period_end": pd.to_datetime(["2015-12-31", "2015-12-31", "2015-06-30"]),
        "total_assets": [100.0, 50.0, 80.0], "equity": [8.0, -1.0, 5.0], "loans": [50.0, 20.0, 40.0],
        "liquid_assets": [15.0, 10.0, 10.0], "interbank_assets": [3.0, 2.0, 1.0],
    })
    frame, events = balance_sheet_inputs(bs, fill=fill)
    assert frame["securities"].tolist() == [20.0, 10.0] and frame["real_estate_loans"].tolist() == [25.0, 10.0]
    assert {"not_annual", "fill_securities", "fill_real_estate_loans"} <= set(events["reason"])
    filled = events[events["reason"] == "fill_securities"]
    assert filled["bank_id"].tolist() == ["A", "B"] and (filled["date_start"] == pd.Timestamp("2015-12-31")).all()
    kept, bad = screen_inputs(frame)
    assert kept["bank_id"].tolist() == ["A"]
    assert bad["bank_id"].tolist() == ["B"] and bad["reason"].tolist() == ["invalid_input"]
    assert "capital" in bad["detail"].iloc[0]
    _, missing = screen_inputs(frame.assign(liquid_assets=[np.nan, 1.0]))
    assert missing["reason"].iloc[0] == "missing_input" and "liquid_assets" in missing["detail"].iloc[0]
    assert missing["bank_id"].iloc[0] == "A"
    _, outside = balance_sheet_inputs(bs, years=(2016, 2017))
    assert outside["reason"].tolist() == ["not_annual", "outside_years"]


def test_fill_of_loans_is_applied_before_shares_of_loans():
    from measures.stress.firesale_years import balance_sheet_inputs

    fill = {"real_estate_loans": {"share": 0.5, "of": "loans"}, "loans": {"share": 0.6, "of": "total_assets"}}
    bs = pd.DataFrame({"bank_id": ["A"], "period_end": pd.to_datetime(["2016-12-31"]), "total_assets": [100.0],
                       "equity": [8.0], "liquid_assets": [15.0], "interbank_assets": [3.0], "securities": [20.0]})
    frame, events = balance_sheet_inputs(bs, fill=fill)
    assert frame["loans"].tolist() == [60.0] and frame["real_estate_loans"].tolist() == [30.0]
    assert events["reason"].tolist() == ["fill_loans", "fill_real_estate_loans"]
    assert (events["date_start"] == events["date_end"]).all() and events["date_start"].iloc[0] == pd.Timestamp("2016-12-31")


def test_used_sectors_sorts_and_reports_absent_columns():
    from measures.stress.firesale_years import used_sectors

    sectors, events = used_sectors({"loans_b": 0.5, "loans_a": 0.2, "loans_x": 0.9}, ["loans_a", "loans_b"])
    assert list(sectors) == ["loans_a", "loans_b"]
    assert events["reason"].tolist() == ["sector_column_absent"] and "loans_x" in events["detail"].iloc[0]


class _ReversedMapper:
    """Computes the items in reverse order (results returned in item order), as a parallel mapper may."""

    def map(self, fn, items, *, desc=""):
        items = list(items)
        return [fn(x) for x in reversed(items)][::-1]


def test_fire_sale_years_equals_per_year_curves_and_mean():
    from measures.stress.firesale import FireSaleConfig
    from measures.stress.firesale_years import fire_sale_years, mean_curve

    years = [synthetic_cross_section(s).assign(year=2010 + s) for s in range(3)]
    lonely = synthetic_cross_section(9).head(1).assign(year=2020)
    frame = pd.concat([*years, lonely], ignore_index=True)
    grid = alpha_grid(0.02, 0.30, 0.02)
    result = fire_sale_years(frame, grid, il_share=0.4)
    assert result.events["reason"].tolist() == ["too_few_banks"]
    assert result.events["date_start"].iloc[0] == pd.Timestamp("2020-12-31")
    assert sorted(result.system["year"].unique()) == [2010, 2011, 2012]
    part = years[1].drop(columns="year").sort_values("bank_id", kind="mergesort").reset_index(drop=True)
    omega = FireSaleConfig().omega_for(validate_fire_sale_balance_sheet(part))
    curve = fire_sale_curve(part, grid, omega=omega)
    mine = result.system[result.system["year"] == 2011].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[curve.columns], curve)
    assert (mine["omega"] == omega).all() and (mine["n_banks"] == len(part)).all()
    regions = fire_sale_regions(curve, il_share=0.4)
    assert result.regions[result.regions["year"] == 2011]["region"].tolist() == regions["region"].tolist()
    other = fire_sale_years(frame, grid, il_share=0.4, mapper=_ReversedMapper())  # results do not depend on the mapper
    pd.testing.assert_frame_equal(other.system, result.system)
    pd.testing.assert_frame_equal(other.banks, result.banks)
    mean, mean_regions = mean_curve(result.system, il_share=0.4)
    assert mean["alpha"].tolist() == list(grid)
    assert mean["sr"].iloc[3] == pytest.approx(result.system[result.system["alpha"] == grid[3]]["sr"].mean(), rel=1e-15)
    pd.testing.assert_frame_equal(mean_regions, fire_sale_regions(mean, il_share=0.4))


def test_fire_sale_years_without_two_banks_is_not_estimable():
    from measures.core.status import NotEstimable
    from measures.stress.firesale_years import fire_sale_years

    with pytest.raises(NotEstimable, match="at least 2 banks"):
        fire_sale_years(synthetic_cross_section(1).head(1).assign(year=2015), [0.1])


def test_eba_inputs_record_the_mapping():
    from measures.stress.firesale_years import EbaMapping, eba_inputs

    eba = pd.DataFrame({"bank_id": ["X"], "CET1E": [1000.0], "leverage": [5.0], "debt_sec": [4000.0], "govbonds": ["1+2"]})
    frame, events = eba_inputs(eba, EbaMapping(year=2017))
    assert frame["year"].tolist() == [2017] and "government_bonds" not in frame
    assert events["reason"].tolist() == ["eba_mapping"] and events["date_start"].iloc[0] == pd.Timestamp("2017-12-31")


# ------------------------------------------------------------------ coverage: source, fills, gaps (shared with the cascade)


def test_resolve_source_follows_the_data_source():
    from measures.stress.coverage import resolve_source

    assert resolve_source("auto", "files") == "balance_sheet"
    assert resolve_source("auto", "synthetic") == "synthetic"
    assert resolve_source("synthetic", "files") == "synthetic" and resolve_source("eba", "synthetic") == "eba"


def test_apply_fills_records_bank_periods_column_and_rule():
    from measures.stress.coverage import FillRule, apply_fills

    frame = pd.DataFrame({"bank_id": ["A", "A", "A", "B"],
                          "period_end": pd.to_datetime(["2010-12-31", "2011-12-31", "2013-12-31", "2011-12-31"]),
                          "total_assets": [100.0, 110.0, 120.0, 50.0], "securities": [np.nan, np.nan, np.nan, 5.0],
                          "loans": [60.0, np.nan, 70.0, 30.0]})
    rules = {"securities": FillRule(share=0.2, of="total_assets"), "real_estate_loans": FillRule(share=0.5, of="loans")}
    out, events = apply_fills(frame, rules, where="stress.x.fill")
    assert out["securities"].tolist() == [20.0, 22.0, 24.0, 5.0]
    assert out["real_estate_loans"].tolist()[:1] == [30.0] and np.isnan(out["real_estate_loans"].iloc[1])  # no base
    sec = events[events["reason"] == "fill_securities"].iloc[0]
    assert (sec["bank_id"], sec["n_rows"], sec["action"]) == ("A", 3, "filled")
    assert sec["date_start"] == pd.Timestamp("2010-12-31") and sec["date_end"] == pd.Timestamp("2013-12-31")
    assert sec["detail"] == "securities missing in 2010-2011, 2013; set to 0.2 x total_assets (stress.x.fill)"
    assert sorted(events.loc[events["reason"] == "fill_real_estate_loans", "bank_id"]) == ["A", "B"]


def test_describe_missing_names_columns_banks_and_periods():
    from measures.stress.coverage import describe_missing, periods_text, span

    frame = pd.DataFrame({"bank_id": ["A", "B", "A", "B"],
                          "period_end": pd.to_datetime(["2012-12-31", "2012-12-31", "2013-12-31", "2013-12-31"]),
                          "loans": [1.0, np.nan, np.nan, np.nan], "equity": [1.0, 1.0, 1.0, 1.0],
                          "securities": np.nan})
    gaps = describe_missing(frame, ["equity", "loans", "securities", "real_estate_loans"],
                            present=["bank_id", "period_end", "loans", "equity", "securities"])
    assert gaps == ["loans: missing for 2 of 2 banks (A, B) in 2012-2013", "securities: missing for every bank in 2012-2013",
                    "real_estate_loans: absent from balance_sheet"]
    assert span([2007, 2008, 2009, 2012, 2014, 2015]) == "2007-2009, 2012, 2014-2015" and span([]) == ""
    quarters = pd.date_range("2001-03-31", periods=8, freq="QE")
    assert periods_text(quarters) == "8 periods from 2001-03-31 to 2002-12-31"
    assert periods_text(quarters[:2]) == "2001-03-31, 2001-06-30"


def test_firesale_plan_is_not_estimable_with_the_missing_columns():
    from measures.stress.firesale_years import FireSaleParams, firesale_plan

    bs = pd.DataFrame({"bank_id": ["A", "B", "A", "B"],
                       "period_end": pd.to_datetime(["2015-12-31", "2015-12-31", "2016-12-31", "2016-12-31"]),
                       "total_assets": [100.0, 50.0, 110.0, 55.0], "equity": [8.0, 4.0, 9.0, 4.0],
                       "loans": [50.0, 20.0, 55.0, np.nan]})
    plan = firesale_plan(bs, FireSaleParams(years=None, sector_correlations={}))
    assert plan.reason == ("stress.firesale: no year has at least 2 banks with valid inputs in years 2015-2016: "
                           "liquid_assets: absent from balance_sheet; interbank_assets: absent from balance_sheet; "
                           "loans: missing for 1 of 2 banks (B) in 2016; securities: absent from balance_sheet; "
                           "real_estate_loans: absent from balance_sheet")
    assert plan.needs.startswith("balance_sheet columns liquid_assets, interbank_assets, loans, securities, real_estate_loans")
    assert plan.check_lines()[0][0] == "cannot"
    fill = {c: {"share": 0.1, "of": "total_assets"} for c in ("liquid_assets", "interbank_assets", "securities")}
    fill["real_estate_loans"] = {"share": 0.3, "of": "loans"}
    ok = firesale_plan(bs, FireSaleParams(years=None, sector_correlations={}, fill=fill))
    assert ok.reason is None and ok.summary == "fire sale on 2 banks in 2015 (2 bank-years) at 80 shocks alpha"
    kinds = [k for k, _ in ok.check_lines()]
    assert kinds[0] == "estimates" and kinds.count("fills") == 4 and "skips" in kinds  # B 2016: no loans, excluded
    none = firesale_plan(bs, FireSaleParams(years=(2001, 2002)))
    assert none.reason.endswith("in stress.firesale.years [2001, 2002]; its 31 December periods: 2015-2016")
    assert firesale_plan(None, FireSaleParams()).reason == "stress.firesale: the dataset has no balance_sheet table"
