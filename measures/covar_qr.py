"""ΔCoVaR by quantile regression with state variables (Adrian–Brunnermeier 2016).

For bank i with state variables ``M`` (lagged one period by default):

1. bank regression ``X_i,t = a_i + c_i' M_{t-1} + e`` at ``q`` and at ``0.5``:
   ``VaR_i,t(q) = â^q + ĉ^q' M_{t-1}``, ``VaR_i,t(0.5) = â^{0.5} + ĉ^{0.5}' M_{t-1}``;
2. system regression ``X_sys,t = α + β X_i,t + γ' M_{t-1} + e`` at ``q``:
   ``CoVaR_i,t(q) = α̂ + β̂ VaR_i,t(q) + γ̂' M_{t-1}``;
3. ``ΔCoVaR_i,t(q) = β̂ (VaR_i,t(q) − VaR_i,t(0.5))``;
4. CoES (Adrian–Brunnermeier 2016's expected-shortfall analogue), the system's expected loss beyond
   its CoVaR, by the quantile integral ``ES(q) = (1 − q)^{-1} ∫_q^1 Q(τ) dτ`` (Acerbi & Tasche
   2002) on the midpoint grid ``τ_j = q + (1 − q)(j − ½)/J``, ``J = coes_levels``, of system
   regressions at ``τ_j``: ``CoES_i,t(q) = J^{-1} Σ_j (α̂_j + β̂_j VaR_i,t(q) + γ̂_j' M_{t-1})``,
   ``ΔCoES_i,t(q) = J^{-1} Σ_j β̂_j (VaR_i,t(q) − VaR_i,t(0.5))``.

Losses are ``-diff(log price)``; ``q = 0.95`` is the stress state (docs/references.md,
"Conventions"). Coefficients are estimated on the full sample (constant, time variation through
``M``), on expanding windows refitted every ``refit_every`` rows (the value at t from the last
fit ending at or before t, applied to the states at t) or on rolling windows (the value at t
from the window ending at t). Every fit is the project's exact quantile regression
(:mod:`measures.core.quantreg`); the standard errors of every coefficient (``se``: iid, nid,
ker, boot; :func:`measures.core.quantreg.inference.quantile_regression_se`) give a p-value, and
the p-value of β (term ``bank_loss`` of the system regression) tests H0: ΔCoVaR = 0, since
``ΔCoVaR = β (VaR(q) − VaR(0.5))`` is zero exactly when β is.

:func:`estimate_delta_covar` is one bank; :func:`estimate_delta_covar_banks` runs it over the
banks of a :class:`LossPanel` (:func:`loss_panel`, shared with :mod:`measures.spillover`), with
the exclusions and flags as an event frame and the weekly (Friday) series of Fang–Chen–Yang 2018.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from measures.core.checks import bank_days_lines
from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.core.quantreg import solve_quantile_regression, solve_rolling_quantile_regression
from measures.core.quantreg.expanding import expanding_quantile_regression_se, solve_expanding_quantile_regression
from measures.core.quantreg.inference import METHODS, quantile_regression_se, rolling_quantile_regression_se, t_test_p_values
from measures.core.status import NotEstimable, is_failed, status_from_exception, worst
from measures.core.windows import rolling_windows, weekly_last

__all__ = [
    "NEEDS_STATES",
    "CoVaRConfig",
    "CoVaRRegressions",
    "check_plan",
    "DeltaCoVaRBanks",
    "LossPanel",
    "estimate_delta_covar",
    "estimate_delta_covar_banks",
    "fit_covar_regressions",
    "lag_states",
    "loss_panel",
    "rank_deficient_windows",
    "select_states",
    "state_problems",
    "states_lines",
]

EQUATIONS = ("bank_q", "bank_median", "system")
ESTIMATION = ("full", "expanding", "rolling")
VALUE_COLUMNS = ["bank_id", "date", "var_q", "var_med", "covar", "delta_covar", "coes", "delta_coes", "status"]
#: ``measures.covar_qr.conditioning``: only the bank at its VaR (docs/covar.md: no quantile-regression
#: analogue of Girardi & Ergün's ``at_or_below``, which ``measures.covar_dcc.conditioning`` offers)
CONDITIONING = ("equal",)
COEFFICIENT_COLUMNS = ["bank_id", "window_end", "equation", "term", "estimate", "std_error", "p_value", "status"]
#: banks per mapped batch: results of a batch are assembled (and streamed by the caller) before the next
BANK_BATCH = 128
#: status of a coefficient window whose standard errors the method could not estimate (the fit is fine)
NO_SE = "warning:NoStandardError"


def check_states(name: str, states: object) -> None:
    """``states`` is None (all state variables) or a non-empty tuple of distinct column names."""
    if states is None:
        return
    if not isinstance(states, (list, tuple)) or not states or not all(isinstance(s, str) for s in states):
        raise ConfigError(f"{name} must be null (all state variables) or a non-empty list of column names, got {states!r}")
    if len(set(states)) != len(states):
        raise ConfigError(f"{name} lists a state twice: {list(states)}")


@dataclass(frozen=True, kw_only=True)
class CoVaRConfig(Config):
    """Options of the quantile-regression ΔCoVaR (``measures.covar_qr`` in params.yaml).

    Attributes
    ----------
    q : float, default 0.95
        Loss quantile of the stress state, in (0.5, 1).
    estimation : {"full", "expanding", "rolling"}, default "full"
        ``full``: one fit per bank on its whole sample (coefficients constant, ΔCoVaR varies
        through the states; in-sample: a value at t uses later data). ``expanding``: fits on the
        bank's rows up to ``min_obs - 1 + k * refit_every``; the value at t uses the last fit
        ending at or before t, applied to the states at t (no look-ahead). ``rolling``: one fit
        per window of ``window`` rows every ``step`` rows; the value at t uses the window ending
        at t (no look-ahead).
    window : int, default 250
        Rolling only: usable rows per window (>= 10).
    step : int, default 1
        Rolling only: rows between window ends.
    refit_every : int, default 21
        Expanding only: usable rows between refits (>= 1).
    lag : int, default 1
        Periods by which the state variables are lagged (0 = contemporaneous, as in the
        market-spillover fits of :mod:`measures.spillover`).
    states : tuple of str, optional
        Columns of the market-states table to use (:func:`loss_panel`); None = all.
    min_obs : int, default 250
        Full sample and expanding: a bank with fewer usable rows is excluded (an event); the
        first expanding fit uses this many rows.
    se : {"iid", "nid", "ker", "boot"}, default "nid"
        Standard errors of the coefficients (:func:`measures.core.quantreg.inference.quantile_regression_se`);
        a window the method cannot estimate gets NaN and a ``warning:NoStandardError`` status.
    B : int, default 200
        ``se: boot`` only: bootstrap replications per fit (>= 2).
    seed : int, default 0
        ``se: boot`` only: the bootstrap seed (>= 0).
    max_failure_share : float, default 0.5
        Failure budget: the share of failed bank × date values above which a caller stops
        (:func:`measures.core.status.check_failure_budget`).
    coes_levels : int, default 4
        Quantile levels ``J`` of the CoES grid beyond ``q`` (module docstring; 0 = no CoES: the
        columns are NaN and the fits are skipped).
    conditioning : {"equal"}, default "equal"
        The bank at its VaR (Adrian & Brunnermeier). ``at_or_below`` (Girardi & Ergün 2013) is
        refused: a quantile regression conditions on a value of the bank's loss (docs/covar.md).
    """

    q: float = 0.95
    estimation: str = "full"
    window: int = 250
    step: int = 1
    refit_every: int = 21
    lag: int = 1
    states: tuple[str, ...] | None = None
    min_obs: int = 250
    se: str = "nid"
    B: int = 200
    seed: int = 0
    max_failure_share: float = 0.5
    coes_levels: int = 4
    conditioning: str = "equal"

    def validate(self) -> None:
        check_range("q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        check_range("coes_levels", self.coes_levels, low=0, high=100, integer=True)
        if self.conditioning not in CONDITIONING:
            raise ConfigError(
                f"conditioning={self.conditioning!r} is not allowed; allowed values: 'equal'. The quantile regression "
                "X_sys = α + β X_i + γ'M conditions on a value of the bank's loss; the Girardi–Ergün CoVaR "
                "(conditioning: at_or_below, the bank at or beyond its VaR) needs their joint law: set "
                "measures.covar_dcc.conditioning: at_or_below for it (docs/covar.md)")
        check_choice("estimation", self.estimation, ESTIMATION)
        check_range("window", self.window, low=10, integer=True)
        check_range("step", self.step, low=1, integer=True)
        check_range("refit_every", self.refit_every, low=1, integer=True)
        check_range("lag", self.lag, low=0, integer=True)
        check_states("states", self.states)
        check_range("min_obs", self.min_obs, low=10, integer=True)
        check_choice("se", self.se, METHODS)
        check_range("B", self.B, low=2, integer=True)
        check_range("seed", self.seed, low=0, integer=True)
        check_range("max_failure_share", self.max_failure_share, low=0.0, high=1.0)

    def for_realtime(self) -> "CoVaRConfig":
        """The causal configuration: ``full`` becomes ``expanding`` (``rolling`` is causal already)."""
        return dataclasses.replace(self, estimation="expanding") if self.estimation == "full" else self

    @property
    def tail_levels(self) -> tuple[float, ...]:
        """The CoES grid ``τ_j = q + (1 − q)(j − ½)/J``, ``j = 1..J`` (empty when ``coes_levels`` is 0)."""
        J = self.coes_levels
        return tuple(self.q + (1.0 - self.q) * (j - 0.5) / J for j in range(1, J + 1))

    @property
    def rolling_window(self) -> int | None:
        """Rows per window, or None for the full sample and expanding windows."""
        return self.window if self.estimation == "rolling" else None

    @property
    def refit(self) -> int | None:
        """Rows between expanding refits, or None unless ``estimation`` is expanding."""
        return self.refit_every if self.estimation == "expanding" else None

    @property
    def need(self) -> tuple[int, str]:
        """Usable rows a bank needs and the option that sets it."""
        if self.estimation == "rolling":
            return self.window, "measures.covar_qr.window"
        return self.min_obs, "measures.covar_qr.min_obs"


@dataclass(frozen=True)
class CoVaRRegressions:
    """Coefficients of the three regressions per window (one window for the full sample).

    ``bank_q``, ``bank_median``: (K, 1 + k) ``[a, c_1..c_k]``; ``system``: (K, 2 + k)
    ``[α, β, γ_1..γ_k]``; ``status`` (K,): the worst status of the three fits; ``start``, ``end``
    (K,): positions (in the aligned sample) of each window's first and last row; ``index``: the
    aligned sample's index. ``se``: the standard errors of the three equations, same shapes
    (NaN when not computed or not estimable), ``se_status`` (K,): ``ok`` or :data:`NO_SE`.
    ``tail``: (J, K, 2 + k) the system regression at the CoES levels ``tail_levels`` (None when
    none), ``tail_status`` (K,): the worst status of those fits per window.
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
    se: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    se_status: np.ndarray | None = None
    tail: np.ndarray | None = None
    tail_status: np.ndarray | None = None
    tail_levels: tuple[float, ...] = ()


