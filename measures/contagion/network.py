"""The contagion chain per window: standardize → Granger p-values → PageRank (Liu–Ma 2021, docs/contagion.md).

For each calendar year (default) or rolling window of a dates x banks frame (e.g. the DCC
ΔCoVaR of every bank): keep the banks with at least ``min_obs`` observations and a non-constant
series inside the window (the others are excluded *for that window* and recorded with the
reason), standardize each kept series inside the window, ``z = (x - mean) / sd`` (``ddof=1``;
Granger F tests and the IC choice are invariant to it, it only conditions the numerics),
compute the Granger p-value matrix (:func:`granger_pvalues`), the BH-controlled edge set
(:func:`granger_edges`) and the contagion risk weights (:func:`contagion_weights`, summing to 1
per window). Windows come from :mod:`measures.core.windows`. A window with fewer than two
kept banks gets no weights and a ``failed`` status row. Before the VAR, the banks too sparse for it
after aligning (scattered gaps that leave the joint VAR too few usable rows,
:func:`~measures.contagion.var.sparse_series`) are excluded from the window and recorded; a VAR still
too large for the window (complete series, too short a window) fails the window with a status.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from measures.contagion.edges import granger_edges
from measures.contagion.filters import FILTERS, prefilter
from measures.contagion.granger import GrangerConfig, granger_pvalues
from measures.contagion.pagerank import DIRECTIONS, contagion_weights
from measures.contagion.route import ROUTES, Route, choose_route, window_sizes
from measures.contagion.sparse_var import SparseVarConfig, sparse_needs
from measures.contagion.var import sparse_series
from measures.core.config import Config, check_choice, check_range
from measures.core.mapping import Mapper, map_items
from measures.core.status import status_from_exception
from measures.core.windows import Windows, calendar_windows, rolling_windows

WINDOWS = ("year", "rolling")
#: ``contagion.route_scope``: ``route: auto`` resolved over all windows together, or on each window alone.
ROUTE_SCOPES = ("panel", "window")
#: Pairwise mode with fewer windows than this maps chunks of pairs within each window, not the windows.
PAIRS_BELOW = 8


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContagionConfig(Config):
    """Options of :func:`estimate_contagion` (the ``contagion`` params group).

    ``window_length`` and ``step`` (rows) apply to ``window="rolling"`` only; the default step of
    20 rows (about a month of trading days) is this module's choice, the source papers are silent
    on it. ``min_obs=120`` (about half a trading year) is likewise a default (docs/contagion.md).
    ``fdr_alpha=None`` leaves the Benjamini–Hochberg columns out of the edge table. ``route``
    (``auto`` | ``ols`` | ``sparse``) and the nested ``sparse`` options choose the VAR estimator
    (:mod:`~measures.contagion.route`). ``filter`` (``none`` | ``difference`` | ``garch``) transforms
    each bank's series inside each window before the Granger VAR (:mod:`~measures.contagion.filters`).
    ``route_scope``: ``panel`` resolves ``route: auto`` over every window (one estimator for the whole
    panel), ``window`` on each window alone (no window's estimator depends on other windows: real time).
    """

    window: str = "year"
    window_length: int = 250
    step: int = 20
    min_obs: int = 120
    max_lags: int = 5
    ic: str = "aic"
    mode: str = "system"
    lags: int | None = None
    engine: str = "numpy"
    direction: str = "source"
    damping: float = 0.85
    fdr_alpha: float | None = 0.05
    route: str = "auto"
    sparse: SparseVarConfig = SparseVarConfig()
    filter: str = "none"  # noqa: A003 (the params key)
    route_scope: str = "panel"

    def validate(self) -> None:
        check_choice("window", self.window, WINDOWS)
        check_choice("route_scope", self.route_scope, ROUTE_SCOPES)
        check_choice("filter", self.filter, FILTERS)
        check_choice("route", self.route, ROUTES)
        check_range("window_length", self.window_length, low=2, integer=True)
        check_range("step", self.step, low=1, integer=True)
        check_range("min_obs", self.min_obs, low=2, integer=True)
        GrangerConfig(max_lags=self.max_lags, ic=self.ic, mode=self.mode, lags=self.lags, engine=self.engine)
        check_choice("direction", self.direction, DIRECTIONS)
        check_range("damping", self.damping, low=0.0, high=1.0, low_open=True, high_open=True)
        if self.fdr_alpha is not None:
            check_range("fdr_alpha", self.fdr_alpha, low=0.0, high=1.0, low_open=True, high_open=True)

    @property
    def key(self) -> str:
        """The window key of the outputs: ``year`` or ``window_end``."""
        return "year" if self.window == "year" else "window_end"

    def chain_options(self) -> dict:
        """The keyword options of :func:`estimate_contagion` (the fields of this class alone)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ContagionConfig)}


