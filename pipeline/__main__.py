"""Command line: ``python -m pipeline <command> ...``.

Commands
--------
run STAGE [--params FILE] [--root DIR]
    Run one stage as ``dvc repro`` does (:mod:`pipeline.stage`); a known error exits 2
    with its message (``PIPELINE_DEBUG=1`` for the traceback).
dag [--write | --check]
    Print, write or check ``dvc.yaml`` generated from the stage declarations (:mod:`pipeline.dag`).
check [--params FILE] [--root DIR]
    Validate params.yaml and the data, and print per stage what it will estimate
    (:mod:`pipeline.check`).
export-default --out DIR [--format csv|parquet]
    Write the embedded default data as canonical input files (:mod:`pipeline.export`).
fetch --source akshare|baostock --banks ... --start ... --end ... [--out DIR]
    Download Chinese bank data into canonical raw files (optional extra ``[fetch]``,
    :mod:`pipeline.fetch`).
panel --input PANEL.csv --out DIR [--params FILE]
    Replication mode: the panel regressions from a CSV panel (:mod:`pipeline.replication`,
    docs/replication.md).
"""

from __future__ import annotations

import os
import sys

# Stages run single-threaded BLAS whatever the user's thread settings: set before numpy is
# imported, so that results never depend on the core count or thread scheduling (a multi-threaded
# reduction changes the last bits). Parallelism comes from the scheduler, over banks, windows, years.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

COMMANDS = {
    "run": "pipeline.stage",
    "dag": "pipeline.dag",
    "check": "pipeline.check",
    "export-default": "pipeline.export",
    "fetch": "pipeline.fetch",
    "panel": "pipeline.replication",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib

    return int(importlib.import_module(COMMANDS[argv[0]]).main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
