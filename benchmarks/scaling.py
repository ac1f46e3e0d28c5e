"""How the per-bank hot paths scale with the number of banks (benchmarks/scaling.py: N = 16, 64, 256, 1024).

On seeded factor-model data (T = 1,000 days, five state variables), times for each N:

* ``qr``: ΔCoVaR by exact quantile regression, full sample — three fits per bank
  (bank at q and at the median, system at q), :func:`measures.quantile_regression`;
* ``dcc``: one bivariate DCC-GARCH per bank with the system, :func:`measures.fit_dcc_bivariate`
  (N ≤ 256: about 0.1 s a bank);
* ``granger``: the Granger p-value matrix (lag order by AIC up to 2), system VAR (N ≤ 256: one
  VAR needs N·p + 1 < T) and pairwise (N ≤ 256: N(N − 1) bivariate VARs);
* ``network``: the maximum-entropy interbank matrix plus one common-shock cascade.

Baseline (named, same process): linear scaling from N = 16, i.e. ``time(16) × N / 16``. The
printed ratio ``time(N) / time(16)`` against ``N / 16`` shows whether a path is linear in N
(per-bank work) or faster-growing (pairs, matrices).

    python benchmarks/scaling.py [--max-n 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measures import (  # noqa: E402
    BankAssetNetwork,
    cascade,
    fit_dcc_bivariate,
    granger_pvalues,
    max_entropy_matrix,
    quantile_regression,
)

T = 1000
LIMITS = {"qr": 1024, "dcc": 256, "granger_system": 256, "granger_pairwise": 256, "network": 1024}


def simulate(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Bank losses (T × n), the system loss and five state variables, from a GARCH-free factor model."""
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((T + 1, 5)).cumsum(axis=0) * 0.01
    vol = 0.01 * np.exp(0.3 * np.sin(np.arange(T) / 60.0))
    factor = vol * rng.standard_t(5, T) / np.sqrt(5 / 3)
    beta = rng.uniform(0.7, 1.3, n)
    idio = 0.012 * rng.standard_t(5, (T, n)) / np.sqrt(5 / 3)
    losses = pd.DataFrame(factor[:, None] * beta + idio, columns=[f"B{i:04d}" for i in range(n)],
                          index=pd.bdate_range("2010-01-04", periods=T))
    return losses, losses.mean(axis=1), states


def time_qr(losses: pd.DataFrame, system: pd.Series, states: np.ndarray) -> float:
    x = np.column_stack([np.ones(T), states[:-1]])
    start = time.perf_counter()
    for bank in losses.columns:
        y = losses[bank].to_numpy()
        quantile_regression(y, x, 0.95)
        quantile_regression(y, x, 0.5)
        quantile_regression(system.to_numpy(), np.column_stack([x, y]), 0.95)
    return time.perf_counter() - start


def time_dcc(losses: pd.DataFrame, system: pd.Series) -> float:
    start = time.perf_counter()
    fit_dcc_bivariate(-system, -losses)
    return time.perf_counter() - start


def time_granger(losses: pd.DataFrame, mode: str) -> float:
    start = time.perf_counter()
    granger_pvalues(losses, max_lags=2, mode=mode)
    return time.perf_counter() - start


def time_network(n: int, seed: int = 11) -> float:
    rng = np.random.default_rng(seed)
    size = np.exp(rng.normal(0.0, 1.5, n)) * 100.0
    assets, liabilities = 0.08 * size * rng.uniform(0.5, 1.5, n), 0.08 * size * rng.uniform(0.5, 1.5, n)
    start = time.perf_counter()
    matrix = max_entropy_matrix(assets, liabilities).matrix
    external = np.column_stack([0.5 * size, 0.3 * size])
    capital = 0.08 * (external.sum(axis=1) + matrix.sum(axis=1))
    net = BankAssetNetwork(external, matrix, capital, other_assets=0.05 * size)
    cascade(net, alpha=0.05, beta=0.3)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=1024)
    args = parser.parse_args()
    sizes = [n for n in (16, 64, 256, 1024) if n <= args.max_n]
    rows = []
    for n in sizes:
        losses, system, states = simulate(n)
        row = {"N": n}
        if n <= LIMITS["qr"]:
            row["qr"] = time_qr(losses, system, states)
        if n <= LIMITS["dcc"]:
            row["dcc"] = time_dcc(losses, system)
        if n <= LIMITS["granger_system"]:
            row["granger_system"] = time_granger(losses, "system")
        if n <= LIMITS["granger_pairwise"]:
            row["granger_pairwise"] = time_granger(losses, "pairwise")
        if n <= LIMITS["network"]:
            row["network"] = time_network(n)
        rows.append(row)
        print(f"N = {n:5d}: " + ", ".join(f"{k} {v:.2f} s" for k, v in row.items() if k != "N"), flush=True)
    table = pd.DataFrame(rows).set_index("N")
    base = table.loc[16]
    print("\nseconds (— = not run at this N; see the module docstring)")
    print(table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="—"))
    print("\nratio time(N) / time(16), against the linear-scaling baseline N / 16")
    ratios = table.div(base)
    ratios.insert(0, "N/16 (linear baseline)", table.index / 16)
    print(ratios.to_string(float_format=lambda v: f"{v:.1f}", na_rep="—"))


if __name__ == "__main__":
    main()
