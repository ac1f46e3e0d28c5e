"""Market-spillover ΔCoVaR and its decomposition (Fang–Chen–Yang 2018).

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
* eq. (8): improved index ``Σ_i w_i ΔCoVaR^M_i``; traditional index ``Σ_i w_i ΔCoVaR_i`` where
  ``ΔCoVaR_i = β (VaR_i(q; M_t) − VaR_i(0.5; M_t))`` from the same window fits at the window's last
  state (``traditional: same_window``), or by default the lagged-state ΔCoVaR of Adrian–Brunnermeier
  2016 (:mod:`measures.covar_qr`) on the same windows (``traditional: lagged``); ``S_k = Σ_i w_i S_k,i``.
  Weights: market-value shares renormalised over the banks with a value at that date.

Values at date t use the window ending at t. Any number and kind of state variables works.
:func:`estimate_market_spillover` is the decomposition; :func:`estimate_spillover_banks` adds the
sample rules, the traditional index, the tidy tables and the events of the pipeline's stage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from measures.core.checks import bank_days_lines
from measures.core.config import Config, check_choice, check_range
from measures.core.mapping import Mapper, map_items
from measures.core.status import NotEstimable
from measures.core.windows import weekly_last
from measures.covar_qr import (
    BANK_BATCH,
    CoVaRConfig,
    LossPanel,
    _align,
    bank_samples,
    check_states,
    concat_events,
    estimate_delta_covar,
    failed_mask,
    fit_covar_regressions,
    states_lines,
    status_events,
)

__all__ = [
    "SpilloverBanks",
    "SpilloverConfig",
    "SpilloverResult",
    "bank_summary",
    "check_identity",
    "check_plan",
    "decompose_spillover",
    "estimate_market_spillover",
    "estimate_spillover_banks",
    "market_levels",
    "spillover_descriptives",
    "stress_series",
    "weekly_last",
]

IDENTITY_TOL = 1e-12


TRADITIONAL = ("lagged", "same_window")
CHANNELS = {"own_risk": "delta_m", "risk_taking": "c", "information": "gamma", "connectedness": "beta"}
BANK_COLUMNS = ["bank_id", "date", "market", "delta_m", "c", "gamma", "beta", "spillover", "delta_covar_m",
                "delta_covar", "status", "a", "var_stress", "covar_stress"]
SUMMARY_COLUMNS = ["bank_id", "first_date", "last_date", "n_windows", "n_ok", "delta_covar_m_mean", "delta_covar_mean"]


@dataclass(frozen=True, kw_only=True)
class SpilloverConfig(Config):
    """Options of the market-spillover ΔCoVaR (``measures.spillover`` in params.yaml).

    Attributes
    ----------
    q : float, default 0.95
        Loss quantile and stress quantile of each state, in (0.5, 1).
    window : int, default 120
        Usable rows per rolling window (>= 10); banks with fewer are excluded.
    step : int, default 1
        Rows between window ends.
    states : tuple of str, optional
        Markets / state variables (columns of the market-states table; None = all),
        contemporaneous, larger = more stress.
    traditional : {"lagged", "same_window"}, default "lagged"
        The traditional index: the lagged-state ΔCoVaR (states lagged one day) on the same
        windows, or ``β (VaR(q; M_t) − VaR(0.5; M_t))`` from the spillover fits.
    max_failure_share : float, default 0.5
        Failure budget: the share of failed bank windows above which a caller stops.
    """

    q: float = 0.95
    window: int = 120
    step: int = 1
    states: tuple[str, ...] | None = None
    traditional: str = "lagged"
    max_failure_share: float = 0.5

    def validate(self) -> None:
        check_range("q", self.q, low=0.5, high=1.0, low_open=True, high_open=True)
        check_range("window", self.window, low=10, integer=True)
        check_range("step", self.step, low=1, integer=True)
        check_states("states", self.states)
        check_choice("traditional", self.traditional, TRADITIONAL)
        check_range("max_failure_share", self.max_failure_share, low=0.0, high=1.0)

    def for_realtime(self) -> "SpilloverConfig":
        """The causal configuration: this one. Every value at t comes from windows ending at t (the
        fits, each state's stress quantile and median over the window's own rows, the lagged
        ΔCoVaR on the same windows) and previous-day weights, so nothing changes."""
        return self


@dataclass(frozen=True)
class SpilloverResult:
    """Tidy outputs of :func:`estimate_market_spillover`.

    ``banks``: date, bank_id, delta_covar_m, delta_covar, status, a (the bank's q-quantile intercept),
    var_stress (``VaR_i(q; M^s)``), covar_stress (``CoVaR_i(q; M^s)``).
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
    the bank's q-quantile intercept ``intercept`` (K,) = ``a^q``, its VaR under market stress
    ``var_stress`` (K,) = ``VaR_i(q; M^s) = a^q + c^q' M^s`` (eq. 4 at the stress levels; the
    "bank risk under market stress" of Fang–Chen–Yang 2018, fig. 2 and table 2), the system's
    ``covar_stress`` (K,) = ``CoVaR_i(q; M^s) = α + β VaR_i(q; M^s) + γ' M^s`` (eq. 6), and
    ``delta_covar`` (K,) when ``current`` is given.

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
        "intercept": bank_q[:, 0],
        "var_stress": var(bank_q, stress),
        "covar_stress": covar(bank_q, stress),
    }
    if current is not None:
        out["delta_covar"] = beta * (var(bank_q, current) - var(bank_median, current))
    return out


