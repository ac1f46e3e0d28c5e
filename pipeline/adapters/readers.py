"""Reading one sheet of a CSV, Parquet, Excel (.xlsx) or legacy Excel (.xls) file.

Every adapter reads its inputs through :func:`read_sheet`, which returns the raw
cells (no type guessing beyond what the file format stores), the header texts
by position (duplicate and empty headers survive) and the source row number of
each data row, so that every later error can name file, sheet, column and row.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.schema import DataValidationError, Source

EXTENSIONS = (".csv", ".parquet", ".xlsx", ".xls")


@dataclass
class RawSheet:
    """Cells of one sheet.

    ``frame`` has integer column labels 0..n-1 (position in the file) and object
    values; ``headers[j]`` is the header text of column j ('' when empty);
    ``rows[i]`` is the file row number of data row i (the header is row 1 in
    CSV and Excel; Parquet records are numbered from 1); ``others`` are the
    workbook's sheets that were not read (recorded by the adapters).
    """

    frame: pd.DataFrame
    headers: list[str]
    rows: np.ndarray
    source: Source
    others: tuple[str, ...] = ()

    def column(self, j: int) -> pd.Series:
        return self.frame[j]

    def take(self, mask: np.ndarray) -> "RawSheet":
        """The sheet restricted to the data rows where ``mask`` is true."""
        return RawSheet(self.frame.loc[mask].reset_index(drop=True), self.headers, self.rows[mask], self.source, self.others)

    def duplicate_header(self) -> str | None:
        """The first non-empty header that appears twice, else None."""
        seen: set[str] = set()
        for header in self.headers:
            if header and header in seen:
                return header
            seen.add(header)
        return None


def check_extension(path: Path, *, role: str) -> None:
    """Raise naming the file and the allowed extensions unless ``path`` has one of them."""
    if path.suffix.lower() not in EXTENSIONS:
        raise DataValidationError(
            f"unknown file extension {path.suffix!r} for the {role} file",
            source=Source(str(path)),
            allowed=", ".join(EXTENSIONS),
        )


def read_sheet(path: Path, *, sheet: str | None = None, role: str = "input") -> RawSheet:
    """Read one sheet (the first when ``sheet`` is None) of a CSV/Parquet/Excel file.

    Raises
    ------
    DataValidationError
        Missing file, unknown extension, a sheet that is not in the workbook
        (naming the sheets present), a sheet asked of a CSV or Parquet file, or a
        sheet without a header row.
    """
    path = Path(path)
    check_extension(path, role=role)
    if not path.is_file():
        raise DataValidationError(f"{role} file not found", source=Source(str(path)), allowed="an existing file")
    ext = path.suffix.lower()
    if ext in (".csv", ".parquet") and sheet is not None:
        raise DataValidationError(
            f"a sheet ({sheet!r}) was given for a {ext} file", source=Source(str(path)), allowed="a sheet only for .xlsx/.xls files"
        )
    if ext == ".csv":
        return _read_csv(path)
    if ext == ".parquet":
        return _read_parquet(path)
    try:
        if ext == ".xlsx" or _is_xlsx(path):
            name, cells, present = _read_xlsx(path, sheet)
        else:
            name, cells, present = _read_xls(path, sheet)
    except DataValidationError:
        raise
    except Exception as exc:  # a corrupt or truncated workbook: xlrd, openpyxl and zipfile raise many kinds
        raise _unreadable(path, "Excel workbook", exc) from None
    raw = _from_cells(cells, Source(str(path), name))
    raw.others = tuple(n for n in present if n != name)
    return raw


def _unreadable(path: Path, kind: str, exc: Exception) -> DataValidationError:
    return DataValidationError(f"file is not a readable {kind} ({type(exc).__name__}: {exc})", source=Source(str(path)),
                               allowed=f"a {kind} as written by Excel, pandas or the vendor's export")


def read_sheets(path: Path, sheets: list[str], *, role: str = "workbook") -> dict[str, RawSheet]:
    """Several sheets of one Excel workbook, opened once (each must exist)."""
    path = Path(path)
    check_extension(path, role=role)
    if not path.is_file() or not _is_xlsx(path):
        return {s: read_sheet(path, sheet=s, role=role) for s in sheets}
    try:
        wb = _open_xlsx(path)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _unreadable(path, "Excel workbook", exc) from None
    try:
        out = {}
        for sheet in sheets:
            if sheet not in wb.sheetnames:
                raise _missing_sheet(path, sheet, list(wb.sheetnames))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cells = [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
            out[sheet] = _from_cells(cells, Source(str(path), sheet))
        return out
    finally:
        wb.close()


def sheet_names(path: Path) -> list[str]:
    """The sheet names of an Excel workbook, in workbook order."""
    path = Path(path)
    if _is_xlsx(path):
        wb = _open_xlsx(path)
        try:
            return list(wb.sheetnames)
        finally:
            wb.close()
    import xlrd

    return list(xlrd.open_workbook(str(path), on_demand=True).sheet_names())


def _missing_sheet(path: Path, sheet: str, present: list[str]) -> DataValidationError:
    return DataValidationError(
        "sheet not found in the workbook",
        source=Source(str(path), sheet),
        allowed=f"sheets present: {', '.join(map(repr, present))}",
    )


def _is_xlsx(path: Path) -> bool:
    """True for an Office Open XML (zip) workbook, whatever its extension (some '.xls' files are)."""
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _open_xlsx(path: Path):
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl style/extension notices are not data problems
        # from bytes: openpyxl refuses a '.xls' name even when the content is xlsx
        return openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True, keep_links=False)


def _read_xlsx(path: Path, sheet: str | None) -> tuple[str, list[tuple], list[str]]:
    wb = _open_xlsx(path)
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise _missing_sheet(path, sheet, list(wb.sheetnames))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cells = [tuple(r) for r in ws.iter_rows(values_only=True)]
        return ws.title, cells, list(wb.sheetnames)
    finally:
        wb.close()


def _read_xls(path: Path, sheet: str | None) -> tuple[str, list[tuple], list[str]]:
    import xlrd

    book = xlrd.open_workbook(str(path))
    names = book.sheet_names()
    if sheet is None:
        ws = book.sheet_by_index(0)
    elif sheet in names:
        ws = book.sheet_by_name(sheet)
    else:
        raise _missing_sheet(path, sheet, names)
    cells = []
    for r in range(ws.nrows):
        row = []
        for c in range(ws.ncols):
            cell = ws.cell(r, c)
            if cell.ctype == xlrd.XL_CELL_DATE:
                row.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                row.append(None)
            elif cell.ctype == xlrd.XL_CELL_ERROR:
                row.append("#error")
            else:
                row.append(cell.value)
        cells.append(tuple(row))
    return ws.name, cells, names


def _from_cells(cells: list[tuple], source: Source) -> RawSheet:
    """Header = first non-empty row; data rows after it; all-empty rows dropped."""
    start = next((i for i, r in enumerate(cells) if any(_filled(v) for v in r)), None)
    if start is None:
        raise DataValidationError("sheet is empty (no header row)", source=source, allowed="a header row and data rows")
    width = max(len(r) for r in cells[start:])
    header = list(cells[start]) + [None] * (width - len(cells[start]))
    body, rows = [], []
    for i, r in enumerate(cells[start + 1 :], start=start + 2):
        if any(_filled(v) for v in r):
            body.append(tuple(r) + (None,) * (width - len(r)))
            rows.append(i)
    frame = pd.DataFrame(body, columns=range(width), dtype=object) if body else pd.DataFrame(columns=range(width), dtype=object)
    headers = ["" if h is None else str(h).strip() for h in header]
    return RawSheet(frame, headers, np.asarray(rows, dtype=np.int64), source)


def _filled(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, float):
        return not np.isnan(value)
    return True


def _read_csv(path: Path) -> RawSheet:
    """Cells as text, read with :mod:`csv` so that the header row is kept as written (pandas would
    rename a second ``close`` to ``close.1``); ragged rows are padded."""
    source = Source(str(path))
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            cells = [tuple(r) for r in csv.reader(fh)]
    except UnicodeDecodeError as exc:
        raise DataValidationError(f"file is not UTF-8 text ({exc.reason})", source=source, allowed="UTF-8 encoded CSV") from None
    except csv.Error as exc:
        raise DataValidationError(f"file is not readable as CSV ({exc})", source=source, allowed="comma-separated UTF-8 text") from None
    if not any(_filled(v) for r in cells for v in r):
        raise DataValidationError("file is empty (no header row)", source=source, allowed="a header row and data rows")
    return _from_cells(cells, source)


def _read_parquet(path: Path) -> RawSheet:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, "Parquet file", exc) from None
    names = list(table.column_names)
    if len(set(names)) < len(names):  # duplicate names survive by position (pandas metadata dropped)
        table = table.replace_schema_metadata(None).rename_columns([str(j) for j in range(len(names))])
    try:
        frame = table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        raise _unreadable(path, "Parquet file", exc) from None
    headers = [str(h).strip() for h in (names if len(set(names)) < len(names) else frame.columns)]
    frame = frame.reset_index(drop=True)
    frame.columns = range(frame.shape[1])
    for j in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[j]) and not pd.api.types.is_datetime64_any_dtype(frame[j]):
            frame[j] = frame[j].astype(object)
    return RawSheet(frame, headers, np.arange(1, len(frame) + 1, dtype=np.int64), Source(str(path)))
