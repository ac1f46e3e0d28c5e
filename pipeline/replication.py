"""Replication mode: ``python -m pipeline panel --input PANEL.csv --out DIR [--params FILE]``.

Runs the panel model list on a user-supplied CSV panel (``bank_id, year, crw`` and the
ratios the models use) and writes Tables 1–2 (CSV, LaTeX, HTML), ``coefficients.csv`` and
``fit_stats.csv`` — no market data (docs/replication.md); ``--robustness`` adds Table 3 and ``robustness.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from measures.core.config import ConfigError
from measures.core.status import NotEstimable, is_failed
from panel.model_list import COEFFICIENT_CSV, FIT_CSV, PanelOutput, PanelParams, estimate_panel
from panel.robustness import RobustnessOutput, csv_robustness, table3_files
from pipeline.io import write_csv
from pipeline.params import load_params


class InputError(ValueError):
    """Bad user input: the message names the file, the column and the row."""


def read_panel_csv(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """Read a replication panel: ``bank_id``, integer ``year`` and numeric ``columns`` (those present).

    Empty cells and ``NA`` are missing values (the row is then dropped from the models that use
    the column, and listed in ``exclusions.csv``); ``inf``, ``-inf`` or a number too large for a
    float are errors, not missing values. Raises :class:`InputError` naming the file, the column,
    the row (1-based data row), its line in the file and the value.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            header = [c.strip() for c in next(csv.reader(fh), [])]
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file ({str(exc).strip() or type(exc).__name__}); "
                         "expected UTF-8 text with a header line bank_id,year,crw,...") from None
    dup_cols = sorted({c for c in header if header.count(c) > 1})  # before pandas renames them 'car.1'
    if dup_cols:
        raise InputError(f"{path}: column(s) {', '.join(dup_cols)} appear more than once in the header")
    raw.columns = [str(c).strip() for c in raw.columns]
    if raw.empty:
        raise InputError(f"{path}: no data rows")
    missing = [c for c in ("bank_id", "year") if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found: {', '.join(raw.columns)}")

    def where(i: int) -> str:
        return f"row {i + 1} (line {i + 2})"

    bank = raw["bank_id"].str.strip()
    if (bank == "").any():
        raise InputError(f"{path}: column 'bank_id', {where(int(np.flatnonzero(bank == '')[0]))}: empty bank_id")
    year = pd.to_numeric(raw["year"].str.strip(), errors="coerce")
    bad = year.isna() | (year != year.round())
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: column 'year', {where(i)}: {raw['year'].iloc[i]!r} is not an integer year")
    out = pd.DataFrame({"bank_id": bank.to_numpy(dtype=object), "year": year.astype("int64").to_numpy()})
    dup = out.duplicated(["bank_id", "year"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        b, y = out.iloc[rows[0]]
        same = [i for i in rows if out.iat[i, 0] == b and out.iat[i, 1] == y]
        raise InputError(f"{path}: duplicate (bank_id, year) = ({b}, {y}) in rows {', '.join(str(i + 1) for i in same)} "
                         f"(lines {', '.join(str(i + 2) for i in same)}); each bank may appear once per year")
    years = sorted(out["year"].unique())
    if len(years) < 2:
        raise InputError(f"{path}: the panel has {len(years)} year ({', '.join(map(str, years))}); "
                         "a panel needs at least 2 periods")
    for col in columns:
        if col not in raw.columns or col in out.columns:
            continue
        text = raw[col].str.strip()
        is_na = text.isin(["", "NA", "NaN", "nan", "N/A", "na", "."])
        values = pd.to_numeric(text.where(~is_na, None), errors="coerce")
        bad = values.isna().to_numpy() & ~is_na.to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}: column {col!r}, {where(i)}: {raw[col].iloc[i]!r} is not a number "
                             f"(leave the cell empty or write NA for a missing value)")
        infinite = np.isinf(values.to_numpy(dtype=float))
        if infinite.any():
            i = int(np.flatnonzero(infinite)[0])
            raise InputError(f"{path}: column {col!r}, {where(i)}: {raw[col].iloc[i]!r} is not a finite number "
                             f"(an infinite value is not a missing one: leave the cell empty or write NA)")
        out[col] = values.to_numpy(dtype=float)
    return out


def panel_params(path: str | None) -> PanelParams:
    """The ``panel`` group of a params file (a ``params.yaml`` with a ``panel:`` group, or the group itself)."""
    if path is None:
        return PanelParams()
    try:
        params = load_params(path)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not a readable YAML file ({' '.join(str(exc).split())})") from None
    if "panel" in params and params["panel"] is None:
        raise ConfigError(f"{path}: panel: the group is empty (null); give its keys or remove the line")
    return PanelParams.from_mapping(params.get("panel", params), where=f"{path}: panel")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    write_csv(frame, path, float_format="%.17g")


def write_tables(output: PanelOutput, folder: Path, robustness: RobustnessOutput | None = None) -> None:
    """Tables 1 and 2 (and Table 3 when ``robustness`` is given) as ``.csv`` (through
    :func:`pipeline.io.write_csv`, formula-safe), ``.tex`` and ``.html``."""
    folder.mkdir(parents=True, exist_ok=True)
    displays = output.display_tables()
    files = output.table_files()
    if robustness is not None:
        displays["table3"] = robustness.table3
        files |= table3_files(robustness, output.digits)
    for name, frame in displays.items():
        write_csv(frame, folder / f"{name}.csv")
    for name, text in files.items():
        if not name.endswith(".csv"):
            (folder / name).write_text(text, encoding="utf-8")


def run_panel(input_path: str, out: str, params_path: str | None = None, *, robustness: bool = False) -> int:
    """Replication mode; returns the number of models not estimated (reported on stderr).

    ``robustness``: also Table 3 (``table3.csv/.tex/.html``, ``robustness.csv``) by ``panel.robustness``
    (:func:`panel.robustness.csv_robustness`: the CRW of another series from the columns ``crw_dcc``,
    ``crw_qr``, ``crw_spillover``)."""
    params = panel_params(params_path)
    specs = params.specs()
    needed = list(dict.fromkeys(c for s in specs for c in s.variables))
    if robustness:
        needed += [f"crw_{s}" for s in ("dcc", "qr", "spillover")]
    data = read_panel_csv(input_path, needed)
    absent = [c for c in needed if c not in data.columns]
    if absent and params.missing_columns == "raise":
        users = {c: [s.name for s in specs if c in s.variables] for c in absent}
        raise InputError(f"{input_path}: missing column(s) " + "; ".join(f"{c} (used by {', '.join(m)})" for c, m in users.items())
                         + f"; found: {', '.join(data.columns)}")
    try:
        output = estimate_panel(data, params, source="csv")
    except NotEstimable as exc:
        raise InputError(f"{input_path}: {exc}; to run: {exc.needs}") from None
    except ValueError as exc:
        raise InputError(f"{input_path}: {exc}") from None
    out_dir = Path(out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the output directory ({exc.strerror or exc})") from None
    robust = None
    if robustness:
        try:
            robust = csv_robustness(data, params)
        except NotEstimable as exc:
            raise InputError(f"{input_path}: Table 3: {exc}; to run: {exc.needs}") from None
        _write_csv(robust.long, out_dir / "robustness.csv")
    write_tables(output, out_dir, robust)
    _write_csv(output.coefficients[list(COEFFICIENT_CSV)], out_dir / "coefficients.csv")
    fits = output.fit_stats
    _write_csv(fits.loc[~fits["status"].map(is_failed), list(FIT_CSV)], out_dir / "fit_stats.csv")
    _write_csv(fits.drop(columns="position"), out_dir / "fit_details.csv")
    _write_csv(output.exclusions, out_dir / "exclusions.csv")
    for model, status in output.problems:
        print(f"warning: {input_path}: model {model} not estimated: {status}", file=sys.stderr)
    return len(output.problems)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline panel",
                            description="Run the panel model list (default: Liu–Ma 2021's nine models) on a CSV panel with "
                                        "columns bank_id, year, crw and the ratios (car, lev, lcr, ldr, liq, npl, nim, "
                                        "loan_growth, ...). See docs/replication.md.")
    p.add_argument("--input", required=True, help="the panel CSV (one row per bank and year)")
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--params", default=None, help="YAML file with a 'panel:' group (default: the built-in defaults)")
    p.add_argument("--robustness", action="store_true",
                   help="also Table 3 (panel.robustness variants; CRW of other series from columns crw_dcc, crw_qr, "
                        "crw_spillover)")
    args = p.parse_args(argv)
    try:
        run_panel(args.input, args.out, args.params, robustness=args.robustness)
    except (InputError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
