"""Two-step DCC(1,1)-GARCH fits (Engle 2002): joint N-variate, composite, bivariate per bank.

Step one fits each series by ``arch`` (GARCH(1,1) or GJR-GARCH(1,1,1), see
:mod:`measures.core.adapters.arch_adapter`); step two maximises the correlation likelihood
of the standardised residuals over ``(a, b)`` (:mod:`measures.dcc.estimate`).

Modes
-----
* :func:`fit_dcc` with ``likelihood="full"``: the joint N-variate model.
* :func:`fit_dcc` with ``likelihood="composite"``: same model, the composite likelihood
  over pairs of Engle, Shephard & Sheppard (2008) for large N.
* :func:`fit_dcc_bivariate`: one bivariate model per bank with the system (V-Lab style).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from functools import partial

import numpy as np
import pandas as pd

from measures.core.adapters.arch_adapter import UnivariateGarchFit, fit_univariate_garch
from measures.core.mapping import Mapper, map_items
from measures.core.status import FitStatus, status_from_exception, worst
from measures.dcc.config import DCCConfig
from measures.dcc.estimate import estimate_correlation_step
from measures.dcc.likelihood import correlation_matrices, second_moment
from measures.dcc.results import DCCResult

def _as_frame(returns: pd.DataFrame | np.ndarray, argument: str) -> pd.DataFrame:
    if isinstance(returns, pd.DataFrame):
        frame = returns.astype(float)
    else:
        values = np.asarray(returns, dtype=float)
        if values.ndim != 2:
            raise ValueError(f"{argument} must be two-dimensional (T, N), got shape {values.shape}")
        frame = pd.DataFrame(values, columns=[f"x{k}" for k in range(values.shape[1])])
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.has_duplicates:
        raise ValueError(f"{argument} has duplicate column names: {list(frame.columns[frame.columns.duplicated()])}")
    return frame


#: Share of a series' observations at its most frequent value above which the series is near-constant.
MAX_TIED_SHARE = 0.5


def check_returns(frame: pd.DataFrame, *, min_obs: int, argument: str = "returns") -> None:
    """Raise ``ValueError`` for too few rows, a non-finite value, a constant or a near-constant column.

    Near-constant: more than :data:`MAX_TIED_SHARE` of the observations share one value (e.g. a
    price that rarely moves gives mostly zero returns), on which the GARCH and DCC optimizers fail
    or return meaningless fits. The message names the argument, the column, the offending value
    and its index label, and what is needed.
    """
    if frame.shape[0] < min_obs:
        raise ValueError(f"{argument} has {frame.shape[0]} observations; at least min_obs={min_obs} are required")
    for name in frame.columns:
        values = frame[name].to_numpy()
        finite = np.isfinite(values)
        if not finite.all():
            pos = int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"{argument}[{name!r}] has a non-finite value {float(values[pos])} at index {frame.index[pos]}; "
                "all returns must be finite (drop or fill the rows before the fit)"
            )
        if np.ptp(values) == 0.0:
            raise ValueError(
                f"{argument}[{name!r}] is constant ({float(values[0])}); a GARCH model needs varying returns"
            )
        tied, counts = np.unique(values, return_counts=True)
        top = int(np.argmax(counts))
        if counts[top] > MAX_TIED_SHARE * values.size:
            raise ValueError(
                f"{argument}[{name!r}] is near-constant: {int(counts[top])} of {values.size} returns equal "
                f"{float(tied[top])!r} (more than {MAX_TIED_SHARE:.0%}); a GARCH model needs varying returns"
            )


def _assemble(frame: pd.DataFrame, fits: tuple[UnivariateGarchFit, ...], config: DCCConfig) -> DCCResult:
    """Step two on the residuals of given step-one fits, and the result object."""
    statuses = [FitStatus.parse(f.status) for f in fits]
    if any(s.failed for s in statuses):
        bad, why = next((name, f.status) for name, f, s in zip(frame.columns, fits, statuses) if s.failed)
        return _failed(frame, fits, config, FitStatus("failed", "UnivariateFitFailed", f"series {bad!r}: {why}"))
    z = np.column_stack([f.std_resid for f in fits])
    sigma = np.column_stack([f.sigma for f in fits])
    qbar = second_moment(z)
    step = estimate_correlation_step(
        z,
        qbar,
        likelihood=config.likelihood,
        pairs=config.pairs,
        std_errors=config.std_errors,
        max_persistence=config.max_persistence,
    )
    status = worst(*statuses, step.status)
    return DCCResult(
        names=tuple(frame.columns),
        index=frame.index,
        univariate=fits,
        a=step.a,
        b=step.b,
        std_errors=step.std_errors,
        std_error_method=config.std_errors,
        loglik_correlation=step.loglik,
        loglik=float(sum(f.loglik for f in fits) + step.loglik),
        sigma=sigma,
        std_resid=z,
        qbar=qbar,
        correlation=correlation_matrices(z, qbar, step.a, step.b),
        likelihood=config.likelihood,
        status=str(status),
    )


def _failed(
    frame: pd.DataFrame, fits: tuple[UnivariateGarchFit, ...], config: DCCConfig, status: FitStatus
) -> DCCResult:
    t, n = frame.shape
    return DCCResult(
        names=tuple(frame.columns),
        index=frame.index,
        univariate=fits,
        a=float("nan"),
        b=float("nan"),
        std_errors=np.full(2, np.nan),
        std_error_method=config.std_errors,
        loglik_correlation=float("nan"),
        loglik=float("nan"),
        sigma=np.full((t, n), np.nan),
        std_resid=np.full((t, n), np.nan),
        qbar=np.full((n, n), np.nan),
        correlation=np.full((t, n, n), np.nan),
        likelihood=config.likelihood,
        status=str(status),
    )


def _univariate(frame: pd.DataFrame, config: DCCConfig) -> tuple[UnivariateGarchFit, ...]:
    return tuple(
        fit_univariate_garch(frame[c].to_numpy(), vol=config.vol, dist=config.dist, mean=config.mean)
        for c in frame.columns
    )


def fit_dcc(returns: pd.DataFrame | np.ndarray, *, config: DCCConfig | None = None) -> DCCResult:
    """Fit the joint DCC(1,1)-GARCH model to N series by two-step QML (Engle 2002).

    ``Q_t = (1-a-b) Qbar + a z_{t-1} z_{t-1}' + b Q_{t-1}``, ``R_t = diag(Q_t)^{-1/2} Q_t
    diag(Q_t)^{-1/2}``; ``config.likelihood`` selects the full likelihood or the composite
    likelihood over pairs (Engle, Shephard & Sheppard 2008).

    Parameters
    ----------
    returns : DataFrame or ndarray, shape (T, N)
        Daily log returns in decimals, all finite, N >= 2.
    config : DCCConfig, optional

    Raises
    ------
    ValueError
        Fewer than ``config.min_obs`` rows, fewer than two columns, a non-finite value or a
        constant column (the message names the column and the index).
    """
    config = config or DCCConfig()
    frame = _as_frame(returns, "returns")
    if frame.shape[1] < 2:
        raise ValueError(f"returns must have at least 2 columns for a DCC model, got {frame.shape[1]}")
    check_returns(frame, min_obs=config.min_obs)
    return _assemble(frame, _univariate(frame, config), config)


def _finite_span(frame: pd.DataFrame) -> tuple[int, int]:
    """First and one-past-last rows where every column is finite (leading/trailing gaps trimmed)."""
    finite = np.isfinite(frame.to_numpy()).all(axis=1)
    rows = np.flatnonzero(finite)
    if rows.size == 0:
        return 0, 0
    return int(rows[0]), int(rows[-1]) + 1


def fit_dcc_bivariate(
    system_returns: pd.Series,
    bank_returns: pd.DataFrame,
    *,
    config: DCCConfig | None = None,
    mapper: Mapper | None = None,
) -> dict[str, DCCResult]:
    """One bivariate DCC(1,1)-GARCH per bank with the system (V-Lab style).

    Each pair ``(system, bank)`` is trimmed of its leading and trailing rows with a missing
    value (a bank listed late or delisted); the system's univariate fit is reused for banks
    with the same span. A bank whose trimmed sample is too short, still has a missing value
    inside, or is constant is not fitted: its result carries ``status = "failed:..."`` and
    NaN paths. Column order in each result: ``(system, bank)``.

    Raises
    ------
    ValueError
        When the system series itself is unusable or the indexes differ.
    """
    config = config or DCCConfig()
    if not isinstance(system_returns, pd.Series):
        raise ValueError(f"system_returns must be a pandas Series, got {type(system_returns).__name__}")
    banks = _as_frame(bank_returns, "bank_returns")
    if not system_returns.index.equals(banks.index):
        raise ValueError("system_returns and bank_returns must share the same index (align them first)")
    system_name = str(system_returns.name) if system_returns.name is not None else "system"
    if system_name in banks.columns:
        raise ValueError(f"system_returns.name={system_name!r} is also a bank column; rename one of them")
    samples = {}
    for bank in banks.columns:
        pair = pd.DataFrame({system_name: system_returns.astype(float), bank: banks[bank]})
        start, stop = _finite_span(pair)
        samples[bank] = ((start, stop), pair.iloc[start:stop])
    return fit_pair_samples(samples, config=config, mapper=mapper)


def fit_pair_samples(
    samples: Mapping[str, tuple[Hashable, pd.DataFrame]],
    *,
    config: DCCConfig | None = None,
    mapper: Mapper | None = None,
) -> dict[str, DCCResult]:
    """Bivariate DCC fits of given ``(system, bank)`` samples, one system fit per sample key.

    Parameters
    ----------
    samples : mapping
        Bank -> ``(key, frame)``: ``frame`` has the system in column 0 and the bank in
        column 1; samples with the same ``key`` must hold the same system returns, whose
        first-step fit is then computed once and shared.
    mapper : Mapper, optional
        Maps the per-bank fits (:mod:`measures.core.mapping`); results do not depend on it.

    Returns
    -------
    dict
        Bank -> :class:`DCCResult`, in the order of ``samples``; a sample that is too short,
        has a missing value or is constant gives a ``failed:`` result with NaN paths.
    """
    config = config or DCCConfig()
    items = []
    for bank, (key, sample) in samples.items():
        try:
            check_returns(sample, min_obs=config.min_obs, argument="pair sample")
            items.append((key, sample, None))
        except ValueError as exc:
            items.append((key, sample, status_from_exception(ValueError(f"bank {bank!r}: {exc}"))))
    firsts: dict[Hashable, pd.DataFrame] = {}
    for key, sample, failed in items:
        if failed is None:
            firsts.setdefault(key, sample)
    fitted = map_items(mapper, partial(_system_fit, config=config), list(firsts.values()), desc="system GARCH")
    system_fits = dict(zip(firsts, fitted))
    jobs = [(sample, failed, system_fits.get(key)) for key, sample, failed in items]
    return dict(zip(samples, map_items(mapper, partial(_pair_fit, config=config), jobs, desc="bank DCC fits")))


def _system_fit(sample: pd.DataFrame, config: DCCConfig) -> UnivariateGarchFit | FitStatus:
    """The system's first-step fit, or the failed status of the exception it raised."""
    try:
        return _univariate(sample.iloc[:, :1], config)[0]
    except Exception as exc:  # noqa: BLE001 - any optimizer error fails the banks of this sample, not the run
        status = status_from_exception(exc)
        return FitStatus("failed", status.cls, f"system GARCH on the pair sample: {status.message}")


