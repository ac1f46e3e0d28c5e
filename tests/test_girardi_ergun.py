"""Girardi–Ergün ΔCoVaR under a Gaussian DCC (conditioning on the bank at or beyond its VaR).

Known truth: brute-force Monte Carlo conditional quantiles and tail means of a bivariate normal
with known correlation. Reference: scipy.stats.multivariate_normal.cdf (Genz's algorithm) for
the bivariate normal probabilities behind the roots.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import multivariate_normal, norm

import measures.systemic.covar_dcc  # noqa: F401  (the module: the package attribute is the function)
from measures.core.config import ConfigError
from measures.covar_qr import CoVaRConfig
from measures.dcc import CovarDCCParams

cd = sys.modules["measures.systemic.covar_dcc"]
Q = 0.95
Z = float(ndtri(Q))


def _mvn_upper(a: float, b: float, rho: float) -> float:
    """P(Z1 >= a, Z2 >= b) = Phi_2(-a, -b; rho) by scipy (Genz), tightly."""
    return float(multivariate_normal.cdf([-a, -b], mean=[0.0, 0.0], cov=[[1.0, rho], [rho, 1.0]], abseps=1e-13,
                                         releps=1e-13))


@pytest.mark.parametrize("a,b,rho", [(1.6, 1.64, 0.5), (-0.3, 1.2, -0.7), (0.0, 0.5, 0.3), (0.5, 0.0, -0.2),
                                     (2.5, 1.64, 0.95), (0.4, -1.0, 0.99), (3.0, 2.0, 0.0), (-2.0, -1.5, 0.8)])
def test_bivariate_upper_equals_scipy_multivariate_normal(a, b, rho):
    assert cd.bivariate_normal_upper(a, b, rho) == pytest.approx(_mvn_upper(a, b, rho), rel=1e-9, abs=1e-13)


def test_roots_solve_the_defining_equations_by_scipy():
    rho = np.array([-0.5, 0.0, 0.3, 0.7, 0.95])
    out = cd.conditional_measures_dcc(rho, np.ones_like(rho), q=Q, conditioning="at_or_below")
    c_b = out["covar"] - out["delta_covar"]
    band = (1 - Q) * (2 * norm.cdf(1.0) - 1)
    for r, c, cb in zip(rho, out["covar"], c_b):
        assert _mvn_upper(c, Z, r) == pytest.approx((1 - Q) ** 2, rel=1e-8)
        assert _mvn_upper(cb, -1.0, r) - _mvn_upper(cb, 1.0, r) == pytest.approx(band, rel=1e-8)


def test_independence_gives_the_marginal_quantile_and_no_contribution():
    out = cd.conditional_measures_dcc(np.zeros(3), np.array([0.01, 0.02, 0.03]), q=Q, conditioning="at_or_below")
    np.testing.assert_allclose(out["covar"], Z * np.array([0.01, 0.02, 0.03]), rtol=1e-12)
    np.testing.assert_allclose(out["coes"], norm.pdf(Z) / (1 - Q) * np.array([0.01, 0.02, 0.03]), rtol=1e-12)
    np.testing.assert_allclose(out["delta_covar"], 0.0, atol=1e-14)
    np.testing.assert_allclose(out["delta_coes"], 0.0, atol=1e-14)


def test_covar_increases_with_the_correlation():
    """Girardi–Ergün's point: CoVaR^<= is monotone in the dependence (the '=' CoVaR is not)."""
    rho = np.linspace(-0.9, 0.99, 200)
    ge = cd.conditional_measures_dcc(rho, np.ones_like(rho), q=Q, conditioning="at_or_below")
    ab = cd.conditional_measures_dcc(rho, np.ones_like(rho), q=Q, conditioning="equal")
    assert (np.diff(ge["covar"]) > 0).all() and (np.diff(ge["coes"]) > 0).all()
    assert (np.diff(ab["covar"]) < 0).any()


@pytest.fixture(scope="module")
def draws():
    """Four million draws of (X_sys, X_i), correlation 0.6, sigma_sys 0.02, sigma_i 0.03 (losses)."""
    rng = np.random.default_rng(20130801)
    rho, s_sys, s_i, n = 0.6, 0.02, 0.03, 4_000_000
    zi = rng.standard_normal(n)
    zs = rho * zi + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return rho, s_sys, s_i, s_sys * zs, s_i * zi


def _tail(x: np.ndarray) -> tuple[float, float]:
    """The Q-quantile of ``x`` and the mean beyond it."""
    v = np.quantile(x, Q)
    return v, x[x >= v].mean()


def test_known_truth_monte_carlo_at_or_below(draws):
    rho, s_sys, s_i, xs, xi = draws
    out = cd.conditional_measures_dcc(np.array([rho]), np.array([s_sys]), q=Q, conditioning="at_or_below")
    covar, coes = _tail(xs[xi >= Z * s_i])  # the bank at or beyond its VaR: 200,000 draws
    covar_b, coes_b = _tail(xs[np.abs(xi) <= s_i])  # the benchmark: a one-standard-deviation event
    assert out["covar"][0] == pytest.approx(covar, rel=0.01)
    assert out["coes"][0] == pytest.approx(coes, rel=0.01)
    assert out["delta_covar"][0] == pytest.approx(covar - covar_b, rel=0.02)
    assert out["delta_coes"][0] == pytest.approx(coes - coes_b, rel=0.02)