def _bank_frames(item, system_loss, states, config):
    bank_id, bank_loss = item
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
            "a": parts["intercept"],
            "var_stress": parts["var_stress"],
            "covar_stress": parts["covar_stress"],
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
    *,
    mapper: Mapper | None = None,
) -> SpilloverResult:
    """Market-spillover ΔCoVaR, its decomposition and the system indices (module docstring).

    Parameters
    ----------
    bank_losses : DataFrame (date × bank)
        Losses of each bank; a bank's missing rows are dropped and its windows count valid rows.
    system_loss : Series (date)
        Loss of the system (market-cap-weighted bank return by default; docs/references.md, "Conventions").
    states : DataFrame (date × market)
        Market states oriented so that larger = more stress, contemporaneous; any subset.
    weights : DataFrame (date × bank)
        Market values (or shares) for the weighted indices; renormalised per date.
    config : SpilloverConfig, optional
        ``q``, ``window``, ``step`` (the other options concern :func:`estimate_spillover_banks`).
    mapper : Mapper, optional
        Maps the per-bank fits (:mod:`measures.core.mapping`; serial by default).
    """
    config = config or SpilloverConfig()
    if not isinstance(bank_losses, pd.DataFrame) or bank_losses.shape[1] == 0:
        raise ValueError("bank_losses must be a DataFrame with one column per bank")
    missing = [b for b in bank_losses.columns if b not in weights.columns]
    if missing:
        raise ValueError(f"weights has no column for bank(s) {missing}; it needs one market-value column per bank")
    fits = map_items(mapper, partial(_bank_frames, system_loss=system_loss, states=states, config=config),
                     [(bank_id, bank_losses[bank_id]) for bank_id in bank_losses.columns], desc="spillover per bank")
    banks_df = pd.concat([b for b, _ in fits], ignore_index=True)
    channels_df = pd.concat([c for _, c in fits], ignore_index=True)
    ok_banks = banks_df[~failed_mask(banks_df["status"])]
    system = _weighted(ok_banks, weights, ["date"], ["delta_covar_m", "delta_covar"]).rename(
        columns={"delta_covar_m": "improved_index", "delta_covar": "traditional_index"}
    )
    ok_channels = channels_df.merge(ok_banks[["date", "bank_id"]], on=["date", "bank_id"], how="inner")
    markets = _weighted(
        ok_channels, weights, ["date", "market"], ["spillover", "own_risk", "risk_taking", "information", "connectedness"]
    )
    return SpilloverResult(banks=banks_df, channels=channels_df, system=system, markets=markets)


# ----------------------------------------------------------------------------- the tables of many banks


