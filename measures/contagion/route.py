"""Which estimator the contagion VARs use: least squares, the LASSO VAR, or bivariate VARs.

``route`` (the ``contagion.route`` param) is ``ols`` (:func:`~measures.contagion.var.fit_var`),
``sparse`` (:func:`~measures.contagion.sparse_var.fit_sparse_var`) or ``auto``: OLS when every
window with at least two banks has, at the largest lag order ``p`` (``lags``, else ``max_lags``),

.. math:: T_w - p \\ge r\\,(N_w p + 1)

observations (``T_w`` rows, ``N_w`` banks with ``min_obs`` observations, ``r`` =
``contagion.sparse.ols_ratio`` = 1.5: at least half as many residual degrees of freedom as
parameters per equation, so the F tests keep power and the IC lag search its N spare degrees of
freedom), else the LASSO VAR for every window — one estimator for the whole panel, so that the
CRW of different years stay comparable (with ``contagion.route_scope: window``, set by real time,
each window applies the rule to itself alone: :func:`window_route`). The Granger network uses that VAR unless
``mode: pairwise`` (bivariate VARs, which never need the large route); the Diebold–Yilmaz
connectedness always uses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from measures.core.windows import Windows

ROUTES = ("auto", "ols", "sparse")


@dataclasses.dataclass(frozen=True)
class Route:
    """``var``: ``ols`` | ``sparse`` (every system VAR); ``granger``: ``ols`` | ``sparse`` | ``pairwise``
    (the Granger network); ``reason``: one sentence saying why."""

    var: str
    granger: str
    reason: str


def window_sizes(series: pd.DataFrame, wins: Windows, labels: Iterable, *, min_obs: int) -> list[tuple]:
    """``(label, n_banks, n_rows)`` per window: the banks with at least ``min_obs`` observations in it (an
    upper bound of the banks the window keeps) and its rows; from cumulative counts."""
    observed = np.vstack([np.zeros((1, series.shape[1]), dtype=np.int64),
                          np.cumsum(series.notna().to_numpy(), axis=0, dtype=np.int64)])
    rows = (wins.stop - wins.start).astype(int)
    counts = observed[wins.stop] - observed[wins.start]
    return [(label, int(n), int(r)) for label, n, r in zip(labels, (counts >= min_obs).sum(axis=1), rows)]


def choose_route(sizes: Iterable[tuple], *, lags: int, route: str = "auto", mode: str = "system",
                 ols_ratio: float = 1.5, what: str = "") -> Route:
    """Resolve ``route`` over the windows' ``(label, n_banks, n_rows)`` (module docstring); ``what``
    prefixes the labels in the reason (e.g. ``year``)."""
    granger = "pairwise" if mode == "pairwise" else None
    if route != "auto":
        return Route(var=route, granger=granger or route, reason=f"contagion.route: {route} (set by the user)")
    worst = None
    for label, n, rows in sizes:
        if n < 2:
            continue
        share = ols_ratio * (n * lags + 1) / max(rows - lags, 1)
        if worst is None or share > worst[0]:
            worst = (share, label, n, rows)
    if worst is None:
        return Route(var="ols", granger=granger or "ols", reason="route auto: no window has two banks; ols")
    share, label, n, rows = worst
    where = f"{what} {label}" if what else str(label)
    fact = (f"the largest VAR ({where}: N={n} banks, lag order {lags}) has N p + 1 = {n * lags + 1} "
            f"parameters per equation for {rows - lags} observations")
    var = "ols" if share <= 1 else "sparse"
    rule = "at least" if var == "ols" else "fewer than"
    reason = f"route auto: {var}: {fact}, {rule} contagion.sparse.ols_ratio={ols_ratio:g} times the parameters"
    return Route(var=var, granger=granger or var, reason=reason)


def window_route(route: str, n_banks: int, n_rows: int, *, lags: int, ols_ratio: float = 1.5) -> str:
    """``route`` of one window: itself, or with ``auto`` the rule above on this window alone
    (``contagion.route_scope: window``, real time: no window's estimator depends on another window)."""
    return route if route != "auto" else choose_route([("", n_banks, n_rows)], lags=lags, ols_ratio=ols_ratio).var
