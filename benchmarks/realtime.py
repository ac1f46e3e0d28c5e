"""The cost of ``realtime: true``: every estimating stage with expanding refits, against the default.

In a temporary copy of the repository it runs each stage in DAG order (``python -m pipeline run``,
as ``dvc repro`` does) with ``realtime: false`` (the named baseline, same process), then with
``realtime: true``, and prints seconds per stage, the ratio true / false per stage and in total
(the goal of docs/realtime.md: at most 3x), and peak memory.

    python benchmarks/realtime.py                       # default data, compute.scheduler from params.yaml
    python benchmarks/realtime.py --set compute.scheduler=serial
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from scale import copy_repository, run_stages, set_params, stage_names  # benchmarks/scale.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a params override (repeatable)")
    args = parser.parse_args()
    times = {}
    for mode in ("false", "true"):
        with tempfile.TemporaryDirectory() as tmp:
            root = copy_repository(Path(tmp))
            set_params(root, n_banks=16, compute={}, overrides=[*args.set, f"realtime={mode}"])
            times[mode] = run_stages(root, stage_names(root, "all"))
    base, real = times["false"], times["true"]
    print(f"{'stage':<18}{'false s':>9}{'true s':>9}{'ratio':>8}{'GiB':>7}")
    for stage in base:
        print(f"{stage:<18}{base[stage][0]:>9.1f}{real[stage][0]:>9.1f}{real[stage][0] / base[stage][0]:>7.2f}x"
              f"{real[stage][1]:>7.2f}")
    total_base, total_real = sum(t for t, _, _ in base.values()), sum(t for t, _, _ in real.values())
    print(f"{'all stages':<18}{total_base:>9.1f}{total_real:>9.1f}{total_real / total_base:>7.2f}x")
    print("baseline: realtime: false, same process; goal: realtime: true at most 3x")


if __name__ == "__main__":
    main()
