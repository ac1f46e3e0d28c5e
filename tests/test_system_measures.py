"""Absorption Ratio, Turbulence and CATFIN: known truths on simulated data, references (numpy / scipy),
a process-pool mapper equal to serial, the system_measures stage (bad input, look-ahead) and, on the
us-financials toolbox workbook, the rise of all three in 2008."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.spatial.distance import mahalanobis

from conftest import assert_not_estimable, run_stage, us_financials_data
from measures import absorption_ratio, catfin, system_measures, turbulence
from measures.core.config import ConfigError
from measures.systemic.market import (
    SystemMeasuresConfig,
    gpd_var,
    skewt_fit,
    skewt_logpdf,
    skewt_ppf,
    skewt_var,
)
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, write_parquet
from pool_mapper import PoolMapper


def _frame(x: np.ndarray, start: str = "2000-01-03") -> pd.DataFrame:
    return pd.DataFrame(x, index=pd.bdate_range(start, periods=len(x), name="date"),
                        columns=[f"B{i:02d}" for i in range(x.shape[1])])


@pytest.fixture(scope="module")
def one_factor() -> pd.DataFrame:
    """r_i = f + e_i, var f = var e_i = 1, N = 10: Σ = 11' + I, λ_1 = N + 1 = 11, the others 1."""
    rng = np.random.default_rng(7)
    t, n = 3000, 10
    return _frame(rng.standard_normal((t, 1)) + rng.standard_normal((t, n)))


def test_absorption_ratio_of_a_one_factor_model_is_its_variance_share(one_factor):
    n = one_factor.shape[1]
    one = absorption_ratio(one_factor, n_components=1, window=1000)
    assert one["value"].mean() == pytest.approx((n + 1) / (2 * n), abs=0.01)  # 11 / 20
    default = absorption_ratio(one_factor, window=1000)  # n = ceil(10 / 5) = 2: (11 + 1) / 20
    assert default["value"].mean() == pytest.approx(12 / 20, abs=0.015)
    assert (default["n_banks"] == n).all() and len(default) == len(one_factor) - 999
    assert default["date"].iloc[0] == one_factor.index[999]


def test_absorption_ratio_equals_numpy_on_a_window_equal_and_ewma():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 11)) @ rng.standard_normal((11, 11))
    frame = _frame(x)
    eig = np.sort(np.linalg.eigvalsh(np.cov(x[-40:], rowvar=False)))[::-1]
    out = absorption_ratio(frame, window=40)
    assert out["value"].iloc[-1] == pytest.approx(eig[:3].sum() / eig.sum(), rel=1e-12)  # ceil(11 / 5) = 3
    w = 0.5 ** (np.arange(39, -1, -1) / 10.0)
    cov = np.cov(x[-40:], rowvar=False, aweights=w)
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    ewma = absorption_ratio(frame, n_components=2, window=40, halflife=10.0)
    assert ewma["value"].iloc[-1] == pytest.approx(eig[:2].sum() / eig.sum(), rel=1e-12)


def test_turbulence_is_hotelling_distributed_under_iid_normal():
    rng = np.random.default_rng(3)
    n, w = 5, 500
    frame = _frame(rng.standard_normal((6000, n)))
    d = turbulence(frame, window=w)["value"].to_numpy()
    exact_mean = (w + 1) * (w - 1) * n / (w * (w - n - 2))  # ≈ N = E χ²(N)
    assert exact_mean == pytest.approx(n, rel=0.02)
    assert d.mean() == pytest.approx(exact_mean, abs=4 * math.sqrt(2 * n / len(d)) * 3)  # overlapping windows: x3
    sub = d[::50] * w / (w + 1) * (w - n) / ((w - 1) * n)  # ~ F(N, W - N), nearly independent draws
    assert stats.kstest(sub, stats.f(n, w - n).cdf).pvalue > 0.001


