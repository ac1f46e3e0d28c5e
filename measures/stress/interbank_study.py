r"""Interbank contagion study on one cross-section: sequential default and clearing (docs/interbank.md).

From one period's balance sheets (total assets, equity, interbank assets and liabilities) the
interbank matrix :math:`X` (:math:`X_{ij}` = claim of bank :math:`i` on bank :math:`j`) is
estimated from the margins (:mod:`measures.stress.maxent`: maximum entropy by RAS, or minimum
density). Each bank's balance sheet is then

.. math::

    e_i + \sum_j X_{ij} = E_i + \sum_j X_{ji} + D_i ,

with external (non-interbank) assets :math:`e_i = \text{total assets}_i - \sum_j X_{ij}`, equity
:math:`E_i` and other (external) liabilities :math:`D_i` implied by the identity. On it, every
scenario (initially failing banks, and a common shock :math:`s` on external assets) runs three
models:

* ``sequential`` — the Furfine (2003) cascade with loss given default :math:`\lambda`
  (Lu–Zhang eq. 1–2; :func:`measures.stress.interbank.sequential_default`) with capital
  :math:`k_i = E_i - s\,e_i`;
* ``eisenberg_noe`` — the greatest clearing vector of Eisenberg & Noe (2001) on the banks plus
  one external-creditor node owed :math:`D_i` (pari passu with interbank creditors),
  :math:`p^* = \min(\bar p, e' + \Pi^\top p^*)` with :math:`e' = (1-s)e` and
  :math:`e'_i = (1-\ell)(1-s)e_i` for the initially failing banks (:math:`\ell` = ``initial_loss``);
* ``rogers_veraart`` — the same with the default costs :math:`(\alpha, \beta)` of Rogers &
  Veraart (2013) (:func:`measures.stress.interbank.eisenberg_noe`).

No I/O; the stage ``stress_interbank`` is the wiring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.stress.coverage import InputPlan, choose_period, describe_missing
from measures.stress.interbank import NOT_DEFAULTED, eisenberg_noe, sequential_default
from measures.stress.maxent import RESCALE_RULES, InterbankMatrixEstimate, MaxEntropyConfig, margins_matrix

MODELS = ("sequential", "eisenberg_noe", "rogers_veraart")
MATRIX_METHODS = ("maxent", "min_density")
SOURCES = ("auto", "synthetic", "balance_sheet")
INPUT_COLUMNS = ("bank_id", "total_assets", "equity", "interbank_assets", "interbank_liabilities")
"""Columns of the study's input cross-section (one row per bank, one currency unit)."""
REQUIRED = INPUT_COLUMNS[1:]
NEEDS = ("balance_sheet columns total_assets, equity, interbank_assets and interbank_liabilities for at least 2 banks "
         "in one period (docs/formats.md)")
BANK_COLUMNS = ("scenario", "model", "bank_id", "size_rank", "initial", "defaulted", "default_round", "external_assets",
                "other_liabilities", "equity", "loss_interbank", "equity_after", "obligation", "payment", "recovery")
SCENARIO_COLUMNS = ("scenario", "model", "n_banks", "n_initial", "n_defaulted", "defaulted_share",
                    "assets_defaulted_share", "rounds", "loss_interbank", "loss_share_equity", "shortfall")


@dataclasses.dataclass(frozen=True, kw_only=True)
class InterbankScenario(Config):
    """A scenario: the banks failing first and a common shock.

    name : label. ranks : ``[first, last]`` ranks by total assets (1 = largest) of the banks
    failing first, or None. banks : explicit bank ids failing first (with ``ranks``: both).
    shock : share :math:`s` of external assets every bank loses, in [0, 1).
    """

    name: str
    ranks: tuple[int, int] | None = None
    banks: tuple[str, ...] = ()
    shock: float = 0.0

    def validate(self) -> None:
        if not str(self.name):
            raise ConfigError("scenarios: every scenario needs a name")
        if self.ranks is not None:
            if len(self.ranks) != 2:
                raise ConfigError(f"scenarios[{self.name}].ranks={self.ranks!r} must be [first, last]")
            check_range(f"scenarios[{self.name}].ranks first", self.ranks[0], low=1, integer=True)
            check_range(f"scenarios[{self.name}].ranks last", self.ranks[1], low=self.ranks[0], integer=True)
        check_range(f"scenarios[{self.name}].shock", self.shock, low=0.0, high=1.0, high_open=True)
        if self.ranks is None and not self.banks and self.shock == 0.0:
            raise ConfigError(f"scenarios[{self.name}]: nothing happens; give ranks, banks or a shock > 0")

    def initial(self, bank_ids: Sequence[str], size_rank: np.ndarray) -> np.ndarray:
        """Boolean mask of the banks failing first; unknown ids raise a ConfigError naming them."""
        ids = np.asarray([str(b) for b in bank_ids], dtype=object)
        unknown = sorted(set(map(str, self.banks)) - set(ids))
        if unknown:
            raise ConfigError(f"stress.interbank.scenarios[{self.name}].banks: unknown bank id(s) {', '.join(unknown)}; "
                              f"allowed: the bank_id of the cross-section ({len(ids)} banks)")
        mask = np.isin(ids, [str(b) for b in self.banks])
        if self.ranks is not None:
            mask |= (size_rank >= self.ranks[0]) & (size_rank <= self.ranks[1])
        return mask


