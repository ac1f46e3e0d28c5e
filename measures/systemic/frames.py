"""Long per-bank frames of the DCC-based measures (one row per bank and date, docs/srisk.md).

Pure functions from the per-bank bivariate DCC fits (:func:`measures.dcc.fit_dcc_bivariate`,
:func:`measures.dcc.fit_dcc_banks`, columns ``(system, bank)``) to tidy frames that a stage
writes as Parquet:

* :func:`covar_dcc_frame`: ``bank_id, date, sigma_bank, sigma_sys, rho, delta_covar, status``;
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

import numpy as np
import pandas as pd

from measures.core.status import is_failed, worst
from measures.dcc.fit import estimates_frame
from measures.dcc.results import DCCResult
from measures.systemic.config import SystemicRiskConfig
from measures.systemic.covar_dcc import delta_covar_dcc
from measures.systemic.lrmes import GARCH_TERMS, dcc_beta, lrmes_closed_form, lrmes_from_mes, simulate_lrmes_paths
from measures.systemic.mes import dynamic_mes, historical_mes

PATH_COLUMNS = ("ret_bank", "ret_sys", "sigma_bank", "sigma_sys", "rho", "z_bank", "z_sys")


def _paths(res: DCCResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sigma_sys, sigma_bank, rho`` of a bivariate fit (column 0 the system)."""
    if len(res.names) != 2:
        raise ValueError(f"expected a bivariate (system, bank) fit, got series {res.names}")
    return res.sigma[:, 0], res.sigma[:, 1], res.correlation[:, 0, 1]


