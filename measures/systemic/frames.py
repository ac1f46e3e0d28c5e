"""Long per-bank frames of the DCC-based measures (one row per bank and date, docs/srisk.md).

Pure functions from the per-bank bivariate DCC fits (:func:`measures.dcc.fit_dcc_bivariate`,
:func:`measures.dcc.fit_dcc_banks`, columns ``(system, bank)``) to tidy frames that a stage
writes as Parquet:

* :func:`covar_dcc_frame`: ``bank_id, date, sigma_bank, sigma_sys, rho, delta_covar, covar, coes,
  delta_coes, status``;
* :func:`dcc_paths_frame`: the fitted paths that MES and LRMES need (``bank_id, date,
  ret_bank, ret_sys, sigma_bank, sigma_sys, rho, z_bank, z_sys, status``), so that the
  measures are computed from a stored fit without refitting;
* :func:`dcc_mes_frame`: ``bank_id, date, beta, mes_dyn, lrmes, status`` from the paths
  (and, for the simulation route, the estimates of :func:`measures.dcc.estimates_frame`);
* :func:`historical_mes_frame`: ``bank_id, date, mes_hist`` from the paths' returns.

A bank whose fit failed keeps one row per date of its sample with NaN values and the
failure status (never dropped silently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from measures.core.mapping import Mapper, map_items
from measures.core.status import worst
from measures.systemic.config import SystemicRiskConfig
from measures.systemic.covar_dcc import conditional_measures_dcc
from measures.systemic.lrmes import GARCH_TERMS, dcc_beta, lrmes_closed_form, lrmes_from_mes, simulate_lrmes_paths
from measures.systemic.mes import dynamic_mes, historical_mes_columns

if TYPE_CHECKING:  # the DCC engine (arch, scipy) is loaded only where fits are turned into frames
    from measures.dcc.results import DCCResult

PATH_COLUMNS = ("ret_bank", "ret_sys", "sigma_bank", "sigma_sys", "rho", "z_bank", "z_sys")


def _paths(res: DCCResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sigma_sys, sigma_bank, rho`` of a bivariate fit (column 0 the system)."""
    if len(res.names) != 2:
        raise ValueError(f"expected a bivariate (system, bank) fit, got series {res.names}")
    return res.sigma[:, 0], res.sigma[:, 1], res.correlation[:, 0, 1]


def _long(results: Mapping[str, DCCResult], columns: dict[str, list[np.ndarray]], values: list[str]) -> pd.DataFrame:
    """One frame of all banks from per-bank column arrays (in the order of ``results``), with the
    row statuses, sorted by bank and date: built once, not per bank."""
    if not results:
        return pd.DataFrame(columns=["bank_id", "date", *values, "status"])
    banks = list(results)
    frame = pd.DataFrame({
        "bank_id": np.repeat(np.array(banks, dtype=object), [results[b].nobs for b in banks]),
        "date": np.concatenate([np.asarray(results[b].index) for b in banks]),
        **{name: np.concatenate(parts) for name, parts in columns.items()},
        "status": np.concatenate([results[b].statuses() for b in banks]),
    })
    if banks == sorted(banks) and all(results[b].index.is_monotonic_increasing for b in banks):
        return frame  # already in (bank_id, date) order, as fit_dcc_banks returns them
    return frame.sort_values(["bank_id", "date"], ignore_index=True)


def covar_dcc_frame(results: Mapping[str, DCCResult], *, q: float = 0.95, conditioning: str = "equal",
                    mapper: Mapper | None = None) -> pd.DataFrame:
    """ΔCoVaR-DCC, CoVaR, CoES and ΔCoES per bank and date (:func:`measures.systemic.covar_dcc.conditional_measures_dcc`).

    ``delta_covar`` is ``Phi^{-1}(q) rho_t sigma_sys,t`` (:func:`delta_covar_dcc`) with ``conditioning``
    ``equal``, Girardi & Ergün's ``CoVaR - CoVaR^b`` with ``at_or_below``; ``mapper`` maps the banks.
    """
    items = [(*_paths(res)[::2], res.converged) for res in results.values()]
    parts = map_items(mapper, partial(_conditional_columns, q=q, conditioning=conditioning), items,
                      desc="ΔCoVaR / CoES per bank")
    columns: dict[str, list[np.ndarray]] = {name: [] for name in ("sigma_bank", "sigma_sys", "rho", *COVAR_VALUES)}
    for res, values in zip(results.values(), parts):
        s_sys, s_bank, rho = _paths(res)
        for name, v in zip(columns, (s_bank, s_sys, rho, *(values[c] for c in COVAR_VALUES))):
            columns[name].append(v)
    return _long(results, columns, list(columns))


