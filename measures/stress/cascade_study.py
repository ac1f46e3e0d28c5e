r"""The balance-sheet contagion study of Fan–Rong–Duan on one cross-section (docs/cascade.md).

From one period's balance sheets this module builds the interbank matrix (from the margins,
:mod:`measures.stress.maxent`) and the bank–asset network
(:class:`~measures.stress.bank_asset.BankAssetNetwork`), and runs on it, for the full system
and the system without the largest banks:

* the common-shock surface: :func:`~measures.stress.cascade.cascade` at every
  :math:`(\alpha, \beta)` of a grid;
* the named-failure scenarios (the largest or smallest banks fail first) at a fixed
  :math:`\alpha` and several :math:`\beta`, with their default hierarchies;
* the failure boundaries of every bank (closed form) and of every group (bisection);
* DebtRank of each bank defaulting alone.

:class:`CascadeStudyConfig` holds every option (the ``stress.cascade`` params group);
:func:`cascade_study` runs everything and returns the tables and the quality events
(bank_id, date_start, date_end, n_rows, action, reason, detail). No I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.mapping import Mapper, map_items
from measures.core.status import NotEstimable
from measures.stress.bank_asset import BankAssetNetwork
from measures.stress.cascade import CascadeConfig, cascade
from measures.stress.coverage import InputPlan, apply_fills, check_fill, describe_missing, periods_text
from measures.stress.debtrank import WEIGHT_RULES, debtrank_by_bank
from measures.stress.cascade_named import DEFAULT_NAMED, NamedFailure, check_named, scenario_members, system_name
from measures.stress.cascade_tables import balance_sheet_descriptives, boundary_stats
from measures.stress.failure_boundary import (dependency_boundaries, dependency_group_boundary, dependency_matrix,
                                              failure_boundaries, group_failure_boundary)
from measures.stress.rescue import RESCUE_TOL, rescue_cost
from measures.stress.maxent import (
    RESCALE_RULES,
    InterbankMatrixEstimate,
    MaxEntropyConfig,
    max_entropy_matrix,
    minimum_density_matrix,
)
from measures.core.events import EVENT_COLUMNS

CLASSES = ("loans_other", "real_estate_loans", "securities")
"""The external asset classes of the network."""
MATRIX_METHODS = ("maxent", "min_density")
SOURCES = ("auto", "synthetic", "balance_sheet")
INPUT_COLUMNS = ("bank_id", "group", "total_assets", "equity", "loans", "real_estate_loans", "securities",
                 "interbank_assets", "interbank_liabilities")
"""Columns of the study's input cross-section (one row per bank, one currency unit)."""
REQUIRED = ("total_assets", "equity", "loans", "interbank_assets", "interbank_liabilities", "real_estate_loans",
            "securities")
"""Balance-sheet columns the study needs for every bank of the period (after the fill rules)."""
FILLABLE = ("loans", "real_estate_loans", "securities", "interbank_assets", "interbank_liabilities")
DEFAULT_FILL = {"real_estate_loans": {"share": 0.0, "of": "loans"}, "securities": {"share": 0.0, "of": "total_assets"}}
"""A missing real-estate or securities figure counts as 0 (its class is empty for that bank)."""
NEEDS = ("balance_sheet columns total_assets, equity, loans, interbank_assets and interbank_liabilities for at least "
         "2 banks in one period (docs/formats.md), or stress.cascade.fill rules for the fillable ones (docs/cascade.md)")


SURFACE_COLUMNS = ("system", "scenario", "alpha", "beta", "n_banks", "n_failed", "failed_share", "rounds",
                   "loss_shock", "loss_fire_sale", "loss_interbank", "status", "rescue_rate", "rescue_cost",
                   "rescue_targeted")


