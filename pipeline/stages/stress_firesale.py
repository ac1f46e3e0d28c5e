"""Stress test: seed 000's double-layer fire sale over every year × the α grid (METHODS §6.2).

Reads params group ``stress.firesale``. Input (``source``): ``synthetic`` — the embedded
39-bank cross-section of :mod:`pipeline.simulator.stress_banks`; ``balance_sheet`` — the
canonical ``balance_sheet`` table of the dataset (annual periods, ``capital = equity``);
``eba`` — the EBA 2018 extract at ``eba.file`` mapped by
:func:`measures.stress.map_eba_balance_sheet`. Writes, under ``--out`` (default
``data/processed/stress``): ``firesale.parquet`` (year, alpha: the system outputs, tw, omega,
region, status), ``firesale_banks.parquet`` (year, alpha, bank_id: outcome, failure round,
cause, sales and losses), ``firesale_regions.parquet`` (year, region) and
``firesale_inputs.parquet`` (year, bank_id: the model inputs used); exclusions and fills go to
``data/processed/quality/stress_firesale.parquet``. See docs/firesale.md.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from measures.core.config import Config, check_choice, check_range
from measures.stress.firesale import SYSTEM_OUTPUTS
from measures.stress.firesale_curve import (
    alpha_grid,
    fire_sale_curve_with_banks,
    fire_sale_regions,
)
from measures.stress.firesale_inputs import (
    FIRE_SALE_COLUMNS,
    calibrate_omega,
    map_eba_balance_sheet,
    saleable_stock,
    validate_fire_sale_balance_sheet,
)
from pipeline.io import write_parquet
from pipeline.params import group, load_params
from pipeline.quality import QualityRecord
from pipeline.stages.common import parser, read_canonical, write_quality

STAGE = "stress_firesale"
SOURCES = ("synthetic", "balance_sheet", "eba")
INPUTS = FIRE_SALE_COLUMNS[1:]
FILL_BASES = ("total_assets", "loans")
BANK_COLUMNS = ("outcome", "failure_round", "cause", "last_sale_round", "loss0", "delina", "della", "delsi",
                "lossla", "losssi", "lgap", "cgap")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FireSaleStageConfig(Config):
    """``stress.firesale`` (docs/parameters.md, docs/firesale.md)."""

    source: str = "synthetic"
    seed: int = 20120000
    years: tuple[int, int] | None = (2012, 2020)
    alpha: Mapping[str, float] = dataclasses.field(default_factory=lambda: {"start": 0.005, "stop": 0.40, "step": 0.005})
    r_star: float = 25.0
    omega: float | None = None
    omega_rule: Mapping[str, float] = dataclasses.field(default_factory=lambda: {"sold_share": 0.01, "price_drop": 0.01})
    tol: float = 1e-12
    tol_basis: str = "capital"
    max_rounds: int = 100
    cap_loan_sales: bool = True
    sector_correlations: Mapping[str, float] = dataclasses.field(default_factory=dict)
    fill: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    eba: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {
        "file": None, "year": 2018, "cash_share": 0.05, "interbank_share": 0.0, "real_estate_share": 0.3})
    il_share: float = 0.25

    def validate(self) -> None:
        w = "stress.firesale"
        check_choice(f"{w}.source", self.source, SOURCES)
        check_choice(f"{w}.tol_basis", self.tol_basis, ("absolute", "capital"))
        check_choice(f"{w}.cap_loan_sales", self.cap_loan_sales, (True, False))
        check_range(f"{w}.seed", self.seed, low=0, integer=True)
        check_range(f"{w}.r_star", self.r_star, low=1.0)
        check_range(f"{w}.tol", self.tol, low=0.0, low_open=True)
        check_range(f"{w}.max_rounds", self.max_rounds, low=1, integer=True)
        check_range(f"{w}.il_share", self.il_share, low=0.0, high=1.0, low_open=True)
        if self.omega is not None:
            check_range(f"{w}.omega", self.omega, low=0.0)
        unknown = sorted(set(self.alpha) - {"start", "stop", "step"})
        if unknown or len(self.alpha) != 3:
            raise ValueError(f"{w}.alpha={dict(self.alpha)!r}: keys start, stop, step are required (and only these)")
        alpha_grid(**{k: float(v) for k, v in self.alpha.items()})
        if set(self.omega_rule) != {"sold_share", "price_drop"}:
            raise ValueError(f"{w}.omega_rule={dict(self.omega_rule)!r}: keys sold_share and price_drop are required")
        check_range(f"{w}.omega_rule.sold_share", self.omega_rule["sold_share"], low=0.0, high=1.0, low_open=True)
        check_range(f"{w}.omega_rule.price_drop", self.omega_rule["price_drop"], low=0.0)
        if self.years is not None and (
                len(self.years) != 2 or any(isinstance(y, bool) or not isinstance(y, int) for y in self.years)
                or self.years[0] > self.years[1]):
            raise ValueError(f"{w}.years={self.years!r}: allowed: null or [first, last] integer years, first <= last")
        for col, rule in self.fill.items():
            check_choice(f"{w}.fill key", col, INPUTS)
            if not isinstance(rule, Mapping) or set(rule) != {"share", "of"}:
                raise ValueError(f"{w}.fill.{col}={rule!r}: allowed: {{share: <number in [0, 1]>, of: total_assets | loans}}")
            check_choice(f"{w}.fill.{col}.of", rule["of"], FILL_BASES)
            check_range(f"{w}.fill.{col}.share", rule["share"], low=0.0, high=1.0)
        for name, rho in self.sector_correlations.items():
            check_range(f"{w}.sector_correlations.{name}", rho, low=-1.0, high=1.0)
        unknown = sorted(set(self.eba) - {"file", "year", "cash_share", "interbank_share", "real_estate_share"})
        if unknown:
            raise ValueError(f"{w}.eba: unknown key(s) {', '.join(unknown)}; allowed: file, year, cash_share, "
                             "interbank_share, real_estate_share")
        if self.source == "eba" and not self.eba.get("file"):
            raise ValueError(f"{w}.eba.file is required when {w}.source = eba (path of EBA_2018.csv)")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, *, where: str = "stress.firesale") -> FireSaleStageConfig:
        mapping = dict(mapping or {})
        if mapping.get("years") is not None:
            mapping["years"] = tuple(mapping["years"])
        for key in ("alpha", "omega_rule", "eba"):
            if key in mapping:
                default = {f.name: f for f in dataclasses.fields(cls)}[key].default_factory()
                mapping[key] = {**default, **dict(mapping[key] or {})} if key == "eba" else dict(mapping[key] or {})
        for key in ("sector_correlations", "fill"):
            if key in mapping:
                mapping[key] = dict(mapping[key] or {})
        for key in ("r_star", "tol", "omega", "il_share"):
            if isinstance(mapping.get(key), int) and not isinstance(mapping.get(key), bool):
                mapping[key] = float(mapping[key])
        return super().from_mapping(mapping, where=where)


# ------------------------------------------------------------------------------------ inputs


def _record(table: str, bank: object, year: int | None, n: int, action: str, reason: str, detail: str,
            last_year: int | None = None) -> QualityRecord:
    start = pd.Timestamp(f"{year}-12-31") if year is not None else None
    end = pd.Timestamp(f"{last_year}-12-31") if last_year is not None else start
    return QualityRecord(STAGE, table, None if bank is None else str(bank), start, end, n, action, reason, detail)


def read_eba(path: str | Path) -> pd.DataFrame:
    """The EBA 2018 extract: space separated under a comma-separated header; ``govbonds`` as text ('a+b')."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"stress.firesale.eba.file: {path} not found")
    names = ["bank_id", "CET1E", "leverage", "debt_sec", "govbonds"]
    frame = pd.read_csv(path, sep=r"\s+", skiprows=1, header=None, names=names, dtype={"govbonds": str, "bank_id": str})
    header = path.read_text(encoding="utf-8").splitlines()[0].replace(",", " ").split()
    if header != names:
        raise ValueError(f"{path}: header {header!r} is not the EBA 2018 extract's {names!r}")
    return frame


