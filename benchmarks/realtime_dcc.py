"""Real-time DCC benchmark: expanding refits warm-started vs cold, and the realtime vs full stages.

Run from the repository root:

    python benchmarks/realtime_dcc.py                       # warm vs cold on simulated pairs
    python benchmarks/realtime_dcc.py --root <run folder>   # also covar_dcc + mes_srisk, full vs realtime

1. ``measures.dcc.fit_dcc_banks`` with ``estimation: expanding`` on ``--banks`` simulated banks
   of ``--days`` days (a seeded DCC-GJR-GARCH draw), in this process: cold refits (arch's
   starting values and the grid for ``(a, b)``; the named baseline), warm starts through arch and
   the grid-code SLSQP step (``warm="arch"``), and the default warm refits (the analytic-gradient
   optimisers of ``measures.dcc.refit``): seconds, the ratios, the refits per bank and the
   largest difference from the cold parameter path (all are optimiser solutions).
2. With ``--root`` (a folder holding ``data/interim`` from the returns stage, e.g. a default
   ``dvc repro``): ``python -m pipeline run covar_dcc`` then ``mes_srisk`` with the repository's
   ``params.yaml`` (``estimation: full``, the baseline) and with the real-time resolution of both
   groups (``for_realtime``: ``estimation: expanding``, ``mes_causal: true``), each in a copy of
   the folder: seconds per stage and the ratio realtime / full.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from measures.dcc import CovarDCCParams, GarchParams, fit_dcc_banks, simulate_dcc_garch  # noqa: E402
from measures.systemic import SRiskPanelConfig  # noqa: E402


def simulated(banks: int, days: int, seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    garch = [GarchParams(omega=2e-6, alpha=0.05, beta=0.90, gamma=0.06, mu=2e-4)] * (1 + banks)
    qbar = np.full((1 + banks, 1 + banks), 0.5) + 0.5 * np.eye(1 + banks)
    returns, _, _ = simulate_dcc_garch(days, garch, 0.04, 0.93, qbar, np.random.default_rng(seed))
    dates = pd.bdate_range("2005-01-03", periods=days)
    wide = pd.DataFrame(returns[:, 1:], index=dates, columns=[f"b{k:02d}" for k in range(banks)])
    return wide, pd.Series(returns[:, 0], index=dates, name="__system__")


def warm_vs_cold(banks: int, days: int, refit_every: int) -> None:
    wide, system = simulated(banks, days)
    config = CovarDCCParams(estimation="expanding", refit_every=refit_every)
    times, fits = {}, {}
    variants = {False: "cold refits, arch + grid step (baseline)", "arch": "warm starts, arch + SLSQP step",
                True: "warm starts, measures.dcc.refit (default)"}
    for warm in variants:
        started = time.perf_counter()
        fits[warm], _ = fit_dcc_banks(wide, system, config, warm=warm)
        times[warm] = time.perf_counter() - started
    refits = len(fits[True][wide.columns[0]].refits)
    columns = ["dcc_a", "dcc_b", "bank_beta"]
    print(f"expanding DCC, {banks} banks x {days} days, refit every {refit_every} days ({refits} refits per bank)")
    for warm, label in variants.items():
        failed = sum((f.refits["status"].str.startswith("failed")).sum() for f in fits[warm].values())
        gap = max(float(np.nanmax(np.abs(fits[warm][b].refits[columns].to_numpy()
                                         - fits[False][b].refits[columns].to_numpy()))) for b in wide.columns)
        print(f"  {label:<44} {times[warm]:7.1f}s  ({failed} failed refits)  speed-up over cold "
              f"{times[False] / times[warm]:5.2f}x  largest |difference| from cold (a, b, bank beta) {gap:.1e}")
    print(f"  speed-up of the default over arch warm starts {times['arch'] / times[True]:5.2f}x")


def realtime_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    groups = params["measures"]
    for name, cls in (("covar_dcc", CovarDCCParams), ("mes_srisk", SRiskPanelConfig)):
        groups[name] = dataclasses.asdict(cls(**groups[name]).for_realtime())
    return params


def stage_times(root: Path, params: dict) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(root / "data" / "interim", work / "data" / "interim")
        path = work / "params.yaml"
        path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")
        out = {}
        for stage in ("covar_dcc", "mes_srisk"):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pipeline", "run", stage, "--root", str(work), "--params", str(path)],
                           cwd=REPO, check=True, stdout=subprocess.DEVNULL)
            out[stage] = time.perf_counter() - started
        return out


def realtime_vs_full(root: Path) -> None:
    full = stage_times(root, yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8")))
    realtime = stage_times(root, realtime_params())
    print(f"\nstages on {root} (baseline: params.yaml, estimation full)")
    for stage in full:
        print(f"  {stage:<10} full {full[stage]:7.1f}s  realtime {realtime[stage]:7.1f}s  "
              f"realtime/full {realtime[stage] / full[stage]:5.2f}x")
    total_full, total_rt = sum(full.values()), sum(realtime.values())
    print(f"  {'both':<10} full {total_full:7.1f}s  realtime {total_rt:7.1f}s  realtime/full {total_rt / total_full:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--banks", type=int, default=4)
    parser.add_argument("--days", type=int, default=2000)
    parser.add_argument("--refit-every", type=int, default=21)
    parser.add_argument("--root", type=Path, default=None, help="a folder with data/interim (time the stages)")
    args = parser.parse_args()
    warm_vs_cold(args.banks, args.days, args.refit_every)
    if args.root is not None:
        realtime_vs_full(args.root)


if __name__ == "__main__":
    main()
