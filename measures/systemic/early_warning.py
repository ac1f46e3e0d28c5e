"""Which measure warns first: signal quality and lead time of system-level series before stress episodes.

For each system-level series x (spillover index, aggregate SRISK, mean ΔCoVaR, DCI, Absorption
Ratio, Turbulence, CATFIN, Diebold–Yilmaz total, ...) and each horizon h (trading days):

* **AUC** — the area under the ROC curve of x_t as a score for the event "an episode starts within
  h trading days after t" (Drehmann & Juselius 2014 evaluate early-warning indicators by this
  AUC). In its Mann–Whitney form (Hanley & McNeil 1982),
  ``AUC = (R_+ − n_+(n_+ + 1)/2) / (n_+ n_−)`` with ``R_+`` the sum of the midranks of the
  positive dates among all evaluated dates (ties count one half), i.e.
  ``P(x_pos > x_neg) + ½ P(x_pos = x_neg)``. 0.5 is no information; above 0.5 the series is
  higher before episodes; below, lower.
* **Lead time** — for each episode onset s, the trading days between the first date of the last
  uninterrupted run of signals before s and s, where a signal at t is ``x_t > Q_q(x_u: u < t)``,
  the q-quantile of the series' own earlier values (an expanding window: causal), defined once
  the earlier values span ``min_history`` trading days (and at least :data:`MIN_PRIOR` values).
  NaN when the last value before s is not a signal.

Rules (docs/early_warning.md). The trading-day calendar is given (the system index's dates); a
value dated t sits at the last trading day on or before t; an episode starts at the first trading
day on or after its start date. Each series is evaluated on its own dates (weekly, monthly,
yearly series are not filled forward). Dates inside an episode (start ≤ t ≤ end) are excluded,
as are the last h trading days of the calendar (their h-day future is not observed). An episode
whose start lies inside an earlier one is not an onset (``nested``). Rank concordance of the
bank-level measures is Kendall's τ-b of their per-bank means (:func:`measures.ranking.kendall_taus`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.status import NotEstimable
from measures.ranking import kendall_taus

#: at least this many earlier values before the expanding quantile is a threshold
MIN_PRIOR = 3
EPISODE_SOURCES = ("auto", "data", "report")

#: system series -> (artifact, column, how): ``column`` of the artifact by date; ``mean``: the
#: cross-sectional mean over the banks' usable rows per date; ``measure=<m>``: rows of that measure
SYSTEM_SERIES: dict[str, tuple[str, str, str]] = {
    "spillover_improved": ("spillover_index", "improved_index", "value"),
    "spillover_traditional": ("spillover_index", "traditional_index", "value"),
    "srisk_aggregate": ("srisk_total", "srisk_total", "value"),
    "covar_qr_mean": ("covar_qr", "delta_covar", "mean"),
    "covar_dcc_mean": ("covar_dcc", "delta_covar", "mean"),
    "dci": ("granger_dci", "dci", "value"),
    "absorption_ratio": ("system_measures", "value", "measure=absorption_ratio"),
    "turbulence": ("system_measures", "value", "measure=turbulence"),
    "catfin": ("system_measures", "value", "measure=catfin"),
    "dy_total": ("connectedness", "total", "value"),
    "cca_expected_loss": ("cca_total", "expected_loss_total", "value"),
}

#: bank-level measure -> (artifact, column, sign): the per-bank mean of sign x column (higher = riskier)
BANK_MEASURES: dict[str, tuple[str, str, float]] = {
    "covar_qr": ("covar_qr", "delta_covar", 1.0),
    "covar_dcc": ("covar_dcc", "delta_covar", 1.0),
    "mes": ("mes", "mes_dyn", 1.0),
    "srisk": ("srisk", "srisk", 1.0),
    "spillover": ("spillover_banks", "delta_covar_m_mean", 1.0),
    "crw": ("crw", "crw", 1.0),
    "granger_degree": ("granger_network", "in_out_degree", 1.0),
    "minus_dd": ("cca", "distance_to_default", -1.0),
}


@dataclass(frozen=True, kw_only=True)
class EarlyWarningConfig(Config):
    """Options of the early-warning evaluation (docs/early_warning.md).

    Attributes
    ----------
    horizons : tuple of int
        The h of "an episode starts within h trading days after t" (20 and 60).
    quantile : float
        q of the lead-time threshold, the expanding q-quantile of the series' earlier values (0.9).
    min_history : int
        Trading days the earlier values must span before the threshold exists (250).
    max_lead : int
        Trading days looked back before an onset; a run of signals longer than this is censored
        at ``max_lead`` (250).
    episodes : {"auto", "data", "report"}
        Where the episodes come from: the data's episode table, the ``report`` params' episodes,
        or (``auto``) the data's when it lists any, else the report's.
    """

    horizons: tuple[int, ...] = (20, 60)
    quantile: float = 0.9
    min_history: int = 250
    max_lead: int = 250
    episodes: str = "auto"

    def validate(self) -> None:
        if not isinstance(self.horizons, tuple) or not self.horizons:
            raise ConfigError(f"horizons={self.horizons!r} must be a non-empty list of integers >= 1")
        for k, h in enumerate(self.horizons):
            check_range(f"horizons[{k}]", h, low=1, integer=True)
        if len(set(self.horizons)) != len(self.horizons):
            raise ConfigError(f"horizons={list(self.horizons)!r} repeats a horizon; list each once")
        check_range("quantile", self.quantile, low=0.0, high=1.0, low_open=True, high_open=True)
        check_range("min_history", self.min_history, low=1, integer=True)
        check_range("max_lead", self.max_lead, low=1, integer=True)
        check_choice("episodes", self.episodes, EPISODE_SOURCES)


# -- AUC ------------------------------------------------------------------------------------
def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUC of ``scores`` for binary ``labels`` (1 = event) in the Mann–Whitney form, ties as one half.

    ``AUC = (Σ_{i: y_i=1} rank_i − n_+(n_+ + 1)/2) / (n_+ n_−)`` with midranks (Hanley & McNeil
    1982; Drehmann & Juselius 2014). NaN when either class is empty.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    if scores.shape != labels.shape or not np.isin(labels, (0, 1)).all() or not np.isfinite(scores).all():
        raise ValueError("roc_auc: scores and labels need the same shape, finite scores and labels in {0, 1}")
    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)  # midranks
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auc_null_sd(n_pos: int, n_neg: int) -> float:
    """Standard deviation of the AUC of an uninformative score with independent dates:
    ``sqrt((n_+ + n_− + 1) / (12 n_+ n_−))`` (the Mann–Whitney U variance / (n_+ n_−)²)."""
    if n_pos == 0 or n_neg == 0:
        return math.nan
    return math.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg))


# -- episodes and the calendar -------------------------------------------------------------
def episode_table(episodes: pd.DataFrame | Sequence[Mapping], calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """The episodes whose start lies inside the calendar, sorted, with their onset flags.

    Columns ``name, start, end, start_pos`` (first trading day on or after ``start``) and
    ``nested`` (the start lies inside an earlier-starting episode, so it is not an onset).
    Raises :class:`NotEstimable` when no episode starts inside the sample.
    """
    frame = pd.DataFrame(list(episodes) if not isinstance(episodes, pd.DataFrame) else episodes)
    if frame.empty or not {"name", "start", "end"} <= set(frame.columns):
        raise NotEstimable("no stress episodes are listed", needs="an episodes table in the data or report.episodes in params.yaml")
    frame = frame.assign(start=pd.to_datetime(frame["start"]), end=pd.to_datetime(frame["end"]), name=frame["name"].astype(str))
    lo, hi = calendar[0], calendar[-1]
    inside = frame[(frame["start"] > lo) & (frame["start"] <= hi)].sort_values(["start", "name"]).reset_index(drop=True)
    if inside.empty:
        listed = "; ".join(f"{n} ({s:%Y-%m-%d})" for n, s in zip(frame["name"], frame["start"]))
        raise NotEstimable(f"no stress episode starts inside the sample {lo:%Y-%m-%d}..{hi:%Y-%m-%d} (listed: {listed})",
                           needs="an episode starting after the first trading day of the sample")
    starts, ends = inside["start"].to_numpy(), inside["end"].to_numpy()
    nested = [bool(((starts[:k] <= starts[k]) & (ends[:k] >= starts[k])).any()) for k in range(len(inside))]
    return inside.assign(start_pos=calendar.searchsorted(inside["start"], side="left"), nested=nested)


def choose_episodes(data: pd.DataFrame | None, report: Sequence[Mapping], source: str) -> tuple[pd.DataFrame | list, str]:
    """The episodes to evaluate and where they come from (``data`` or ``report``), per the
    ``episodes`` option: the data's table (``data``), the report's list (``report``), or the data's
    when it lists any, else the report's (``auto``)."""
    if source == "data" or (source == "auto" and data is not None and len(data)):
        return (data if data is not None else []), "data"
    return list(report), "report"