def lag_states(states: pd.DataFrame, lag: int = 1) -> pd.DataFrame:
    """State variables shifted by ``lag`` rows: the row dated t holds ``M_{t-lag}``."""
    check_range("lag", lag, low=0, integer=True)
    return states.shift(lag) if lag else states


def _worst(*statuses: np.ndarray) -> np.ndarray:
    """Element-wise :func:`~measures.core.status.worst` of status arrays of equal length."""
    return np.array([worst(*row) for row in zip(*statuses)], dtype=object)


def failed_mask(statuses: pd.Series) -> np.ndarray:
    """Boolean array: the status is a failure (:func:`~measures.core.status.is_failed`)."""
    statuses = statuses.astype(str)
    failed = [s for s in statuses.unique() if is_failed(s)]
    return statuses.isin(failed).to_numpy()


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
    bank_loss: pd.Series, system_loss: pd.Series, states: pd.DataFrame, *, q: float, window: int | None = None,
    step: int = 1, refit_every: int | None = None, min_obs: int | None = None, se: str | None = None, B: int = 200,
    seed: int = 0, tail_levels: tuple[float, ...] = (),
) -> CoVaRRegressions:
    """Fit the bank regressions (at q and 0.5) and the system regression (at q), per window.

    ``states`` enter as given (lag them first with :func:`lag_states` for the lagged-state ΔCoVaR). The three
    series are aligned on their common index; rows with a missing value are dropped, and windows
    count valid rows. Windows: the full sample (default); rolling windows of ``window`` rows every
    ``step`` rows; or, with ``refit_every``, expanding windows ``[0, min_obs + k * refit_every)``
    (:func:`measures.core.quantreg.expanding.solve_expanding_quantile_regression`). With ``se``
    (a method of :func:`measures.core.quantreg.inference.quantile_regression_se`; ``B``, ``seed``
    for ``boot``) the coefficients' standard errors are computed; a window the method cannot
    estimate gets NaN and ``se_status`` :data:`NO_SE`. ``tail_levels``: the system regression is
    also fitted at these levels on the same windows (no standard errors; the CoES grid).
    """
    frame = _align(bank_loss, system_loss, states)
    names = tuple(str(c) for c in states.columns)
    M = frame.iloc[:, 2:].to_numpy(dtype=float)
    xb = frame["__bank"].to_numpy(dtype=float)
    xs = frame["__system"].to_numpy(dtype=float)
    ones = np.ones((len(frame), 1))
    designs = ((xb, np.hstack([ones, M]), q), (xb, np.hstack([ones, M]), 0.5), (xs, np.hstack([ones, xb[:, None], M]), q))
    inference = None if se is None else {"method": se, "B": int(B), "seed": int(seed)}
    if window is not None:
        coefs, status, start, end, ses = _rolling_fits(designs, window, step, inference)
    else:
        if refit_every is None:
            fits = [solve_quantile_regression(y, X, level) for y, X, level in designs]
        else:
            fits = [solve_expanding_quantile_regression(y, X, level, min_obs or len(y), refit_every)
                    for y, X, level in designs]
        status = _worst(*(f.status for f in fits))
        coefs = [f.coef for f in fits]
        start, end = fits[0].start, fits[0].stop - 1
        ses = None if inference is None else [_fit_se(y, X, f, refit_every is not None, inference)
                                              for (y, X, _), f in zip(designs, fits)]
    tail = tail_status = None
    if tail_levels:
        tail, tail_status = _tail_fits(designs[2], tail_levels, window, step, refit_every, min_obs, fits=None
                                       if window is not None else fits[2])
    se_status = None
    if ses is not None:
        missing = np.isnan(np.hstack(ses)).any(axis=1) & ~failed_mask(pd.Series(status))
        se_status = np.where(missing, f"{NO_SE}: se={se} could not estimate the standard errors of this window "
                                      "(e.g. nid far in the tail of a short window; docs/covar.md)", "ok").astype(object)
    return CoVaRRegressions(
        bank_q=coefs[0], bank_median=coefs[1], system=coefs[2], status=status,
        start=start, end=end, index=frame.index, states=names, q=q,
        se=None if ses is None else tuple(ses), se_status=se_status,
        tail=tail, tail_status=tail_status, tail_levels=tuple(tail_levels),
    )


