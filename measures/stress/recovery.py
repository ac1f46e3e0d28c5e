r"""Endogenous recovery rates of failed banks (the clearing step of the bank–asset cascade).

A failed bank :math:`j` pays its interbank creditors a fraction :math:`r_j \in [0, 1]`
of what it owes them, out of the value of what it still holds: its external
assets at the fire-sale prices, its other (riskless) assets and its own interbank
claims, which are themselves worth the recovery rates of *their* debtors. With

.. math::

    V_j(r) = e_j + o_j + \sum_k X_{jk} r_k

the recovery rates of the failed set :math:`F` solve the fixed point
(Eisenberg & Noe 2001, restricted to the failed banks; survivors pay in full)

.. math::

    r_j = \min\Bigl(1, \max\Bigl(0, \frac{V_j(r) - s_j}{d_j}\Bigr)\Bigr), \quad j \in F;
    \qquad r_k = 1, \quad k \notin F,

with the seniority rule fixing :math:`s_j` (claims paid before interbank
creditors) and :math:`d_j` (claims sharing pro rata with them):

* ``"pari_passu"`` (default): :math:`s_j = 0`, :math:`d_j = L_j + D_j` — interbank
  and other creditors share pro rata (Eisenberg–Noe);
* ``"external_senior"``: :math:`s_j = D_j`, :math:`d_j = L_j` — other liabilities
  (deposits) are paid first, interbank creditors get the residual.

Banks with :math:`d_j = 0` have no creditor sharing in the residual; their
:math:`r_j = 1` (it multiplies no claim).

The map is monotone, so its greatest fixed point exists (Tarski); it is the one
used. Under the pari-passu rule it is also the only one when every failed bank has
other liabilities :math:`D_j > 0`: :math:`T` is then a contraction with factor
:math:`\max_j L_j/d_j < 1` in the :math:`d`-weighted :math:`\ell_1` norm. It is computed by the monotone iteration
:math:`r \leftarrow T(r)` from above (from :math:`r = 1`, or from the recovery
vector of the previous cascade round, which bounds the new one from above because
recovery rates only fall as the failed set grows): the iterates decrease to the
greatest fixed point, and the iteration stops when no rate moves by more than
``RECOVERY_STEP_TOL`` = 1e-15. Its rate is at most
:math:`\max_j \sum_{k \in F} X_{jk}/d_j` (interbank assets over total liabilities,
about 0.1–0.3 for banks), so this takes a few dozen matrix–vector products and no
factorisation. If it has not settled after ``PICARD_BUDGET`` steps (a failed bank
funded almost only by interbank debt), the pari-passu fixed point is computed
exactly by the fictitious-default algorithm of Eisenberg & Noe (2001):

.. math::

    (\operatorname{diag}(d_D) - X_{DD})\, r_D = e_D + o_D + X_{D,\bar D} \mathbf 1,
    \qquad D \leftarrow D \cup \{j \in F: V_j(r)/d_j < 1\},

repeated until :math:`D` stops growing (at most :math:`|F|` solves; the matrix is a
non-singular M-matrix when :math:`D_j > 0`). Under ``"external_senior"`` the
monotone iteration simply continues up to ``max_iter`` steps; the result is then
made exact by one solve on the sets it identifies, kept only if it is a fixed
point.
"""

from __future__ import annotations

import numpy as np

SENIORITY_RULES = ("pari_passu", "external_senior")
#: Stop the monotone iteration when no recovery rate moves by more than this.
RECOVERY_STEP_TOL = 1e-15
#: Monotone steps tried before switching to the exact fictitious-default solve.
PICARD_BUDGET = 500