def check_identity(frame: pd.DataFrame) -> float:
    """Largest relative gap of ``spillover = delta_m (gamma + beta c)`` over the finite rows.

    ``S_k = ΔM_k (γ_k + β c_k)`` (Fang–Chen–Yang 2018, eq. 12) checked on a tidy table
    (columns ``spillover, delta_m, gamma, beta, c``), relative to ``1 + |ΔM_k| (|γ_k| + |β c_k|)``.

    Raises
    ------
    AssertionError
        If the gap exceeds 1e-12.
    """
    f = frame.loc[frame["spillover"].notna()]
    rhs = f["delta_m"] * (f["gamma"] + f["beta"] * f["c"])
    size = 1.0 + f["delta_m"].abs() * (f["gamma"].abs() + (f["beta"] * f["c"]).abs())
    gap = float(((f["spillover"] - rhs).abs() / size).max()) if len(f) else 0.0
    if not gap <= IDENTITY_TOL:
        raise AssertionError(f"spillover: identity S_k = dM_k (gamma_k + beta c_k) fails by {gap:.3e} > {IDENTITY_TOL}")
    return gap


def weighted_index(frame: pd.DataFrame, weights: pd.DataFrame, column: str) -> pd.Series:
    """``Σ_i w_i x_i / Σ_i w_i`` by date over the rows with a finite value and a non-failed status."""
    w = weights.stack().rename("w").rename_axis(["date", "bank_id"]).reset_index()
    m = frame.merge(w, on=["date", "bank_id"], how="inner")
    m = m[np.isfinite(m[column]) & (m["w"] > 0) & ~failed_mask(m["status"])]
    num = (m[column] * m["w"]).groupby(m["date"]).sum()
    return num / m.groupby("date")["w"].sum()


def _lagged_bank(item: tuple[str, pd.Series], system_loss: pd.Series, states: pd.DataFrame,
                 config: CoVaRConfig) -> pd.DataFrame:
    bank, loss = item
    values, _ = estimate_delta_covar(loss, system_loss, states, config, inference=False)
    values.insert(0, "bank_id", bank)
    return values[["bank_id", "date", "delta_covar", "status"]]


def lagged_delta_covar(panel: LossPanel, banks: list[str], config: SpilloverConfig, *,
                       mapper: Mapper | None = None) -> pd.DataFrame:
    """The lagged-state ΔCoVaR (states lagged one day) on the spillover's rolling windows.

    ``ΔCoVaR_i,t = β̂ (VaR_i,t(q) − VaR_i,t(0.5))`` of Adrian–Brunnermeier 2016 with its own three
    quantile regressions per window of ``config.window`` rows every ``config.step`` rows:
    ``bank_id, date, delta_covar, status``.
    """
    science = CoVaRConfig(q=config.q, estimation="rolling", window=config.window, step=config.step, lag=1,
                          coes_levels=0)  # ΔCoVaR only: no CoES tail fits
    parts = map_items(mapper, partial(_lagged_bank, system_loss=panel.system, states=panel.states, config=science),
                      [(bank, panel.losses[bank]) for bank in banks], desc="lagged ΔCoVaR per bank")
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class SpilloverBanks:
    """Output of :func:`estimate_spillover_banks`.

    ``banks``: one row per bank, date and market (``BANK_COLUMNS``: the channels ``delta_m, c,
    gamma, beta``, ``spillover``, the bank-level ``delta_covar_m`` and ``delta_covar`` repeated over
    the markets, ``status``; None when it was passed to a ``banks`` sink instead). ``summary``:
    one row per bank (``SUMMARY_COLUMNS``, :func:`bank_summary`). ``index``: date, improved_index,
    traditional_index, n_banks, ``spill_<market>``...; ``index_weekly``: its last trading day of
    each week; ``channels``: date, market, spillover, delta_m, c, gamma, beta, n_banks (weighted
    means over banks); ``statuses``: the status of every bank window; ``events``: exclusions and flags;
    ``stress``: :func:`stress_series`; ``descriptives``: :func:`spillover_descriptives`.
    """

    banks: pd.DataFrame | None
    summary: pd.DataFrame
    index: pd.DataFrame
    index_weekly: pd.DataFrame
    channels: pd.DataFrame
    statuses: pd.Series
    events: pd.DataFrame
    not_estimable: str = ""
    stress: pd.DataFrame | None = None
    descriptives: pd.DataFrame | None = None

    def check_estimable(self) -> None:
        """Raise :class:`NotEstimable` when no bank has enough observations (``not_estimable`` says why)."""
        if self.not_estimable:
            raise NotEstimable(self.not_estimable)


