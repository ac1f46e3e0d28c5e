"""Artifact I/O: deterministic Parquet and JSON.

Artifacts are long tables sorted by key, without index, without wall-clock time
or commit id inside, so that a forced rerun gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(frame: pd.DataFrame, path: str | Path, *, key: Sequence[str] | None = None) -> Path:
    """Write ``frame`` sorted by ``key`` (stable), without index, deterministically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if key:
        frame = frame.sort_values(list(key), kind="mergesort")
    frame = frame.reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(None)  # no pandas/library version metadata
    pq.write_table(table, path, compression="zstd", write_statistics=True, use_dictionary=True)
    return path


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read an artifact written by :func:`write_parquet`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"artifact {path} not found; run the stage that produces it (dvc repro)")
    frame = pq.read_table(path).to_pandas()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype("datetime64[ns]")
        elif pd.api.types.is_string_dtype(frame[col]) and not pd.api.types.is_object_dtype(frame[col]):
            frame[col] = frame[col].astype(object)
    return frame


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON with sorted keys and a trailing newline (stable bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path
