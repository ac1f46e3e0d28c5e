"""Canonical files: one file per table, canonical column names, units in the headers.

``data.raw_dir`` holds ``banks``, ``prices`` (required) and ``system``,
``market_states``, ``balance_sheet``, ``sector_indices`` (optional), each as ``.csv``, ``.parquet``,
``.xlsx`` or ``.xls``; ``data.files`` may name them explicitly
(``{prices: my_prices.xlsx}`` or ``{prices: {file: book.xlsx, sheet: Daily}}``).
A header is a canonical column name, optionally followed by a unit in brackets
(``total_assets [10k CNY]``, ``car [%]``); money columns without a unit are in
``data.money_unit``. Unknown columns are ignored and recorded. See docs/formats.md.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from measures.core.config import ConfigError
from pipeline.adapters.common import (
    EXTRA_TABLES,
    file_roles,
    as_numbers,
    assign_groups,
    column_factor,
    derive_balance_sheet,
    drop_empty_periods,
    finish,
    ignored_columns,
    normalize_text,
    read_table_sheet,
    schema_kind,
)
from pipeline.adapters.readers import EXTENSIONS, RawSheet, check_extension
from pipeline.params import DataConfig
from pipeline.quality import QualityRecord
from pipeline.schema import ROW, SCHEMAS, DataValidationError, Source, build_table
from pipeline.units import split_header

TABLES = ("banks", "prices", "system", "market_states", "balance_sheet")
REQUIRED = ("banks", "prices")


def file_entry(entry: object, *, key: str) -> tuple[str, str | None]:
    """``data.files`` entry → (file name, sheet): a string or a mapping {file, sheet}."""
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, dict) and "file" in entry and set(entry) <= {"file", "sheet"}:
        return str(entry["file"]), (None if entry.get("sheet") is None else str(entry["sheet"]))
    raise ConfigError(f"data.files.{key}={entry!r} is not allowed; allowed: a file name, or a mapping with keys file and optional sheet")


def named_file(raw_dir: Path, files: dict, key: str) -> tuple[Path, str | None]:
    """(path, sheet) of ``data.files[key]`` (relative to ``raw_dir``); raises if the extension is unknown or the file absent."""
    name, sheet = file_entry(files[key], key=key)
    path = Path(name) if Path(name).is_absolute() else raw_dir / name
    check_extension(path, role=key)
    if not path.is_file():
        raise DataValidationError(f"{key} file not found (named in data.files.{key})", source=Source(str(path)), allowed="an existing file")
    return path, sheet


def locate(raw_dir: Path, table: str, files: dict, *, required: bool) -> tuple[Path, str | None] | None:
    """The file of ``table``: ``data.files[table]`` or ``raw_dir/<table>.<ext>``.

    Raises naming what was looked for when a required file is absent, when an
    explicitly named file is absent, or when several extensions are present.
    """
    if table in files:
        return named_file(raw_dir, files, table)
    candidates = [raw_dir / f"{table}{ext}" for ext in EXTENSIONS]
    found = [p for p in candidates if p.is_file()]
    if len(found) > 1:
        raise DataValidationError(f"several files for table {table}: {', '.join(p.name for p in found)}", source=Source(str(raw_dir)), allowed="exactly one, or name it in data.files")
    if found:
        return found[0], None
    others = sorted(p.name for p in raw_dir.glob(f"{table}.*")) if raw_dir.is_dir() else []
    if others:
        check_extension(raw_dir / others[0], role=table)
    if required:
        raise DataValidationError(
            f"required {table} file not found; looked for {', '.join(p.name for p in candidates)} in {raw_dir}",
            source=Source(str(raw_dir)),
            allowed=f"one of {', '.join(p.name for p in candidates)}, or data.files.{table}",
        )
    return None


def map_columns(raw: RawSheet, table: str, *, money_unit: str, records: list[QualityRecord]) -> tuple[pd.DataFrame, dict[str, float], dict[str, str]]:
    """Rename canonical headers, read their units; unknown headers are recorded as ignored.

    Returns the frame (plus ``__row__``), the unit factors and the source label of each column.
    A canonical column given twice (``close`` and ``Close [CNY]``) raises, naming both headers.
    """
    schema = SCHEMAS[table]
    frame: dict[str, pd.Series] = {}
    factors: dict[str, float] = {}
    labels: dict[str, str] = {}
    where: dict[str, int] = {}
    unused: list[int] = []
    for j, header in enumerate(raw.headers):
        label, unit = split_header(header)
        name = normalize_text(label)
        if name not in schema.names and schema.free_numeric and name:
            name = label  # a state variable keeps its own name
        elif name not in schema.names:
            unused.append(j)
            continue
        if name in frame:
            first = raw.headers[where[name]]
            raise DataValidationError(
                f"column {name!r} appears twice: header {first!r} (column {where[name] + 1}) and header {header!r} (column {j + 1})",
                source=raw.source, table=table, column=header, allowed="each canonical column once",
            )
        kind = schema_kind(table, name)
        factors[name] = column_factor(unit, kind, money_unit=money_unit, source=raw.source, table=table, header=header)
        values = raw.column(j)
        frame[name] = as_numbers(values) if kind not in ("text", "date") else values
        labels[name], where[name] = label, j
    ignored_columns(raw.headers, unused, table=table, source=raw.source, records=records)
    required = [c for c in schema.required if not (table == "banks" and c == "group")]  # groups may come from data.bank_groups
    needed = [c for c in required if c not in frame]
    if needed:
        others = f"; the workbook's other sheets: {', '.join(map(repr, raw.others))} (choose one with data.files.{table}: {{file: ..., sheet: ...}})" if raw.others else ""
        raise DataValidationError(
            f"missing required column(s) {', '.join(map(repr, needed))}; found: {', '.join(h for h in raw.headers if h) or 'no header'}{others}",
            source=raw.source, table=table, allowed=f"columns {', '.join(required)}" + (" (group optional)" if table == "banks" else ""),
        )
    out = pd.DataFrame(frame)
    out[ROW] = raw.rows
    return out, factors, labels


def load_canonical(config: DataConfig, *, root: Path) -> tuple[dict, dict, list[QualityRecord], Path]:
    """Read and build every canonical table present in ``data.raw_dir``."""
    raw_dir = root / config.raw_dir
    files = file_roles(config.files, tuple(TABLES), fmt="canonical")
    records: list[QualityRecord] = []
    tables: dict[str, pd.DataFrame | None] = {}
    sources: dict[str, Source] = {}
    for table in TABLES:
        where = locate(raw_dir, table, files, required=table in REQUIRED)
        if where is None:
            continue
        raw = read_table_sheet(where[0], sheet=where[1], table=table, records=records)
        frame, factors, labels = map_columns(raw, table, money_unit=config.money_unit, records=records)
        if table == "banks" and "group" not in frame.columns:
            frame["group"] = "pending"  # placeholder, replaced below
            missing_group = True
        else:
            missing_group = False
        built = build_table(frame, table, source=raw.source, factors=factors, headers=labels)
        if table == "banks":
            default = {} if missing_group else dict(zip(built["bank_id"], built["group"], strict=True))
            built = assign_groups(built[["bank_id", "name"]], config.bank_groups, records, default=default)
        if table == "balance_sheet":
            built = derive_balance_sheet(drop_empty_periods(built, records, source=str(raw.source)), records)
            built = built[[c for c in SCHEMAS["balance_sheet"].names if c in built.columns]]
        tables[table] = built
        sources[table] = raw.source
    return tables, sources, records, raw_dir


def load_extra_tables(config: DataConfig, raw_dir: Path, tables: dict, sources: dict, records: list[QualityRecord]) -> None:
    """Add the optional canonical tables of every format (``EXTRA_TABLES``: ``sector_indices``) that
    ``data.files`` names or ``raw_dir`` holds, read and validated as canonical files, to ``tables``."""
    files = {k: v for k, v in dict(config.files).items() if k in EXTRA_TABLES}
    for table in EXTRA_TABLES:
        where = locate(raw_dir, table, files, required=False)
        if where is None:
            continue
        raw = read_table_sheet(where[0], sheet=where[1], table=table, records=records)
        frame, factors, labels = map_columns(raw, table, money_unit=config.money_unit, records=records)
        tables[table] = build_table(frame, table, source=raw.source, factors=factors, headers=labels)
        sources[table] = raw.source


def load(config: DataConfig, *, root: Path):
    """Canonical files → validated :class:`~pipeline.adapters.common.CanonicalData` and quality records."""
    tables, sources, records, raw_dir = load_canonical(config, root=root)
    return finish(tables, sources, config, records, raw_dir=raw_dir), records
