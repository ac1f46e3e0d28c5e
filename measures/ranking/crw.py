"""Bootstrap of the CRW ranks of each calendar year: Granger → PageRank recomputed per replication.

For year ``y`` the rows (dates) of the year's ΔCoVaR panel — the input of the contagion chain —
are resampled by the stationary bootstrap (Politis & Romano 1994) and put back on the year's
dates; the whole chain of :func:`measures.contagion.estimate_contagion` (screening, within-year
standardization, Granger VAR with its lag choice, PageRank) then runs on the resample with the
options and the VAR route the contagion stage used, giving replicated CRW. Every block of the
resample keeps the dynamics of the data; the joins between blocks (a share ``1/L`` of the rows)
do not. Years are independent: replication ``b`` of year ``y`` draws from
``SeedSequence(seed, spawn_key=(y, b))`` and uses the year's dates only.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from measures.contagion import estimate_contagion
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.ranking.bootstrap import block_length_rule, replication_rng, stationary_indices
from measures.ranking.config import RankingConfig
from measures.ranking.measures import TAU_COLUMNS
from measures.ranking.ranks import rank_table, tau_row


def year_crw(block: pd.DataFrame, options: Mapping, index: np.ndarray | None = None) -> np.ndarray:
    """CRW of the banks of ``block`` (one year, dates x banks) from its rows ``index`` (None = as is).

    The resampled rows are put on the block's own dates, and
    :func:`~measures.contagion.estimate_contagion` runs with ``options`` (its keyword options,
    one calendar-year window); a bank the chain leaves out, or a failed window, gives NaN.
    """
    values = block.to_numpy(dtype=float)
    frame = pd.DataFrame(values if index is None else values[index], index=block.index, columns=block.columns)
    crw = estimate_contagion(frame, **{**options, "window": "year"}).crw
    return crw.set_index("bank_id")["crw"].reindex(block.columns).to_numpy(dtype=float)


def _replication(item: tuple[int, int], *, blocks: Mapping, options: Mapping, seed: int) -> np.ndarray:
    """Replication ``b`` of year ``y`` (module level: picklable)."""
    year, b = item
    block, mean_block, route = blocks[year]
    idx = stationary_indices(len(block), mean_block, replication_rng(seed, (year, b)))
    return year_crw(block, {**options, "route": route}, idx)


def _year_point(item: tuple[pd.DataFrame, str], *, options: Mapping, block_length: float | None) -> tuple:
    """The point CRW of one year and its mean block length over the banks the chain keeps (module level)."""
    block, route = item
    point = year_crw(block, {**options, "route": route})
    kept = block.loc[:, np.isfinite(point)]
    if not kept.shape[1]:
        return point, np.nan
    length = block_length or block_length_rule((kept[c].to_numpy() for c in kept.columns), n=len(kept))
    return point, float(length)


def _event(block: pd.DataFrame, n_rows: int, reason: str, detail: str) -> dict:
    return {"bank_id": None, "date_start": block.index[0], "date_end": block.index[-1], "n_rows": n_rows,
            "action": "flagged", "reason": reason, "detail": detail}


@dataclass(frozen=True)
class CrwRanking:
    """Result of :func:`rank_crw`.

    ``ranks``: ``year, bank_id, value (the CRW), rank, rank_lo, rank_hi, p_top_k, replications,
    block_length``; ``tau``: ``kind ("crw_years"), a, b (the years), tau, tau_lo, tau_hi, n_banks,
    replications``; ``events``: years without CRW on the data and failed replications (``EVENT_COLUMNS``).
    """

    ranks: pd.DataFrame
    tau: pd.DataFrame
    events: pd.DataFrame


def rank_crw(series: pd.DataFrame, routes: Mapping[int, str], options: Mapping, config: RankingConfig = RankingConfig(),
             *, mapper: Mapper | None = None) -> CrwRanking:
    """Point CRW ranks per year, percentile rank intervals, P(top k) and consecutive-year Kendall τ.

    Parameters
    ----------
    series : DataFrame
        Dates x banks ΔCoVaR, the contagion chain's input (:func:`measures.contagion.contagion_series`).
    routes : mapping
        Year -> the VAR route the contagion stage used in it (``ols``, ``sparse``; ``pairwise``
        keeps ``options["route"]``); only these years are bootstrapped.
    options : mapping
        Keyword options of :func:`~measures.contagion.estimate_contagion`
        (``ContagionParams.chain().chain_options()``).
    config : RankingConfig
    mapper : Mapper, optional
        Maps the (year, replication) items; results do not depend on it.

    Returns
    -------
    CrwRanking

    Notes
    -----
    The point CRW is the chain on the year's data (what the contagion stage writes); only the banks
    it keeps in the year are resampled (a bank the resample's screening drops has no rank in that
    replication). The mean block length of year ``y`` is ``config.block_length`` or the
    Politis–White rule over those banks' series of the year
    (:func:`~measures.ranking.bootstrap.block_length_rule`); ranks, intervals and τ are those of
    :mod:`measures.ranking.ranks`.
    """
    blocks, points, events = {}, {}, []
    years = sorted(int(y) for y in routes)
    year_blocks = [series[series.index.year == year] for year in years]
    year_routes = [routes[y] if routes[y] in ("ols", "sparse") else options.get("route", "auto") for y in years]
    prep = functools.partial(_year_point, options=dict(options), block_length=config.block_length)
    prepared = map_items(mapper, prep, list(zip(year_blocks, year_routes)), desc="CRW ranking points")
    for year, block, route, (point, length) in zip(years, year_blocks, year_routes, prepared):
        if not np.isfinite(point).any():
            events.append(_event(block, len(block), "window_failed", f"year {year}: the contagion chain gives no CRW "
                                                                     "on the year's data; its ranks are not bootstrapped"))
            continue
        block = block.loc[:, np.isfinite(point)]  # the banks the chain keeps in the year, as in the contagion stage
        points[year] = point[np.isfinite(point)]
        blocks[year] = (block, float(min(length, len(block))), route)
    items = [(y, b) for y in blocks for b in range(config.replications)]
    fn = functools.partial(_replication, blocks=blocks, options=dict(options), seed=config.seed)
    reps = dict(zip(items, map_items(mapper, fn, items, desc="CRW ranking bootstrap")))
    tables, boots = [], {}
    for year, (block, length, _) in blocks.items():
        boots[year] = (points[year], np.vstack([reps[(year, b)] for b in range(config.replications)]))
        t = rank_table(pd.Series(points[year], index=block.columns), boots[year][1], level=config.level,
                       top_k=config.top_k)
        tables.append(t.assign(year=year, block_length=length))
        failed = int(np.isnan(boots[year][1]).all(axis=1).sum())
        if failed:
            events.append(_event(block, failed, "replication_failed",
                                 f"year {year}: {failed} of {config.replications} bootstrap replications gave no CRW "
                                 "(the resampled year's VAR failed); the rank intervals use the others"))
    cols = ["year", "bank_id", "value", "rank", "rank_lo", "rank_hi", "p_top_k", "replications", "block_length"]
    ranks = pd.concat(tables, ignore_index=True)[cols] if tables else pd.DataFrame(columns=cols)
    tau = []
    years = list(blocks)
    for a, b in zip(years[:-1], years[1:]):
        banks = [c for c in blocks[a][0].columns if c in set(blocks[b][0].columns)]
        ia, ib = blocks[a][0].columns.get_indexer(banks), blocks[b][0].columns.get_indexer(banks)
        row = tau_row(boots[a][0][ia], boots[b][0][ib], boots[a][1][:, ia], boots[b][1][:, ib], level=config.level)
        tau.append({"kind": "crw_years", "a": str(a), "b": str(b), **row})
    return CrwRanking(ranks, pd.DataFrame(tau, columns=TAU_COLUMNS), pd.DataFrame(events, columns=list(EVENT_COLUMNS)))
