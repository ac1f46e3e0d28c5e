"""The whole contagion analysis of one ΔCoVaR panel: Granger → PageRank CRW and DY connectedness.

:func:`analyse_contagion` runs, on a dates x banks frame (:func:`~measures.contagion.inputs.contagion_series`):

1. :func:`~measures.contagion.network.estimate_contagion` — per window (calendar year or
   rolling) the Granger p-values of the standardized series, the Benjamini–Hochberg edge set and
   the contagion risk weights ``CRW = PageRank(A)``, ``A_ij = 1 - p_ij`` (Liu–Ma 2021);
2. :func:`~measures.contagion.connectedness.estimate_rolling_connectedness` — the Diebold–Yilmaz
   total connectedness ``C = (1/N) Σ_{i≠j} 100 θ̃_ij(H)`` on rolling windows (Diebold & Yilmaz 2012);
3. :func:`~measures.contagion.connectedness.window_connectedness` — the directional
   connectedness (to, from, net) on each contagion window with the banks that window kept;

and collects the events of everything left out (banks excluded from a window, windows that
failed, connectedness that could not be fitted) as a frame ``bank_id, date_start, date_end,
n_rows, action, reason, detail``. Choices: docs/contagion.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from measures.contagion.connectedness import ConnectednessConfig, estimate_rolling_connectedness, window_connectedness
from measures.contagion.network import (
    ContagionConfig,
    ContagionPanel,
    contagion_windows,
    estimate_contagion,
    window_routes,
)
from measures.contagion.route import Route, choose_route, window_sizes
from measures.core.config import ConfigError, check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper
from measures.core.status import FitStatus, NotEstimable, is_failed
from measures.core.windows import rolling_windows

#: ``contagion.series`` -> the pipeline artifact holding that ΔCoVaR series.
SERIES = {"dcc": "covar_dcc", "qr": "covar_qr", "spillover": "spillover"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContagionParams(ContagionConfig):
    """The ``contagion`` params group: the chain's :class:`~measures.contagion.ContagionConfig`, the
    input series, the series whose CRW the panel's robustness table sets side by side (``robustness_series``,
    :func:`robustness_crw`), the failure budget and the nested :class:`~measures.contagion.ConnectednessConfig`."""

    series: str = "dcc"
    robustness_series: tuple[str, ...] = ("dcc", "qr", "spillover")
    max_failure_share: float = 0.5
    connectedness: ConnectednessConfig = ConnectednessConfig()

    def validate(self) -> None:
        super().validate()
        check_choice("series", self.series, tuple(SERIES))
        if not isinstance(self.robustness_series, tuple):
            raise ConfigError(f"robustness_series={self.robustness_series!r} must be a list of {', '.join(SERIES)} (or [])")
        for name in self.robustness_series:
            check_choice("robustness_series", name, tuple(SERIES))
        if len(set(self.robustness_series)) != len(self.robustness_series):
            raise ConfigError(f"robustness_series={list(self.robustness_series)} lists a series twice")
        check_range("max_failure_share", self.max_failure_share, low=0.0, high=1.0)

    def for_realtime(self) -> "ContagionParams":
        """Real time (``realtime: true``): ``route: auto`` is resolved on each window alone
        (``route_scope: window``), so that no window's VAR estimator depends on later windows' banks or
        rows. Everything else is causal already (docs/contagion.md, "Real time")."""
        return dataclasses.replace(self, route_scope="window") if self.route == "auto" else self

    def chain(self) -> ContagionConfig:
        """The options of the chain alone."""
        return ContagionConfig(**self.chain_options())


@dataclass(frozen=True)
class ContagionAnalysis:
    """Result of :func:`analyse_contagion`.

    Attributes
    ----------
    panel : ContagionPanel
        CRW, edges, windows, exclusions, spans of the contagion windows.
    connectedness : DataFrame
        ``window_end, n_banks, total, lags, nobs, status`` (rolling DY total).
    directional : DataFrame
        ``<key>, bank_id, to, from, net`` on each contagion window.
    events : DataFrame
        Exclusions and flags (``EVENT_COLUMNS``).
    """

    panel: ContagionPanel
    connectedness: pd.DataFrame
    directional: pd.DataFrame
    events: pd.DataFrame

    @property
    def key(self) -> str:
        """``year`` or ``window_end``."""
        return self.panel.key

    def check_estimable(self) -> None:
        """Raise :class:`NotEstimable` when no window has contagion weights (naming the first window's reason)."""
        if len(self.panel.crw):
            return
        windows = self.panel.windows
        if not len(windows):
            raise NotEstimable("the ΔCoVaR series has no contagion window", needs="a longer ΔCoVaR series")
        # the most telling window: the first with banks (its VAR failed), else the first
        with_banks = windows[windows["n_banks"] >= 2]
        first = (with_banks if len(with_banks) else windows).iloc[0]
        raise NotEstimable(f"no window can be estimated; {self.key} {first[self.key]}: "
                           f"{FitStatus.parse(first['status']).message}",
                           needs="at least two banks with contagion.min_obs observations in a window, and a window "
                                 "long enough for the VAR (or contagion.route: sparse, or contagion.mode: pairwise)")


def check_plan(prices: pd.DataFrame, params: ContagionParams, *, has_states: bool) -> list[tuple[str, str]]:
    """What :func:`analyse_contagion` will estimate, from the canonical prices (``python -m pipeline check`` lines).

    With ``window: year``: per calendar year the banks with ``min_obs`` price days (an upper bound:
    the ΔCoVaR series can only have fewer), the years with fewer than two such banks (no weights)
    and the bank-years left out, and the VAR route when it is not least squares chosen by ``auto``
    (:func:`~measures.contagion.route.choose_route` on the years' banks and days). ``has_states``:
    the data has a market_states table, which the ``qr`` and ``spillover`` series need.
    """
    if params.series != "dcc" and not has_states:
        return [("cannot", f"contagion with contagion.series: {params.series}: the {SERIES[params.series]} ΔCoVaR "
                           "needs a market_states table, which the data lacks (contagion.series: dcc needs prices only)")]
    if params.window != "year":
        return [("estimates", f"contagion on rolling windows of {params.window_length} rows every {params.step} rows "
                              f"(ΔCoVaR series: {params.series})")]
    observed = prices[prices["close"].gt(0)]
    counts = observed.groupby([observed["date"].dt.year, observed["bank_id"].astype(str)]).size().unstack(fill_value=0)
    lines = []
    good = [int(y) for y in counts.index if (counts.loc[y] >= params.min_obs).sum() >= 2]
    if good:
        lines.append(("estimates", f"CRW per year for {good[0]}..{good[-1]} ({len(good)} year(s); ΔCoVaR series: "
                                   f"{params.series})"))
    for year in counts.index:
        short = sorted(b for b in counts.columns if 0 < counts.at[year, b] < params.min_obs)
        if int(year) not in good:
            lines.append(("skips", f"contagion year {int(year)}: fewer than 2 banks with {params.min_obs} days "
                                   "(contagion.min_obs): no weights"))
        elif short:
            lines.append(("skips", f"contagion year {int(year)}: bank(s) {', '.join(short)} below contagion.min_obs="
                                   f"{params.min_obs} days, left out of that year"))
    if not good:
        lines.append(("cannot", f"contagion: no year has two banks with contagion.min_obs={params.min_obs} days"))
        return lines
    rows = observed.groupby(observed["date"].dt.year)["date"].nunique()
    sizes = [(int(y), int((counts.loc[y] >= params.min_obs).sum()), int(rows[y])) for y in counts.index]
    sizes = [(f"year {y}", n, r) for y, n, r in sizes]
    route, routes = window_routes(sizes, params, lags=params.lags or params.max_lags)
    if params.route == "auto" and params.route_scope == "window":
        lines.append(("estimates", f"contagion VARs chosen per year (contagion.route_scope: window): "
                                   f"{routes.count('ols')} year(s) least squares, {routes.count('sparse')} the LASSO VAR "
                                   "(from the price days)"))
    elif route.var == "sparse" or params.route != "auto":  # least squares as usual: nothing to say
        lines.append(("estimates", f"contagion Granger network: {route.granger}, connectedness VARs: {route.var} "
                                   f"(from the price days; {route.reason})"))
    return lines


def contagion_events(panel: ContagionPanel) -> pd.DataFrame:
    """Events of a :class:`ContagionPanel`: banks excluded from a window and windows without weights.

    A bank below ``min_obs`` gives reason ``min_obs``, a constant one ``constant_series`` (with the
    window's first and last date and the bank's observation count); a failed window gives
    ``window_failed`` (no bank, the window's row count).
    """
    key = panel.key
    spans = panel.spans.set_index(key)
    rows = []
    for e in panel.exclusions.itertuples(index=False):
        label = getattr(e, key)
        text = str(e.reason)
        reason = "min_obs" if text.startswith("fewer than") else "too_sparse" if text.startswith("too sparse") \
            else "filter_failed" if text.startswith("GARCH") else "constant_series"
        rows.append({"bank_id": str(e.bank_id), "date_start": spans.at[label, "date_start"],
                     "date_end": spans.at[label, "date_end"], "n_rows": int(e.n_obs), "action": "excluded",
                     "reason": reason, "detail": f"{key} {label}: {e.reason}"})
    for w in panel.windows.itertuples(index=False):
        if is_failed(w.status):
            label = getattr(w, key)
            rows.append({"bank_id": None, "date_start": spans.at[label, "date_start"],
                         "date_end": spans.at[label, "date_end"], "n_rows": int(spans.at[label, "n_rows"]),
                         "action": "excluded", "reason": "window_failed",
                         "detail": f"{key} {label}: no contagion weights: {w.status}"})
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def connectedness_events(panel: ContagionPanel, rolling: pd.DataFrame, failed: pd.DataFrame, *, window: int,
                         sparse: pd.DataFrame | None = None) -> pd.DataFrame:
    """``connectedness_failed`` flags: contagion windows without directional connectedness
    (``failed``: ``<key>, status``) and failed rolling windows of ``window`` rows (``rolling``); one
    ``too_sparse`` exclusion per bank left out of rolling windows as too sparse for their VAR
    (``sparse``: ``window_end, bank_id``)."""
    key = panel.key
    spans = panel.spans.set_index(key)
    rows = []
    for label, status in zip(failed[key], failed["status"]):
        rows.append({"bank_id": None, "date_start": spans.at[label, "date_start"], "date_end": spans.at[label, "date_end"],
                     "n_rows": int(spans.at[label, "n_rows"]), "action": "flagged", "reason": "connectedness_failed",
                     "detail": f"{key} {label}: no directional connectedness: {FitStatus.parse(status).message}"})
    for row in rolling.itertuples(index=False):
        if is_failed(row.status):
            rows.append({"bank_id": None, "date_start": row.window_end, "date_end": row.window_end, "n_rows": window,
                         "action": "flagged", "reason": "connectedness_failed",
                         "detail": f"rolling window ending {row.window_end:%Y-%m-%d}: {row.status}"})
    for bank, g in (sparse if sparse is not None else pd.DataFrame(columns=["window_end", "bank_id"])).groupby("bank_id"):
        rows.append({"bank_id": str(bank), "date_start": g["window_end"].min(), "date_end": g["window_end"].max(),
                     "n_rows": len(g), "action": "excluded", "reason": "too_sparse",
                     "detail": f"left out of {len(g)} rolling connectedness window(s) of {window} rows (their ends: "
                               "date_start .. date_end): too sparse for the window's VAR after aligning"})
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def analysis_route(series: pd.DataFrame, config: ContagionConfig, conn: ConnectednessConfig) -> Route:
    """The route of every VAR of :func:`analyse_contagion`: ``contagion.route`` resolved over the contagion
    windows and the rolling connectedness windows together (:func:`~measures.contagion.route.choose_route`;
    the connectedness windows need ``min(min_obs, window)`` observations per bank); with ``route_scope:
    window`` the route ``per window`` (each window resolves its own)."""
    if config.route == "auto" and config.route_scope == "window":
        return Route(var="per window", granger="pairwise" if config.mode == "pairwise" else "per window",
                     reason="route auto per window (contagion.route_scope: window): each window's VAR estimator from "
                            "its own banks and rows alone (the route column of contagion_windows)")
    wins, labels = contagion_windows(series.index, config)
    sizes = window_sizes(series, wins, [f"{config.key} {label}" for label in labels], min_obs=config.min_obs)
    if len(series) >= conn.window:
        rolling = rolling_windows(series.index, conn.window, conn.step)
        ends = [f"connectedness window ending {pd.Timestamp(end):%Y-%m-%d}" for end in rolling.label]
        sizes += window_sizes(series, rolling, ends, min_obs=min(config.min_obs, conn.window))
    lags = [x for x in (config.lags, conn.lags) if x is not None] or [config.max_lags]
    return choose_route(sizes, lags=max(lags), route=config.route, mode=config.mode,
                        ols_ratio=config.sparse.ols_ratio)


def route_events(series: pd.DataFrame, route: Route) -> pd.DataFrame:
    """One ``kept`` / ``var_route`` event: the estimator of the Granger network and of the connectedness, and why."""
    return pd.DataFrame([{"bank_id": None, "date_start": series.index[0] if len(series) else None,
                          "date_end": series.index[-1] if len(series) else None, "n_rows": len(series),
                          "action": "kept", "reason": "var_route",
                          "detail": f"Granger network: {route.granger}, connectedness VARs: {route.var}; {route.reason}"}],
                        columns=list(EVENT_COLUMNS))


def edge_share_events(panel: ContagionPanel, config: ContagionConfig) -> pd.DataFrame:
    """One ``kept`` / ``significant_edges`` event: the share of Granger edges flagged ``significant``
    (Benjamini–Hochberg at ``fdr_alpha``) over every window, with the pre-filter (none without FDR columns)."""
    edges = panel.edges
    if config.fdr_alpha is None or not len(edges):
        return pd.DataFrame(columns=list(EVENT_COLUMNS))
    share = float(edges["significant"].mean())
    return pd.DataFrame([{"bank_id": None, "date_start": panel.spans["date_start"].min(),
                          "date_end": panel.spans["date_end"].max(), "n_rows": len(edges), "action": "kept",
                          "reason": "significant_edges",
                          "detail": f"contagion.filter: {config.filter}: {int(edges['significant'].sum())} of {len(edges)} "
                                    f"Granger edges significant at fdr_alpha={config.fdr_alpha:g} ({100 * share:.1f} %)"}],
                        columns=list(EVENT_COLUMNS))


def _weights(series: pd.DataFrame, config: ContagionConfig, conn: ConnectednessConfig,
             mapper: Mapper | None) -> tuple[Route, str, ContagionPanel]:
    """The route, its resolution and the Granger → PageRank panel of one ΔCoVaR frame."""
    route = analysis_route(series, config, conn)
    resolved = "auto" if route.var == "per window" else route.var  # per window: each window resolves its own
    return route, resolved, estimate_contagion(series, **{**config.chain_options(), "route": resolved}, mapper=mapper)


def robustness_crw(series: str, frame: pd.DataFrame, config: ContagionConfig | None = None,
                   connectedness: ConnectednessConfig | None = None, *, panel: ContagionPanel | None = None,
                   mapper: Mapper | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The CRW of one more ΔCoVaR series, for the panel's robustness table (Liu–Ma 2021's CRW from
    ΔCoVaR-DCC, ΔCoVaR-QR and the spillover ΔCoVaR side by side).

    ``CRW_i = PageRank(A)_i``, ``A_ij = 1 - p_ij`` (Granger p-values per window), exactly the chain of
    :func:`analyse_contagion` on ``frame`` (dates x banks) with the same ``config`` and route rule; pass
    ``panel`` when the chain already ran on this series (its CRW is reused, bit for bit).

    Returns
    -------
    (crw, events)
        ``<key>, series, bank_id, crw`` (key ``year`` or ``window_end``) and the exclusions of the chain
        (``EVENT_COLUMNS``); a series with no estimable window gives no rows and a
        ``robustness_series_failed`` event.
    """
    config = config or ContagionConfig()
    events = pd.DataFrame(columns=list(EVENT_COLUMNS))
    if panel is None:
        _, _, panel = _weights(frame, config, connectedness or ConnectednessConfig(), mapper)
        events = contagion_events(panel)
    key = panel.key
    crw = panel.crw.assign(series=series)[[key, "series", "bank_id", "crw"]]
    if not len(crw):
        failed = pd.DataFrame([{"bank_id": None, "date_start": None, "date_end": None, "n_rows": len(frame),
                                "action": "excluded", "reason": "robustness_series_failed",
                                "detail": f"contagion.robustness_series: {series}: no window has contagion weights"}],
                              columns=list(EVENT_COLUMNS))
        events = pd.concat([e for e in (events, failed) if len(e)], ignore_index=True)
    return crw.reset_index(drop=True), events


def analyse_contagion(series: pd.DataFrame, config: ContagionConfig | None = None,
                      connectedness: ConnectednessConfig | None = None, *, mapper: Mapper | None = None) -> ContagionAnalysis:
    """Granger → PageRank CRW per window, rolling DY total and per-window DY directional connectedness.

    Parameters
    ----------
    series : DataFrame
        Dates x banks ΔCoVaR (NaN = not observed).
    config : ContagionConfig, optional
        The chain's options (windows, screening, VAR, PageRank, FDR); default ``ContagionConfig()``.
        The connectedness VARs use its ``min_obs``, ``max_lags`` and ``ic``.
    connectedness : ConnectednessConfig, optional
        Horizon, rolling windows and lag order of the DY connectedness; default ``ConnectednessConfig()``.
    mapper : Mapper, optional
        Maps the windows (:mod:`measures.core.mapping`); results do not depend on it.

    Returns
    -------
    ContagionAnalysis
    """
    config = config or ContagionConfig()
    conn = connectedness or ConnectednessConfig()
    route, resolved, panel = _weights(series, config, conn, mapper)
    var = {"max_lags": config.max_lags, "ic": config.ic, "route": resolved, "ebic_gamma": config.sparse.ebic_gamma,
           "ols_ratio": config.sparse.ols_ratio}
    rolling = estimate_rolling_connectedness(series, window=conn.window, step=conn.step, horizon=conn.horizon,
                                             lags=conn.lags, min_obs=config.min_obs, **var, mapper=mapper)
    spans = panel.spans[[panel.key, "date_start", "date_end"]]
    windows = panel.crw[["bank_id", panel.key]].merge(spans, on=panel.key, how="left")
    directional, failed = window_connectedness(series, windows, key=panel.key, horizon=conn.horizon, lags=conn.lags,
                                               **var, mapper=mapper)
    flags = connectedness_events(panel, rolling.total, failed, window=conn.window, sparse=rolling.sparse)
    frames = [f for f in (route_events(series, route), contagion_events(panel), flags, edge_share_events(panel, config))
              if len(f)]
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(EVENT_COLUMNS))
    return ContagionAnalysis(panel=panel, connectedness=rolling.total, directional=directional, events=events)
