"""The LASSO VAR (measures.contagion.sparse_var), the route rule, and the contagion chain on many banks."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Lasso
from sklearn.metrics import roc_auc_score

from measures.contagion import (
    ConnectednessConfig,
    ContagionConfig,
    analyse_contagion,
    estimate_connectedness,
    generalized_fevd,
    granger_pvalues,
)
from measures.contagion.chain import ContagionParams
from measures.contagion.route import choose_route
from measures.contagion.sparse_var import MIN_KNOTS, PATIENCE, block_norms, fit_sparse_var, lars_knots, lasso_equation
from measures.contagion.var import _design, _valid_rows, fit_var


def planted_var(seed: int, *, n: int = 60, t: int = 250, density: float = 0.05, coef: float = 0.25):
    """A sparse VAR(1): ``y_t = A y_{t-1} + e_t``, own lag 0.3, ``density`` of the off-diagonal
    entries ±``coef`` (scaled to spectral radius <= 0.9), ``e ~ N(0, I)``. Returns y and A (``A[i, j]``: j -> i)."""
    rng = np.random.default_rng(seed)
    adj = rng.random((n, n)) < density
    np.fill_diagonal(adj, False)
    a = np.where(adj, rng.choice([-1.0, 1.0], (n, n)) * coef, 0.0) + 0.3 * np.eye(n)
    a *= min(1.0, 0.9 / np.abs(np.linalg.eigvals(a)).max())
    y = np.zeros((t + 100, n))
    e = rng.standard_normal((t + 100, n))
    for s in range(1, t + 100):
        y[s] = a @ y[s - 1] + e[s]
    return y[100:], a


def frame(y: np.ndarray, start: str = "2015-01-01") -> pd.DataFrame:
    return pd.DataFrame(y, index=pd.bdate_range(start, periods=len(y)), columns=[f"B{k:03d}" for k in range(y.shape[1])])


@pytest.fixture(scope="module")
def planted_fits():
    """Two planted VAR(1)s with N = 60 > T / p = 49 (OLS cannot fit VAR(5)) and their LASSO VAR(5) fits."""
    out = []
    for seed in (0, 1):
        y, a = planted_var(seed)
        out.append((y, a, fit_sparse_var(y, 5)))
    return out


def test_planted_network_is_recovered(planted_fits):
    """Known truth: N = 60, T = 250, p = 5 (Np + 1 = 301 > 245 observations), ~5 % off-diagonal edges.
    The ranking 1 - p of the post-LASSO p-values recovers the planted adjacency with AUC 0.93 and 0.95
    (seeds 0, 1; 0.91-0.95 over seeds 0-4); the block norms rank alike."""
    off = ~np.eye(60, dtype=bool)
    for y, a, fit in planted_fits:
        truth = (a != 0).T[off]  # pvalues[j, i]: j causes i
        assert fit.pvalues.shape == (60, 60) and fit.status == "ok" and fit.nobs == 245 and fit.lags == 5
        assert roc_auc_score(truth, 1.0 - fit.pvalues[off]) >= 0.9
        assert roc_auc_score(truth, block_norms(fit)[off]) >= 0.9
        selected = fit.pvalues[off] < 1
        assert (selected & truth).sum() >= 0.8 * truth.sum()  # recall of the LASSO screen
        assert np.isnan(np.diag(fit.pvalues)).all() and np.nanmax(fit.pvalues) <= 1.0


def test_planted_connectedness_is_close_to_the_true_var(planted_fits):
    """The generalized FEVD of the LASSO VAR(5) against that of the true VAR(1) with Σ = I. Measured
    (seeds 0-4): total 26.5 / 27.1 / 25.1 / 25.4 / 24.9 % against the true 24.9 / 25.0 / 20.5 / 25.5 /
    23.5 %, while OLS on the true order VAR(1) gives 54-58 % (the noise of 60 x 60 estimated lag and
    covariance entries adds up); the off-diagonal entries correlate 0.43-0.53 with the truth."""
    off = ~np.eye(60, dtype=bool)
    for y, a, fit in planted_fits:
        true = generalized_fevd(a[None], np.eye(60), horizon=10)
        est = generalized_fevd(fit.coefs, fit.sigma_u, horizon=10)
        ols = fit_var(y, 1)
        dense = generalized_fevd(ols.coefs, ols.sigma_u, horizon=10)
        true_total, est_total, ols_total = (100 * m[off].sum() / 60 for m in (true, est, dense))
        assert abs(est_total - true_total) < 0.15 * true_total < abs(ols_total - true_total)
        assert np.corrcoef(true[off], est[off])[0, 1] > 0.4


def test_lasso_equation_equals_sklearn_lasso_at_the_chosen_penalty(planted_fits):
    """Each equation's coefficients are sklearn's Lasso at the EBIC-chosen λ (on the standardized lags)."""
    y, _, fit = planted_fits[0]
    z, target = _design(y, 5, _valid_rows(y, 5))
    z = z[:, 1:]
    sd = z.std(axis=0)
    x = (z - z.mean(axis=0)) / sd
    for i in (0, 7, 33):
        yc = target[:, i] - target[:, i].mean()
        beta, lam, _ = lasso_equation(x, yc)
        ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(x, yc).coef_
        np.testing.assert_allclose(beta, ref, atol=1e-6)
        np.testing.assert_allclose(fit.coefs.transpose(0, 2, 1).reshape(300, 60)[:, i], beta / sd, atol=1e-12)
        assert lam == pytest.approx(fit.lambdas[i], rel=1e-12)


def test_lars_knots_equal_sklearn_lars_path(planted_fits):
    """The covariance-form LARS-lasso: its EBIC choice is the EBIC minimum over scikit-learn's
    ``lars_path(method="lasso")`` knots (same knot, same λ, same coefficients), the path read up to
    PATIENCE knots past the running minimum after MIN_KNOTS, on planted equations and on a pure-noise target."""
    from sklearn.linear_model import lars_path

    y, _, _ = planted_fits[1]
    z, target = _design(y, 5, _valid_rows(y, 5))
    x = (z[:, 1:] - z[:, 1:].mean(axis=0)) / z[:, 1:].std(axis=0)
    n = len(x)
    noise = np.random.default_rng(4).standard_normal(n)
    targets = []
    for yc in [target[:, i] - target[:, i].mean() for i in (2, 19, 48)] + [noise - noise.mean()]:
        alphas, _, path = lars_path(x, yc, method="lasso", max_iter=120, return_path=True)
        df = (path != 0).sum(axis=0)
        ebic = n * np.log(((yc[:, None] - x @ path) ** 2).sum(axis=0) / n) + df * np.log(n)
        best = 0
        for knot in range(1, len(ebic)):
            if knot >= MIN_KNOTS and knot - best > PATIENCE:
                break
            best = knot if ebic[knot] < ebic[best] else best
        beta, lam, at_cap = lars_knots(x.T @ x, x.T @ yc, float(yc @ yc), n, cap=n // 2)
        assert lam[0] == pytest.approx(alphas[best], rel=1e-9) and not at_cap[0]
        np.testing.assert_allclose(beta[:, 0], path[:, best], atol=1e-10)
        targets.append(yc)
    # the paths advance together in a batch: each is its own path, whatever the others
    together = lars_knots(x.T @ x, x.T @ np.column_stack(targets), [t @ t for t in targets], n, cap=n // 2)
    for b, yc in enumerate(targets):
        alone = lars_knots(x.T @ x, x.T @ yc, float(yc @ yc), n, cap=n // 2)
        np.testing.assert_allclose(together[0][:, b], alone[0][:, 0], atol=1e-12)
        assert together[1][b] == pytest.approx(alone[1][0], rel=1e-12)


@pytest.mark.parametrize("seed", [1, 7, 8])
def test_lars_knots_with_drops_is_the_lasso(seed):
    """Correlated regressors (3 factors), where the lasso path drops coefficients (seeds chosen so that
    scikit-learn's path drops within its first 20 knots): the chosen λ is one of scikit-learn's knots and
    the coefficients there are the LASSO solution (coordinate descent to 1e-12)."""
    from sklearn.linear_model import lars_path

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40)) + 0.5 * rng.standard_normal((60, 40))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    yc = x[:, :5] @ rng.standard_normal(5) + rng.standard_normal(60)
    yc -= yc.mean()
    alphas, _, path = lars_path(x, yc, method="lasso", max_iter=60, return_path=True)
    assert (np.diff((path != 0).sum(axis=0))[:20] < 0).any()  # the case: a drop early on the path
    for gamma in (0.0, 1.0):  # BIC, and the EBIC's sparser choice
        beta, lam, _ = lars_knots(x.T @ x, x.T @ yc, float(yc @ yc), 60, cap=30, ebic_gamma=gamma)
        assert np.isclose(alphas, lam[0], rtol=1e-9).any()
        ref = Lasso(alpha=lam[0], fit_intercept=False, tol=1e-12, max_iter=100_000).fit(x, yc).coef_
        np.testing.assert_allclose(beta[:, 0], ref, atol=1e-6)


def test_low_dimensional_sparse_var_is_ols_on_its_support():
    """N = 3, T = 2,000, strong dense VAR(1): the LASSO selects every coefficient, its fit tends to OLS and
    the post-LASSO p-values are the single-equation OLS F tests (hand-computed SSR comparison)."""
    rng = np.random.default_rng(5)
    a = np.array([[0.5, 0.3, -0.3], [0.3, 0.4, 0.3], [-0.3, 0.3, 0.3]])
    y = np.zeros((2000, 3))
    for s in range(1, 2000):
        y[s] = a @ y[s - 1] + rng.standard_normal(3)
    fit = fit_sparse_var(y, 1)
    assert fit.support.all()
    z, target = _design(y, 1, _valid_rows(y, 1))
    ols = np.linalg.lstsq(z, target, rcond=None)[0]
    np.testing.assert_allclose(fit.coefs[0], ols[1:].T, atol=0.01)  # shrinkage of order λ, small at T = 2,000
    from scipy import stats
    for i in range(3):
        ssr_u = ((target[:, i] - z @ ols[:, i]) ** 2).sum()
        for j in range(3):
            if i == j:
                continue
            keep = [c for c in range(4) if c != 1 + j]
            b = np.linalg.lstsq(z[:, keep], target[:, i], rcond=None)[0]
            ssr_r = ((target[:, i] - z[:, keep] @ b) ** 2).sum()
            f = (ssr_r - ssr_u) / (ssr_u / (len(target) - 4))
            assert fit.pvalues[j, i] == pytest.approx(stats.f.sf(f, 1, len(target) - 4), rel=1e-8, abs=1e-300)


def test_granger_and_connectedness_sparse_route(planted_fits):
    y, _, fit = planted_fits[0]
    df = frame(y)
    p = granger_pvalues(df, max_lags=5, route="sparse")
    np.testing.assert_array_equal(p.to_numpy(), fit.pvalues)
    assert p.attrs["route"] == "sparse" and p.attrs["lags"] == 5 and p.attrs["lag_choice"] is None
    with pytest.raises(ValueError, match="system VAR too large: N=60 series at lag order 5"):
        granger_pvalues(df, max_lags=5)  # the OLS route refuses it
    c = estimate_connectedness(df, lags=5, route="sparse")
    assert c.lags == 5 and c.nobs == 245 and 0 < c.total < 100
    np.testing.assert_allclose(c.table.to_numpy() / 100, generalized_fevd(fit.coefs, fit.sigma_u, horizon=10))


def test_route_rule():
    """auto: OLS when every window has >= 1.5 (N p + 1) observations, else the LASSO VAR everywhere."""
    default = choose_route([(y, 16, 250) for y in range(2008, 2021)] + [(2007, 0, 55)], lags=5)
    assert (default.var, default.granger) == ("ols", "ols") and "N=16 banks" in default.reason
    big = choose_route([(2010, 16, 250), (2011, 48, 250)], lags=5, what="year")
    assert (big.var, big.granger) == ("sparse", "sparse")
    assert big.reason == ("route auto: sparse: the largest VAR (year 2011: N=48 banks, lag order 5) has N p + 1 = 241 "
                          "parameters per equation for 245 observations, fewer than contagion.sparse.ols_ratio=1.5 "
                          "times the parameters")
    assert choose_route([(2010, 32, 250)], lags=5).var == "ols"  # 1.5 x 161 = 241.5 <= 245
    assert choose_route([(2010, 33, 250)], lags=5).var == "sparse"  # 1.5 x 166 = 249 > 245
    assert choose_route([(2010, 48, 250)], lags=5, mode="pairwise").granger == "pairwise"
    assert choose_route([(2010, 48, 250)], lags=5, route="ols").var == "ols"
    assert choose_route([(2010, 4, 250)], lags=5, route="sparse").reason == "contagion.route: sparse (set by the user)"


def _series(n: int, years: int, seed: int = 0) -> pd.DataFrame:
    y, _ = planted_var(seed, n=n, t=250 * years, density=3 / n)
    return frame(y)


def test_chain_picks_the_route_from_the_data():
    """A default-size panel (16 banks) keeps OLS; 60 banks switch the whole analysis to the LASSO VAR."""
    small = analyse_contagion(_series(16, 1), ContagionConfig(), ConnectednessConfig(step=50))
    assert small.panel.windows.route.tolist() == ["ols"] and small.events.reason.iloc[0] == "var_route"
    assert small.events.detail.iloc[0].startswith("Granger network: ols, connectedness VARs: ols")
    big = analyse_contagion(_series(60, 1), ContagionConfig(), ConnectednessConfig(step=50))
    assert big.panel.windows.route.tolist() == ["sparse"] and big.panel.windows.status.tolist() == ["ok"]
    assert big.events.detail.iloc[0].startswith("Granger network: sparse, connectedness VARs: sparse; route auto: sparse")
    assert big.panel.windows[["aic", "bic", "hqic"]].isna().all().all() and big.panel.windows.lags.iloc[0] == 5
    assert len(big.panel.crw) == 60 and big.panel.crw.crw.sum() == pytest.approx(1.0)
    assert len(big.panel.edges) == 60 * 59 and big.connectedness.status.eq("ok").all()
    assert big.directional.bank_id.nunique() == 60
    pairwise = analyse_contagion(_series(36, 1), ContagionConfig(mode="pairwise", lags=5),  # 1.5 x 181 > 245
                                 ConnectednessConfig(step=50))
    assert pairwise.panel.windows.route.tolist() == ["pairwise"]
    assert pairwise.events.detail.iloc[0].startswith("Granger network: pairwise, connectedness VARs: sparse")


class _PoolMapper:
    """Two forkserver processes, one pool for the whole analysis (the workers import once)."""

    def __init__(self, ex: ProcessPoolExecutor) -> None:
        self.ex = ex

    def map(self, fn, items, desc=""):
        return list(self.ex.map(fn, items))


def test_process_pool_equals_serial(monkeypatch):
    """Windows mapped over two processes (the functions are module level + partial; each item carries its
    rows): identical results, on the sparse route, on the OLS route and for chunks of pairs (pairwise)."""
    import measures.contagion.granger as granger_module

    monkeypatch.setattr(granger_module, "PAIR_CHUNK", 5)  # 28 pairs of 8 banks: 6 chunks
    series = _series(40, 2, seed=3)
    cfg, conn = ContagionConfig(min_obs=100), ConnectednessConfig(window=250, step=125)
    serial = analyse_contagion(series, cfg, conn)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as ex:
        pooled = analyse_contagion(series, cfg, conn, mapper=_PoolMapper(ex))
        small = series.iloc[:, :8]
        ols = analyse_contagion(small, cfg, conn), analyse_contagion(small, cfg, conn, mapper=_PoolMapper(ex))
        pairwise_cfg = ContagionConfig(min_obs=100, mode="pairwise", max_lags=2)
        pairwise = [analyse_contagion(small, pairwise_cfg, conn, mapper=m) for m in (None, _PoolMapper(ex))]
        pairs = [granger_pvalues(small, mode="pairwise", max_lags=2, mapper=m) for m in (None, _PoolMapper(ex))]
    assert ols[0].panel.windows.route.eq("ols").all()
    pd.testing.assert_frame_equal(pairwise[0].panel.edges, pairwise[1].panel.edges, check_exact=True)
    pd.testing.assert_frame_equal(pairs[0], pairs[1], check_exact=True)
    assert pairs[0].attrs == pairs[1].attrs
    for a, b in [(ols[0].panel.edges, ols[1].panel.edges), (ols[0].connectedness, ols[1].connectedness),
                 (ols[0].directional, ols[1].directional)]:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert serial.panel.windows.route.eq("sparse").all()
    for a, b in [(serial.panel.edges, pooled.panel.edges), (serial.panel.crw, pooled.panel.crw),
                 (serial.panel.windows, pooled.panel.windows), (serial.connectedness, pooled.connectedness),
                 (serial.directional, pooled.directional), (serial.events, pooled.events)]:
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_bad_input_route():
    with pytest.raises(ValueError, match="contagion: route='lasso' is not allowed; allowed values: 'auto', 'ols', 'sparse'"):
        ContagionParams.from_mapping({"route": "lasso"}, where="contagion")


def test_bad_input_sparse_options():
    with pytest.raises(ValueError, match=r"contagion.sparse: ebic_gamma=2.0 is out of range"):
        ContagionParams.from_mapping({"sparse": {"ebic_gamma": 2}}, where="contagion")
    with pytest.raises(ValueError, match=r"contagion.sparse: ols_ratio=0.5 is out of range"):
        ContagionParams.from_mapping({"sparse": {"ols_ratio": 0.5}}, where="contagion")
    with pytest.raises(ValueError, match="contagion.sparse: unknown option"):
        ContagionParams.from_mapping({"sparse": {"gamma": 0.5}}, where="contagion")


def test_bad_input_sparse_var_too_short():
    y = np.random.default_rng(0).standard_normal((20, 5))
    with pytest.raises(ValueError, match=r"sparse VAR too short: 15 usable observations at lag order 5 .*needs 30"):
        fit_sparse_var(y, 5)


def test_check_names_the_sparse_route():
    """``python -m pipeline check``: a line on the route only when it is not least squares by ``auto``."""
    from pipeline.schema import CanonicalData
    from pipeline.stages.contagion import STAGE

    dates = pd.bdate_range("2015-01-01", "2015-12-31")

    def data(n: int) -> CanonicalData:
        banks = [f"B{k:02d}" for k in range(n)]
        prices = pd.DataFrame([(b, d, 1.0, 1e9) for b in banks for d in dates], columns=["bank_id", "date", "close", "market_cap"])
        return CanonicalData(banks=pd.DataFrame({"bank_id": banks, "name": banks, "group": "g"}), prices=prices)

    plain = ContagionParams(robustness_series=())  # no robustness series: their lines are tested in the panel's tests
    assert [kind for kind, _ in STAGE.check(data(16), {"contagion": plain})] == ["estimates"]
    lines = STAGE.check(data(40), {"contagion": plain})
    assert lines[-1] == ("estimates", "contagion Granger network: sparse, connectedness VARs: sparse (from the price days; "
                                      "route auto: sparse: the largest VAR (year 2015: N=40 banks, lag order 5) has N p + 1 "
                                      "= 201 parameters per equation for 256 observations, fewer than "
                                      "contagion.sparse.ols_ratio=1.5 times the parameters)")
    forced = STAGE.check(data(16), {"contagion": ContagionParams(route="sparse", mode="pairwise", robustness_series=())})
    assert forced[-1][1].startswith("contagion Granger network: pairwise, connectedness VARs: sparse")


def test_support_cap_is_reported():
    """30 coefficients of similar size on 40 rows (100 regressors): the BIC runs into the T/2 = 20 cap, and
    says so; one strong regressor stays far below it."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 100))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    target = x[:, :30] @ rng.uniform(1, 2, 30) + 0.01 * rng.standard_normal(40)
    beta, _, at_cap = lasso_equation(x, target - target.mean())
    assert at_cap and np.count_nonzero(beta) == 20
    target = 3 * x[:, 0] + rng.standard_normal(40)
    beta, _, at_cap = lasso_equation(x, target - target.mean())
    assert not at_cap and beta[0] > 2