def _positions(dates: pd.DatetimeIndex, calendar: pd.DatetimeIndex) -> np.ndarray:
    """The position in the calendar of the last trading day on or before each date (-1 before it)."""
    return calendar.searchsorted(dates, side="right") - 1


def horizon_labels(dates: pd.DatetimeIndex, calendar: pd.DatetimeIndex, episodes: pd.DataFrame, horizon: int) -> np.ndarray:
    """Per date: 1 when an onset follows within ``horizon`` trading days (0 < s − t ≤ h), 0 when
    none does, -1 when excluded (inside an episode, or within the last ``horizon`` trading days)."""
    pos = _positions(dates, calendar)
    onsets = episodes.loc[~episodes["nested"], "start_pos"].to_numpy()
    gap = onsets[None, :] - pos[:, None]
    labels = ((gap > 0) & (gap <= horizon)).any(axis=1).astype(int)
    values = dates.to_numpy()
    inside = ((values[:, None] >= episodes["start"].to_numpy()[None, :])
              & (values[:, None] <= episodes["end"].to_numpy()[None, :])).any(axis=1)
    labels[inside | (pos + horizon > len(calendar) - 1) | (pos < 0)] = -1
    return labels


# -- lead time ------------------------------------------------------------------------------
def causal_threshold(series: pd.Series, calendar: pd.DatetimeIndex, config: EarlyWarningConfig) -> pd.Series:
    """``Q_q(x_u: u < t)`` per date t: the expanding q-quantile of the earlier values, NaN until they
    span ``min_history`` trading days and number at least :data:`MIN_PRIOR` (uses nothing after t)."""
    threshold = series.expanding(min_periods=MIN_PRIOR).quantile(config.quantile).shift(1)
    pos = _positions(series.index, calendar)
    return threshold.where(pos - pos[0] >= config.min_history)


