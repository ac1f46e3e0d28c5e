"""Bootstrap of the ranks of banks by ΔCoVaR-QR, ΔCoVaR-DCC, MES and SRISK (docs/rankings.md).

The summary of bank ``i`` on measure ``m`` is the sample mean of its dated series,
``x̄_im = (1/T_im) Σ_t x_imt`` over the dates with a usable value (status ``ok`` or
``warning:<Class>``, value not missing). A replication resamples the **dates** of every series
jointly (one stationary-bootstrap index vector over the union of the dates, Politis & Romano
1994), so the measures' summaries of a replication come from the same resampled dates and the
Kendall τ between two measures is paired. The bootstrap is conditional on the fitted models: the
dated values are resampled, the QR and DCC models are not refitted.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.core.status import NotEstimable
from measures.contagion.inputs import FAILED, status_severity
from measures.ranking.bootstrap import block_length_rule, replication_rng, stationary_indices
from measures.ranking.config import RankingConfig
from measures.ranking.ranks import rank_table, tau_row


def usable_panel(frame: pd.DataFrame, column: str, *, min_obs: int, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dates x banks panel of ``column`` from a long ``bank_id, date, <column>[, status]`` frame.

    Rows with a failed status or a missing value are left out, banks with fewer than ``min_obs``
    usable values are dropped; each is one event per bank (reasons ``fit_status``,
    ``missing_value``, ``min_obs``; ``name`` names the table in the details). A missing column
    raises :class:`~measures.core.status.NotEstimable`.
    """
    missing = [c for c in ("bank_id", "date", column) if c not in frame.columns]
    if missing:
        raise NotEstimable(f"{name}: column(s) {missing} missing; the ranking needs bank_id, date, {column}",
                           needs=f"the {column} column")
    status = frame["status"].astype(str) if "status" in frame.columns else pd.Series("ok", index=frame.index)
    failed = status_severity(status).to_numpy() == FAILED
    value = frame[column].to_numpy(dtype=float, na_value=np.nan)
    gone = (failed, ~failed & np.isnan(value))
    rows = []
    for mask, reason, what in zip(gone, ("fit_status", "missing_value"), ("with a failed status", "without a value")):
        for bank, g in frame.loc[mask].groupby("bank_id", sort=True):
            rows.append({"bank_id": str(bank), "date_start": g["date"].min(), "date_end": g["date"].max(),
                         "n_rows": len(g), "action": "excluded", "reason": reason,
                         "detail": f"{name}: {len(g)} rows {what} are not in the {column} ranking"})
    good = frame.loc[~failed & ~np.isnan(value)]
    wide = good.pivot(index="date", columns="bank_id", values=column).sort_index().sort_index(axis=1)
    wide.columns = pd.Index([str(c) for c in wide.columns], name="bank_id", dtype=object)
    counts = wide.notna().sum()
    for bank in counts.index[counts < min_obs]:
        col = wide[bank].dropna()
        rows.append({"bank_id": bank, "date_start": col.index.min(), "date_end": col.index.max(), "n_rows": len(col),
                     "action": "excluded", "reason": "min_obs",
                     "detail": f"{name}: {len(col)} usable {column} values, fewer than min_obs={min_obs}: not ranked"})
    return wide.loc[:, counts >= min_obs].astype(float), pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def nan_means(values: np.ndarray) -> np.ndarray:
    """Column means over the finite entries (NaN for a column without any)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0)


def _replication(b: int, *, arrays: tuple, mean_block: float, seed: int) -> list[np.ndarray]:
    """Means of every measure's columns on the dates of replication ``b`` (module level: picklable)."""
    idx = stationary_indices(arrays[0].shape[0], mean_block, replication_rng(seed, (b,)))
    return [nan_means(a[idx]) for a in arrays]


