"""The fire-sale stress test over every year of a panel of balance sheets (docs/firesale.md).

Zhang–Guo–Wen–Sun run their double-layer fire-sale model (:func:`measures.stress.fire_sale`)
on the annual cross-section of listed banks, every year, over a grid of real-estate shocks α,
and read three regions off each year's SR curve. This module holds that study:

* :class:`FireSaleParams` — the options of the study (the model's :class:`FireSaleConfig`
  plus the input, the α grid and the region rule; the ``stress.firesale`` params group);
* :func:`balance_sheet_inputs`, :func:`eba_inputs`, :func:`screen_inputs` — the model inputs
  from a canonical balance-sheet table or the EBA 2018 extract, with every fill and
  exclusion as a quality event (bank_id, date_start, date_end, n_rows, action, reason, detail);
* :func:`fire_sale_years` — the curve, the per-bank outcomes and the regions of every year;
* :func:`mean_curve` — the mean over years of the curves at each α, and its regions.

No I/O: the ``stress_firesale`` stage reads and writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, ConfigError, check_choice, check_range
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.core.status import NotEstimable
from measures.stress.coverage import InputPlan, apply_fills, check_fill, describe_missing, names, span
from measures.stress.firesale import SYSTEM_OUTPUTS, FireSaleConfig
from measures.stress.firesale_curve import alpha_grid, assemble_curve, fire_sale_regions, fire_sale_runs, sr_change_rate
from measures.stress.firesale_inputs import FIRE_SALE_COLUMNS, map_eba_balance_sheet, validate_fire_sale_balance_sheet

SOURCES = ("auto", "synthetic", "balance_sheet", "eba")
INPUTS = FIRE_SALE_COLUMNS[1:]
"""The model inputs besides ``bank_id``."""
BANK_COLUMNS = ("outcome", "failure_round", "cause", "last_sale_round", "loss0", "delina", "della", "delsi",
                "lossla", "losssi", "lgap", "cgap")
"""Per-bank columns of the study (``outcome`` = the model's per-bank ``status``: failed / survived)."""
MEAN_COLUMNS = ("sr", "ll", "cl", "dl", "il", "delina", "delsi", "delloss", "lossre", "losssi", "lossla", "rounds",
                "n_failed", "n_failed_liquidity", "n_failed_insolvency", "w", "tw")
"""Curve columns averaged over years by :func:`mean_curve`."""
REGION_ORDER = {"relief": 0, "contagion": 1, "outbreak": 2}


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlphaGrid(Config):
    """The shock grid ``start, start + step, ..., stop`` (:func:`alpha_grid`; the paper's 0.5% to 40% by 0.5%)."""

    start: float = 0.005
    stop: float = 0.40
    step: float = 0.005

    def validate(self) -> None:
        try:
            self.values()
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def values(self) -> np.ndarray:
        """The grid points (:func:`alpha_grid`)."""
        return alpha_grid(start=self.start, stop=self.stop, step=self.step)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EbaMapping(Config):
    """The EBA 2018 extract as model inputs (:func:`measures.stress.map_eba_balance_sheet`)."""

    file: str | None = None
    year: int = 2018
    cash_share: float = 0.05
    interbank_share: float = 0.0
    real_estate_share: float = 0.3

    def validate(self) -> None:
        check_range("year", self.year, integer=True)
        for name in ("cash_share", "interbank_share", "real_estate_share"):
            check_range(name, getattr(self, name), low=0.0, high=1.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SectorIndices(Config):
    """How the fire-sale stage reads the optional canonical ``sector_indices`` table (industry index
    series, docs/own-data.md) into sector correlations (``stress.firesale.sector_indices``;
    :func:`measures.stress.firesale_inputs.sector_correlations_from_indices`).

    real_estate : the real-estate column. values : ``prices`` (index levels) or ``returns``.
    min_obs : fewest losses observed together with real estate, per sector.
    """

    real_estate: str = "real_estate"
    values: str = "prices"
    min_obs: int = 60

    def validate(self) -> None:
        check_choice("values", self.values, ("prices", "returns"))
        check_range("min_obs", self.min_obs, low=3, integer=True)
        if not isinstance(self.real_estate, str) or not self.real_estate:
            raise ConfigError(f"real_estate={self.real_estate!r} must be a column name")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, *, where: str = "") -> SectorIndices:
        """As :meth:`Config.from_mapping`; the former key ``file`` (a CSV path) raises, pointing to the table."""
        if isinstance(mapping, Mapping) and "file" in mapping:
            raise ConfigError(f"{where or 'sector_indices'}.file={mapping['file']!r}: the industry index series are now the "
                              "optional canonical table sector_indices (data.raw_dir/sector_indices.csv, or data.files."
                              "sector_indices; docs/own-data.md); remove the key. Allowed options: min_obs, real_estate, values")
        return super().from_mapping(mapping, where=where)


#: Correlation of each sector-loan column with real estate (the round-0 shock α·ρ_s·loans_s), of the
#: order Zhang–Guo–Wen–Sun report; the defaults of ``stress.firesale.sector_correlations``.
SECTOR_CORRELATIONS = {
    "loans_transport": 0.80, "loans_manufacturing": 0.78, "loans_leasing_business": 0.82, "loans_utilities": 0.75,
    "loans_water_environment": 0.80, "loans_wholesale_retail": 0.80, "loans_construction": 0.88, "loans_mining": 0.65,
    "loans_finance": 0.85,
}


#: Zhang–Guo–Wen–Sun's three phases of the yearly SR curves (accumulation 2012–2013, adjustment
#: 2014–2015, rise 2016–2020); the default of ``stress.firesale.phases``.
PHASES = {"accumulation": (2012, 2013), "adjustment": (2014, 2015), "rise": (2016, 2020)}


def check_phases(phases: Mapping[str, Any]) -> None:
    """``phases`` must map names to ``[first, last]`` integer years, first <= last (ConfigError otherwise)."""
    if not isinstance(phases, Mapping):
        raise ConfigError(f"phases={phases!r} must be a mapping of name: [first year, last year]")
    for name, span_ in phases.items():
        if (not isinstance(span_, (list, tuple)) or len(span_) != 2
                or any(isinstance(y, bool) or not isinstance(y, int) for y in span_) or span_[0] > span_[1]):
            raise ConfigError(f"phases.{name}={span_!r}: allowed: [first, last] integer years, first <= last")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FireSaleParams(FireSaleConfig):
    """The fire-sale study (params group ``stress.firesale``; docs/firesale.md): the model's
    :class:`FireSaleConfig` (same fields, same defaults) plus

    source : ``auto`` (``balance_sheet`` when ``data.source`` is ``files``, ``synthetic`` when it
        is ``synthetic``: :func:`measures.stress.coverage.resolve_source`), ``synthetic`` (the
        simulated 39-bank panel, ``seed``), ``balance_sheet`` (the canonical table; capital =
        book equity) or ``eba`` (the EBA 2018 extract at ``eba.file``).
    years : ``[first, last]`` years simulated (synthetic) or used (balance_sheet); None = all.
    alpha : the shock grid. sector_correlations : ``{sector-loan column: ρ}`` of the round-0 shock.
    sector_indices : how the stage estimates the correlations from the optional canonical table
        ``sector_indices`` when the data have it (:class:`SectorIndices`; sectors without an index
        keep ``sector_correlations``).
    fill : ``{input: FillRule mapping}`` for missing balance-sheet inputs (recorded).
    il_share : region rule of :func:`fire_sale_regions`.
    phases : ``{name: [first year, last year]}`` of the three-phase comparison (:func:`phase_comparison`;
        default :data:`PHASES`, Zhang–Guo–Wen–Sun's).
    """

    source: str = "auto"
    seed: int = 20120000
    years: tuple[int, ...] | None = (2012, 2020)
    alpha: AlphaGrid = AlphaGrid()
    sector_correlations: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(SECTOR_CORRELATIONS))
    fill: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    sector_indices: SectorIndices = SectorIndices()
    eba: EbaMapping = EbaMapping()
    il_share: float = 0.25
    phases: Mapping[str, Sequence[int]] = dataclasses.field(
        default_factory=lambda: {name: list(span_) for name, span_ in PHASES.items()})  # lists, as params.yaml reads

    def validate(self) -> None:
        super().validate()
        check_phases(self.phases)
        check_choice("source", self.source, SOURCES)
        check_range("seed", self.seed, low=0, integer=True)
        check_range("il_share", self.il_share, low=0.0, high=1.0, low_open=True)
        if self.years is not None and (
                len(self.years) != 2 or any(isinstance(y, bool) or not isinstance(y, int) for y in self.years)
                or self.years[0] > self.years[1]):
            raise ConfigError(f"years={self.years!r}: allowed: null or [first, last] integer years, first <= last")
        check_fill(self.fill, INPUTS)
        for name, rho in self.sector_correlations.items():
            check_range(f"sector_correlations.{name}", rho, low=-1.0, high=1.0)
        if self.source == "eba" and not self.eba.file:
            raise ConfigError("eba.file is required when source = eba (path of EBA_2018.csv)")

    def model(self) -> FireSaleConfig:
        """The model options alone."""
        names = [f.name for f in dataclasses.fields(FireSaleConfig)]
        return FireSaleConfig(**{n: getattr(self, n) for n in names})


