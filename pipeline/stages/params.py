"""Params: refuse unknown or null groups anywhere in ``params.yaml``; fingerprint each stage's code.

Every stage validates the groups it declares, but a misspelled top-level group
(``contagoin:``) is read by no stage, so DVC would report "up to date" and the
intended change would never happen. This stage depends on every key of the file
(``all_params``), so any edit reruns it, and it fails with the allowed groups
(:func:`pipeline.params.check_groups`; the runner of every stage checks the same).

It also writes the code fingerprint of every other stage (:func:`pipeline.dag.write_fingerprints`):
it depends on the package folders, so any code change reruns it, and a stage's fingerprint
changes only when a module that stage can load changed.
"""

from __future__ import annotations

from pipeline.dag import write_fingerprints
from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> None:
    # the runner's check_groups(params) has already run
    write_fingerprints(ctx.path("code"))


STAGE = Stage(name="params", run=run, outputs=("code",), all_params=True, quality=False)
