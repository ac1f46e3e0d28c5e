"""Market-spillover ΔCoVaR and its decomposition (Fang, Chen & Yang 2018, seed 004; METHODS §1.3).

Per rolling window (default 120 rows) and bank i, with **contemporaneous** market states M:
bank ``X_i = a^τ + c^τ' M`` at τ ∈ {q, 0.5}; system ``X_sys = α + β X_i + γ' M`` at q. With
``VaR_i(τ; m) = a^τ + c^τ' m`` and ``CoVaR_i(τ; m) = α + β VaR_i(τ; m) + γ' m``:

* stress level ``M^s`` = the q-quantile of each state over the window, normal ``M^n`` = its median
  (``numpy.quantile`` linear interpolation, R type 7), over the window's own rows;
* eq. (5): ``ΔCoVaR^M_i = CoVaR_i(q; M^s) − CoVaR_i(0.5; M^n)``;
* eq. (11–12): ``S_k,i = CoVaR_i(q; m^(k)) − CoVaR_i(q; M^n) = ΔM_k (γ_k + β c_k^q)`` with
  ``m^(k)`` = ``M^n`` whose entry k is ``M_k^s`` and ``ΔM_k = M_k^s − M_k^n``; the identity is
  checked to 1e-12 (relative to the terms' size) for every bank, market and date;
* the four channels: own risk ``ΔM_k``, risk-taking ``c_k^q``, information spillover ``γ_k``,
  connectedness ``β``;
* eq. (8): improved index ``Σ_i w_i ΔCoVaR^M_i``; traditional index ``Σ_i w_i ΔCoVaR_i`` where here
  ``ΔCoVaR_i = β (VaR_i(q; M_t) − VaR_i(0.5; M_t))`` from the same window fits at the window's last
  state (the stage may substitute §1.1's lagged-state ΔCoVaR); ``S_k = Σ_i w_i S_k,i``.
  Weights: market-value shares renormalised over the banks with a value at that date.

Values at date t use the window ending at t. Any number and kind of state variables works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from measures.core.config import Config, check_range
from measures.core.windows import calendar_windows
from measures.covar_qr import _align, fit_covar_regressions

__all__ = [
    "SpilloverConfig",
    "SpilloverResult",
    "decompose_spillover",
    "estimate_market_spillover",
    "market_levels",
    "weekly_last",
]

IDENTITY_TOL = 1e-12


@dataclass(frozen=True, kw_only=True)
class SpilloverConfig(Config):
    """``q`` (stress quantile of losses and states, 0.95), ``window`` (rows, 120), ``step`` (1)."""

    q: float = 0.95
    window: int = 120
    step: int = 1

    def validate(self) -> None:
        check_range("q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        check_range("window", self.window, low=2, integer=True)
        check_range("step", self.step, low=1, integer=True)


@dataclass(frozen=True)
class SpilloverResult:
    """Tidy outputs of :func:`estimate_market_spillover`.

    ``banks``: date, bank_id, delta_covar_m, delta_covar, status.
    ``channels``: date, bank_id, market, spillover, own_risk, risk_taking, information, connectedness.
    ``system``: date, improved_index, traditional_index, n_banks.
    ``markets``: date, market, spillover, own_risk, risk_taking, information, connectedness
    (w-weighted over banks; own_risk is bank-independent).
    """

    banks: pd.DataFrame
    channels: pd.DataFrame
    system: pd.DataFrame
    markets: pd.DataFrame


def market_levels(M: np.ndarray, window: int, q: float, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Stress (q-quantile) and normal (median) level of each column over rolling windows.

    Window k covers rows ``[k*step, k*step + window)`` as in the regressions; returns two
    (K, k) arrays.
    """
    view = sliding_window_view(np.asarray(M, dtype=float), window, axis=0)[::step]  # (K, k, window)
    return np.quantile(view, q, axis=-1), np.quantile(view, 0.5, axis=-1)