#: the value columns of :func:`covar_dcc_frame` after ``sigma_bank, sigma_sys, rho``
COVAR_VALUES = ("delta_covar", "covar", "coes", "delta_coes")


def _conditional_columns(item: tuple[np.ndarray, np.ndarray, bool], *, q: float, conditioning: str) -> dict:
    """The :data:`COVAR_VALUES` of one bank (NaN when its fit did not converge)."""
    s_sys, rho, converged = item
    if not converged:
        return {name: np.full(len(rho), np.nan) for name in COVAR_VALUES}
    return conditional_measures_dcc(rho, s_sys, q=q, conditioning=conditioning)


def dcc_paths_frame(
    results: Mapping[str, DCCResult],
    bank_returns: pd.DataFrame | None = None,
    system_returns: pd.Series | None = None,
) -> pd.DataFrame:
    """The fitted paths of bivariate (system, bank) DCC fits, one row per bank and sample date.

    Columns ``bank_id, date, ret_bank, ret_sys`` (the returns of the fitted sample, from
    ``bank_returns`` (dates x banks) and ``system_returns``; NaN when not given),
    ``sigma_bank, sigma_sys`` (conditional volatilities), ``rho`` (``R_t[0, 1]``),
    ``z_bank, z_sys`` (standardised residuals) and the ``status`` of each row (the fit's; for
    real-time fits that of the refit in force). Everything :func:`dcc_mes_frame` and
    :func:`historical_mes_frame` need, to full precision.
    """
    columns: dict[str, list[np.ndarray]] = {name: [] for name in PATH_COLUMNS}
    for bank, res in results.items():
        s_sys, s_bank, rho = _paths(res)
        ret_bank = _on(bank_returns[bank] if bank_returns is not None else None, res.index)
        ret_sys = _on(system_returns, res.index)
        for name, v in zip(PATH_COLUMNS, (ret_bank, ret_sys, s_bank, s_sys, rho, res.std_resid[:, 1],
                                          res.std_resid[:, 0])):
            columns[name].append(v)
    return _long(results, columns, list(PATH_COLUMNS))


def _on(series: pd.Series | None, index: pd.Index) -> np.ndarray:
    """``series.loc[index]`` as floats, by position (NaN when ``series`` is None)."""
    if series is None:
        return np.full(len(index), np.nan)
    rows = series.index.get_indexer(index)
    if (rows < 0).any():
        raise KeyError(f"dates missing from the returns: {list(index[rows < 0][:3])}")
    return series.to_numpy(float)[rows]


def _as_paths(paths: pd.DataFrame | Mapping[str, DCCResult], estimates: pd.DataFrame | None):
    if isinstance(paths, pd.DataFrame):
        return paths, estimates
    from measures.dcc.fit import estimates_frame

    return dcc_paths_frame(paths), estimates_frame(paths) if estimates is None else estimates


def _by_bank(paths: pd.DataFrame) -> dict[str, pd.DataFrame]:
    missing = [c for c in ("bank_id", "date", *PATH_COLUMNS, "status") if c not in paths.columns]
    if missing:
        raise ValueError(f"paths lacks column(s) {', '.join(missing)}; expected the layout of dcc_paths_frame")
    ordered = paths.sort_values(["bank_id", "date"], kind="mergesort")
    return {str(bank): g for bank, g in ordered.groupby("bank_id", sort=True)}


