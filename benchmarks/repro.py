"""Time the whole ``dvc repro`` on the embedded default data, stage by stage.

Runs in a temporary copy of the repository (git-tracked files only). Prints the
wall time of each stage (``dvc repro -s <stage>`` in DAG order) and of a forced
full run, beside the baseline of a no-op ``dvc repro`` (DVC's own overhead: hashing
and lock checks) measured in the same process, and the ratio.

    python benchmarks/repro.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml



def sh(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main() -> None:
    from scale import copy_repository  # benchmarks/scale.py: the git-tracked files as a fresh clone

    with tempfile.TemporaryDirectory() as tmp:
        root = copy_repository(Path(tmp))
        dvc = [sys.executable, "-m", "dvc"]
        stages = list(yaml.safe_load((root / "dvc.yaml").read_text())["stages"])
        print(f"{'stage':<20}{'seconds':>10}")
        for stage in stages:
            print(f"{stage:<20}{sh([*dvc, 'repro', '-s', stage], root):>10.2f}")
        full = sh([*dvc, "repro", "-f"], root)
        noop = sh([*dvc, "repro"], root)
        print(f"{'full (repro -f)':<20}{full:>10.2f}")
        print(f"{'baseline: no-op':<20}{noop:>10.2f}")
        print(f"ratio full / no-op repro: {full / noop:.1f}x")


if __name__ == "__main__":
    main()
