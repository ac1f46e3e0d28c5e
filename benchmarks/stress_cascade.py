"""Time the full 50 × 50 (α, β) common-shock grid on the 263-bank cross-section (target: < 30 s).

Project code: :func:`measures.stress.cascade.cascade` on one validated network per grid point
(what the ``stress_cascade`` stage runs), recovery rates warm-started round to round.
Baseline: an independent textbook implementation in the same process on the same network —
every round recomputes prices and solves the recovery rates exactly by Eisenberg & Noe's
fictitious-default algorithm (a dense linear solve on the failed set per pass). Both must give
the same failed sets at every grid point.

    python benchmarks/stress_cascade.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measures.stress.cascade import cascade  # noqa: E402
from pipeline.simulator.network_banks import simulate_network_banks  # noqa: E402
from measures.stress.cascade_study import CascadeParams, build_network, estimate_interbank_matrix  # noqa: E402


def baseline_cascade(net, alpha: float, beta: float) -> np.ndarray:
    """Failed set at the fixed point, recovery by fictitious default (pari passu), recomputed each round."""
    q, x, o, capital = net.external_assets, net.interbank, net.other_assets, net.capital
    d = x.sum(axis=0) + net.other_liabilities
    size = net.market_size
    failed = np.zeros(net.n_banks, dtype=bool)
    while True:
        drop = beta * q[failed].sum(axis=0) / size
        prices = (1 - alpha) * (1 - drop)
        r = np.ones(net.n_banks)
        if failed.any():
            resources = q @ prices + o
            paying = failed.copy()  # banks assumed to pay less than in full
            while True:
                idx = np.flatnonzero(paying)
                r = np.ones(net.n_banks)
                if idx.size:
                    a = np.diag(d[idx]) - x[np.ix_(idx, idx)]
                    b = resources[idx] + x[np.ix_(idx, ~paying)].sum(axis=1)
                    r[idx] = np.clip(np.linalg.solve(a, b), 0.0, None)
                full = paying & (r >= 1.0)
                if not full.any():
                    break
                paying &= ~full
            r = np.minimum(r, 1.0)
        equity = capital - (q * alpha).sum(axis=1) - (q * ((1 - alpha) * drop)).sum(axis=1) - x @ (1 - r)
        new = (equity < net.threshold) & ~failed
        if not new.any():
            return failed
        failed |= new


def main() -> None:
    cfg = CascadeParams()
    frame = simulate_network_banks(seed=cfg.seed)
    net, _ = build_network(frame, estimate_interbank_matrix(frame, cfg).matrix, cfg.threshold, cfg.market_depth)
    alphas, betas = np.linspace(0.0, 0.15, 50), np.linspace(0.0, 1.0, 50)

    t0 = time.perf_counter()
    ours = np.array([[cascade(net, alpha=a, beta=b).failed for b in betas] for a in alphas])
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    base = np.array([[baseline_cascade(net, a, b) for b in betas] for a in alphas])
    t_base = time.perf_counter() - t0

    mismatches = int((ours != base).any(axis=2).sum())
    print(f"263 banks, 50 x 50 (alpha, beta) grid, {int(ours.any(axis=2).sum())} grid points with failures")
    print(f"project cascade (warm-started recovery): {t_ours:.2f} s   (target: < 30 s)")
    print(f"baseline (fictitious default, dense solves): {t_base:.2f} s")
    print(f"ratio baseline / project: {t_base / t_ours:.2f}")
    print(f"grid points where the failed sets differ: {mismatches}")


if __name__ == "__main__":
    main()