def lead_times(series: pd.Series, calendar: pd.DatetimeIndex, episodes: pd.DataFrame,
               config: EarlyWarningConfig) -> pd.DataFrame:
    """Per episode: ``lead_days`` (trading days from the first signal of the run that lasts to the
    onset), ``signal_date``, ``threshold`` (at the last value before the onset), ``censored`` (the run fills
    the whole look-back: ``max_lead`` or back to the previous episode's end) and
    ``status`` (``ok``; ``no_signal``: the last value before the onset is at or below its threshold;
    ``no_threshold``: its history is shorter than ``min_history``; ``no_value``: no value in the
    look-back; ``nested``: not an onset)."""
    threshold = causal_threshold(series, calendar, config)
    signal = (series > threshold).to_numpy()
    pos = _positions(series.index, calendar)
    ends = episodes["end"].to_numpy()
    rows = []
    for k, ep in episodes.iterrows():
        row = {"episode": ep["name"], "start": ep["start"], "lead_days": math.nan, "signal_date": pd.NaT,
               "threshold": math.nan, "censored": False}
        earlier_end = ends[:k][ends[:k] < ep["start"].to_datetime64()]
        after = earlier_end.max() if len(earlier_end) else np.datetime64("NaT")
        window = (series.index < ep["start"]) & (pos >= ep["start_pos"] - config.max_lead)
        if not np.isnat(after):
            window &= series.index > after
        idx = np.flatnonzero(window)
        if ep["nested"]:
            row["status"] = "nested"
        elif not len(idx):
            row["status"] = "no_value"
        elif not signal[idx[-1]]:
            row["threshold"] = float(threshold.iloc[idx[-1]])
            row["status"] = "no_signal" if np.isfinite(row["threshold"]) else "no_threshold"
        else:
            breaks = idx[~signal[idx]]
            first = idx[idx > breaks[-1]][0] if len(breaks) else idx[0]
            row.update(status="ok", lead_days=float(ep["start_pos"] - pos[first]), signal_date=series.index[first],
                       threshold=float(threshold.iloc[idx[-1]]), censored=not len(breaks))
        rows.append(row)
    return pd.DataFrame(rows)


