"""The shared window generator: rolling, expanding and calendar windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from measures.core.windows import Windows, calendar_windows, expanding_windows, rolling_windows, weekly_last


def test_rolling_windows_positions() -> None:
    w = rolling_windows(10, window=4, step=3)
    assert isinstance(w, Windows) and w.kind == "rolling"
    np.testing.assert_array_equal(w.start, [0, 3, 6])
    np.testing.assert_array_equal(w.stop, [4, 7, 10])
    np.testing.assert_array_equal(w.end, [3, 6, 9])
    np.testing.assert_array_equal(w.label, [3, 6, 9])
    assert len(w) == 3
    assert list(w) == [slice(0, 4), slice(3, 7), slice(6, 10)]


def test_rolling_windows_leftover_rows_and_full_window() -> None:
    w = rolling_windows(11, window=4, step=3)  # row 10 does not complete a step
    np.testing.assert_array_equal(w.start, [0, 3, 6])
    one = rolling_windows(5, window=5)
    np.testing.assert_array_equal(one.start, [0])
    np.testing.assert_array_equal(one.length, [5])
    daily = rolling_windows(6, window=2)
    np.testing.assert_array_equal(daily.start, np.arange(5))


def test_rolling_windows_labels_from_index() -> None:
    idx = pd.date_range("2020-01-01", periods=6, freq="D")
    w = rolling_windows(idx, window=3, step=2)
    assert list(w.label) == [idx[2], idx[4]]


def test_expanding_windows() -> None:
    w = expanding_windows(10, min_window=4, step=2)
    np.testing.assert_array_equal(w.start, [0, 0, 0, 0])
    np.testing.assert_array_equal(w.stop, [4, 6, 8, 10])
    assert w.kind == "expanding"


def test_calendar_windows_by_year_and_quarter() -> None:
    idx = pd.DatetimeIndex(["2019-12-30", "2019-12-31", "2020-01-02", "2020-06-30", "2021-03-01"])
    w = calendar_windows(idx)
    np.testing.assert_array_equal(w.start, [0, 2, 4])
    np.testing.assert_array_equal(w.stop, [2, 4, 5])
    assert [str(p) for p in w.label] == ["2019", "2020", "2021"]
    q = calendar_windows(idx, "Q")
    assert [str(p) for p in q.label] == ["2019Q4", "2020Q1", "2020Q2", "2021Q1"]
    big = calendar_windows(idx, min_obs=2)
    assert [str(p) for p in big.label] == ["2019", "2020"]


def test_calendar_windows_weekly_friday() -> None:
    idx = pd.bdate_range("2024-01-01", "2024-01-19")  # Monday .. Friday, three weeks
    w = calendar_windows(idx, "W-FRI")
    np.testing.assert_array_equal(w.length, [5, 5, 5])
    assert list(idx[w.end].day_name()) == ["Friday"] * 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rolling_windows(5, window=6), r"window=6 is larger than the data \(n=5 rows\)"),
        (lambda: rolling_windows(5, window=0), r"window=0 is out of range; allowed: integers >= 1"),
        (lambda: rolling_windows(5, window=2, step=0), r"step=0 is out of range"),
        (lambda: rolling_windows(5, window=2.5), r"window=2.5 must be an integer"),
        (lambda: rolling_windows(5, window=True), r"window=True must be an integer"),
        (lambda: expanding_windows(3, min_window=4), r"min_window=4 is larger than the data \(n=3 rows\)"),
        (lambda: calendar_windows(pd.Index([1, 2])), r"index must be a pandas.DatetimeIndex, got Index"),
        (
            lambda: calendar_windows(pd.DatetimeIndex(["2020-01-02", "2020-01-01"])),
            r"strictly increasing; position 1 \(2020-01-01 00:00:00\) does not follow position 0",
        ),
        (
            lambda: calendar_windows(pd.DatetimeIndex(["2020-01-01", "2020-01-01"])),
            r"strictly increasing; position 1",
        ),
        (lambda: calendar_windows(pd.DatetimeIndex(["2020-01-01", None])), r"missing date \(NaT\) at position 1"),
        (lambda: calendar_windows(pd.DatetimeIndex(["2020-01-01"]), "nonsense"), r"freq='nonsense' is not a pandas"),
    ],
)
def test_window_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_weekly_last_takes_the_last_trading_day_of_each_week() -> None:
    idx = pd.bdate_range("2024-01-01", "2024-01-31").drop(pd.Timestamp("2024-01-19"))  # a Friday holiday
    frame = pd.DataFrame({"date": idx, "x": np.arange(len(idx))})
    weekly = weekly_last(frame)
    days = list(weekly["date"].dt.strftime("%Y-%m-%d"))
    assert days == ["2024-01-05", "2024-01-12", "2024-01-18", "2024-01-26", "2024-01-31"]


def test_weekly_last_per_group_and_empty() -> None:
    idx = pd.bdate_range("2024-01-01", "2024-01-12")
    frame = pd.concat([pd.DataFrame({"bank_id": b, "date": idx[i:], "x": 1.0}) for b, i in (("B", 0), ("A", 6))])
    weekly = weekly_last(frame.sample(frac=1.0, random_state=0), by=["bank_id"])
    assert list(weekly["bank_id"]) == ["A", "B", "B"]
    assert list(weekly["date"].dt.strftime("%m-%d")) == ["01-12", "01-05", "01-12"]
    assert weekly_last(frame.iloc[:0], by=["bank_id"]).empty