def _tail_fits(design, levels, window, step, refit_every, min_obs, fits):
    """The system regression at each CoES level on the windows of the main fits: (J, K, p) and the worst status.

    Full sample: each level warm-started from the optimal basis of the previous one (the fit at
    ``q`` first); expanding and rolling: the same solvers as the main fits.
    """
    y, X, _ = design
    if window is not None:
        coefs, status, *_ = _rolling_fits([(y, X, level) for level in levels], window, step, None)
        return np.stack(coefs), status
    sols = []
    for level in levels:
        if refit_every is None:
            basis = (sols[-1] if sols else fits).basis[0]
            sols.append(solve_quantile_regression(y, X, level, init_basis=basis))
        else:
            sols.append(solve_expanding_quantile_regression(y, X, level, min_obs or len(y), refit_every))
    return np.stack([f.coef for f in sols]), _worst(*(f.status for f in sols))


def _fit_se(y: np.ndarray, X: np.ndarray, sol, expanding: bool, inference: dict) -> np.ndarray:
    """Standard errors (K, p) of full-sample (K = 1) or expanding fits; NaN where not estimable."""
    if expanding:
        return expanding_quantile_regression_se(y, X, sol, errors="nan", **inference)
    if not sol.certified[0]:
        return np.full(sol.coef.shape, np.nan)
    try:
        return quantile_regression_se(y, X, sol.q, coef=sol.coef[0], init_basis=sol.basis[0], **inference)[None]
    except (ValueError, RuntimeError):  # the method cannot estimate this sample (recorded by its status)
        return np.full(sol.coef.shape, np.nan)