def load_inputs(cfg: FireSaleStageConfig, *, canonical: str | Path) -> tuple[pd.DataFrame, list[QualityRecord], str]:
    """Model inputs (year, bank_id, FIRE_SALE_COLUMNS[1:], sector loans) and quality records; currency label."""
    records: list[QualityRecord] = []
    if cfg.source == "synthetic":
        from pipeline.simulator.stress_banks import simulate_firesale_banks

        first, last = cfg.years or (2012, 2020)
        frame = simulate_firesale_banks(seed=cfg.seed, years=range(first, last + 1)).drop(columns="group")
        return frame, records, "CNY"
    if cfg.source == "eba":
        eba = read_eba(cfg.eba["file"])
        mapped = map_eba_balance_sheet(eba, cash_share=float(cfg.eba["cash_share"]),
                                       interbank_share=float(cfg.eba["interbank_share"]),
                                       real_estate_share=float(cfg.eba["real_estate_share"]))
        mapped.insert(0, "year", int(cfg.eba["year"]))
        records.append(_record("eba", None, int(cfg.eba["year"]), len(mapped), "filled", "eba_mapping",
                               "total assets = CET1E/leverage, loans = the rest, liquid = cash + interbank + debt "
                               "securities, real-estate loans = share of loans (docs/firesale.md §4)"))
        return mapped.drop(columns="government_bonds"), records, "EUR m"
    data = read_canonical(Path(canonical))
    bs = data.balance_sheet
    if bs is None or bs.empty:
        raise ValueError("stress.firesale.source = balance_sheet but the dataset has no balance_sheet table; "
                         "use source: synthetic or eba, or supply balance_sheet (docs/formats.md)")
    return _from_balance_sheet(cfg, bs, records), records, data.currency


