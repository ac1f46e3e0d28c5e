"""Params: refuse unknown or null groups anywhere in ``params.yaml``.

Every stage validates the groups it declares, but a misspelled top-level group
(``contagoin:``) is read by no stage, so DVC would report "up to date" and the
intended change would never happen. This stage depends on every key of the file
(``all_params``), so any edit reruns it, and it fails with the allowed groups
(:func:`pipeline.params.check_groups`; the runner of every stage checks the same).
It writes nothing.
"""

from __future__ import annotations

from pipeline.stage import Stage, StageContext


def run(ctx: StageContext) -> None:
    return None  # the runner's check_groups(params) has already run


STAGE = Stage(name="params", run=run, all_params=True, quality=False, files=("pipeline/stages",))  # groups read from the declarations
