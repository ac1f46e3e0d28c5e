"""The stationary bootstrap of Politis & Romano (1994): resampled dates, one stream per replication.

A replication draws indices ``I_1..I_n`` of ``n`` dates: ``I_1`` uniform on ``0..n-1``; then, for
``t > 1``, with probability ``p = 1 / L`` a new block starts at a uniform date, otherwise the block
goes on, ``I_t = (I_{t-1} + 1) mod n`` (the series is wrapped on a circle). Block lengths are
geometric with mean ``L``, so the resampled series is stationary (Politis & Romano 1994).

Replication ``b`` draws from its own generator ``default_rng(SeedSequence(seed, spawn_key=key))``
(:func:`replication_rng`), so its indices depend on the seed and ``key`` only: identical whatever
the order in which replications run and however many workers run them.

The default mean block length is the Politis & White (2004) rule as corrected by Patton, Politis
& White (2009) (``arch.bootstrap.optimal_block_length``, column ``stationary``), taken as the
median over the series (:func:`block_length_rule`). Choices: docs/rankings.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def replication_rng(seed: int, key: Sequence[int]) -> np.random.Generator:
    """The generator of one replication: ``default_rng(SeedSequence(seed, spawn_key=tuple(key)))``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


def stationary_indices(n: int, mean_block: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of one stationary-bootstrap resample of ``n`` dates (Politis & Romano 1994).

    ``I_1 ~ U{0..n-1}``; for ``t > 1``, with probability ``p = 1/L`` (``L = mean_block``)
    ``I_t ~ U{0..n-1}`` (a new block), else ``I_t = (I_{t-1} + 1) mod n``.

    Parameters
    ----------
    n : int
        Number of dates (>= 1).
    mean_block : float
        Mean block length ``L >= 1`` (``L = 1``: the iid bootstrap).
    rng : numpy.random.Generator
        The replication's generator (:func:`replication_rng`).

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    if n < 1:
        raise ValueError(f"n={n} must be at least 1")
    if not mean_block >= 1.0:
        raise ValueError(f"mean_block={mean_block!r} must be at least 1")
    starts = rng.integers(0, n, size=n)
    new = rng.random(n) < 1.0 / mean_block
    new[0] = True
    block = np.cumsum(new) - 1                      # block number of every position
    first = np.flatnonzero(new)                     # position where each block starts
    offset = np.arange(n) - first[block]            # position inside the block
    return ((starts[first][block] + offset) % n).astype(np.int64)


def block_length_rule(series: Iterable[np.ndarray], *, n: int) -> float:
    """Default mean block length: the median Politis–White (2004; Patton–Politis–White 2009) length.

    Each array (one bank's values, missing values dropped) with at least 10 values gets the
    stationary-bootstrap block length of ``arch.bootstrap.optimal_block_length``; the rule is the
    median over the arrays, clipped to ``[1, n]`` (``n`` = dates resampled). No usable array: 1.
    """
    from arch.bootstrap import optimal_block_length  # heavy: only when the rule is used

    lengths = []
    for values in series:
        x = np.asarray(values, dtype=float)
        x = x[np.isfinite(x)]
        if len(x) >= 10 and np.ptp(x) > 0:
            lengths.append(float(optimal_block_length(x)["stationary"].iloc[0]))
    if not lengths:
        return 1.0
    return float(min(max(np.median(lengths), 1.0), float(n)))