def test_turbulence_equals_scipy_mahalanobis_on_one_day():
    rng = np.random.default_rng(4)
    frame = _frame(rng.standard_normal((31, 3)))
    hist = frame.to_numpy()[:30]
    vi = np.linalg.inv(np.cov(hist, rowvar=False))
    ref = mahalanobis(frame.to_numpy()[30], hist.mean(axis=0), vi) ** 2
    out = turbulence(frame, window=30)
    assert len(out) == 1 and out["value"].iloc[0] == pytest.approx(ref, rel=1e-10)


def test_windows_use_the_banks_observed_on_every_row():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((80, 4))
    x[10, 0] = np.nan
    out = absorption_ratio(_frame(x), window=30)
    assert out.loc[out.date <= _frame(x).index[39], "n_banks"].eq(3).all()
    assert out["n_banks"].iloc[-1] == 4


def test_catfin_nonparametric_is_the_empirical_quantile_hand_case():
    # one month of 21 days x 10 banks: the pooled returns are -1.00, -0.99, ..., 1.09 (210 values)
    x = np.linspace(-1.0, 1.09, 210).reshape(21, 10)
    frame = _frame(x, start="2001-01-01")
    assert frame.index[-1].month == 1
    out = catfin(frame, q=0.01)
    assert len(out) == 1 and out["n_obs"].iloc[0] == 210
    assert out["var_np"].iloc[0] == pytest.approx(-np.quantile(x, 0.01), rel=1e-12)
    assert out["var_np"].iloc[0] == pytest.approx(1.0 - 0.01 * 209 * 0.01, rel=1e-12)  # linear interpolation
    row = out.iloc[0]
    assert row["catfin"] == pytest.approx((row["var_np"] + row["var_gpd"] + row["var_skewt"]) / 3, rel=1e-12)


def test_gpd_var_equals_scipy_genpareto_fit():
    rng = np.random.default_rng(6)
    x = stats.t.rvs(4, size=3000, random_state=rng) * 0.02
    loss = -x
    u = np.quantile(loss, 0.9)
    excess = loss[loss > u] - u
    xi, _, beta = stats.genpareto.fit(excess, floc=0)
    ref = u + beta / xi * ((0.01 * loss.size / excess.size) ** (-xi) - 1)
    assert gpd_var(x, 0.01, 0.10) == pytest.approx(ref, rel=1e-4)


@pytest.mark.parametrize(("eta", "lam"), [(5.0, -0.3), (8.0, 0.4)])
def test_skewed_t_quantile_density_and_fit(eta, lam):
    pdf = lambda v: float(np.exp(skewt_logpdf(np.array(v), eta, lam)))  # noqa: E731
    for p in (0.01, 0.3, 0.8):
        assert integrate.quad(pdf, -np.inf, float(skewt_ppf(p, eta, lam)))[0] == pytest.approx(p, abs=1e-8)
    assert integrate.quad(lambda v: v * pdf(v), -np.inf, np.inf)[0] == pytest.approx(0.0, abs=1e-8)
    assert integrate.quad(lambda v: v * v * pdf(v), -np.inf, np.inf)[0] == pytest.approx(1.0, abs=1e-8)
    rng = np.random.default_rng(8)
    draws = 0.001 + 0.02 * skewt_ppf(rng.uniform(size=20_000), eta, lam)
    mu, sigma, eta_hat, lam_hat = skewt_fit(draws)
    assert (mu, sigma, lam_hat) == pytest.approx((0.001, 0.02, lam), abs=0.03)
    assert eta_hat == pytest.approx(eta, rel=0.25)
    assert skewt_var(draws, 0.01) == pytest.approx(-(0.001 + 0.02 * skewt_ppf(0.01, eta, lam)), rel=0.05)


def test_catfin_monthly_sample_is_the_cross_section_of_month_returns():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((45, 150)) * 0.01
    frame = _frame(x, start="2001-01-01")
    out = catfin(frame, sample="monthly", min_obs=100)
    jan = frame.loc["2001-01"].sum()
    assert out["n_obs"].iloc[0] == 150 and out["var_np"].iloc[0] == pytest.approx(-np.quantile(jan, 0.01), rel=1e-12)


