"""DebtRank (Battiston et al. 2012) on hand-computable networks."""

from __future__ import annotations

import numpy as np
import pytest

from measures.stress.debtrank import debtrank, debtrank_by_bank


def chain() -> tuple[np.ndarray, np.ndarray]:
    """Bank 0 lent 2 to bank 1, bank 1 lent 4 to bank 2; capital 4, 8, 10."""
    x = np.zeros((3, 3))
    x[0, 1], x[1, 2] = 2.0, 4.0
    return x, np.array([4.0, 8.0, 10.0])


def test_hand_computed_chain() -> None:
    x, e = chain()
    res = debtrank(x, e, initial_distress=[0.0, 0.0, 1.0])
    # W_12 = 4/8 -> h1 = 0.5; W_01 = 2/4 -> h0 = 0.25; v = E / 22
    np.testing.assert_allclose(res.distress, [0.25, 0.5, 1.0], rtol=1e-15)
    assert res.debtrank == pytest.approx((4 * 0.25 + 8 * 0.5) / 22, rel=1e-14)
    assert res.total_distress == pytest.approx((4 * 0.25 + 8 * 0.5 + 10) / 22, rel=1e-14)
    assert res.rounds == 3 and res.status == "ok"
    equal = debtrank(x, e, initial_distress=[0.0, 0.0, 1.0], weights="equal")
    assert equal.debtrank == pytest.approx(0.75 / 3, rel=1e-14)


def test_partial_initial_distress_scales_linearly_below_saturation() -> None:
    x, e = chain()
    res = debtrank(x, e, initial_distress=[0.0, 0.0, 0.4])
    np.testing.assert_allclose(res.distress, [0.1, 0.2, 0.4], rtol=1e-15)


def test_each_bank_propagates_once_on_a_cycle() -> None:
    # 0 and 1 lent 2 to each other, capital 4: W = 0.5 both ways
    x = np.array([[0.0, 2.0], [2.0, 0.0]])
    res = debtrank(x, [4.0, 4.0], initial_distress=[0.5, 0.0])
    # t=2: h1 = 0.25 (0 becomes inactive); t=3: h0 = 0.5 + 0.5*0.25 = 0.625 (1 inactive): stop
    np.testing.assert_allclose(res.distress, [0.625, 0.25], rtol=1e-15)
    assert res.debtrank == pytest.approx(0.5 * (0.625 + 0.25) - 0.5 * 0.5, rel=1e-14)


def test_zero_when_nothing_is_exposed() -> None:
    res = debtrank(np.zeros((4, 4)), [1.0, 2.0, 3.0, 4.0], initial_distress=[1.0, 0.0, 0.0, 0.0])
    assert res.debtrank == 0.0
    np.testing.assert_array_equal(res.distress, [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(debtrank_by_bank(np.zeros((4, 4)), [1.0, 2.0, 3.0, 4.0]), np.zeros(4))


def test_bounded_by_one_and_saturates_on_large_exposures() -> None:
    rng = np.random.default_rng(1)
    n = 20
    x = rng.uniform(0, 100, (n, n))
    np.fill_diagonal(x, 0.0)
    e = rng.uniform(1, 5, n)  # every exposure above capital: one default distresses all fully
    res = debtrank(x, e, initial_distress=np.eye(n)[0])
    np.testing.assert_array_equal(res.distress, np.ones(n))
    assert res.debtrank == pytest.approx(1 - e[0] / e.sum(), rel=1e-14)
    for seed in range(5):
        r = np.random.default_rng(seed)
        x = r.uniform(0, 3, (n, n)) * (r.uniform(size=(n, n)) < 0.3)
        np.fill_diagonal(x, 0.0)
        for w in ("capital", "interbank_liabilities", "interbank_assets", "equal"):
            out = debtrank(
                x, r.uniform(1, 10, n), initial_distress=r.uniform(0, 1, n) * (r.uniform(size=n) < 0.3), weights=w
            )
            assert 0.0 <= out.debtrank <= 1.0 and out.total_distress <= 1.0 + 1e-15


def test_by_bank_equals_single_runs() -> None:
    x, e = chain()
    by_bank = debtrank_by_bank(x, e, psi=1.0)
    singles = [debtrank(x, e, initial_distress=np.eye(3)[i]).debtrank for i in range(3)]
    np.testing.assert_allclose(by_bank, singles, rtol=0, atol=0)
    np.testing.assert_allclose(by_bank, [0.0, 4 * 0.5 / 22, 5 / 22], rtol=1e-14)  # bank 1 -> h0 = 0.5


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((np.zeros((2, 2)), [1.0, 0.0]), {"initial_distress": 1.0}, r"capital must be positive .* capital\[1\]=0.0"),
        (
            (np.zeros((3, 3)), [1.0, 1.0]),
            {"initial_distress": 1.0},
            r"exposures must be \(2, 2\) to match capital's 2 banks",
        ),
        (
            (-np.ones((2, 2)), [1.0, 1.0]),
            {"initial_distress": 1.0},
            r"exposures must be non-negative; exposures\[0, 0\]=-1.0",
        ),
        (
            (np.eye(2), [1.0, 1.0]),
            {"initial_distress": 1.0},
            r"exposures must have a zero diagonal; exposures\[0, 0\]=1.0",
        ),
        ((np.zeros((2, 2)), [1.0, 1.0]), {"initial_distress": [0.0, 1.5]}, r"initial_distress must lie in \[0, 1\]"),
        (
            (np.zeros((2, 2)), [1.0, 1.0]),
            {"initial_distress": 1.0, "weights": "assets"},
            "weights='assets' is not allowed; allowed values: 'capital', 'interbank_liabilities'",
        ),
        ((np.zeros((2, 2)), [1.0, 1.0]), {"initial_distress": 1.0, "weights": [0.0, 0.0]}, "sum to zero"),
    ],
)
def test_bad_input_raises(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        debtrank(*args, **kwargs)
