"""Quantile-regression standard errors: R quantreg summary.rq references, known truth, the bootstrap, bad input."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import measures
from measures.core.quantreg import inference
from measures.core.quantreg.inference import (
    bootstrap_coefficients,
    hall_sheather_bandwidth,
    quantile_regression_se,
    rolling_quantile_regression_se,
)

REF_DIR = Path(__file__).parent / "reference" / "quantreg_se"
METHODS = ("iid", "nid", "ker")
RTOL = 1e-6  # the acceptance tolerance; measured differences are below 1e-12


def _load_extract_module():
    spec = importlib.util.spec_from_file_location("quantreg_se_real_extract", REF_DIR / "real_extract.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((REF_DIR / "reference.json").read_text())


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "synthetic.csv")


def synthetic_design(frame: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n rows: y and [1, x1, x2, x3] (as make_reference.R)."""
    return frame["y"].to_numpy()[:n], np.column_stack([np.ones(n), frame.iloc[:n, 1:].to_numpy()])


def max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def check_case(y: np.ndarray, X: np.ndarray, ref: dict) -> None:
    tau = ref["tau"]
    assert max_rel(measures.quantile_regression(y, X, tau), ref["coef"]) < 1e-9  # the same fit as rq(method="br")
    for method in METHODS:
        if method in ref["errors"]:  # R stops (singular sandwich): so do we, with a message
            with pytest.raises(ValueError, match=f"method='{method}' in the sample: the estimated densities are positive on too few"):
                quantile_regression_se(y, X, tau, method=method)
            continue
        assert max_rel(quantile_regression_se(y, X, tau, method=method), ref["se"][method]) < RTOL, method


# --------------------------------------------------------------------------- R references


def test_bandwidth_matches_r_bandwidth_rq(reference: dict) -> None:
    cases = [*reference["synthetic"].values(), *reference["real"].values()]
    for ref in cases:
        assert hall_sheather_bandwidth(ref["tau"], ref["n"]) == pytest.approx(ref["bandwidth"], rel=1e-13)
        assert inference._inner_bandwidth(ref["tau"], ref["n"]) == pytest.approx(ref["inner_bandwidth"], rel=1e-13)
    # the references exercise summary.rq's halving of the bandwidth (q + bw > 1 or q - bw < 0 at small n)
    halved = [k for k, ref in reference["synthetic"].items() if ref["inner_bandwidth"] < ref["bandwidth"]]
    assert halved == ["n60_q0.05", "n60_q0.99", "n150_q0.99"]


@pytest.mark.parametrize("key", ["n60_q0.05", "n60_q0.5", "n60_q0.9", "n60_q0.99", "n150_q0.05", "n150_q0.5",
                                 "n150_q0.9", "n150_q0.99", "n400_q0.05", "n400_q0.5", "n400_q0.9", "n400_q0.99"])
def test_synthetic_se_match_r_summary_rq(key: str, reference: dict, synthetic: pd.DataFrame) -> None:
    ref = reference["synthetic"][key]
    check_case(*synthetic_design(synthetic, ref["n"]), ref)


def test_r_reference_covers_the_singular_nid_case(reference: dict) -> None:
    """n = 60 at q = 0.99: the fits at q +- bw coincide, every nid density is 0 and R's backsolve stops."""
    assert list(reference["synthetic"]["n60_q0.99"]["errors"]) == ["nid"]


@pytest.fixture(scope="module")
def real_designs(shared_data: Path) -> dict[str, pd.DataFrame]:
    return _load_extract_module().real_designs(shared_data)


@pytest.mark.realdata
def test_real_covar_system_regressions_match_r_summary_rq(reference: dict, real_designs: dict) -> None:
    """us-financials ΔCoVaR system regressions (4 firms, with and without the lagged states, 3 quantiles)."""
    design = _load_extract_module().design
    assert len(reference["real"]) == 24
    for ref in reference["real"].values():
        frame = real_designs[ref["firm"]]
        assert len(frame) == ref["n"]
        check_case(*design(frame, ref["design"]), ref)


# --------------------------------------------------------------------------- known truth