def test_process_pool_equals_serial(one_factor):
    small = one_factor.iloc[:700] * 0.01
    config = SystemMeasuresConfig(ar_window=300, turbulence_window=100)
    serial = system_measures(small, config)
    pool = PoolMapper()
    try:
        assert system_measures(small, config, mapper=pool).equals(serial)
    finally:
        pool.close()


def test_bad_input_params_and_frames():
    with pytest.raises(ConfigError, match=r"measures.system: ar_window=1 is out of range"):
        SystemMeasuresConfig.from_mapping({"ar_window": 1}, where="measures.system")
    with pytest.raises(ConfigError, match=r"measures.system.catfin: sample='weekly' is not allowed"):
        SystemMeasuresConfig.from_mapping({"catfin": {"sample": "weekly"}}, where="measures.system")
    with pytest.raises(ValueError, match="DatetimeIndex"):
        turbulence(pd.DataFrame(np.zeros((5, 2))))


# ------------------------------------------------------------------------------------ the stage

def _returns_artifact(n_banks: int = 4, days: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=days)
    x = 0.01 * (rng.standard_normal((days, 1)) + rng.standard_normal((days, n_banks)))
    frame = pd.DataFrame(x, index=dates, columns=[f"B{i}" for i in range(n_banks)]).rename_axis(index="date", columns="bank_id")
    long = frame.stack().rename("ret").reset_index()
    return long.assign(loss=-long["ret"], market_cap=1.0, weight=1.0 / n_banks)[["bank_id", "date", "ret", "loss",
                                                                                  "market_cap", "weight"]]


SMALL = {"ar_window": 120, "turbulence_window": 60, "catfin": {"min_obs": 50}}


def _run(root, returns: pd.DataFrame, **params) -> pd.DataFrame:
    write_parquet(returns, root / artifact("returns").path, key=["bank_id", "date"])
    run_stage(root, "system_measures", **{"measures.system": {**SMALL, **params}})
    return read_parquet(root / artifact("system_measures").path)


def test_stage_writes_daily_and_monthly_rows(tmp_path):
    out = _run(tmp_path, _returns_artifact())
    assert list(out.columns) == ["date", "measure", "frequency", "value", "n_banks"]
    counts = out.groupby("measure").size()
    assert counts["absorption_ratio"] == 400 - 119 and counts["turbulence"] == 400 - 60
    assert counts["catfin"] == out.date.dt.to_period("M").nunique() == 19
    assert set(out.loc[out.measure.str.startswith("catfin"), "frequency"]) == {"monthly"}


def test_bad_input_one_bank_is_not_estimable(tmp_path):
    write_parquet(_returns_artifact(n_banks=1), tmp_path / artifact("returns").path, key=["bank_id", "date"])
    ctx = run_stage(tmp_path, "system_measures", **{"measures.system": SMALL})
    assert_not_estimable(ctx, r"1 bank\(s\) and 400 trading day\(s\)")


def test_stage_is_causal_values_before_a_cutoff_do_not_move(tmp_path):
    """Look-ahead test: perturb every return after the cut-off; rows dated before it are bit-identical
    under realtime: true (and false: the stage has no full-sample fit)."""
    base = _returns_artifact()
    cutoff = pd.Timestamp("2011-01-01")
    moved = base.copy()
    late = moved.date >= cutoff
    moved.loc[late, "ret"] *= np.random.default_rng(0).uniform(0.5, 3.0, late.sum())
    for realtime in (True, False):
        run = {}
        for name, frame in (("base", base), ("moved", moved)):
            root = tmp_path / f"{name}_{realtime}"
            write_parquet(frame, root / artifact("returns").path, key=["bank_id", "date"])
            run_stage(root, "system_measures", realtime=realtime, **{"measures.system": SMALL})
            run[name] = read_parquet(root / artifact("system_measures").path)
        before = [f[f.date < cutoff].reset_index(drop=True) for f in (run["base"], run["moved"])]
        pd.testing.assert_frame_equal(before[0], before[1], check_exact=True)
        after = [f[f.date >= cutoff]["value"].to_numpy() for f in (run["base"], run["moved"])]
        assert not np.allclose(after[0], after[1], equal_nan=True)


