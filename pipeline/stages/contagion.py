"""Contagion: Granger causality on ΔCoVaR → PageRank weights (CRW) per window; Diebold–Yilmaz connectedness.

Reads the ΔCoVaR series named by ``contagion.series`` (``dcc``: ``covar_dcc``, ``qr``: ``covar_qr``,
``spillover``: the bank-level market ΔCoVaR of ``spillover``); only rows whose status is ``ok`` or
``warning:<Class>`` enter (:func:`measures.contagion.contagion_series`). The science is
:func:`measures.contagion.analyse_contagion`. Writes ``granger`` (window, source, target: p_value, lags,
weight and, unless ``contagion.fdr_alpha`` is null, q_value, significant), ``crw`` (bank_id, window: crw),
``contagion_windows`` (window: n_banks, nobs, lags, aic, bic, hqic, route, status), ``connectedness`` (window_end:
rolling DY total) and ``connectedness_directional`` (window, bank_id: to, from, net); the window key is
``year``, or ``window_end`` with ``contagion.window: rolling``. The VARs are least squares or, for many
banks, the LASSO VAR (``contagion.route``; the route and why: ``route`` column and a ``var_route``
quality record). ``crw_robustness`` (series, bank_id, window: crw) holds the CRW of every
``contagion.robustness_series`` by the same chain (:func:`measures.contagion.chain.robustness_crw`; the chosen
series' CRW reused), for the panel's robustness table; a robustness series whose input is absent or not
estimable is left out (recorded). A bank too sparse for a window's VAR after
aligning is excluded from that window (recorded); a window with fewer than two banks fails; the stage is
not estimable only when no window can be estimated. Also writes the Granger-network measures of each window's
p-values (Billio et al. 2012; ``measures.granger_network.alpha``): ``granger_network`` (window, bank_id: in/out/in+out
degree, closeness, eigenvector, clustering) and ``granger_dci`` (window: dci, n_banks, n_edges, n_untested;
docs/network_measures.md). Documentation: ``docs/contagion.md``.
"""

from __future__ import annotations

import pandas as pd

from measures.contagion import SERIES, ContagionParams, analyse_contagion, check_plan, contagion_series
from measures.contagion.billio import GrangerNetworkConfig, granger_network_panel
from measures.contagion.chain import robustness_crw
from measures.core.events import EVENT_COLUMNS
from pipeline.artifacts import artifact
from pipeline.stage import Stage, StageContext


def _series(ctx: StageContext, series: str, *, required: bool = True):
    name = SERIES[series]
    frame = ctx.read(name, required=required)
    return None if frame is None else contagion_series(frame, name=artifact(name).path, spillover=series == "spillover")


def _robustness(ctx: StageContext, params: ContagionParams, main) -> pd.DataFrame:
    """``crw_robustness``: the CRW of every ``contagion.robustness_series`` (the main one reused)."""
    frames = []
    for series in params.robustness_series:
        name = SERIES[series]
        data = None if series == params.series else _series(ctx, series, required=False)
        if series != params.series and data is None:
            ctx.events(pd.DataFrame([{"bank_id": None, "date_start": None, "date_end": None, "n_rows": 0,
                                      "action": "excluded", "reason": "robustness_series_unavailable",
                                      "detail": f"contagion.robustness_series: {series}: {name} is absent or not "
                                                "estimable; no CRW from it in the robustness table"}],
                                    columns=list(EVENT_COLUMNS)), table=name)
            continue
        crw, events = robustness_crw(series, None if data is None else data.series, params.chain(),
                                     params.connectedness, panel=main if data is None else None, mapper=ctx.mapper)
        if data is not None:
            ctx.events(data.events, table=name)
        ctx.events(events, table=name)
        frames.append(crw)
    key = main.key
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[key, "series", "bank_id", "crw"])


def run(ctx: StageContext) -> None:
    params = ctx.config("contagion")
    name = SERIES[params.series]
    data = _series(ctx, params.series)
    ctx.events(data.events, table=name)
    result = analyse_contagion(data.series, params.chain(), params.connectedness, mapper=ctx.mapper)
    ctx.events(result.events, table=name)
    result.check_estimable()
    key = result.key
    ctx.budget(result.panel.windows["status"], params.max_failure_share, what=f"contagion windows ({key})")
    ctx.write("granger", result.panel.edges, key=[key, "source", "target"])
    ctx.write("crw", result.panel.crw, key=["bank_id", key])
    ctx.write("contagion_windows", result.panel.windows, key=[key])
    ctx.write("connectedness", result.connectedness)
    ctx.write("connectedness_directional", result.directional, key=[key, "bank_id"])
    # Granger-network measures of each window's p-values (Billio et al. 2012; docs/network_measures.md)
    network, dci = granger_network_panel(result.panel.pvalues, key, alpha=ctx.config("measures.granger_network").alpha)
    ctx.write("granger_network", network, key=[key, "bank_id"])
    ctx.write("granger_dci", dci, key=[key])
    ctx.write("crw_robustness", _robustness(ctx, params, result.panel), key=["series", "bank_id", key])


def check(data, configs) -> list:
    """Which years and banks the contagion windows will hold, from the canonical prices; the robustness
    series the data cannot give (ΔCoVaR-QR and spillover need market states)."""
    params = configs["contagion"]
    has_states = data.market_states is not None
    lines = check_plan(data.prices, params, has_states=has_states)
    return lines + [("skips", f"contagion.robustness_series: {s}: the {SERIES[s]} ΔCoVaR needs a market_states table, "
                              "which the data lacks; Table 3 will have no CRW from it")
                    for s in params.robustness_series if s not in ("dcc", params.series) and not has_states]


STAGE = Stage(
    name="contagion",
    run=run,
    params={"contagion": ContagionParams, "measures.granger_network": GrangerNetworkConfig},
    inputs=tuple(SERIES.values()),
    # deps: the chosen series and the robustness series only
    select_inputs=lambda configs: tuple(dict.fromkeys(
        SERIES[s] for s in (configs["contagion"].series, *configs["contagion"].robustness_series))),
    outputs=("granger", "crw", "contagion_windows", "connectedness", "connectedness_directional", "granger_network",
             "granger_dci", "crw_robustness"),
    check=check,
    realtime=True,
)
