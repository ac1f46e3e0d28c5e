"""The HTML report: built from artifacts only (no estimation here).

Each section is a module in :mod:`pipeline.report.sections` with a
``build(ctx) -> Section | None`` function (``None`` when its artifacts are
absent); :data:`pipeline.report.sections.SECTIONS` lists them in report order.
A section reads artifacts by registry name (:meth:`ReportContext.artifact`); the report
stage (:mod:`pipeline.stages.report`) lists every one of them in its ``inputs``. A later
stage adds its section by adding a module, one entry to that list and its artifacts to the
report's inputs. The provenance of the artifacts a section read is shown under it
(:mod:`pipeline.report.provenance`), with a "Simulated data" label when they come from a
simulator; artifacts marked not estimable give the section's "not estimable from your data" note
(:mod:`pipeline.report.notes`). :func:`mark_stale` puts a "this report is stale" banner on an
existing page when an upstream stage failed (:mod:`pipeline.report_stale`).
"""

from pipeline.report.core import ReportContext, Section, render_report
from pipeline.report_stale import mark_stale

__all__ = ["ReportContext", "Section", "mark_stale", "render_report"]