#: Banks per dynamic-MES work item: banks with the same system path share one kernel matrix, in
#: chunks of at most this many (a constant, so the values never depend on the mapper).
MES_CHUNK = 64
_KERNEL_COLUMNS = ["date", "sigma_bank", "sigma_sys", "rho", "z_bank", "z_sys", "status"]


def dcc_mes_frame(
    paths: pd.DataFrame | Mapping[str, DCCResult],
    *,
    config: SystemicRiskConfig | None = None,
    simulation_dates: Sequence | None = None,
    estimates: pd.DataFrame | None = None,
    param_paths: pd.DataFrame | None = None,
    mapper: Mapper | None = None,
) -> pd.DataFrame:
    """Dynamic MES (Brownlees–Engle, threshold ``kappa``), DCC beta and LRMES per bank and date.

    ``beta_i,t = rho_t sigma_i,t / sigma_m,t``; ``config.lrmes_route``: ``closed_form``
    (``1 - exp(log(1-d) beta)``), ``mes`` (``1 - exp(-18 MES)``) or ``simulation``
    (:func:`measures.systemic.simulate_lrmes_paths`); the simulation runs only at
    ``simulation_dates`` (default: each bank's last date) with a generator seeded by
    ``(config.seed, rank of the bank id, date position)``, so a value depends on its bank and
    date alone; other dates are NaN. Banks with the same system path share one kernel matrix
    (:func:`measures.systemic.dynamic_mes` on up to :data:`MES_CHUNK` banks at once).

    Parameters
    ----------
    paths : DataFrame or mapping
        The layout of :func:`dcc_paths_frame`, or the fits themselves (bank -> DCCResult).
    estimates : DataFrame, optional
        The layout of :func:`measures.dcc.estimates_frame` (``sys_<p>``, ``bank_<p>``,
        ``dcc_a``, ``dcc_b``); needed by the simulation route. Its bank ids (every bank
        fitted, also those without a sample) number the random streams.
    param_paths : DataFrame, optional
        The parameter paths (:func:`measures.dcc.realtime.param_paths_frame`): the simulation at
        date ``t`` then uses the parameters in force at ``t`` (last ``valid_from <= t``) and, for
        a refit, its ``Qbar``. With ``config.mes_causal`` the bootstrap pool and ``Qbar`` use the
        residuals up to ``t`` only.
    mapper : Mapper, optional
        Maps the kernel chunks and the simulated banks (:mod:`measures.core.mapping`);
        results do not depend on it.
    """
    config = config or SystemicRiskConfig()
    paths, estimates = _as_paths(paths, estimates)
    banks = _by_bank(paths)
    if config.lrmes_route == "simulation" and estimates is None:
        raise ValueError("lrmes_route='simulation' needs the fit estimates (estimates=...)")
    parts = map_items(mapper, partial(_mes_chunk, kappa=config.kappa, causal=config.mes_causal,
                                      route=config.lrmes_route, crash=config.crash),
                      _kernel_items(banks), desc="dynamic MES")
    frame = _concat(parts, ["beta", "mes_dyn", "lrmes"])
    if config.lrmes_route == "simulation" and len(frame):
        numbers = {bank: k for k, bank in enumerate(sorted({str(b) for b in estimates["bank_id"]} | set(banks)))}
        if param_paths is not None:
            params = {str(bank): g.sort_values("valid_from", kind="mergesort") for bank, g in param_paths.groupby("bank_id")}
        else:
            params = {str(bank): g.set_index("term")["estimate"] for bank, g in estimates.groupby("bank_id")}
        sims = dict(zip(banks, map_items(mapper, partial(_simulated_path, config=config, dates=simulation_dates),
                                         [(g, params.get(bank), numbers[bank]) for bank, g in banks.items()],
                                         desc="LRMES simulation")))
        order = pd.unique(frame["bank_id"])  # each bank's rows are contiguous and sorted by date
        frame["lrmes"] = np.concatenate([sims[bank][0] for bank in order])
        frame["status"] = np.concatenate([sims[bank][1] for bank in order])
    return frame