def bank_summary(banks: pd.DataFrame) -> pd.DataFrame:
    """One row per bank from the bank-level values (``bank_id, date, delta_covar_m, delta_covar, status``).

    ``first_date``, ``last_date``, ``n_windows`` (all windows), ``n_ok`` (status ok), and the
    means over the ok windows of ``delta_covar_m`` (ΔCoVaR^M, eq. 5) and ``delta_covar`` (the
    traditional ΔCoVaR; its missing values skipped): what the report needs without the table
    of every bank, date and market.
    """
    by = banks.groupby("bank_id", sort=True)
    ok = banks[banks["status"].astype(str) == "ok"].groupby("bank_id", sort=True)
    out = pd.DataFrame({"first_date": by["date"].min(), "last_date": by["date"].max(), "n_windows": by.size()})
    out["n_ok"] = ok.size().reindex(out.index, fill_value=0)
    out["delta_covar_m_mean"] = ok["delta_covar_m"].mean().reindex(out.index)
    out["delta_covar_mean"] = ok["delta_covar"].mean().reindex(out.index)
    return out.reset_index()[SUMMARY_COLUMNS]


def _stream_banks(channels: pd.DataFrame, banks: pd.DataFrame, keep: list[str],
                  sink: Callable[[pd.DataFrame], None] | None) -> pd.DataFrame | None:
    """The table of every bank, date and market, built (and identity-checked) per batch of banks.

    With a ``sink`` each batch goes to it (banks in order) and None is returned; else the whole table.
    """
    channels = channels.rename(columns=CHANNELS)
    bounds = np.searchsorted(channels["bank_id"].map({b: i for i, b in enumerate(keep)}).to_numpy(),
                             np.arange(0, len(keep) + BANK_BATCH, BANK_BATCH))
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        part = channels.iloc[lo:hi].merge(banks, on=["date", "bank_id"], how="left")[BANK_COLUMNS]
        part["date"] = pd.to_datetime(part["date"])
        check_identity(part)
        if sink is None:
            parts.append(part)
        else:
            sink(part)
    if sink is not None:
        return None
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BANK_COLUMNS)