# -- the series and the evaluation ---------------------------------------------------------
def system_series(frames: Mapping[str, pd.DataFrame | None], calendar: pd.DatetimeIndex) -> dict[str, pd.Series | str]:
    """Each series of :data:`SYSTEM_SERIES` by date (finite values, sorted), or the reason it is absent.

    ``frames`` maps artifact names to frames (None: absent or not estimable). A per-year table
    (``year``, no ``date``) is dated at the year's last trading day in ``calendar``; a rolling one
    by ``window_end``. Rows with a failed ``status`` are left out; the cross-sectional means use
    the banks' usable rows of the date.
    """
    out: dict[str, pd.Series | str] = {}
    for name, (art, column, how) in SYSTEM_SERIES.items():
        frame = frames.get(art)
        if frame is None:
            out[name] = f"{art} is absent or not estimable"
            continue
        if how.startswith("measure="):
            frame = frame[frame["measure"] == how.removeprefix("measure=")]
            if frame.empty:
                out[name] = f"{art} has no {how.removeprefix('measure=')} rows"
                continue
        if "status" in frame.columns:
            frame = frame[~frame["status"].astype(str).str.startswith("failed")]
        if column not in frame.columns:
            out[name] = f"{art} has no column {column}"
            continue
        dates = _dates(frame, calendar)
        values = pd.Series(frame[column].to_numpy(dtype=float, na_value=np.nan), index=dates)
        values = values[np.isfinite(values.to_numpy()) & values.index.notna()]
        values = values.groupby(level=0).mean() if how == "mean" else values.sort_index()
        if values.index.has_duplicates:
            out[name] = f"{art} has several {column} values per date"
        elif len(values) < MIN_PRIOR:
            out[name] = f"{art} has {len(values)} usable {column} value(s)"
        else:
            out[name] = values.rename(name)
    return out


def _dates(frame: pd.DataFrame, calendar: pd.DatetimeIndex) -> pd.DatetimeIndex:
    for column in ("date", "window_end"):
        if column in frame.columns:
            return pd.DatetimeIndex(frame[column])
    years = pd.Series(calendar.year, index=calendar)
    last = pd.Series(calendar, index=calendar).groupby(years.to_numpy()).max()
    return pd.DatetimeIndex(frame["year"].astype(int).map(last))


@dataclass(frozen=True)
class EarlyWarning:
    """``table`` (series × horizon: auc, auc_null_sd, n_pos, n_neg, n_excluded, n_obs, lead summary,
    causal, status) and ``leads`` (series × episode: lead_days, signal_date, threshold, status)."""

    table: pd.DataFrame
    leads: pd.DataFrame