# ------------------------------------------------------------------------------ real data

@pytest.fixture(scope="module")
def us_measures(tmp_path_factory, shared_data) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("us_system")
    params = {"data": us_financials_data(shared_data)}
    from conftest import repo_params

    full = repo_params(**params)
    for stage in ("ingest", "returns", "system_measures"):
        run_stage(root, stage, full)
    return read_parquet(root / artifact("system_measures").path)


@pytest.mark.realdata
@pytest.mark.slow
def test_us_financials_measures_rise_in_2008(us_measures):
    """AR, Turbulence and CATFIN on the toolbox's 20 US financials: the crisis months of 2008 stand out
    against 2005-2006 (formulas: the papers; the toolbox's run_component uses the same AR and a
    Turbulence with the window's own covariance)."""
    s = us_measures.assign(year=us_measures.date.dt.year)
    calm = s[s.year.isin([2005, 2006])].groupby("measure")["value"].mean()
    crisis = s[(s.date >= "2008-09-01") & (s.date <= "2008-12-31")].groupby("measure")["value"].mean()
    assert crisis["absorption_ratio"] > calm["absorption_ratio"] + 0.05
    assert crisis["turbulence"] > 3 * calm["turbulence"]
    assert crisis["catfin"] > 2 * calm["catfin"]
    assert crisis["catfin_np"] > 2 * calm["catfin_np"] and crisis["catfin_gpd"] > 2 * calm["catfin_gpd"]


# ------------------------------------------------------------------------------ report section

def test_report_section_builds_from_the_two_artifacts(tmp_path, monkeypatch):
    import dataclasses

    import pipeline.stage as stage_module
    from pipeline.report.core import ReportContext, build_sections
    from pipeline.report.sections import system_measures as section
    from test_stage_contagion import planted_artifact, put

    _run(tmp_path, _returns_artifact())
    put(tmp_path, planted_artifact())
    run_stage(tmp_path, "contagion")
    real = stage_module.load_stage

    def load(name):  # the lead adds both artifacts to the report stage's inputs; until then, here
        st = real(name)
        extra = tuple(n for n in ("system_measures", "granger_dci") if n not in st.inputs)
        return dataclasses.replace(st, inputs=(*st.inputs, *extra)) if name == "report" else st

    monkeypatch.setattr(stage_module, "load_stage", load)
    ctx = ReportContext.open(tmp_path, {"episodes": [{"name": "E", "start": "2010-06-01", "end": "2010-09-30"}]})
    (built,) = build_sections(ctx, [section])
    assert set(built.metrics) >= {"absorption_ratio", "turbulence", "catfin", "dci"}
    assert "ar_window</code> = 120" in built.intro and "alpha</code> = 0.05" in built.intro
    assert any("<img" in b or "<svg" in b for b in built.blocks)
    assert built.metrics["dci"]["mean"] == pytest.approx(read_parquet(tmp_path / artifact("granger_dci").path)["dci"].mean())


def test_check_lines_name_banks_and_windows():
    from types import SimpleNamespace

    from pipeline.stages.system_measures import check

    long = _returns_artifact(n_banks=3, days=300).rename(columns={"ret": "close"})
    config = {"measures.system": SystemMeasuresConfig(ar_window=120, turbulence_window=60)}
    (line,) = check(SimpleNamespace(prices=long), config)
    assert line[0] == "estimates" and "on 3 bank(s)" in line[1] and "120-day windows" in line[1]
    (line,) = check(SimpleNamespace(prices=long[long.bank_id == "B0"]), config)
    assert line[0] == "cannot" and "1 bank(s)" in line[1]
    assert check(SimpleNamespace(prices=None), config)[0][0] == "cannot"
