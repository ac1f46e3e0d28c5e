"""Interbank contagion on a known exposure matrix: the sequential (Furfine) default cascade and
the Eisenberg–Noe clearing vector with Rogers–Veraart default costs (docs/firesale.md §8).

Conventions
-----------
``sequential_default`` takes **exposures**: ``exposures[i, j]`` is what bank j owes bank i (a
claim of i on j, Lu–Zhang's ``x_ij`` read from the creditor's side). ``eisenberg_noe`` takes
**liabilities**: ``liabilities[i, j]`` is what bank i owes bank j, i.e. the transpose.
Both accept numpy arrays or square DataFrames (index = columns = bank ids; the ids then label
the results).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.stress._arrays import as_float_array, as_index_set, check_nonnegative

NOT_DEFAULTED = -1
"""Default round recorded for a bank that never defaults."""


@dataclass(frozen=True)
class SequentialDefaultResult:
    """Outcome of :func:`sequential_default`.

    Attributes
    ----------
    banks : bank ids (0..N-1, or the DataFrame labels).
    default_round : per bank, the round of its default (0 = initial failure, 1 = caused by
        round 0, ...), ``NOT_DEFAULTED`` (-1) for survivors: the default hierarchy.
    losses : per bank, ``λ Σ_{h defaulted} x_ih``, the credit loss on claims on defaulted banks
        (at the end of the cascade).
    capital : the capital the losses were compared with.
    rounds : the last round with a new default (0 when nobody beyond ``initial`` defaults).
    """

    banks: tuple
    default_round: np.ndarray
    losses: np.ndarray
    capital: np.ndarray
    rounds: int

    @property
    def defaulted(self) -> tuple:
        """Ids of all defaulted banks, ordered by round then position."""
        order = np.lexsort((np.arange(len(self.banks)), self.default_round))
        return tuple(self.banks[k] for k in order if self.default_round[k] != NOT_DEFAULTED)

    @property
    def n_defaulted(self) -> int:
        return int(np.sum(self.default_round != NOT_DEFAULTED))

    def hierarchy(self) -> pd.DataFrame:
        """Tidy table: bank, default_round (``<NA>`` for survivors), loss, capital, defaulted."""
        return pd.DataFrame(
            {
                "bank": list(self.banks),
                "default_round": _rounds_array(self.default_round),
                "loss": self.losses,
                "capital": self.capital,
                "defaulted": self.default_round != NOT_DEFAULTED,
            }
        )


@dataclass(frozen=True)
class ClearingResult:
    """Outcome of :func:`eisenberg_noe`.

    Attributes
    ----------
    banks : bank ids.
    payments : the greatest clearing vector ``p*``.
    obligations : ``p̄_i = Σ_j L_ij``.
    default : ``p*_i < p̄_i`` (boolean).
    default_round : fictitious-default round of each defaulting bank (1 = defaults when
        everybody else pays in full, 2 = defaults because of round-1 defaults, ...),
        ``NOT_DEFAULTED`` (-1) for banks that pay in full.
    rounds : the number of fictitious-default rounds that added a defaulter.
    net_worth : ``e_i + Σ_j Π_ji p*_j − p̄_i`` (Glasserman & Young 2015's net worth after
        clearing, before default costs; negative exactly for the defaulting banks).
    alpha, beta : the Rogers–Veraart recovery rates used.
    """

    banks: tuple
    payments: np.ndarray
    obligations: np.ndarray
    default: np.ndarray
    default_round: np.ndarray
    rounds: int
    net_worth: np.ndarray
    alpha: float
    beta: float

    @property
    def recovery(self) -> np.ndarray:
        """``p*_i / p̄_i`` (1 where nothing is owed)."""
        out = np.ones_like(self.payments)
        owes = self.obligations > 0
        out[owes] = self.payments[owes] / self.obligations[owes]
        return out

    def table(self) -> pd.DataFrame:
        """Tidy per-bank table."""
        return pd.DataFrame(
            {
                "bank": list(self.banks),
                "obligation": self.obligations,
                "payment": self.payments,
                "recovery": self.recovery,
                "default": self.default,
                "default_round": _rounds_array(self.default_round),
                "net_worth": self.net_worth,
            }
        )


def _rounds_array(round_of: np.ndarray) -> pd.arrays.IntegerArray:
    """Default rounds as a nullable integer array (``<NA>`` for banks that never default)."""
    return pd.array([int(r) if r != NOT_DEFAULTED else pd.NA for r in round_of], dtype="Int64")


def _square_matrix(name: str, value: object) -> tuple[np.ndarray, tuple]:
    """A non-negative square matrix with a zero diagonal, and the bank ids."""
    if isinstance(value, pd.DataFrame):
        if not value.index.equals(value.columns):
            raise ValueError(f"{name} as a DataFrame must have the same bank ids in its index and columns")
        banks = tuple(value.index)
        value = value.to_numpy(dtype=np.float64)
    else:
        banks = None
    arr = as_float_array(name, value, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square (one row and one column per bank); got shape {arr.shape}")
    check_nonnegative(name, arr)
    diag = np.flatnonzero(np.diag(arr))
    if diag.size:
        k = int(diag[0])
        raise ValueError(f"{name} must have a zero diagonal (a bank has no claim on itself); {name}[{k}, {k}]={arr[k, k]!r}")
    return arr, banks if banks is not None else tuple(range(arr.shape[0]))


def _bank_vector(name: str, value: object, banks: tuple) -> np.ndarray:
    """A finite vector with one entry per bank (a Series is aligned on the bank ids)."""
    if isinstance(value, pd.Series):
        missing = [b for b in banks if b not in value.index]
        if missing:
            raise ValueError(f"{name} has no entry for bank {missing[0]!r}")
        value = value.reindex(list(banks)).to_numpy(dtype=np.float64)
    arr = as_float_array(name, value, ndim=1)
    if arr.shape != (len(banks),):
        raise ValueError(f"{name} must have one entry per bank ({len(banks)}); got shape {arr.shape}")
    return arr


def _initial_mask(initial: object, banks: tuple) -> np.ndarray:
    n = len(banks)
    if banks != tuple(range(n)) and initial is not None:
        arr = np.asarray(initial)
        if arr.dtype != bool:
            position = {b: k for k, b in enumerate(banks)}
            unknown = [b for b in np.atleast_1d(initial) if b not in position]
            if unknown:
                raise ValueError(f"initial names bank {unknown[0]!r}, which is not in exposures")
            initial = np.array([position[b] for b in np.atleast_1d(initial)], dtype=np.int64)
    return as_index_set("initial", initial, n)


def sequential_default(exposures: object, capital: object, *, lgd: float, initial: object) -> SequentialDefaultResult:
    """Sequential (Furfine 2003) default cascade on an interbank exposure matrix.

    Banks in ``initial`` default in round 0. In round r ≥ 1 every surviving bank i books the
    loss ``loss_i = λ Σ_{h ∈ D_{r-1}} x_ih`` on its claims on all banks defaulted so far and
    defaults when ``k_i − loss_i < 0`` (Lu–Zhang eq. 1–2; docs/firesale.md §8). The cascade stops when a
    round adds no default.

    Parameters
    ----------
    exposures : (N, N) array or DataFrame, ``exposures[i, j] = x_ij`` = what bank j owes bank i;
        non-negative, zero diagonal.
    capital : (N,) capital ``k_i`` ≥ 0 (a Series is aligned on the bank ids).
    lgd : loss given default λ in [0, 1].
    initial : the banks failing in round 0: integer positions, bank ids (DataFrame input) or a
        boolean mask.

    Returns
    -------
    SequentialDefaultResult
        The default round of every bank (the default hierarchy), losses and rounds.
    """
    x, banks = _square_matrix("exposures", exposures)
    k = _bank_vector("capital", capital, banks)
    check_nonnegative("capital", k)
    if isinstance(lgd, bool) or not isinstance(lgd, (int, float, np.floating)) or not 0.0 <= float(lgd) <= 1.0:
        raise ValueError(f"lgd={lgd!r} is out of range; allowed: a number in [0, 1]")
    lgd = float(lgd)
    defaulted = _initial_mask(initial, banks)
    round_of = np.where(defaulted, 0, NOT_DEFAULTED)
    rounds = 0
    while True:
        losses = lgd * (x[:, defaulted].sum(axis=1))
        new = ~defaulted & (k - losses < 0)
        if not new.any():
            break
        rounds += 1
        round_of[new] = rounds
        defaulted |= new
    return SequentialDefaultResult(banks=banks, default_round=round_of, losses=losses, capital=k, rounds=rounds)


def _recovery_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{name}={value!r} is out of range; allowed: a number in (0, 1]")
    return float(value)


def eisenberg_noe(liabilities: object, external_assets: object, *, alpha: float = 1.0, beta: float = 1.0) -> ClearingResult:
    """Greatest clearing payment vector of Eisenberg & Noe (2001) with Rogers & Veraart (2013) default costs.

    With obligations ``p̄_i = Σ_j L_ij`` and relative liabilities ``Π_ij = L_ij / p̄_i`` (0 when
    ``p̄_i = 0``), a clearing vector satisfies, for every bank i,

    ``p_i = p̄_i``                         if ``e_i + Σ_j Π_ji p_j ≥ p̄_i``,
    ``p_i = α e_i + β Σ_j Π_ji p_j``       otherwise.

    With ``α = β = 1`` this is Eisenberg–Noe's ``p* = min(p̄, max(0, e + Π' p*))`` (the ``max``
    is inactive because ``e ≥ 0``). The greatest clearing vector is found by the
    fictitious-default algorithm (Eisenberg & Noe 2001 §3; Rogers & Veraart 2013, Algorithm
    "GA"): start from ``p = p̄`` and no defaults; in each round mark as defaulting every bank with
    ``e_i + Σ_j Π_ji p_j < p̄_i``, then solve the linear system
    ``(I − β Π_DD') p_D = α e_D + β Π_{ND,D}' p̄_ND`` for the defaulting set D with the others
    paying in full; stop when D stops growing (at most N rounds). The defaulting set can only
    grow, and a set of defaulters owing only to each other cannot occur in the greatest clearing
    vector, so the system is non-singular.

    Uniqueness: with ``α = β = 1`` the clearing vector is unique when every bank's risk orbit
    (the banks it can reach through obligations) holds positive external assets (Eisenberg &
    Noe's regularity); otherwise several clearing vectors can exist and this returns the
    greatest one (e.g. two banks that owe each other 1 with no external assets: every
    ``p1 = p2 ∈ [0, 1]`` clears, the greatest is full payment). With default costs clearing
    vectors are generally not unique; the greatest is returned.

    Parameters
    ----------
    liabilities : (N, N) array or DataFrame, ``liabilities[i, j]`` = what bank i owes bank j;
        non-negative, zero diagonal.
    external_assets : (N,) external (non-interbank) assets ``e_i`` ≥ 0.
    alpha : share of external assets realised by a defaulting bank, in (0, 1].
    beta : share of interbank claims realised by a defaulting bank, in (0, 1].

    Returns
    -------
    ClearingResult
    """
    liab, banks = _square_matrix("liabilities", liabilities)
    e = _bank_vector("external_assets", external_assets, banks)
    check_nonnegative("external_assets", e)
    alpha = _recovery_rate("alpha", alpha)
    beta = _recovery_rate("beta", beta)
    n = len(banks)
    pbar = liab.sum(axis=1)
    pi = np.zeros_like(liab)
    owes = pbar > 0
    pi[owes] = liab[owes] / pbar[owes, None]
    p = pbar.copy()
    default = np.zeros(n, dtype=bool)
    round_of = np.full(n, NOT_DEFAULTED)
    rounds = 0
    while True:
        value = e + pi.T @ p
        new = ~default & (value < pbar)
        if not new.any():
            break
        rounds += 1
        round_of[new] = rounds
        default |= new
        d = np.flatnonzero(default)
        nd = np.flatnonzero(~default)
        rhs = alpha * e[d] + beta * (pi[np.ix_(nd, d)].T @ pbar[nd])
        system = np.eye(d.size) - beta * pi[np.ix_(d, d)].T
        p = pbar.copy()
        p[d] = np.linalg.solve(system, rhs)
    net_worth = e + pi.T @ p - pbar
    return ClearingResult(
        banks=banks,
        payments=p,
        obligations=pbar,
        default=default,
        default_round=round_of,
        rounds=rounds,
        net_worth=net_worth,
        alpha=alpha,
        beta=beta,
    )