def _pair_fit(job: tuple[pd.DataFrame, FitStatus | None, UnivariateGarchFit | FitStatus | None],
              config: DCCConfig) -> DCCResult:
    """One bank's fit; any exception of the optimizers fails this bank alone, with a status naming it."""
    sample, failed, system_fit = job
    if failed is None and isinstance(system_fit, FitStatus):
        failed = system_fit
    if failed is not None:
        return _failed(sample, (), config, failed)
    try:
        return _assemble(sample, (system_fit, _univariate(sample.iloc[:, 1:], config)[0]), config)
    except Exception as exc:  # noqa: BLE001 - e.g. SLSQP or arch raising on degenerate data
        status = status_from_exception(exc)
        return _failed(sample, (), config, FitStatus("failed", status.cls, f"bank {sample.columns[1]!r}: {status.message}"))


def estimates_frame(results: Mapping[str, DCCResult]) -> pd.DataFrame:
    """Long table ``bank_id, window_end, term, estimate, std_error, status`` of bivariate fits.

    Terms: ``sys_<p>`` and ``bank_<p>`` for the univariate parameters (``mu``, ``omega``,
    ``alpha``, ``gamma``, ``beta``, ``nu``; decimal units), ``dcc_a``, ``dcc_b``, and the
    fit's ``loglik`` and ``nobs`` (no standard error). ``window_end`` is the last date of the
    fitted sample (one full-sample fit per bank; NaT for an empty sample); for real-time fits
    (``res.refits``) the last refit's date, and ``nobs`` its sample size.
    """
    rows: list[tuple] = []
    for bank, res in results.items():
        end, nobs = (res.index[-1] if res.nobs else pd.NaT), res.nobs
        if res.refits is not None:
            last = res.refits.iloc[-1] if len(res.refits) else None
            end, nobs = (pd.NaT, 0) if last is None else (last["refit_date"], int(last["nobs"]))
        for prefix, fit in zip(("sys", "bank"), res.univariate):
            for term, est, se in zip(fit.param_names, fit.params, fit.std_errors):
                rows.append((bank, end, f"{prefix}_{term}", float(est), float(se), fit.status))
        for term, est, se in zip(("dcc_a", "dcc_b"), (res.a, res.b), res.std_errors):
            rows.append((bank, end, term, float(est), float(se), res.status))
        rows.append((bank, end, "loglik", float(res.loglik), np.nan, res.status))
        rows.append((bank, end, "nobs", float(nobs), np.nan, res.status))
    frame = pd.DataFrame(rows, columns=["bank_id", "window_end", "term", "estimate", "std_error", "status"])
    frame["window_end"] = pd.to_datetime(frame["window_end"])
    return frame


def summarize_bivariate(results: Mapping[str, DCCResult]) -> pd.DataFrame:
    """One row per bank: ``bank, a, b, se_a, se_b, loglik, nobs, start, end, status``."""
    rows = []
    for bank, res in results.items():
        rows.append(
            {
                "bank": bank,
                "a": res.a,
                "b": res.b,
                "se_a": res.std_errors[0],
                "se_b": res.std_errors[1],
                "loglik": res.loglik,
                "nobs": res.nobs,
                "start": res.index[0] if res.nobs else None,
                "end": res.index[-1] if res.nobs else None,
                "status": res.status,
            }
        )
    return pd.DataFrame(rows)
