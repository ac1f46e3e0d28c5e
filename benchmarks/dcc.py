"""DCC benchmark: vectorised correlation log-likelihood vs a plain loop over t, and fit time per bank.

Run from the repository root: ``python benchmarks/dcc.py``. Both implementations evaluate
Engle's (2002) ``L_C(a, b)`` on the same simulated standardised residuals; the script
checks they agree, then prints both times and the ratio (goal >= 20x), the same for the
composite likelihood over all pairs (Engle, Shephard & Sheppard 2008), and the wall time of
a full bivariate DCC-GJR-GARCH fit (two univariate arch fits + the second step) per bank.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measures.dcc import DCCConfig, GarchParams, correlation_loglik, fit_dcc_bivariate, second_moment  # noqa: E402
from measures.dcc import simulate_dcc_garch  # noqa: E402
from dcc_loop import correlation_loglik_loop  # noqa: E402  (benchmarks/dcc_loop.py, beside this script)


def best_of(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def loglik_speed(nobs: int, n: int, rng: np.random.Generator) -> None:
    corr = 0.5 * np.eye(n) + 0.5
    z = rng.standard_normal((nobs, n)) @ np.linalg.cholesky(corr).T
    qbar = second_moment(z)
    fast = correlation_loglik(z, qbar, 0.05, 0.9)
    slow = correlation_loglik_loop(z, qbar, 0.05, 0.9)
    assert abs(fast - slow) < 1e-8, (fast, slow)
    t_fast = best_of(lambda: correlation_loglik(z, qbar, 0.05, 0.9), 20)
    t_slow = best_of(lambda: correlation_loglik_loop(z, qbar, 0.05, 0.9), 3)
    print(
        f"loglik T={nobs} N={n}: vectorised {t_fast * 1e3:8.3f} ms | plain loop {t_slow * 1e3:8.1f} ms"
        f" | ratio {t_slow / t_fast:6.1f}x"
    )


def composite_speed(nobs: int, n: int, rng: np.random.Generator) -> None:
    corr = 0.5 * np.eye(n) + 0.5
    z = rng.standard_normal((nobs, n)) @ np.linalg.cholesky(corr).T
    qbar = second_moment(z)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]

    def loop() -> float:
        return sum(correlation_loglik_loop(z[:, [i, j]], qbar[np.ix_([i, j], [i, j])], 0.05, 0.9) for i, j in pairs)

    fast = correlation_loglik(z, qbar, 0.05, 0.9, likelihood="composite")
    assert abs(fast - loop()) < 1e-8 * len(pairs)
    t_fast = best_of(lambda: correlation_loglik(z, qbar, 0.05, 0.9, likelihood="composite"), 10)
    t_slow = best_of(loop, 1)
    print(
        f"composite loglik T={nobs} N={n} ({len(pairs)} pairs): vectorised {t_fast * 1e3:8.3f} ms"
        f" | plain loop {t_slow * 1e3:8.1f} ms | ratio {t_slow / t_fast:6.1f}x"
    )


def fit_speed(nobs: int, banks: int, rng: np.random.Generator) -> None:
    garch = [GarchParams(omega=2e-6, alpha=0.04, gamma=0.08, beta=0.88)] * 2
    columns = {}
    system = None
    for k in range(banks):
        r, _, _ = simulate_dcc_garch(nobs, garch, 0.05, 0.9, np.array([[1, 0.6], [0.6, 1]]), rng)
        system = r[:, 0] if system is None else system
        columns[f"bank{k:02d}"] = r[:, 1]
    frame = pd.DataFrame(columns)
    start = time.perf_counter()
    results = fit_dcc_bivariate(pd.Series(system, name="system"), frame, config=DCCConfig())
    elapsed = time.perf_counter() - start
    ok = sum(res.status == "ok" for res in results.values())
    print(
        f"bivariate DCC-GJR-GARCH fits: {banks} banks x T={nobs}: {elapsed:.2f} s total,"
        f" {elapsed / banks * 1e3:.0f} ms per bank ({ok}/{banks} ok)"
    )


def main() -> None:
    rng = np.random.default_rng(2024)
    loglik_speed(5000, 2, rng)
    loglik_speed(5000, 5, rng)
    loglik_speed(5000, 20, rng)
    composite_speed(5000, 10, rng)
    fit_speed(4689, 20, rng)


if __name__ == "__main__":
    main()
