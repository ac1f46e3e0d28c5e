"""Fit status and the failure budget.

A status is ``"ok"``, ``"warning:<Class>"`` or ``"failed:<Class>: message"``
(docs/extending.md). Non-ok rows are kept in the artifacts and counted in the
report; they are never dropped silently. :class:`FitStatus` orders statuses by
severity (ok < warning < failed) so that :func:`worst` combines them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

OK = "ok"
SEVERITY = {"ok": 0, "warning": 1, "failed": 2}


@dataclass(frozen=True)
class FitStatus:
    """Outcome of one fit: ``kind`` in {"ok", "warning", "failed"} with a severity order."""

    kind: str
    cls: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SEVERITY:
            raise ValueError(f"FitStatus kind={self.kind!r} is not allowed; allowed values: {', '.join(SEVERITY)}")

    def __str__(self) -> str:
        if self.kind == "ok":
            return OK
        if self.kind == "warning":
            return f"warning:{self.cls}"
        return f"failed:{self.cls}: {self.message}"

    @property
    def severity(self) -> int:
        """0 for ok, 1 for a warning, 2 for a failure."""
        return SEVERITY[self.kind]

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def failed(self) -> bool:
        return self.kind == "failed"

    @property
    def warning(self) -> bool:
        return self.kind == "warning"

    @classmethod
    def parse(cls, text: "str | FitStatus") -> "FitStatus":
        """Inverse of ``str`` (a :class:`FitStatus` is returned unchanged)."""
        if isinstance(text, FitStatus):
            return text
        if text == OK:
            return cls("ok")
        if text.startswith("warning:"):
            return cls("warning", text.removeprefix("warning:"))
        if text.startswith("failed:"):
            body = text.removeprefix("failed:")
            name, _, message = body.partition(": ")
            return cls("failed", name, message)
        raise ValueError(f"not a status string: {text!r}; expected 'ok', 'warning:<Class>' or 'failed:<Class>: message'")


def severity(status: "str | FitStatus") -> int:
    """0 for ok, 1 for a warning, 2 for a failure (fast for status strings; raises for anything else)."""
    if isinstance(status, FitStatus):
        return status.severity
    if status == OK:
        return 0
    kind = status.partition(":")[0]
    if kind in ("warning", "failed") and ":" in status:
        return SEVERITY[kind]
    return FitStatus.parse(status).severity  # raises, naming the accepted forms


def is_failed(status: "str | FitStatus") -> bool:
    """True when ``status`` is a failure."""
    return severity(status) == 2


def worst(*statuses: "str | FitStatus | None") -> str:
    """The most severe of ``statuses`` as a string (the first of equal severity); ``None`` entries are skipped."""
    best, level = OK, -1
    for status in statuses:
        if status is None:
            continue
        rank = severity(status)
        if rank > level:
            best, level = status, rank
    return str(best)


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


class NotEstimable(ValueError):
    """The data cannot support the estimation asked for (too few banks, observations or columns).

    ``needs`` says what to add to the data for the estimation to run (shown in the report's
    "not estimable from your data" notes). Raised inside a stage, it does not stop the DAG:
    the runner writes the stage's outputs empty, marked not estimable (``pipeline.stage``).
    """

    def __init__(self, message: str, *, needs: str = "") -> None:
        super().__init__(message)
        self.needs = needs


def check_failure_budget(statuses: Iterable["str | FitStatus"], max_failure_share: float, *, what: str) -> None:
    """Raise :class:`FailureBudgetExceeded` when the share of failed statuses exceeds the budget."""
    statuses = list(statuses)
    if not statuses:
        return
    failed = [str(s) for s in statuses if is_failed(s)]
    share = len(failed) / len(statuses)
    if share > max_failure_share:
        example = failed[0]
        raise FailureBudgetExceeded(
            f"{what}: {len(failed)} of {len(statuses)} fits failed ({share:.1%}) > max_failure_share="
            f"{max_failure_share:.1%}; first failure: {example}"
        )
