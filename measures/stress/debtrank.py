r"""DebtRank (Battiston, Puliga, Kaushik, Tasca & Caldarelli 2012, *Scientific Reports* 2:541).

A second impact measure on the interbank network of the cascade model: distress
(relative equity loss) propagates from borrowers to lenders in proportion to the
lenders' exposure over their capital, each bank passing it on only once, so that
it counts losses short of default (the cascade counts failures only).

Notation: :math:`X_{ij}` is bank :math:`i`'s claim on bank :math:`j` (the
``interbank`` matrix of :class:`measures.stress.cascade.BankAssetNetwork`),
:math:`E_i > 0` its capital. The impact of :math:`j` on :math:`i` is

.. math::

    W_{ij} = \min\Bigl(1, \frac{X_{ij}}{E_i}\Bigr)

(the share of :math:`i`'s capital lost if :math:`j` defaults with zero recovery).
Each bank has a distress :math:`h_i \in [0, 1]` and a state in {U (undistressed),
D (distressed), I (inactive)}. At :math:`t = 1`, :math:`h_i(1) = \psi_i` (the
``initial_distress``), state D where :math:`\psi_i > 0`, U elsewhere. Then

.. math::

    h_i(t) = \min\Bigl(1,\ h_i(t-1) + \sum_{j:\ s_j(t-1) = D} W_{ij}\, h_j(t-1)\Bigr),

    s_i(t) = \begin{cases}
        I & s_i(t-1) = D,\\
        D & h_i(t) > 0 \text{ and } s_i(t-1) = U,\\
        s_i(t-1) & \text{otherwise,}
    \end{cases}

until no bank is in state D (at most :math:`n + 1` steps, each bank propagates
once). With relative economic values :math:`v_i \ge 0`, :math:`\sum_i v_i = 1`, the
DebtRank of the initial distress is the value-weighted distress it *adds*:

.. math::

    R = \sum_i v_i\, h_i(T) - \sum_i v_i\, h_i(1) \in [0, 1].

Choice where the paper leaves room: :math:`v` defaults to capital shares
:math:`E_i/\sum_k E_k`, so that :math:`R` is the share of the system's capital lost
through propagation (Bardoscia et al. 2015's reading). Battiston et al. weight by a
relative economic value taken from outstanding amounts; ``"interbank_liabilities"``
and ``"interbank_assets"`` give such weights from the interbank matrix.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from measures.core.config import check_choice, check_range
from measures.core.status import FitStatus
from measures.stress._arrays import as_float_array, broadcast_vector, check_in_unit_interval, check_nonnegative

WEIGHT_RULES = ("capital", "interbank_liabilities", "interbank_assets", "equal")


@dataclasses.dataclass(frozen=True)
class DebtRankResult:
    """Outcome of :func:`debtrank`.

    Attributes
    ----------
    debtrank : float
        :math:`R`, distress added by propagation (value-weighted).
    total_distress : float
        :math:`\\sum_i v_i h_i(T)` (initial distress included).
    distress : ndarray, shape (n,)
        :math:`h_i(T)`.
    rounds : int
        :math:`T - 1`, propagation steps until no bank was distressed.
    status : str
        ``"ok"``.
    """

    debtrank: float
    total_distress: float
    distress: np.ndarray
    rounds: int
    status: str


def debtrank(
    exposures: object,
    capital: object,
    *,
    initial_distress: object,
    weights: str | object = "capital",
) -> DebtRankResult:
    """DebtRank of an initial distress (Battiston et al. 2012; equations in the module docstring).

    Parameters
    ----------
    exposures : array_like, shape (n, n)
        :math:`X_{ij} \\ge 0`, bank ``i``'s claim on bank ``j`` (zero diagonal).
    capital : array_like, shape (n,)
        :math:`E_i > 0`.
    initial_distress : float or array_like, shape (n,)
        :math:`\\psi_i \\in [0, 1]` (1 = default of the bank).
    weights : {"capital", "interbank_liabilities", "interbank_assets", "equal"} or array_like
        Relative economic values :math:`v` (normalised to sum to 1).

    Returns
    -------
    DebtRankResult
    """
    x, e = _check_network(exposures, capital)
    n = e.size
    psi = broadcast_vector("initial_distress", initial_distress, n, what="bank")
    check_in_unit_interval("initial_distress", psi)
    v = _weights(weights, x, e)
    impact = np.minimum(1.0, x / e[:, None])
    h = psi.copy()
    distressed = h > 0
    inactive = np.zeros(n, dtype=bool)
    rounds = 0
    while distressed.any():
        rounds += 1
        h_new = np.minimum(1.0, h + impact[:, distressed] @ h[distressed])
        inactive |= distressed
        distressed = (h_new > 0) & ~inactive
        h = h_new
    total = float(v @ h)
    return DebtRankResult(
        debtrank=total - float(v @ psi), total_distress=total, distress=h, rounds=rounds, status=str(FitStatus("ok"))
    )


def debtrank_by_bank(
    exposures: object,
    capital: object,
    *,
    psi: float = 1.0,
    weights: str | object = "capital",
) -> np.ndarray:
    """DebtRank :math:`R_i` of each bank alone distressed at level ``psi`` (Battiston et al. 2012, Fig. 3).

    Returns
    -------
    ndarray, shape (n,)
    """
    check_range("psi", psi, low=0.0, high=1.0, low_open=True)
    x, e = _check_network(exposures, capital)
    out = np.empty(e.size)
    for i in range(e.size):
        start = np.zeros(e.size)
        start[i] = psi
        out[i] = debtrank(x, e, initial_distress=start, weights=weights).debtrank
    return out


def _check_network(exposures: object, capital: object) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array("exposures", exposures, ndim=2)
    e = as_float_array("capital", capital, ndim=1)
    n = e.size
    if x.shape != (n, n):
        raise ValueError(f"exposures must be ({n}, {n}) to match capital's {n} banks; got shape {x.shape}")
    check_nonnegative("exposures", x)
    bad = np.flatnonzero(e <= 0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"capital must be positive for DebtRank (impact = exposure / capital); capital[{i}]={float(e[i])!r}"
        )
    diag = np.flatnonzero(np.diag(x) != 0)
    if diag.size:
        i = int(diag[0])
        raise ValueError(f"exposures must have a zero diagonal; exposures[{i}, {i}]={float(x[i, i])!r}")
    return x, e


def _weights(weights: str | object, x: np.ndarray, e: np.ndarray) -> np.ndarray:
    if isinstance(weights, str):
        check_choice("weights", weights, WEIGHT_RULES)
        raw = {
            "capital": e,
            "interbank_liabilities": x.sum(axis=0),
            "interbank_assets": x.sum(axis=1),
            "equal": np.ones_like(e),
        }[weights]
    else:
        raw = as_float_array("weights", weights, ndim=1)
        if raw.shape != e.shape:
            raise ValueError(f"weights must have one entry per bank ({e.size}); got shape {raw.shape}")
        check_nonnegative("weights", raw)
    total = float(raw.sum())
    if total <= 0:
        raise ValueError(f"weights={weights!r} sum to zero; at least one bank needs a positive economic value")
    return raw / total