def recovery_terms(
    interbank_liabilities: np.ndarray, other_liabilities: np.ndarray, seniority: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(s, d)``: the senior claims and the pro-rata denominator of each bank for ``seniority``."""
    if seniority == "pari_passu":
        return np.zeros_like(other_liabilities), interbank_liabilities + other_liabilities
    return other_liabilities.copy(), interbank_liabilities.copy()


def clear_failed_banks(
    interbank: np.ndarray,
    resources: np.ndarray,
    senior: np.ndarray,
    denominator: np.ndarray,
    failed: np.ndarray,
    *,
    start: np.ndarray | None = None,
    max_iter: int = 100_000,
) -> tuple[np.ndarray, bool]:
    r"""Greatest fixed point of the recovery map on the failed set.

    Parameters
    ----------
    interbank : ndarray, shape (n, n)
        :math:`X_{jk}`, claim of bank ``j`` on bank ``k``.
    resources : ndarray, shape (n,)
        :math:`e_j + o_j`: external assets at current prices plus other assets.
    senior, denominator : ndarray, shape (n,)
        :math:`s_j` and :math:`d_j` from :func:`recovery_terms`.
    failed : ndarray of bool, shape (n,)
        The failed set :math:`F`.
    start : ndarray, shape (n,), optional
        Starting point of the monotone iteration; must bound the greatest fixed
        point from above (default all ones).
    max_iter : int
        Cap of the monotone iteration under ``"external_senior"``.

    Returns
    -------
    recovery : ndarray, shape (n,)
        :math:`r` (1 outside the failed banks that have creditors).
    converged : bool
        False only when the capped iteration under ``"external_senior"`` did not
        settle and no exact fixed point was found (then :math:`r` is an upper bound).
    """
    n = resources.size
    r = np.ones(n)
    active = failed & (denominator > 0)
    if not active.any():
        return r, True
    idx = np.flatnonzero(active)
    sub = interbank[np.ix_(idx, idx)]
    den = denominator[idx]
    base = resources[idx] - senior[idx] + interbank[idx].sum(axis=1) - sub.sum(axis=1)
    has_floor = bool(np.any(senior[idx] > 0))
    x = np.ones(idx.size) if start is None else np.minimum(start[idx], 1.0)
    budget = max_iter if has_floor else PICARD_BUDGET
    for _ in range(budget):
        new = np.clip((base + sub @ x) / den, 0.0, 1.0)
        step = float(np.max(x - new))
        x = new
        if step <= RECOVERY_STEP_TOL:
            r[idx] = x
            return r, True
    if not has_floor:
        r[idx] = _fictitious_default(sub, base, den)
        return r, True
    exact = _polish(sub, base, den, x)
    if exact is not None:
        r[idx] = exact
        return r, True
    r[idx] = x
    return r, False


def _solve_on_sets(
    sub: np.ndarray, base: np.ndarray, den: np.ndarray, d_set: np.ndarray, z_set: np.ndarray
) -> np.ndarray:
    """Recoveries given the sets: 1 outside D, 0 on Z, the linear solution on D minus Z."""
    x = np.ones(base.size)
    x[z_set] = 0.0
    inner = np.flatnonzero(d_set & ~z_set)
    if inner.size:
        rhs = base[inner] + sub[inner][:, ~d_set].sum(axis=1)
        system = np.diag(den[inner]) - sub[np.ix_(inner, inner)]
        x[inner] = np.linalg.solve(system, rhs)
    return x


def _fictitious_default(sub: np.ndarray, base: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Eisenberg–Noe fictitious-default algorithm (pari passu, no floor): exact in at most k solves."""
    d_set = np.zeros(base.size, dtype=bool)
    none = np.zeros(base.size, dtype=bool)
    x = np.ones(base.size)
    for _ in range(base.size + 1):
        x = _solve_on_sets(sub, base, den, d_set, none)
        new_d = d_set | ((base + sub @ x) / den < 1.0)
        if np.array_equal(new_d, d_set):
            break
        d_set = new_d
    return np.clip(x, 0.0, 1.0)


def _polish(sub: np.ndarray, base: np.ndarray, den: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    """One exact solve on the sets the monotone iteration identified; None unless a fixed point."""
    value = (base + sub @ x) / den
    try:
        exact = _solve_on_sets(sub, base, den, value < 1.0, value <= 0.0)
    except np.linalg.LinAlgError:
        return None
    check = np.clip((base + sub @ exact) / den, 0.0, 1.0)
    return check if np.max(np.abs(check - exact)) <= 1e-12 else None
