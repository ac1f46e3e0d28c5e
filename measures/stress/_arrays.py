"""Input checks shared by the maximum-entropy, cascade and DebtRank modules.

Every check raises ``ValueError`` naming the argument, the offending value and
its index, and what is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_float_array(name: str, value: object, *, ndim: int) -> np.ndarray:
    """``value`` as a float64 array of ``ndim`` dimensions with finite entries."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {type(value).__name__}: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional; got shape {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        idx = tuple(int(k) for k in bad[0])
        raise ValueError(f"{name} must be finite; {name}[{_fmt(idx)}]={float(arr[idx])!r}")
    return arr


def check_nonnegative(name: str, arr: np.ndarray) -> None:
    """Raise unless every entry of ``arr`` is >= 0."""
    bad = np.argwhere(arr < 0)
    if bad.size:
        idx = tuple(int(k) for k in bad[0])
        raise ValueError(
            f"{name} must be non-negative; {name}[{_fmt(idx)}]={float(arr[idx])!r} "
            f"({len(bad)} negative entr{'y' if len(bad) == 1 else 'ies'})"
        )


def check_in_unit_interval(name: str, arr: np.ndarray) -> None:
    """Raise unless every entry of ``arr`` lies in [0, 1]."""
    bad = np.argwhere((arr < 0) | (arr > 1))
    if bad.size:
        idx = tuple(int(k) for k in bad[0])
        raise ValueError(f"{name} must lie in [0, 1]; {name}[{_fmt(idx)}]={float(arr[idx])!r}")


def broadcast_vector(name: str, value: object, n: int, *, what: str) -> np.ndarray:
    """A scalar or a length-``n`` vector (one entry per ``what``) as a float vector."""
    arr = np.array(value, dtype=np.float64) if np.ndim(value) == 0 else as_float_array(name, value, ndim=1)
    if arr.ndim == 0:
        if not np.isfinite(arr):
            raise ValueError(f"{name}={float(arr)!r} must be finite")
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have one entry per {what} ({n}); got shape {arr.shape}")
    return arr


def as_index_set(name: str, value: object, n: int) -> np.ndarray:
    """Bank indices (a sequence of ints or a boolean mask of length ``n``) as a boolean mask."""
    mask = np.zeros(n, dtype=bool)
    if value is None:
        return mask
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{name} as a boolean mask must have length {n}; got shape {arr.shape}")
        return arr.copy()
    if arr.size == 0:
        return mask
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a sequence of integer bank indices or a boolean mask; got {value!r}")
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise ValueError(f"{name} contains bank index {int(bad[0])}, outside 0..{n - 1}")
    mask[arr] = True
    return mask


def _fmt(idx: Sequence[int]) -> str:
    return ", ".join(str(k) for k in idx)
