"""Report: the self-contained HTML report, metrics.json and plots/*.csv from artifacts only.

Sections are modules of :mod:`pipeline.report.sections`; a section whose
artifacts are absent is skipped. Nothing is estimated here: every number shown is
read from an artifact, and the provenance of those artifacts (data source,
sample, stage parameters) is shown in the header and under each section.
Outputs: ``data/report/index.html`` (cached), ``data/report/figures/`` (every figure as SVG, PDF
and 300-dpi PNG) and ``data/report/tables/`` (every table as CSV and LaTeX), numbered as in the
page, and ``data/report/metrics.json`` and ``data/report/plots/*.csv`` (uncached, for ``dvc
metrics diff`` / ``dvc plots diff``; the ``series_*.csv`` among them are the ones ``dvc.yaml``'s
``plots:`` draw; docs/experiments.md).
"""

from __future__ import annotations

from pipeline.dag import STAGES
from pipeline.report import ReportContext, render_report
from pipeline.report_config import ReportConfig
from pipeline.report.core import build_sections, write_plots
from pipeline.report.metrics import headline_metrics
from pipeline.report.series import series_frames
from pipeline.report.sections import SECTIONS
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> dict:
    report = ReportContext(ctx, ctx.config())
    sections = build_sections(report, SECTIONS, mapper=ctx.mapper, figures=ctx.path("report/figures"),
                              tables=ctx.path("report/tables"))
    html = ctx.path("report/html")
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(render_report(report, sections), encoding="utf-8")
    write_plots(ctx.path("report/plots"), sections, series_frames(report))  # + the series dvc.yaml's plots draw
    return {"report/metrics": headline_metrics(report, {s.id: s.metrics for s in sections})}


STAGE = Stage(
    name="report",
    run=run,
    params={"report": ReportConfig},
    inputs=(
        "banks", "balance_sheet", "market_states", "episodes", "canonical/meta",
        "returns", "system_returns",
        "covar_dcc", "covar_dcc_estimates", "dcc_param_paths", "mes", "srisk", "srisk_total", "cca", "cca_total",
        "covar_qr", "covar_qr_estimates", "spillover_banks", "spillover_index", "spillover_index_weekly", "spillover_channels",
        "crw", "granger", "contagion_windows", "connectedness", "connectedness_directional", "granger_dci",
        "system_measures", "early_warning", "early_warning_leads", "measure_concordance",
        "rankings", "rankings_crw", "rankings_tau",
        "panel/coefficients", "panel/fit_stats", "panel/table1", "panel/table2", "panel/table3", "panel/robustness",
        "firesale", "firesale_regions", "firesale_mean", "firesale_mean_regions",
        "cascade_surface", "cascade_matrix", "cascade_hierarchy", "cascade_boundary", "debtrank",
        "cascade_descriptives", "cascade_boundary_stats",
        "interbank_matrix", "interbank_scenarios", "interbank_banks",
        "spillover_stress", "spillover_descriptives", "firesale_sr_change", "firesale_phase_curves", "firesale_phases",
        *(f"quality/{stage}" for stage in STAGES if stage not in ("params", "report")),  # params writes no quality file
    ),
    outputs=("report/html", "report/metrics", "report/plots", "report/figures", "report/tables"),
    files=("pipeline/report/templates",),
    quality=False,
    realtime=True,  # the header states the mode
)