def _valid(g: pd.DataFrame) -> np.ndarray:
    """Rows with a fitted path (all of a converged full-sample fit; from the first value on for a
    real-time fit; none for a failed fit)."""
    return np.isfinite(g["z_bank"].to_numpy(float)) & np.isfinite(g["z_sys"].to_numpy(float))


def _chunks(banks: Mapping[str, pd.DataFrame], same: Sequence[str], columns: list[str], *,
            failed_apart: bool) -> list[list[tuple[str, pd.DataFrame]]]:
    """Work items: the banks whose columns ``same`` are identical, in chunks of :data:`MES_CHUNK`
    (with ``failed_apart``, banks without a fitted row in chunks of their own, and the others by
    their fitted rows too); each bank with ``columns`` only."""
    groups: dict[object, list[str]] = {}
    for bank, g in banks.items():
        key = tuple(np.ascontiguousarray(g[c].to_numpy()).tobytes() for c in same)
        if failed_apart:
            valid = _valid(g)
            key = "failed" if not valid.any() else (*key, valid.tobytes())
        groups.setdefault(key, []).append(bank)
    return [[(b, banks[b][columns]) for b in members[start:start + MES_CHUNK]]
            for members in groups.values() for start in range(0, len(members), MES_CHUNK)]


def _kernel_items(banks: Mapping[str, pd.DataFrame]) -> list[list[tuple[str, pd.DataFrame]]]:
    """Kernel items: fitted banks with the same system path (dates, sigma_m, eps_m) and fitted rows."""
    return _chunks(banks, ("date", "sigma_sys", "z_sys"), _KERNEL_COLUMNS, failed_apart=True)


