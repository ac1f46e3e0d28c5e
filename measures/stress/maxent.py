r"""Interbank exposure matrices from each bank's total interbank assets and liabilities.

Only the margins are observed: bank :math:`i` lends :math:`A_i` in total to other
banks (its interbank assets) and borrows :math:`L_j` in total (its interbank
liabilities). The bilateral matrix :math:`X` (:math:`X_{ij}` = claim of bank
:math:`i` on bank :math:`j`) must satisfy

.. math::

    \sum_j X_{ij} = A_i, \qquad \sum_i X_{ij} = L_j, \qquad X_{ii} = 0, \qquad X_{ij} \ge 0 .

Two estimators (docs/cascade.md; Fan–Rong–Duan §IV.1, after Upper & Worms 2004):

* :func:`max_entropy_matrix` — the matrix closest to the prior
  :math:`Q_{ij} = A_i L_j` (:math:`i \ne j`, :math:`Q_{ii} = 0`) in Kullback–Leibler
  divergence, computed by RAS (iterative proportional fitting);
* :func:`minimum_density_matrix` — a sparse matrix with few links (Anand, Craig &
  von Peter 2015), by a deterministic largest-first greedy allocation.

When :math:`\sum A \ne \sum L` (reporting differences, banks outside the sample)
no matrix can meet both margins; both margins are then rescaled to a common total
and the mismatch is reported in the result (never silently absorbed).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from measures.core.config import Config, check_choice, check_range
from measures.core.status import FitStatus
from measures.stress._arrays import as_float_array, check_nonnegative

RESCALE_RULES = ("mean", "assets", "liabilities")
#: Relative difference of the totals below which they count as equal (summation rounding).
MISMATCH_TOL = 1e-12


@dataclasses.dataclass(frozen=True, kw_only=True)
class MaxEntropyConfig(Config):
    """Options of :func:`max_entropy_matrix`.

    Attributes
    ----------
    tol : float
        Convergence tolerance: every row and column sum within ``tol`` *relative* to
        its own target margin, :math:`\\max_i |\\sum_j X_{ij}/a_i - 1| \\le tol`
        (scale free, so the result does not depend on the currency unit).
    max_iter : int
        Maximum number of RAS sweeps (one sweep = row scaling + column scaling).
    rescale : {"mean", "assets", "liabilities"}
        Common total :math:`T` both margins are scaled to when :math:`\\sum A \\ne \\sum L`:
        their mean, :math:`\\sum A` or :math:`\\sum L`.
    """

    tol: float = 1e-10
    max_iter: int = 10_000
    rescale: str = "mean"

    def validate(self) -> None:
        check_range("tol", self.tol, low=0.0, high=1e-3, low_open=True)
        check_range("max_iter", self.max_iter, low=1, integer=True)
        check_choice("rescale", self.rescale, RESCALE_RULES)


@dataclasses.dataclass(frozen=True)
class InterbankMatrixEstimate:
    """An estimated interbank matrix and how its margins were met.

    Attributes
    ----------
    matrix : ndarray, shape (n, n)
        :math:`X_{ij}` = claim of bank ``i`` on bank ``j`` (zero diagonal).
    assets_target, liabilities_target : ndarray, shape (n,)
        The margins actually fitted (the inputs after rescaling to a common total).
    total_assets, total_liabilities : float
        :math:`\\sum A` and :math:`\\sum L` as given.
    relative_mismatch : float
        :math:`(\\sum A - \\sum L) / \\max(\\sum A, \\sum L)`; 0 when the totals agree.
    max_margin_error : float
        Largest relative error of a row or column sum against its target.
    iterations : int
        RAS sweeps used (greedy steps for the minimum-density estimate).
    n_links : int
        Number of strictly positive off-diagonal entries.
    status : str
        ``"ok"``, ``"warning:RescaledMargins"`` when the totals differed by more than
        ``MISMATCH_TOL`` (1e-12) relative, or
        ``"failed:NotConverged: ..."`` when the tolerance was not reached.
    """

    matrix: np.ndarray
    assets_target: np.ndarray
    liabilities_target: np.ndarray
    total_assets: float
    total_liabilities: float
    relative_mismatch: float
    max_margin_error: float
    iterations: int
    n_links: int
    status: str


def max_entropy_matrix(
    interbank_assets: object,
    interbank_liabilities: object,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    rescale: str = "mean",
) -> InterbankMatrixEstimate:
    r"""Maximum-entropy interbank matrix with a zero diagonal, by RAS.

    Solves

    .. math::

        \min_{X \ge 0} \sum_{i \ne j} X_{ij} \log \frac{X_{ij}}{Q_{ij}}
        \quad \text{s.t.} \quad \sum_j X_{ij} = a_i,\ \sum_i X_{ij} = l_j,\ X_{ii} = 0,

    with prior :math:`Q_{ij} = a_i l_j` for :math:`i \ne j` (the maximum-entropy
    matrix :math:`a_i l_j / T` with its diagonal removed; Upper & Worms 2004,
    Fan–Rong–Duan §IV.1). The solution has the form :math:`X_{ij} = r_i s_j Q_{ij}`;
    RAS alternates

    .. math::

        X \leftarrow \operatorname{diag}(a / X\mathbf 1)\, X, \qquad
        X \leftarrow X \operatorname{diag}(l / X^\top \mathbf 1)

    until every row sum is within ``tol`` of its target relative to that target
    (column sums are exact after each sweep). Banks with a zero margin get a zero
    row (column).

    Margins: when :math:`\sum A \ne \sum L`, both are scaled to a common total
    :math:`T` (``rescale``), :math:`a = A\,T/\sum A`, :math:`l = L\,T/\sum L`; the
    mismatch is reported in ``relative_mismatch`` and the status is
    ``warning:RescaledMargins``. A solution exists iff :math:`a_i + l_i \le T` for
    every bank (a bank cannot lend to or borrow from itself).

    Parameters
    ----------
    interbank_assets, interbank_liabilities : array_like, shape (n,)
        :math:`A_i` and :math:`L_j`, non-negative, not all zero, in one currency unit.
    tol, max_iter, rescale
        See :class:`MaxEntropyConfig`.

    Returns
    -------
    InterbankMatrixEstimate
        ``status`` is ``failed:NotConverged`` when ``max_iter`` sweeps did not reach
        ``tol`` (e.g. a margin at the feasibility bound :math:`a_i + l_i = T`).

    Raises
    ------
    ValueError
        Negative, non-finite or all-zero margins, mismatched lengths, fewer than two
        banks, or margins no zero-diagonal matrix can meet.
    """
    config = MaxEntropyConfig(tol=tol, max_iter=max_iter, rescale=rescale)
    a, l, totals = _scaled_margins(interbank_assets, interbank_liabilities, config.rescale)
    x = np.outer(a, l)
    np.fill_diagonal(x, 0.0)
    rows, cols = a > 0, l > 0
    error = np.inf
    sweeps = 0
    for sweeps in range(1, config.max_iter + 1):
        row_sum = x.sum(axis=1)
        x[rows] *= (a[rows] / row_sum[rows])[:, None]
        col_sum = x.sum(axis=0)
        x[:, cols] *= (l[cols] / col_sum[cols])[None, :]
        error = _margin_error(x, a, l)
        if error <= config.tol:
            break
    status = _status(totals, error, config.tol, sweeps)
    return _estimate(x, a, l, totals, error, sweeps, status)


def minimum_density_matrix(
    interbank_assets: object,
    interbank_liabilities: object,
    *,
    rescale: str = "mean",
) -> InterbankMatrixEstimate:
    r"""A sparse interbank matrix meeting the margins with few links.

    Anand, Craig & von Peter (2015, *Quantitative Finance* 15(4)) estimate the
    matrix that meets the margins with the *fewest* links; the exact problem is
    NP-hard, and they use a heuristic. This implementation is a deterministic
    largest-first greedy allocation in that spirit (it is **not** their stochastic
    cost-minimising algorithm): repeatedly link the bank :math:`i` with the largest
    remaining assets to the bank :math:`j \ne i` with the largest remaining
    liabilities and allocate

    .. math::

        X_{ij} = \min(a_i^{\text{rem}}, l_j^{\text{rem}}),

    which exhausts at least one margin per link, so the result has at most
    :math:`2n - 1` links (plus one per repair below) against the
    :math:`\approx n(n-1)` of the maximum-entropy matrix. When the only remaining
    liabilities belong to the bank :math:`k` whose assets also remain (a self-loop),
    an existing link :math:`X_{ij}` (:math:`i, j \ne k`) is rerouted through
    :math:`k`: :math:`X_{ij} \mathrel{-}= y`, :math:`X_{ik} \mathrel{+}= y`,
    :math:`X_{kj} \mathrel{+}= y`, which keeps every other margin and is always
    possible when :math:`a_k + l_k \le T`.

    Parameters
    ----------
    interbank_assets, interbank_liabilities : array_like, shape (n,)
        As in :func:`max_entropy_matrix` (same rescaling rule and feasibility check).
    rescale : {"mean", "assets", "liabilities"}

    Returns
    -------
    InterbankMatrixEstimate
        ``iterations`` counts the allocation steps.
    """
    check_choice("rescale", rescale, RESCALE_RULES)
    a, l, totals = _scaled_margins(interbank_assets, interbank_liabilities, rescale)
    n = a.size
    x = np.zeros((n, n))
    rem_a, rem_l = a.copy(), l.copy()
    eps_a, eps_l = 1e-13 * a, 1e-13 * l
    steps = 0
    while True:
        live_a = rem_a > eps_a
        live_l = rem_l > eps_l
        if not live_a.any() or not live_l.any():
            break
        steps += 1
        i = int(np.argmax(np.where(live_a, rem_a, -1.0)))
        cand = np.where(live_l, rem_l, -1.0)
        cand[i] = -1.0
        if cand.max() < 0:  # only bank i still has liabilities left: lend to it from another bank
            others = np.where(live_a, rem_a, -1.0)
            others[i] = -1.0
            if others.max() < 0:
                _reroute_self_loop(x, i, min(rem_a[i], rem_l[i]))
                break
            i, j = int(np.argmax(others)), i
        else:
            j = int(np.argmax(cand))
        amount = min(rem_a[i], rem_l[j])
        x[i, j] += amount
        rem_a[i] -= amount
        rem_l[j] -= amount
        if rem_a[i] <= eps_a[i]:
            rem_a[i] = 0.0
        if rem_l[j] <= eps_l[j]:
            rem_l[j] = 0.0
    error = _margin_error(x, a, l)
    status = _status(totals, error, 1e-10, steps)
    return _estimate(x, a, l, totals, error, steps, status)


def margins_matrix(interbank_assets: object, interbank_liabilities: object, *, method: str = "maxent",
                   rescale: str = "smaller", tol: float = 1e-10) -> InterbankMatrixEstimate:
    """:func:`max_entropy_matrix` (``method="maxent"``, tolerance ``tol``) or
    :func:`minimum_density_matrix` (``"min_density"``); ``rescale="smaller"`` scales both margins
    to the smaller of ΣA and ΣL (the interbank market inside the sample is at most that), else a
    rule of :data:`RESCALE_RULES`."""
    check_choice("method", method, ("maxent", "min_density"))
    a = as_float_array("interbank_assets", interbank_assets, ndim=1)
    l = as_float_array("interbank_liabilities", interbank_liabilities, ndim=1)
    if rescale == "smaller":
        rescale = "assets" if a.sum() <= l.sum() else "liabilities"
    if method == "maxent":
        return max_entropy_matrix(a, l, tol=tol, rescale=rescale)
    return minimum_density_matrix(a, l, rescale=rescale)


def _reroute_self_loop(x: np.ndarray, k: int, amount: float) -> None:
    """Route ``amount`` of bank ``k``'s own remaining assets/liabilities through existing links."""
    while amount > 0:
        pool = x.copy()
        pool[k, :] = 0.0
        pool[:, k] = 0.0
        i, j = np.unravel_index(int(np.argmax(pool)), pool.shape)
        y = min(pool[i, j], amount)
        if y <= 0:  # pragma: no cover - excluded by the feasibility check
            raise ValueError(f"bank {k}: margins cannot be met without a self-loop")
        x[i, j] -= y
        x[i, k] += y
        x[k, j] += y
        amount -= y


