"""Event frames: how science reports what it excluded, masked, filled or flagged.

An event is one row ``bank_id, date_start, date_end, n_rows, action, reason, detail``
(``action`` one of excluded, masked, flagged, kept, ignored, filled; ``reason`` a short
code). Estimators return event frames next to their results; the pipeline turns them into
data-quality records (``data/processed/quality/<stage>.parquet``) without reshaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

EVENT_COLUMNS = ("bank_id", "date_start", "date_end", "n_rows", "action", "reason", "detail")


def event_frame(rows: Iterable[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """An event frame with the fixed columns (possibly empty)."""
    return pd.DataFrame(list(rows), columns=list(EVENT_COLUMNS))