def _mes_chunk(item: list[tuple[str, pd.DataFrame]], *, kappa: float, causal: bool, route: str,
               crash: float) -> pd.DataFrame:
    """Beta, dynamic MES and the closed-form / MES-route LRMES of one chunk (NaN on rows without a
    fitted path: the kernel runs over the fitted rows only, so a causal value uses no earlier NaN)."""
    frames = [g for _, g in item]
    valid = _valid(frames[0])
    mes = [np.full(len(g), np.nan) for g in frames]
    if valid.any():
        rows = slice(None) if valid.all() else valid
        first = frames[0]
        values = dynamic_mes(
            np.column_stack([g["sigma_bank"].to_numpy()[rows] for g in frames]), first["sigma_sys"].to_numpy()[rows],
            np.column_stack([g["rho"].to_numpy()[rows] for g in frames]), first["z_sys"].to_numpy()[rows],
            np.column_stack([g["z_bank"].to_numpy()[rows] for g in frames]), kappa=kappa, causal=causal,
        )
        for k in range(len(frames)):
            mes[k][rows] = values[:, k]
    parts = []
    for (bank, g), m in zip(item, mes):
        beta = dcc_beta(g["rho"].to_numpy(), g["sigma_bank"].to_numpy(), g["sigma_sys"].to_numpy())
        if route == "closed_form":
            lrmes = lrmes_closed_form(beta, crash=crash)
        else:  # the simulation route fills its dates afterwards
            lrmes = lrmes_from_mes(m) if route == "mes" else np.full(len(g), np.nan)
        parts.append(pd.DataFrame({"bank_id": bank, "date": g["date"].to_numpy(), "beta": beta, "mes_dyn": m,
                                   "lrmes": lrmes, "status": g["status"].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def historical_mes_frame(paths: pd.DataFrame, *, window: int = 252, tail: float = 0.05,
                         mapper: Mapper | None = None) -> pd.DataFrame:
    """Historical MES per bank on its fitted sample (:func:`measures.systemic.historical_mes`).

    ``MES_i,t = -mean(r_i,s : s in W_t among the ceil(tail * window) lowest r_m,s)`` over the
    ``window`` sample days ending at ``t`` of the columns ``ret_bank``, ``ret_sys`` of
    :func:`dcc_paths_frame`; returns ``bank_id, date, mes_hist``. ``mapper`` maps the banks.
    """
    items = _chunks(_by_bank(paths), ("date", "ret_sys"), ["date", "ret_bank", "ret_sys"], failed_apart=False)
    parts = map_items(mapper, partial(_historical_chunk, window=window, tail=tail), items, desc="historical MES")
    if not parts:
        return pd.DataFrame(columns=["bank_id", "date", "mes_hist"])
    return pd.concat(parts, ignore_index=True).sort_values(["bank_id", "date"], ignore_index=True)


def _historical_chunk(item: list[tuple[str, pd.DataFrame]], *, window: int, tail: float) -> pd.DataFrame:
    """Historical MES of banks sharing their sample dates and system returns (one sort of the market windows)."""
    first = item[0][1]
    values = historical_mes_columns(np.column_stack([g["ret_bank"].to_numpy(float) for _, g in item]),
                                    first["ret_sys"].to_numpy(float), window=window, tail=tail)
    return pd.concat([pd.DataFrame({"bank_id": bank, "date": pd.DatetimeIndex(g["date"]), "mes_hist": values[:, k]})
                      for k, (bank, g) in enumerate(item)], ignore_index=True)


def _params_at(params: pd.Series | pd.DataFrame, date) -> tuple[dict, float, float, np.ndarray | None]:
    """GARCH terms (system, bank), ``a``, ``b`` and ``Qbar`` (refits only) in force at ``date``, from
    the estimates (a Series by term) or the bank's parameter path (a frame sorted by ``valid_from``)."""
    if isinstance(params, pd.DataFrame):
        row = params.iloc[max(int(np.searchsorted(params["valid_from"].to_numpy(), np.datetime64(date), "right")) - 1, 0)]
        qbar = None  # a full-sample row (valid from the sample start): Qbar of the pool, as the fit
        if row["valid_from"] == row["refit_date"]:
            qbar = np.array([[row["qbar_sys"], row["qbar_cross"]], [row["qbar_cross"], row["qbar_bank"]]])
    else:
        row, qbar = params, None
    garch = {n: np.array([row.get(f"{side}_{n}", 0.0 if n in ("mu", "gamma") else np.nan) for side in ("sys", "bank")])
             for n in GARCH_TERMS}
    return garch, float(row["dcc_a"]), float(row["dcc_b"]), qbar


def _simulated_path(
    item: tuple[pd.DataFrame, pd.Series | pd.DataFrame | None, int], *, config: SystemicRiskConfig,
    dates: Sequence | None
) -> tuple[np.ndarray, np.ndarray]:
    """The simulated LRMES of one bank at its simulation dates, and the status of each row."""
    g, params, number = item
    values = np.full(len(g), np.nan)
    row_status = g["status"].to_numpy(dtype=object)
    valid = _valid(g)
    if not valid.any():
        return values, row_status
    if params is None:
        raise ValueError(f"estimates have no rows for bank {g['bank_id'].iloc[0]!r}")
    index = pd.DatetimeIndex(g["date"])
    sigma = np.column_stack([g["sigma_sys"].to_numpy(), g["sigma_bank"].to_numpy()])
    z = np.column_stack([g["z_sys"].to_numpy(), g["z_bank"].to_numpy()])
    rho = g["rho"].to_numpy()
    first = int(np.argmax(valid))
    positions = [len(g) - 1] if dates is None else [index.get_loc(d) for d in dates if d in index]
    statuses = []
    for pos in (int(p) for p in positions if valid[p]):
        rng = np.random.default_rng([config.seed, number, pos])
        garch, a, b, qbar = _params_at(params, index[pos])
        stop = pos + 1 if config.mes_causal else len(g)  # the bootstrap pool: residuals up to t only when causal
        values[pos], status = simulate_lrmes_paths(
            sigma[first:stop], z[first:stop], rho[first:stop], garch, a, b, qbar=qbar, at=pos - first,
            crash=config.crash, horizon=config.horizon, n_paths=config.n_paths, rng=rng,
        )
        statuses.append(status)
    simulated = worst(*statuses)
    return values, row_status if simulated == "ok" else np.full(len(g), simulated, dtype=object)


def _concat(parts: list[pd.DataFrame], values: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=["bank_id", "date", *values, "status"])
    return pd.concat(parts, ignore_index=True).sort_values(["bank_id", "date"], ignore_index=True)