def test_known_truth_monte_carlo_equal(draws):
    """The bank at its VaR (a thin band around it) and at its median: CoVaR, CoES and ΔCoES = ΔCoVaR."""
    rho, s_sys, s_i, xs, xi = draws
    out = cd.conditional_measures_dcc(np.array([rho]), np.array([s_sys]), q=Q, conditioning="equal")
    covar, coes = _tail(xs[np.abs(xi - Z * s_i) <= 0.01 * s_i])
    covar_m, coes_m = _tail(xs[np.abs(xi) <= 0.01 * s_i])
    assert out["covar"][0] == pytest.approx(covar, rel=0.02)
    assert out["coes"][0] == pytest.approx(coes, rel=0.02)
    assert out["delta_coes"][0] == pytest.approx(coes - coes_m, rel=0.05)
    assert out["delta_coes"][0] == out["delta_covar"][0] == pytest.approx(Z * rho * s_sys, rel=1e-15)


def test_values_are_row_wise_so_real_time_paths_stay_causal():
    """A value dated t depends on that row's ρ and σ_sys only: a prefix gives the same bits (NaN rows stay NaN)."""
    rng = np.random.default_rng(3)
    rho, sig = rng.uniform(-0.3, 0.97, 500), rng.uniform(0.005, 0.04, 500)
    rho[:40] = np.nan  # rows before a real-time fit's first value
    full = cd.conditional_measures_dcc(rho, sig, conditioning="at_or_below")
    part = cd.conditional_measures_dcc(rho[:300], sig[:300], conditioning="at_or_below")
    for name in full:
        assert np.array_equal(full[name][:300], part[name], equal_nan=True)
        assert np.isnan(full[name][:40]).all() and np.isfinite(full[name][40:]).all()


def test_bad_input_covar_dcc_conditioning_names_the_allowed_values():
    with pytest.raises(ConfigError, match=r"conditioning='below' is not allowed; allowed values: 'equal', 'at_or_below'"):
        CovarDCCParams(conditioning="below")
    assert CovarDCCParams(conditioning="at_or_below").for_realtime().conditioning == "at_or_below"


def test_bad_input_covar_qr_refuses_at_or_below_and_says_where_it_is():
    with pytest.raises(ConfigError, match=r"conditioning='at_or_below' is not allowed; allowed values: 'equal'.*"
                                          r"measures\.covar_dcc\.conditioning: at_or_below"):
        CoVaRConfig(conditioning="at_or_below")


def test_bad_input_conditional_measures_option_and_correlation():
    with pytest.raises(ConfigError, match="conditioning='le' is not allowed"):
        cd.conditional_measures_dcc([0.5], [0.01], conditioning="le")
    with pytest.raises(ValueError, match=r"rho must lie in \[-1, 1\]; rho=1.5 at position 1"):
        cd.conditional_measures_dcc([0.5, 1.5], [0.01, 0.01], conditioning="at_or_below")


# ----------------------------------------------------------------------------- the stages

def _tiny():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("tiny_dcc_ge", Path(__file__).parent / "fixtures" / "covar_dcc" / "tiny.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stage_covar_dcc_at_or_below_changes_the_measures_only(tmp_path):
    from conftest import run_stage

    from pipeline.io import read_parquet

    tiny = _tiny()
    frames = {}
    for conditioning in ("equal", "at_or_below"):
        root = tiny.write_interim(tmp_path / conditioning)
        run_stage(root, "covar_dcc", **tiny.overrides(covar={"conditioning": conditioning}))
        frames[conditioning] = read_parquet(root / "data" / "processed" / "measures" / "covar_dcc.parquet")
    eq, ge = frames["equal"], frames["at_or_below"]
    fitted = ["bank_id", "date", "sigma_bank", "sigma_sys", "rho", "status"]
    assert eq[fitted].equals(ge[fitted])
    want = cd.conditional_measures_dcc(ge["rho"], ge["sigma_sys"], q=0.95, conditioning="at_or_below")
    for name, values in want.items():
        np.testing.assert_array_equal(ge[name], values)
    assert (ge["delta_covar"] > 0).all() and not np.allclose(ge["delta_covar"], eq["delta_covar"])


@pytest.mark.parametrize(("stage", "group", "value", "match"), [
    ("covar_dcc", "measures.covar_dcc", "below",
     r"^measures.covar_dcc: conditioning='below' is not allowed; allowed values: 'equal', 'at_or_below'"),
    ("covar_qr", "measures.covar_qr", "at_or_below",
     r"^measures.covar_qr: conditioning='at_or_below' is not allowed; allowed values: 'equal'"),
])
def test_bad_input_stage_conditioning_carries_the_group_prefix(stage_root, stage, group, value, match):
    from conftest import run_stage

    with pytest.raises(ConfigError, match=match):
        run_stage(stage_root, stage, **{group: {"conditioning": value}})