def estimate_spillover_banks(panel: LossPanel, config: SpilloverConfig | None = None, *,
                             mapper: Mapper | None = None,
                             banks: Callable[[pd.DataFrame], None] | None = None) -> SpilloverBanks:
    """Market-spillover ΔCoVaR of every bank of ``panel``, the indices and the channel tables.

    Fang–Chen–Yang 2018 (module docstring): ``ΔCoVaR^M_i = CoVaR_i(q; M^s) − CoVaR_i(0.5; M^n)``,
    ``S_k,i = ΔM_k (γ_k + β c_k)``, indices ``Σ_i w_i ΔCoVaR^M_i`` and ``Σ_i w_i ΔCoVaR_i``. A bank
    with fewer than ``config.window`` usable rows (contemporaneous states) is excluded. With
    ``traditional: lagged`` the traditional index is the lagged-state ΔCoVaR of Adrian–Brunnermeier
    2016 on the same windows (:func:`lagged_delta_covar`); its failed windows leave ``delta_covar``
    missing. Failed spillover windows are left out of the indices. The identity is checked on
    the tidy table (:func:`check_identity`).

    Parameters
    ----------
    panel : LossPanel
        From :func:`measures.covar_qr.loss_panel` (``panel.weights``: previous-day market values).
    config : SpilloverConfig, optional
    mapper : Mapper, optional
        Maps the per-bank fits (:mod:`measures.core.mapping`; serial by default).
    banks : callable, optional
        Called with the table of every bank, date and market per batch of
        :data:`measures.covar_qr.BANK_BATCH` banks (in order), for bounded memory (the caller
        writes it out); the result's ``banks`` is then None.

    Returns
    -------
    SpilloverBanks
        Empty tables and ``not_estimable`` set when no bank has ``config.window`` usable days
        (:meth:`SpilloverBanks.check_estimable` raises then; the events are kept).
    """
    config = config or SpilloverConfig()
    keep, _, sample_events = bank_samples(
        panel, 0, config.window, f"{{n}} usable day(s) < measures.spillover.window={config.window}: no spillover for this bank")
    events = [sample_events]
    if not keep:
        empty = pd.DataFrame(columns=["date"])
        return SpilloverBanks(pd.DataFrame(columns=BANK_COLUMNS), pd.DataFrame(columns=SUMMARY_COLUMNS), empty, empty,
                              empty, pd.Series([], dtype=object), sample_events,
                              f"no bank has {config.window} usable days (see the quality records)",
                              pd.DataFrame(columns=STRESS_COLUMNS), pd.DataFrame(columns=DESCRIPTIVE_COLUMNS))
    weights = panel.weights[keep].fillna(0.0)
    res = estimate_market_spillover(panel.losses[keep], panel.system, panel.states, weights, config, mapper=mapper)
    bank_level = res.banks
    if config.traditional == "lagged":
        lag = lagged_delta_covar(panel, keep, config, mapper=mapper)
        failed = failed_mask(lag["status"])
        events.append(status_events(lag, "{n} lagged-state ΔCoVaR window(s) with status {status}: delta_covar missing, "
                                         "out of the traditional index", failed_action="masked", only_failed=True))
        lag.loc[failed, "delta_covar"] = np.nan
        bank_level = bank_level.drop(columns=["delta_covar"]).merge(lag.drop(columns=["status"]), on=["bank_id", "date"],
                                                                    how="left")
        system = res.system.set_index("date")
        system["traditional_index"] = weighted_index(bank_level, weights, "delta_covar").reindex(system.index)
        res = dataclasses.replace(res, system=system.reset_index())
    events.append(_window_events(bank_level))
    per_bank = _stream_banks(res.channels, bank_level, keep, banks)
    markets = res.markets.rename(columns=CHANNELS)
    wide = markets.pivot(index="date", columns="market", values="spillover")
    wide = wide[[m for m in panel.states.columns if m in wide.columns]]
    wide.columns = [f"spill_{m}" for m in wide.columns]
    index = res.system.set_index("date").join(wide, how="left").reset_index()
    index["n_banks"] = index["n_banks"].astype("int64")
    channels = markets[["date", "market", "spillover", "delta_m", "c", "gamma", "beta", "n_banks"]].copy()
    channels["n_banks"] = channels["n_banks"].astype("int64")
    stress = stress_series(bank_level, weights)
    ok_channels = res.channels.rename(columns=CHANNELS).merge(
        bank_level.loc[~failed_mask(bank_level["status"]), ["date", "bank_id"]], on=["date", "bank_id"], how="inner")
    return SpilloverBanks(per_bank, bank_summary(bank_level), index, weekly_last(index, "date"), channels,
                          bank_level["status"].astype(str), concat_events(events), stress=stress,
                          descriptives=spillover_descriptives(bank_level, ok_channels, stress, channels))


# ----------------------------------------------------------------------------- figures and tables of the paper

STRESS_COLUMNS = ["date", "var_stress", "covar_stress", "delta_covar_m", "n_banks"]
DESCRIPTIVE_COLUMNS = ["level", "variable", "market", "n", "mean", "sd", "min", "max"]
BANK_VARIABLES = ("var_stress", "covar_stress", "delta_covar_m")
MARKET_VARIABLES = ("spillover", "delta_m", "c", "gamma")