def grid_values(name: str, value: Sequence[Any]) -> np.ndarray:
    """``[start, stop, n]`` → ``n`` equally spaced values in [0, 1] (rounded to 12 decimals)."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ConfigError(f"{name}={value!r} must be [start, stop, n]")
    start, stop, n = value
    check_range(f"{name} start", start, low=0.0, high=1.0)
    check_range(f"{name} stop", stop, low=float(start), high=1.0)
    check_range(f"{name} n", n, low=1, integer=True)
    return np.round(np.linspace(float(start), float(stop), int(n)), 12)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CascadeStudyConfig(Config):
    """Options of :func:`cascade_study` (docs/cascade.md, "Parameters").

    threshold : a bank fails when its equity < threshold × its initial capital, in [0, 1).
    seniority : recovery rule of :class:`CascadeConfig`.
    matrix : ``maxent`` (RAS, :func:`max_entropy_matrix`) or ``min_density``.
    rescale : common total of the margins when ΣA ≠ ΣL: ``smaller`` (the smaller total: the
        interbank market inside the sample is at most that) or a rule of :class:`MaxEntropyConfig`.
    tol : RAS tolerance (:class:`MaxEntropyConfig`).
    alpha_grid, beta_grid : ``[start, stop, n]`` of the common-shock surface.
    named, named_alpha, named_betas : the named-failure scenarios and their (α, β).
    n_largest, without_largest, market : the system without the ``n_largest`` largest banks:
        ``restrict`` (the estimated matrix, claims on removed banks riskless; fire-sale shares
        against the ``remaining`` or ``original`` market), ``reestimate`` or ``none``.
    market_depth : market of each class = depth × the banks' holdings (≥ 1).
    residual_assets : total assets − loans − securities − interbank assets: ``other`` (neither
        shocked nor sold) or ``securities`` (added to the securities class).
    boundary_beta : fire-sale discount behind the group failure boundaries.
    outside_share : Fan–Rong–Duan's dependency-form boundaries: share of every bank's interbank
        liabilities held outside the sample, in (0, 1); None = from the data (1 − the matrix's column
        sum / the reported interbank liabilities).
    rescue_tol : relative bisection tolerance of the rescue rate (:func:`rescue_cost`).
    debtrank_weights : DebtRank value weights.
    """

    threshold: float = 0.0
    seniority: str = CascadeConfig().seniority
    matrix: str = "maxent"
    rescale: str = "smaller"
    tol: float = MaxEntropyConfig().tol
    alpha_grid: tuple[Any, ...] = (0.0, 0.15, 50)
    beta_grid: tuple[Any, ...] = (0.0, 1.0, 50)
    named: tuple[NamedFailure, ...] = DEFAULT_NAMED
    named_alpha: float = 0.04
    named_betas: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    n_largest: int = 15
    without_largest: str = "restrict"
    market: str = "remaining"
    market_depth: float = 4.0
    residual_assets: str = "other"
    boundary_beta: float = 0.0
    outside_share: float | None = 0.04
    rescue_tol: float = RESCUE_TOL
    debtrank_weights: str = "capital"

    def validate(self) -> None:
        check_range("threshold", self.threshold, low=0.0, high=1.0, high_open=True)
        self.cascade_config()
        check_choice("matrix", self.matrix, MATRIX_METHODS)
        check_choice("rescale", self.rescale, (*RESCALE_RULES, "smaller"))
        MaxEntropyConfig(tol=self.tol)
        self.alphas()
        self.betas()
        check_named(self.named)
        check_range("named_alpha", self.named_alpha, low=0.0, high=1.0)
        for b in self.named_betas:
            check_range("named_betas", b, low=0.0, high=1.0)
        check_range("n_largest", self.n_largest, low=0, integer=True)
        check_choice("without_largest", self.without_largest, ("restrict", "reestimate", "none"))
        check_choice("market", self.market, ("remaining", "original"))
        check_range("market_depth", self.market_depth, low=1.0)
        check_choice("residual_assets", self.residual_assets, ("other", "securities"))
        check_range("boundary_beta", self.boundary_beta, low=0.0, high=1.0)
        if self.outside_share is not None:
            check_range("outside_share", self.outside_share, low=0.0, high=1.0, low_open=True, high_open=True)
        check_range("rescue_tol", self.rescue_tol, low=0.0, high=0.01, low_open=True)
        check_choice("debtrank_weights", self.debtrank_weights, WEIGHT_RULES)

    def alphas(self) -> np.ndarray:
        return grid_values("alpha_grid", self.alpha_grid)

    def betas(self) -> np.ndarray:
        return grid_values("beta_grid", self.beta_grid)

    def cascade_config(self) -> CascadeConfig:
        return CascadeConfig(seniority=self.seniority)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CascadeParams(CascadeStudyConfig):
    """The ``stress.cascade`` params group: :class:`CascadeStudyConfig` (same fields, same defaults) plus the input.

    source : ``auto`` (``balance_sheet`` when ``data.source`` is ``files``, ``synthetic`` when it
        is ``synthetic``), ``synthetic`` (the simulated 263-bank 2019 cross-section, ``seed``) or
        ``balance_sheet`` (the canonical table at ``period``, YYYY-MM-DD; None = the latest
        period with two usable banks).
    fill : ``{column of FILLABLE: {share, of}}`` for missing balance-sheet inputs (recorded).
    """

    source: str = "auto"
    seed: int = 20190101
    period: str | None = None
    fill: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=lambda: dict(DEFAULT_FILL))

    def validate(self) -> None:
        super().validate()
        check_choice("source", self.source, SOURCES)
        check_range("seed", self.seed, low=0, integer=True)
        check_fill(self.fill, FILLABLE)
        if self.period is not None:
            try:
                pd.Timestamp(str(self.period))
            except ValueError:
                raise ConfigError(f"period={self.period!r} is not a date; allowed: YYYY-MM-DD or null") from None

    def study(self) -> CascadeStudyConfig:
        """The study options alone."""
        return CascadeStudyConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(CascadeStudyConfig)})


@dataclasses.dataclass(frozen=True)
class CascadeStudy:
    """Tables of :func:`cascade_study` (columns: docs/cascade.md, "Outputs") and its quality events."""

    matrix: pd.DataFrame
    surface: pd.DataFrame
    hierarchy: pd.DataFrame
    boundary: pd.DataFrame
    debtrank: pd.DataFrame
    descriptives: pd.DataFrame
    boundary_stats: pd.DataFrame
    events: pd.DataFrame


def _events(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def _event(bank: object, when: pd.Timestamp, n: int, action: str, reason: str, detail: str) -> dict[str, Any]:
    return {"bank_id": None if bank is None else str(bank), "date_start": when, "date_end": when, "n_rows": int(n),
            "action": action, "reason": reason, "detail": detail}


# ----------------------------------------------------------------------------- inputs


def _with_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every required column (NaN where the table lacks it)."""
    return frame.assign(**{c: np.nan for c in REQUIRED if c not in frame.columns})