def test_iid_matches_asymptotic_truth_with_known_density() -> None:
    """iid N(0, 1) errors: V = q(1-q) / phi(z_q)^2 (X'X)^{-1}; the mean estimate over 40 samples is within 7 %."""
    n = 2000
    X = np.column_stack([np.ones(n), np.random.default_rng(5).normal(size=(n, 2))])
    for q in (0.5, 0.9):
        truth = np.sqrt(q * (1 - q)) / norm.pdf(norm.ppf(q)) * np.sqrt(np.diag(np.linalg.inv(X.T @ X)))
        ratios = [quantile_regression_se(X @ [1.0, 1.0, -1.0] + np.random.default_rng(100 + s).normal(size=n), X, q,
                                         method="iid") / truth for s in range(40)]
        assert np.abs(np.mean(ratios, axis=0) - 1).max() < 0.07, q


def test_nid_and_ker_match_sandwich_truth_in_heteroskedastic_model() -> None:
    """y = x'b + (x'g) e, e ~ N(0, 1): f_i = phi(z_q) / x_i'g and V = q(1-q) H^{-1} J H^{-1} (Koenker 2005 §3.4).

    Mean over 20 samples of n = 2000: nid within 8 %, ker within 15 % (Powell's kernel is biased by
    about 10 % at this n, as measured).
    """
    n = 2000
    X = np.column_stack([np.ones(n), np.random.default_rng(6).uniform(0, 2, size=(n, 2))])
    scale = X @ [1.0, 0.5, 0.25]
    for q in (0.5, 0.9):
        f = norm.pdf(norm.ppf(q)) / scale
        Hinv = np.linalg.inv((X * f[:, None]).T @ X)
        truth = np.sqrt(np.diag(q * (1 - q) * Hinv @ (X.T @ X) @ Hinv))
        ratios = {m: [] for m in ("nid", "ker")}
        for s in range(20):
            y = X @ [1.0, 1.0, -1.0] + scale * np.random.default_rng(200 + s).normal(size=n)
            for m, out in ratios.items():
                out.append(quantile_regression_se(y, X, q, method=m) / truth)
        assert np.abs(np.mean(ratios["nid"], axis=0) - 1).max() < 0.08, q
        assert np.abs(np.mean(ratios["ker"], axis=0) - 1).max() < 0.15, q


def test_boot_covers_true_coefficient_at_nominal_rate() -> None:
    """500 seeded samples (n = 100, heteroskedastic, q = 0.75), B = 50: b +- 1.645 se covers in 86-94 %."""
    n, q, z = 100, 0.75, norm.ppf(0.95)
    truth = np.array([1 + norm.ppf(q), 1 + 0.5 * norm.ppf(q)])
    covered = []
    for s in range(500):
        rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(s,)))
        x = rng.uniform(0, 2, n)
        X = np.column_stack([np.ones(n), x])
        y = 1 + x + (1 + 0.5 * x) * rng.normal(size=n)
        b = measures.quantile_regression(y, X, q)
        covered.append(np.abs(b - truth) <= z * quantile_regression_se(y, X, q, method="boot", B=50, seed=s))
    rate = np.mean(covered, axis=0)
    assert ((0.86 <= rate) & (rate <= 0.94)).all(), rate


# --------------------------------------------------------------------------- the bootstrap


class _PoolMapper:
    def map(self, fn, items, desc=""):
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as ex:
            return list(ex.map(fn, items))


@pytest.fixture(scope="module")
def boot_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 80
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    return X @ [0.5, 1.0, -1.0] + rng.standard_t(4, n), X


def test_boot_same_under_process_pool_for_any_B_and_seeded(boot_data) -> None:
    y, X = boot_data
    serial = bootstrap_coefficients(y, X, 0.9, B=120, seed=3)
    assert serial.shape == (120, 3)
    assert np.array_equal(serial, bootstrap_coefficients(y, X, 0.9, B=120, seed=3, mapper=_PoolMapper()))
    assert np.array_equal(serial[:30], bootstrap_coefficients(y, X, 0.9, B=30, seed=3))  # row b depends on (seed, b) only
    assert not np.array_equal(serial, bootstrap_coefficients(y, X, 0.9, B=120, seed=4))
    # every row is the exact fit of its resample
    idx = np.random.default_rng(np.random.SeedSequence(3, spawn_key=(77,))).integers(0, len(y), len(y))
    assert np.allclose(serial[77], measures.quantile_regression(y[idx], X[idx], 0.9), rtol=0, atol=1e-12)
    se = quantile_regression_se(y, X, 0.9, method="boot", B=120, seed=3)
    assert np.allclose(se, serial.std(axis=0, ddof=1), rtol=1e-12)  # as summary.rq: sqrt(diag(cov(B)))


