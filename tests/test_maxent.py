"""Maximum-entropy (RAS) and minimum-density interbank matrices (docs/cascade.md, Fan–Rong–Duan)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.optimize import brentq, minimize

from measures.core.status import FitStatus, is_failed
from measures.stress.maxent import max_entropy_matrix, minimum_density_matrix


def _margins(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 1.2, n)
    l = rng.lognormal(0.0, 1.2, n)
    l *= a.sum() / l.sum()
    return a, l


def _relative_margin_errors(x: np.ndarray, a: np.ndarray, l: np.ndarray) -> float:
    return float(max(np.max(np.abs(x.sum(axis=1) / a - 1)), np.max(np.abs(x.sum(axis=0) / l - 1))))


def test_ras_meets_margins_with_zero_diagonal() -> None:
    a, l = _margins(40, seed=1)
    est = max_entropy_matrix(a, l)
    assert est.status == "ok"
    assert np.all(np.diag(est.matrix) == 0)
    assert np.all(est.matrix[~np.eye(40, dtype=bool)] > 0)
    assert _relative_margin_errors(est.matrix, a, l) <= 1e-10
    assert est.max_margin_error <= 1e-10
    assert est.n_links == 40 * 39
    assert est.relative_mismatch == pytest.approx(0.0, abs=1e-14)


def test_ras_closed_form_uniform_margins() -> None:
    # equal margins c: by symmetry X_ij = c / (n - 1) off the diagonal
    n, c = 7, 3.5
    est = max_entropy_matrix(np.full(n, c), np.full(n, c))
    expected = np.full((n, n), c / (n - 1))
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(est.matrix, expected, rtol=1e-12, atol=0)


def test_ras_closed_form_two_banks_is_forced() -> None:
    est = max_entropy_matrix([2.0, 5.0], [5.0, 2.0])
    np.testing.assert_allclose(est.matrix, [[0.0, 2.0], [5.0, 0.0]], rtol=1e-12)


def test_ras_symmetric_margins_match_the_scalar_equation() -> None:
    # A = L: the solution is symmetric, X_ij = r_i r_j A_i A_j with r_i (S - r_i A_i) = 1,
    # S = sum_j r_j A_j, so r_i = (S - sqrt(S^2 - 4 A_i)) / (2 A_i); one scalar equation for S.
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])

    def r_of(s: float) -> np.ndarray:
        return (s - np.sqrt(s * s - 4 * a)) / (2 * a)

    s_star = brentq(lambda s: np.sum(r_of(s) * a) - s, np.sqrt(4 * a.max()) * (1 + 1e-12), 1e3, xtol=1e-15, rtol=1e-15)
    r = r_of(s_star)
    expected = np.outer(r * a, r * a)
    np.fill_diagonal(expected, 0.0)
    est = max_entropy_matrix(a, a)
    np.testing.assert_allclose(est.matrix, expected, rtol=1e-9)


def _kl_setup(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a, l = _margins(n, seed=seed)
    off = ~np.eye(n, dtype=bool)
    prior = np.outer(a, l) * off
    return a, l, off, prior / prior.sum() * a.sum()


def test_ras_equals_primal_kl_minimisation_by_scipy_slsqp() -> None:
    # independent computation 1: minimise KL(X || Q) over the off-diagonal cells under the margins
    n = 5
    a, l, off, prior = _kl_setup(n, seed=4)
    q = prior[off]
    cells = np.argwhere(off)

    def margins(z: np.ndarray) -> np.ndarray:
        x = np.zeros((n, n))
        x[cells[:, 0], cells[:, 1]] = z
        return np.concatenate([x.sum(axis=1) - a, (x.sum(axis=0) - l)[:-1]])

    res = minimize(
        lambda z: float(np.sum(z * np.log(z / q))),
        q.copy(),
        jac=lambda z: np.log(z / q) + 1.0,
        constraints=[{"type": "eq", "fun": margins}],
        bounds=[(1e-12, None)] * q.size,
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    assert res.success
    x = np.zeros((n, n))
    x[off] = res.x
    ras = max_entropy_matrix(a, l).matrix
    np.testing.assert_allclose(ras, x, rtol=0, atol=1e-6 * ras.max())


def test_ras_equals_dual_newton_solution_by_scipy() -> None:
    # independent computation 2: X_ij = Q_ij exp(u_i + v_j) maximises the concave dual
    # sum_i a_i u_i + sum_j l_j v_j - sum_ij Q_ij exp(u_i + v_j); solved by scipy's trust-exact Newton
    n = 6
    a, l, off, prior = _kl_setup(n, seed=9)

    def unpack(w: np.ndarray) -> np.ndarray:
        return prior * np.exp(w[:n, None] + np.append(w[n:], 0.0)[None, :])

    def fun(w: np.ndarray) -> float:
        return float(unpack(w).sum() - a @ w[:n] - l[:-1] @ w[n:])

    def grad(w: np.ndarray) -> np.ndarray:
        x = unpack(w)
        return np.concatenate([x.sum(axis=1) - a, (x.sum(axis=0) - l)[:-1]])

    def hess(w: np.ndarray) -> np.ndarray:
        x = unpack(w)
        h = np.zeros((2 * n - 1, 2 * n - 1))
        h[:n, :n] = np.diag(x.sum(axis=1))
        h[n:, n:] = np.diag(x.sum(axis=0)[:-1])
        h[:n, n:] = x[:, :-1]
        h[n:, :n] = x[:, :-1].T
        return h

    # scipy's trust-exact gets close; damped Newton steps (scipy.linalg.solve) finish to machine precision
    w = minimize(fun, np.zeros(2 * n - 1), jac=grad, hess=hess, method="trust-exact", options={"gtol": 1e-8}).x
    for _ in range(50):
        step = scipy.linalg.solve(hess(w), grad(w), assume_a="pos")
        t = 1.0
        while fun(w - t * step) > fun(w) + 1e-15 * abs(fun(w)) and t > 1e-8:
            t /= 2
        w = w - t * step
        if np.max(np.abs(grad(w)) / a.max()) < 1e-15:
            break
    assert np.max(np.abs(grad(w))) < 1e-12 * a.max()  # margins met by the dual solution
    ras = max_entropy_matrix(a, l).matrix
    np.testing.assert_allclose(ras, unpack(w), rtol=1e-9, atol=0)


def test_ras_is_invariant_to_the_currency_unit() -> None:
    a, l = _margins(25, seed=4)
    base = max_entropy_matrix(a, l).matrix
    scaled = max_entropy_matrix(a * 1e7, l * 1e7).matrix
    np.testing.assert_allclose(scaled / 1e7, base, rtol=1e-12)


def test_ras_rescales_and_reports_mismatched_totals() -> None:
    a, l = _margins(10, seed=5)
    est = max_entropy_matrix(a, 1.25 * l)
    assert est.status == "warning:RescaledMargins"
    assert est.relative_mismatch == pytest.approx((1 - 1.25) / 1.25, rel=1e-12)
    target = 0.5 * (a.sum() + 1.25 * l.sum())
    np.testing.assert_allclose(est.assets_target, a * target / a.sum(), rtol=1e-14)
    np.testing.assert_allclose(est.matrix.sum(axis=1), est.assets_target, rtol=1e-10)
    np.testing.assert_allclose(est.matrix.sum(axis=0), est.liabilities_target, rtol=1e-10)
    assets_rule = max_entropy_matrix(a, 1.25 * l, rescale="assets")
    np.testing.assert_allclose(assets_rule.matrix.sum(axis=1), a, rtol=1e-10)


def test_ras_zero_margins_give_zero_rows_and_columns() -> None:
    a = np.array([0.0, 2.0, 3.0, 5.0])
    l = np.array([4.0, 0.0, 3.0, 3.0])
    est = max_entropy_matrix(a, l)
    assert est.status == "ok"
    assert np.all(est.matrix[0] == 0) and np.all(est.matrix[:, 1] == 0)
    np.testing.assert_allclose(est.matrix.sum(axis=1), a, rtol=1e-10)


def test_ras_reports_non_convergence() -> None:
    a, l = _margins(10, seed=6)
    est = max_entropy_matrix(a, l, max_iter=1)
    status = FitStatus.parse(est.status)
    assert is_failed(est.status) and status.cls == "NotConverged" and status.message.startswith("margin error")


@pytest.mark.parametrize(
    ("assets", "liabilities", "message"),
    [
        ([1.0, -2.0, 3.0], [1.0, 2.0, 3.0], r"interbank_assets must be non-negative; interbank_assets\[1\]=-2.0"),
        ([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], "interbank_assets are all zero"),
        ([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], "interbank_liabilities are all zero"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], "one entry per bank; got lengths 2 and 3"),
        ([1.0], [1.0], "at least 2 banks"),
        ([1.0, np.nan], [1.0, 1.0], r"interbank_assets must be finite; interbank_assets\[1\]=nan"),
        ([5.0, 1.0, 1.0], [5.0, 1.0, 1.0], r"bank 0 has interbank assets 5.0 \+ liabilities 5.0 > total 7.0"),
    ],
)
def test_bad_margins_raise(assets: list[float], liabilities: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        max_entropy_matrix(assets, liabilities)


def test_bad_options_raise() -> None:
    with pytest.raises(
        ValueError, match="rescale='median' is not allowed; allowed values: 'mean', 'assets', 'liabilities'"
    ):
        max_entropy_matrix([1.0, 1.0], [1.0, 1.0], rescale="median")
    with pytest.raises(ValueError, match=r"tol=0.0 is out of range"):
        max_entropy_matrix([1.0, 1.0], [1.0, 1.0], tol=0.0)


def test_minimum_density_meets_margins_with_fewer_links() -> None:
    a, l = _margins(60, seed=7)
    sparse = minimum_density_matrix(a, l)
    dense = max_entropy_matrix(a, l)
    assert sparse.status == "ok"
    assert np.all(np.diag(sparse.matrix) == 0) and np.all(sparse.matrix >= 0)
    assert _relative_margin_errors(sparse.matrix, a, l) <= 1e-10
    assert sparse.n_links <= 2 * 60 - 1
    assert sparse.n_links < dense.n_links / 10


def test_minimum_density_random_cases_always_meet_margins() -> None:
    # small integer cases exercise the self-loop repair
    rng = np.random.default_rng(8)
    checked = 0
    for _ in range(300):
        n = int(rng.integers(3, 6))
        a = rng.integers(0, 6, n).astype(float)
        l = rng.permutation(a)
        if a.sum() == 0 or np.any(a + l > a.sum()):
            continue
        est = minimum_density_matrix(a, l)
        checked += 1
        assert np.all(np.diag(est.matrix) == 0)
        np.testing.assert_allclose(est.matrix.sum(axis=1), a, atol=1e-12)
        np.testing.assert_allclose(est.matrix.sum(axis=0), l, atol=1e-12)
    assert checked > 100


def test_minimum_density_self_loop_is_rerouted() -> None:
    # greedy: 1->0 (3), 2->1 (2), 1->2 (1); bank 2 is then left owing and owed 1 unit to itself,
    # so 1 unit of the link 1->0 is rerouted as 1->2 and 2->0 (hand-computed)
    est = minimum_density_matrix([0.0, 4.0, 3.0], [3.0, 2.0, 2.0])
    np.testing.assert_array_equal(est.matrix, [[0.0, 0.0, 0.0], [2.0, 0.0, 2.0], [1.0, 2.0, 0.0]])
    assert est.n_links == 4