def _usable(frame: pd.DataFrame) -> pd.Series:
    """Rows with every required input and positive equity and total assets."""
    return frame[list(REQUIRED)].notna().all(axis=1) & (frame["equity"] > 0) & (frame["total_assets"] > 0)


def balance_sheet_inputs(bs: pd.DataFrame | None, banks: pd.DataFrame | None = None, period: str | None = None,
                         fill: Mapping[str, Mapping[str, Any]] | None = None) -> InputPlan:
    """One period of a canonical balance-sheet table as the study's input, or why there is none.

    ``fill`` (default ``DEFAULT_FILL``: real-estate loans and securities 0 when missing) sets a
    missing column of ``FILLABLE`` to ``share × of`` (:func:`measures.stress.coverage.apply_fills`,
    one ``filled`` event per bank). External classes: ``loans_other = loans − real_estate_loans``,
    ``real_estate_loans`` (at most ``loans``), ``securities``; capital = ``equity``. Banks
    without both interbank margins, a loan, real-estate or securities figure, or positive
    equity and total assets are excluded (events). ``group`` comes from ``banks`` (``"all"``
    without one, ``"unassigned"`` for a bank it lacks). ``period`` is a ``period_end``; None =
    the latest period with at least two usable banks (later periods: an ``ignored`` event).

    Returns an :class:`~measures.stress.coverage.InputPlan`: ``frame`` sorted by bank_id with
    ``INPUT_COLUMNS``, ``period``, and ``reason``/``needs`` (naming the missing columns × banks ×
    periods) when no table, no rows at ``period`` or fewer than two usable banks.
    """
    empty = pd.DataFrame(columns=list(INPUT_COLUMNS))
    if bs is None or bs.empty:
        return InputPlan(frame=empty, events=_events([]), needs=NEEDS,
                         reason="stress.cascade: the dataset has no balance_sheet table")
    rules = check_fill(DEFAULT_FILL if fill is None else fill, FILLABLE)
    filled = _with_inputs(apply_fills(bs, rules, where="stress.cascade.fill")[0])
    usable = _usable(filled)
    rows: list[dict[str, Any]] = []
    if period is not None:
        when = pd.Timestamp(str(period))
        if not (filled["period_end"] == when).any():
            available = ", ".join(str(d.date()) for d in sorted(bs["period_end"].unique())[-8:])
            return InputPlan(frame=empty, events=_events([]), needs=NEEDS,
                             reason=f"stress.cascade.period={period!r}: no balance_sheet rows at {when.date()}; "
                                    f"latest periods: {available}")
    else:
        counts = filled.loc[usable, "period_end"].value_counts()
        good = counts[counts >= 2].index
        when = max(good) if len(good) else filled["period_end"].max()
        later = filled["period_end"] > when
        if later.any():
            rows.append(_event(None, when, int(later.sum()), "ignored", "later_periods_incomplete",
                               f"later periods {periods_text(filled.loc[later, 'period_end'])} have fewer than 2 banks "
                               f"with the inputs; the cross-section is {when.date()}"))
    at = filled["period_end"] == when
    if usable[at].sum() < 2:
        scope = filled[at] if period is not None else filled
        gaps = describe_missing(scope, REQUIRED, present=list(bs.columns)) or ["equity or total assets not positive"]
        where = f"at stress.cascade.period {when.date()}" if period is not None else \
            f"in any period of balance_sheet ({periods_text(filled['period_end'])})"
        return InputPlan(frame=empty, events=_events(rows), needs=NEEDS, period=when,
                         reason=f"stress.cascade needs at least 2 banks with complete balance sheets {where}; got "
                                f"{int(usable[at].sum())}{'' if period is not None else f' at {when.date()}'}: "
                                + "; ".join(gaps))
    frame, fills = apply_fills(bs[bs["period_end"] == when], rules, where="stress.cascade.fill")
    frame = _with_inputs(frame)

    def record(part: pd.DataFrame, reason: str, detail: str) -> None:
        rows.extend(_event(b, when, 1, "excluded", reason, detail) for b in part["bank_id"])

    checks = (
        (frame["interbank_assets"].isna() | frame["interbank_liabilities"].isna(), "missing_interbank_margin",
         "interbank assets or liabilities missing: the bank cannot be placed in the interbank matrix"),
        (~(frame["equity"] > 0), "non_positive_equity", "equity missing or <= 0: no capital to absorb losses"),
        (~(frame["total_assets"] > 0) | frame["loans"].isna(), "missing_assets", "total assets or loans missing"),
        (frame["real_estate_loans"].isna() | frame["securities"].isna(), "missing_input",
         "real_estate_loans or securities missing (no stress.cascade.fill rule)"),
    )
    keep = pd.Series(True, index=frame.index)
    for bad, reason, detail in checks:
        bad = bad & keep
        record(frame[bad], reason, detail)
        keep &= ~bad
    frame = frame[keep]
    fills = fills[fills["bank_id"].isin(frame["bank_id"])]
    frame["real_estate_loans"] = np.minimum(frame["real_estate_loans"], frame["loans"])
    if banks is not None and "group" in banks.columns:
        frame = frame.merge(banks[["bank_id", "group"]], on="bank_id", how="left")
    if "group" not in frame.columns:
        frame["group"] = "all"
    frame["group"] = frame["group"].fillna("unassigned").astype(object)
    frame = frame[list(INPUT_COLUMNS)].sort_values("bank_id", kind="mergesort").reset_index(drop=True)
    summary = f"cascade on {len(frame)} banks at {when.date()} (one cross-section)"
    return InputPlan(frame=frame, events=pd.concat([fills, _events(rows)], ignore_index=True), summary=summary,
                     period=when)