def test_coef_argument_is_used_by_iid_and_ker_only(boot_data) -> None:
    y, X = boot_data
    fit = measures.quantile_regression(y, X, 0.5)
    for method in ("iid", "nid", "ker"):
        assert np.array_equal(quantile_regression_se(y, X, 0.5, method=method),
                              quantile_regression_se(y, X, 0.5, method=method, coef=fit))
    other = fit + [0.3, 0.0, 0.0]
    assert not np.allclose(quantile_regression_se(y, X, 0.5, method="iid", coef=other), quantile_regression_se(y, X, 0.5, method="iid"))
    assert not np.allclose(quantile_regression_se(y, X, 0.5, method="ker", coef=other), quantile_regression_se(y, X, 0.5, method="ker"))
    assert np.array_equal(quantile_regression_se(y, X, 0.5, method="nid", coef=other), quantile_regression_se(y, X, 0.5, method="nid"))


# --------------------------------------------------------------------------- rolling windows


@pytest.mark.parametrize("method", METHODS)
def test_rolling_se_equal_the_single_window_se(method: str, synthetic: pd.DataFrame) -> None:
    """Row k of the batched rolling computation is quantile_regression_se on window k (so equals R)."""
    y, X = synthetic_design(synthetic, 400)
    window, step, q = 120, 7, 0.9
    rolling = rolling_quantile_regression_se(y, X, q, window, step, method=method)
    single = np.array([quantile_regression_se(y[s:s + window], X[s:s + window], q, method=method)
                       for s in range(0, 400 - window + 1, step)])
    assert rolling.shape == single.shape == (41, 4)
    assert max_rel(rolling, single) < 1e-9
    if method != "nid":  # the rolling coefficients passed in give the same numbers
        coef = measures.rolling_quantile_regression(y, X, q, window, step)
        assert np.array_equal(rolling, rolling_quantile_regression_se(y, X, q, window, step, method=method, coef=coef))


def test_rolling_boot_seeded_per_window_and_same_under_process_pool(synthetic: pd.DataFrame) -> None:
    y, X = synthetic_design(synthetic, 200)
    window, step, q, B = 80, 40, 0.5, 20
    serial = rolling_quantile_regression_se(y, X, q, window, step, method="boot", B=B, seed=5)
    assert serial.shape == (4, 4)
    assert np.array_equal(serial, rolling_quantile_regression_se(y, X, q, window, step, method="boot", B=B, seed=5,
                                                                 mapper=_PoolMapper()))
    k, s = 2, 80  # window 2: replication b resamples with SeedSequence(seed, spawn_key=(k, b))
    draws = []
    for b in range(B):
        idx = s + np.random.default_rng(np.random.SeedSequence(5, spawn_key=(k, b))).integers(0, window, window)
        draws.append(measures.quantile_regression(y[idx], X[idx], q))
    assert np.allclose(serial[k], np.std(draws, axis=0, ddof=1), rtol=1e-10)


def test_rolling_errors_nan_leaves_unestimable_windows_nan(synthetic: pd.DataFrame) -> None:
    """nid at q = 0.99 on windows of 120 rows: windows whose fits at q +- bw coincide are NaN, the others as strict."""
    y, X = synthetic_design(synthetic, 400)
    window, step = 120, 20
    se = rolling_quantile_regression_se(y, X, 0.99, window, step, method="nid", errors="nan")
    failed = np.isnan(se).all(axis=1)
    assert failed.any() and not failed.all() and np.isfinite(se[~failed]).all()
    for k in np.flatnonzero(~failed):
        s = k * step
        assert max_rel(se[k], quantile_regression_se(y[s:s + window], X[s:s + window], 0.99, method="nid")) < 1e-9
    k = int(np.flatnonzero(failed)[0])
    with pytest.raises(ValueError, match=rf"method='nid' in window {k} \(rows {k * step}..{k * step + window - 1}\)"):
        rolling_quantile_regression_se(y, X, 0.99, window, step, method="nid")


# --------------------------------------------------------------------------- bad input


def test_bad_input_method(boot_data) -> None:
    with pytest.raises(ValueError, match=r"method='hc1' is not allowed; allowed values: iid, nid, ker, boot"):
        quantile_regression_se(*boot_data, 0.5, method="hc1")


@pytest.mark.parametrize("q", [0.0, 1.0, 1.5, -0.1])
def test_bad_input_quantile_outside_unit_interval(q, boot_data) -> None:
    with pytest.raises(ValueError, match=r"^q=.* is out of range; allowed: \(0\.0, 1\.0\)"):
        quantile_regression_se(*boot_data, q)


