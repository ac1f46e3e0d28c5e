"""Report sections, in report order. Each module has ``build(ctx) -> Section | None``.

To add a section: write ``pipeline/report/sections/<name>.py`` and add it here.
"""

from pipeline.report.sections import (
    cascade,
    contagion,
    data_quality,
    firesale,
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
    returns_summary,
    market_states,
    srisk,
    spillover,
    contagion,
    panel_regressions,
    firesale,
    cascade,
]
