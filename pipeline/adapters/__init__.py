"""Import adapters (``data.source: files``): real-world files → the canonical tables.

``data.format`` chooses the adapter:

* ``canonical``: one CSV/Parquet/Excel file per table, canonical headers with units
  in brackets (:mod:`pipeline.adapters.canonical`);
* ``wind``: Wind/iFinD Excel exports with Chinese headers (:mod:`pipeline.adapters.wind`);
* ``toolbox``: a workbook in the layout of the MATLAB systemic-risk toolbox's
  ``Example_Large.xlsx`` (:mod:`pipeline.adapters.toolbox`).

``data.market_states`` specs (:mod:`pipeline.adapters.states`) are built and merged
into ``market_states`` for every format. Formats and units: docs/formats.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from measures.core.config import ConfigError
from pipeline.adapters.states import build_market_states
from pipeline.params import FORMATS, DataConfig
from pipeline.quality import QualityRecord
from pipeline.schema import CanonicalData

__all__ = ["build_market_states", "load"]


def load(config: DataConfig, *, root: Path) -> tuple[CanonicalData, list[QualityRecord]]:
    """Read ``data.raw_dir`` (relative to ``root``) in ``data.format`` and validate it.

    Returns
    -------
    (CanonicalData, list of QualityRecord)
        The canonical tables (with ``episodes`` when the source lists stress episodes), validated by
        :func:`pipeline.schema.validate_dataset` with ``data.publication_lag_days``,
        and one ingest-stage record per ignored column or sheet, derived value,
        default group and dropped period.

    Raises
    ------
    DataValidationError
        Any input problem, naming file, sheet, column, row/bank/date, value and what is allowed.
    """
    from pipeline.adapters import canonical, toolbox, wind

    modules = {"canonical": canonical, "wind": wind, "toolbox": toolbox}
    if config.format not in modules:
        raise ConfigError(f"data.format={config.format!r} is not allowed; allowed values: {', '.join(FORMATS)}")
    root = Path(root)
    data, records = modules[config.format].load(config, root=root)
    return data, [_relative(r, root) for r in records]


def _relative(rec: QualityRecord, root: Path) -> QualityRecord:
    """Paths in record details relative to ``root``, so the quality artifact does not depend on the checkout's location."""
    detail = rec.detail
    for prefix in {f"{root.resolve()}/", f"{root}/"}:
        detail = detail.replace(prefix, "")
    return dataclasses.replace(rec, detail=detail) if detail != rec.detail else rec
