r"""Rescue cost of a named-failure scenario: the capital injection that stops the cascade (docs/cascade.md §5b).

In a named-failure scenario the banks :math:`N` fail in layer 1 by assumption, so no injection
into *them* can undo their failure or the fire sale of their assets; what a rescuer can do is
recapitalise the rest of the system so that the failure stops at :math:`N`. The rescue is a
system-wide recapitalisation in proportion to capital: every bank :math:`i \notin N` receives
:math:`t E_i` in cash (capital and other assets both rise by :math:`t E_i`; its threshold
:math:`\theta_i` and its debts are unchanged). The **rescue rate** is the smallest :math:`t` at
which the cascade's least fixed point is :math:`N` itself, found by bisection, and the **rescue
cost** is :math:`t^* \sum_{i \notin N} E_i`.

Known truth. Losses at a failed set do not depend on the survivors' capital, and the cascade is
monotone, so the failure stops at :math:`N` exactly when every other bank survives the state
:math:`F = N`:

.. math::

    t^* = \max_{i \notin N} \frac{\max(0,\ \theta_i - E_i'(N))}{E_i}, \qquad
    m^* = \sum_{i \notin N} \max(0,\ \theta_i - E_i'(N)),

where :math:`m^*` (the **targeted minimum**) is the least total injection of *any* allocation:
each bank gets exactly its shortfall at :math:`F = N`. The bisection is the general algorithm
(it needs only the cascade); tests check it against the closed form.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from measures.stress._arrays import as_index_set
from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import CascadeConfig, cascade, equity_at

#: Relative bisection tolerance on the rescue rate: the bracket [lo, hi] ends with hi - lo <= RESCUE_TOL * hi.
RESCUE_TOL = 1e-9
#: The rate doubles from 1 up to this cap while the failure still spreads; beyond it the rescue is infinite.
RESCUE_RATE_CAP = 2.0 ** 30


@dataclasses.dataclass(frozen=True)
class Rescue:
    """Rescue of one scenario: ``rate`` :math:`t^*` (``hi`` end of the bracket: a rate that stops the
    cascade), ``cost`` :math:`t^* \\sum_{i \\notin N} E_i`, ``targeted`` :math:`m^*` (closed form),
    ``iterations`` (cascades run)."""

    rate: float
    cost: float
    targeted: float
    iterations: int


def recapitalised(network: BankAssetNetwork, injection: np.ndarray) -> BankAssetNetwork:
    """``network`` with ``injection`` (currency, per bank, >= 0) added to capital and other assets (cash)."""
    return BankAssetNetwork(network.external_assets, network.interbank, network.capital + injection,
                            threshold=network.threshold, other_assets=network.other_assets + injection,
                            market_size=network.market_size, names=network.names)


def rescue_cost(network: BankAssetNetwork, initial_failures: object, *, alpha: float | object = 0.0,
                beta: float = 0.0, tol: float = RESCUE_TOL, config: CascadeConfig | None = None) -> Rescue:
    r"""Smallest capital injection (pro rata to capital) that stops the cascade at ``initial_failures``.

    Parameters
    ----------
    network, alpha, beta, config
        As in :func:`measures.stress.cascade.cascade`.
    initial_failures : sequence of int or bool mask
        :math:`N`, the banks that fail in layer 1.
    tol : float
        Relative tolerance of the bisection on :math:`t`.

    Returns
    -------
    Rescue
        ``rate = cost = 0`` when the cascade stops at :math:`N` without help; ``inf`` when no rate up
        to ``RESCUE_RATE_CAP`` stops it. ``targeted`` is always the closed form :math:`m^*`.
    """
    named = as_index_set("initial_failures", initial_failures, network.n_banks)
    others = ~named
    weight = np.where(others, network.capital, 0.0)
    shortfall = np.maximum(network.threshold - equity_at(network, named, alpha=alpha, beta=beta, config=config), 0.0)
    targeted = float(shortfall[others].sum())
    runs = 0

    def stops(rate: float) -> bool:
        nonlocal runs
        runs += 1
        res = cascade(recapitalised(network, rate * weight), alpha=alpha, beta=beta, initial_failures=named,
                      config=config)
        return not res.failed[others].any()

    if stops(0.0):
        return Rescue(rate=0.0, cost=0.0, targeted=targeted, iterations=runs)
    hi = 1.0
    while not stops(hi):
        hi *= 2.0
        if hi > RESCUE_RATE_CAP:
            return Rescue(rate=np.inf, cost=np.inf, targeted=targeted, iterations=runs)
    lo = hi / 2.0 if hi > 1.0 else 0.0
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        if stops(mid):
            hi = mid
        else:
            lo = mid
    return Rescue(rate=hi, cost=float(hi * weight.sum()), targeted=targeted, iterations=runs)
