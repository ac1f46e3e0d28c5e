"""The numbering of the report's figures and tables, and where their files go.

:func:`pipeline.report.core.build_sections` opens a :class:`Build` for the whole report (one
counter for figures, one for tables, in reading order) and :func:`pipeline.report.core.build_section`
sets the section being built. Figures and tables made outside a build (a notebook calling a
section's ``build``) are unnumbered and written nowhere.
"""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Build:
    """Counters and output folders of one report build (``None`` folders: write no files)."""

    figures: Path | None = None
    tables: Path | None = None
    section: str = "report"
    n_figures: int = 0
    n_tables: int = 0
    #: the serialized figures of the section being built (drawn later, through the mapper)
    pending: list[bytes] | None = None
    #: file stems already used in this build (a second figure of the same name gets a suffix)
    stems: set[str] = field(default_factory=set)

    def next(self, kind: str, name: str) -> tuple[int, str]:
        """The next number of ``kind`` (figure or table) and its file stem, e.g. ``fig03_returns_system``."""
        if kind == "figure":
            self.n_figures += 1
            number, prefix = self.n_figures, "fig"
        else:
            self.n_tables += 1
            number, prefix = self.n_tables, "tab"
        stem = f"{prefix}{number:02d}_{self.section}" + (f"_{slug(name)}" if slug(name) else "")
        self.stems.add(stem)
        return number, stem


def slug(text: str, length: int = 40) -> str:
    """A file-name fragment of ``text``: lower-case ASCII words joined by ``_``."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "_".join(words)[:length].strip("_")


BUILD: contextvars.ContextVar[Build | None] = contextvars.ContextVar("report_build", default=None)


def current() -> Build | None:
    """The build in progress (None outside :func:`pipeline.report.core.build_sections`)."""
    return BUILD.get()


def clear(folder: Path, suffixes: tuple[str, ...]) -> None:
    """Create ``folder`` and remove its files of the given suffixes (stale outputs of an earlier build)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file() and old.suffix in suffixes:
            old.unlink()
