"""Fit status strings and the failure budget.

A status is ``"ok"``, ``"warning:<Class>"`` or ``"failed:<Class>: message"``
(DESIGN §3). Non-ok rows are kept in the artifacts and counted in the report;
they are never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

OK = "ok"


@dataclass(frozen=True)
class FitStatus:
    """Outcome of one fit: ``kind`` in {"ok", "warning", "failed"}."""

    kind: str
    cls: str = ""
    message: str = ""

    def __str__(self) -> str:
        if self.kind == "ok":
            return OK
        if self.kind == "warning":
            return f"warning:{self.cls}"
        return f"failed:{self.cls}: {self.message}"

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def failed(self) -> bool:
        return self.kind == "failed"

    @classmethod
    def parse(cls, text: str) -> "FitStatus":
        """Inverse of ``str``."""
        if text == OK:
            return cls("ok")
        if text.startswith("warning:"):
            return cls("warning", text.removeprefix("warning:"))
        if text.startswith("failed:"):
            body = text.removeprefix("failed:")
            name, _, message = body.partition(": ")
            return cls("failed", name, message)
        raise ValueError(f"not a status string: {text!r}; expected 'ok', 'warning:<Class>' or 'failed:<Class>: message'")


def status_from_exception(exc: BaseException) -> FitStatus:
    """The ``failed`` status for an exception raised by a fit."""
    return FitStatus("failed", type(exc).__name__, " ".join(str(exc).split()))


def status_from_warnings(caught: Iterable[Warning | object]) -> FitStatus:
    """``warning:<Class>`` for the first caught warning (``warnings.catch_warnings(record=True)``), else ok."""
    for w in caught:
        category = getattr(w, "category", type(w))
        return FitStatus("warning", category.__name__)
    return FitStatus("ok")


class FailureBudgetExceeded(RuntimeError):
    """More fits failed than ``max_failure_share`` allows."""


def check_failure_budget(statuses: Iterable[str], max_failure_share: float, *, what: str) -> None:
    """Raise :class:`FailureBudgetExceeded` when the share of ``failed:`` statuses exceeds the budget."""
    statuses = list(statuses)
    if not statuses:
        return
    failed = [s for s in statuses if s.startswith("failed:")]
    share = len(failed) / len(statuses)
    if share > max_failure_share:
        example = failed[0]
        raise FailureBudgetExceeded(
            f"{what}: {len(failed)} of {len(statuses)} fits failed ({share:.1%}) > max_failure_share="
            f"{max_failure_share:.1%}; first failure: {example}"
        )
