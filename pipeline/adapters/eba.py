"""Reader of the EBA 2018 stress-test extract used by the fire-sale stage (``stress.firesale.source: eba``).

The file has a comma-separated header over space-separated rows, and ``govbonds`` written as a
sum ``a+b`` (kept as text; :func:`measures.stress.map_eba_balance_sheet` evaluates it).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.schema import DataValidationError

EBA_COLUMNS = ["bank_id", "CET1E", "leverage", "debt_sec", "govbonds"]


def read_eba(path: str | Path) -> pd.DataFrame:
    """The EBA 2018 extract: space separated under a comma-separated header; ``govbonds`` as text ('a+b')."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError("file not found (params key stress.firesale.eba.file)", source=str(path))
    header = path.read_text(encoding="utf-8").splitlines()[0].replace(",", " ").split()
    if header != EBA_COLUMNS:
        raise DataValidationError(f"header {header!r} is not the EBA 2018 extract's", source=str(path),
                                  allowed=" ".join(EBA_COLUMNS))
    return pd.read_csv(path, sep=r"\s+", skiprows=1, header=None, names=EBA_COLUMNS,
                       dtype={"govbonds": str, "bank_id": str})
