"""ΔCoVaR by quantile regression with state variables (Adrian & Brunnermeier 2016; METHODS §1.1).

For bank i with state variables ``M`` (lagged one period by default):

1. bank regression ``X_i,t = a_i + c_i' M_{t-1} + e`` at ``q`` and at ``0.5``:
   ``VaR_i,t(q) = â^q + ĉ^q' M_{t-1}``, ``VaR_i,t(0.5) = â^{0.5} + ĉ^{0.5}' M_{t-1}``;
2. system regression ``X_sys,t = α + β X_i,t + γ' M_{t-1} + e`` at ``q``:
   ``CoVaR_i,t(q) = α̂ + β̂ VaR_i,t(q) + γ̂' M_{t-1}``;
3. ``ΔCoVaR_i,t(q) = β̂ (VaR_i,t(q) − VaR_i,t(0.5))``.

Losses are ``-diff(log price)``; ``q = 0.95`` is the stress state (METHODS conventions).
Coefficients are estimated on the full sample (constant, time variation through ``M``) or on
rolling windows: the value at t uses the window ending at t (its last row's state variables).
Every fit is the project's exact quantile regression (:mod:`measures.core.quantreg`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from measures.core.config import Config, check_range
from measures.core.quantreg import solve_quantile_regression, solve_rolling_quantile_regression
from measures.core.windows import rolling_windows

__all__ = [
    "CoVaRConfig",
    "CoVaRRegressions",
    "estimate_delta_covar",
    "fit_covar_regressions",
    "lag_states",
    "rank_deficient_windows",
]

EQUATIONS = ("bank_q", "bank_median", "system")


@dataclass(frozen=True, kw_only=True)
class CoVaRConfig(Config):
    """Options of the quantile-regression ΔCoVaR.

    ``q``: loss quantile of the stress state (0.95); ``window``: rows per rolling window, ``None``
    for the full sample; ``step``: rows between rolling windows; ``lag``: periods by which the
    state variables are lagged (1 in METHODS §1.1; 0 = contemporaneous, as in §1.3).
    """

    q: float = 0.95
    window: int | None = None
    step: int = 1
    lag: int = 1

    def validate(self) -> None:
        check_range("q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        if self.window is not None:
            check_range("window", self.window, low=2, integer=True)
        check_range("step", self.step, low=1, integer=True)
        check_range("lag", self.lag, low=0, integer=True)


@dataclass(frozen=True)
class CoVaRRegressions:
    """Coefficients of the three regressions per window (one window for the full sample).

    ``bank_q``, ``bank_median``: (K, 1 + k) ``[a, c_1..c_k]``; ``system``: (K, 2 + k)
    ``[α, β, γ_1..γ_k]``; ``status`` (K,): the worst status of the three fits; ``end`` (K,):
    position (in the aligned sample) of each window's last row; ``index``: the aligned sample's index.
    """

    bank_q: np.ndarray
    bank_median: np.ndarray
    system: np.ndarray
    status: np.ndarray
    start: np.ndarray
    end: np.ndarray
    index: pd.Index
    states: tuple[str, ...]
    q: float


def lag_states(states: pd.DataFrame, lag: int = 1) -> pd.DataFrame:
    """State variables shifted by ``lag`` rows: the row dated t holds ``M_{t-lag}``."""
    check_range("lag", lag, low=0, integer=True)
    return states.shift(lag) if lag else states


def _worst(*statuses: np.ndarray) -> np.ndarray:
    rank = {"ok": 0, "warning": 1, "failed": 2}
    out = np.asarray(statuses[0], dtype=object).copy()
    for other in statuses[1:]:
        for k, s in enumerate(other):
            if rank[s.split(":")[0]] > rank[out[k].split(":")[0]]:
                out[k] = s
    return out


def _align(bank_loss: pd.Series, system_loss: pd.Series, states: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(states, pd.DataFrame) or states.shape[1] == 0:
        raise ValueError("states must be a DataFrame with at least one state variable column")
    frame = pd.concat(
        [bank_loss.rename("__bank"), system_loss.rename("__system"), states.astype(float)], axis=1, join="inner"
    )
    frame = frame.dropna()
    values = frame.to_numpy(dtype=float)
    bad = np.argwhere(np.isinf(values))
    if bad.size:
        row, col = bad[0]
        name = {"__bank": "bank_loss", "__system": "system_loss"}.get(frame.columns[col], frame.columns[col])
        raise ValueError(
            f"{name} is infinite ({values[row, col]}) at {frame.index[row]}; a zero price gives an infinite log "
            "loss: set such rows to NaN (missing) before estimating"
        )
    return frame


def fit_covar_regressions(
    bank_loss: pd.Series, system_loss: pd.Series, states: pd.DataFrame, *, q: float, window: int | None = None, step: int = 1
) -> CoVaRRegressions:
    """Fit the bank regressions (at q and 0.5) and the system regression (at q), per window.

    ``states`` enter as given (lag them first with :func:`lag_states` for §1.1). The three
    series are aligned on their common index; rows with a missing value are dropped, and rolling
    windows count valid rows.
    """
    frame = _align(bank_loss, system_loss, states)
    names = tuple(str(c) for c in states.columns)
    M = frame.iloc[:, 2:].to_numpy(dtype=float)
    xb = frame["__bank"].to_numpy(dtype=float)
    xs = frame["__system"].to_numpy(dtype=float)
    ones = np.ones((len(frame), 1))
    Xbank = np.hstack([ones, M])
    Xsys = np.hstack([ones, xb[:, None], M])
    if window is None:
        fits = [solve_quantile_regression(xb, Xbank, q), solve_quantile_regression(xb, Xbank, 0.5),
                solve_quantile_regression(xs, Xsys, q)]
        status = _worst(*(f.status for f in fits))
        coefs = [f.coef for f in fits]
        start, end = fits[0].start, fits[0].stop - 1
    else:
        coefs, status, start, end = _rolling_fits(xb, xs, Xbank, Xsys, q, window, step)
    return CoVaRRegressions(
        bank_q=coefs[0], bank_median=coefs[1], system=coefs[2], status=status,
        start=start, end=end, index=frame.index, states=names, q=q,
    )


def rank_deficient_windows(X: np.ndarray, window: int, step: int = 1) -> np.ndarray:
    """Boolean (K,): rolling window k (rows ``[k*step, k*step + window)``) of ``X`` has rank < p.

    Same rank rule as the solver (``numpy.linalg.matrix_rank``'s default tolerance), batched.
    A state variable constant over a window (a policy rate at its floor, a monthly series carried
    forward) makes the window rank-deficient together with the constant column.
    """
    view = sliding_window_view(np.asarray(X, dtype=float), window, axis=0)[::step]  # (K, p, window)
    return np.linalg.matrix_rank(np.swapaxes(view, 1, 2)) < X.shape[1]


def _rolling_fits(xb, xs, Xbank, Xsys, q, window, step):
    """Rolling fits of the three regressions; rank-deficient windows get a ``failed`` status and NaN.

    Runs of consecutive full-rank windows are solved as one batch each (warm starts kept).
    """
    wins = rolling_windows(len(xb), window, step)
    K = len(wins)
    bad = rank_deficient_windows(Xsys, window, step)  # Xbank's columns are a subset of Xsys's
    coefs = [np.full((K, Xbank.shape[1]), np.nan), np.full((K, Xbank.shape[1]), np.nan),
             np.full((K, Xsys.shape[1]), np.nan)]
    status = np.full(K, "failed:RankDeficient: the window's state variables (with the constant) are collinear, "
                        "e.g. a state constant over the window", dtype=object)
    good = np.flatnonzero(~bad)
    if good.size:
        runs = np.split(good, np.flatnonzero(np.diff(good) > 1) + 1)
        for run in runs:
            k0, k1 = int(run[0]), int(run[-1]) + 1
            lo, hi = k0 * step, (k1 - 1) * step + window
            fits = [solve_rolling_quantile_regression(xb[lo:hi], Xbank[lo:hi], q, window, step),
                    solve_rolling_quantile_regression(xb[lo:hi], Xbank[lo:hi], 0.5, window, step),
                    solve_rolling_quantile_regression(xs[lo:hi], Xsys[lo:hi], q, window, step)]
            for c, f in zip(coefs, fits):
                c[k0:k1] = f.coef
            status[k0:k1] = _worst(*(f.status for f in fits))
    return coefs, status, wins.start.copy(), wins.start + window - 1


def estimate_delta_covar(
    bank_loss: pd.Series,
    system_loss: pd.Series,
    states: pd.DataFrame,
    config: CoVaRConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ΔCoVaR of one bank (METHODS §1.1): values per date and coefficients per window.

    Parameters
    ----------
    bank_loss, system_loss : pandas.Series
        Losses ``-diff(log price)`` of the bank and of the system, indexed by date.
    states : pandas.DataFrame
        State variables by date (not yet lagged; ``config.lag`` lags them).
    config : CoVaRConfig, optional
        ``q`` (0.95), ``window`` (None: full sample), ``step``, ``lag`` (1).

    Returns
    -------
    values : DataFrame
        ``date, var_q, var_med, covar, delta_covar, status``: full sample — every date of the
        aligned sample; rolling — the last date of each window, from that window's coefficients.
    coefficients : DataFrame
        ``window_end, equation, term, estimate, status``; equations ``bank_q``, ``bank_median``
        (terms ``const`` and the states) and ``system`` (``const``, ``bank_loss``, states).
    """
    config = config or CoVaRConfig()
    lagged = lag_states(states, config.lag)
    reg = fit_covar_regressions(bank_loss, system_loss, lagged, q=config.q, window=config.window, step=config.step)
    frame = _align(bank_loss, system_loss, lagged)
    M = frame.iloc[:, 2:].to_numpy(dtype=float)
    if config.window is None:
        rows = np.arange(len(frame))
        pick = np.zeros(len(frame), dtype=np.int64)
    else:
        rows = reg.end
        pick = np.arange(reg.end.size)
    Z = np.hstack([np.ones((rows.size, 1)), M[rows]])
    var_q = np.einsum("ij,ij->i", Z, reg.bank_q[pick])
    var_med = np.einsum("ij,ij->i", Z, reg.bank_median[pick])
    alpha, beta, gamma = reg.system[pick, 0], reg.system[pick, 1], reg.system[pick, 2:]
    covar = alpha + beta * var_q + np.einsum("ij,ij->i", M[rows], gamma)
    values = pd.DataFrame(
        {
            "date": frame.index[rows],
            "var_q": var_q,
            "var_med": var_med,
            "covar": covar,
            "delta_covar": beta * (var_q - var_med),
            "status": pd.Series(reg.status[pick], dtype=object).astype(str).to_numpy(),
        }
    )
    return values, coefficient_frame(reg)


def coefficient_frame(reg: CoVaRRegressions) -> pd.DataFrame:
    """Tidy ``window_end, equation, term, estimate, status`` frame of :class:`CoVaRRegressions`."""
    terms = {
        "bank_q": ("const", *reg.states),
        "bank_median": ("const", *reg.states),
        "system": ("const", "bank_loss", *reg.states),
    }
    parts = []
    ends = reg.index[reg.end]
    for eq in EQUATIONS:
        coef = getattr(reg, eq)
        K, p = coef.shape
        parts.append(
            pd.DataFrame(
                {
                    "window_end": np.repeat(ends, p),
                    "equation": eq,
                    "term": np.tile(np.array(terms[eq], dtype=object), K),
                    "estimate": coef.ravel(),
                    "status": np.repeat(reg.status.astype(str), p),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
