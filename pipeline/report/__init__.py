"""The HTML report: built from artifacts only (no estimation here).

Each section is a module in :mod:`pipeline.report.sections` with a
``build(ctx) -> Section | None`` function (``None`` when its artifacts are
absent); :data:`pipeline.report.sections.SECTIONS` lists them in report order.
A later stage adds its section by adding a module and one entry to that list.
"""

from pipeline.report.core import ReportContext, Section, render_report

__all__ = ["ReportContext", "Section", "render_report"]
