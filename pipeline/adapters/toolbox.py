"""Workbooks in the layout of the MATLAB systemic-risk toolbox's ``Example_Large.xlsx``.

One sheet per variable, firms in columns, first column ``Date``:

================= ===========================================================
sheet             canonical
================= ===========================================================
Shares            PRICES: first data column = market index (→ system), then firms → prices.close
Capitalizations   prices.market_cap (money in ``data.money_unit``, e.g. "USD m")   required
Volumes           prices.volume (optional)
Assets, Equity    quarterly ('Q4 2001' → 2001-12-31): balance_sheet.total_assets, equity;
                  total_liabilities = assets − equity (derived, recorded)
State Variables   market_states, as given (signs from ``data.files.state_signs``)
Groups            Name, Short Name, Count: the first Count firms (column order) form group 1, ...
Crises            Name, Start Date, End Date → ``CanonicalData.episodes``
CDS, Separate Accounts, others: ignored (recorded)
================= ===========================================================

The workbook is ``data.files.workbook`` (default: the only .xlsx/.xls in
``data.raw_dir``). Quirks kept: a failed firm's price and market cap of 0 (the
returns stage treats 0 as no valid price), negative book equity (flagged by the
returns stage), vendor holiday rows. A quarter with total assets and equity both 0
(a firm that no longer reports) is masked to missing and recorded.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from measures.core.config import ConfigError
from pipeline.adapters.canonical import named_file
from pipeline.adapters.common import as_numbers, assign_groups, column_factor, derive_balance_sheet, file_roles, finish, record
from pipeline.adapters.readers import RawSheet, read_sheets, sheet_names
from pipeline.params import DataConfig
from pipeline.quality import QualityRecord
from pipeline.schema import ROW, DataValidationError, Source, build_table, parse_dates

SHEETS = ("Shares", "Volumes", "Capitalizations", "Assets", "Equity", "State Variables", "Groups", "Crises")
REQUIRED_SHEETS = ("Shares", "Capitalizations")
FILE_KEYS = ("workbook", "state_signs")
_QUARTER = re.compile(r"^\s*(?:Q([1-4])\s*[-/ ]?\s*(\d{4})|(\d{4})\s*[-/ ]?\s*Q([1-4]))\s*$", re.IGNORECASE)


def quarter_end(label: object) -> object:
    """'Q4 2001' / '2001Q4' / '2001-Q4' → Timestamp('2001-12-31'); anything else unchanged."""
    if isinstance(label, str):
        m = _QUARTER.match(label)
        if m:
            q, year = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            return pd.Period(year=int(year), quarter=int(q), freq="Q").end_time.normalize()
    return label


def _workbook(raw_dir: Path, files: dict) -> Path:
    if "workbook" in files:
        return named_file(raw_dir, files, "workbook")[0]
    found = sorted(p for ext in ("*.xlsx", "*.xls") for p in raw_dir.glob(ext)) if raw_dir.is_dir() else []
    if len(found) != 1:
        raise DataValidationError(
            f"toolbox workbook not found: looked for data.files.workbook, then the only *.xlsx/*.xls in {raw_dir} (found {len(found)}: {', '.join(p.name for p in found) or 'none'})",
            source=Source(str(raw_dir)),
            allowed="data.files.workbook naming the workbook, or exactly one .xlsx/.xls file in data.raw_dir",
        )
    return found[0]


def _wide(raw: RawSheet, *, dates: str = "date") -> tuple[pd.Series, list[str]]:
    """Check the first column is Date; parse it (quarter labels allowed); return (dates, firm headers)."""
    if raw.headers[0].strip().lower() != "date":
        raise DataValidationError("first column must be 'Date'", source=raw.source, column=raw.headers[0] or "(empty)", allowed="'Date' in the first column, one column per firm after it")
    col = raw.column(0).map(quarter_end) if dates == "quarter" else raw.column(0)
    parsed = parse_dates(col, ctx={"source": raw.source, "column": "Date"}, rows=raw.rows)
    if parsed.isna().any():
        i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataValidationError("missing date", source=raw.source, column="Date", row=int(raw.rows[i]), allowed="a date (or 'Q4 2001') on every row")
    firms = raw.headers[1:]
    if "" in firms:
        raise DataValidationError(f"column {firms.index('') + 2} has no header", source=raw.source, allowed="a firm name above every column")
    twice = raw.duplicate_header()
    if twice is not None:
        raise DataValidationError(f"header {twice!r} appears twice", source=raw.source, column=twice, allowed="one column per firm")
    return parsed, firms


def _long(raw: RawSheet, dates: pd.Series, firms: list[str], first: int, value: str, key: str) -> pd.DataFrame:
    """Wide firm columns (from position ``first``) → long (bank_id, key, value, __row__), bank by bank."""
    parts = []
    for j, firm in enumerate(firms, start=first):
        parts.append(pd.DataFrame({"bank_id": firm, key: dates.to_numpy(), value: raw.column(j).to_numpy(), ROW: raw.rows}))
    out = pd.concat(parts, ignore_index=True)
    out[value] = as_numbers(out[value])
    return out


def _same_firms(raw: RawSheet, firms: list[str], expected: list[str], reference: str) -> None:
    if firms != expected:
        diff = sorted(set(firms) ^ set(expected))
        raise DataValidationError(
            f"firm columns differ from sheet {reference!r}" + (f" (firms in only one of them: {', '.join(diff)})" if diff else " (same firms, other order)"),
            source=raw.source,
            allowed=f"the firms of {reference!r} in the same order: {', '.join(expected)}",
        )


def _groups(raw: RawSheet, firms: list[str], records: list[QualityRecord]) -> dict[str, str]:
    heads = [h.strip().lower() for h in raw.headers]
    if "name" not in heads or "count" not in heads:
        raise DataValidationError(f"Groups sheet needs columns Name and Count; found: {', '.join(raw.headers)}", source=raw.source, allowed="Name, Short Name, Count")
    names, counts = raw.column(heads.index("name")), raw.column(heads.index("count"))
    out: dict[str, str] = {}
    position = 0
    for name, count, row in zip(names, counts, raw.rows, strict=True):
        if isinstance(count, bool) or not isinstance(count, (int, float)) or count < 0 or float(count) != int(count):
            raise DataValidationError("Count is not a whole number >= 0", source=raw.source, column="Count", row=int(row), value=count, allowed="0, 1, 2, ...")
        members = firms[position : position + int(count)]
        if len(members) < int(count):
            raise DataValidationError(f"the group counts add up to more than the {len(firms)} firms", source=raw.source, column="Count", row=int(row), value=count, allowed=f"counts summing to at most {len(firms)}")
        out.update({firm: str(name).strip() for firm in members})
        position += int(count)
    for firm in firms[position:]:
        out[firm] = "Other"
        records.append(record("banks", "filled", "group_default", f"{firm} is after the firms counted in {raw.source}: group 'Other'", bank=firm, n_rows=1))
    return out


def _episodes(raw: RawSheet) -> pd.DataFrame:
    heads = [h.strip().lower() for h in raw.headers]
    need = ("name", "start date", "end date")
    if any(h not in heads for h in need):
        raise DataValidationError(f"Crises sheet needs columns Name, Start Date, End Date; found: {', '.join(raw.headers)}", source=raw.source, allowed="Name, Start Date, End Date")
    ctx = {"source": raw.source}
    start = parse_dates(raw.column(heads.index("start date")), ctx={**ctx, "column": "Start Date"}, rows=raw.rows)
    end = parse_dates(raw.column(heads.index("end date")), ctx={**ctx, "column": "End Date"}, rows=raw.rows)
    bad = (end < start).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError("End Date before Start Date", source=raw.source, column="End Date", row=int(raw.rows[i]), value=str(end.iloc[i].date()), allowed="End Date >= Start Date")
    return pd.DataFrame({"name": [str(v).strip() for v in raw.column(heads.index("name"))], "start": start.to_numpy(), "end": end.to_numpy()})


def _state_signs(signs: object, names: list[str], source: Source) -> dict[str, int]:
    if signs is None:
        return {}
    if not isinstance(signs, dict):
        raise ConfigError(f"data.files.state_signs={signs!r} is not allowed; allowed: a mapping state name → +1 or -1")
    unknown = sorted(set(signs) - set(names))
    if unknown:
        raise DataValidationError(f"data.files.state_signs names unknown state(s) {', '.join(unknown)}", source=source, allowed=f"state variables of the sheet: {', '.join(names)}")
    for name, sign in signs.items():
        if sign not in (1, -1):
            raise ConfigError(f"data.files.state_signs.{name}={sign!r} is not allowed; allowed values: 1, -1")
    return {str(k): int(v) for k, v in signs.items()}


def _mask_empty_quarters(bs: pd.DataFrame, records: list[QualityRecord]) -> pd.DataFrame:
    empty = ((bs["total_assets"] == 0) & (bs["equity"] == 0)).to_numpy()
    if empty.any():
        for bank, part in bs.loc[empty].groupby("bank_id", sort=True):
            records.append(record("balance_sheet", "masked", "zero_balance_sheet", f"{len(part)} quarter(s) with total assets and equity both 0 (firm no longer reporting) set to missing", bank=bank, n_rows=len(part), dates=(part["period_end"].min(), part["period_end"].max())))
        bs = bs.copy()
        bs.loc[empty, ["total_assets", "equity"]] = np.nan
    return bs


def load(config: DataConfig, *, root: Path):
    """Toolbox workbook → validated :class:`~pipeline.adapters.common.CanonicalData` and quality records."""
    raw_dir = root / config.raw_dir
    files = file_roles(config.files, tuple(FILE_KEYS), fmt="toolbox")
    path = _workbook(raw_dir, files)
    present = sheet_names(path)
    for sheet in REQUIRED_SHEETS:
        if sheet not in present:
            raise DataValidationError(f"required sheet {sheet!r} missing", source=Source(str(path), sheet), allowed=f"sheets {', '.join(REQUIRED_SHEETS)} (optional: {', '.join(s for s in SHEETS if s not in REQUIRED_SHEETS)}); present: {', '.join(present)}")
    records: list[QualityRecord] = []
    for sheet in present:
        if sheet not in SHEETS:
            records.append(record("unmapped", "ignored", "unmapped_sheet", f"{path.name}: sheet {sheet!r} not used (no canonical table for it)"))
    sheets = read_sheets(path, [s for s in SHEETS if s in present])
    money = config.money_unit
    tables: dict[str, pd.DataFrame | None] = {}
    sources: dict[str, Source] = {}

    caps = sheets["Capitalizations"]
    cap_dates, firms = _wide(caps)
    shares = sheets["Shares"]
    price_dates, price_cols = _wide(shares)
    if len(price_cols) < 2:
        raise DataValidationError("the Shares sheet needs the market index column and one column per firm", source=shares.source, allowed="Date, <index>, <firm>, ...")
    index_name = price_cols[0]
    _same_firms(shares, price_cols[1:], firms, "Capitalizations")
    if not np.array_equal(price_dates.to_numpy(), cap_dates.to_numpy()):
        raise DataValidationError("dates differ from the Capitalizations sheet", source=shares.source, column="Date", allowed="the same dates on every daily sheet")
    prices = _long(shares, price_dates, firms, 2, "close", "date")
    prices["market_cap"] = _long(caps, cap_dates, firms, 1, "market_cap", "date")["market_cap"].to_numpy()
    factors = {"market_cap": column_factor("", "money", money_unit=money, source=caps.source, table="prices", header="Capitalizations")}
    if "Volumes" in sheets:
        vol = sheets["Volumes"]
        vol_dates, vol_firms = _wide(vol)
        _same_firms(vol, vol_firms, firms, "Capitalizations")
        if not np.array_equal(vol_dates.to_numpy(), cap_dates.to_numpy()):
            raise DataValidationError("dates differ from the Capitalizations sheet", source=vol.source, column="Date", allowed="the same dates on every daily sheet")
        prices["volume"] = _long(vol, vol_dates, firms, 1, "volume", "date")["volume"].to_numpy()
    source = Source(str(path), "Shares + Capitalizations" + (" + Volumes" if "Volumes" in sheets else ""))
    tables["prices"] = build_table(prices, "prices", source=source, factors=factors)
    sources["prices"] = source
    system = pd.DataFrame({"date": price_dates.to_numpy(), "close": as_numbers(shares.column(1)).to_numpy(), ROW: shares.rows})
    tables["system"] = build_table(system, "system", source=Source(str(path), f"Shares, column {index_name}"))
    sources["system"] = Source(str(path), "Shares")
    records.append(record("system", "kept", "market_index", f"system = column {index_name!r} of sheet Shares (the toolbox's market index)", n_rows=len(system)))

    default = _groups(sheets["Groups"], firms, records) if "Groups" in sheets else {}
    banks = pd.DataFrame({"bank_id": firms, "name": firms})
    records.append(record("banks", "filled", "name_default", f"{path.name} has no firm names: names set to the column headers", n_rows=len(firms)))
    tables["banks"] = assign_groups(build_table(banks.assign(group="pending"), "banks", source=caps.source)[["bank_id", "name"]], config.bank_groups, records, default=default)
    sources["banks"] = caps.source

    if "Assets" in sheets and "Equity" in sheets:
        parts = []
        for sheet, column in (("Assets", "total_assets"), ("Equity", "equity")):
            raw = sheets[sheet]
            dates, names = _wide(raw, dates="quarter")
            _same_firms(raw, names, firms, "Capitalizations")
            parts.append((_long(raw, dates, firms, 1, column, "period_end"), raw.source))
        (assets, a_src), (equity, e_src) = parts
        if not np.array_equal(assets["period_end"].to_numpy(), equity["period_end"].to_numpy()):
            raise DataValidationError("quarters differ from the Assets sheet", source=e_src, column="Date", allowed="the same quarters on Assets and Equity")
        assets["equity"] = equity["equity"].to_numpy()
        factor = column_factor("", "money", money_unit=money, source=a_src, table="balance_sheet", header="Assets")
        bs = build_table(assets, "balance_sheet", source=Source(str(path), "Assets + Equity"), factors={"total_assets": factor, "equity": factor})
        bs = derive_balance_sheet(_mask_empty_quarters(bs, records), records)
        tables["balance_sheet"] = build_table(bs, "balance_sheet", source=Source(str(path), "Assets + Equity"))
        sources["balance_sheet"] = Source(str(path), "Assets + Equity")
    elif "Assets" in sheets or "Equity" in sheets:
        only = "Assets" if "Assets" in sheets else "Equity"
        records.append(record("unmapped", "ignored", "unmapped_sheet", f"{path.name}: sheet {only!r} ignored: the balance sheet needs both Assets and Equity"))

    if "State Variables" in sheets:
        raw = sheets["State Variables"]
        dates, names = _wide(raw)
        signs = _state_signs(files.get("state_signs"), names, raw.source)
        states = pd.DataFrame({"date": dates.to_numpy(), **{n: as_numbers(raw.column(j)).to_numpy() for j, n in enumerate(names, start=1)}, ROW: raw.rows})
        built = build_table(states, "market_states", source=raw.source)
        for name, sign in signs.items():
            built[name] = built[name] * sign
            records.append(record("market_states", "filled", "state_sign", f"state {name} multiplied by {sign:+d} (data.files.state_signs)", n_rows=len(built)))
        oriented = ", ".join(n for n in names if n not in signs)
        if oriented:
            records.append(record("market_states", "kept", "state_orientation", f"state(s) {oriented} used as given: the user must check they are oriented larger = more stress (or set data.files.state_signs)"))
        tables["market_states"] = built
        sources["market_states"] = raw.source

    episodes = _episodes(sheets["Crises"]) if "Crises" in sheets else None
    return finish(tables, sources, config, records, raw_dir=raw_dir, episodes=episodes), records
