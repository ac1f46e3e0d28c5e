"""How the pipeline scales with the number of banks and the scheduler (docs/scale.md).

For each N (simulated banks, ``data.n_banks``) and each scheduler (``compute.scheduler``) it runs,
in a temporary copy of the repository:

* every stage in DAG order as ``dvc repro`` runs it (``python -m pipeline run <stage>``), timing
  each one and sampling the peak memory of its process tree (the stage and its workers; PSS,
  so pages that forked workers share count once);
* optionally the whole ``dvc repro -f`` (``--repro``), the acceptance measure at the default N.

Baseline (named, same process): the ``serial`` scheduler at the same N. It prints, per stage and
in total, seconds, the speed-up ``serial / scheduler``, the peak memory and the growth exponent in N
(slope of log time on log N between the smallest and the largest N), and, for ``--pairwise``,
pairwise Granger for one year of N banks (N = 256 and 1,024) serial vs processes.

    python benchmarks/scale.py                               # N = 16, 64, 256; serial, processes, dask
    python benchmarks/scale.py --n 1024 --stages per-bank    # the per-bank stages at N = 1,024
    python benchmarks/scale.py --n 16 --repro                # the whole dvc repro, each scheduler
    python benchmarks/scale.py --pairwise 256 1024           # pairwise Granger, one year
    python benchmarks/scale.py --n 256 --schedulers processes --set contagion.connectedness.step=50
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PER_BANK = ("params", "ingest", "returns", "covar_dcc", "mes_srisk", "covar_qr", "spillover")


def copy_repository(dst: Path) -> Path:
    """The git-tracked files of the repository at ``dst`` (a fresh git repository, as a user's clone)."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst / rel)
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    return dst


def set_params(root: Path, *, n_banks: int, compute: dict, overrides: list[str] = ()) -> None:
    """``data.n_banks``, the ``compute`` group and ``dotted.key=value`` overrides (YAML values) in ``root/params.yaml``."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in overrides:
        dotted, _, value = item.partition("=")
        *parents, last = dotted.split(".")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    if n_banks != params["data"].get("n_banks", 16):
        params["data"]["n_banks"] = n_banks
    params["compute"] = {**params.get("compute", {}), **compute}
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """(seconds, peak memory (PSS) of the process tree in GiB, return code) of ``cmd``."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        try:
            parent = psutil.Process(proc.pid)
            while proc.poll() is None:
                rss = 0
                for p in [parent, *parent.children(recursive=True)]:
                    try:  # PSS: pages shared by forked workers count once in the sum
                        info = p.memory_full_info()
                        rss += getattr(info, "pss", info.rss)
                    except psutil.Error:
                        pass
                peak[0] = max(peak[0], rss)
                time.sleep(0.1)
        except psutil.Error:
            return

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    watcher.join()
    if proc.returncode != 0:
        print(f"    ! {' '.join(cmd[-3:])} exited {proc.returncode}: {err.strip().splitlines()[-1] if err.strip() else ''}")
    return seconds, peak[0] / 2**30, proc.returncode


def stage_names(root: Path, which: str) -> list[str]:
    stages = list(yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    return [s for s in stages if which == "all" or s in PER_BANK]


def run_stages(root: Path, stages: list[str]) -> dict[str, tuple[float, float, int]]:
    return {s: timed([sys.executable, "-m", "pipeline", "run", s], root) for s in stages}


def compute_of(name: str, workers: int | None) -> dict:
    return {"scheduler": name, "workers": workers, "address": None}


def exponent(times: dict[int, float]) -> float:
    ns = sorted(n for n, t in times.items() if t > 0)
    if len(ns) < 2:
        return math.nan
    return math.log(times[ns[-1]] / times[ns[0]]) / math.log(ns[-1] / ns[0])


def bench_stages(args) -> None:
    results: dict[tuple[int, str], dict[str, tuple[float, float, int]]] = {}
    for n in args.n:
        for name in args.schedulers:
            with tempfile.TemporaryDirectory() as tmp:
                root = copy_repository(Path(tmp))
                set_params(root, n_banks=n, compute=compute_of(name, args.workers), overrides=args.set)
                print(f"N = {n}, {name}: running {args.stages} stages", flush=True)
                results[n, name] = run_stages(root, stage_names(root, args.stages))
    base = args.schedulers[0]
    stages = list(results[args.n[0], base])
    print(f"\nseconds (speed-up against the named baseline '{base}' at the same N) and peak memory (PSS) of the process tree")
    header = f"{'stage':<16}" + "".join(f"{f'N={n} {s}':>26}" for n in args.n for s in args.schedulers)
    print(header)
    for stage in [*stages, "total"]:
        cells = []
        for n in args.n:
            for s in args.schedulers:
                rows = results[n, s]
                if stage == "total":
                    t, m = sum(v[0] for v in rows.values()), max(v[1] for v in rows.values())
                    t0 = sum(v[0] for v in results[n, base].values())
                else:
                    t, m, _ = rows[stage]
                    t0 = results[n, base][stage][0]
                cells.append(f"{t:8.1f}s {t0 / t:4.2f}x {m:5.2f}GiB")
        print(f"{stage:<16}" + "".join(f"{c:>26}" for c in cells))
    if len(args.n) > 1:
        print("\ngrowth exponent in N (log t / log N, smallest to largest N): 1 = linear")
        for s in args.schedulers:
            for stage in [*stages, "total"]:
                ts = {n: (sum(v[0] for v in results[n, s].values()) if stage == "total" else results[n, s][stage][0]) for n in args.n}
                print(f"  {s:<10} {stage:<16} {exponent(ts):5.2f}")


def bench_repro(args) -> None:
    print("\nthe whole dvc repro -f (baseline: serial, same N)")
    times = {}
    for name in args.schedulers:
        with tempfile.TemporaryDirectory() as tmp:
            root = copy_repository(Path(tmp))
            set_params(root, n_banks=args.n[0], compute=compute_of(name, args.workers), overrides=args.set)
            times[name], peak, _ = timed([sys.executable, "-m", "dvc", "repro", "-f"], root)
            print(f"  N={args.n[0]} {name:<10} {times[name]:7.1f}s  {times[args.schedulers[0]] / times[name]:4.2f}x  "
                  f"peak {peak:.2f} GiB", flush=True)


def bench_pairwise(sizes: list[int]) -> None:
    import numpy as np
    import pandas as pd

    from measures.contagion.granger import granger_pvalues
    from pipeline.compute import ComputeConfig, scheduler

    print("\npairwise Granger, one year (250 days), lags by AIC up to 2 (baseline: serial, same N)")
    for n in sizes:
        rng = np.random.default_rng(n)
        frame = pd.DataFrame(rng.standard_normal((250, n)).cumsum(axis=0) * 0.01,
                             columns=[f"b{i:04d}" for i in range(n)])
        times = {}
        for name in ("serial", "processes"):
            with scheduler(ComputeConfig(scheduler=name)) as mapper:
                started = time.perf_counter()
                granger_pvalues(frame, max_lags=2, mode="pairwise", mapper=mapper)
                times[name] = time.perf_counter() - started
        print(f"  N={n:<5} serial {times['serial']:7.1f}s  processes {times['processes']:7.1f}s  "
              f"{times['serial'] / times['processes']:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[16, 64, 256], help="numbers of simulated banks")
    parser.add_argument("--schedulers", nargs="+", default=["serial", "processes", "dask"],
                        help="compute.scheduler values; the first is the baseline")
    parser.add_argument("--workers", type=int, default=None, help="compute.workers (default: every core)")
    parser.add_argument("--stages", choices=["all", "per-bank"], default="all")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a params override, e.g. contagion.connectedness.step=50 (repeatable)")
    parser.add_argument("--repro", action="store_true", help="time the whole dvc repro -f at the first N instead")
    parser.add_argument("--pairwise", type=int, nargs="*", default=None, help="pairwise Granger at these N only")
    args = parser.parse_args()
    if args.pairwise is not None:
        bench_pairwise(args.pairwise or [256, 1024])
    elif args.repro:
        bench_repro(args)
    else:
        bench_stages(args)


if __name__ == "__main__":
    main()
