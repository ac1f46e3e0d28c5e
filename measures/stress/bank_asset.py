r"""Balance sheets of banks holding external asset classes and interbank claims.

The input of the bank–asset cascade (:mod:`measures.stress.cascade`) and of the
failure boundaries (:mod:`measures.stress.failure_boundary`): the bank × class
holdings form the bank–asset bipartite network of Huang et al. (2013), the
interbank matrix the direct links (:mod:`measures.stress.maxent`). All checks
happen once, here, so that a scenario grid re-uses a validated network.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from measures.core.config import check_choice
from measures.stress._arrays import as_float_array, as_index_set, broadcast_vector, check_nonnegative


@dataclasses.dataclass(frozen=True, eq=False)
class BankAssetNetwork:
    r"""Balance sheets of :math:`n` banks holding :math:`M` external asset classes.

    Bank :math:`i`'s balance sheet at initial prices (all equal to 1):

    .. math::

        \underbrace{\sum_m q_{im}}_{\text{external}} + o_i + \underbrace{\sum_j X_{ij}}_{A_i}
        = \underbrace{\sum_j X_{ji}}_{L_i} + D_i + E_i ,

    with :math:`q_{im}` its holding of class :math:`m`, :math:`o_i` other assets
    that are neither shocked nor sold (cash, reserves), :math:`X_{ij}` its claim on
    bank :math:`j`, :math:`D_i` its other (non-interbank) liabilities and
    :math:`E_i` its capital. :math:`D_i` is implied by the identity and must be
    non-negative.

    Parameters
    ----------
    external_assets : array_like, shape (n, M) or (n,)
        :math:`q_{im} \ge 0` (a vector means one class).
    interbank : array_like, shape (n, n)
        :math:`X_{ij} \ge 0`, zero diagonal.
    capital : array_like, shape (n,)
        :math:`E_i`.
    threshold : float or array_like, shape (n,)
        :math:`\theta_i \ge 0`: the bank fails when its equity falls strictly below
        it. Every bank must start with :math:`E_i \ge \theta_i`.
    other_assets : array_like, shape (n,), optional
        :math:`o_i \ge 0` (default 0).
    market_size : array_like, shape (M,), optional
        :math:`Q_m`, the outstanding amount of class :math:`m` whose share sold
        moves its price; at least the banks' holdings :math:`\sum_i q_{im}` (the
        default: the banks are the whole market).
    names : sequence of str, optional
        Bank names for messages (default ``"bank <i>"``).
    """

    external_assets: np.ndarray
    interbank: np.ndarray
    capital: np.ndarray
    threshold: np.ndarray
    other_assets: np.ndarray
    market_size: np.ndarray
    other_liabilities: np.ndarray
    names: tuple[str, ...]

    def __init__(
        self,
        external_assets: object,
        interbank: object,
        capital: object,
        *,
        threshold: object = 0.0,
        other_assets: object = None,
        market_size: object = None,
        names: object = None,
    ) -> None:
        if np.ndim(external_assets) == 1:
            q = as_float_array("external_assets", external_assets, ndim=1)[:, None]
        else:
            q = as_float_array("external_assets", external_assets, ndim=2)
        n = q.shape[0]
        x = as_float_array("interbank", interbank, ndim=2)
        if x.shape != (n, n):
            raise ValueError(f"interbank must be ({n}, {n}) to match external_assets' {n} banks; got shape {x.shape}")
        e = as_float_array("capital", capital, ndim=1)
        if e.shape != (n,):
            raise ValueError(f"capital must have one entry per bank ({n}); got shape {e.shape}")
        theta = broadcast_vector("threshold", threshold, n, what="bank")
        o = np.zeros(n) if other_assets is None else broadcast_vector("other_assets", other_assets, n, what="bank")
        for name, arr in (("external_assets", q), ("interbank", x), ("threshold", theta), ("other_assets", o)):
            check_nonnegative(name, arr)
        label = tuple(f"bank {i}" for i in range(n)) if names is None else tuple(str(s) for s in names)
        if len(label) != n:
            raise ValueError(f"names must have one entry per bank ({n}); got {len(label)}")
        diag = np.flatnonzero(np.diag(x) != 0)
        if diag.size:
            i = int(diag[0])
            raise ValueError(
                f"interbank must have a zero diagonal; interbank[{i}, {i}]={float(x[i, i])!r} ({label[i]})"
            )
        held = q.sum(axis=0)
        size = held.copy() if market_size is None else as_float_array("market_size", market_size, ndim=1)
        if size.shape != held.shape:
            raise ValueError(f"market_size must have one entry per asset class ({held.size}); got shape {size.shape}")
        short = np.flatnonzero(size < held * (1 - 1e-12))
        if short.size:
            m = int(short[0])
            raise ValueError(
                f"market_size[{m}]={float(size[m])!r} is below the banks' holdings {float(held[m])!r} of class {m}"
            )
        below = np.flatnonzero(e < theta)
        if below.size:
            i = int(below[0])
            raise ValueError(
                f"capital[{i}]={float(e[i])!r} ({label[i]}) is below its threshold {float(theta[i])!r}: "
                "the bank fails before any shock; allowed: capital >= threshold"
            )
        d = q.sum(axis=1) + o + x.sum(axis=1) - x.sum(axis=0) - e
        scale = q.sum(axis=1) + o + x.sum(axis=1)
        neg = np.flatnonzero(d < -1e-12 * np.maximum(scale, 1.0))
        if neg.size:
            i = int(neg[0])
            raise ValueError(
                f"capital[{i}]={float(e[i])!r} ({label[i]}) exceeds assets minus interbank liabilities "
                f"({float(e[i] + d[i])!r}): other liabilities would be negative; allowed: capital <= "
                "external + other + interbank assets - interbank liabilities"
            )
        for field, value in (
            ("external_assets", q),
            ("interbank", x),
            ("capital", e),
            ("threshold", theta),
            ("other_assets", o),
            ("market_size", size),
            ("other_liabilities", np.maximum(d, 0.0)),
            ("names", label),
        ):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, field, value)

    def restrict(self, keep: object, *, market: str = "remaining") -> BankAssetNetwork:
        r"""The network of the banks in ``keep`` only (e.g. without the largest banks, "too many to fail").

        Claims between kept banks stay interbank claims. Claims of a kept bank on a
        removed bank become other (riskless) assets, and its debts to removed banks
        become other liabilities, so every kept balance sheet still balances and the
        removed banks can neither fail nor transmit losses. ``market="remaining"``
        (default) measures fire-sale shares against the kept banks' holdings (the
        kept banks are the whole market, as in Fan–Rong–Duan's sample without the large
        banks); ``"original"`` keeps this network's market sizes (the removed banks'
        holdings stay in the market as outside holders that never sell).

        Parameters
        ----------
        keep : sequence of int or bool mask
            Banks to keep (at least two).
        market : {"remaining", "original"}
        """
        check_choice("market", market, ("remaining", "original"))
        mask = as_index_set("keep", keep, self.n_banks)
        if mask.sum() < 2:
            raise ValueError(f"keep must select at least 2 banks; got {int(mask.sum())}")
        x = self.interbank
        return BankAssetNetwork(
            self.external_assets[mask],
            x[np.ix_(mask, mask)],
            self.capital[mask],
            threshold=self.threshold[mask],
            other_assets=self.other_assets[mask] + x[np.ix_(mask, ~mask)].sum(axis=1),
            market_size=self.market_size if market == "original" else None,
            names=[name for name, k in zip(self.names, mask, strict=True) if k],
        )

    @property
    def n_banks(self) -> int:
        return self.capital.size

    @property
    def n_classes(self) -> int:
        return self.external_assets.shape[1]

    @property
    def interbank_assets(self) -> np.ndarray:
        """:math:`A_i = \\sum_j X_{ij}`."""
        return self.interbank.sum(axis=1)

    @property
    def interbank_liabilities(self) -> np.ndarray:
        """:math:`L_i = \\sum_j X_{ji}`."""
        return self.interbank.sum(axis=0)
