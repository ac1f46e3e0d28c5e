"""Long per-bank frames of the DCC-based measures, in the column layout of DESIGN §3.

Pure functions from the per-bank bivariate DCC fits (:func:`measures.dcc.fit_dcc_bivariate`,
columns ``(system, bank)``) to tidy frames that a stage writes as Parquet:

* :func:`covar_dcc_frame`: ``bank_id, date, sigma_bank, sigma_sys, rho, delta_covar, status``;
* :func:`dcc_mes_frame`: ``bank_id, date, beta, mes_dyn, lrmes, status`` (historical MES and
  SRISK need market data and balance sheets: :func:`measures.systemic.historical_mes`,
  :func:`measures.systemic.srisk`).

A bank whose fit failed keeps one row per date of its sample with NaN values and the
failure status (never dropped silently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from measures.dcc.results import DCCResult
from measures.systemic.config import SystemicRiskConfig
from measures.systemic.covar_dcc import delta_covar_dcc
from measures.systemic.lrmes import dcc_beta, lrmes_closed_form, lrmes_from_mes, simulate_lrmes
from measures.systemic.mes import dynamic_mes


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
    """ΔCoVaR-DCC per bank and date: ``Phi^{-1}(q) rho_t sigma_sys,t`` (METHODS §2)."""
    parts = []
    for bank, res in results.items():
        s_sys, s_bank, rho = _paths(res)
        value = delta_covar_dcc(rho, s_sys, q=q) if res.converged else np.full(res.nobs, np.nan)
        parts.append(_frame(bank, res, {"sigma_bank": s_bank, "sigma_sys": s_sys, "rho": rho, "delta_covar": value}))
    return _concat(parts, ["sigma_bank", "sigma_sys", "rho", "delta_covar"])


def dcc_mes_frame(
    results: Mapping[str, DCCResult],
    *,
    config: SystemicRiskConfig | None = None,
    simulation_dates: Sequence | None = None,
) -> pd.DataFrame:
    """Dynamic MES (Brownlees–Engle, threshold ``kappa``), DCC beta and LRMES per bank and date.

    ``config.lrmes_route``: ``closed_form`` (``1 - exp(log(1-d) beta)``), ``mes``
    (``1 - exp(-18 MES)``) or ``simulation``; the simulation runs only at ``simulation_dates``
    (default: each bank's last date) with a generator seeded by ``(config.seed, rank of the bank id,
    date position)``; other dates are NaN. Banks sharing the same system fit share one kernel matrix.
    """
    config = config or SystemicRiskConfig()
    mes_by_bank = _dynamic_mes_grouped(results, config.kappa, config.mes_causal)
    stable = {bank: k for k, bank in enumerate(sorted(results))}
    parts = []
    for bank, res in results.items():
        s_sys, s_bank, rho = _paths(res)
        beta = dcc_beta(rho, s_bank, s_sys)
        mes = mes_by_bank.get(bank, np.full(res.nobs, np.nan))
        status = res.status
        if config.lrmes_route == "closed_form":
            lrmes = lrmes_closed_form(beta, crash=config.crash)
        elif config.lrmes_route == "mes":
            lrmes = lrmes_from_mes(mes)
        else:
            lrmes, status = _simulated_path(res, config, simulation_dates, stable[bank])
        frame = _frame(bank, res, {"beta": beta, "mes_dyn": mes, "lrmes": lrmes})
        frame["status"] = status
        parts.append(frame)
    return _concat(parts, ["beta", "mes_dyn", "lrmes"])


def _dynamic_mes_grouped(results: Mapping[str, DCCResult], kappa: float, causal: bool) -> dict[str, np.ndarray]:
    groups: dict[int, list[str]] = {}
    for bank, res in results.items():
        if res.converged:
            groups.setdefault(id(res.univariate[0]), []).append(bank)
    out = {}
    for banks in groups.values():
        first = results[banks[0]]
        s_sys = first.sigma[:, 0]
        eps_sys = first.std_resid[:, 0]
        stack = [results[b] for b in banks]
        mes = dynamic_mes(
            np.column_stack([r.sigma[:, 1] for r in stack]),
            s_sys,
            np.column_stack([r.correlation[:, 0, 1] for r in stack]),
            eps_sys,
            np.column_stack([r.std_resid[:, 1] for r in stack]),
            kappa=kappa,
            causal=causal,
        )
        out.update({b: mes[:, k] for k, b in enumerate(banks)})
    return out


def _simulated_path(
    res: DCCResult, config: SystemicRiskConfig, dates: Sequence | None, number: int
) -> tuple[np.ndarray, str]:
    values = np.full(res.nobs, np.nan)
    if not res.converged:
        return values, res.status
    positions = [res.nobs - 1] if dates is None else [res.index.get_loc(d) for d in dates if d in res.index]
    statuses = []
    for pos in positions:
        rng = np.random.default_rng([config.seed, number, int(pos)])
        values[pos], status = simulate_lrmes(
            res, at=int(pos), crash=config.crash, horizon=config.horizon, n_paths=config.n_paths, rng=rng
        )
        statuses.append(status)
    worst = next((s for s in statuses if s.startswith("failed:")), None) or next(
        (s for s in statuses if s.startswith("warning:")), res.status
    )
    return values, worst


def _concat(parts: list[pd.DataFrame], values: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=["bank_id", "date", *values, "status"])
    return pd.concat(parts, ignore_index=True).sort_values(["bank_id", "date"], ignore_index=True)