DEFAULT_SCENARIOS = (
    InterbankScenario(name="largest_1", ranks=(1, 1)),
    InterbankScenario(name="ranks_16_45", ranks=(16, 45)),
    InterbankScenario(name="ranks_16_115", ranks=(16, 115)),
    InterbankScenario(name="shock_5pct", shock=0.05),
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InterbankConfig(Config):
    """Options of :func:`interbank_study` (the ``stress.interbank`` params group; docs/interbank.md).

    source, seed, period : the input (as ``stress.cascade``: ``auto`` = balance_sheet with
        ``data.source: files``, the simulated 263-bank cross-section with ``synthetic``).
    matrix : ``maxent`` or ``min_density``. rescale : common total when ΣA ≠ ΣL (``smaller`` or a
        :class:`MaxEntropyConfig` rule). tol : RAS tolerance.
    lgd : loss given default λ of the sequential cascade, in [0, 1].
    initial_loss : share ℓ of external assets the initially failing banks lose in the clearing models, in (0, 1].
    rv_alpha, rv_beta : Rogers–Veraart recovery rates of external assets and interbank claims, in (0, 1].
    scenarios : the :class:`InterbankScenario` list (names unique).
    """

    source: str = "auto"
    seed: int = 20190101
    period: str | None = None
    matrix: str = "maxent"
    rescale: str = "smaller"
    tol: float = MaxEntropyConfig().tol
    lgd: float = 1.0
    initial_loss: float = 1.0
    rv_alpha: float = 0.5
    rv_beta: float = 0.9
    scenarios: tuple[InterbankScenario, ...] = DEFAULT_SCENARIOS

    def validate(self) -> None:
        check_choice("source", self.source, SOURCES)
        check_range("seed", self.seed, low=0, integer=True)
        if self.period is not None:
            try:
                pd.Timestamp(str(self.period))
            except ValueError:
                raise ConfigError(f"period={self.period!r} is not a date; allowed: YYYY-MM-DD or null") from None
        check_choice("matrix", self.matrix, MATRIX_METHODS)
        check_choice("rescale", self.rescale, (*RESCALE_RULES, "smaller"))
        MaxEntropyConfig(tol=self.tol)
        check_range("lgd", self.lgd, low=0.0, high=1.0)
        check_range("initial_loss", self.initial_loss, low=0.0, high=1.0, low_open=True)
        check_range("rv_alpha", self.rv_alpha, low=0.0, high=1.0, low_open=True)
        check_range("rv_beta", self.rv_beta, low=0.0, high=1.0, low_open=True)
        names = [s.name for s in self.scenarios]
        if not names or len(set(names)) != len(names):
            raise ConfigError(f"scenarios: need at least one scenario with unique names; got {names!r}")


# ----------------------------------------------------------------------------- inputs


def _event(bank: object, when: object, n: int, action: str, reason: str, detail: str) -> dict[str, Any]:
    return {"bank_id": None if bank is None else str(bank), "date_start": when, "date_end": when, "n_rows": int(n),
            "action": action, "reason": reason, "detail": detail}


def interbank_inputs(bs: pd.DataFrame | None, period: str | None = None) -> InputPlan:
    """One period of the canonical ``balance_sheet`` table as the study's input, or why there is none.

    ``period`` is a ``period_end`` (None = the latest period with at least two usable banks;
    later periods are an ``ignored`` event). Banks without one of :data:`REQUIRED`, with
    equity or total assets not positive, or with interbank assets above total assets are
    excluded (one ``excluded`` event each). Returns an :class:`~measures.stress.coverage.InputPlan`
    (``frame`` with :data:`INPUT_COLUMNS`, sorted by bank_id).
    """
    empty = pd.DataFrame(columns=list(INPUT_COLUMNS))
    if bs is None or bs.empty:
        return InputPlan(frame=empty, events=pd.DataFrame(columns=list(EVENT_COLUMNS)), needs=NEEDS,
                         reason="stress.interbank: the dataset has no balance_sheet table")
    frame = bs.assign(**{c: np.nan for c in REQUIRED if c not in bs.columns})
    ok_values = frame[list(REQUIRED)].notna().all(axis=1) & (frame["equity"] > 0) & (frame["total_assets"] > 0)
    usable = ok_values & (frame["interbank_assets"] <= frame["total_assets"])
    when, rows, reason = choose_period(frame, usable, period, key="stress.interbank.period")
    if reason:
        return InputPlan(frame=empty, events=pd.DataFrame(columns=list(EVENT_COLUMNS)), needs=NEEDS, reason=reason)
    at = frame["period_end"] == when
    if usable[at].sum() < 2:
        gaps = describe_missing(frame[at], REQUIRED, present=list(bs.columns)) or [
            "equity or total assets not positive, or interbank assets above total assets"]
        return InputPlan(frame=empty, events=pd.DataFrame(rows, columns=list(EVENT_COLUMNS)), needs=NEEDS, period=when,
                         reason=f"stress.interbank needs at least 2 banks with complete balance sheets at {when.date()}; "
                                f"got {int(usable[at].sum())}: " + "; ".join(gaps))
    part = frame[at]
    for bank in part.loc[~ok_values[at], "bank_id"]:
        rows.append(_event(bank, when, 1, "excluded", "missing_input",
                           "total_assets, equity, interbank_assets or interbank_liabilities missing, or equity / total "
                           "assets not positive: the bank cannot be placed in the interbank matrix"))
    for bank in part.loc[ok_values[at] & ~usable[at], "bank_id"]:
        rows.append(_event(bank, when, 1, "excluded", "interbank_above_assets",
                           "interbank assets above total assets: negative external assets"))
    out = part.loc[usable[at], list(INPUT_COLUMNS)].assign(bank_id=lambda f: f["bank_id"].astype(str))
    out = out.sort_values("bank_id", kind="mergesort").reset_index(drop=True)
    return InputPlan(frame=out, events=pd.DataFrame(rows, columns=list(EVENT_COLUMNS)), period=when,
                     summary=f"sequential default and clearing on {len(out)} banks at {when.date()} (one cross-section)")


def estimate_matrix(frame: pd.DataFrame, config: InterbankConfig) -> InterbankMatrixEstimate:
    """The interbank matrix from the margins of ``frame`` (:func:`measures.stress.maxent.margins_matrix`)."""
    return margins_matrix(frame["interbank_assets"].to_numpy(float), frame["interbank_liabilities"].to_numpy(float),
                          method=config.matrix, rescale=config.rescale, tol=config.tol)


# ----------------------------------------------------------------------------- the models


@dataclasses.dataclass(frozen=True)
class InterbankSystem:
    """The balance sheets on the estimated matrix (module docstring).

    bank_ids ; x : :math:`X` ; external : :math:`e` ; other : :math:`D` (≥ 0) ; equity : :math:`E` ;
    total_assets ; size_rank (1 = largest, ties by bank id).
    """

    bank_ids: tuple[str, ...]
    x: np.ndarray
    external: np.ndarray
    other: np.ndarray
    equity: np.ndarray
    total_assets: np.ndarray
    size_rank: np.ndarray

    def liabilities(self) -> np.ndarray:
        """The (N+1)×(N+1) liabilities of the clearing models: ``L_ij = X_ji``, ``L_i,N = D_i`` (external creditors)."""
        n = len(self.bank_ids)
        out = np.zeros((n + 1, n + 1))
        out[:n, :n] = self.x.T
        out[:n, n] = self.other
        return out


def build_system(frame: pd.DataFrame, x: np.ndarray) -> tuple[InterbankSystem, pd.DataFrame]:
    """:class:`InterbankSystem` from the input cross-section and the matrix, and the events.

    ``e_i = total_assets_i − Σ_j X_ij`` (≥ 0: the matrix's row sums are at most the reported
    interbank assets, ≤ total assets), ``D_i = total_assets_i − E_i − Σ_j X_ji``; a negative
    ``D_i`` (interbank liabilities in the matrix above the bank's debt) is set to 0 and
    ``flagged`` (the bank's equity in the model is then larger than reported).
    """
    total = frame["total_assets"].to_numpy(float)
    equity = frame["equity"].to_numpy(float)
    external = np.maximum(total - x.sum(axis=1), 0.0)
    other = total - equity - x.sum(axis=0)
    ids = tuple(frame["bank_id"].astype(str))
    rows = [_event(ids[k], None, 1, "flagged", "negative_other_liabilities",
                   f"implied other liabilities {other[k]:.6g} < 0 (interbank liabilities above total liabilities); "
                   "set to 0") for k in np.flatnonzero(other < 0)]
    order = np.lexsort((np.asarray(ids, dtype=object).astype(str), -total))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(1, len(ids) + 1)
    system = InterbankSystem(bank_ids=ids, x=x, external=external, other=np.maximum(other, 0.0), equity=equity,
                             total_assets=total, size_rank=rank)
    return system, pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def scenario_external_assets(system: InterbankSystem, initial: np.ndarray, shock: float, initial_loss: float) -> np.ndarray:
    """External assets after the scenario: ``(1 − s) e``, times ``(1 − ℓ)`` for the initially failing banks."""
    return system.external * (1.0 - shock) * np.where(initial, 1.0 - initial_loss, 1.0)


def _rounds(round_of: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.array([int(r) if r != NOT_DEFAULTED else pd.NA for r in round_of], dtype="Int64")


def _bank_frame(system: InterbankSystem, name: str, model: str, initial: np.ndarray, round_of: np.ndarray,
                loss: np.ndarray, equity_after: np.ndarray, external: np.ndarray, obligation: np.ndarray,
                payment: np.ndarray) -> pd.DataFrame:
    with np.errstate(invalid="ignore", divide="ignore"):
        recovery = np.where(obligation > 0, payment / obligation, np.where(np.isnan(payment), np.nan, 1.0))
    n = len(system.bank_ids)
    return pd.DataFrame({
        "scenario": name, "model": model, "bank_id": list(system.bank_ids), "size_rank": system.size_rank,
        "initial": initial, "defaulted": round_of != NOT_DEFAULTED, "default_round": _rounds(round_of),
        "external_assets": external, "other_liabilities": system.other, "equity": system.equity,
        "loss_interbank": loss, "equity_after": equity_after, "obligation": obligation[:n], "payment": payment[:n],
        "recovery": recovery[:n],
    })


def run_scenario(scenario: InterbankScenario, *, system: InterbankSystem, config: InterbankConfig) -> pd.DataFrame:
    """Per-bank rows (:data:`BANK_COLUMNS`) of the three models for one scenario (module docstring).

    Sequential: round 0 = the scenario's banks and the banks the shock alone makes insolvent
    (``E_i − s e_i < 0``); the losses are ``λ Σ_{h defaulted} X_ih``. Clearing: ``payment`` is
    ``p*_i``, ``loss_interbank = Σ_j X_ij − Σ_j Π_ji p*_j`` (claims not paid), ``equity_after``
    the net worth ``e'_i + Σ_j Π_ji p*_j − p̄_i``; the default round is the fictitious-default round
    minus one, so that in every model round 0 holds the banks that default without contagion
    (clearing: those that cannot pay when every other bank pays in full).
    """
    initial = scenario.initial(system.bank_ids, system.size_rank)
    n = len(system.bank_ids)
    capital = system.equity - scenario.shock * system.external
    seq = sequential_default(system.x, np.maximum(capital, 0.0), lgd=config.lgd, initial=initial | (capital < 0))
    nan = np.full(n, np.nan)
    frames = [_bank_frame(system, scenario.name, "sequential", initial, seq.default_round, seq.losses,
                          capital - seq.losses, system.external * (1.0 - scenario.shock), nan, nan)]
    external = scenario_external_assets(system, initial, scenario.shock, config.initial_loss)
    liab = system.liabilities()
    claims = system.x.sum(axis=1)
    for model, (alpha, beta) in (("eisenberg_noe", (1.0, 1.0)), ("rogers_veraart", (config.rv_alpha, config.rv_beta))):
        res = eisenberg_noe(liab, np.append(external, 0.0), alpha=alpha, beta=beta)
        pi = np.divide(liab, res.obligations[:, None], out=np.zeros_like(liab), where=res.obligations[:, None] > 0)
        received = (pi.T @ res.payments)[:n]
        rounds = np.where(res.default_round[:n] == NOT_DEFAULTED, NOT_DEFAULTED, res.default_round[:n] - 1)
        frames.append(_bank_frame(system, scenario.name, model, initial, rounds, np.maximum(claims - received, 0.0),
                                  res.net_worth[:n], external, res.obligations, res.payments))
    return pd.concat(frames, ignore_index=True)


def scenario_summary(banks: pd.DataFrame) -> pd.DataFrame:
    """Per (scenario, model) row of :data:`SCENARIO_COLUMNS` from the per-bank rows."""
    rows = []
    for (name, model), g in banks.groupby(["scenario", "model"], sort=False):
        d = g["defaulted"].to_numpy(bool)
        rows.append({
            "scenario": name, "model": model, "n_banks": len(g), "n_initial": int(g["initial"].sum()),
            "n_defaulted": int(d.sum()), "defaulted_share": float(d.mean()),
            "assets_defaulted_share": float(g.loc[d, "total_assets"].sum() / g["total_assets"].sum()),
            "rounds": int(g["default_round"].max()) if d.any() else 0,
            "loss_interbank": float(g["loss_interbank"].sum()),
            "loss_share_equity": float(g["loss_interbank"].sum() / g["equity"].sum()),
            "shortfall": float((g["obligation"] - g["payment"]).sum()) if model != "sequential" else np.nan,
        })
    return pd.DataFrame(rows, columns=list(SCENARIO_COLUMNS))


@dataclasses.dataclass(frozen=True)
class InterbankStudy:
    """Tables of :func:`interbank_study` (columns: docs/interbank.md) and its quality events."""

    matrix: pd.DataFrame
    exposures: pd.DataFrame
    banks: pd.DataFrame
    scenarios: pd.DataFrame
    events: pd.DataFrame


def interbank_study(frame: pd.DataFrame, config: InterbankConfig | None = None, *, when: pd.Timestamp | None = None,
                    mapper: Mapper | None = None) -> InterbankStudy:
    """The matrix, and every scenario of ``config`` under the three models (module docstring).

    Parameters
    ----------
    frame : the cross-section (:data:`INPUT_COLUMNS`).
    config : :class:`InterbankConfig`.
    when : the cross-section's date (labels the events).
    mapper : maps the scenarios (one item each); results do not depend on it.

    A scenario whose ``ranks`` reach beyond the system's size is recorded (``flagged`` when it
    still selects a bank or has a shock; ``ignored``, and not run, when nothing would happen).

    Returns
    -------
    InterbankStudy
        ``matrix`` (one row of diagnostics), ``exposures`` (lender, borrower, amount > 0),
        ``banks`` (:data:`BANK_COLUMNS` plus total_assets), ``scenarios`` (:data:`SCENARIO_COLUMNS`).
    """
    config = config or InterbankConfig()
    est = estimate_matrix(frame, config)
    system, events = build_system(frame, est.matrix)
    n = len(system.bank_ids)
    scenarios, skipped = [], []
    for s in config.scenarios:  # unknown ids fail before any work is mapped
        chosen = int(s.initial(system.bank_ids, system.size_rank).sum())
        if s.ranks is not None and s.ranks[1] > n:
            skipped.append(_event(None, when, chosen, "flagged" if chosen or s.shock else "ignored", "ranks_beyond_system",
                                  f"scenario {s.name}: ranks {s.ranks[0]}-{s.ranks[1]} but the system has {n} banks; "
                                  + (f"{chosen} bank(s) fail first" if chosen or s.shock else "nothing happens: not run")))
        if chosen or s.shock:
            scenarios.append(s)
    matrix = pd.DataFrame([{
        "method": config.matrix, "n_banks": n, "n_links": est.n_links, "density": est.n_links / (n * (n - 1)),
        "total_assets": est.total_assets, "total_liabilities": est.total_liabilities,
        "relative_mismatch": est.relative_mismatch, "max_margin_error": est.max_margin_error,
        "iterations": est.iterations, "status": est.status}])
    i, j = np.nonzero(est.matrix)
    ids = np.asarray(system.bank_ids, dtype=object)
    exposures = pd.DataFrame({"lender": ids[i], "borrower": ids[j], "amount": est.matrix[i, j]})
    parts = map_items(mapper, partial(run_scenario, system=system, config=config), scenarios,
                      desc="stress_interbank scenarios")
    banks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(BANK_COLUMNS))
    banks["total_assets"] = np.tile(system.total_assets, len(banks) // n)
    events = pd.concat([events.assign(date_start=when, date_end=when), pd.DataFrame(skipped, columns=list(EVENT_COLUMNS))],
                       ignore_index=True)
    return InterbankStudy(matrix=matrix, exposures=exposures, banks=banks, scenarios=scenario_summary(banks),
                          events=events)