@dataclasses.dataclass(frozen=True)
class ContagionPanel:
    """Result of :func:`estimate_contagion`; the window key is ``year`` (int) or ``window_end`` (date).

    Attributes
    ----------
    crw : DataFrame
        ``bank_id, <key>, crw`` — weights summing to 1 in each window.
    edges : DataFrame
        ``<key>, source, target, p_value, lags, weight`` and, unless ``fdr_alpha`` is None,
        ``q_value, significant``.
    windows : DataFrame
        ``<key>, n_banks, nobs, lags, aic, bic, hqic, route, status`` — one row per window (for pairwise
        mode ``nobs`` / ``lags`` / ICs are the median over pairs; ICs NaN on the sparse route);
        ``route`` is ``ols``, ``sparse`` or ``pairwise``.
    exclusions : DataFrame
        ``bank_id, <key>, n_obs, reason`` — banks left out of a window.
    pvalues : dict
        Window label -> the p-value matrix (with its ``attrs``).
    spans : DataFrame
        ``<key>, date_start, date_end, n_rows`` — the first and last date of every window.
    route : Route
        The estimator used and why (:func:`~measures.contagion.route.choose_route`).
    """

    crw: pd.DataFrame
    edges: pd.DataFrame
    windows: pd.DataFrame
    exclusions: pd.DataFrame
    pvalues: dict
    spans: pd.DataFrame
    route: Route | None = None

    @property
    def key(self) -> str:
        return str(self.windows.columns[0])


def _standardize(block: pd.DataFrame) -> pd.DataFrame:
    return (block - block.mean()) / block.std(ddof=1)


def _screen(block: pd.DataFrame, min_obs: int) -> tuple[list, list[tuple]]:
    """Banks kept, and ``(bank, n_obs, reason)`` for the excluded ones."""
    kept, dropped = [], []
    counts = block.notna().sum()
    for bank in block.columns:
        n = int(counts[bank])
        if n < min_obs:
            dropped.append((bank, n, f"fewer than min_obs={min_obs} observations in the window ({n})"))
        elif not np.nanstd(block[bank].to_numpy(dtype=float, na_value=np.nan)) > 0:
            dropped.append((bank, n, "constant series in the window (zero variance)"))
        else:
            kept.append(bank)
    return kept, dropped


def _screen_sparse(block: pd.DataFrame, kept: list, cfg: "ContagionConfig") -> tuple[list, list[tuple]]:
    """Banks kept after :func:`~measures.contagion.var.sparse_series`, and ``(bank, n_obs, reason)`` of the others."""
    lags = cfg.lags if cfg.lags is not None else cfg.max_lags
    lasso = cfg.route == "sparse" and cfg.mode == "system"
    what = "bivariate VARs" if cfg.mode == "pairwise" else "sparse VAR" if lasso else "system VAR"
    y = block[kept].to_numpy(dtype=float, na_value=np.nan)
    dropped = []
    for col, usable, need in sparse_series(y, lags, select=cfg.lags is None and not lasso, pairwise=cfg.mode == "pairwise",
                                           min_rows=sparse_needs(lags) if lasso else None):
        bank = kept[col]
        dropped.append((bank, int(block[bank].notna().sum()),
                        f"too sparse for the {what} after aligning: with it {usable} observations are usable at lag "
                        f"order {lags} (every bank and lag observed), the VAR needs {need}"))
    gone = {b for b, _, _ in dropped}
    return [b for b in kept if b not in gone], dropped


def _summary(attrs: dict) -> dict:
    def scalar(value):
        if value is None:
            return np.nan
        if np.ndim(value) == 2:  # pairwise mode: median over the pairs
            a = np.asarray(value, dtype=float)
            return float(np.median(a[~np.eye(a.shape[0], dtype=bool)]))
        return value

    choice = attrs.get("lag_choice") or {}
    return {"nobs": scalar(attrs["nobs"]), "lags": scalar(attrs["lags"]),
            **{ic: scalar(choice.get(ic)) for ic in ("aic", "bic", "hqic")}}


def contagion_windows(index: pd.DatetimeIndex, cfg: ContagionConfig) -> tuple[Windows, list]:
    """The windows of :func:`estimate_contagion` and their labels (years, or last dates)."""
    if cfg.window == "year":
        wins = calendar_windows(index, "Y")
        return wins, [int(p.year) for p in wins.label]
    wins = rolling_windows(index, cfg.window_length, cfg.step)
    return wins, list(wins.label)


