"""Sequential (Furfine) default cascade and Eisenberg–Noe / Rogers–Veraart clearing (docs/firesale.md §8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from measures.stress.interbank import NOT_DEFAULTED, eisenberg_noe, sequential_default

# ---------------------------------------------------------------- sequential default, by hand
# exposures[i, j] = what j owes i. Bank 0 fails at round 0; λ = 0.5.
#   bank 1 claims 10 on bank 0;  bank 2 claims 4 on bank 0 and 8 on bank 1;
#   bank 3 claims 1 on bank 1 and 6 on bank 2.
X = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],
        [10.0, 0.0, 0.0, 0.0],
        [4.0, 8.0, 0.0, 0.0],
        [0.0, 1.0, 6.0, 0.0],
    ]
)


def test_sequential_default_hand_cascade_three_rounds():
    k = np.array([1.0, 4.0, 5.0, 2.5])
    res = sequential_default(X, k, lgd=0.5, initial=[0])
    # round 1: bank 1 loses 0.5*10 = 5 > 4 -> fails; bank 2 loses 0.5*4 = 2 <= 5.
    # round 2: bank 2 loses 0.5*(4+8) = 6 > 5 -> fails; bank 3 loses 0.5*1 = 0.5 <= 2.5.
    # round 3: bank 3 loses 0.5*(1+6) = 3.5 > 2.5 -> fails. Round 4: nobody left.
    assert res.default_round.tolist() == [0, 1, 2, 3]
    assert res.rounds == 3
    assert res.defaulted == (0, 1, 2, 3)
    np.testing.assert_allclose(res.losses, [0.0, 5.0, 6.0, 3.5], rtol=0, atol=1e-15)


def test_sequential_default_boundary_is_strict_and_labels_follow_dataframe():
    # bank 3 with capital 3.5 loses exactly 3.5: k - loss = 0 is not < 0, it survives.
    ids = ["A", "B", "C", "D"]
    frame = pd.DataFrame(X, index=ids, columns=ids)
    res = sequential_default(frame, pd.Series([3.5, 1.0, 4.0, 5.0], index=["D", "A", "B", "C"]), lgd=0.5, initial=["A"])
    assert res.default_round.tolist() == [0, 1, 2, NOT_DEFAULTED]
    assert res.rounds == 2
    assert res.defaulted == ("A", "B", "C")
    table = res.hierarchy()
    assert table["default_round"].isna().tolist() == [False, False, False, True]
    assert table.loc[3, "loss"] == 3.5


def test_sequential_default_no_contagion_and_zero_lgd():
    k = np.array([1.0, 4.0, 5.0, 2.5])
    res = sequential_default(X, k, lgd=0.0, initial=np.array([True, False, False, False]))
    assert res.rounds == 0 and res.n_defaulted == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exposures": -X, "capital": np.ones(4)}, r"exposures must be non-negative; exposures\[1, 0\]"),
        ({"exposures": X[:3], "capital": np.ones(4)}, "must be square"),
        ({"exposures": X, "capital": np.ones(3)}, r"capital must have one entry per bank \(4\)"),
        ({"exposures": X + np.eye(4), "capital": np.ones(4)}, "zero diagonal"),
        ({"exposures": X, "capital": -np.ones(4)}, "capital must be non-negative"),
        ({"exposures": np.where(X == 4, np.nan, X), "capital": np.ones(4)}, "exposures must be finite"),
    ],
)
def test_sequential_default_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sequential_default(**kwargs, lgd=0.5, initial=[0])


def test_sequential_default_bad_lgd_and_initial():
    with pytest.raises(ValueError, match=r"lgd=1.5 is out of range; allowed: a number in \[0, 1\]"):
        sequential_default(X, np.ones(4), lgd=1.5, initial=[0])
    with pytest.raises(ValueError, match="outside 0..3"):
        sequential_default(X, np.ones(4), lgd=0.5, initial=[7])


# ---------------------------------------------------------------- Eisenberg–Noe, by hand
# liabilities[i, j] = what i owes j. Bank 0 owes 4 to bank 1 and 4 to bank 2; bank 1 owes 4 to
# bank 0; bank 2 owes nothing. External assets e = (1, 1, 0). p̄ = (8, 4, 0), Π[0] = (0, .5, .5),
# Π[1] = (1, 0, 0).
L = np.array([[0.0, 4.0, 4.0], [4.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
E = np.array([1.0, 1.0, 0.0])


def test_eisenberg_noe_hand_example_two_rounds():
    res = eisenberg_noe(L, E)
    # Round 1 (all pay in full): value_0 = 1 + 4 = 5 < 8 -> default; value_1 = 1 + 0.5*8 = 5 >= 4.
    #   D = {0}: p0 = 1 + p1 = 5.
    # Round 2: value_1 = 1 + 0.5*5 = 3.5 < 4 -> default. D = {0, 1}:
    #   p0 = 1 + p1, p1 = 1 + 0.5 p0  =>  p0 = 4, p1 = 3.
    np.testing.assert_allclose(res.payments, [4.0, 3.0, 0.0], rtol=0, atol=1e-14)
    assert res.default.tolist() == [True, True, False]
    assert res.default_round.tolist() == [1, 2, NOT_DEFAULTED]
    assert res.rounds == 2
    # net worth e + Π'p − p̄: bank 0: 1 + 3 − 8 = −4; bank 1: 1 + 2 − 4 = −1; bank 2: 0 + 2 − 0 = 2.
    np.testing.assert_allclose(res.net_worth, [-4.0, -1.0, 2.0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(res.recovery, [0.5, 0.75, 1.0], rtol=0, atol=1e-15)


def test_rogers_veraart_hand_example():
    res = eisenberg_noe(L, E, alpha=0.5, beta=0.5)
    # Round 1: bank 0 defaults (5 < 8): p0 = 0.5*1 + 0.5*4 = 2.5.
    # Round 2: value_1 = 1 + 0.5*2.5 = 2.25 < 4 -> default. D = {0, 1}:
    #   p0 = 0.5 + 0.5 p1, p1 = 0.5 + 0.5*0.5 p0  =>  p0 = 0.75/0.875 = 6/7, p1 = 0.5 + 0.25*6/7 = 5/7.
    np.testing.assert_allclose(res.payments, [6 / 7, 5 / 7, 0.0], rtol=0, atol=1e-14)
    assert res.default_round.tolist() == [1, 2, NOT_DEFAULTED]


def test_eisenberg_noe_non_unique_case_returns_greatest():
    # Two banks owing each other 1 with no external assets: every p1 = p2 in [0, 1] clears;
    # the greatest clearing vector is full payment (EN regularity fails: documented).
    res = eisenberg_noe(np.array([[0.0, 1.0], [1.0, 0.0]]), np.zeros(2))
    np.testing.assert_array_equal(res.payments, [1.0, 1.0])
    assert not res.default.any()


def _random_network(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    liab = rng.uniform(0, 10, (n, n)) * (rng.uniform(size=(n, n)) < 0.4)
    np.fill_diagonal(liab, 0.0)
    e = rng.uniform(0, 6, n) * (rng.uniform(size=n) < 0.8)
    return liab, e


def _fixed_point(liab, e, alpha=1.0, beta=1.0, iters=20000):
    """Independent Picard iteration of the (Rogers–Veraart) clearing map from p̄ (monotone to the greatest fixed point)."""
    pbar = liab.sum(axis=1)
    pi = np.divide(liab, pbar[:, None], out=np.zeros_like(liab), where=pbar[:, None] > 0)
    p = pbar.copy()
    for _ in range(iters):
        inflow = pi.T @ p
        new = np.where(e + inflow >= pbar, pbar, alpha * e + beta * inflow)
        if np.max(np.abs(new - p)) < 1e-15:
            break
        p = new
    return p


@pytest.mark.parametrize("seed", range(8))
def test_eisenberg_noe_equals_linear_programme_and_fixed_point(seed):
    rng = np.random.default_rng(seed)
    liab, e = _random_network(rng, 12)
    res = eisenberg_noe(liab, e)
    pbar = liab.sum(axis=1)
    pi = np.divide(liab, pbar[:, None], out=np.zeros_like(liab), where=pbar[:, None] > 0)
    # the greatest clearing vector maximises Σp over {0 <= p <= p̄, p − Π'p <= e} (EN 2001, Lemma 4)
    lp = linprog(-np.ones(12), A_ub=np.eye(12) - pi.T, b_ub=e, bounds=list(zip(np.zeros(12), pbar)), method="highs")
    assert lp.status == 0
    np.testing.assert_allclose(res.payments, lp.x, rtol=0, atol=1e-7 * pbar.max())
    # fixed-point equation p* = min(p̄, max(0, e + Π'p*)) holds to rounding
    np.testing.assert_allclose(res.payments, np.minimum(pbar, np.maximum(0.0, e + pi.T @ res.payments)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.payments, _fixed_point(liab, e), rtol=0, atol=1e-10)
    assert res.rounds <= 12
    assert (res.default == (res.payments < pbar - 1e-12)).all()


@pytest.mark.parametrize("seed", range(6))
def test_rogers_veraart_equals_independent_iteration(seed):
    rng = np.random.default_rng(100 + seed)
    liab, e = _random_network(rng, 10)
    res = eisenberg_noe(liab, e, alpha=0.7, beta=0.6)
    np.testing.assert_allclose(res.payments, _fixed_point(liab, e, 0.7, 0.6), rtol=0, atol=1e-10)
    # costs can only lower payments and enlarge the default set
    en = eisenberg_noe(liab, e)
    assert (res.payments <= en.payments + 1e-12).all()
    assert (res.default | ~en.default).all()


def test_rogers_veraart_with_unit_rates_is_eisenberg_noe():
    rng = np.random.default_rng(7)
    liab, e = _random_network(rng, 15)
    rv = eisenberg_noe(liab, e, alpha=1.0, beta=1.0)
    np.testing.assert_allclose(rv.payments, _fixed_point(liab, e, 1.0, 1.0), rtol=0, atol=1e-10)
    # and the limit α, β -> 1 approaches it
    near = eisenberg_noe(liab, e, alpha=1 - 1e-9, beta=1 - 1e-9)
    np.testing.assert_allclose(near.payments, rv.payments, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((-L, E), {}, "liabilities must be non-negative"),
        ((L, -E), {}, "external_assets must be non-negative"),
        ((L, E[:2]), {}, r"external_assets must have one entry per bank \(3\)"),
        ((L[:, :2], E), {}, "liabilities must be square"),
        ((L, E), {"alpha": 0.0}, r"alpha=0.0 is out of range; allowed: a number in \(0, 1\]"),
        ((L, E), {"beta": 1.2}, r"beta=1.2 is out of range"),
    ],
)
def test_eisenberg_noe_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        eisenberg_noe(*args, **kwargs)


def test_eisenberg_noe_textbook_example_of_the_systemicrisk_package():
    """The three-bank example of the documentation of R's ``systemicrisk`` (Gandy & Veraart),
    ``default_clearing(L, ea, el)`` with ``x = 0.5``: every bank owes 0.5 to each other bank,
    external assets ea = (1/2, 5/8, 3/4), external liabilities el = (3/2, 1/2, 1/2). External
    creditors are a fourth node with no assets and no obligations.

    By hand: bank 1 owes 5/2 (pays 1/5 of its payment to each bank), banks 2 and 3 owe 3/2
    (1/3 to each bank). Assuming every bank defaults gives p3 = 195/128 > 3/2, so bank 3 is
    solvent; with p3 = 3/2: p1 = 1/2 + p2/3 + 1/2 and p2 = 5/8 + p1/5 + 1/2, hence
    p1 = 165/112, p2 = 159/112, and bank 3 receives 3/4 + p1/5 + p2/3 = 85/56 >= 3/2 (solvent).
    """
    liabilities = np.array([[0, 0.5, 0.5, 1.5], [0.5, 0, 0.5, 0.5], [0.5, 0.5, 0, 0.5], [0, 0, 0, 0]])
    result = eisenberg_noe(liabilities, np.array([0.5, 0.625, 0.75, 0.0]))
    np.testing.assert_allclose(result.payments[:3], [165 / 112, 159 / 112, 1.5], rtol=0, atol=1e-14)
    assert list(np.asarray(result.default)[:3]) == [True, True, False]
