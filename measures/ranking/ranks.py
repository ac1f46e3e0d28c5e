"""Rank summaries of bootstrap replications: point rank, percentile rank interval, P(top k), Kendall τ.

Banks are ranked in decreasing order of the summary (rank 1 = the largest ΔCoVaR, MES, SRISK or
CRW: the most systemic); ties share the best rank (``min`` ranking); banks without a value in a
replication have no rank in it. The rank interval at level ``1 - a`` is the percentile interval
of the bootstrap ranks: the ``a/2`` quantile rounded down to a replicated rank and the ``1 - a/2``
quantile rounded up. ``P(top k)`` is the share of replications in which the bank's rank is at most
``k``. Kendall's τ (τ-b, Kendall 1938) compares two rankings over the banks both have.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: fewer common banks than this: Kendall's τ is not computed (NaN)
MIN_TAU_BANKS = 3
#: rows x banks x banks comparison entries held at once by the vectorized rank and τ computations
BLOCK_ENTRIES = 2_000_000


def _row_blocks(n_rows: int, n_cols: int) -> list[slice]:
    """Slices of rows such that each block holds about ``BLOCK_ENTRIES`` pairwise comparisons."""
    step = max(1, BLOCK_ENTRIES // max(1, n_cols * n_cols))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def descending_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = largest, ties sharing the best rank; NaN stays NaN.

    ``values`` is (N,) or (B, N); the result has its shape (float, NaN where ``values`` is NaN).
    The rank of a finite ``x_i`` is ``1 + #{j : x_j > x_i}`` over the finite entries of its row
    (``scipy.stats.rankdata(-x, method="min")``, computed for all rows at once).
    """
    v = np.atleast_2d(np.asarray(values, dtype=float))
    out = np.full(v.shape, np.nan)
    for rows in _row_blocks(*v.shape):
        x = v[rows]
        larger = (x[:, None, :] > x[:, :, None]).sum(axis=2)  # NaN compares False: only finite x_j count
        out[rows] = np.where(np.isfinite(x), 1.0 + larger, np.nan)
    return out.reshape(np.shape(values))


def rank_table(point: pd.Series, boot: np.ndarray, *, level: float, top_k: int) -> pd.DataFrame:
    """Point rank, rank interval and P(top k) of every bank.

    Parameters
    ----------
    point : Series
        The summary of each bank on the data (index = bank_id; NaN = not ranked).
    boot : ndarray, shape (B, N)
        The summary in each replication (columns in the order of ``point``; NaN = no value).
    level : float
        Coverage ``1 - a`` of the percentile rank interval, in (0, 1).
    top_k : int
        ``k`` of ``P(rank <= k)``.

    Returns
    -------
    DataFrame
        ``bank_id, value, rank, rank_lo, rank_hi, p_top_k, replications`` (replications in which
        the bank has a rank), in the order of ``point``.
    """
    boot = np.asarray(boot, dtype=float).reshape(-1, len(point))
    ranks = descending_ranks(boot)
    valid = np.isfinite(ranks)
    n_valid = valid.sum(axis=0)
    lo = np.full(len(point), np.nan)
    hi = np.full(len(point), np.nan)
    top = np.full(len(point), np.nan)
    tail = (1.0 - level) / 2.0
    for j in np.flatnonzero(n_valid):
        r = ranks[valid[:, j], j]
        lo[j] = np.quantile(r, tail, method="lower")
        hi[j] = np.quantile(r, 1.0 - tail, method="higher")
        top[j] = float(np.mean(r <= top_k))
    return pd.DataFrame({"bank_id": point.index.astype(str), "value": point.to_numpy(dtype=float),
                         "rank": descending_ranks(point.to_numpy(dtype=float)), "rank_lo": lo, "rank_hi": hi,
                         "p_top_k": top, "replications": n_valid.astype("int64")})


def kendall_taus(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kendall's τ-b of the rows of ``a`` and ``b`` (B, N) over the entries finite in both, and their counts.

    Over the ``n`` banks finite in both rows, with ``S = Σ_{i<j} sign(a_i - a_j) sign(b_i - b_j)``
    (concordant minus discordant pairs), ``n_0 = n(n-1)/2`` and ``t_a``, ``t_b`` the pairs tied in
    ``a``, in ``b``: ``τ_b = S / sqrt(n_0 - t_a) / sqrt(n_0 - t_b)`` (Kendall 1938), clipped to
    [-1, 1]; NaN when ``n < 3`` or either row is constant. The integer counts and the final
    operations are those of ``scipy.stats.kendalltau`` (variant ``b``): the values are equal bit
    for bit (tests/test_rankings.py).
    """
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    ok = np.isfinite(a) & np.isfinite(b)
    n = ok.sum(axis=1)
    upper = np.triu(np.ones((a.shape[1], a.shape[1]), dtype=bool), k=1)
    tau = np.full(len(a), math.nan)
    for rows in _row_blocks(*a.shape):
        pairs = ok[rows, :, None] & ok[rows, None, :] & upper
        da = np.where(pairs, np.sign(a[rows, :, None] - a[rows, None, :]), 0.0).astype(np.int64)
        db = np.where(pairs, np.sign(b[rows, :, None] - b[rows, None, :]), 0.0).astype(np.int64)
        s = (da * db).sum(axis=(1, 2))
        ties_a = (pairs & (da == 0)).sum(axis=(1, 2))
        ties_b = (pairs & (db == 0)).sum(axis=(1, 2))
        total = n[rows] * (n[rows] - 1) // 2
        for k, r in enumerate(range(rows.start, rows.stop)):
            if n[r] >= MIN_TAU_BANKS and ties_a[k] < total[k] and ties_b[k] < total[k]:
                value = np.int64(s[k]) / np.sqrt(np.int64(total[k] - ties_a[k])) / np.sqrt(np.int64(total[k] - ties_b[k]))
                tau[r] = float(np.clip(value, -1, 1))
    return tau, n.astype(int)


def kendall_tau(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Kendall's τ-b of two value vectors over the entries finite in both, and their count (NaN below 3)."""
    tau, n = kendall_taus(a, b)
    return float(tau[0]), int(n[0])


def tau_row(point_a: np.ndarray, point_b: np.ndarray, boot_a: np.ndarray, boot_b: np.ndarray, *,
            level: float) -> dict:
    """τ of two rankings on the data and its percentile interval over paired replications.

    ``boot_a`` and ``boot_b`` are (B, N) on the same banks (columns) as ``point_a`` and ``point_b``;
    row ``b`` of both comes from replication ``b``. Returns ``tau, tau_lo, tau_hi, n_banks,
    replications`` (replications with a τ).
    """
    tau, n = kendall_tau(point_a, point_b)
    reps = kendall_taus(boot_a, boot_b)[0] if len(boot_a) else np.array([])
    reps = reps[np.isfinite(reps)]
    tail = (1.0 - level) / 2.0
    lo, hi = (np.quantile(reps, [tail, 1.0 - tail]) if len(reps) else (math.nan, math.nan))
    return {"tau": tau, "tau_lo": float(lo), "tau_hi": float(hi), "n_banks": n, "replications": len(reps)}
