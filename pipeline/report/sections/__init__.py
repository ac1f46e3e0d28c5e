"""Report sections, in report order. Each module has ``build(ctx) -> Section | None``, ``ID``,
``TITLE`` and ``intro(ctx)`` (its text, from ``templates/sections/<ID>.html.j2``): the report shows a section whose artifacts are marked
not estimable or empty from these even when ``build`` returns ``None``, so ``build`` reads every
artifact it uses before it returns.

To add a section: write ``pipeline/report/sections/<name>.py``, add it here and add the artifacts it
reads (registry names) to the ``inputs`` of :data:`pipeline.stages.report.STAGE`.
"""

from pipeline.report.sections import (
    cascade,
    cascade_study,
    cca,
    coes,
    contagion,
    data_quality,
    early_warning,
    firesale,
    fit_status,
    interbank,
    market_states,
    panel_regressions,
    rankings,
    returns_summary,
    sample,
    spillover,
    srisk,
    system_measures,
)

SECTIONS = [
    sample,
    data_quality,
    fit_status,
    returns_summary,
    market_states,
    srisk,
    coes,
    cca,
    spillover,
    contagion,
    system_measures,
    early_warning,
    rankings,
    panel_regressions,
    firesale,
    cascade,
    cascade_study,
    interbank,
]
