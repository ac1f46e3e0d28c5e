"""Report sections, in report order. Each module has ``build(ctx) -> Section | None``.

To add a section: write ``pipeline/report/sections/<name>.py``, add it here and add the artifacts it
reads (registry names) to the ``inputs`` of :data:`pipeline.stages.report.STAGE`.
"""

from pipeline.report.sections import (
    cascade,
    contagion,
    data_quality,
    firesale,
    fit_status,
    market_states,
    panel_regressions,
    returns_summary,
    sample,
    spillover,
    srisk,
)

SECTIONS = [
    sample,
    data_quality,
    fit_status,
    returns_summary,
    market_states,
    srisk,
    spillover,
    contagion,
    panel_regressions,
    firesale,
    cascade,
]
