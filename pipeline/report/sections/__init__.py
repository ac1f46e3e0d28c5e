"""Report sections, in report order. Each module has ``build(ctx) -> Section | None``.

To add a section: write ``pipeline/report/sections/<name>.py`` and add it here.
"""

from pipeline.report.sections import data_quality, market_states, returns_summary, sample

SECTIONS = [sample, data_quality, returns_summary, market_states]
