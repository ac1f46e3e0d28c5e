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
quality record). A bank too sparse for a window's VAR after
aligning is excluded from that window (recorded); a window with fewer than two banks fails; the stage is
not estimable only when no window can be estimated. Also writes the Granger-network measures of each window's
p-values (Billio et al. 2012; ``measures.granger_network.alpha``): ``granger_network`` (window, bank_id: in/out/in+out
degree, closeness, eigenvector, clustering) and ``granger_dci`` (window: dci, n_banks, n_edges, n_untested;
docs/network_measures.md). Documentation: ``docs/contagion.md``.
"""

from __future__ import annotations

from measures.contagion import SERIES, ContagionParams, analyse_contagion, check_plan, contagion_series
from measures.contagion.billio import GrangerNetworkConfig, granger_network_panel
from pipeline.artifacts import artifact
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> None:
    params = ctx.config("contagion")
    name = SERIES[params.series]
    data = contagion_series(ctx.read(name), name=artifact(name).path, spillover=params.series == "spillover")
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


def check(data, configs) -> list:
    """Which years and banks the contagion windows will hold, from the canonical prices."""
    return check_plan(data.prices, configs["contagion"], has_states=data.market_states is not None)


STAGE = Stage(
    name="contagion",
    run=run,
    params={"contagion": ContagionParams, "measures.granger_network": GrangerNetworkConfig},
    inputs=tuple(SERIES.values()),
    select_inputs=lambda configs: (SERIES[configs["contagion"].series],),  # deps: the chosen series only
    outputs=("granger", "crw", "contagion_windows", "connectedness", "connectedness_directional", "granger_network",
             "granger_dci"),
    check=check,
    realtime=True,
)