@dataclasses.dataclass(frozen=True)
class FireSaleYears:
    """Outputs of :func:`fire_sale_years`.

    system : year, alpha, ``SYSTEM_OUTPUTS``, tw, n_banks, omega, region, status (one row per year and α).
    banks : year, alpha, bank_id, ``BANK_COLUMNS``, status (the run's status).
    regions : year and the columns of :func:`fire_sale_regions`, in region order.
    inputs : year, bank_id, the inputs and the sector columns used.
    events : quality events (years with fewer than two banks).
    """

    system: pd.DataFrame
    banks: pd.DataFrame
    regions: pd.DataFrame
    inputs: pd.DataFrame
    events: pd.DataFrame


def _year_end(year: int | None) -> pd.Timestamp | None:
    return pd.Timestamp(f"{year}-12-31") if year is not None else None


def _event(bank: object, year: int | None, n: int, action: str, reason: str, detail: str) -> dict[str, Any]:
    start = _year_end(year)
    return {"bank_id": None if bank is None else str(bank), "date_start": start, "date_end": start, "n_rows": int(n),
            "action": action, "reason": reason, "detail": detail}


def _events(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def balance_sheet_inputs(bs: pd.DataFrame, *, years: tuple[int, int] | None = None,
                         fill: Mapping[str, Mapping[str, Any]] | None = None,
                         sector_columns: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model inputs of every bank-year from a canonical balance-sheet table, and the quality events.

    Annual (31 December) periods only, one cross-section per year; ``capital = equity``; the
    other inputs are the columns of the same name (missing: NaN). ``years = [first, last]``
    keeps those years. ``fill`` sets a missing input to ``share · of``
    (:func:`measures.stress.coverage.apply_fills`: loans first, one ``filled`` event per bank
    and column naming the years and the rule). The sector
    columns present in ``bs`` are kept. Returns ``(frame, events)``: year, bank_id, the inputs
    and the sector columns.
    """
    rules = check_fill(dict(fill or {}), INPUTS)
    rows: list[dict[str, Any]] = []
    bs = bs.copy()
    annual = (bs["period_end"].dt.month == 12) & (bs["period_end"].dt.day == 31)
    if (~annual).any():
        rows.append(_event(None, None, int((~annual).sum()), "ignored", "not_annual",
                           "periods not ending on 31 December are not used (one balance sheet per bank and year)"))
    bs = bs[annual]
    bs["year"] = bs["period_end"].dt.year.astype(np.int64)
    if years is not None:
        inside = bs["year"].between(*years)
        if (~inside).any():
            rows.append(_event(None, None, int((~inside).sum()), "ignored", "outside_years",
                               f"years outside stress.firesale.years {list(years)}"))
        bs = bs[inside]
    out = pd.DataFrame({"year": bs["year"].to_numpy(), "bank_id": bs["bank_id"].astype(object).to_numpy(),
                        "period_end": bs["period_end"].to_numpy()})
    out["capital"] = bs["equity"].to_numpy(dtype=float) if "equity" in bs else np.nan
    for col in INPUTS:
        if col != "capital":
            out[col] = bs[col].to_numpy(dtype=float) if col in bs else np.nan
    sectors = [c for c in sorted(sector_columns) if c in bs.columns]
    for col in sectors:
        out[col] = bs[col].to_numpy(dtype=float)
    out, filled = apply_fills(out, rules, where="stress.firesale.fill")
    return out[["year", "bank_id", *INPUTS, *sectors]], pd.concat([_events(rows), filled], ignore_index=True)


def eba_inputs(eba: pd.DataFrame, mapping: EbaMapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The EBA 2018 extract as model inputs of the year ``mapping.year`` (:func:`map_eba_balance_sheet`),
    and the one ``filled`` event that documents the mapping."""
    mapped = map_eba_balance_sheet(eba, cash_share=float(mapping.cash_share),
                                   interbank_share=float(mapping.interbank_share),
                                   real_estate_share=float(mapping.real_estate_share))
    mapped.insert(0, "year", int(mapping.year))
    event = _event(None, int(mapping.year), len(mapped), "filled", "eba_mapping",
                   "total assets = CET1E/leverage, loans = the rest, liquid = cash + interbank + debt "
                   "securities, real-estate loans = share of loans (docs/firesale.md §4)")
    return mapped.drop(columns="government_bonds"), _events([event])


def used_sectors(sector_correlations: Mapping[str, float], columns: Sequence[str]) -> tuple[dict[str, float], pd.DataFrame]:
    """The sector correlations whose column is present, sorted by name (the shock sum
    ``Σ_s ρ_s loans_s`` does not depend on the order of the keys), and an ``ignored`` event
    naming the absent ones."""
    sectors = {c: float(sector_correlations[c]) for c in sorted(sector_correlations) if c in columns}
    absent = sorted(set(sector_correlations) - set(sectors))
    rows = []
    if absent:
        rows.append(_event(None, None, 0, "ignored", "sector_column_absent",
                           f"stress.firesale.sector_correlations lists {', '.join(absent)}, which the input does "
                           "not have; the round-0 shock uses real_estate_loans and the sector columns present"))
    return sectors, _events(rows)


def screen_inputs(frame: pd.DataFrame, sector_columns: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop the bank-years the model cannot take (missing or invalid inputs), one ``excluded`` event each.

    A row is valid when :func:`validate_fire_sale_balance_sheet` accepts it alone.
    """
    sector_columns = list(sector_columns)
    rows: list[dict[str, Any]] = []
    keep = np.ones(len(frame), dtype=bool)
    cols = [*INPUTS, *sector_columns]
    if not frame[cols].isna().any().any():
        try:  # the common case: every row valid, one check per year
            for _, part in frame.groupby("year", sort=True):
                validate_fire_sale_balance_sheet(part, sector_columns=sector_columns)
            return frame.reset_index(drop=True), _events(rows)
        except ValueError:
            pass
    for k, row in enumerate(frame.itertuples(index=False)):
        values = {c: getattr(row, c) for c in cols}
        missing = [c for c, v in values.items() if pd.isna(v)]
        if missing:
            keep[k] = False
            rows.append(_event(row.bank_id, int(row.year), 1, "excluded", "missing_input",
                               f"missing {', '.join(missing)} (no stress.firesale.fill rule)"))
            continue
        try:
            validate_fire_sale_balance_sheet(pd.DataFrame([{"bank_id": row.bank_id, **values}]),
                                             sector_columns=sector_columns)
        except ValueError as exc:
            keep[k] = False
            rows.append(_event(row.bank_id, int(row.year), 1, "excluded", "invalid_input", str(exc)))
    return frame[keep].reset_index(drop=True), _events(rows)


NEEDS = ("a balance_sheet table with total_assets, equity, liquid_assets, interbank_assets, loans, securities "
         "and real_estate_loans at 31 December for at least 2 banks in a year (docs/formats.md)")


def firesale_plan(bs: pd.DataFrame | None, config: FireSaleParams) -> InputPlan:
    """The fire-sale inputs a canonical balance-sheet table supports, or why it supports none.

    :func:`balance_sheet_inputs` (years, fills) then :func:`screened_plan`. Not estimable
    (``reason``/``needs`` set, nothing raised) without a table, without a 31 December period
    inside ``config.years``, or without a year of two banks with valid inputs; the reason
    names the missing columns × banks × years (:func:`measures.stress.coverage.describe_missing`).
    """
    if bs is None or bs.empty:
        return InputPlan(frame=pd.DataFrame(columns=["year", "bank_id", *INPUTS]), events=_events([]),
                         reason="stress.firesale: the dataset has no balance_sheet table", needs=NEEDS)
    frame, events = balance_sheet_inputs(bs, years=config.years, fill=config.fill,
                                         sector_columns=list(config.sector_correlations))
    if frame.empty:
        years = bs["period_end"][(bs["period_end"].dt.month == 12) & (bs["period_end"].dt.day == 31)].dt.year
        return InputPlan(frame=frame, events=events, needs=NEEDS,
                         reason=f"stress.firesale: balance_sheet has no 31 December period in stress.firesale.years "
                                f"{list(config.years or [])}; its 31 December periods: {span(years) or 'none'}")
    plan = screened_plan(frame, config, present=list(bs.columns))
    return dataclasses.replace(plan, events=pd.concat([events, plan.events], ignore_index=True))


def screened_plan(frame: pd.DataFrame, config: FireSaleParams, *, present: Sequence[str] | None = None) -> InputPlan:
    """The rows of ``frame`` (year, bank_id, inputs, sector columns) the study uses:
    :func:`used_sectors` and :func:`screen_inputs` (events), estimable when a year keeps two
    banks. ``present``: the columns of the user's table (for the reason; None = ``frame``'s)."""
    sectors, absent = used_sectors(config.sector_correlations, list(frame.columns))
    kept, excluded = screen_inputs(frame, list(sectors))
    events = pd.concat([absent, excluded], ignore_index=True)
    counts = kept.groupby("year")["bank_id"].size()
    good = counts[counts >= 2].index
    if len(good):
        summary = (f"fire sale on {kept['bank_id'].nunique()} banks in {span(good)} "
                   f"({int(counts[good].sum())} bank-years) at {len(config.alpha.values())} shocks alpha")
        return InputPlan(frame=kept, events=events, summary=summary, sectors=sectors)
    table = frame.rename(columns={"capital": "equity"}).assign(
        period_end=pd.to_datetime(frame["year"].astype(str) + "-12-31"))
    cols = ["equity" if c == "capital" else c for c in (*INPUTS, *sectors)]
    gaps = describe_missing(table, cols, present=list(table.columns) if present is None else list(present))
    invalid = excluded[excluded["reason"] == "invalid_input"]
    parts = gaps + ([f"{len(invalid)} bank-year(s) with inconsistent inputs ({names(invalid['bank_id'])}), e.g. "
                     f"{invalid['detail'].iloc[0]}"] if len(invalid) else [])
    missing = [g.split(":")[0] for g in gaps]
    needs = (f"balance_sheet columns {', '.join(missing)} for at least 2 banks in a year (docs/formats.md), or "
             "stress.firesale.fill rules for them (docs/firesale.md)") if missing else \
        "consistent balance sheets for at least 2 banks in a year (the excluded rows are in the quality records)"
    return InputPlan(frame=kept, events=events, needs=needs, sectors=sectors,
                     reason=f"stress.firesale: no year has at least 2 banks with valid inputs in years "
                            f"{span(frame['year'])}: " + "; ".join(parts))


def region_labels(curve: pd.DataFrame, regions: pd.DataFrame) -> np.ndarray:
    """The region of every α of ``curve`` from the spans of :func:`fire_sale_regions`."""
    label = np.full(len(curve), "", dtype=object)
    for reg in regions.itertuples(index=False):
        label[(curve["alpha"] >= reg.alpha_from) & (curve["alpha"] <= reg.alpha_to)] = reg.region
    return label


#: Shocks α per work item of :func:`fire_sale_years` (each α is an independent run, so the
#: chunking never changes a value; the paper's 80-point grid gives four items per year).
ALPHAS_PER_ITEM = 20


def _omega(bs: pd.DataFrame, config: FireSaleConfig) -> float:
    """ω of one year: the fixed ``config.omega`` or the ``omega_calibration`` on its saleable stock (``omega_rule``)."""
    return config.omega_for(validate_fire_sale_balance_sheet(bs[list(FIRE_SALE_COLUMNS)]))


def _year_alphas(item: tuple[int, pd.DataFrame, np.ndarray], *, config: FireSaleConfig,
                 sectors: Mapping[str, float]) -> tuple[list[dict], list[pd.DataFrame]]:
    """The runs (:func:`fire_sale_runs`) of one year's cross-section at one chunk of α."""
    _, bs, alphas = item
    options = {f.name: getattr(config, f.name) for f in dataclasses.fields(FireSaleConfig)} | {"omega_rule": "fixed", "omega": _omega(bs, config)}
    return fire_sale_runs(bs, alphas, banks=True, **options, sector_correlations=dict(sectors) or None)


def _one_year(year: int, bs: pd.DataFrame, runs: list[tuple[list[dict], list[pd.DataFrame]]], *, config: FireSaleConfig,
              il_share: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Curve (with n_banks, omega, region), per-bank rows and regions of one year from its α chunks."""
    system, banks = assemble_curve([r for rows, _ in runs for r in rows], [t for _, tables in runs for t in tables])
    banks = banks.rename(columns={"status": "outcome"})[["alpha", "bank_id", *BANK_COLUMNS]]
    banks["status"] = np.repeat(system["status"].to_numpy(), len(bs))
    regions = fire_sale_regions(system, il_share=il_share)
    system.insert(0, "year", int(year))
    system["n_banks"] = len(bs)
    system["omega"] = float(_omega(bs, config))
    system["region"] = region_labels(system, regions)
    banks.insert(0, "year", int(year))
    regions.insert(0, "year", int(year))
    return system, banks, regions


def fire_sale_years(
    frame: pd.DataFrame,
    alphas: Sequence[float],
    *,
    config: FireSaleConfig | None = None,
    sector_correlations: Mapping[str, float] | None = None,
    il_share: float = 0.25,
    mapper: Mapper | None = None,
) -> FireSaleYears:
    """The fire-sale curve of every year's cross-section over ``alphas``, with its regions.

    For each year ``y`` with at least two banks (sorted by ``bank_id``), ω_y is the fixed ``config.omega``
    (``omega_rule="fixed"``) or the ``omega_calibration`` rule on that year's saleable stock; the curve and the
    per-bank outcomes are :func:`fire_sale_curve_with_banks` (every row equals
    ``fire_sale(bs_y, alpha=α, omega=ω_y, ...)``); the regions are
    :func:`fire_sale_regions` with ``il_share`` and label every α of the curve. Years with
    fewer banks are skipped (an ``excluded`` event).

    Parameters
    ----------
    frame : year, bank_id, the inputs and the sector columns (screened: :func:`screen_inputs`).
    alphas : strictly increasing shocks in [0, 1].
    config : the model options (default ``FireSaleConfig()``).
    sector_correlations : ``{sector column: ρ}`` present in ``frame`` (:func:`used_sectors`).
    il_share : region rule.
    mapper : maps the (year, chunk of :data:`ALPHAS_PER_ITEM` shocks) runs (default serial); results do not
        depend on it. TW and the regions, which need the whole curve, are computed per year afterwards.

    Raises
    ------
    NotEstimable
        No year has two banks.
    """
    config = config or FireSaleConfig()
    sectors = dict(sector_correlations or {})
    grid = np.asarray(alphas, dtype=float)
    rows, years = [], []
    for year, bs in frame.groupby("year", sort=True):
        bs = bs.drop(columns="year").sort_values("bank_id", kind="mergesort").reset_index(drop=True)
        if len(bs) < 2:
            rows.append(_event(None, int(year), len(bs), "excluded", "too_few_banks",
                               "fewer than 2 banks with valid inputs in this year; no fire sale run"))
        else:
            years.append((int(year), bs))
    if not years:
        raise NotEstimable("stress.firesale: no year has at least 2 banks with valid inputs; see the stage's "
                           "quality records for the exclusions")
    items = [(year, bs, grid[start:start + ALPHAS_PER_ITEM]) for year, bs in years
             for start in range(0, grid.size, ALPHAS_PER_ITEM)]
    runs = map_items(mapper, partial(_year_alphas, config=config, sectors=sectors), items, desc="years x alpha")
    results = [_one_year(year, bs, [r for item, r in zip(items, runs) if item[0] == year], config=config,
                         il_share=il_share) for year, bs in years]
    system = pd.concat([r[0] for r in results], ignore_index=True)
    regions = pd.concat([r[2] for r in results], ignore_index=True)
    regions = regions.iloc[np.lexsort((regions["region"].map(REGION_ORDER).to_numpy(), regions["year"].to_numpy()))]
    inputs = pd.concat([bs.assign(year=y) for y, bs in years], ignore_index=True)
    return FireSaleYears(
        system=system[["year", "alpha", *SYSTEM_OUTPUTS, "tw", "n_banks", "omega", "region", "status"]],
        banks=pd.concat([r[1] for r in results], ignore_index=True),
        regions=regions.reset_index(drop=True),
        inputs=inputs[["year", "bank_id", *INPUTS, *sectors]],
        events=_events(rows),
    )


def mean_curve(system: pd.DataFrame, *, il_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The mean over years of the curves at each α, and the regions of that mean curve.

    ``mean`` has ``alpha`` and the mean of every column of ``MEAN_COLUMNS`` over the years
    that have the α, sorted by α; ``regions`` is :func:`fire_sale_regions` of it with
    ``il_share`` (the same rule as each year's regions).
    """
    mean = system.groupby("alpha", sort=True)[list(MEAN_COLUMNS)].mean().reset_index()
    return mean, fire_sale_regions(mean, il_share=il_share)


# ----------------------------------------------------------------------------- the paper's figures 3 and 2 (phases)

CHANGE_COLUMNS = ("year", "alpha", "sr", "sr_change", "tw", "region")
PHASE_COLUMNS = ("phase", "year_from", "year_to", "n_years", "sr_mean", "sr_max", "alpha_sr_max", "contagion_from",
                 "contagion_to", "sr_mean_diff", "sr_max_diff", "alpha_sr_max_diff", "contagion_from_diff",
                 "contagion_to_diff")
ALL_YEARS = "all years"


def sr_changes(system: pd.DataFrame) -> pd.DataFrame:
    """Per year and α, the SR change rate next to TW (Zhang–Guo–Wen–Sun fig. 3).

    ``sr_change`` is :func:`measures.stress.firesale_curve.sr_change_rate` of each year's curve
    (``(SR_k − SR_{k−1}) / SR_{k−1}``) and ``tw`` the curve's TW (eq. 25); ``region`` is the
    year's region label, so a reader can keep the contagion region (the paper's "from the
    contagion trigger to the peak"). Columns :data:`CHANGE_COLUMNS`, sorted by year and α.
    """
    parts = []
    for year, part in system.sort_values(["year", "alpha"], kind="mergesort").groupby("year", sort=True):
        parts.append(part[["year", "alpha", "sr", "tw", "region"]].assign(
            sr_change=sr_change_rate(part["alpha"].to_numpy(), part["sr"].to_numpy())))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(CHANGE_COLUMNS))
    return out[list(CHANGE_COLUMNS)]


def _phase_row(name: str, years: list[int], mean: pd.DataFrame, regions: pd.DataFrame) -> dict[str, Any]:
    contagion = regions[regions["region"] == "contagion"]
    k = int(np.argmax(mean["sr"].to_numpy()))
    return {"phase": name, "year_from": min(years), "year_to": max(years), "n_years": len(years),
            "sr_mean": float(mean["sr"].mean()), "sr_max": float(mean["sr"].iloc[k]),
            "alpha_sr_max": float(mean["alpha"].iloc[k]),
            "contagion_from": float(contagion["alpha_from"].iloc[0]) if len(contagion) else np.nan,
            "contagion_to": float(contagion["alpha_to"].iloc[0]) if len(contagion) else np.nan}


def phase_comparison(system: pd.DataFrame, phases: Mapping[str, Sequence[int]] | None = None, *,
                     il_share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Zhang–Guo–Wen–Sun's three-phase comparison: each phase's mean SR curve against the mean over all years.

    The paper splits 2012–2020 into accumulation (2012–2013), adjustment (2014–2015) and rise
    (2016–2020) and compares each phase's curves with the mean curve over all years: the level
    (mean SR over the α grid), the peak (highest SR and the α where it is reached) and the
    contagion region (where it starts and ends; the regions rule of :func:`fire_sale_regions`
    with ``il_share``). For the years of phase p (those of ``system`` within its span) the phase
    curve is :func:`mean_curve` of those years; the summary has a first row ``all years`` (the
    reference, every year) and one row per phase with data: :data:`PHASE_COLUMNS`, the ``*_diff``
    columns being the phase's value minus the reference's (α in fractions; NaN without a
    contagion region).

    Returns
    -------
    curves : phase, alpha and the mean-curve columns (:data:`MEAN_COLUMNS`) of every phase with data.
    summary : the comparison, phases in the order given.
    events : one ``excluded`` event (reason ``phase_outside_sample``) per phase without a year in ``system``.
    """
    phases = dict(PHASES if phases is None else phases)
    check_phases(phases)
    years = sorted(int(y) for y in system["year"].unique())
    mean, regions = mean_curve(system, il_share=il_share)
    rows = [_phase_row(ALL_YEARS, years, mean, regions)]
    curves, events = [], []
    for name, (first, last) in phases.items():
        inside = [y for y in years if first <= y <= last]
        if not inside:
            events.append(_event(None, None, 0, "excluded", "phase_outside_sample",
                                 f"stress.firesale.phases.{name} = {first}-{last}: no year of the sample "
                                 f"({years[0]}-{years[-1]}) in it; not compared" if years else
                                 f"stress.firesale.phases.{name}: no year in the sample; not compared"))
            continue
        p_mean, p_regions = mean_curve(system[system["year"].isin(inside)], il_share=il_share)
        rows.append(_phase_row(name, inside, p_mean, p_regions))
        curves.append(p_mean.assign(phase=name))
    summary = pd.DataFrame(rows)
    for col in ("sr_mean", "sr_max", "alpha_sr_max", "contagion_from", "contagion_to"):
        summary[f"{col}_diff"] = summary[col] - summary[col].iloc[0]
    curve_columns = ["phase", "alpha", *MEAN_COLUMNS]
    curves_df = pd.concat(curves, ignore_index=True)[curve_columns] if curves else pd.DataFrame(columns=curve_columns)
    return curves_df, summary[list(PHASE_COLUMNS)], _events(events)