def rank_deficient_windows(X: np.ndarray, window: int, step: int = 1) -> np.ndarray:
    """Boolean (K,): rolling window k (rows ``[k*step, k*step + window)``) of ``X`` has rank < p.

    Same rank rule as the solver (``numpy.linalg.matrix_rank``'s default tolerance), batched.
    A state variable constant over a window (a policy rate at its floor, a monthly series carried
    forward) makes the window rank-deficient together with the constant column.
    """
    view = sliding_window_view(np.asarray(X, dtype=float), window, axis=0)[::step]  # (K, p, window)
    return np.linalg.matrix_rank(np.swapaxes(view, 1, 2)) < X.shape[1]


def _rolling_fits(designs, window, step, inference):
    """Rolling fits of the three regressions; rank-deficient windows get a ``failed`` status and NaN.

    Runs of consecutive full-rank windows are solved as one batch each (warm starts kept), with
    their standard errors when ``inference`` is given (``errors="nan"``).
    """
    n = len(designs[0][0])
    wins = rolling_windows(n, window, step)
    K = len(wins)
    bad = rank_deficient_windows(designs[-1][1], window, step)  # the last is a system design: the bank's columns are a subset
    coefs = [np.full((K, X.shape[1]), np.nan) for _, X, _ in designs]
    ses = None if inference is None else [np.full((K, X.shape[1]), np.nan) for _, X, _ in designs]
    status = np.full(K, "failed:RankDeficient: the window's state variables (with the constant) are collinear, "
                        "e.g. a state constant over the window", dtype=object)
    good = np.flatnonzero(~bad)
    if good.size:
        runs = np.split(good, np.flatnonzero(np.diff(good) > 1) + 1)
        for run in runs:
            k0, k1 = int(run[0]), int(run[-1]) + 1
            lo, hi = k0 * step, (k1 - 1) * step + window
            fits = [solve_rolling_quantile_regression(y[lo:hi], X[lo:hi], level, window, step) for y, X, level in designs]
            for c, f in zip(coefs, fits):
                c[k0:k1] = f.coef
            status[k0:k1] = _worst(*(f.status for f in fits))
            for e, ((y, X, level), f) in enumerate(zip(designs if ses else (), fits)):
                try:
                    ses[e][k0:k1] = rolling_quantile_regression_se(y[lo:hi], X[lo:hi], level, window, step, coef=f.coef,
                                                                   errors="nan", **inference)
                except (ValueError, RuntimeError):  # e.g. an uncertified extra fit: the run has no standard errors
                    pass
    return coefs, status, wins.start.copy(), wins.start + window - 1, ses


