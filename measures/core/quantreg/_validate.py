"""Input checks shared by the quantile-regression entry points (clear ``ValueError`` messages)."""

from __future__ import annotations

from typing import Any

import numpy as np

from measures.core.config import check_range


def as_float_array(name: str, value: Any, ndim: int) -> np.ndarray:
    """``value`` as a float64 array with ``ndim`` dimensions and only finite entries."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if arr.ndim != ndim:
        hint = " (pass X[:, None] for a single regressor)" if name == "X" and arr.ndim == 1 else ""
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}{hint}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        where = bad[0]
        what = arr[tuple(where)]
        loc = f"row {where[0]}" if ndim == 1 else f"row {where[0]}, column {where[1]}"
        raise ValueError(f"{name} has a non-finite value ({what}) at {loc}; remove or fill missing data first")
    return np.ascontiguousarray(arr)


def check_quantile(q: Any) -> float:
    """``q`` as a float strictly inside (0, 1)."""
    if isinstance(q, np.floating):
        q = float(q)
    check_range("q", q, low=0.0, high=1.0, low_open=True, high_open=True)
    return float(q)


def check_design(y: Any, X: Any, q: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate ``y`` (n,), ``X`` (n, p) and ``q``; return float arrays and q."""
    q = check_quantile(q)
    y = as_float_array("y", y, 1)
    X = as_float_array("X", X, 2)
    n, p = X.shape
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows but X has {n} rows; they must match")
    if p == 0:
        raise ValueError("X has no columns; include at least a constant column")
    return y, X, q


def check_rows(n: int, p: int, what: str) -> None:
    """At least as many rows as columns."""
    if n < p:
        raise ValueError(
            f"{what} has {n} rows but X has p={p} columns: a quantile regression needs at least p rows"
        )


def check_rank(X: np.ndarray, what: str, first_row: int = 0) -> None:
    """Full column rank (numpy's ``matrix_rank`` tolerance), else a ``ValueError``."""
    p = X.shape[1]
    rank = int(np.linalg.matrix_rank(X))
    if rank < p:
        sv = np.linalg.svd(X, compute_uv=False)
        raise ValueError(
            f"X is rank-deficient in {what} (rows {first_row}..{first_row + X.shape[0] - 1}): rank {rank} < p={p} "
            f"columns (singular values {np.array2string(sv, precision=3)}); drop collinear or constant columns"
        )