def with_residual_assets(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """``rule = "securities"``: add ``total_assets − loans − securities − interbank_assets`` (≥ 0) to
    the securities; ``"other"``: unchanged."""
    check_choice("residual_assets", rule, ("other", "securities"))
    if rule == "other":
        return frame
    rest = frame["total_assets"] - frame["loans"] - frame["securities"] - frame["interbank_assets"]
    return frame.assign(securities=frame["securities"] + rest.clip(lower=0.0))


# ----------------------------------------------------------------------------- network


def estimate_interbank_matrix(frame: pd.DataFrame, config: CascadeStudyConfig | None = None) -> InterbankMatrixEstimate:
    """The interbank matrix from the margins ``interbank_assets`` / ``interbank_liabilities`` of ``frame``.

    ``config.matrix``: :func:`max_entropy_matrix` (``tol``) or :func:`minimum_density_matrix`;
    ``rescale = "smaller"`` scales both margins to the smaller of ΣA and ΣL.
    """
    config = config or CascadeStudyConfig()
    a, l = frame["interbank_assets"].to_numpy(float), frame["interbank_liabilities"].to_numpy(float)
    rescale = config.rescale
    if rescale == "smaller":
        rescale = "assets" if a.sum() <= l.sum() else "liabilities"
    if config.matrix == "maxent":
        return max_entropy_matrix(a, l, tol=config.tol, rescale=rescale)
    return minimum_density_matrix(a, l, rescale=rescale)


def build_network(frame: pd.DataFrame, x: np.ndarray, threshold: float, depth: float = 1.0
                  ) -> tuple[BankAssetNetwork, list[str]]:
    r"""The bank–asset network of a cross-section with interbank matrix ``x``.

    Classes ``CLASSES``: :math:`q_{i\cdot} = (\text{loans} - \text{re}, \text{re}, \text{securities})`;
    capital = equity; threshold :math:`\theta_i = \text{threshold}\cdot E_i`; market of class
    :math:`m`: :math:`Q_m = \text{depth}\sum_i q_{im}` (:func:`deepen`). Other assets

    .. math::

        o_i = \max\bigl(a_i - \textstyle\sum_m q_{im} - \sum_j X_{ij},\;
              \sum_j X_{ji} + E_i - \sum_m q_{im} - \sum_j X_{ij},\; 0\bigr),

    i.e. the rest of total assets, raised where needed so that the implied other liabilities
    are ≥ 0. Returns the network and the ids of the banks whose other assets were raised.
    """
    q = np.column_stack([
        (frame["loans"] - frame["real_estate_loans"]).to_numpy(float),
        frame["real_estate_loans"].to_numpy(float),
        frame["securities"].to_numpy(float),
    ])
    capital = frame["equity"].to_numpy(float)
    other = frame["total_assets"].to_numpy(float) - q.sum(axis=1) - x.sum(axis=1)
    need = x.sum(axis=0) + capital - q.sum(axis=1) - x.sum(axis=1)
    raised = other < need - 1e-9 * frame["total_assets"].to_numpy(float)
    other = np.maximum(np.maximum(other, need), 0.0)
    raised_ids = [str(b) for b in frame["bank_id"][raised]]
    net = BankAssetNetwork(q, x, capital, threshold=threshold * capital, other_assets=other, names=list(frame["bank_id"]))
    return deepen(net, depth), raised_ids


def deepen(net: BankAssetNetwork, depth: float) -> BankAssetNetwork:
    """The same network with market sizes ``Q_m = depth · Σ_i q_im``."""
    return BankAssetNetwork(net.external_assets, net.interbank, net.capital, threshold=net.threshold,
                            other_assets=net.other_assets, market_size=depth * net.external_assets.sum(axis=0),
                            names=net.names)


# ----------------------------------------------------------------------------- scenarios


def _row(system: str, scenario: str, alpha: float, beta: float, res, rescue=None) -> dict[str, Any]:
    losses = res.total_losses()
    return {
        "system": system, "scenario": scenario, "alpha": float(alpha), "beta": float(beta),
        "n_banks": int(res.failed.size), "n_failed": res.n_failed, "failed_share": res.share_failed,
        "rounds": int(res.rounds), "loss_shock": losses["shock"], "loss_fire_sale": losses["fire_sale"],
        "loss_interbank": losses["interbank"], "status": res.status,
        "rescue_rate": np.nan if rescue is None else rescue.rate,
        "rescue_cost": np.nan if rescue is None else rescue.cost,
        "rescue_targeted": np.nan if rescue is None else rescue.targeted,
    }


def _common_row(item: tuple[str, BankAssetNetwork, float], *, betas: np.ndarray, config: CascadeConfig) -> list[dict]:
    system, net, a = item
    return [_row(system, "common", a, b, cascade(net, alpha=a, beta=b, config=config)) for b in betas]


def _named_rows(item: tuple[str, BankAssetNetwork, list[str], str, list[int]], *, alpha: float,
                betas: Sequence[float], config: CascadeConfig, tol: float) -> tuple[list[dict], list[dict]]:
    system, net, ids, scenario, start = item
    rows, layers = [], []
    for b in betas:
        res = cascade(net, alpha=alpha, beta=b, initial_failures=start, config=config)
        rescue = rescue_cost(net, start, alpha=alpha, beta=b, tol=tol, config=config)
        rows.append(_row(system, scenario, alpha, b, res, rescue))
        layers += [{"system": system, "scenario": scenario, "beta": float(b), "bank_id": ids[k], "layer": int(res.layer[k])}
                   for k in np.flatnonzero(res.failed)]
    return rows, layers


def run_scenarios(systems: Mapping[str, tuple[BankAssetNetwork, list[str]]],
                  named: Mapping[str, tuple[str, list[str]]], config: CascadeStudyConfig | None = None, *,
                  surface_systems: Sequence[str] | None = None, mapper: Mapper | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The common-shock surface and the named-failure hierarchies and rescue costs.

    Surface: :func:`cascade` at every ``(α, β)`` of ``config.alphas() × config.betas()``
    (scenario ``common``) on each of ``surface_systems`` (default: every system); named
    scenarios: ``named[scenario] = (system, members)`` — the members fail in layer 1 of that
    system at ``α = named_alpha`` and each ``β`` of ``named_betas``, with the rescue cost
    (:func:`measures.stress.rescue.rescue_cost`, tolerance ``rescue_tol``). Returns
    ``(surface, hierarchy)``: one row per run (``SURFACE_COLUMNS``; the rescue columns are NaN
    for ``common``), and system, scenario, beta, bank_id, layer of every failed bank of the named
    runs. ``mapper`` maps the (system, α) rows and the scenario runs.
    """
    config = config or CascadeStudyConfig()
    ccfg = config.cascade_config()
    surface_systems = list(systems) if surface_systems is None else list(surface_systems)
    common = [(s, systems[s][0], float(a)) for s in surface_systems for a in config.alphas()]
    runs = []
    for scenario, (system, members) in named.items():
        net, ids = systems[system]
        position = {bank: k for k, bank in enumerate(ids)}
        runs.append((system, net, ids, scenario, [position[m] for m in members]))
    surface_rows = map_items(mapper, partial(_common_row, betas=config.betas(), config=ccfg), common, desc="surface")
    named_runs = map_items(mapper, partial(_named_rows, alpha=config.named_alpha, betas=config.named_betas, config=ccfg,
                                           tol=config.rescue_tol), runs, desc="named failures")
    rows = [r for chunk in surface_rows for r in chunk]
    layers: list[dict] = []
    for r, lay in named_runs:
        rows += r
        layers += lay
    surface = pd.DataFrame(rows, columns=list(SURFACE_COLUMNS))
    hierarchy = pd.DataFrame(layers, columns=["system", "scenario", "beta", "bank_id", "layer"])
    return surface, hierarchy.astype({"layer": "int64", "beta": "float64"})


def _group_row(item: tuple[str, np.ndarray], *, net: BankAssetNetwork, ext: np.ndarray, beta: float,
               config: CascadeConfig, dependency: np.ndarray) -> dict[str, Any]:
    name, mask = item
    fb = group_failure_boundary(net, mask, alpha=0.0, beta=beta, criterion="all", config=config)
    dep_fraction, dep_loss = dependency_group_boundary(net, dependency, mask)
    return {"kind": "group", "id": name, "group": name, "n_banks": int(mask.sum()),
            "external_assets": float(ext[mask].sum()), "capital": float(net.capital[mask].sum()),
            "boundary": fb.loss, "fraction": fb.fraction, "n_failed": float(fb.n_failed), "status": "ok",
            "boundary_dependency": dep_loss, "fraction_dependency": dep_fraction}


def boundaries(net: BankAssetNetwork, frame: pd.DataFrame, groups: Mapping[str, list[str]],
               config: CascadeStudyConfig | None = None, *, mapper: Mapper | None = None) -> pd.DataFrame:
    """Every bank's failure boundary and each group's joint boundary, under two definitions.

    Equity form (``boundary``, ``fraction``): the closed form of :func:`failure_boundaries` and the
    bisection of :func:`group_failure_boundary` (criterion ``all``, α = 0, β = ``boundary_beta``).
    Fan–Rong–Duan's dependency form (``boundary_dependency``, ``fraction_dependency``):
    :func:`dependency_boundaries` and :func:`dependency_group_boundary` with the dependency matrix of
    :func:`dependency_matrix` (``outside_share``; reported margins ``frame.interbank_liabilities``).

    One row per bank (kind ``bank``) then per group (kind ``group``): id, group, n_banks,
    external_assets, capital, boundary (currency), fraction (of the external assets), n_failed,
    status, boundary_dependency, fraction_dependency. ``mapper`` maps the groups.
    """
    config = config or CascadeStudyConfig()
    ext = net.external_assets.sum(axis=1)
    b = failure_boundaries(net)
    dependency, _ = dependency_matrix(net.interbank, frame["interbank_liabilities"].to_numpy(float),
                                      config.outside_share)
    dep = dependency_boundaries(net, dependency)
    rows = [
        {"kind": "bank", "id": bank, "group": g, "n_banks": 1, "external_assets": float(e), "capital": float(c),
         "boundary": float(v), "fraction": float(v / e) if e > 0 else np.inf, "n_failed": np.nan, "status": "ok",
         "boundary_dependency": float(d), "fraction_dependency": float(d / e) if e > 0 else np.inf}
        for bank, g, e, c, v, d in zip(frame["bank_id"], frame["group"], ext, net.capital, b, dep, strict=True)
    ]
    index = {bank: k for k, bank in enumerate(frame["bank_id"])}
    masks = []
    for name, members in groups.items():
        mask = np.zeros(net.n_banks, dtype=bool)
        mask[[index[m] for m in members]] = True
        masks.append((name, mask))
    rows += map_items(mapper, partial(_group_row, net=net, ext=ext, beta=config.boundary_beta,
                                      config=config.cascade_config(), dependency=dependency), masks,
                      desc="group boundaries")
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- the study


def with_size_rank(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``size_rank``: 1 = the largest total assets, ties by row order."""
    return frame.assign(size_rank=frame["total_assets"].rank(method="first", ascending=False).astype("int64"))


def scenarios_not_run(frame: pd.DataFrame, named: Sequence[NamedFailure]) -> list[str]:
    """Why each named scenario that the cross-section ``frame`` cannot hold is not run (for the ``check`` hook)."""
    ranked = with_size_rank(frame)
    return [why for spec in named for members, why in [scenario_members(ranked, spec)] if members is None]


def named_groups(frame: pd.DataFrame, named: Sequence[NamedFailure], when: pd.Timestamp, n_largest: int
                 ) -> tuple[dict[str, tuple[str, list[str]]], list[dict[str, Any]]]:
    """``{scenario: (system, members)}`` (:func:`scenario_members`, :func:`system_name`); a scenario that
    cannot run on this sample is an ``ignored`` event (reason ``named_scenario_not_run``)."""
    out, rows = {}, []
    for spec in named:
        members, why = scenario_members(frame, spec)
        if members is None:
            rows.append(_event(None, when, len(frame), "ignored", "named_scenario_not_run", why))
        else:
            out[spec.name] = (system_name(spec.exclusion(), n_largest), members)
    return out, rows


def _reduced_system(frame: pd.DataFrame, net: BankAssetNetwork, exclusion: tuple[int, int],
                    config: CascadeStudyConfig) -> tuple[BankAssetNetwork, list[str], InterbankMatrixEstimate | None]:
    """The system without the banks of size ranks ``exclusion`` (``without_largest`` rule: ``restrict``, the
    default and the rule when it is ``none``, or ``reestimate``)."""
    keep = ~frame["size_rank"].between(*exclusion).to_numpy()
    kept = frame[keep].reset_index(drop=True)
    if config.without_largest == "reestimate":
        est = estimate_interbank_matrix(kept, config)
        sub, _ = build_network(kept, est.matrix, config.threshold, config.market_depth)
        return sub, list(kept["bank_id"]), est
    sub = net.restrict(keep, market=config.market)
    sub = sub if config.market == "original" else deepen(sub, config.market_depth)
    return sub, list(kept["bank_id"]), None


def cascade_study(frame: pd.DataFrame, config: CascadeStudyConfig | None = None, *, when: pd.Timestamp,
                  mapper: Mapper | None = None) -> CascadeStudy:
    """The whole balance-sheet contagion study of one cross-section (docs/cascade.md).

    Steps: Table 1 descriptives of the input (:func:`balance_sheet_descriptives`); residual assets
    (``residual_assets``); size ranks (by total assets, descending, ties by row order); the named
    scenarios and their systems (:func:`named_groups`); the interbank matrix and the network of
    the full system (``all``); the system ``without_largest`` (the ``n_largest`` largest banks
    removed: the matrix restricted or re-estimated; the common surface runs on it too) and every
    other system a scenario's ``exclude_ranks`` asks for; :func:`run_scenarios`; :func:`boundaries`
    of the full system for the groups ``largest_<n>``, the named scenarios of the full system with
    more than one bank and each bank group (``group:<name>``) with more than one but not all banks;
    DebtRank (:func:`debtrank_by_bank`, ψ = 1) of each bank; per group and boundary rule, the joint
    boundary and the members' individual boundaries (:func:`boundary_stats`).

    Parameters
    ----------
    frame : one row per bank with ``INPUT_COLUMNS`` (e.g. :func:`balance_sheet_inputs`); other
        columns (e.g. ``car``, ``ldr``, ``deposits``) feed the descriptives only.
    config : options (default ``CascadeStudyConfig()``).
    when : the period of the cross-section (dates the events and the matrix table).
    mapper : maps the scenario runs and the group boundaries.

    Raises
    ------
    NotEstimable
        Fewer than two banks.
    """
    config = config or CascadeStudyConfig()
    descriptives = balance_sheet_descriptives(frame)
    frame = with_residual_assets(frame[list(INPUT_COLUMNS)], config.residual_assets)
    if len(frame) < 2:
        raise NotEstimable(f"stress.cascade needs at least 2 banks with complete balance sheets; got {len(frame)} "
                           "(see the stage's quality records)")
    frame = with_size_rank(frame)
    n_large = min(config.n_largest, len(frame))
    named, rows = named_groups(frame, config.named, when, config.n_largest)
    est = estimate_interbank_matrix(frame, config)
    estimates = [("all", len(frame), est)]
    net, raised = build_network(frame, est.matrix, config.threshold, config.market_depth)
    systems = {"all": (net, list(frame["bank_id"]))}
    surface_systems = ["all"]
    wanted = {}
    if config.without_largest != "none" and config.n_largest > 0:
        wanted["without_largest"] = (1, n_large)
    for spec in config.named:
        if spec.name in named and spec.exclusion() is not None:
            wanted.setdefault(named[spec.name][0], spec.exclusion())
    for system, exclusion in wanted.items():
        if (~frame["size_rank"].between(*exclusion)).sum() < 2:
            rows.append(_event(None, when, len(frame), "ignored", "too_few_banks",
                               f"without the banks of ranks {exclusion[0]}-{exclusion[1]} fewer than 2 remain: "
                               f"system {system} not run"))
            named = {k: v for k, v in named.items() if v[0] != system}
            continue
        sub, ids, sub_est = _reduced_system(frame, net, exclusion, config)
        systems[system] = (sub, ids)
        if sub_est is not None:
            estimates.append((system, len(ids), sub_est))
        if system == "without_largest" and config.without_largest != "none":
            surface_systems.append(system)
    rows += [_event(bank, when, 1, "flagged", "other_assets_adjusted",
                    "loans + securities + interbank assets exceed total assets, or the estimated interbank "
                    "liabilities exceed total liabilities: other assets set so that the balance sheet balances")
             for bank in raised]
    matrix = pd.DataFrame([
        {"system": s, "period_end": when, "method": config.matrix, "n_banks": n, "total_interbank_assets": e.total_assets,
         "total_interbank_liabilities": e.total_liabilities, "relative_mismatch": e.relative_mismatch,
         "max_margin_error": e.max_margin_error, "iterations": int(e.iterations), "n_links": int(e.n_links),
         "density": e.n_links / (n * (n - 1)), "status": e.status}
        for s, n, e in estimates
    ])
    rows += [_event(None, when, 0, "flagged", "interbank_margins",
                    f"system {s}: {e.status}; relative mismatch of the totals {e.relative_mismatch:.4g}")
             for s, _, e in estimates if e.status != "ok"]
    surface, hierarchy = run_scenarios(systems, named, config, surface_systems=surface_systems, mapper=mapper)
    by_size = list(frame.sort_values(["size_rank"])["bank_id"])
    groups = {f"largest_{n_large}": by_size[:n_large]} if n_large > 1 else {}
    groups.update({k: m for k, (system, m) in named.items() if system == "all" and len(m) > 1})
    for g, members in frame.groupby("group", sort=True)["bank_id"]:
        if 1 < len(members) < len(frame):
            groups[f"group:{g}"] = list(members)
    ranks = frame[["bank_id", "size_rank"]].rename(columns={"bank_id": "id"})
    bounds = boundaries(net, frame, groups, config, mapper=mapper).merge(ranks, on="id", how="left")
    if config.outside_share is None and bounds["boundary_dependency"].isna().all():
        rows.append(_event(None, when, len(frame), "flagged", "dependency_boundary_closed_system",
                           "outside_share: null and the sample banks hold all the interbank liabilities (a closed "
                           "system): the dependency matrix does not exist, boundary_dependency is NaN; give "
                           "stress.cascade.outside_share in (0, 1)"))
    dr = debtrank_by_bank(net.interbank, net.capital, psi=1.0, weights=config.debtrank_weights)
    debt = frame[["bank_id", "group", "size_rank", "equity", "interbank_assets", "interbank_liabilities"]].assign(
        debtrank=dr, status="ok")
    return CascadeStudy(matrix=matrix, surface=surface, hierarchy=hierarchy, boundary=bounds, debtrank=debt,
                        descriptives=descriptives, boundary_stats=boundary_stats(bounds, groups), events=_events(rows))
