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
