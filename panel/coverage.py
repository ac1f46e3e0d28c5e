"""Which models of a list the data can carry, which it cannot and what to add.

One source of truth for "which columns does this model need": the panel stage
(:func:`panel.model_list.estimate_panel`), its ``check`` hook and the replication mode all
ask :func:`model_coverage`. A model is estimable when its dependent variable, regulators and
controls (:attr:`panel.spec.ModelSpec.variables`) are columns of the panel; the others are
skipped and listed. No specification is changed for the data: a model without one of its
controls is skipped, not estimated without it (docs/panel.md, "When the data lack a column").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from panel.build import RATIOS, year_end_ratios
from panel.spec import ModelSpec

#: What each panel variable is (for messages that say what to add).
DESCRIPTIONS = {"crw": "contagion risk weight", "car": "capital adequacy ratio", "lev": "leverage ratio",
                "lcr": "liquidity coverage ratio", "ldr": "loan-to-deposit ratio", "liq": "liquidity ratio",
                "npl": "non-performing loan ratio", "nim": "net interest margin", "loan_growth": "loan growth",
                "ln_assets": "log total assets"}
#: Panel variable -> the canonical ``balance_sheet`` column it is built from (:func:`panel.build.year_end_ratios`).
SOURCE_COLUMNS = {**{name: column for column, name in RATIOS.items()}, "ln_assets": "total_assets"}
#: Where the columns come from: the canonical balance sheet (the stage) or the replication CSV.
SOURCES = ("balance_sheet", "csv")
KEYS = ("bank_id", "year")
NO_BALANCE_SHEET = "no balance_sheet table (or no rows): the panel regresses the CRW on year-end ratios"
NEEDS_BALANCE_SHEET = ("a balance_sheet table with year-end (31 December) rows of car, leverage_ratio, lcr, ldr or "
                       "liquidity_ratio and the controls npl, nim, loan_growth (docs/formats.md)")


@dataclass(frozen=True)
class Coverage:
    """The model list against the columns of a panel: ``absent[model]`` = its missing columns."""

    specs: tuple[ModelSpec, ...]
    available: tuple[str, ...]
    absent: dict[str, tuple[str, ...]]

    @property
    def estimable(self) -> tuple[ModelSpec, ...]:
        return tuple(s for s in self.specs if not self.absent[s.name])

    @property
    def skipped(self) -> tuple[ModelSpec, ...]:
        return tuple(s for s in self.specs if self.absent[s.name])

    def lacks(self, spec: ModelSpec) -> str:
        """``"lcr, npl"``: the columns ``spec`` needs and the data lack."""
        return ", ".join(self.absent[spec.name])

    def message(self) -> str:
        """Per skipped model, its missing columns; then the columns the data have."""
        per_model = "; ".join(f"{s.name} lacks {self.lacks(s)}" for s in self.skipped)
        return f"{per_model}; columns available: {', '.join(self.available) or 'none'}"

    def needs(self, source: str = "balance_sheet") -> str:
        """What to add for the skipped models to run, or how to state models on the columns at hand."""
        if source not in SOURCES:
            raise ValueError(f"source={source!r} is not allowed; allowed values: {', '.join(SOURCES)}")
        users: dict[str, list[str]] = {}
        for spec in self.skipped:
            for column in self.absent[spec.name]:
                users.setdefault(column, []).append(spec.name)
        every = len(self.specs)
        items = [f"{_column(c, source)} ({DESCRIPTIONS.get(c, 'a model variable')}; for "
                 f"{'every model' if len(m) == every > 1 else ', '.join(m)})" for c, m in users.items()]
        where = "the balance_sheet column(s)" if source == "balance_sheet" else "the column(s)"
        text = f"{where} {'; '.join(items)}" + ("" if source == "balance_sheet" else " to the panel CSV")
        return f"add {text}; or {self.suggestion()}"

    def suggestion(self) -> str:
        """The models of the list whose dependent variable and regulators the data have, with the controls they have."""
        have = set(self.available)
        models = [s for s in self.specs if set((s.dependent, *s.regulators)) <= have]
        if not models:
            return (f"state panel.models on the columns you have ({', '.join(self.available) or 'none'}): no model of "
                    "the list has its dependent variable and regulators in the data")
        controls = [c for c in dict.fromkeys(c for s in models for c in s.controls) if c in have]
        extra = [c for c in ("ln_assets",) if c in have and c not in controls]
        return (f"set panel.models to the models on the columns you have ({', '.join(s.name for s in models)}) and "
                f"panel.controls to [{', '.join(controls)}]"
                + (f" (available as a size control: {', '.join(extra)})" if extra else "")
                + "; that changes the specification, say so in your tables (docs/panel.md)")


def _column(name: str, source: str) -> str:
    return SOURCE_COLUMNS.get(name, name) if source == "balance_sheet" else name


def model_coverage(specs: Sequence[ModelSpec], columns: Iterable[str]) -> Coverage:
    """Which models of ``specs`` a panel with ``columns`` can carry.

    Parameters
    ----------
    specs : sequence of ModelSpec
        The model list (:meth:`panel.model_list.PanelParams.specs`).
    columns : iterable of str
        Columns of the panel (``bank_id`` and ``year`` are ignored).

    Returns
    -------
    Coverage
        ``absent[model]``: the model's variables not among ``columns``, in the model's order.
    """
    available = tuple(c for c in dict.fromkeys(map(str, columns)) if c not in KEYS)
    have = set(available)
    absent = {s.name: tuple(c for c in s.variables if c not in have) for s in specs}
    return Coverage(specs=tuple(specs), available=available, absent=absent)


def panel_check(balance_sheet: pd.DataFrame | None, specs: Sequence[ModelSpec], *, lagged: bool = False) -> list[tuple[str, str]]:
    """What the panel stage will estimate from a canonical balance sheet, before any stage ran.

    The same year-end ratios (:func:`panel.build.year_end_ratios`) and the same coverage
    (:func:`model_coverage`, with the CRW assumed from the contagion stage) as the stage.

    Returns
    -------
    list of (kind, text)
        ``estimates``: the models, banks and years; ``skips``: the models lacking a column, with
        the balance-sheet columns; ``cannot``: no model (with what to add), or no balance sheet.
    """
    if balance_sheet is None or balance_sheet.empty:
        return [("cannot", f"{NO_BALANCE_SHEET}; needs: {NEEDS_BALANCE_SHEET}")]
    ratios, _ = year_end_ratios(balance_sheet)
    coverage = model_coverage(specs, ["crw", *ratios.columns])
    if not coverage.estimable:
        return [("cannot", f"no model of panel.models: {coverage.message()}; needs: {coverage.needs()}")]
    years = sorted(int(y) + int(lagged) for y in ratios["year"].unique())
    span = f"{years[0]}–{years[-1]}" if years else "none"
    lines = [("estimates", f"models {', '.join(s.name for s in coverage.estimable)} (of {len(specs)}) on "
                           f"{ratios['bank_id'].nunique()} banks with year-end (31 December) rows, CRW years {span}"
                           f"{' (ratios of the previous year end, panel.lagged)' if lagged else ''}; the CRW comes "
                           "from the contagion stage")]
    if coverage.skipped:
        lines.append(("skips", "models lacking balance_sheet columns: " + "; ".join(
            f"{s.name} (no {', '.join(_column(c, 'balance_sheet') for c in coverage.absent[s.name])})"
            for s in coverage.skipped)))
    return lines