def _scaled_margins(
    assets: object, liabilities: object, rescale: str
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    a = as_float_array("interbank_assets", assets, ndim=1)
    l = as_float_array("interbank_liabilities", liabilities, ndim=1)
    if a.shape != l.shape:
        raise ValueError(
            "interbank_assets and interbank_liabilities must have one entry per bank; "
            f"got lengths {a.size} and {l.size}"
        )
    if a.size < 2:
        raise ValueError(f"an interbank matrix needs at least 2 banks; got {a.size}")
    check_nonnegative("interbank_assets", a)
    check_nonnegative("interbank_liabilities", l)
    sa, sl = float(a.sum()), float(l.sum())
    for name, total in (("interbank_assets", sa), ("interbank_liabilities", sl)):
        if total == 0:
            raise ValueError(
                f"{name} are all zero; at least one bank must have a positive {name.split('_')[1][:-1]} margin"
            )
    target = {"mean": 0.5 * (sa + sl), "assets": sa, "liabilities": sl}[rescale]
    a = a * (target / sa) if sa != target else a.copy()
    l = l * (target / sl) if sl != target else l.copy()
    excess = a + l - target
    bad = np.flatnonzero(excess > 1e-12 * target)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"no zero-diagonal matrix meets these margins: bank {i} has interbank assets {float(a[i])!r} + liabilities "
            f"{float(l[i])!r} > total {target!r} (a bank cannot lend to itself); allowed: a_i + l_i <= sum of assets"
        )
    return a, l, (sa, sl)