def _from_balance_sheet(cfg: FireSaleStageConfig, bs: pd.DataFrame, records: list[QualityRecord]) -> pd.DataFrame:
    """Annual (31 December) rows of the canonical table mapped to the model inputs; capital = equity."""
    bs = bs.copy()
    annual = (bs["period_end"].dt.month == 12) & (bs["period_end"].dt.day == 31)
    if (~annual).any():
        records.append(_record("balance_sheet", None, None, int((~annual).sum()), "ignored", "not_annual",
                               "periods not ending on 31 December are not used (one balance sheet per bank and year)"))
    bs = bs[annual]
    bs["year"] = bs["period_end"].dt.year.astype(np.int64)
    if cfg.years is not None:
        inside = bs["year"].between(*cfg.years)
        if (~inside).any():
            records.append(_record("balance_sheet", None, None, int((~inside).sum()), "ignored", "outside_years",
                                   f"years outside stress.firesale.years {list(cfg.years)}"))
        bs = bs[inside]
    out = pd.DataFrame({"year": bs["year"].to_numpy(), "bank_id": bs["bank_id"].astype(object).to_numpy()})
    out["capital"] = bs["equity"].to_numpy(dtype=float) if "equity" in bs else np.nan
    for col in INPUTS:
        if col != "capital":
            out[col] = bs[col].to_numpy(dtype=float) if col in bs else np.nan
    sectors = [c for c in sorted(cfg.sector_correlations) if c in bs.columns]
    for col in sectors:
        out[col] = bs[col].to_numpy(dtype=float)
    # fills: documented shares, recorded per bank; loans first (other fills may be shares of loans)
    for col in sorted(cfg.fill, key=lambda c: (c != "loans", c)):
        rule = cfg.fill[col]
        miss = out[col].isna() & out[rule["of"]].notna()
        if miss.any():
            out.loc[miss, col] = float(rule["share"]) * out.loc[miss, rule["of"]]
            for bank, g in out[miss].groupby("bank_id", sort=True):
                first, last = int(g["year"].min()), int(g["year"].max())
                records.append(_record("balance_sheet", bank, first, len(g), "filled", f"fill_{col}",
                                       f"{col} missing in {len(g)} year(s) ({first}-{last}); "
                                       f"set to {rule['share']} x {rule['of']} (stress.firesale.fill)", last_year=last))
    return out[["year", "bank_id", *INPUTS, *sectors]]


def screen_inputs(frame: pd.DataFrame, sector_columns: list[str]) -> tuple[pd.DataFrame, list[QualityRecord]]:
    """Drop bank-years the model cannot take (missing or invalid inputs), one quality record each."""
    records = []
    keep = np.ones(len(frame), dtype=bool)
    cols = [*INPUTS, *sector_columns]
    if not frame[cols].isna().any().any():
        try:  # the common case: every row valid, one check per year
            for _, part in frame.groupby("year", sort=True):
                validate_fire_sale_balance_sheet(part, sector_columns=sector_columns)
            return frame.reset_index(drop=True), records
        except ValueError:
            pass
    for k, row in enumerate(frame.itertuples(index=False)):
        values = {c: getattr(row, c) for c in cols}
        missing = [c for c, v in values.items() if pd.isna(v)]
        if missing:
            keep[k] = False
            records.append(_record("balance_sheet", row.bank_id, int(row.year), 1, "excluded", "missing_input",
                                   f"missing {', '.join(missing)} (no stress.firesale.fill rule)"))
            continue
        one = pd.DataFrame([{"bank_id": row.bank_id, **values}])
        try:
            validate_fire_sale_balance_sheet(one, sector_columns=sector_columns)
        except ValueError as exc:
            keep[k] = False
            records.append(_record("balance_sheet", row.bank_id, int(row.year), 1, "excluded", "invalid_input", str(exc)))
    return frame[keep].reset_index(drop=True), records


# ------------------------------------------------------------------------------------ model