def window_routes(sizes: list[tuple], cfg: ContagionConfig, *, lags: int) -> tuple[Route, list[str]]:
    """The route of the panel and the VAR route (``ols`` | ``sparse``) of each window ``(label, n_banks,
    n_rows)`` at lag order ``lags``: the panel's, or with ``route: auto`` and ``route_scope: window``
    each window's own (:func:`~measures.contagion.route.choose_route` on that window alone)."""
    opts = {"lags": lags, "route": cfg.route, "mode": cfg.mode, "ols_ratio": cfg.sparse.ols_ratio}
    chosen = choose_route(sizes, **opts)
    if cfg.route != "auto" or cfg.route_scope == "panel":
        return chosen, [chosen.var] * len(sizes)
    routes = [choose_route([size], **opts).var for size in sizes]
    reason = (f"route auto per window (contagion.route_scope: window): {routes.count('ols')} window(s) ols, "
              f"{routes.count('sparse')} sparse, each from its own banks and rows")
    var = "sparse" if "sparse" in routes else "ols"
    return Route(var=var, granger="pairwise" if cfg.mode == "pairwise" else var, reason=reason), routes


def _contagion_window(item: tuple, *, cfg: ContagionConfig, mapper: Mapper | None = None) -> dict:
    """One window ``(label, block, route)`` of :func:`estimate_contagion` (module level: picklable);
    ``route`` is the window's resolved VAR route (``ols`` or ``sparse``); ``mapper`` maps the pairs of
    pairwise mode."""
    label, block, route = item
    cfg = dataclasses.replace(cfg, route=route)
    key = cfg.key
    block, dropped = prefilter(block, cfg.filter)
    kept, screened = _screen(block.drop(columns=[b for b, _, _ in dropped]), cfg.min_obs)
    dropped += screened
    if len(kept) >= 2:
        kept, sparse = _screen_sparse(block, kept, cfg)
        dropped += sparse
    out = {"exclusions": [{"bank_id": b, key: label, "n_obs": n, "reason": r} for b, n, r in dropped]}
    route = "pairwise" if cfg.mode == "pairwise" else cfg.route
    failed = {key: label, "n_banks": len(kept), "nobs": np.nan, "lags": np.nan, "aic": np.nan, "bic": np.nan,
              "hqic": np.nan, "route": route}
    if len(kept) < 2:
        out["window"] = {**failed, "status": f"failed:ValueError: {len(kept)} bank(s) left after min_obs screening; need 2"}
        return out
    try:
        p = granger_pvalues(_standardize(block[kept]), max_lags=cfg.max_lags, ic=cfg.ic, mode=cfg.mode,
                            lags=cfg.lags, engine=cfg.engine, route=cfg.route, ebic_gamma=cfg.sparse.ebic_gamma,
                            mapper=mapper)
    except ValueError as exc:  # e.g. a system VAR too large for the window: this window fails
        out["window"] = {**failed, "status": str(status_from_exception(exc))}
        return out
    e = granger_edges(p, fdr_alpha=cfg.fdr_alpha if cfg.fdr_alpha is not None else 0.05)
    if cfg.fdr_alpha is None:
        e = e.drop(columns=["q_value", "significant"])
    w = contagion_weights(p, direction=cfg.direction, damping=cfg.damping)
    out.update(pvalues=p, window={key: label, "n_banks": len(kept), **_summary(p.attrs), "route": route,
                                  "status": p.attrs["status"]},
               edges=e.assign(**{key: label})[[key, *e.columns]],
               crw=pd.DataFrame({"bank_id": w.index.to_numpy(), key: label, "crw": w.to_numpy()}))
    return out


