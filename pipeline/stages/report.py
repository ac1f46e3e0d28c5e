"""Report: the self-contained HTML report, metrics.json and plots/*.csv from artifacts only.

Sections are modules of :mod:`pipeline.report.sections`; a section whose
artifacts are absent is skipped. Outputs: ``data/report/index.html`` (cached),
``data/report/metrics.json`` and ``data/report/plots/*.csv`` (uncached, for
``dvc metrics diff`` / ``dvc plots diff``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.io import write_json
from pipeline.params import load_params
from pipeline.report import ReportContext, render_report
from pipeline.report.core import clean_metric
from pipeline.report.sections import SECTIONS
from pipeline.stages.common import parser

STAGE = "report"


def run(params_path: str, data_dir: str, out: str, metrics: str, plots: str) -> None:
    params = load_params(params_path)
    ctx = ReportContext(Path(data_dir), params.get("report", {}) or {})
    sections = [s for s in (module.build(ctx) for module in SECTIONS) if s is not None]
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render_report(ctx, sections), encoding="utf-8")
    write_json(clean_metric({s.id: s.metrics for s in sections}), metrics)
    plots_dir = Path(plots)
    plots_dir.mkdir(parents=True, exist_ok=True)
    for old in plots_dir.glob("*.csv"):
        old.unlink()
    for s in sections:
        for name, frame in s.plots.items():
            frame.to_csv(plots_dir / f"{s.id}_{name}.csv", index=False, float_format="%.10g", date_format="%Y-%m-%d")


def main(argv: list[str] | None = None) -> None:
    p = parser(STAGE, __doc__)
    p.add_argument("--data", default="data", help="the DVC data tree holding the artifacts")
    p.add_argument("--out", default="data/report/index.html")
    p.add_argument("--metrics", default="data/report/metrics.json")
    p.add_argument("--plots", default="data/report/plots")
    args = p.parse_args(argv)
    run(args.params, args.data, args.out, args.metrics, args.plots)


if __name__ == "__main__":
    main(sys.argv[1:])
