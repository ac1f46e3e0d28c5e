"""Diebold–Yilmaz connectedness from the generalized FEVD of a VAR.

Generalized forecast-error variance decomposition (Koop, Pesaran & Potter 1996; Pesaran & Shin
1998, Econ. Lett. 58) at horizon H, for the VAR ``y_t = c + Σ_l A_l y_{t-l} + u_t``,
``Var(u_t) = Σ``, with MA coefficients ``Φ_0 = I``, ``Φ_h = Σ_{l=1}^{min(h,p)} A_l Φ_{h-l}``:

.. math:: θ_{ij}(H) = \\frac{σ_{jj}^{-1} \\sum_{h=0}^{H-1} (e_i' Φ_h Σ e_j)^2}
                          {\\sum_{h=0}^{H-1} e_i' Φ_h Σ Φ_h' e_i},\\qquad
          \\tildeθ_{ij}(H) = θ_{ij}(H) / \\sum_j θ_{ij}(H)

(the share of series i's H-step forecast-error variance due to shocks in j; row-normalized as
in Diebold & Yilmaz 2012, Int. J. Forecast. 28). ``θ_{ij}`` equals the Cholesky FEVD share of i
due to shock j when j is ordered first, so with a diagonal ``Σ`` the generalized and the
orthogonalized FEVD coincide (tests/test_connectedness.py checks both against statsmodels).

Connectedness, in percent, with the conventions of Diebold & Yilmaz (2014, J. Econometrics 182):
pairwise ``C_{i←j} = 100 θ̃_ij``; from others ``C_{i←•} = Σ_{j≠i} C_{i←j}``; to others
``C_{•←j} = Σ_{i≠j} C_{i←j}``; net ``C_j = C_{•←j} − C_{j←•}``; net pairwise
``C_{ij} = C_{j←i} − C_{i←j}`` (from i to j, net); total ``C = (1/N) Σ_{i≠j} C_{i←j}``.
(DY 2012 divide the directional measures by N as well; we do not, so that the to/from columns
are the off-diagonal column/row sums of the connectedness table, as printed in both papers.)
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from measures.contagion.granger import GrangerConfig
from measures.contagion.route import window_route
from measures.contagion.sparse_var import fit_sparse_var, sparse_needs
from measures.contagion.var import fit_var, select_lag_order, series_to_array, sparse_series
from measures.core.config import Config, check_range
from measures.core.mapping import Mapper, map_items
from measures.core.status import status_from_exception
from measures.core.windows import rolling_windows


def generalized_fevd(coefs: np.ndarray, sigma_u: np.ndarray, *, horizon: int, normalize: bool = True) -> np.ndarray:
    """Pesaran–Shin generalized FEVD ``θ(H)`` (``normalize=True``: rows scaled to sum to 1).

    ``coefs`` is ``(p, N, N)`` with ``coefs[l][j, i]`` the effect of series i at lag l+1 on
    series j (statsmodels' ``VARResults.coefs`` layout); ``sigma_u`` the ``(N, N)`` residual
    covariance. Entry ``[i, j]`` is the share of i's forecast-error variance due to j.
    """
    check_range("horizon", horizon, low=1, integer=True)
    coefs = np.asarray(coefs, dtype=float)
    sigma = np.asarray(sigma_u, dtype=float)
    if coefs.ndim != 3 or coefs.shape[1:] != sigma.shape or sigma.shape[0] != sigma.shape[1]:
        raise ValueError(f"coefs must be (p, N, N) and sigma_u (N, N); got {coefs.shape} and {sigma.shape}")
    if not (np.diag(sigma) > 0).all():
        raise ValueError(f"sigma_u must have a positive diagonal; got {np.diag(sigma).tolist()}")
    n, p = sigma.shape[0], coefs.shape[0]
    phi = [np.eye(n)]
    for h in range(1, horizon):
        phi.append(sum(coefs[l - 1] @ phi[h - l] for l in range(1, min(h, p) + 1)))
    num = np.zeros((n, n))
    den = np.zeros(n)
    for ph in phi:
        ps = ph @ sigma
        num += ps**2
        den += np.einsum("ij,ij->i", ps, ph)
    theta = num / np.diag(sigma)[None, :] / den[:, None]
    return theta / theta.sum(axis=1, keepdims=True) if normalize else theta


@dataclasses.dataclass(frozen=True)
class Connectedness:
    """Diebold–Yilmaz connectedness of one VAR (all in percent).

    ``table[i, j]`` = ``C_{i←j}`` (row receives, column transmits); ``to``, ``from_``, ``net``
    per bank; ``net_pairwise[i, j]`` = net flow from i to j; ``total``; plus the VAR ``lags``,
    ``nobs``, ``horizon`` and fit ``status``.
    """

    table: pd.DataFrame
    to: pd.Series
    from_: pd.Series
    net: pd.Series
    net_pairwise: pd.DataFrame
    total: float
    lags: int
    nobs: int
    horizon: int
    status: str = "ok"


def connectedness_measures(fevd: np.ndarray, banks: pd.Index, *, lags: int = 0, nobs: int = 0,
                           horizon: int = 0, status: str = "ok") -> Connectedness:
    """Total, directional, net and pairwise connectedness from a row-normalized FEVD."""
    c = 100.0 * np.asarray(fevd, dtype=float)
    off = c - np.diag(np.diag(c))
    banks = pd.Index(banks, name="bank_id")
    to = pd.Series(off.sum(axis=0), index=banks, name="to")
    from_ = pd.Series(off.sum(axis=1), index=banks, name="from")
    return Connectedness(
        table=pd.DataFrame(c, index=banks.rename("receiver"), columns=banks.rename("transmitter")),
        to=to, from_=from_, net=(to - from_).rename("net"),
        net_pairwise=pd.DataFrame(c.T - c, index=banks.rename("source"), columns=banks.rename("target")),
        total=float(off.sum() / c.shape[0]), lags=lags, nobs=nobs, horizon=horizon, status=status,
    )


def estimate_connectedness(series: pd.DataFrame, *, horizon: int = 10, lags: int | None = None,
                           max_lags: int = 5, ic: str = "aic", route: str = "ols",
                           ebic_gamma: float = 0.0) -> Connectedness:
    """Fit a VAR on ``series`` (dates x banks) and return its DY connectedness at ``horizon``.

    ``route="ols"``: least squares, the lag order ``lags`` if given, else chosen by ``ic`` over
    ``0 .. max_lags`` (at least 1), as in :func:`granger_pvalues`; an oversize VAR is refused the
    same way. ``route="sparse"``: the LASSO VAR at lag order ``lags`` (else ``max_lags``) with the
    residual covariance of its penalized residuals
    (:func:`~measures.contagion.sparse_var.fit_sparse_var`, Demirer et al. 2018).
    """
    check_range("horizon", horizon, low=1, integer=True)
    cfg = GrangerConfig(max_lags=max_lags, ic=ic, lags=lags, route=route, ebic_gamma=ebic_gamma)
    y = series_to_array(series)
    if cfg.route == "sparse":
        p = cfg.lags if cfg.lags is not None else cfg.max_lags
        fit = fit_sparse_var(y, p, ebic_gamma=cfg.ebic_gamma, pvalues=False)  # the FEVD needs no tests
    else:
        p = cfg.lags if cfg.lags is not None else max(1, select_lag_order(y, cfg.max_lags)[cfg.ic])
        fit = fit_var(y, p)
    theta = generalized_fevd(fit.coefs, fit.sigma_u, horizon=horizon)
    return connectedness_measures(theta, series.columns, lags=p, nobs=fit.nobs, horizon=horizon, status=fit.status)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectednessConfig(Config):
    """Options of the rolling and per-window connectedness (the ``contagion.connectedness`` params group).

    ``horizon``: forecast horizon H of the generalized FEVD; ``window`` / ``step``: rows of the
    rolling windows of the total-connectedness series (step 5: weekly, this module's choice);
    ``lags``: fixed VAR order (None: chosen by the information criterion up to ``max_lags``,
    as the Granger VAR).
    """

    horizon: int = 10
    window: int = 250
    step: int = 5
    lags: int | None = None

    def validate(self) -> None:
        check_range("horizon", self.horizon, low=1, integer=True)
        check_range("window", self.window, low=10, integer=True)
        check_range("step", self.step, low=1, integer=True)
        if self.lags is not None:
            check_range("lags", self.lags, low=1, integer=True)


@dataclasses.dataclass(frozen=True)
class RollingConnectedness:
    """``total``: ``window_end, n_banks, total, lags, nobs, status`` (one row per window, a window that
    cannot be estimated keeps a ``failed`` row); ``directional``: ``window_end, bank_id, to, from, net``;
    ``sparse``: ``window_end, bank_id`` of the banks left out of a window as too sparse for its VAR."""

    total: pd.DataFrame
    directional: pd.DataFrame
    sparse: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(columns=["window_end", "bank_id"]))


TOTAL_COLUMNS = ("window_end", "n_banks", "total", "lags", "nobs", "status")
DIRECTIONAL_COLUMNS = ("bank_id", "to", "from", "net")


def _directional(c: Connectedness) -> pd.DataFrame:
    return pd.DataFrame({"bank_id": c.to.index.to_numpy(), "to": c.to.to_numpy(), "from": c.from_.to_numpy(),
                         "net": c.net.to_numpy()})


def _standardized(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observation counts, means and sds (``ddof=1``) of the columns of ``y`` over their observed rows."""
    observed = np.isfinite(y)
    counts = observed.sum(axis=0)
    mean = np.where(observed, y, 0.0).sum(axis=0) / np.maximum(counts, 1)
    sd = np.sqrt((np.where(observed, y - mean, 0.0) ** 2).sum(axis=0) / np.maximum(counts - 1, 1))
    return counts, mean, sd


def _rolling_window(item: tuple, *, banks: np.ndarray, need: int, opts: dict,
                    order: str = "C") -> tuple[dict, pd.DataFrame | None, list]:
    """One rolling window ``(window_end, y)`` of :func:`estimate_rolling_connectedness` (module level: picklable)."""
    end, y = item
    # the layout of the frame's values whatever the scheduler (a view here, a C-ordered copy in a
    # worker): reductions sum in memory order, so the layout fixes the last bits of the means
    y = np.asarray(y, dtype=float, order=order)
    counts, mean, sd = _standardized(y)
    keep = np.flatnonzero((counts >= need) & (sd > 0))
    lags = opts["lags"]
    order = lags if lags is not None else opts["max_lags"]
    opts = {**opts, "route": window_route(opts["route"], keep.size, len(y), lags=order, ols_ratio=opts["ols_ratio"])}
    sparse_route = opts["route"] == "sparse"
    sparse = [int(keep[c]) for c, _, _ in sparse_series(y[:, keep], order, select=lags is None and not sparse_route,
                                                         min_rows=sparse_needs(order) if sparse_route else None)
              ] if keep.size >= 2 else []
    keep = np.setdiff1d(keep, sparse)
    kept = banks[keep].tolist()
    gone = banks[sparse].tolist()
    row = {"window_end": end, "n_banks": len(kept), "total": np.nan, "lags": np.nan, "nobs": np.nan}
    if len(kept) < 2:
        row["status"] = f"failed:ValueError: {len(kept)} bank(s) with min_obs={opts['min_obs'] or need} observations; need 2"
        return row, None, gone
    try:
        z = pd.DataFrame((y[:, keep] - mean[keep]) / sd[keep], columns=kept)
        c = estimate_connectedness(z, **{k: v for k, v in opts.items() if k not in ("min_obs", "ols_ratio")})
    except ValueError as exc:
        row["status"] = str(status_from_exception(exc))
        return row, None, gone
    row.update(total=c.total, lags=c.lags, nobs=c.nobs, status=c.status)
    return row, _directional(c).assign(window_end=end), gone


def estimate_rolling_connectedness(series: pd.DataFrame, *, window: int = 250, step: int = 5,
                                   horizon: int = 10, lags: int | None = None, max_lags: int = 5,
                                   ic: str = "aic", min_obs: int | None = None, route: str = "ols",
                                   ebic_gamma: float = 0.0, ols_ratio: float = 1.5,
                                   mapper: Mapper | None = None) -> RollingConnectedness:
    """DY connectedness on rolling windows ending at ``window_end`` (no look-ahead).

    Windows come from :func:`measures.core.windows.rolling_windows` (``window`` rows every
    ``step`` rows; none when the series is shorter than a window). In each window the banks with
    at least ``min(min_obs, window)`` observations (``min_obs=None``: every row) and a varying
    series enter, less those too sparse for the window's VAR after aligning
    (:func:`~measures.contagion.var.sparse_series`, listed in ``sparse``), standardized inside the window, ``z = (x - mean) / sd`` (``ddof=1``, over the
    observed rows; the generalized FEVD is invariant to it), and
    :func:`estimate_connectedness` gives the total and directional connectedness of the window.
    A window with fewer than two such banks, or whose VAR cannot be fitted (e.g. too large for
    the window), keeps a row with a ``failed`` status and no directional rows.

    Parameters
    ----------
    series : DataFrame
        Dates x banks (NaN = not observed).
    window, step : int
        Rows per window and rows between window ends.
    horizon, lags, max_lags, ic, route, ebic_gamma
        As in :func:`estimate_connectedness` (``route`` ``ols`` or ``sparse``, or ``auto``: each window's
        own, :func:`~measures.contagion.route.window_route` with ``ols_ratio``).
    min_obs : int, optional
        Observations a bank needs inside a window to enter it.
    mapper : Mapper, optional
        Maps the windows (:mod:`measures.core.mapping`; each item carries its own rows, a view in
        this process); results do not depend on it.

    Returns
    -------
    RollingConnectedness
    """
    check_range("horizon", horizon, low=1, integer=True)
    if len(series) < window:
        return RollingConnectedness(total=pd.DataFrame(columns=list(TOTAL_COLUMNS)),
                                    directional=pd.DataFrame(columns=["window_end", *DIRECTIONAL_COLUMNS]))
    wins = rolling_windows(series.index, window, step)
    values = series.to_numpy(dtype=float)
    opts = {"horizon": horizon, "lags": lags, "max_lags": max_lags, "ic": ic, "route": route, "ebic_gamma": ebic_gamma,
            "min_obs": min_obs, "ols_ratio": ols_ratio}
    fn = functools.partial(_rolling_window, banks=np.asarray(series.columns, dtype=object),
                           need=window if min_obs is None else min(min_obs, window), opts=opts,
                           order="F" if values.flags.f_contiguous and not values.flags.c_contiguous else "C")
    results = map_items(mapper, fn, [(end, values[rows]) for end, rows in zip(wins.label, wins.slices())],
                        desc="rolling connectedness")
    parts = [d for _, d, _ in results if d is not None]
    directional = (pd.concat(parts, ignore_index=True)[["window_end", *DIRECTIONAL_COLUMNS]] if parts
                   else pd.DataFrame(columns=["window_end", *DIRECTIONAL_COLUMNS]))
    sparse = pd.DataFrame([(r["window_end"], b) for r, _, gone in results for b in gone], columns=["window_end", "bank_id"])
    return RollingConnectedness(total=pd.DataFrame([r for r, _, _ in results], columns=list(TOTAL_COLUMNS)),
                                directional=directional, sparse=sparse)


def _window_block(item: tuple, *, opts: dict, ols_ratio: float = 1.5) -> tuple[object, pd.DataFrame | None, str | None]:
    """One window ``(label, block)`` of :func:`window_connectedness` (module level: picklable)."""
    label, block = item
    block = (block - block.mean()) / block.std(ddof=1)
    order = opts["lags"] if opts["lags"] is not None else opts["max_lags"]
    opts = {**opts, "route": window_route(opts["route"], block.shape[1], len(block), lags=order, ols_ratio=ols_ratio)}
    try:
        c = estimate_connectedness(block, **opts)
    except ValueError as exc:
        return label, None, str(status_from_exception(exc))
    return label, _directional(c), None


def window_connectedness(series: pd.DataFrame, windows: pd.DataFrame, *, key: str = "year", horizon: int = 10,
                         lags: int | None = None, max_lags: int = 5, ic: str = "aic", route: str = "ols",
                         ebic_gamma: float = 0.0, ols_ratio: float = 1.5,
                         mapper: Mapper | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """DY directional connectedness on given windows, each with its own banks.

    ``windows`` has one row per bank and window: ``<key>, bank_id, date_start, date_end`` (e.g. the
    banks a contagion window kept, with its first and last date). Each window's block
    ``series.loc[date_start:date_end, banks]`` is standardized (``ddof=1``) and passed to
    :func:`estimate_connectedness` (``route`` ``ols`` or ``sparse``, ``ebic_gamma`` as there; ``auto``: each
    window's own route, :func:`~measures.contagion.route.window_route` with ``ols_ratio``).

    Returns
    -------
    (directional, failed)
        ``<key>, bank_id, to, from, net`` for the windows estimated, and ``<key>, status`` for
        the windows whose VAR could not be fitted.
    """
    check_range("horizon", horizon, low=1, integer=True)
    items = [(label, series.loc[g["date_start"].iloc[0]:g["date_end"].iloc[0], list(g["bank_id"])])
             for label, g in windows.groupby(key, sort=True)]
    fn = functools.partial(_window_block, opts={"horizon": horizon, "lags": lags, "max_lags": max_lags, "ic": ic,
                                                "route": route, "ebic_gamma": ebic_gamma}, ols_ratio=ols_ratio)
    results = map_items(mapper, fn, items, desc="window connectedness")
    parts = [d.assign(**{key: label})[[key, *DIRECTIONAL_COLUMNS]] for label, d, _ in results if d is not None]
    failed = pd.DataFrame([(label, s) for label, _, s in results if s is not None], columns=[key, "status"])
    directional = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[key, *DIRECTIONAL_COLUMNS])
    return directional, failed