def stress_series(banks: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Per date, the market-value-weighted means over the banks with a non-failed window of the bank's
    VaR under market stress, the system's CoVaR under market stress and ΔCoVaR^M.

    ``x_t = Σ_i w_i,t x_i,t / Σ_i w_i,t`` for ``x`` in ``VaR_i(q; M^s) = a^q + c^q' M^s``,
    ``CoVaR_i(q; M^s)`` and ``ΔCoVaR^M_i`` (Fang–Chen–Yang 2018, fig. 2: the bank's risk under market
    stress and its contribution; the weighted ``ΔCoVaR^M`` is the improved index, eq. 8). Columns
    ``STRESS_COLUMNS`` (``n_banks``: banks averaged).
    """
    ok = banks.loc[~failed_mask(banks["status"]), ["date", "bank_id", *BANK_VARIABLES]]
    out = _weighted(ok, weights, ["date"], list(BANK_VARIABLES))
    out["n_banks"] = out["n_banks"].astype("int64")
    return out[STRESS_COLUMNS]


def describe(values: pd.Series) -> dict[str, float]:
    """``n`` (finite values), ``mean``, ``sd`` (sample, ddof = 1; NaN below 2 values), ``min``, ``max``."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    return {"n": n, "mean": float(v.mean()) if n else np.nan, "sd": float(v.std(ddof=1)) if n > 1 else np.nan,
            "min": float(v.min()) if n else np.nan, "max": float(v.max()) if n else np.nan}


def spillover_descriptives(banks: pd.DataFrame, channels: pd.DataFrame, stress: pd.DataFrame,
                           markets: pd.DataFrame) -> pd.DataFrame:
    """Descriptive statistics (n, mean, sd, min, max) of the spillover measures (Fang–Chen–Yang 2018,
    tables 2–3), at two levels.

    ``level = "bank"``: over the bank × date values of the non-failed windows — ``var_stress``
    (``VaR_i(q; M^s)``), ``covar_stress`` (``CoVaR_i(q; M^s)``), ``delta_covar_m`` (eq. 5), ``beta``,
    and per market ``spillover`` (``S_k,i``, eq. 11), ``c``, ``gamma`` (from ``channels``: the tidy
    bank × date × market rows of those windows, columns ``delta_m, c, gamma, beta, spillover``);
    ``level = "system"``: over the dates of the weighted series — the three of :func:`stress_series`
    (its ``delta_covar_m`` is the improved index, eq. 8) and per market ``spillover`` (``S_k``, eq. 12),
    ``delta_m``, ``c``, ``gamma`` and ``beta`` of ``markets`` (the weighted channel table). ``market``
    is empty for the bank-level variables. Columns ``DESCRIPTIVE_COLUMNS``.
    """
    rows = []
    ok = banks.loc[~failed_mask(banks["status"])]
    firsts = channels.drop_duplicates(["date", "bank_id"])
    for level, frame, beta in (("bank", ok, firsts["beta"]), ("system", stress, markets.drop_duplicates("date")["beta"])):
        for var in BANK_VARIABLES:
            rows.append({"level": level, "variable": var, "market": "", **describe(frame[var])})
        rows.append({"level": level, "variable": "beta", "market": "", **describe(beta)})
    for level, frame in (("bank", channels), ("system", markets)):
        for var in MARKET_VARIABLES:
            if level == "bank" and var == "delta_m":
                continue  # the same for every bank: its statistics are the system's
            for market, part in frame.groupby("market", sort=True):
                rows.append({"level": level, "variable": var, "market": str(market), **describe(part[var])})
    out = pd.DataFrame(rows, columns=DESCRIPTIVE_COLUMNS)
    out["n"] = out["n"].astype("int64")
    return out


def check_plan(prices: pd.DataFrame, market_states: pd.DataFrame | None,
               config: SpilloverConfig) -> list[tuple[str, str]]:
    """What :func:`estimate_spillover_banks` will estimate from the canonical tables (check lines):
    the markets (:func:`measures.covar_qr.states_lines`) and the banks with ``window`` return days."""
    what = "market spillover"
    lines = states_lines(market_states, config.states, where="measures.spillover.states", what=what)
    if any(kind == "cannot" for kind, _ in lines):
        return lines
    return lines + bank_days_lines(prices, config.window, "measures.spillover.window", what)[1]


def _window_events(banks: pd.DataFrame) -> pd.DataFrame:
    """Warnings flagged, failures excluded (left out of the indices), per bank and status."""
    warn = status_events(banks, "{n} window(s) with status {status}", failed_action="excluded")
    failed = warn["reason"] == "fit_failed"
    warn.loc[failed, "detail"] = warn.loc[failed, "detail"] + " (left out of the indices)"
    return warn