@dataclass(frozen=True)
class MeasureRanking:
    """Result of :func:`rank_measures`.

    ``ranks``: ``measure, bank_id, value, rank, rank_lo, rank_hi, p_top_k, replications, n_obs,
    block_length, date_start, date_end``; ``tau``: ``kind ("measures"), a, b, tau, tau_lo, tau_hi,
    n_banks, replications``; ``block_length``: the mean block length used.
    """

    ranks: pd.DataFrame
    tau: pd.DataFrame
    block_length: float


def rank_measures(panels: Mapping[str, pd.DataFrame], config: RankingConfig = RankingConfig(), *,
                  mapper: Mapper | None = None) -> MeasureRanking:
    """Point ranks, percentile rank intervals, P(top k) and Kendall τ of banks ranked by each measure.

    Parameters
    ----------
    panels : mapping
        Measure name -> dates x banks panel of its usable values (:func:`usable_panel`).
    config : RankingConfig
    mapper : Mapper, optional
        Maps the replications (:mod:`measures.core.mapping`); replication ``b`` draws from
        ``SeedSequence(config.seed, spawn_key=(b,))``, so results do not depend on it.

    Returns
    -------
    MeasureRanking

    Notes
    -----
    With ``I^b`` the stationary-bootstrap indices of replication ``b`` over the union of the dates
    ``t = 1..T`` (mean block length ``L``), the replicated summary is
    ``x̄^b_im = mean{x_im,I^b_t : t = 1..T, x_im,I^b_t observed}``; ranks, intervals, P(top k)
    and τ are those of :mod:`measures.ranking.ranks` (Politis & Romano 1994; Kendall 1938).
    """
    names = [m for m, p in panels.items() if p.shape[1]]
    dates = pd.DatetimeIndex(sorted(set().union(*(panels[m].index for m in names)))) if names else pd.DatetimeIndex([])
    arrays = tuple(panels[m].reindex(dates).to_numpy(dtype=float) for m in names)
    if not names or not len(dates):
        return MeasureRanking(pd.DataFrame(columns=RANK_COLUMNS), pd.DataFrame(columns=TAU_COLUMNS), np.nan)
    mean_block = config.block_length or block_length_rule((a[:, j] for a in arrays for j in range(a.shape[1])),
                                                          n=len(dates))
    fn = functools.partial(_replication, arrays=arrays, mean_block=float(mean_block), seed=config.seed)
    reps = map_items(mapper, fn, range(config.replications), desc="ranking bootstrap")
    boot = {m: np.vstack([r[k] for r in reps]) for k, m in enumerate(names)}
    point = {m: nan_means(a) for m, a in zip(names, arrays)}
    tables = []
    for m in names:
        panel = panels[m]
        t = rank_table(pd.Series(point[m], index=panel.columns), boot[m], level=config.level, top_k=config.top_k)
        obs = panel.notna()
        tables.append(t.assign(measure=m, n_obs=obs.sum().to_numpy(), block_length=float(mean_block),
                               date_start=[panel.index[obs[c].to_numpy()].min() for c in panel.columns],
                               date_end=[panel.index[obs[c].to_numpy()].max() for c in panel.columns]))
    ranks = pd.concat(tables, ignore_index=True)[RANK_COLUMNS]
    tau = []
    for a, b in itertools.combinations(names, 2):
        common = [c for c in panels[a].columns if c in set(panels[b].columns)]
        ia, ib = panels[a].columns.get_indexer(common), panels[b].columns.get_indexer(common)
        row = tau_row(point[a][ia], point[b][ib], boot[a][:, ia], boot[b][:, ib], level=config.level)
        tau.append({"kind": "measures", "a": a, "b": b, **row})
    return MeasureRanking(ranks, pd.DataFrame(tau, columns=TAU_COLUMNS), float(mean_block))


RANK_COLUMNS = ["measure", "bank_id", "value", "rank", "rank_lo", "rank_hi", "p_top_k", "replications", "n_obs",
                "block_length", "date_start", "date_end"]
TAU_COLUMNS = ["kind", "a", "b", "tau", "tau_lo", "tau_hi", "n_banks", "replications"]
