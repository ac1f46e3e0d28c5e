"""Data-quality records: every exclusion or flag, with its reason.

Nothing is dropped silently (docs/references.md, "Data quality"). Each stage collects
:class:`QualityRecord` rows and writes them to
``data/processed/quality/<stage>.parquet``; the report counts them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pandas as pd

from measures.core.status import SEVERITY, severity

#: Status kinds by severity (0, 1, 2); the report reads statuses through :func:`severity`.
KINDS = tuple(SEVERITY)

__all__ = ["ACTIONS", "KINDS", "QUALITY_COLUMNS", "QualityRecord", "events_to_records", "quality_frame", "severity"]

QUALITY_COLUMNS = ("stage", "table", "bank_id", "date_start", "date_end", "n_rows", "action", "reason", "detail")
ACTIONS = ("excluded", "masked", "flagged", "kept", "ignored", "filled", "not_estimable")


@dataclass(frozen=True)
class QualityRecord:
    """One exclusion or flag.

    ``action``: excluded (rows removed), masked (values set to missing), flagged
    (kept, marked), kept (noted, unchanged), ignored (an input column not used),
    filled (a value derived, e.g. a publication date from the lag), not_estimable (an
    output written empty because the data cannot support it; ``detail`` says why).
    ``reason`` is a short machine-readable code (e.g. ``delisted``,
    ``suspension``, ``negative_equity``); ``detail`` a sentence for people.
    """

    stage: str
    table: str
    bank_id: str | None
    date_start: pd.Timestamp | None
    date_end: pd.Timestamp | None
    n_rows: int
    action: str
    reason: str
    detail: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action={self.action!r} is not allowed; allowed values: {', '.join(ACTIONS)}")


def quality_frame(records: Iterable[QualityRecord]) -> pd.DataFrame:
    """Records as a frame with the fixed columns, sorted deterministically."""
    rows = [asdict(r) for r in records]
    frame = pd.DataFrame(rows, columns=list(QUALITY_COLUMNS))
    frame["bank_id"] = frame["bank_id"].astype(object)
    for col in ("date_start", "date_end"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
    frame["n_rows"] = frame["n_rows"].astype("int64")
    for col in ("stage", "table", "action", "reason", "detail"):
        frame[col] = frame[col].astype(object)
    keys = ["stage", "table", "reason", "bank_id", "date_start", "detail"]
    return frame.sort_values(keys, na_position="first", kind="mergesort").reset_index(drop=True)


def events_to_records(events: pd.DataFrame, *, stage: str, table: str) -> list[QualityRecord]:
    """Quality records from an event frame of ``measures`` (bank_id, date_start, date_end, n_rows, action, reason, detail)."""
    return [
        QualityRecord(
            stage=stage,
            table=table,
            bank_id=None if pd.isna(e.bank_id) else str(e.bank_id),
            date_start=e.date_start,
            date_end=e.date_end,
            n_rows=int(e.n_rows),
            action=e.action,
            reason=e.reason,
            detail=e.detail,
        )
        for e in events.itertuples(index=False)
    ]