def test_bad_input_shapes(boot_data) -> None:
    y, X = boot_data
    with pytest.raises(ValueError, match=r"y has 79 rows but X has 80 rows"):
        quantile_regression_se(y[:-1], X, 0.5)
    with pytest.raises(ValueError, match=r"X must be 2-dimensional.*pass X\[:, None\]"):
        quantile_regression_se(y, X[:, 1], 0.5)
    with pytest.raises(ValueError, match=r"coef has shape \(2,\); expected \(3,\) for X with 3 columns"):
        quantile_regression_se(y, X, 0.5, method="iid", coef=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"X has a non-finite value \(nan\) at row 4, column 0"):
        quantile_regression_se(y, np.where(np.arange(80)[:, None] == 4, np.nan, X), 0.5)


def test_bad_input_bootstrap_replications_and_seed(boot_data) -> None:
    with pytest.raises(ValueError, match=r"B=1 must be an integer >= 2"):
        quantile_regression_se(*boot_data, 0.5, method="boot", B=1)
    with pytest.raises(ValueError, match=r"B=2.5 must be an integer >= 2"):
        quantile_regression_se(*boot_data, 0.5, method="boot", B=2.5)
    with pytest.raises(ValueError, match=r"seed=-1 must be a non-negative integer"):
        quantile_regression_se(*boot_data, 0.5, method="boot", seed=-1)


def test_bad_input_iid_sample_too_small_for_the_sparsity() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(8), rng.normal(size=(8, 4))])
    with pytest.raises(ValueError, match=r"method='iid' in the sample: the sparsity estimate needs h \+ 1 = 7 residuals besides the 5 zero residuals, but n = 8"):
        quantile_regression_se(rng.normal(size=8), X, 0.5, method="iid")


def test_bad_input_rank_deficient_bootstrap_resample() -> None:
    rng = np.random.default_rng(1)
    n = 30
    X = np.column_stack([np.ones(n), rng.normal(size=n), np.arange(n) == 0])  # a dummy of one row
    with pytest.raises(ValueError, match=r"method='boot': bootstrap replication \d+ \(seed 0\) resampled a rank-deficient X"):
        quantile_regression_se(rng.normal(size=n), X, 0.5, method="boot", B=20)


def test_bad_input_rank_deficient_or_too_few_rows(boot_data) -> None:
    y, X = boot_data
    with pytest.raises(ValueError, match=r"X is rank-deficient in the sample"):
        quantile_regression_se(y, np.column_stack([X, X[:, 1]]), 0.5)
    with pytest.raises(ValueError, match=r"the sample has 2 rows but X has p=3 columns"):
        quantile_regression_se(y[:2], X[:2], 0.5)
    with pytest.raises(ValueError, match=r"method='ker' needs more rows than columns: n = 3, p = 3"):
        quantile_regression_se(y[:3], X[:3], 0.5, method="ker")


def test_bad_input_rolling_names_the_window(synthetic: pd.DataFrame) -> None:
    y, X = synthetic_design(synthetic, 200)
    with pytest.raises(ValueError, match=r"coef has shape \(3, 4\); expected \(4, 4\) for X with 4 columns"):
        rolling_quantile_regression_se(y, X, 0.5, 80, 40, method="ker", coef=np.zeros((3, 4)))
    flat = X.copy()
    flat[120:, 3] = 1.0  # x3 constant from row 120 on: window 3 (rows 120..199) is rank-deficient
    with pytest.raises(ValueError, match=r"X is rank-deficient in window 3 \(rows 120..199\)"):
        rolling_quantile_regression_se(y, flat, 0.5, 80, 40, method="boot", B=10)
    with pytest.raises(ValueError, match=r"errors='ignore' is not allowed; allowed values: raise, nan"):
        rolling_quantile_regression_se(y, X, 0.5, 80, 40, errors="ignore")
    with pytest.raises(ValueError, match=r"window=3 has 3 rows but X has p=4 columns"):
        rolling_quantile_regression_se(y, X, 0.5, 3, 1)
    with pytest.raises(ValueError, match=r"method='nid' in window \d+ \(rows \d+..\d+\): the estimated densities"):
        rolling_quantile_regression_se(*synthetic_design(synthetic, 120), 0.99, 60, 60, method="nid")


def test_bad_input_bandwidth() -> None:
    with pytest.raises(ValueError, match=r"^q=1.2 is out of range"):
        hall_sheather_bandwidth(1.2, 100)
    with pytest.raises(ValueError, match=r"n=0 must be a positive integer"):
        hall_sheather_bandwidth(0.5, 0)
