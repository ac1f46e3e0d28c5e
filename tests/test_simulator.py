"""The embedded simulator: canonical output, determinism, ranges, episodes, planted structure, calibration,
and the system at any size (``n_banks``: groups, leader pairs, suspensions, pinned 16-bank output)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from measures.core.config import ConfigError
from pipeline.params import DataConfig
from pipeline.schema import SCHEMAS, build_table
from pipeline.simulator import CALIBRATION_PATH, design, load_calibration, simulate
from pipeline.simulator.moments import all_moments, flatten, system_return
from pipeline.simulator.returns import lead_coefficients
from pipeline.simulator.roster import bank_roster, group_counts

SEED = DataConfig().seed
MOMENT_SEEDS = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def data():
    return simulate(seed=SEED)


@pytest.fixture(scope="module")
def returns(data):
    close = data.prices.pivot(index="date", columns="bank_id", values="close")
    return np.log(close).diff().iloc[1:]


def _hashes(d) -> dict[str, int]:
    return {name: int(pd.util.hash_pandas_object(t, index=True).sum()) for name, t in d.tables().items()}


# --------------------------------------------------------------------------- canonical output


def test_tables_are_canonical(data):
    assert set(data.tables()) == {"banks", "prices", "system", "market_states", "balance_sheet"}
    assert data.currency == "CNY"
    for name, table in data.tables().items():
        rebuilt = build_table(table, name, source="check")
        pd.testing.assert_frame_equal(rebuilt, table)
        keys = list(SCHEMAS[name].key)
        assert not table.duplicated(keys).any()
        assert table.equals(table.sort_values(keys, kind="mergesort").reset_index(drop=True)), name
        for col, dtype in table.dtypes.items():
            assert dtype in (np.dtype("float64"), np.dtype("datetime64[ns]"), np.dtype("O")), (name, col, dtype)


def test_banks_dates_and_columns(data):
    banks = data.banks
    assert banks["group"].value_counts().to_dict() == {"joint-stock": 8, "state-owned": 5, "city": 3}
    assert list(banks["bank_id"][:3]) == ["CCB01", "CCB02", "CCB03"]
    dates = pd.bdate_range("2007-10-12", "2020-12-31")
    for table in (data.system, data.market_states):
        assert table["date"].tolist() == list(dates)
    assert (data.prices.groupby("bank_id").size() == len(dates)).all()
    assert list(data.market_states.columns) == ["date", "real_estate", "stock_vol", "money", "bond", "fx"]
    assert data.balance_sheet["period_end"].dt.year.unique().tolist() == list(range(2007, 2021))
    assert not data.market_states.drop(columns="date").isna().any().any()


def test_same_seed_identical_other_seed_different(data):
    again = simulate(seed=SEED)
    assert _hashes(again) == _hashes(data)
    other = simulate(seed=SEED + 1)
    assert all(_hashes(other)[k] != _hashes(data)[k] for k in ("prices", "market_states", "balance_sheet"))
    assert _hashes(other)["banks"] == _hashes(data)["banks"]


def test_shorter_span(data):
    short = simulate(seed=3, start="2014-01-02", end="2015-12-31")
    assert short.prices["date"].min() == pd.Timestamp("2014-01-02")
    assert short.balance_sheet["period_end"].dt.year.tolist()[:2] == [2014, 2015]
    assert short.market_states["stock_vol"].notna().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed=-1 is not allowed; allowed: an integer >= 0"),
        ({"seed": "7"}, "seed='7' is not allowed"),
        ({"seed": 1, "start": "2020-12-01", "end": "2020-12-31"}, "fewer than 60 business days"),
        ({"seed": 1, "start": "yesterday"}, "not dates; allowed: YYYY-MM-DD"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate(**kwargs)


# --------------------------------------------------------------------------- balance sheets


RANGES = {
    "car": (0.10, 0.15), "leverage_ratio": (0.05, 0.08), "lcr": (1.0, 2.0), "ldr": (0.60, 0.80),
    "liquidity_ratio": (0.35, 0.60), "npl": (0.008, 0.02), "nim": (0.018, 0.03), "loan_growth": (0.08, 0.25),
}


def test_balance_sheet_ranges(data):
    bs = data.balance_sheet
    for col, (lo, hi) in RANGES.items():
        values = bs[col].dropna()
        assert values.between(lo, hi).all(), (col, values.min(), values.max())
        assert values.std() > 0, col
    assert bs.loc[bs["period_end"].dt.year < 2014, "lcr"].isna().all()
    assert bs.loc[bs["period_end"].dt.year >= 2014, "lcr"].notna().all()
    lag = (bs["publication_date"] - bs["period_end"]).dt.days
    assert lag.between(80, 119).all()
    money = ["total_assets", "total_liabilities", "equity", "loans", "deposits", "securities", "liquid_assets",
             "interbank_assets", "interbank_liabilities", "real_estate_loans"]
    assert (bs[money] > 0).all().all()


def test_balance_sheet_identities(data):
    bs = data.balance_sheet
    np.testing.assert_allclose(bs["total_assets"], bs["total_liabilities"] + bs["equity"], rtol=1e-12)
    np.testing.assert_allclose(bs["loans"], bs["ldr"] * bs["deposits"], rtol=1e-12)
    assert (bs["real_estate_loans"] / bs["loans"]).between(0.15, 0.30).all()
    assert (bs["loans"] + bs["securities"] + bs["interbank_assets"] < bs["total_assets"]).all()
    assert (bs["deposits"] + bs["interbank_liabilities"] < bs["total_liabilities"]).all()
    assert (bs["liquid_assets"] < bs["total_assets"] - bs["loans"]).all()
    growth = bs.groupby("bank_id")["loans"].pct_change()
    np.testing.assert_allclose(growth.dropna(), bs.loc[growth.notna(), "loan_growth"], rtol=1e-10)
    equity_ratio = bs["equity"] / bs["total_assets"]
    assert equity_ratio.between(0.045, 0.085).all()


# --------------------------------------------------------------------------- prices


def test_prices_consistent(data):
    p = data.prices
    assert (p["close"] > 0).all() and (p["market_cap"] > 0).all() and (p["volume"] >= 0).all()
    np.testing.assert_allclose(p["market_cap"], p["close"] * p["shares"], rtol=1e-12)
    changes = p.groupby("bank_id")["shares"].apply(lambda s: int((s.diff().fillna(0) != 0).sum()))
    assert changes.max() <= 1 and (p.groupby("bank_id")["shares"].diff().fillna(0) >= 0).all()
    cal = load_calibration()["parameters"]["groups"]
    first = p[p["date"] == p["date"].min()].merge(data.banks, on="bank_id")
    for group, caps in first.groupby("group")["market_cap"]:
        assert caps.mean() == pytest.approx(cal[group]["market_cap_start"], rel=1e-9)
    ret = np.log(p.pivot(index="date", columns="bank_id", values="close")).diff().iloc[1:]
    assert ((ret >= np.log(0.9) - 1e-12) & (ret <= np.log(1.1) + 1e-12)).all().all()  # ±10 % price limit
    assert (ret.abs() > 0.09).sum().sum() > 0


def test_price_to_book_realistic(data):
    p = data.prices.assign(year=data.prices["date"].dt.year)
    cap = p.groupby(["bank_id", "year"])["market_cap"].last()
    bs = data.balance_sheet.assign(year=data.balance_sheet["period_end"].dt.year).set_index(["bank_id", "year"])
    pb = (cap / bs["equity"]).dropna()
    later = pb[pb.index.get_level_values("year") >= 2009]
    assert later.between(0.35, 4.0).all(), later.describe()
    assert 0.8 < later.median() < 1.6


def test_planted_suspensions(data):
    p = data.prices
    zero = p[p["volume"] == 0]
    banks = zero["bank_id"].unique()
    assert 2 <= len(banks) <= 3
    assert not set(banks) & set(design.LEADERS)
    for bank, rows in zero.groupby("bank_id"):
        assert rows["date"].min() >= pd.Timestamp("2015-06-01") and rows["date"].max() <= pd.Timestamp("2016-12-31")
        assert 5 <= len(rows) <= 30
        run = p[(p["bank_id"] == bank) & p["date"].between(rows["date"].min(), rows["date"].max())]
        assert (run["volume"] == 0).all()  # one contiguous run
        before = p[(p["bank_id"] == bank) & (p["date"] < rows["date"].min())]["close"].iloc[-1]
        assert (run["close"] == before).all()


# --------------------------------------------------------------------------- episodes and states


def _vol(x: pd.Series, a: str, b: str) -> float:
    return float(x[a:b].std() * np.sqrt(252))


CALM_YEARS = (2010, 2011, 2012, 2016, 2017, 2018, 2019)


def _episode_ratios(d) -> tuple[float, float]:
    """System-return volatility in 2008H2 and in the 2015 crash over the median of calm years."""
    f = system_return(d.prices, "2007-10-12", "2020-12-31")
    calm = np.median([_vol(f, f"{y}-01-01", f"{y}-12-31") for y in CALM_YEARS])
    return _vol(f, "2008-07-01", "2008-12-31") / calm, _vol(f, "2015-06-15", "2015-09-30") / calm


def test_episode_volatility_across_seeds():
    ratios = np.array([_episode_ratios(simulate(seed=s)) for s in (1, 2, 3, 4)])
    assert (ratios.mean(axis=0) > 1.8).all(), ratios
    assert (ratios > 1.0).all(), ratios


@pytest.mark.parametrize("seed", [SEED, 11])
def test_stress_episodes(seed, data):
    d = data if seed == SEED else simulate(seed=seed)
    if seed == SEED:
        assert min(_episode_ratios(d)) > 1.5
    ms = d.market_states.set_index("date")
    june = ms.loc["2013-06", "money"]
    assert june.max() > ms.drop(june.index)["money"].quantile(0.99)
    assert june.max() == pytest.approx(design.MONEY_SPIKE_PEAK)
    assert ms.loc["2015-07-01":"2015-09-30", "stock_vol"].max() > ms.loc["2016-06-01":"2020-12-31", "stock_vol"].quantile(0.99)
    dev = ms.loc["2015-08-11":"2015-08-13", "fx"]
    assert (dev < -0.008).all() and ms["fx"].idxmin() in dev.index
    burst = ms.loc["2015-08-14":"2015-09-30", "fx"].std()
    assert burst > 2 * ms.loc["2017-01-01":"2017-12-31", "fx"].std()
    assert ms["money"].between(0.3, 14.0).all()


# --------------------------------------------------------------------------- planted structure


def test_lead_lag_recovered(data, returns):
    """Known truth: the leaders' lagged returns enter every follower's return.

    For each candidate source s, regress every other bank's return on s's lagged return,
    controlling for the lagged system return and the bank's own lag (a Granger-type OLS); the
    two planted leaders must be the two sources with the largest mean t-statistic, each above 3,
    and every other source's mean |t| below 3.5 (seeds 1–3: at most 3.2).
    """
    f = system_return(data.prices, "2007-10-12", "2020-12-31").shift(1).rename("sys")
    lagged = returns.shift(1)
    mean_t = {}
    for s in returns.columns:
        t = []
        for j in returns.columns.drop(s):
            frame = pd.concat([returns[j].rename("y"), lagged[s].rename("src"), f, lagged[j].rename("own")], axis=1).dropna()
            fit = sm.OLS(frame["y"], sm.add_constant(frame.drop(columns="y"))).fit()
            t.append(fit.tvalues["src"])
        mean_t[s] = float(np.mean(t))
    ranked = sorted(mean_t, key=mean_t.get, reverse=True)
    assert set(ranked[:2]) == set(design.LEADERS), mean_t
    assert min(mean_t[b] for b in design.LEADERS) > 3.0
    assert max(abs(mean_t[b]) for b in ranked[2:]) < 3.5, mean_t


def test_leaders_have_less_capital(data):
    bs = data.balance_sheet.merge(data.banks, on="bank_id")
    jsb = bs[bs["group"] == "joint-stock"].groupby("bank_id")[["car", "leverage_ratio"]].mean()
    leaders, others = jsb.loc[list(design.LEADERS)], jsb.drop(list(design.LEADERS))
    assert leaders["car"].max() < others["car"].min()
    assert leaders["leverage_ratio"].max() < others["leverage_ratio"].min()


def test_lead_strength_falls_with_capital(data):
    dates = pd.DatetimeIndex([pd.Timestamp(f"{y}-06-30") for y in range(2007, 2021)])
    phi = lead_coefficients(dates, data.balance_sheet)
    bs = data.balance_sheet.set_index("bank_id")
    for j, leader in enumerate(design.LEADERS):
        car = bs.loc[leader, "car"].to_numpy()
        expected = np.clip(design.LEAD_PHI - design.LEAD_PHI_CAR * (car - car.mean()), design.LEAD_PHI_MIN, design.LEAD_PHI_MAX)
        np.testing.assert_allclose(phi[:, j], expected, rtol=1e-12)
        assert np.corrcoef(phi[:, j], car)[0, 1] < -0.9


# --------------------------------------------------------------------------- calibration


def test_calibration_file_has_no_data_rows():
    cal = json.loads(CALIBRATION_PATH.read_text(encoding="utf-8"))
    assert set(cal) == {"description", "sample", "targets", "parameters"}
    n_numbers = sum(len(v) for v in cal["targets"].values())
    assert n_numbers < 80
    assert set(cal["parameters"]["groups"]) == set(design.GROUPS)


@pytest.fixture(scope="module")
def simulated_moments():
    rows = [flatten(all_moments(simulate(seed=s), start="2008-01-01", end="2014-12-31", size_start="2007-10-12")) for s in MOMENT_SEEDS]
    return pd.DataFrame(rows)


# (moment, tolerance, kind): kind "abs" = |mean - target| <= tol, "rel" = relative
TOLERANCES = {
    "vol_annual": (0.12, "rel"), "mean_corr": (0.06, "abs"), "acf1_sq": (0.12, "abs"), "car": (0.05, "rel"),
    "npl": (0.08, "rel"), "ldr": (0.03, "rel"), "leverage": (0.005, "abs"), "interbank_assets_share": (0.15, "rel"),
    "interbank_liabilities_share": (0.15, "rel"), "market_cap_start": (1e-9, "rel"), "total_assets_start": (1e-9, "rel"),
    "turnover": (0.2, "rel"),
}


def test_simulated_moments_match_targets(simulated_moments):
    """Known truth of the calibration: means over seeds of the simulated moments hit the real targets."""
    targets = flatten(load_calibration()["targets"])
    checked = 0
    for (group, moment), target in targets.items():
        if moment not in TOLERANCES:
            continue
        tol, kind = TOLERANCES[moment]
        got = simulated_moments[(group, moment)].mean()
        err = abs(got - target) / abs(target) if kind == "rel" else abs(got - target)
        assert err <= tol, (group, moment, target, got)
        checked += 1
    assert checked >= 40
    kurt = simulated_moments[("system", "kurtosis")].median()
    assert 1.0 < kurt < 3 * targets[("system", "kurtosis")]


def test_calibration_argument_changes_output():
    cal = load_calibration()
    louder = json.loads(json.dumps(cal))
    for values in louder["parameters"]["groups"].values():
        values["idio_vol_annual"] *= 2.0
    base = simulate(seed=5, start="2010-01-04", end="2012-12-31", calibration=cal)
    loud = simulate(seed=5, start="2010-01-04", end="2012-12-31", calibration=louder)
    vol = [np.log(d.prices.pivot(index="date", columns="bank_id", values="close")).diff().std().mean() for d in (base, loud)]
    assert vol[1] > 1.2 * vol[0]
    pd.testing.assert_frame_equal(base.balance_sheet, loud.balance_sheet)


def test_calibrate_rejects_a_wrong_data_dir(tmp_path):
    from pipeline.calibrate import RealData, main

    with pytest.raises(ValueError, match=r"has no cn_bank_daily_prices_mcap_long.csv; allowed: the cn-banks directory"):
        RealData(tmp_path)
    with pytest.raises(SystemExit):
        main([])


@pytest.mark.realdata
def test_real_moments_reproduce_committed_targets(shared_data):
    from pipeline.calibrate import RealData, factor_correlations, real_moments

    moments = real_moments(RealData(shared_data / "cn-banks"))
    committed = flatten(load_calibration()["targets"])
    got = flatten(moments)
    assert set(got) == set(committed)
    for key, value in committed.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
    b = factor_correlations(moments)
    assert b["state-owned"] * b["joint-stock"] == pytest.approx(moments["joint-stock~state-owned"]["mean_corr"], rel=1e-12)
    assert b["city"] * b["joint-stock"] == pytest.approx(moments["city~joint-stock"]["mean_corr"], rel=1e-12)


# --------------------------------------------------------------------------- any number of banks


N = 64  # four leader pairs


@pytest.fixture(scope="module")
def data64():
    return simulate(seed=SEED, n_banks=N)


def _digest(d) -> str:
    h = hashlib.sha256()
    for name in ("prices", "system", "market_states", "balance_sheet"):
        table = d.tables()[name]
        for col in table.columns:
            v = table[col].to_numpy()
            h.update(v.astype(str).tobytes() if v.dtype == object else np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def test_default_system_is_pinned(data):
    """The 16-bank default tables are those of the simulator before n_banks existed (every value, bit for bit)."""
    assert _digest(data) == "0290b20745955440041908bc825ba4026ca40e278d7ce84510de5f1657d8b577"
    pd.testing.assert_frame_equal(simulate(seed=SEED, n_banks=16).prices, data.prices)


@pytest.mark.parametrize(("n", "counts"), [
    (8, (3, 4, 1)), (10, (3, 5, 2)), (16, (5, 8, 3)), (17, (5, 9, 3)), (64, (20, 32, 12)),
    (100, (31, 50, 19)), (1024, (320, 512, 192)),
])
def test_group_counts_largest_remainder(n, counts):
    """Quotas n * (5, 8, 3) / 16, floors, the rest to the largest fractional parts (ties in group order)."""
    got = group_counts(n)
    assert tuple(got[g] for g in design.GROUPS) == counts
    assert sum(got.values()) == n
    quota = {g: n * design.GROUP_SIZE[g] / 16 for g in design.GROUPS}
    assert all(abs(got[g] - quota[g]) < 1 for g in design.GROUPS)


def test_roster_leader_pairs_and_followers():
    banks = bank_roster(N)
    assert banks["bank_id"].is_unique and len(banks) == N
    leaders = banks[banks["leader"]]
    assert leaders["bank_id"].tolist() == [f"JSB{k:02d}" for k in range(1, 9)]
    assert leaders["pair"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    followers = banks[~banks["leader"]]
    per_pair = followers.groupby(["pair", "group"]).size().unstack()
    assert (per_pair[["state-owned", "joint-stock", "city"]].to_numpy() == [5, 6, 3]).all()  # the 16-bank motif
    default = bank_roster()
    assert default["leader"].sum() == 2 and set(default.loc[default["leader"], "bank_id"]) == set(design.LEADERS)
    assert (default["pair"] == 0).all()
    assert bank_roster(1024)["bank_id"].iloc[:2].tolist() == ["SOB001", "SOB002"]  # ids padded: id order is rank order


def test_n_banks_tables(data64):
    banks = data64.banks
    assert banks["group"].value_counts().to_dict() == {"joint-stock": 32, "state-owned": 20, "city": 12}
    assert (data64.prices.groupby("bank_id").size() == len(data64.system)).all()
    assert data64.prices["bank_id"].nunique() == N and data64.balance_sheet["bank_id"].nunique() == N
    for name, table in data64.tables().items():
        keys = list(SCHEMAS[name].key)
        assert table.equals(table.sort_values(keys, kind="mergesort").reset_index(drop=True)), name
    cal = load_calibration()["parameters"]["groups"]
    first = data64.prices[data64.prices["date"] == data64.prices["date"].min()].merge(banks, on="bank_id")
    for group, caps in first.groupby("group")["market_cap"]:
        assert caps.mean() == pytest.approx(cal[group]["market_cap_start"], rel=1e-9)


def test_n_banks_deterministic():
    """Same (seed, n_banks) -> identical tables; the first 16 banks of a larger system are new draws."""
    span = {"start": "2014-01-02", "end": "2016-12-30"}
    first, again = (simulate(seed=SEED, n_banks=N, **span) for _ in range(2))
    assert _hashes(again) == _hashes(first)
    default = simulate(seed=SEED, **span).prices.set_index(["bank_id", "date"])["close"]
    bigger = first.prices.set_index(["bank_id", "date"])["close"].loc[default.index]
    assert not np.allclose(bigger.to_numpy(), default.to_numpy())


def test_n_banks_suspensions_scale(data64):
    """2P..3P suspended banks (P = 4 leader pairs), none a leader or state-owned, each one run in 2015-2016."""
    zero = data64.prices[data64.prices["volume"] == 0]
    suspended = zero["bank_id"].unique()
    assert 8 <= len(suspended) <= 12
    roster = bank_roster(N).set_index("bank_id")
    assert not roster.loc[suspended, "leader"].any()
    assert (roster.loc[suspended, "group"] != "state-owned").all()
    assert zero["date"].between("2015-06-01", "2016-12-31").all()
    assert zero.groupby("bank_id").size().between(5, 30).all()


def test_n_banks_leaders_have_less_capital(data64):
    bs = data64.balance_sheet.merge(data64.banks, on="bank_id")
    jsb = bs[bs["group"] == "joint-stock"].groupby("bank_id")["car"].mean()
    leaders = [f"JSB{k:02d}" for k in range(1, 9)]
    gap = jsb.loc[leaders].mean() - jsb.drop(leaders).mean()
    assert -0.010 < gap < -0.004  # planted: -0.7 pp
    assert jsb.loc[leaders].max() < jsb.drop(leaders).median()


def test_n_banks_lead_coefficients_per_leader(data64):
    leaders = [f"JSB{k:02d}" for k in range(1, 9)]
    dates = pd.DatetimeIndex([pd.Timestamp(f"{y}-06-30") for y in range(2007, 2021)])
    phi = lead_coefficients(dates, data64.balance_sheet, leaders)
    bs = data64.balance_sheet.set_index("bank_id")
    for j, leader in enumerate(leaders):
        car = bs.loc[leader, "car"].to_numpy()
        expected = np.clip(design.LEAD_PHI - design.LEAD_PHI_CAR * (car - car.mean()), design.LEAD_PHI_MIN, design.LEAD_PHI_MAX)
        np.testing.assert_allclose(phi[:, j], expected, rtol=1e-12)


def _ols_t(y: np.ndarray, x: np.ndarray) -> float:
    """t-statistic of the first column of ``x`` in the OLS of ``y`` on a constant and ``x``."""
    x = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    cov = resid @ resid / (len(y) - x.shape[1]) * np.linalg.inv(x.T @ x)
    return float(coef[1] / np.sqrt(cov[1, 1]))


def test_n_banks_lead_lag_network_recovered(data64):
    """Known truth: each follower is led by its own pair's two leaders only (a sparse planted network).

    For every follower and each of the eight leaders, the Granger-type OLS of
    :func:`test_lead_lag_recovered` (the leader's lagged return, the lagged system return and the
    follower's own lag): the t-statistics of the follower's own pair are large, the others' small,
    and ranking the 448 links by t separates the planted ones (AUC > 0.95).
    """
    r = np.log(data64.prices.pivot(index="date", columns="bank_id", values="close")).diff().iloc[1:]
    frame = pd.concat([r, system_return(data64.prices, "2007-10-12", "2020-12-31").rename("sys")], axis=1).dropna()
    col = {name: k for k, name in enumerate(frame.columns)}
    now, before = frame.to_numpy()[1:], frame.to_numpy()[:-1]
    roster = bank_roster(N).set_index("bank_id")
    own_t, other_t = [], []
    for bank in roster.index[~roster["leader"]]:
        for leader in roster.index[roster["leader"]]:
            t = _ols_t(now[:, col[bank]], before[:, [col[leader], col["sys"], col[bank]]])
            (own_t if roster.loc[leader, "pair"] == roster.loc[bank, "pair"] else other_t).append(t)
    own_t, other_t = np.array(own_t), np.array(other_t)
    assert len(own_t) == 2 * 56 and len(other_t) == 6 * 56
    assert own_t.mean() > 5.0 and (own_t > 2.0).mean() > 0.95, own_t
    assert abs(other_t.mean()) < 2.0 and (np.abs(other_t) > 3.0).mean() < 0.05, other_t
    assert (own_t[:, None] > other_t[None, :]).mean() > 0.95


@pytest.mark.parametrize(("value", "message"), [
    (4, "data: n_banks=4 is not allowed; allowed: an integer from 8 to 10000"),
    (20000, "data: n_banks=20000 is not allowed"),
    (64.5, "data: n_banks=64.5 is not allowed"),
    ("many", "data: n_banks='many' is not allowed"),
    (True, "data: n_banks=True is not allowed"),
])
def test_bad_input_n_banks(value, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        DataConfig.from_mapping({"n_banks": value}, where="data")
    with pytest.raises(ValueError, match="is not allowed; allowed: an integer from 8 to 10000"):
        simulate(seed=1, n_banks=value)


def test_bad_input_n_banks_with_files():
    with pytest.raises(ConfigError, match=r"data: n_banks=64 applies to data.source: synthetic only.*allowed: n_banks: 16"):
        DataConfig.from_mapping({"source": "files", "n_banks": 64}, where="data")
    assert DataConfig.from_mapping({"source": "files", "n_banks": 16}, where="data").n_banks == 16
