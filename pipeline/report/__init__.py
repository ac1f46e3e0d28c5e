"""The HTML report: built from artifacts only (no estimation here).

Each section is a module in :mod:`pipeline.report.sections` with a
``build(ctx) -> Section | None`` function (``None`` when its artifacts are
absent); :data:`pipeline.report.sections.SECTIONS` lists them in report order.
A section reads artifacts by registry name (:meth:`ReportContext.artifact`); the report
stage (:mod:`pipeline.stages.report`) lists every one of them in its ``inputs``. A later
stage adds its section by adding a module, one entry to that list and its artifacts to the
report's inputs. The provenance of the artifacts a section read is shown under it
(:mod:`pipeline.report.provenance`).
"""

from pipeline.report.core import ReportContext, Section, render_report

__all__ = ["ReportContext", "Section", "render_report"]