def run_year(bs: pd.DataFrame, cfg: FireSaleStageConfig, grid: np.ndarray, sectors: Mapping[str, float]
             ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """System rows (one per α, with tw) and per-bank rows of one year's cross-section; the ω used."""
    omega = cfg.omega if cfg.omega is not None else calibrate_omega(
        saleable_stock(bs[list(FIRE_SALE_COLUMNS)]), sold_share=float(cfg.omega_rule["sold_share"]),
        price_drop=float(cfg.omega_rule["price_drop"]))
    system, banks = fire_sale_curve_with_banks(
        bs, grid, r_star=cfg.r_star, omega=omega, tol=cfg.tol, max_rounds=cfg.max_rounds, tol_basis=cfg.tol_basis,
        cap_loan_sales=cfg.cap_loan_sales, sector_correlations=dict(sectors) or None)
    banks = banks.rename(columns={"status": "outcome"})[["alpha", "bank_id", *BANK_COLUMNS]]
    banks["status"] = np.repeat(system["status"].to_numpy(), len(bs))
    return system, banks, float(omega)


def region_labels(curve: pd.DataFrame, regions: pd.DataFrame) -> np.ndarray:
    """The region of every α of ``curve`` from ``fire_sale_regions``' spans."""
    label = np.full(len(curve), "", dtype=object)
    for reg in regions.itertuples(index=False):
        label[(curve["alpha"] >= reg.alpha_from) & (curve["alpha"] <= reg.alpha_to)] = reg.region
    return label


def run(params_path: str, canonical: str, out: str, quality: str) -> None:
    params = load_params(params_path)
    cfg = FireSaleStageConfig.from_mapping(group(params, "stress.firesale"))
    grid = alpha_grid(**{k: float(v) for k, v in cfg.alpha.items()})
    frame, records, currency = load_inputs(cfg, canonical=canonical)
    # sorted: the shock sum Σ_s ρ_s loans_s does not depend on the order of the keys in params.yaml
    sectors = {c: float(cfg.sector_correlations[c]) for c in sorted(cfg.sector_correlations) if c in frame.columns}
    absent = sorted(set(cfg.sector_correlations) - set(sectors))
    if absent:
        records.append(_record("balance_sheet", None, None, 0, "ignored", "sector_column_absent",
                               f"stress.firesale.sector_correlations lists {', '.join(absent)}, which the input does "
                               "not have; the round-0 shock uses real_estate_loans and the sector columns present"))
    frame, bad = screen_inputs(frame, list(sectors))
    records += bad
    systems, banks, regions, inputs = [], [], [], []
    for year, bs in frame.groupby("year", sort=True):
        bs = bs.drop(columns="year").sort_values("bank_id", kind="mergesort").reset_index(drop=True)
        if len(bs) < 2:
            records.append(_record("balance_sheet", None, int(year), len(bs), "excluded", "too_few_banks",
                                   "fewer than 2 banks with valid inputs in this year; no fire sale run"))
            continue
        system, bank_rows, omega = run_year(bs, cfg, grid, sectors)
        reg = fire_sale_regions(system, il_share=cfg.il_share)
        system.insert(0, "year", int(year))
        system["n_banks"] = len(bs)
        system["omega"] = omega
        system["region"] = region_labels(system, reg)
        bank_rows.insert(0, "year", int(year))
        reg.insert(0, "year", int(year))
        inputs.append(bs.assign(year=int(year), currency=currency))
        systems.append(system)
        banks.append(bank_rows)
        regions.append(reg)
    if not systems:
        raise ValueError("stress.firesale: no year has at least 2 banks with valid inputs; see "
                         f"{Path(quality) / (STAGE + '.parquet')} for the exclusions")
    out_dir = Path(out)
    system = pd.concat(systems, ignore_index=True)
    order = ["year", "alpha", *SYSTEM_OUTPUTS, "tw", "n_banks", "omega", "region", "status"]
    write_parquet(system[order], out_dir / "firesale.parquet", key=["year", "alpha"])
    write_parquet(pd.concat(banks, ignore_index=True), out_dir / "firesale_banks.parquet", key=["year", "alpha", "bank_id"])
    write_parquet(pd.concat(regions, ignore_index=True).assign(
        order=lambda d: d["region"].map({"relief": 0, "contagion": 1, "outbreak": 2})).sort_values(
        ["year", "order"], kind="mergesort").drop(columns="order"), out_dir / "firesale_regions.parquet")
    inputs_frame = pd.concat(inputs, ignore_index=True)
    write_parquet(inputs_frame[["year", "bank_id", *INPUTS, *sectors, "currency"]], out_dir / "firesale_inputs.parquet",
                  key=["year", "bank_id"])
    write_quality(records, quality, STAGE)


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--canonical", default="data/interim/canonical", help="canonical tables (source = balance_sheet)")
    p.add_argument("--out", default="data/processed/stress")
    args = p.parse_args(argv)
    run(args.params, args.canonical, args.out, args.quality)


if __name__ == "__main__":
    main(sys.argv[1:])
