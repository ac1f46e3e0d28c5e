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
from scipy.stats import kendalltau, rankdata

#: fewer common banks than this: Kendall's τ is not computed (NaN)
MIN_TAU_BANKS = 3


def descending_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = largest, ties sharing the best rank; NaN stays NaN.

    ``values`` is (N,) or (B, N); the result has its shape (float, NaN where ``values`` is NaN).
    """
    v = np.atleast_2d(np.asarray(values, dtype=float))
    out = np.full(v.shape, np.nan)
    for row, x in enumerate(v):
        ok = np.isfinite(x)
        if ok.any():
            out[row, ok] = rankdata(-x[ok], method="min")
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


def kendall_tau(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Kendall's τ-b of two value vectors over the entries finite in both, and their count (NaN below 3)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < MIN_TAU_BANKS or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return math.nan, n
    return float(kendalltau(a[ok], b[ok]).statistic), n


def tau_row(point_a: np.ndarray, point_b: np.ndarray, boot_a: np.ndarray, boot_b: np.ndarray, *,
            level: float) -> dict:
    """τ of two rankings on the data and its percentile interval over paired replications.

    ``boot_a`` and ``boot_b`` are (B, N) on the same banks (columns) as ``point_a`` and ``point_b``;
    row ``b`` of both comes from replication ``b``. Returns ``tau, tau_lo, tau_hi, n_banks,
    replications`` (replications with a τ).
    """
    tau, n = kendall_tau(point_a, point_b)
    reps = np.array([kendall_tau(x, y)[0] for x, y in zip(boot_a, boot_b)])
    reps = reps[np.isfinite(reps)]
    tail = (1.0 - level) / 2.0
    lo, hi = (np.quantile(reps, [tail, 1.0 - tail]) if len(reps) else (math.nan, math.nan))
    return {"tau": tau, "tau_lo": float(lo), "tau_hi": float(hi), "n_banks": n, "replications": len(reps)}
