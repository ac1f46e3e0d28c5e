"""One module per DVC stage, each declaring ``STAGE`` (:class:`pipeline.stage.Stage`).

A stage wires artifacts to the science in ``measures`` / ``panel`` and nothing else;
the runner (``python -m pipeline run <name>``) does params, I/O, quality records and
errors, and ``dvc.yaml`` is generated from the declarations (``python -m pipeline dag``,
which lists the stages in DAG order: ``pipeline.dag.STAGES``).
No stage imports another stage.
"""

import os

# Stages run single-threaded BLAS (``python -m pipeline`` forces it before numpy loads; this
# covers stages imported from Python): results do not depend on the machine's core count, and
# small per-window solves are many times faster without thread start-up on busy machines.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
