"""Rolling exact quantile regression vs a statsmodels QuantReg loop and a scipy HiGHS loop.

Same data, one process: 3,000 rolling windows of n = 120 rows, p = 7 regressors (a constant and
six standard normals; heteroskedastic Student-t errors), q = 0.95.

The project's batched solver runs on all 3,000 windows (best of ``--repeat`` runs). The baselines
are slow, so by default they run on an evenly spaced subset of windows (``--subset``) and their
time is extrapolated per window to 3,000 (the output says so); ``--full`` runs them on all.
The script also prints the largest check-loss gap to HiGHS (negative: the project is lower).

Run: ``python benchmarks/quantreg.py [--subset 300] [--repeat 5] [--full]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measures.core.quantreg import check_loss, solve_rolling_quantile_regression  # noqa: E402

N_WINDOWS, WINDOW, P, Q, SEED = 3000, 120, 7, 0.95, 20260101


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    n = N_WINDOWS + WINDOW - 1
    Z = rng.standard_normal((n, P - 1))
    X = np.column_stack([np.ones(n), Z])
    beta = np.linspace(-1.0, 1.0, P)
    y = X @ beta + (1.0 + 0.5 * np.abs(Z[:, 0])) * rng.standard_t(4, n)
    return y, X


def highs_fit(y: np.ndarray, X: np.ndarray, q: float) -> np.ndarray:
    n, p = X.shape
    eye = sp.identity(n, format="csc")
    res = linprog(
        np.concatenate([np.zeros(p), np.full(n, q), np.full(n, 1 - q)]),
        A_eq=sp.hstack([sp.csc_matrix(X), eye, -eye], format="csc"),
        b_eq=y,
        bounds=[(None, None)] * p + [(0, None)] * (2 * n),
        method="highs",
    )
    return res.x[:p]


def statsmodels_fit(y: np.ndarray, X: np.ndarray, q: float) -> np.ndarray:
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IterationLimitWarning / ConvergenceWarning of the IRLS baseline
        return np.asarray(sm.QuantReg(y, X).fit(q=q).params)


def time_loop(fit, y, X, windows) -> tuple[float, list[np.ndarray]]:
    out = []
    t0 = time.perf_counter()
    for k in windows:
        out.append(fit(y[k : k + WINDOW], X[k : k + WINDOW], Q))
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=300, help="baseline windows timed (extrapolated to 3,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the project's solver (best is reported)")
    parser.add_argument("--full", action="store_true", help="run the baselines on all 3,000 windows")
    args = parser.parse_args()

    y, X = make_data()
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        sol = solve_rolling_quantile_regression(y, X, Q, WINDOW, 1)
        times.append(time.perf_counter() - t0)
    t_project = min(times)
    assert len(sol) == N_WINDOWS and sol.certified.all()

    count = N_WINDOWS if args.full else min(args.subset, N_WINDOWS)
    windows = np.unique(np.linspace(0, N_WINDOWS - 1, count).round().astype(int))
    t_highs, b_highs = time_loop(highs_fit, y, X, windows)
    t_sm, b_sm = time_loop(statsmodels_fit, y, X, windows)
    scale = N_WINDOWS / windows.size
    t_highs_all, t_sm_all = t_highs * scale, t_sm * scale

    gap_highs = []
    gap_sm = []
    for k, bh, bs in zip(windows, b_highs, b_sm, strict=True):
        yk, Xk = y[k : k + WINDOW], X[k : k + WINDOW]
        lh, ls = check_loss(yk, Xk, bh, Q), check_loss(yk, Xk, bs, Q)
        gap_highs.append((sol.check_loss[k] - lh) / lh)
        gap_sm.append((sol.check_loss[k] - ls) / ls)
    coef_sm = max(np.abs(sol.coef[k] - bs).max() for k, bs in zip(windows, b_sm, strict=True))

    note = "measured on all windows" if args.full else f"measured on {windows.size} windows, extrapolated x{scale:.1f}"
    print(f"rolling quantile regression: {N_WINDOWS} windows, n={WINDOW}, p={P}, q={Q}")
    print(f"  project (batched exact simplex, best of {args.repeat}): {t_project:8.3f} s "
          f"({1e6 * t_project / N_WINDOWS:.1f} us/window, mean pivots {sol.pivots.mean():.2f})")
    print(f"  scipy HiGHS loop     : {t_highs_all:8.3f} s ({note})  ratio {t_highs_all / t_project:7.1f}x")
    print(f"  statsmodels QuantReg : {t_sm_all:8.3f} s ({note})  ratio {t_sm_all / t_project:7.1f}x")
    print(f"  check-loss gap vs HiGHS      (project - HiGHS)/HiGHS: max {max(gap_highs):+.3e}, min {min(gap_highs):+.3e}")
    print(f"  check-loss gap vs statsmodels (project - sm)/sm     : max {max(gap_sm):+.3e}, min {min(gap_sm):+.3e}; "
          f"max |coef diff| {coef_sm:.3f}")
    print(f"  every window certified optimal (KKT): {bool(sol.certified.all())}; unique optima: {sol.unique.mean():.1%}")


if __name__ == "__main__":
    main()
