"""Rankings: how stable is each ranking of banks? A stationary bootstrap over dates (docs/rankings.md).

Ranks the banks by the sample mean of ΔCoVaR-QR (``covar_qr``), ΔCoVaR-DCC (``covar_dcc``), dynamic
MES (``mes``) and SRISK (``srisk``), rows with a usable status only
(:func:`measures.ranking.usable_panel`), and bootstraps the dates jointly
(:func:`measures.ranking.rank_measures`); bootstraps the CRW of every contagion year by
recomputing Granger + PageRank on resampled dates of that year's ΔCoVaR input, the series of
``contagion.series``, with the VAR route the contagion stage recorded in ``contagion_windows``
(:func:`measures.ranking.rank_crw`). Writes ``rankings`` (measure, bank_id), ``rankings_crw``
(year, bank_id): point rank, percentile rank interval, P(top k); ``rankings_tau`` (kind, a, b):
Kendall τ between the measures and between consecutive CRW years with bootstrap intervals. A
missing or not-estimable measure is left out (recorded); the CRW tables are marked not estimable
when contagion has no yearly weights. The point CRW is checked against ``crw``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from measures.contagion import SERIES, ContagionParams, contagion_series
from measures.core.status import NotEstimable, is_failed
from measures.ranking import RANKED, RankingConfig, rank_crw, rank_measures, usable_panel
from measures.ranking.config import check_plan
from pipeline.artifacts import artifact
from pipeline.quality import QualityRecord
from pipeline.stage import Stage, StageContext

GROUP = "measures.rankings"
#: largest |CRW recomputed - CRW of the contagion stage| before a flag (floating-point noise is ~1e-13)
CRW_TOLERANCE = 1e-9


def _note(ctx: StageContext, table: str, action: str, reason: str, detail: str) -> None:
    ctx.record(QualityRecord(stage="rankings", table=table, bank_id=None, date_start=None, date_end=None, n_rows=0,
                             action=action, reason=reason, detail=detail))


def _crw_inputs(ctx: StageContext, config: RankingConfig, contagion: ContagionParams) -> tuple[pd.DataFrame, dict]:
    """The contagion input (dates x banks) and the route of every contagion year with CRW.

    Raises :class:`NotEstimable` saying why there is nothing to bootstrap.
    """
    if not config.crw:
        raise NotEstimable(f"{GROUP}.crw is false", needs=f"{GROUP}.crw: true")
    if contagion.window != "year":
        raise NotEstimable("the CRW rank bootstrap is per calendar year", needs="contagion.window: year")
    name = SERIES[contagion.series]
    windows, frame = ctx.read("contagion_windows", required=False), ctx.read(name, required=False)
    if windows is None or frame is None:
        raise NotEstimable("contagion has no yearly CRW (its input or its windows are absent or not estimable)",
                           needs="a contagion stage with CRW per year")
    route = windows["route"] if "route" in windows else pd.Series(contagion.route, index=windows.index)
    routes = {int(y): str(r) for y, r, s in zip(windows["year"], route, windows["status"]) if not is_failed(s)}
    if not routes:
        raise NotEstimable("no contagion year has CRW", needs="a contagion year with at least two banks")
    series = contagion_series(frame, name=artifact(name).path, spillover=contagion.series == "spillover").series
    return series, routes


def _crw(ctx: StageContext, config: RankingConfig, contagion: ContagionParams):
    """The CRW ranking (:class:`measures.ranking.CrwRanking`), or None after marking its table not estimable."""
    try:
        series, routes = _crw_inputs(ctx, config, contagion)
    except NotEstimable as exc:
        ctx.not_estimable("rankings_crw", reason=str(exc), needs=exc.needs, table="rankings_crw")
        return None
    result = rank_crw(series, routes, contagion.chain().chain_options(), config, mapper=ctx.mapper)
    ctx.events(result.events, table="rankings_crw")
    crw = ctx.read("crw", required=False)
    if crw is not None:
        both = result.ranks.merge(crw, on=["year", "bank_id"], how="outer")
        gap = float(np.nanmax(np.abs(both["value"] - both["crw"]))) if len(both) else 0.0
        if both["value"].isna().ne(both["crw"].isna()).any() or gap > CRW_TOLERANCE:
            _note(ctx, "rankings_crw", "flagged", "crw_mismatch",
                  f"the point CRW recomputed by the ranking differs from {artifact('crw').path} (largest gap {gap:.3g} "
                  "or banks/years not in both): the bootstrap does not replicate the contagion stage's chain")
    return result


def run(ctx: StageContext) -> None:
    config: RankingConfig = ctx.config(GROUP)
    panels = {}
    for measure, (name, column) in RANKED.items():
        frame = ctx.read(name, required=False)
        if frame is None:
            _note(ctx, name, "excluded", "input_absent", f"{artifact(name).path} is absent or not estimable: "
                                                         f"{measure} is not ranked")
            continue
        try:
            panel, events = usable_panel(frame, column, min_obs=config.min_obs, name=artifact(name).path)
        except NotEstimable as exc:
            _note(ctx, name, "excluded", "input_unusable", f"{exc}: {measure} is not ranked")
            continue
        ctx.events(events, table=name)
        panels[measure] = panel
    crw = _crw(ctx, config, ctx.config("contagion"))
    if not any(p.shape[1] for p in panels.values()) and crw is None:
        raise NotEstimable("no measure to rank: ΔCoVaR-QR, ΔCoVaR-DCC, MES, SRISK and CRW are all absent",
                           needs="the outputs of covar_qr, covar_dcc, mes_srisk or contagion")
    measures = rank_measures(panels, config, mapper=ctx.mapper)
    if len(measures.ranks):
        ctx.write("rankings", measures.ranks)
    else:
        ctx.not_estimable("rankings", reason="no bank has min_obs usable values of ΔCoVaR-QR, ΔCoVaR-DCC, MES or SRISK",
                          needs=f"longer series or a smaller {GROUP}.min_obs", table="rankings")
    if crw is not None:
        ctx.write("rankings_crw", crw.ranks)
    frames = [f for f in (measures.tau, crw.tau if crw is not None else None) if f is not None and len(f)]
    ctx.write("rankings_tau", pd.concat(frames, ignore_index=True) if frames else measures.tau)


def check(data, configs) -> list:
    contagion = configs["contagion"]
    return check_plan(has_states=data.market_states is not None, has_balance_sheet=data.balance_sheet is not None,
                      config=configs[GROUP], contagion_window=contagion.window, contagion_series=contagion.series)


def _inputs(configs) -> tuple[str, ...]:
    series = SERIES[configs["contagion"].series]
    return tuple(dict.fromkeys((*(name for name, _ in RANKED.values()), series, "contagion_windows", "crw")))


STAGE = Stage(
    name="rankings",
    run=run,
    params={GROUP: RankingConfig, "contagion": ContagionParams},
    inputs=tuple(dict.fromkeys((*(name for name, _ in RANKED.values()), *SERIES.values(), "contagion_windows", "crw"))),
    select_inputs=_inputs,
    outputs=("rankings", "rankings_crw", "rankings_tau"),
    check=check,
    realtime=True,
)
