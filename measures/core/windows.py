"""The one window generator every measure uses (rolling, expanding, calendar; docs/extending.md).

Three kinds of estimation windows over ``n`` ordered observations:

* **rolling**: window ``k`` covers rows ``[k*step, k*step + window)``, ``k = 0 .. K-1`` with
  ``K = (n - window) // step + 1`` (the last rows that do not fill a whole step are not used);
* **expanding**: window ``k`` covers rows ``[0, min_window + k*step)``;
* **calendar**: one window per calendar period (a year by default, or any pandas period
  frequency such as ``"Q"``, ``"M"``, ``"W-FRI"``) over a sorted :class:`pandas.DatetimeIndex`.

Every generator returns a :class:`Windows` object holding integer arrays ``start`` and ``stop``
(half-open positions, ``stop`` exclusive) and ``label`` (the index value of the last row of each
window — the date "at which" a rolling estimate is reported — or the calendar period).
No data are copied: callers slice their own arrays with ``start[k]:stop[k]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Windows", "rolling_windows", "expanding_windows", "calendar_windows", "weekly_last"]


@dataclass(frozen=True)
class Windows:
    """Half-open row ranges ``[start[k], stop[k])`` with a label per window.

    Attributes
    ----------
    start, stop : numpy.ndarray of int64
        First row and one past the last row of each window.
    label : numpy.ndarray or pandas.Index
        The label of each window: the index value (or position) of its last row for rolling and
        expanding windows, the :class:`pandas.Period` for calendar windows.
    kind : str
        ``"rolling"``, ``"expanding"`` or ``"calendar"``.
    """

    start: np.ndarray
    stop: np.ndarray
    label: Any
    kind: str

    def __len__(self) -> int:
        return int(self.start.size)

    @property
    def end(self) -> np.ndarray:
        """Position of the last row of each window (``stop - 1``)."""
        return self.stop - 1

    @property
    def length(self) -> np.ndarray:
        """Number of rows in each window."""
        return self.stop - self.start

    def slices(self) -> Iterator[slice]:
        """Iterate over the windows as ``slice`` objects."""
        for a, b in zip(self.start.tolist(), self.stop.tolist(), strict=True):
            yield slice(a, b)

    def __iter__(self) -> Iterator[slice]:
        return self.slices()


def _check_int(name: str, value: Any, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} must be an integer >= {low}")
    if value < low:
        raise ValueError(f"{name}={value!r} is out of range; allowed: integers >= {low}")
    return int(value)


def _length_and_index(n: int | pd.Index) -> tuple[int, pd.Index | None]:
    if isinstance(n, pd.Index):
        return len(n), n
    return _check_int("n", n, low=0), None


def _labels(index: pd.Index | None, end: np.ndarray) -> Any:
    return end.copy() if index is None else index[end]


def rolling_windows(n: int | pd.Index, window: int, step: int = 1) -> Windows:
    """Rolling windows of fixed length: window ``k`` covers rows ``[k*step, k*step + window)``.

    Parameters
    ----------
    n : int or pandas.Index
        Number of observations, or the index of the data (then the labels are the index values
        of each window's last row; otherwise its position).
    window : int
        Rows per window, ``1 <= window <= n``.
    step : int, default 1
        Rows between consecutive window starts, ``>= 1``.

    Returns
    -------
    Windows
        ``K = (n - window) // step + 1`` windows.
    """
    size, index = _length_and_index(n)
    window = _check_int("window", window, low=1)
    step = _check_int("step", step, low=1)
    if window > size:
        raise ValueError(f"window={window} is larger than the data (n={size} rows); allowed: 1 <= window <= {size}")
    count = (size - window) // step + 1
    start = np.arange(count, dtype=np.int64) * step
    stop = start + window
    return Windows(start, stop, _labels(index, stop - 1), "rolling")


def expanding_windows(n: int | pd.Index, min_window: int, step: int = 1) -> Windows:
    """Expanding windows from the first row: window ``k`` covers rows ``[0, min_window + k*step)``.

    Parameters
    ----------
    n : int or pandas.Index
        Number of observations, or the data's index (labels = index value of the last row).
    min_window : int
        Length of the first window, ``1 <= min_window <= n``.
    step : int, default 1
        Rows added between consecutive windows, ``>= 1``.
    """
    size, index = _length_and_index(n)
    min_window = _check_int("min_window", min_window, low=1)
    step = _check_int("step", step, low=1)
    if min_window > size:
        raise ValueError(
            f"min_window={min_window} is larger than the data (n={size} rows); allowed: 1 <= min_window <= {size}"
        )
    count = (size - min_window) // step + 1
    stop = min_window + np.arange(count, dtype=np.int64) * step
    start = np.zeros(count, dtype=np.int64)
    return Windows(start, stop, _labels(index, stop - 1), "expanding")


def calendar_windows(index: pd.DatetimeIndex, freq: str = "Y", *, min_obs: int = 1) -> Windows:
    """One window per calendar period (default: calendar year) over a sorted DatetimeIndex.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Strictly increasing dates without NaT (duplicates are refused: a date is one row).
    freq : str, default "Y"
        A pandas period frequency: ``"Y"`` (calendar year), ``"Q"``, ``"M"``, ``"W-FRI"``, ...
    min_obs : int, default 1
        Periods with fewer rows are left out.

    Returns
    -------
    Windows
        One window per period present in the data, in time order; ``label`` is a
        :class:`pandas.PeriodIndex`.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"index must be a pandas.DatetimeIndex, got {type(index).__name__}")
    min_obs = _check_int("min_obs", min_obs, low=1)
    if index.hasnans:
        pos = int(np.flatnonzero(index.isna())[0])
        raise ValueError(f"index has a missing date (NaT) at position {pos}; dates must be present")
    if len(index) > 1:
        diffs = np.diff(index.asi8)
        bad = np.flatnonzero(diffs <= 0)
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"index must be strictly increasing; position {k + 1} ({index[k + 1]}) does not follow "
                f"position {k} ({index[k]})"
            )
    try:
        periods = index.to_period(freq)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"freq={freq!r} is not a pandas period frequency (e.g. 'Y', 'Q', 'M', 'W-FRI'): {exc}") from None
    if len(index) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Windows(empty, empty.copy(), periods, "calendar")
    codes = periods.asi8
    change = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    start = np.concatenate([[0], change]).astype(np.int64)
    stop = np.concatenate([change, [len(index)]]).astype(np.int64)
    keep = (stop - start) >= min_obs
    start, stop = start[keep], stop[keep]
    return Windows(start, stop, periods[start], "calendar")


def weekly_last(frame: pd.DataFrame, date_column: str = "date", by: list[str] | None = None) -> pd.DataFrame:
    """The rows of the last trading day of each week (weeks ending Friday), per group ``by``.

    The weekly series of Fang–Chen–Yang 2018 is the Friday value of the daily rolling fits, or
    the last trading day before it when Friday is a holiday: the last row of each
    ``calendar_windows(dates, "W-FRI")`` window. The regressions are not re-estimated on weekly
    data.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with a date column; within each group the dates are distinct.
    date_column : str, default "date"
    by : list of str, optional
        Group columns (e.g. ``["bank_id"]``): the last day of each week is taken per group, in the
        sorted order of the groups.

    Returns
    -------
    pandas.DataFrame
        The selected rows (a fresh index); ``frame`` itself when it is empty.
    """
    if not len(frame):
        return frame
    groups = [frame] if not by else [g for _, g in frame.groupby(by, sort=True)]
    keep = []
    for g in groups:
        g = g.sort_values(date_column)
        wins = calendar_windows(pd.DatetimeIndex(g[date_column]), "W-FRI")
        keep.append(g.iloc[wins.end])
    return pd.concat(keep, ignore_index=True)
