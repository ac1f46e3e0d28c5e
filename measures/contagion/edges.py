"""The Granger edge set and Benjamini–Hochberg false-discovery-rate control.

With ``m`` edge p-values sorted ``p_(1) <= .. <= p_(m)``, the BH step-up procedure (Benjamini &
Hochberg 1995, J. R. Stat. Soc. B 57) rejects the ``k`` smallest, ``k = max{r: p_(r) <= r α / m}``;
equivalently an edge survives when its adjusted p-value (q-value)

.. math:: q_{(r)} = \\min_{s \\ge r} \\min\\left(1, \\frac{m}{s} p_{(s)}\\right)

is ``<= α``. The edge set is every ordered pair ``i != j`` of the p-value matrix; this
equals statsmodels ``multipletests(method="fdr_bh")`` (tests/test_granger.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from measures.core.config import check_range


def benjamini_hochberg(pvalues: np.ndarray, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """BH step-up on a 1-D array of p-values: ``(survives (bool), q-values)``."""
    check_range("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D; got shape {p.shape}")
    bad = np.flatnonzero(~((p >= 0) & (p <= 1)))
    if bad.size:
        raise ValueError(f"pvalues must lie in [0, 1]; got {float(p[bad[0]])!r} at position {bad[0]}")
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1.0)
    q = np.empty(m)
    q[order] = q_sorted
    below = np.flatnonzero(p[order] <= np.arange(1, m + 1) * alpha / m)
    survives = np.zeros(m, dtype=bool)
    if below.size:
        survives[order[: below[-1] + 1]] = True
    return survives, q


def granger_edges(pvalues: pd.DataFrame, *, fdr_alpha: float = 0.05) -> pd.DataFrame:
    """Tidy edge table of a :func:`granger_pvalues` matrix with BH FDR control.

    Returns one row per ordered pair ``source != target`` (source Granger-causes target):
    ``source, target, p_value, q_value, significant, lags, weight`` where ``weight = 1 - p``
    (the PageRank adjacency of Liu–Ma 2021), ``q_value`` the BH-adjusted p-value over the whole edge
    set and ``significant`` whether the edge survives FDR control at ``fdr_alpha``; ``lags``
    comes from ``pvalues.attrs["lags"]`` (0 when absent). Sorted by source, target position.
    """
    matrix = pvalue_matrix(pvalues)
    n = matrix.shape[0]
    src, tgt = np.nonzero(~np.eye(n, dtype=bool))
    p = matrix[src, tgt]
    survives, q = benjamini_hochberg(p, alpha=fdr_alpha)
    lags = pvalues.attrs.get("lags")
    if lags is None:
        lag_values = np.zeros(p.size, dtype=int)
    elif np.ndim(lags) == 2:
        lag_values = np.asarray(lags, dtype=int)[src, tgt]
    else:
        lag_values = np.full(p.size, int(lags))
    return pd.DataFrame({
        "source": pvalues.index.to_numpy()[src],
        "target": pvalues.columns.to_numpy()[tgt],
        "p_value": p,
        "q_value": q,
        "significant": survives,
        "lags": lag_values,
        "weight": 1.0 - p,
    })


def pvalue_matrix(pvalues: pd.DataFrame) -> np.ndarray:
    """Validate a square banks x banks p-value frame; return its values (diagonal ignored)."""
    if not isinstance(pvalues, pd.DataFrame):
        raise ValueError(f"pvalues must be a pandas DataFrame (banks x banks); got {type(pvalues).__name__}")  # noqa: TRY004
    if pvalues.shape[0] != pvalues.shape[1] or pvalues.shape[0] < 2:
        raise ValueError(f"pvalues must be a square banks x banks frame with at least 2 banks; got shape {pvalues.shape}")
    if not pvalues.index.equals(pvalues.columns):
        raise ValueError("pvalues must have the same banks, in the same order, as rows (source) and columns (target); "
                         f"got rows {list(pvalues.index)} and columns {list(pvalues.columns)}")
    if not pvalues.index.is_unique:
        raise ValueError(f"pvalues has duplicated banks {pvalues.index[pvalues.index.duplicated()].tolist()}")
    values = pvalues.to_numpy(dtype=float, na_value=np.nan).copy()
    np.fill_diagonal(values, 0.0)
    bad = np.argwhere(~((values >= 0) & (values <= 1)))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"pvalues must lie in [0, 1] off the diagonal; got {float(values[i, j])!r} for "
                         f"source {pvalues.index[i]!r}, target {pvalues.columns[j]!r}")
    return values