def decompose_spillover(
    bank_q: np.ndarray,
    bank_median: np.ndarray,
    system: np.ndarray,
    stress: np.ndarray,
    normal: np.ndarray,
    current: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Eq. (5), (11)–(12) and the four channels from fitted coefficients (pure algebra).

    Parameters
    ----------
    bank_q, bank_median : (K, 1+k) arrays ``[a, c_1..c_k]`` at q and at 0.5.
    system : (K, 2+k) array ``[α, β, γ_1..γ_k]`` at q.
    stress, normal : (K, k) arrays ``M^s``, ``M^n``.
    current : (K, k) array, optional
        States at which the traditional ``ΔCoVaR = β (VaR(q; M) − VaR(0.5; M))`` is evaluated.

    Returns
    -------
    dict with ``delta_covar_m`` (K,), ``spillover`` (K, k) from the definition,
    ``own_risk`` (K, k), ``risk_taking`` (K, k), ``information`` (K, k), ``connectedness`` (K,),
    and ``delta_covar`` (K,) when ``current`` is given.

    Raises
    ------
    AssertionError
        If ``S_k = ΔM_k (γ_k + β c_k)`` fails by more than 1e-12 relative to the terms.
    """
    alpha, beta, gamma = system[:, 0], system[:, 1], system[:, 2:]

    def var(coef: np.ndarray, m: np.ndarray) -> np.ndarray:
        return coef[:, 0] + np.einsum("kj,kj->k", coef[:, 1:], m)

    def covar(coef: np.ndarray, m: np.ndarray) -> np.ndarray:
        return alpha + beta * var(coef, m) + np.einsum("kj,kj->k", gamma, m)

    delta_covar_m = covar(bank_q, stress) - covar(bank_median, normal)
    base = covar(bank_q, normal)
    nk = stress.shape[1]
    spill = np.empty_like(stress)
    for k in range(nk):
        m_k = normal.copy()
        m_k[:, k] = stress[:, k]
        spill[:, k] = covar(bank_q, m_k) - base
    own = stress - normal
    risk_taking = bank_q[:, 1:]
    identity = own * (gamma + beta[:, None] * risk_taking)
    size = 1.0 + np.abs(base)[:, None] + np.abs(own) * (np.abs(gamma) + np.abs(beta[:, None] * risk_taking))
    gap = np.abs(spill - identity) / size
    gap = np.where(np.isnan(spill) & np.isnan(identity), 0.0, gap)  # failed windows: NaN coefficients
    if gap.size and not gap.max() <= IDENTITY_TOL:
        row, col = np.unravel_index(int(np.nanargmax(gap)), gap.shape)
        raise AssertionError(
            f"spillover identity S_k = dM_k (gamma_k + beta c_k) fails by {gap.max():.3e} > {IDENTITY_TOL} "
            f"(window {row}, market {col})"
        )
    out = {
        "delta_covar_m": delta_covar_m,
        "spillover": spill,
        "own_risk": own,
        "risk_taking": risk_taking,
        "information": gamma,
        "connectedness": beta,
    }
    if current is not None:
        out["delta_covar"] = beta * (var(bank_q, current) - var(bank_median, current))
    return out


def _bank_frames(bank_id, bank_loss, system_loss, states, config):
    reg = fit_covar_regressions(bank_loss, system_loss, states, q=config.q, window=config.window, step=config.step)
    frame = _align(bank_loss, system_loss, states)
    M = frame.iloc[:, 2:].to_numpy(dtype=float)
    stress, normal = market_levels(M, config.window, config.q, config.step)
    parts = decompose_spillover(reg.bank_q, reg.bank_median, reg.system, stress, normal, current=M[reg.end])
    dates = frame.index[reg.end]
    banks = pd.DataFrame(
        {
            "date": dates,
            "bank_id": bank_id,
            "delta_covar_m": parts["delta_covar_m"],
            "delta_covar": parts["delta_covar"],
            "status": reg.status.astype(str),
        }
    )
    K, nk = stress.shape
    markets = np.array(reg.states, dtype=object)
    channels = pd.DataFrame(
        {
            "date": np.repeat(dates, nk),
            "bank_id": bank_id,
            "market": np.tile(markets, K),
            "spillover": parts["spillover"].ravel(),
            "own_risk": parts["own_risk"].ravel(),
            "risk_taking": parts["risk_taking"].ravel(),
            "information": parts["information"].ravel(),
            "connectedness": np.repeat(parts["connectedness"], nk),
        }
    )
    return banks, channels


def _weighted(frame: pd.DataFrame, weights: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    w = weights.stack().rename("w").rename_axis(["date", "bank_id"]).reset_index()
    merged = frame.merge(w, on=["date", "bank_id"], how="inner")
    merged = merged[np.isfinite(merged["w"]) & (merged["w"] > 0)]
    total = merged.groupby(keys)["w"].transform("sum")
    share = merged["w"] / total
    out = merged[keys].copy()
    for c in columns:
        out[c] = merged[c] * share
    grouped = out.groupby(keys, sort=True)
    result = grouped[columns].sum()
    result["n_banks"] = grouped.size()
    return result.reset_index()


def estimate_market_spillover(
    bank_losses: pd.DataFrame,
    system_loss: pd.Series,
    states: pd.DataFrame,
    weights: pd.DataFrame,
    config: SpilloverConfig | None = None,
) -> SpilloverResult:
    """Market-spillover ΔCoVaR, its decomposition and the system indices (module docstring).

    Parameters
    ----------
    bank_losses : DataFrame (date × bank)
        Losses of each bank; a bank's missing rows are dropped and its windows count valid rows.
    system_loss : Series (date)
        Loss of the system (market-cap-weighted bank return by default, METHODS conventions).
    states : DataFrame (date × market)
        Market states oriented so that larger = more stress, contemporaneous; any subset.
    weights : DataFrame (date × bank)
        Market values (or shares) for the weighted indices; renormalised per date.
    config : SpilloverConfig, optional
    """
    config = config or SpilloverConfig()
    if not isinstance(bank_losses, pd.DataFrame) or bank_losses.shape[1] == 0:
        raise ValueError("bank_losses must be a DataFrame with one column per bank")
    missing = [b for b in bank_losses.columns if b not in weights.columns]
    if missing:
        raise ValueError(f"weights has no column for bank(s) {missing}; it needs one market-value column per bank")
    banks, channels = [], []
    for bank_id in bank_losses.columns:
        b, c = _bank_frames(bank_id, bank_losses[bank_id], system_loss, states, config)
        banks.append(b)
        channels.append(c)
    banks_df = pd.concat(banks, ignore_index=True)
    channels_df = pd.concat(channels, ignore_index=True)
    ok_banks = banks_df[~banks_df["status"].str.startswith("failed")]
    system = _weighted(ok_banks, weights, ["date"], ["delta_covar_m", "delta_covar"]).rename(
        columns={"delta_covar_m": "improved_index", "delta_covar": "traditional_index"}
    )
    ok_channels = channels_df.merge(ok_banks[["date", "bank_id"]], on=["date", "bank_id"], how="inner")
    markets = _weighted(
        ok_channels, weights, ["date", "market"], ["spillover", "own_risk", "risk_taking", "information", "connectedness"]
    )
    return SpilloverResult(banks=banks_df, channels=channels_df, system=system, markets=markets)


def weekly_last(frame: pd.DataFrame, date_column: str = "date", by: list[str] | None = None) -> pd.DataFrame:
    """Rows of the last trading day of each week (Friday-ending weeks, seed 004), per group ``by``."""
    groups = [frame] if not by else [g for _, g in frame.groupby(by, sort=True)]
    keep = []
    for g in groups:
        g = g.sort_values(date_column)
        wins = calendar_windows(pd.DatetimeIndex(g[date_column]), "W-FRI")
        keep.append(g.iloc[wins.end])
    return pd.concat(keep, ignore_index=True) if keep else frame.iloc[:0]