def estimate_contagion(
    series: pd.DataFrame,
    *,
    window: str = "year",
    window_length: int = 250,
    step: int = 20,
    min_obs: int = 120,
    max_lags: int = 5,
    ic: str = "aic",
    mode: str = "system",
    lags: int | None = None,
    engine: str = "numpy",
    direction: str = "source",
    damping: float = 0.85,
    fdr_alpha: float | None = 0.05,
    route: str = "auto",
    sparse: SparseVarConfig | dict = SparseVarConfig(),
    filter: str = "none",  # noqa: A002 (the params key)
    route_scope: str = "panel",
    mapper: Mapper | None = None,
) -> ContagionPanel:
    """Run the Granger → PageRank chain per window of a dates x banks frame.

    Parameters
    ----------
    series : DataFrame
        Strictly increasing DatetimeIndex, one column per bank (NaN = not observed).
    window : {"year", "rolling"}
        Calendar years, or rolling windows of ``window_length`` rows every ``step`` rows
        (labelled by their last date: no look-ahead).
    min_obs : int
        A bank with fewer observations inside a window is excluded from it (recorded).
    max_lags, ic, mode, lags, engine
        As in :func:`granger_pvalues`.
    direction, damping
        As in :func:`contagion_weights`.
    fdr_alpha : float or None
        Benjamini–Hochberg level for the ``significant`` flag of the edge table (None: no
        ``q_value`` / ``significant`` columns).
    route : {"auto", "ols", "sparse"}
        VAR estimator of system mode; ``auto`` resolved over these windows by
        :func:`~measures.contagion.route.choose_route` (``sparse.ols_ratio``), or on each window alone
        with ``route_scope="window"`` (:func:`window_routes`).
    route_scope : {"panel", "window"}
        See :class:`ContagionConfig`.
    sparse : SparseVarConfig
        Options of the LASSO VAR and of the route rule.
    filter : {"none", "difference", "garch"}
        Pre-filter of each bank's series inside each window (:func:`~measures.contagion.filters.prefilter`).
    mapper : Mapper, optional
        Maps the windows (:mod:`measures.core.mapping`; one item per window, carrying its rows), or
        in pairwise mode with fewer than :data:`PAIRS_BELOW` windows the chunks of pairs of each
        window (:func:`granger_pvalues`); results do not depend on it.

    Returns
    -------
    ContagionPanel

    Notes
    -----
    The options are those of :class:`ContagionConfig`:
    ``estimate_contagion(series, **config.chain_options())``. In each window ``w`` with kept
    banks ``i = 1..N_w`` the series ``z_i = (x_i - mean_w(x_i)) / sd_w(x_i)`` enter one VAR
    (or bivariate VARs), the adjacency is ``A_ij = 1 - p_ij`` and the weights are the PageRank
    of ``A`` (Liu–Ma 2021; docs/contagion.md).
    """
    cfg = ContagionConfig(window=window, window_length=window_length, step=step, min_obs=min_obs,
                          max_lags=max_lags, ic=ic, mode=mode, lags=lags, engine=engine, direction=direction,
                          damping=damping, fdr_alpha=fdr_alpha, route=route, filter=filter,
                          route_scope=route_scope, sparse=SparseVarConfig.from_mapping(sparse, where="sparse") if isinstance(sparse, dict) else sparse)
    if not isinstance(series, pd.DataFrame) or not isinstance(series.index, pd.DatetimeIndex):
        got = f"{type(series).__name__} with index {type(getattr(series, 'index', None)).__name__}"
        raise ValueError(f"series must be a pandas DataFrame with a DatetimeIndex (dates x banks); got {got}")  # noqa: TRY004
    key = cfg.key
    wins, labels = contagion_windows(series.index, cfg)
    spans = pd.DataFrame({key: labels, "date_start": series.index[wins.start], "date_end": series.index[wins.stop - 1],
                          "n_rows": (wins.stop - wins.start).astype("int64")})

    lags_max = cfg.lags if cfg.lags is not None else cfg.max_lags
    sizes = window_sizes(series, wins, [f"{key} {label}" for label in labels], min_obs=cfg.min_obs)
    chosen, routes = window_routes(sizes, cfg, lags=lags_max)
    fn = functools.partial(_contagion_window, cfg=cfg)
    items = [(label, series.iloc[rows], route) for label, rows, route in zip(labels, wins.slices(), routes)]
    if cfg.mode == "pairwise" and len(items) < PAIRS_BELOW:  # few windows: map chunks of pairs inside each
        results = [fn(item, mapper=mapper) for item in items]
    else:
        results = map_items(mapper, fn, items, desc="contagion windows")
    edge_cols = [key, "source", "target", "p_value", "lags", "weight"] + (["q_value", "significant"] if cfg.fdr_alpha is not None else [])
    crw = [r["crw"] for r in results if "crw" in r]
    edges = [r["edges"][edge_cols] for r in results if "edges" in r]
    return ContagionPanel(
        crw=pd.concat(crw, ignore_index=True) if crw else pd.DataFrame(columns=["bank_id", key, "crw"]),
        edges=pd.concat(edges, ignore_index=True) if edges else pd.DataFrame(columns=edge_cols),
        windows=pd.DataFrame([r["window"] for r in results],
                             columns=[key, "n_banks", "nobs", "lags", "aic", "bic", "hqic", "route", "status"]),
        exclusions=pd.DataFrame([x for r in results for x in r["exclusions"]], columns=["bank_id", key, "n_obs", "reason"]),
        pvalues={label: r["pvalues"] for label, r in zip(labels, results) if "pvalues" in r},
        spans=spans,
        route=chosen,
    )