def _frame(bank: str, res: DCCResult, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame({"bank_id": bank, "date": res.index, **columns})
    frame["status"] = res.status
    return frame


def covar_dcc_frame(results: Mapping[str, DCCResult], *, q: float = 0.95) -> pd.DataFrame:
    """ΔCoVaR-DCC per bank and date: ``Phi^{-1}(q) rho_t sigma_sys,t`` (:func:`delta_covar_dcc`)."""
    parts = []
    for bank, res in results.items():
        s_sys, s_bank, rho = _paths(res)
        value = delta_covar_dcc(rho, s_sys, q=q) if res.converged else np.full(res.nobs, np.nan)
        parts.append(_frame(bank, res, {"sigma_bank": s_bank, "sigma_sys": s_sys, "rho": rho, "delta_covar": value}))
    return _concat(parts, ["sigma_bank", "sigma_sys", "rho", "delta_covar"])


def dcc_paths_frame(
    results: Mapping[str, DCCResult],
    bank_returns: pd.DataFrame | None = None,
    system_returns: pd.Series | None = None,
) -> pd.DataFrame:
    """The fitted paths of bivariate (system, bank) DCC fits, one row per bank and sample date.

    Columns ``bank_id, date, ret_bank, ret_sys`` (the returns of the fitted sample, from
    ``bank_returns`` (dates x banks) and ``system_returns``; NaN when not given),
    ``sigma_bank, sigma_sys`` (conditional volatilities), ``rho`` (``R_t[0, 1]``),
    ``z_bank, z_sys`` (standardised residuals) and the fit ``status``. Everything
    :func:`dcc_mes_frame` and :func:`historical_mes_frame` need, to full precision.
    """
    parts = []
    for bank, res in results.items():
        s_sys, s_bank, rho = _paths(res)
        ret_bank = np.full(res.nobs, np.nan) if bank_returns is None else bank_returns.loc[res.index, bank].to_numpy(float)
        ret_sys = np.full(res.nobs, np.nan) if system_returns is None else system_returns.loc[res.index].to_numpy(float)
        parts.append(_frame(bank, res, {
            "ret_bank": ret_bank, "ret_sys": ret_sys, "sigma_bank": s_bank, "sigma_sys": s_sys, "rho": rho,
            "z_bank": res.std_resid[:, 1], "z_sys": res.std_resid[:, 0],
        }))
    return _concat(parts, list(PATH_COLUMNS))


def _as_paths(paths: pd.DataFrame | Mapping[str, DCCResult], estimates: pd.DataFrame | None):
    if isinstance(paths, pd.DataFrame):
        return paths, estimates
    return dcc_paths_frame(paths), estimates_frame(paths) if estimates is None else estimates


def _by_bank(paths: pd.DataFrame) -> dict[str, pd.DataFrame]:
    missing = [c for c in ("bank_id", "date", *PATH_COLUMNS, "status") if c not in paths.columns]
    if missing:
        raise ValueError(f"paths lacks column(s) {', '.join(missing)}; expected the layout of dcc_paths_frame")
    ordered = paths.sort_values(["bank_id", "date"], kind="mergesort")
    return {str(bank): g for bank, g in ordered.groupby("bank_id", sort=True)}


def dcc_mes_frame(
    paths: pd.DataFrame | Mapping[str, DCCResult],
    *,
    config: SystemicRiskConfig | None = None,
    simulation_dates: Sequence | None = None,
    estimates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Dynamic MES (Brownlees–Engle, threshold ``kappa``), DCC beta and LRMES per bank and date.

    ``beta_i,t = rho_t sigma_i,t / sigma_m,t``; ``config.lrmes_route``: ``closed_form``
    (``1 - exp(log(1-d) beta)``), ``mes`` (``1 - exp(-18 MES)``) or ``simulation``
    (:func:`measures.systemic.simulate_lrmes_paths`); the simulation runs only at
    ``simulation_dates`` (default: each bank's last date) with a generator seeded by
    ``(config.seed, rank of the bank id, date position)``; other dates are NaN. Banks with
    the same system path share one kernel matrix.

    Parameters
    ----------
    paths : DataFrame or mapping
        The layout of :func:`dcc_paths_frame`, or the fits themselves (bank -> DCCResult).
    estimates : DataFrame, optional
        The layout of :func:`measures.dcc.estimates_frame` (``sys_<p>``, ``bank_<p>``,
        ``dcc_a``, ``dcc_b``); needed by the simulation route. Its bank ids (every bank
        fitted, also those without a sample) number the random streams.
    """
    config = config or SystemicRiskConfig()
    paths, estimates = _as_paths(paths, estimates)
    banks = _by_bank(paths)
    mes_by_bank = _dynamic_mes_grouped(banks, config.kappa, config.mes_causal)
    if config.lrmes_route == "simulation":
        if estimates is None:
            raise ValueError("lrmes_route='simulation' needs the fit estimates (estimates=...)")
        numbers = {bank: k for k, bank in enumerate(sorted({str(b) for b in estimates["bank_id"]} | set(banks)))}
        params = {str(bank): g.set_index("term")["estimate"] for bank, g in estimates.groupby("bank_id")}
    parts = []
    for bank, g in banks.items():
        beta = dcc_beta(g["rho"].to_numpy(), g["sigma_bank"].to_numpy(), g["sigma_sys"].to_numpy())
        mes = mes_by_bank.get(bank, np.full(len(g), np.nan))
        status = g["status"].iloc[0]
        if config.lrmes_route == "closed_form":
            lrmes = lrmes_closed_form(beta, crash=config.crash)
        elif config.lrmes_route == "mes":
            lrmes = lrmes_from_mes(mes)
        else:
            lrmes, status = _simulated_path(g, params.get(bank), config, simulation_dates, numbers[bank])
        parts.append(pd.DataFrame({"bank_id": bank, "date": g["date"].to_numpy(), "beta": beta, "mes_dyn": mes,
                                   "lrmes": lrmes, "status": status}))
    return _concat(parts, ["beta", "mes_dyn", "lrmes"])


def historical_mes_frame(paths: pd.DataFrame, *, window: int = 252, tail: float = 0.05) -> pd.DataFrame:
    """Historical MES per bank on its fitted sample (:func:`measures.systemic.historical_mes`).

    ``MES_i,t = -mean(r_i,s : s in W_t among the ceil(tail * window) lowest r_m,s)`` over the
    ``window`` sample days ending at ``t`` of the columns ``ret_bank``, ``ret_sys`` of
    :func:`dcc_paths_frame`; returns ``bank_id, date, mes_hist``.
    """
    parts = []
    for bank, g in _by_bank(paths).items():
        dates = pd.DatetimeIndex(g["date"])
        h = historical_mes(pd.Series(g["ret_bank"].to_numpy(float), index=dates),
                           pd.Series(g["ret_sys"].to_numpy(float), index=dates), window=window, tail=tail)
        parts.append(pd.DataFrame({"bank_id": bank, "date": dates, "mes_hist": h.to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["bank_id", "date", "mes_hist"])
    return pd.concat(parts, ignore_index=True)


def _dynamic_mes_grouped(banks: Mapping[str, pd.DataFrame], kappa: float, causal: bool) -> dict[str, np.ndarray]:
    """Dynamic MES of converged banks, one kernel matrix per distinct system path."""
    groups: dict[tuple[bytes, ...], list[str]] = {}
    for bank, g in banks.items():
        if not is_failed(g["status"].iloc[0]):
            key = tuple(np.ascontiguousarray(g[c].to_numpy()).tobytes() for c in ("date", "sigma_sys", "z_sys"))
            groups.setdefault(key, []).append(bank)
    out = {}
    for members in groups.values():
        first = banks[members[0]]
        stack = [banks[b] for b in members]
        mes = dynamic_mes(
            np.column_stack([g["sigma_bank"].to_numpy() for g in stack]),
            first["sigma_sys"].to_numpy(),
            np.column_stack([g["rho"].to_numpy() for g in stack]),
            first["z_sys"].to_numpy(),
            np.column_stack([g["z_bank"].to_numpy() for g in stack]),
            kappa=kappa,
            causal=causal,
        )
        out.update({b: mes[:, k] for k, b in enumerate(members)})
    return out


def _simulated_path(
    g: pd.DataFrame, params: pd.Series | None, config: SystemicRiskConfig, dates: Sequence | None, number: int
) -> tuple[np.ndarray, str]:
    values = np.full(len(g), np.nan)
    fit_status = g["status"].iloc[0]
    if is_failed(fit_status):
        return values, fit_status
    if params is None:
        raise ValueError(f"estimates have no rows for bank {g['bank_id'].iloc[0]!r}")
    index = pd.DatetimeIndex(g["date"])
    garch = {n: np.array([params.get(f"{side}_{n}", 0.0 if n in ("mu", "gamma") else np.nan) for side in ("sys", "bank")])
             for n in GARCH_TERMS}
    sigma = np.column_stack([g["sigma_sys"].to_numpy(), g["sigma_bank"].to_numpy()])
    z = np.column_stack([g["z_sys"].to_numpy(), g["z_bank"].to_numpy()])
    positions = [len(g) - 1] if dates is None else [index.get_loc(d) for d in dates if d in index]
    statuses = []
    for pos in positions:
        rng = np.random.default_rng([config.seed, number, int(pos)])
        values[pos], status = simulate_lrmes_paths(
            sigma, z, g["rho"].to_numpy(), garch, float(params["dcc_a"]), float(params["dcc_b"]), at=int(pos),
            crash=config.crash, horizon=config.horizon, n_paths=config.n_paths, rng=rng,
        )
        statuses.append(status)
    simulated = worst(*statuses)
    return values, fit_status if simulated == "ok" else simulated


def _concat(parts: list[pd.DataFrame], values: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=["bank_id", "date", *values, "status"])
    return pd.concat(parts, ignore_index=True).sort_values(["bank_id", "date"], ignore_index=True)