def early_warning(series: Mapping[str, pd.Series | str], calendar: pd.DatetimeIndex, episodes: pd.DataFrame,
                  config: EarlyWarningConfig, *, causal: Mapping[str, bool] | None = None) -> EarlyWarning:
    """AUC per series and horizon and lead time per series and episode (module docstring).

    ``series``: name -> values by date, or a string saying why the series is absent (a row with a
    failed status ``failed:Skipped``); ``episodes``: :func:`episode_table`; ``causal``: name ->
    whether the series' values are real-time in this run (recorded, not used).
    """
    causal = causal or {}
    rows, leads = [], []
    for name, values in series.items():
        base = {"series": name, "causal": bool(causal.get(name, False))}
        if isinstance(values, str):
            rows += [{**base, "horizon": h, "status": f"failed:Skipped: {values}"} for h in config.horizons]
            continue
        lead = lead_times(values, calendar, episodes, config).assign(series=name)
        leads.append(lead)
        ok = lead[lead["status"] == "ok"]["lead_days"]
        summary = {"n_obs": len(values), "first_date": values.index[0], "last_date": values.index[-1],
                   "n_onsets": int((lead["status"] != "nested").sum()), "n_warned": len(ok),
                   "lead_days_median": float(ok.median()) if len(ok) else math.nan}
        for h in config.horizons:
            labels = horizon_labels(values.index, calendar, episodes, h)
            keep = labels >= 0
            n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
            auc = roc_auc(values.to_numpy()[keep], labels[keep]) if keep.any() else math.nan
            status = "ok" if n_pos and n_neg else f"failed:NoPositives: {n_pos} date(s) before an onset, {n_neg} other"
            rows.append({**base, **summary, "horizon": h, "auc": auc, "auc_null_sd": auc_null_sd(n_pos, n_neg),
                         "n_pos": n_pos, "n_neg": n_neg, "n_excluded": int((~keep).sum()), "status": status})
    columns = ["series", "horizon", "auc", "auc_null_sd", "n_pos", "n_neg", "n_excluded", "n_obs", "first_date",
               "last_date", "n_onsets", "n_warned", "lead_days_median", "causal", "status"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    lead_cols = ["series", "episode", "start", "lead_days", "signal_date", "threshold", "censored", "status"]
    leads_frame = pd.concat(leads, ignore_index=True)[lead_cols] if leads else pd.DataFrame(columns=lead_cols)
    return EarlyWarning(table, leads_frame)


def bank_means(frames: Mapping[str, pd.DataFrame | None]) -> dict[str, pd.Series | str]:
    """Per-bank mean (× sign: higher = riskier) of each :data:`BANK_MEASURES` measure over its usable
    rows (failed status or missing value left out), or the reason it is absent."""
    out: dict[str, pd.Series | str] = {}
    for name, (art, column, sign) in BANK_MEASURES.items():
        frame = frames.get(art)
        if frame is None or column not in frame.columns or "bank_id" not in frame.columns:
            out[name] = f"{art} is absent, not estimable or has no {column}"
            continue
        if "status" in frame.columns:
            frame = frame[~frame["status"].astype(str).str.startswith("failed")]
        values = sign * frame[column].astype(float)
        mean = values.groupby(frame["bank_id"].astype(str)).mean().dropna()
        out[name] = mean if len(mean) else f"{art} has no usable {column}"
    return out


def concordance(means: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Kendall τ-b between every pair of per-bank measures over the banks both have (long form:
    ``a, b, tau, n_banks``, each unordered pair once, a before b in the given order)."""
    names = list(means)
    banks = sorted(set().union(*(m.index for m in means.values()))) if names else []
    wide = np.array([means[n].reindex(banks).to_numpy(dtype=float) for n in names]).reshape(len(names), len(banks))
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    if not pairs:
        return pd.DataFrame(columns=["a", "b", "tau", "n_banks"])
    tau, n = kendall_taus(wide[[i for i, _ in pairs]], wide[[j for _, j in pairs]])
    return pd.DataFrame({"a": [names[i] for i, _ in pairs], "b": [names[j] for _, j in pairs], "tau": tau, "n_banks": n})
