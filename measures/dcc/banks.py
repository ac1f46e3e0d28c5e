"""Per-bank bivariate DCC-GARCH fits on a panel of bank returns with the system return.

The pipeline's ``covar_dcc`` stage fits one bivariate DCC(1,1)-GARCH (Engle 2002) per bank
with the system, V-Lab style (docs/srisk.md). Each bank's *pair sample* is

* ``missing="drop"``: the days on which both the bank's and the system's return exist,
  inside the span from the first to the last such day (the days left out, e.g. suspensions
  masked by the returns stage, are reported as events);
* ``missing="fail"``: the whole span; a missing value inside fails the bank's fit with a
  status naming the date.

Banks with the same pair sample share the system's first-step GARCH fit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from measures.core.checks import Line, bank_days_lines
from measures.core.config import check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper
from measures.core.status import FitStatus
from measures.dcc.config import DCCConfig
from measures.dcc.fit import check_returns, fit_pair_samples
from measures.dcc.realtime import ESTIMATIONS, fit_pair_samples_realtime
from measures.dcc.results import DCCResult
from measures.systemic.covar_dcc import CONDITIONING

SYSTEM = "__system__"
MISSING = ("drop", "fail")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CovarDCCParams(DCCConfig):
    """The ``measures.covar_dcc`` params group: :class:`DCCConfig` plus the ΔCoVaR level ``q``, the
    handling of missing days (``missing``), the failure budget and the estimation scheme
    (docs/parameters.md).

    Attributes
    ----------
    estimation : {"full", "expanding", "rolling"}
        One fit on each bank's whole sample (V-Lab, default), or refits every ``refit_every``
        observations on the data up to the refit date, on all of it (``expanding``) or on the
        last ``window`` observations (``rolling``), the filter continuing through each refit
        (:mod:`measures.dcc.realtime`); the first value needs ``min_obs`` observations.
    refit_every : int
        Observations (trading days of the bank's sample) between refits.
    window : int
        Observations per refit sample (``rolling`` only).
    conditioning : {"equal", "at_or_below"}
        The bank's distress behind CoVaR, ΔCoVaR, CoES and ΔCoES: its loss at its VaR against its
        median (Adrian & Brunnermeier 2016, default), or at or beyond its VaR against a
        one-standard-deviation benchmark (Girardi & Ergün 2013;
        :func:`measures.systemic.covar_dcc.conditional_measures_dcc`).
    """

    q: float = 0.95
    missing: str = "drop"
    max_failure_share: float = 0.5
    estimation: str = "full"
    refit_every: int = 21
    window: int = 1000
    conditioning: str = "equal"

    def validate(self) -> None:
        super().validate()
        check_choice("conditioning", self.conditioning, CONDITIONING)
        check_range("q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        check_choice("missing", self.missing, MISSING)
        check_range("max_failure_share", self.max_failure_share, low=0.0, high=1.0)
        check_choice("estimation", self.estimation, ESTIMATIONS)
        check_range("refit_every", self.refit_every, low=1, integer=True)
        check_range("window", self.window, low=self.min_obs if self.estimation == "rolling" else 20, integer=True)

    def for_realtime(self) -> "CovarDCCParams":
        """The causal options: ``full`` becomes ``expanding``; ``expanding`` and ``rolling`` stay."""
        return dataclasses.replace(self, estimation="expanding") if self.estimation == "full" else self


def bank_system_returns(returns: pd.DataFrame, system_returns: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Wide bank returns (dates x ``bank_id``) and the system return on the union of their dates.

    Parameters
    ----------
    returns : DataFrame
        Long ``bank_id, date, ret``.
    system_returns : DataFrame
        ``date, ret``.

    Returns
    -------
    (wide, system)
        ``wide`` has string columns; ``system`` is named :data:`SYSTEM`.
    """
    wide = returns.pivot(index="date", columns="bank_id", values="ret").sort_index()
    wide.columns = [str(c) for c in wide.columns]
    dates = wide.index.union(pd.DatetimeIndex(system_returns["date"]))
    wide = wide.reindex(dates)
    system = system_returns.set_index("date")["ret"].astype(float).reindex(dates).rename(SYSTEM)
    return wide, system


def pair_samples(
    wide: pd.DataFrame, system: pd.Series, *, missing: str = "drop"
) -> tuple[dict[str, pd.Index], pd.DataFrame]:
    """Each bank's pair sample (dates) and the events of the days left out (see the module docstring).

    Returns
    -------
    (samples, events)
        ``samples``: bank -> dates (empty when the bank never has a return with the system);
        ``events``: one ``excluded``/``missing_return`` row per bank with days dropped
        (columns ``bank_id, date_start, date_end, n_rows, action, reason, detail``).
    """
    if missing not in MISSING:
        raise ValueError(f"missing={missing!r} is not allowed; allowed values: {', '.join(map(repr, MISSING))}")
    samples: dict[str, pd.Index] = {}
    events = []
    sys_ok = system.notna().to_numpy()
    for bank in wide.columns:
        bank_ok = wide[bank].notna().to_numpy()
        both = np.flatnonzero(bank_ok & sys_ok)
        if both.size == 0:
            samples[bank] = wide.index[:0]
            continue
        span = np.arange(both[0], both[-1] + 1)
        if missing == "fail":
            samples[bank] = wide.index[span]
            continue
        keep = span[bank_ok[span] & sys_ok[span]]
        dropped = np.setdiff1d(span, keep)
        samples[bank] = wide.index[keep]
        if dropped.size:
            events.append((
                bank, wide.index[dropped[0]], wide.index[dropped[-1]], int(dropped.size), "excluded", "missing_return",
                f"{dropped.size} day(s) inside the bank's span without a bank or system return "
                "(masked suspensions, missing prices) left out of the DCC sample (missing: drop)",
            ))
    return samples, pd.DataFrame(events, columns=list(EVENT_COLUMNS))


def fit_dcc_banks(
    wide: pd.DataFrame,
    system: pd.Series,
    config: DCCConfig | None = None,
    *,
    missing: str = "drop",
    mapper: Mapper | None = None,
    warm: bool | str = True,
) -> tuple[dict[str, DCCResult], pd.DataFrame]:
    """One bivariate DCC(1,1)-GARCH per bank with the system, on each bank's pair sample.

    Parameters
    ----------
    wide : DataFrame
        Bank returns (dates x banks, decimals), e.g. from :func:`bank_system_returns`.
    system : Series
        The system return on the same dates.
    config : DCCConfig, optional
        The univariate and correlation specification (``likelihood`` is irrelevant for pairs);
        a :class:`CovarDCCParams` with ``estimation`` other than ``full`` gives the real-time
        fits of :func:`measures.dcc.realtime.fit_pair_samples_realtime`.
    missing : {"drop", "fail"}
        How missing days inside a bank's span are handled (module docstring).
    mapper : Mapper, optional
        Maps the per-bank fits (progress, processes); results do not depend on it.
    warm : {True, False, "arch"}
        Real-time fits: warm-start each refit from the previous one (default; by the refit
        optimisers of :mod:`measures.dcc.refit`), ``"arch"``: warm starts through arch and the
        grid-started step only (a benchmark baseline), ``False``: cold refits.

    Returns
    -------
    (results, events)
        ``results``: bank -> :class:`DCCResult` (columns ``(system, bank)``), sorted by bank;
        a failed fit keeps NaN paths and a ``failed:`` status. ``events``: the days left out
        (``excluded``/``missing_return``) and the fits that failed or warned (``flagged``,
        ``fit_failed``/``fit_warning``).
    """
    config = config or DCCConfig()
    samples, dropped = pair_samples(wide, system, missing=missing)
    groups: dict[bytes, int] = {}
    pairs = {}
    for bank, dates in samples.items():
        key = groups.setdefault(np.asarray(dates.asi8).tobytes(), len(groups))
        pairs[bank] = (key, pd.DataFrame({SYSTEM: system.loc[dates], bank: wide.loc[dates, bank]}))
    if getattr(config, "estimation", "full") == "full":
        results = fit_pair_samples(pairs, config=config, mapper=mapper)
    else:
        results = fit_pair_samples_realtime(pairs, config=config, mapper=mapper, warm=warm)
    results = {bank: results[bank] for bank in sorted(results)}
    return results, pd.concat([dropped, fit_events(results)], ignore_index=True)


def fit_events(results: dict[str, DCCResult]) -> pd.DataFrame:
    """One ``flagged`` event per fit that is not ok (``fit_failed`` or ``fit_warning``)."""
    rows = []
    for bank, res in results.items():
        status = FitStatus.parse(res.status)
        if status.ok:
            continue
        rows.append((
            bank, res.index[0] if res.nobs else pd.NaT, res.index[-1] if res.nobs else pd.NaT, res.nobs, "flagged",
            "fit_failed" if status.failed else "fit_warning",
            f"bank {bank!r}: bivariate DCC-GARCH with the system: {res.status}"
            + (" (the bank's rows are kept with missing values and count in max_failure_share)" if status.failed else ""),
        ))
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def check_plan(prices: pd.DataFrame, config: CovarDCCParams) -> list[Line]:
    """What :func:`fit_dcc_banks` will fit from the canonical prices (``python -m pipeline check`` lines).

    The banks with ``min_obs`` return days (:func:`measures.core.checks.bank_days_lines`), and among
    them those whose log-close returns :func:`~measures.dcc.fit.check_returns` refuses (constant,
    near-constant): the same per-bank rules as the fits.
    """
    what = "ΔCoVaR-DCC"
    keep, lines = bank_days_lines(prices, config.min_obs, "measures.covar_dcc.min_obs", what)
    if config.estimation != "full":
        sample = "all the data" if config.estimation == "expanding" else f"the last {config.window} observations"
        lines.append(("estimates", f"{what}: parameters refitted every {config.refit_every} days on {sample} up to "
                                   f"the refit date ({config.estimation}); each bank's first {config.min_obs - 1} "
                                   "days have no value"))
    observed = prices[prices["close"].gt(0)]
    for bank in keep:
        close = observed.loc[observed["bank_id"].astype(str) == bank, "close"].to_numpy(dtype=float)
        ret = pd.DataFrame({bank: np.diff(np.log(close))})
        try:
            check_returns(ret, min_obs=config.min_obs, argument=f"bank {bank!r}")
        except ValueError as exc:
            lines.append(("skips", f"{what}: {exc} (its fit will fail with a status)"))
    return lines
