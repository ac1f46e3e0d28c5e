"""One module per DVC stage; each runs as ``python -m pipeline.stages.<name>``.

A stage reads only the params groups it declares in ``dvc.yaml``, reads
artifacts, calls the pure science in ``measures`` / ``panel`` and writes
artifacts (``pipeline.io``) and its data-quality records.
"""

import os

# Stages run single-threaded BLAS: results do not depend on the machine's core count, and
# small per-window solves are many times faster without thread start-up on busy machines.
# Any parallelism must come from processes over banks, windows, years or grids, never from BLAS threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