def _margin_error(x: np.ndarray, a: np.ndarray, l: np.ndarray) -> float:
    row, col = x.sum(axis=1), x.sum(axis=0)
    err_r = np.abs(row - a) / np.where(a > 0, a, 1.0)
    err_c = np.abs(col - l) / np.where(l > 0, l, 1.0)
    return float(max(err_r.max(), err_c.max()))


def _status(totals: tuple[float, float], error: float, tol: float, iterations: int) -> str:
    if not error <= tol:
        return str(
            FitStatus("failed", "NotConverged", f"margin error {error:.3g} > tol {tol:.3g} after {iterations} sweeps")
        )
    if abs(totals[0] - totals[1]) > MISMATCH_TOL * max(totals):
        return str(FitStatus("warning", "RescaledMargins"))
    return str(FitStatus("ok"))


def _estimate(
    x: np.ndarray,
    a: np.ndarray,
    l: np.ndarray,
    totals: tuple[float, float],
    error: float,
    iterations: int,
    status: str,
) -> InterbankMatrixEstimate:
    sa, sl = totals
    return InterbankMatrixEstimate(
        matrix=x,
        assets_target=a,
        liabilities_target=l,
        total_assets=sa,
        total_liabilities=sl,
        relative_mismatch=(sa - sl) / max(sa, sl),
        max_margin_error=error,
        iterations=iterations,
        n_links=int(np.count_nonzero(x > 0)),
        status=status,
    )