def estimate_delta_covar(
    bank_loss: pd.Series,
    system_loss: pd.Series,
    states: pd.DataFrame,
    config: CoVaRConfig | None = None,
    *,
    inference: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ΔCoVaR of one bank (Adrian–Brunnermeier 2016): values per date and coefficients per window.

    Parameters
    ----------
    bank_loss, system_loss : pandas.Series
        Losses ``-diff(log price)`` of the bank and of the system, indexed by date.
    states : pandas.DataFrame
        State variables by date (not yet lagged; ``config.lag`` lags them).
    config : CoVaRConfig, optional
        ``q`` (0.95), ``estimation`` ("full"; "expanding": ``min_obs`` rows, then a refit every
        ``refit_every`` rows; "rolling": ``window`` rows every ``step``), ``lag`` (1), ``se``
        (``B``, ``seed``); the other options concern many banks (:func:`estimate_delta_covar_banks`).
    inference : bool, default True
        Compute the standard errors and p-values (else NaN: only the values are needed).

    Returns
    -------
    values : DataFrame
        ``date, var_q, var_med, covar, delta_covar, status``: full sample — every date of the
        aligned sample; expanding — every date from the first fit's end, from the last fit
        ending at or before it and the states at that date; rolling — the last date of each
        window, from that window's coefficients.
    coefficients : DataFrame
        ``window_end, equation, term, estimate, std_error, p_value, status``; equations ``bank_q``,
        ``bank_median`` (terms ``const`` and the states) and ``system`` (``const``, ``bank_loss``,
        states). ``p_value``: two-sided t test of H0: coefficient = 0 with ``n - p`` degrees of
        freedom (as R's ``summary.rq``); that of ``system``/``bank_loss`` (β) tests H0: ΔCoVaR = 0.
    """
    values, coefficients, _ = _values_and_coefficients(bank_loss, system_loss, states, config or CoVaRConfig(), inference)
    return values, coefficients


def _values_and_coefficients(bank_loss: pd.Series, system_loss: pd.Series, states: pd.DataFrame, config: CoVaRConfig,
                             inference: bool) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
    """:func:`estimate_delta_covar` and the status of the CoES tail fits per row (None without CoES levels)."""
    lagged = lag_states(states, config.lag)
    reg = fit_covar_regressions(bank_loss, system_loss, lagged, q=config.q, window=config.rolling_window,
                                step=config.step, refit_every=config.refit, min_obs=config.min_obs,
                                se=config.se if inference else None, B=config.B, seed=config.seed,
                                tail_levels=config.tail_levels)
    frame = _align(bank_loss, system_loss, lagged)
    M = frame.iloc[:, 2:].to_numpy(dtype=float)
    if config.estimation == "full":
        rows = np.arange(len(frame))
        pick = np.zeros(len(frame), dtype=np.int64)
    elif config.estimation == "expanding":  # the last fit ending at or before each row
        rows = np.arange(int(reg.end[0]), len(frame))
        pick = np.searchsorted(reg.end, rows, side="right") - 1
    else:
        rows = reg.end
        pick = np.arange(reg.end.size)
    Z = np.hstack([np.ones((rows.size, 1)), M[rows]])
    var_q = np.einsum("ij,ij->i", Z, reg.bank_q[pick])
    var_med = np.einsum("ij,ij->i", Z, reg.bank_median[pick])
    alpha, beta, gamma = reg.system[pick, 0], reg.system[pick, 1], reg.system[pick, 2:]
    covar = alpha + beta * var_q + np.einsum("ij,ij->i", M[rows], gamma)
    coes, delta_coes, coes_status = _coes(reg, pick, M[rows], var_q, var_med)
    values = pd.DataFrame(
        {
            "date": frame.index[rows],
            "var_q": var_q,
            "var_med": var_med,
            "covar": covar,
            "delta_covar": beta * (var_q - var_med),
            "coes": coes,
            "delta_coes": delta_coes,
            "status": pd.Series(reg.status[pick], dtype=object).astype(str).to_numpy(),
        }
    )
    return values, coefficient_frame(reg), coes_status


def _coes(reg: CoVaRRegressions, pick: np.ndarray, M: np.ndarray, var_q: np.ndarray,
          var_med: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """CoES and ΔCoES per row (module docstring, step 4) and the tail fits' status per row.

    NaN without CoES levels and on rows whose tail fits failed.
    """
    if reg.tail is None:
        nan = np.full(var_q.shape, np.nan)
        return nan, nan.copy(), None
    tail = reg.tail[:, pick]  # (J, rows, 2 + k)
    alpha, beta, gamma = tail[..., 0], tail[..., 1], tail[..., 2:]
    coes = (alpha + beta * var_q + np.einsum("ij,kij->ki", M, gamma)).mean(axis=0)
    delta = (beta * (var_q - var_med)).mean(axis=0)
    status = pd.Series(reg.tail_status[pick], dtype=object).astype(str).to_numpy()
    failed = failed_mask(pd.Series(status))
    coes[failed], delta[failed] = np.nan, np.nan
    return coes, delta, status


def coefficient_frame(reg: CoVaRRegressions) -> pd.DataFrame:
    """Tidy ``window_end, equation, term, estimate, std_error, p_value, status`` frame of :class:`CoVaRRegressions`.

    ``p_value``: :func:`measures.core.quantreg.inference.t_test_p_values` with ``n - p`` degrees
    of freedom (n = the window's rows); ``status``: the worst of the fit's and the standard errors'.
    """
    terms = {
        "bank_q": ("const", *reg.states),
        "bank_median": ("const", *reg.states),
        "system": ("const", "bank_loss", *reg.states),
    }
    parts = []
    ends = reg.index[reg.end]
    nobs = (reg.end - reg.start + 1).astype(float)
    status = reg.status if reg.se_status is None else _worst(reg.status, reg.se_status)
    for e, eq in enumerate(EQUATIONS):
        coef = getattr(reg, eq)
        K, p = coef.shape
        se = np.full((K, p), np.nan) if reg.se is None else reg.se[e]
        parts.append(
            pd.DataFrame(
                {
                    "window_end": np.repeat(ends, p),
                    "equation": eq,
                    "term": np.tile(np.array(terms[eq], dtype=object), K),
                    "estimate": coef.ravel(),
                    "std_error": se.ravel(),
                    "p_value": t_test_p_values(coef, se, (nobs - p)[:, None]).ravel(),
                    "status": np.repeat(np.asarray(status).astype(str), p),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- many banks


@dataclass(frozen=True)
class LossPanel:
    """Wide inputs of the quantile-regression measures.

    ``losses`` (date × bank_id) bank losses, ``system`` (date) the system loss, ``weights``
    (date × bank_id) the previous-day market-value weights, ``states`` (date × state) the chosen
    state variables, not lagged; ``state_events``: one event per state variable with missing
    dates (they are left out of every regression).
    """

    losses: pd.DataFrame
    system: pd.Series
    weights: pd.DataFrame
    states: pd.DataFrame
    state_events: pd.DataFrame


#: What a quantile-regression stage needs when the data has no usable market_states (NotEstimable.needs).
NEEDS_STATES = ("a market_states table: a date column and one column per state variable, larger = more stress "
                "(docs/formats.md), or state-variable recipes in data.market_states")


def state_problems(market_states: pd.DataFrame | None, names: tuple[str, ...] | None = None) -> tuple[list, list]:
    """The chosen state columns and the ``(column, problem)`` pairs of those without variation.

    A column whose values are all missing, or which takes a single value over the table, cannot
    enter a regression with a constant (the design is rank-deficient); :func:`select_states`
    refuses it, naming the column. Unknown names are not checked here.
    """
    if market_states is None:
        return [], []
    frame = market_states.set_index("date") if "date" in market_states.columns else market_states
    chosen = [c for c in (frame.columns if names is None else names) if c in frame.columns]
    problems = []
    for name in chosen:
        values = frame[name].astype(float)
        observed = values.dropna()
        if observed.empty:
            problems.append((name, "has no value (every row is missing)"))
        elif observed.nunique() == 1:
            span = f"{pd.Timestamp(observed.index.min()):%Y-%m-%d} .. {pd.Timestamp(observed.index.max()):%Y-%m-%d}" \
                if isinstance(observed.index, pd.DatetimeIndex) else "every row"
            problems.append((name, f"is constant ({float(observed.iloc[0])!r}) over {span}"))
    return chosen, problems


def select_states(market_states: pd.DataFrame | None, names: tuple[str, ...] | None = None,
                  *, where: str = "states") -> pd.DataFrame:
    """The state-variable columns ``names`` (None = all) of a market-states table, by date.

    Raises :class:`NotEstimable` when there is no table or no column (``needs``: :data:`NEEDS_STATES`),
    :class:`ConfigError` when a name is not a column (the message lists the available ones; ``where``
    names the option) or when a chosen column is constant or all missing (:func:`state_problems`).
    """
    if market_states is None:
        raise NotEstimable("the data source has no market_states table (the state variables of the quantile "
                           "regressions)", needs=NEEDS_STATES)
    frame = market_states.set_index("date").sort_index() if "date" in market_states.columns else market_states.sort_index()
    available = list(frame.columns)
    names = available if names is None else list(names)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigError(f"{where}: state variable(s) {unknown} not in market_states; available: {available}")
    if not names:
        raise NotEstimable(f"{where}: market_states has no state-variable column", needs=NEEDS_STATES)
    _, problems = state_problems(frame, tuple(names))
    if problems:
        name, problem = problems[0]
        others = [n for n in names if n not in {c for c, _ in problems}]
        raise ConfigError(f"{where}: market_states column {name!r} {problem}: a state variable without variation "
                          f"cannot enter the regressions; drop it from {where} (e.g. {where}: {others})")
    return frame[names].astype(float)


def states_lines(market_states: pd.DataFrame | None, names: tuple[str, ...] | None, *, where: str,
                 what: str) -> list[tuple[str, str]]:
    """Check lines (``python -m pipeline check``) on the state variables a stage will use.

    The same rules as :func:`select_states`: no table or an unknown name, or a constant or
    all-missing column, is a ``cannot`` line naming the table, the column and ``where``.
    """
    if market_states is None:
        return [("cannot", f"{what}: the data has no market_states table; needs {NEEDS_STATES}")]
    available = [str(c) for c in market_states.columns if c != "date"]
    unknown = [n for n in (names or ()) if n not in available]
    if unknown:
        return [("cannot", f"{what}: {where} names {unknown}, not columns of market_states; available: {available}")]
    chosen, problems = state_problems(market_states, names)
    if not chosen:
        return [("cannot", f"{what}: market_states has no state-variable column; needs {NEEDS_STATES}")]
    if problems:
        return [("cannot", f"{what}: market_states column {name!r} {problem}; drop it from {where}")
                for name, problem in problems]
    return [("estimates", f"{what}: state variables {', '.join(chosen)}")]


def check_plan(prices: pd.DataFrame, market_states: pd.DataFrame | None, config: CoVaRConfig) -> list[tuple[str, str]]:
    """What :func:`estimate_delta_covar_banks` will estimate from the canonical tables (check lines).

    The state variables (:func:`states_lines`) and the banks with at least ``min_obs`` (full
    sample, expanding) or ``window`` (rolling) return days (:func:`measures.core.checks.bank_days_lines`).
    """
    what = "ΔCoVaR-QR"
    lines = states_lines(market_states, config.states, where="measures.covar_qr.states", what=what)
    if any(kind == "cannot" for kind, _ in lines):
        return lines
    need, option = config.need
    return lines + bank_days_lines(prices, need, option, what)[1]


def state_gap_events(states: pd.DataFrame) -> pd.DataFrame:
    """One event per state variable with missing values (those dates are left out of every fit)."""
    rows = []
    for name in states.columns:
        miss = states.index[states[name].isna()]
        if miss.size:
            rows.append((None, miss[0], miss[-1], int(miss.size), "excluded", "missing_state",
                         f"{miss.size} date(s) without state variable {name!r} are left out of every regression"))
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def loss_panel(returns: pd.DataFrame, system_returns: pd.DataFrame, market_states: pd.DataFrame | None,
               states: tuple[str, ...] | None = None, *, where: str = "states") -> LossPanel:
    """Wide losses, weights and state variables from long tables.

    Parameters
    ----------
    returns : DataFrame
        ``bank_id, date, loss, weight`` (one row per bank and date; :func:`measures.returns.compute_returns`).
    system_returns : DataFrame
        ``date, loss``.
    market_states : DataFrame or None
        ``date`` and one column per state variable.
    states : tuple of str, optional
        The state columns to use (None = all); see :func:`select_states` (``where``).
    """
    for name, frame, cols in (("returns", returns, ("bank_id", "date", "loss", "weight")),
                              ("system_returns", system_returns, ("date", "loss"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise NotEstimable(f"the {name} table lacks column(s) {missing}; rerun the returns stage")
    losses = returns.pivot(index="date", columns="bank_id", values="loss").sort_index()
    weights = returns.pivot(index="date", columns="bank_id", values="weight").sort_index()
    losses.columns = [str(c) for c in losses.columns]
    weights.columns = [str(c) for c in weights.columns]
    system = system_returns.set_index("date")["loss"].astype(float).sort_index().rename("system")
    chosen = select_states(market_states, states, where=where)
    return LossPanel(losses, system, weights, chosen, state_gap_events(chosen))


def bank_samples(panel: LossPanel, lag: int, need: int, detail: str) -> tuple[list[str], dict[str, pd.Index], pd.DataFrame]:
    """The banks with at least ``need`` usable rows, each bank's usable dates, and the events.

    A row is usable when the bank loss, the system loss and every state lagged by ``lag`` are
    present. A bank with fewer rows is excluded (``too_few_observations``; ``detail`` is formatted
    with ``n``); for a kept bank the days inside its span that cannot be used (masked
    suspensions, the lag's first day, state gaps) are one ``missing_return`` event.
    """
    usable = pd.concat([panel.system, lag_states(panel.states, lag)], axis=1, join="inner").dropna().index
    keep, used_by_bank, rows = [], {}, []
    for bank in panel.losses.columns:
        loss = panel.losses[bank]
        used = loss.dropna().index.intersection(usable)
        if used.size < need:
            rows.append((bank, used[0] if used.size else None, used[-1] if used.size else None, int(used.size),
                         "excluded", "too_few_observations", detail.format(n=used.size)))
            continue
        keep.append(bank)
        used_by_bank[bank] = used
        span = loss.index[loss.notna()]
        inside = loss.index[(loss.index >= span[0]) & (loss.index <= span[-1])]
        left = inside.difference(used)
        if left.size:
            rows.append((bank, left[0], left[-1], int(left.size), "excluded", "missing_return",
                         f"{left.size} day(s) inside the bank's span without a bank loss, a system loss or a (lagged) "
                         "state variable (masked suspensions, the lag's first day, state gaps) are left out of the "
                         "regressions"))
    return keep, used_by_bank, pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def concat_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The non-empty event frames one after the other (an empty event frame when there is none)."""
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(EVENT_COLUMNS))


def status_events(frame: pd.DataFrame, detail: str, *, failed_action: str = "flagged",
                  only_failed: bool = False) -> pd.DataFrame:
    """One event per bank and non-ok status of ``frame`` (bank_id, date, status).

    ``detail`` is formatted with ``n`` (rows) and ``status``; warnings are ``flagged``
    (``fit_warning``), failures get ``failed_action`` (``fit_failed``).
    """
    bad = frame[failed_mask(frame["status"])] if only_failed else frame[frame["status"].astype(str) != "ok"]
    rows = []
    for (bank, st), g in bad.groupby(["bank_id", "status"], sort=True):
        failed = is_failed(str(st))
        rows.append((str(bank), g["date"].min(), g["date"].max(), len(g), failed_action if failed else "flagged",
                     "fit_failed" if failed else "fit_warning", detail.format(n=len(g), status=st)))
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


@dataclass(frozen=True)
class DeltaCoVaRBanks:
    """Output of :func:`estimate_delta_covar_banks`.

    ``values``: bank_id, date, var_q, var_med, covar, delta_covar, coes, delta_coes, status (one row per bank and
    date; rolling: per window end). ``weekly``: the same on the last trading day of each week
    (:func:`measures.core.windows.weekly_last`). ``coefficients``: bank_id, window_end, equation,
    term, estimate, std_error, p_value, status (None when they were passed to a ``coefficients``
    sink instead). ``events``: the exclusions and flags (bank_id, date_start, date_end, n_rows,
    action, reason, detail).
    """

    values: pd.DataFrame
    weekly: pd.DataFrame
    coefficients: pd.DataFrame | None
    events: pd.DataFrame

    def check_estimable(self) -> None:
        """Raise :class:`NotEstimable` when no bank has enough observations for a ΔCoVaR."""
        if not len(self.values):
            raise NotEstimable("no bank has enough observations for a ΔCoVaR (see the quality records)")


def _fit_bank(item: tuple[str, pd.Series, pd.Index], system: pd.Series, states: pd.DataFrame,
              config: CoVaRConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Values, coefficients and events (fits with a non-ok status, windows without standard errors) of one bank."""
    bank, loss, used = item
    coes_status = None
    try:
        val, coef, coes_status = _values_and_coefficients(loss, system, states, config, True)
    except ValueError as exc:  # e.g. a rank-deficient full sample
        val = pd.DataFrame({"date": used, "var_q": np.nan, "var_med": np.nan, "covar": np.nan,
                            "delta_covar": np.nan, "coes": np.nan, "delta_coes": np.nan,
                            "status": str(status_from_exception(exc))})
        coef = pd.DataFrame(columns=COEFFICIENT_COLUMNS[1:])
    val.insert(0, "bank_id", bank)
    coef.insert(0, "bank_id", bank)
    events = [status_events(val, "{n} ΔCoVaR value(s) with status {status}")]
    own = (coes_status != "ok") & (coes_status != val["status"].to_numpy()) if coes_status is not None else None
    if own is not None and own.any():  # tail fits' statuses not already recorded with the ΔCoVaR values
        tail = pd.DataFrame({"bank_id": bank, "date": val["date"], "status": coes_status})[own]
        events.append(status_events(tail, "{n} CoES value(s) whose system regressions at the CoES levels have status "
                                          "{status} (failed: coes and delta_coes missing; measures.covar_qr.coes_levels)"))
    no_se = coef.loc[coef["status"].astype(str).str.startswith(NO_SE), ["bank_id", "window_end", "status"]]
    if len(no_se):
        windows = no_se.drop_duplicates("window_end").rename(columns={"window_end": "date"})
        events.append(status_events(windows, "{n} coefficient window(s) with status {status}: std_error and p_value "
                                             "missing (measures.covar_qr.se)"))
    return val, coef, concat_events(events)


def _typed_coefficients(frames: list[pd.DataFrame]) -> pd.DataFrame:
    coef = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COEFFICIENT_COLUMNS)
    coef = coef[COEFFICIENT_COLUMNS]
    coef["window_end"] = pd.to_datetime(coef["window_end"])
    coef[["estimate", "std_error", "p_value"]] = coef[["estimate", "std_error", "p_value"]].astype(float)
    return coef


def estimate_delta_covar_banks(panel: LossPanel, config: CoVaRConfig | None = None, *,
                               mapper: Mapper | None = None,
                               coefficients: Callable[[pd.DataFrame], None] | None = None) -> DeltaCoVaRBanks:
    """ΔCoVaR of every bank of ``panel`` (module docstring), with exclusions and flags.

    ``ΔCoVaR_i,t(q) = β̂ (VaR_i,t(q) − VaR_i,t(0.5))`` per bank by :func:`estimate_delta_covar`
    (Adrian–Brunnermeier 2016), with the standard errors and p-values of every coefficient. A
    bank with fewer usable rows than ``config.min_obs`` (full sample, expanding) or
    ``config.window`` (rolling) is excluded; a full-sample fit that raises gives the bank's rows
    NaN with a ``failed:`` status; every non-ok status is an event, and so are windows without
    standard errors.

    Parameters
    ----------
    panel : LossPanel
        From :func:`loss_panel`; the states are lagged here by ``config.lag``.
    config : CoVaRConfig, optional
    mapper : Mapper, optional
        Maps the per-bank fits (:mod:`measures.core.mapping`; serial by default), in batches of
        :data:`BANK_BATCH` banks.
    coefficients : callable, optional
        Called with the coefficient frame of each batch (banks in order; bounded memory at many
        banks and windows: the caller writes it out); the result's ``coefficients`` is then None.

    Returns
    -------
    DeltaCoVaRBanks
    """
    config = config or CoVaRConfig()
    need, option = config.need
    detail = f"{{n}} usable day(s) < {need} ({option}): no ΔCoVaR for this bank"
    # a fit needs more rows than coefficients (the system regression has 2 + k)
    keep, used, sample_events = bank_samples(panel, config.lag, max(need, len(panel.states.columns) + 2), detail)
    fn = partial(_fit_bank, system=panel.system, states=panel.states, config=config)
    fitted: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    coefs: list[pd.DataFrame] = []
    for lo in range(0, len(keep), BANK_BATCH):
        batch = keep[lo:lo + BANK_BATCH]
        fits = map_items(mapper, fn, [(b, panel.losses[b], used[b]) for b in batch], desc="ΔCoVaR per bank")
        fitted.update({b: (val, ev) for b, (val, _, ev) in zip(batch, fits)})
        if coefficients is None:
            coefs.extend(coef for _, coef, _ in fits)
        else:
            coefficients(_typed_coefficients([coef for _, coef, _ in fits]))
    values, events = [], []
    for bank in panel.losses.columns:  # the events in bank order, as the fits were reported
        events.append(sample_events[sample_events["bank_id"] == bank])
        if bank in fitted:
            values.append(fitted[bank][0])
            events.append(fitted[bank][1])
    values_df = pd.concat(values, ignore_index=True) if values else pd.DataFrame(columns=VALUE_COLUMNS)
    values_df = values_df[VALUE_COLUMNS]
    values_df["date"] = pd.to_datetime(values_df["date"])
    values_df[VALUE_COLUMNS[2:8]] = values_df[VALUE_COLUMNS[2:8]].astype(float)
    coef_df = _typed_coefficients(coefs) if coefficients is None else None
    return DeltaCoVaRBanks(values_df, weekly_last(values_df, "date", by=["bank_id"]), coef_df, concat_events(events))
