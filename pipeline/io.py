"""Artifact I/O: deterministic Parquet and JSON.

Artifacts are long tables sorted by key, without index, without wall-clock time
or commit id inside, so that a forced rerun gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


PROVENANCE_KEY = "provenance"


def normalize_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The one place that fixes artifact dtypes before writing.

    Datetime columns become ``datetime64[ns]`` (timezone-naive), string and categorical
    columns ``object`` (stored as Arrow strings), and ``dtypes`` (column -> dtype, e.g. the
    artifact registry's) is applied last, so an all-missing column keeps its declared type.
    """
    frame = frame.copy()
    for col in frame.columns:
        series = frame[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            frame[col] = series.dt.tz_localize(None).astype("datetime64[ns]")
        elif pd.api.types.is_datetime64_any_dtype(series):
            frame[col] = series.astype("datetime64[ns]")
        elif isinstance(series.dtype, pd.CategoricalDtype) or (
            pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series)
        ):
            frame[col] = series.astype(object).where(series.notna(), None)
    for col, dtype in (dtypes or {}).items():
        if col not in frame.columns:
            continue
        if dtype == "datetime64[ns]":
            frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
        elif dtype == "object":
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
        else:
            frame[col] = frame[col].astype(dtype)
    return frame


def write_parquet(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    key: Sequence[str] | None = None,
    dtypes: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``frame`` sorted by ``key`` (stable), without index, deterministically.

    ``dtypes`` are applied by :func:`normalize_dtypes`; ``provenance`` is stored as canonical
    JSON (sorted keys) under the schema-metadata key ``provenance`` and is the only metadata
    in the file (no pandas or library versions, no clock).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = normalize_dtypes(frame, dtypes)
    if key:
        frame = frame.sort_values(list(key), kind="mergesort")
    frame = frame.reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = None if provenance is None else {PROVENANCE_KEY: canonical_json(provenance)}
    table = table.replace_schema_metadata(metadata)
    pq.write_table(table, path, compression="zstd", write_statistics=True, use_dictionary=True)
    return path


def read_parquet(path: str | Path, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read an artifact written by :func:`write_parquet` (only ``columns``, those of them it has, when given)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"artifact {path} not found; run the stage that produces it (dvc repro)")
    if columns is not None:
        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
    frame = pq.read_table(path, columns=columns).to_pandas()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype("datetime64[ns]")
        elif pd.api.types.is_string_dtype(frame[col]) and not pd.api.types.is_object_dtype(frame[col]):
            frame[col] = frame[col].astype(object)
    return frame


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys: the same object always gives the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The ``provenance`` metadata of a Parquet artifact (None when it has none)."""
    metadata = pq.read_schema(Path(path)).metadata or {}
    raw = metadata.get(PROVENANCE_KEY.encode())
    return None if raw is None else json.loads(raw.decode("utf-8"))


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON with sorted keys and a trailing newline (stable bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_json(path: str | Path) -> Any:
    """Read a JSON artifact."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(frame: pd.DataFrame, path: str | Path, **options: Any) -> Path:
    """Write ``frame`` as CSV (no index, ``\n`` line ends) with formula-safe text cells.

    Text cells that a spreadsheet would run as a formula are prefixed with ``'``
    (:func:`measures.core.cells.neutralize_formula_cells`); ``options`` go to
    :meth:`pandas.DataFrame.to_csv` (e.g. ``float_format``).
    """
    from measures.core.cells import neutralize_formula_cells

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralize_formula_cells(frame).to_csv(path, index=False, lineterminator="\n", **options)
    return path


class ParquetParts:
    """One Parquet file written in parts (row groups), for bounded memory at many banks.

    Each part is a frame of rows that follow every earlier part in ``key`` order (e.g. the next
    batch of banks); it gets ``dtypes`` and is sorted by ``key`` as :func:`write_parquet` sorts a
    whole frame, and the file carries ``provenance``. The same parts give the same bytes.
    :meth:`close` finishes the file (False when no part came); :meth:`abort` removes it.
    """

    def __init__(self, path: str | Path, *, key: Sequence[str], dtypes: Mapping[str, str],
                 provenance: Mapping[str, Any]) -> None:
        self.path, self.key, self.dtypes, self.provenance = Path(path), list(key), dtypes, provenance
        self.writer: pq.ParquetWriter | None = None
        self.last: tuple | None = None

    def __call__(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        frame = normalize_dtypes(frame, self.dtypes).sort_values(self.key, kind="mergesort").reset_index(drop=True)
        first, last = tuple(frame.loc[0, self.key]), tuple(frame.loc[len(frame) - 1, self.key])
        if self.last is not None and not first > self.last:
            raise RuntimeError(f"{self.path.name}: parts out of key order ({first} after {self.last})")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            schema = table.schema.with_metadata({PROVENANCE_KEY: canonical_json(self.provenance)})
            self.writer = pq.ParquetWriter(self.path, schema, compression="zstd", write_statistics=True, use_dictionary=True)
        self.writer.write_table(table.cast(self.writer.schema))
        self.last = last

    def close(self) -> bool:
        if self.writer is None:
            return False
        self.writer.close()
        return True

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.path.unlink(missing_ok=True)

