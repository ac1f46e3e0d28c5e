"""``python -m pipeline export-default --out DIR``: the embedded default data as canonical input files.

Writes the simulator's tables (at ``data.seed``, ``data.n_banks``, ``data.start``, ``data.end`` of
``params.yaml``, else the defaults) as one file per canonical table in the layout that
``data.source: files``, ``data.format: canonical`` reads (docs/formats.md): ``banks``,
``prices``, ``system``, ``market_states``, ``balance_sheet``, CSV (UTF-8, dates
``YYYY-MM-DD``, missing values empty) or Parquet, with the unit of every money, ratio and
count column in brackets in its header (``total_assets [CNY]``, ``car [fraction]``,
``shares [shares]``). Reading them back gives the same canonical tables as the simulator
(tests/test_export_default.py): a template of the input format, and working files to start
from. Prints the ``data`` params that use them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from pipeline.schema import SCHEMAS, CanonicalData

FORMATS = ("csv", "parquet")
TABLES = ("banks", "prices", "system", "market_states", "balance_sheet", "sector_indices")
#: Header unit per column kind (money and prices in the data's currency unit; ratios as fractions).
KIND_UNITS = {"ratio": "fraction", "count": "shares", "level": "index"}


def header(table: str, column: str, currency: str) -> str:
    """The header of a canonical column, with its unit in brackets where it has one."""
    schema = SCHEMAS[table]
    if column not in schema.names:
        return column  # a state variable: its values are taken as given (no unit)
    kind = schema.column(column).kind
    unit = currency if kind in ("money", "price") else KIND_UNITS.get(kind)
    return f"{column} [{unit}]" if unit else column


def input_frame(table: str, frame: pd.DataFrame, currency: str, *, fmt: str) -> pd.DataFrame:
    """One canonical table as an input file's frame: headers with units, dates as text in CSV."""
    out = frame.copy()
    if fmt == "csv":
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                out[col] = out[col].dt.strftime("%Y-%m-%d")
    out.columns = [header(table, c, currency) for c in out.columns]
    return out


def export_data(data: CanonicalData, out: str | Path, *, fmt: str = "csv") -> dict[str, Path]:
    """Write the tables of ``data`` as canonical input files in ``out``; returns table -> path.

    Raises ValueError for an unknown format, or when ``out`` already holds a file of one of
    the tables with another extension (the canonical reader would refuse two files for a table).
    """
    from pipeline.io import write_csv

    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r} is not allowed; allowed values: {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for table, frame in data.tables().items():
        path = out / f"{table}.{fmt}"
        others = sorted(p.name for p in out.glob(f"{table}.*") if p != path)
        if others:
            raise ValueError(f"{out} already holds {', '.join(others)}; the canonical reader takes one file per "
                             f"table: remove it or choose another --out folder")
        frame = input_frame(table, frame, data.currency, fmt=fmt)
        if fmt == "csv":
            write_csv(frame, path)
        else:
            frame.to_parquet(path, index=False)
        written[table] = path
    return written


def params_snippet(out: str | Path, config, currency: str) -> str:
    """The ``data`` group of params.yaml that reads the exported files."""
    return "\n".join([
        "data:",
        "  source: files",
        "  format: canonical",
        f"  raw_dir: {Path(out).as_posix()}",
        f'  start: "{config.start}"',
        f'  end: "{config.end}"',
        f"  currency: {currency}",
    ])


def default_config(params_path: str | Path):
    """``data`` of ``params_path`` (when it exists) with the simulator defaults where it has no dates."""
    from pipeline.params import DataConfig, group, load_params

    values = {}
    if Path(params_path).is_file():
        try:
            values = dict(group(load_params(params_path), "data") or {})
        except KeyError:
            values = {}
    keep = {k: values[k] for k in ("seed", "n_banks", "start", "end") if values.get(k) is not None}
    return DataConfig.from_mapping(keep, where="data")


def main(argv: list[str]) -> int:
    """``python -m pipeline export-default --out DIR [--format csv|parquet] [--params FILE]``."""
    import argparse

    from measures.core.config import ConfigError
    from pipeline.simulator import simulate

    parser = argparse.ArgumentParser(prog="python -m pipeline export-default",
                                     description="Write the embedded default data as canonical input files.")
    parser.add_argument("--out", required=True, help="folder to write (keep it inside data/raw so DVC tracks it)")
    parser.add_argument("--format", default="csv", choices=FORMATS, help="file format (default: csv)")
    parser.add_argument("--params", default="params.yaml", help="data.seed/n_banks/start/end are read from it when it exists")
    args = parser.parse_args(argv)
    try:
        config = default_config(args.params)
        data = simulate(seed=config.seed, start=config.start, end=config.end, n_banks=config.n_banks)
        written = export_data(data, args.out, fmt=args.format)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"export-default: {exc}", file=sys.stderr)
        return 2
    files = ", ".join(f"{p.name} ({len(getattr(data, t))} rows)" for t, p in written.items())
    print(f"wrote the embedded default data (simulated, seed {config.seed}, {config.start} .. {config.end}, {config.n_banks} banks) "
          f"as canonical {args.format} files in {args.out}: {files}")
    print("to run the pipeline on them, set in params.yaml (then python -m pipeline check, dvc repro):\n")
    print(params_snippet(args.out, config, data.currency))
    if Path(args.out).is_absolute() or not Path(args.out).as_posix().startswith("data/raw"):
        print("\nnote: raw_dir is relative to the repository root; keep the files inside data/raw so DVC tracks them")
    return 0
