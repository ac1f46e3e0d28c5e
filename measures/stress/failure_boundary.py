r"""Failure boundaries: the smallest loss on external assets that makes a bank or a group fail.

Fan–Rong–Duan (tables 2–3) reports, per bank and per group of banks, the loss it can
absorb on its assets before it fails. docs/cascade.md fixes the definition: the
smallest loss on the bank's (group's) *external* assets that makes it fail, in the
cascade model of :func:`measures.stress.cascade.cascade`.

For a group :math:`G` the loss is a uniform write-down :math:`x \in [0, 1]` of the
external assets of every member (``external_loss`` of the cascade), so the loss
in currency is :math:`x \sum_{i \in G} \sum_m q_{im}`. The boundary is

.. math::

    x^*_G = \inf\{x \in [0, 1]: \text{criterion holds at the cascade fixed point}\},
    \qquad b_G = x^*_G \sum_{i \in G} \sum_m q_{im},

with criterion ``"all"`` (every member failed: joint failure, Fan–Rong–Duan's "联合倒闭")
or ``"any"``. Failures are monotone in :math:`x`, so :math:`x^*` is found by
bisection. The cascade runs in full (members failing sell their assets and default
on each other), so a group's joint boundary can be far below the sum of its
members' individual boundaries. Since failure needs equity *strictly* below the
threshold, the boundary itself is not a failure point: any larger loss is.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from measures.core.config import check_choice, check_range
from measures.stress._arrays import as_index_set
from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import CascadeConfig, cascade

CRITERIA = ("all", "any")


@dataclasses.dataclass(frozen=True)
class FailureBoundary:
    """Failure boundary of a group of banks.

    Attributes
    ----------
    fraction : float
        :math:`x^*`, the write-down share of the group's external assets
        (``inf`` when even a total write-off does not meet the criterion).
    loss : float
        :math:`b = x^* \\times` the group's external assets (currency units; ``inf`` likewise).
    n_failed : int
        Banks failed in the cascade just above the boundary (at the upper bisection end).
    iterations : int
        Bisection steps.
    """

    fraction: float
    loss: float
    n_failed: int
    iterations: int


def failure_boundaries(network: BankAssetNetwork) -> np.ndarray:
    r"""Individual failure boundary of every bank, in closed form.

    A loss on bank :math:`i`'s own external assets affects no other bank until
    :math:`i` fails (survivors sell nothing and pay in full), so

    .. math::

        b_i = E_i - \theta_i \quad \text{if } E_i - \theta_i < \sum_m q_{im},
        \qquad b_i = \infty \text{ otherwise}

    (a write-off of the whole external book cannot take it below its threshold).
    :func:`group_failure_boundary` of the one-bank group gives the same number by
    bisection.

    Returns
    -------
    ndarray, shape (n,)
        Currency units.
    """
    room = network.capital - network.threshold
    external = network.external_assets.sum(axis=1)
    return np.where(room < external, room, np.inf)


def group_failure_boundary(
    network: BankAssetNetwork,
    group: object,
    *,
    alpha: float | object = 0.0,
    beta: float = 0.0,
    criterion: str = "all",
    xtol: float = 1e-12,
    config: CascadeConfig | None = None,
) -> FailureBoundary:
    r"""Failure boundary of a group of banks by bisection on the write-down share.

    Parameters
    ----------
    network : BankAssetNetwork
    group : sequence of int or bool mask
        Member banks (at least one).
    alpha, beta
        Common shock and fire-sale discount of the background scenario
        (:func:`measures.stress.cascade.cascade`).
    criterion : {"all", "any"}
        Joint failure of every member, or failure of at least one.
    xtol : float
        Bisection stops when the bracket on :math:`x^*` is narrower than ``xtol``;
        the reported boundary is the upper end (a write-down that does fail).
    config : CascadeConfig, optional

    Returns
    -------
    FailureBoundary
    """
    check_choice("criterion", criterion, CRITERIA)
    check_range("xtol", xtol, low=0.0, high=0.1, low_open=True)
    members = as_index_set("group", group, network.n_banks)
    if not members.any():
        raise ValueError("group is empty; give at least one bank index")
    external = float(network.external_assets[members].sum())

    def run(share: float) -> tuple[bool, int]:
        loss = np.where(members, share, 0.0)
        result = cascade(network, alpha=alpha, beta=beta, external_loss=loss, config=config)
        hit = result.failed[members]
        return bool(hit.all() if criterion == "all" else hit.any()), result.n_failed

    holds, n_failed = run(0.0)
    if holds:
        return FailureBoundary(fraction=0.0, loss=0.0, n_failed=n_failed, iterations=0)
    holds, n_failed = run(1.0)
    if not holds:
        return FailureBoundary(fraction=np.inf, loss=np.inf, n_failed=n_failed, iterations=0)
    lo, hi, steps = 0.0, 1.0, 0
    while hi - lo > xtol:
        mid = 0.5 * (lo + hi)
        steps += 1
        ok, count = run(mid)
        if ok:
            hi, n_failed = mid, count
        else:
            lo = mid
    return FailureBoundary(fraction=hi, loss=hi * external, n_failed=n_failed, iterations=steps)


# ----------------------------------------------------------------------------- Fan–Rong–Duan's dependency form


def dependency_matrix(interbank: np.ndarray, liabilities: np.ndarray, outside_share: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    r"""Elliott–Golub–Jackson's dependency matrix :math:`A = \hat C (I - C)^{-1}` on interbank debt.

    Fan–Rong–Duan writes its banks in Elliott, Golub & Jackson's (2014) cross-holding form with the
    interbank claims as the cross-holdings: :math:`C_{ij}` is bank :math:`i`'s share of bank
    :math:`j`'s interbank liabilities, :math:`\hat C_{jj} = 1 - \sum_i C_{ij}` the share held
    outside the sample (its "样本系统外其他银行"), and a bank's solvency value (deposits plus net
    worth) is :math:`R = A\,q` with :math:`q` the banks' external assets. Column :math:`j` of
    :math:`A` sums to 1: a loss on :math:`j`'s external assets is shared by :math:`j` (the part
    :math:`A_{jj}`) and, through the chain of interbank holdings, by its creditors.

    Parameters
    ----------
    interbank : ndarray, shape (n, n)
        :math:`X_{ij}`, claim of bank ``i`` on bank ``j`` among the sample banks.
    liabilities : ndarray, shape (n,)
        Each bank's reported interbank liabilities (claims of sample and outside banks); used when
        ``outside_share`` is None: :math:`C_{ij} = X_{ij} / L_j`.
    outside_share : float in (0, 1), optional
        The same outside share :math:`c` for every bank: :math:`C_{ij} = (1 - c) X_{ij} / \sum_k X_{kj}`.

    Returns
    -------
    (A, c_hat) : ndarray (n, n), ndarray (n,)
        ``A`` is all NaN when :math:`I - C` is singular (no outside holder: a closed system).
    """
    x = np.asarray(interbank, dtype=float)
    held = x.sum(axis=0)
    if outside_share is None:
        base = np.asarray(liabilities, dtype=float)
        c = np.divide(x, base[None, :], out=np.zeros_like(x), where=base[None, :] > 0)
    else:
        check_range("outside_share", outside_share, low=0.0, high=1.0, low_open=True, high_open=True)
        c = (1.0 - outside_share) * np.divide(x, held[None, :], out=np.zeros_like(x), where=held[None, :] > 0)
    c_hat = np.clip(1.0 - c.sum(axis=0), 0.0, 1.0)
    try:
        inverse = np.linalg.solve(np.eye(x.shape[0]) - c, np.eye(x.shape[0]))
    except np.linalg.LinAlgError:
        return np.full_like(x, np.nan), c_hat
    if not np.isfinite(inverse).all() or np.linalg.cond(np.eye(x.shape[0]) - c) > 1e12:
        return np.full_like(x, np.nan), c_hat
    return c_hat[:, None] * inverse, c_hat


def dependency_boundaries(network: BankAssetNetwork, dependency: np.ndarray) -> np.ndarray:
    r"""Fan–Rong–Duan's failure boundary of every bank in the dependency form (docs/cascade.md §5).

    A loss :math:`\Delta` on bank :math:`i`'s own external assets lowers its solvency value by
    :math:`A_{ii}\Delta` only, so it reaches the threshold (deposits: net worth 0, or
    :math:`\theta_i`) at

    .. math::

        b_i^{\mathrm{dep}} = \frac{E_i - \theta_i}{A_{ii}},

    which exceeds :math:`E_i` by the factor :math:`1/A_{ii}` and can exceed the bank's assets
    (Fan–Rong–Duan's 40.838 trillion yuan for ICBC, 15 times its 2019 equity). ``inf`` where
    :math:`A_{ii} = 0`, NaN where ``dependency`` is NaN.
    """
    own = np.diag(dependency)
    room = network.capital - network.threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(own > 0, room / np.where(own > 0, own, 1.0), np.where(np.isnan(own), np.nan, np.inf))


def dependency_group_boundary(network: BankAssetNetwork, dependency: np.ndarray, group: object) -> tuple[float, float]:
    r"""Joint boundary of a group in the dependency form: ``(fraction, loss)``.

    A uniform write-down :math:`x` of the members' external assets lowers member :math:`i`'s value
    by :math:`x \sum_{j \in G} A_{ij} q_j` (linear: no failure costs); all members have failed at

    .. math::

        x^*_G = \max_{i \in G} \frac{E_i - \theta_i}{\sum_{j \in G} A_{ij} q_j}, \qquad
        b_G^{\mathrm{dep}} = x^*_G \sum_{j \in G} q_j .
    """
    members = as_index_set("group", group, network.n_banks)
    q = network.external_assets.sum(axis=1)
    hit = dependency[np.ix_(members, members)] @ q[members]
    room = (network.capital - network.threshold)[members]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(hit > 0, room / np.where(hit > 0, hit, 1.0), np.inf)
    if np.isnan(hit).any():
        return np.nan, np.nan
    fraction = float(ratio.max())
    return fraction, fraction * float(q[members].sum())
