"""Stage covar_qr: ΔCoVaR by quantile regression on the default data and on tiny fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_not_estimable, copy_root, repo_params, run_stage

from measures.core.config import ConfigError
from measures.core.quantreg import check_loss, quantile_regression
from measures.core.status import FailureBudgetExceeded
from measures.covar_qr import CoVaRConfig
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance, write_parquet
from pipeline.stage import load_stage

INPUTS = ("prices", "returns", "system_returns")


def out(root: Path, name: str) -> Path:
    return root / artifact(name).path


def read(root: Path, name: str) -> pd.DataFrame:
    return read_parquet(out(root, name))


@pytest.fixture(scope="module")
def full(default_root, tmp_path_factory) -> Path:
    root = copy_root(default_root, tmp_path_factory.mktemp("cq_full"), *INPUTS)
    run_stage(root, "covar_qr")
    return root


def test_params_group_is_the_science_config_with_the_same_defaults() -> None:
    stage = load_stage("covar_qr")
    assert stage.params == {"measures.covar_qr": CoVaRConfig}
    group = repo_params()["measures"]["covar_qr"]
    assert CoVaRConfig.from_mapping(group, where="measures.covar_qr") == CoVaRConfig()
    assert set(group) == set(CoVaRConfig().to_dict())


def test_full_sample_artifacts_and_contagion_input(full, default_data_dir):
    v = read(full, "covar_qr")
    assert list(v.columns) == ["bank_id", "date", "var_q", "var_med", "covar", "delta_covar", "coes", "delta_coes",
                               "status"]
    assert not v.duplicated(["bank_id", "date"]).any()  # one row per bank and date: contagion.series qr
    assert (v["status"] == "ok").all() and v["bank_id"].nunique() == 16
    assert np.isfinite(v["delta_covar"]).all()
    assert (v["var_q"] > v["var_med"]).mean() > 0.99
    e = read(full, "covar_qr_estimates")
    assert list(e.columns) == ["bank_id", "window_end", "equation", "term", "estimate", "std_error", "p_value", "status"]
    assert (e["std_error"] > 0).all() and e["p_value"].between(0, 1).all()  # nid (tests/test_covar_qr_inference.py)
    states = read_parquet(default_data_dir / "interim" / "canonical" / "market_states.parquet")
    k = states.shape[1] - 1
    assert len(e) == 16 * ((1 + k) * 2 + 2 + k)
    # ΔCoVaR = β (VaR_q − VaR_50) with β the system regression's bank_loss coefficient
    bank = "CCB01"
    beta = e[(e.bank_id == bank) & (e.equation == "system") & (e.term == "bank_loss")]["estimate"].iloc[0]
    vb = v[v.bank_id == bank]
    assert np.allclose(vb["delta_covar"], beta * (vb["var_q"] - vb["var_med"]), rtol=0, atol=1e-15)
    prov = read_provenance(out(full, "covar_qr"))
    assert prov["stage"] == "covar_qr" and prov["params"]["measures.covar_qr"]["q"] == 0.95


def test_full_sample_coefficients_are_the_exact_lp_optimum(full, default_data_dir):
    """Recompute one bank's bank regression independently: same data, lagged states, check loss not worse than HiGHS."""
    from scipy.optimize import linprog

    rets = read_parquet(default_data_dir / "interim" / "returns.parquet")
    states = read_parquet(default_data_dir / "interim" / "canonical" / "market_states.parquet").set_index("date")
    bank = "CCB01"
    loss = rets[rets.bank_id == bank].set_index("date")["loss"]
    frame = pd.concat([loss, states.shift(1)], axis=1, join="inner").dropna()
    y, X = frame["loss"].to_numpy(), np.column_stack([np.ones(len(frame)), frame.iloc[:, 1:].to_numpy()])
    e = read(full, "covar_qr_estimates")
    est = e[(e.bank_id == bank) & (e.equation == "bank_q")].set_index("term")["estimate"]
    coef = est.reindex(["const", *states.columns]).to_numpy()
    assert np.allclose(coef, quantile_regression(y, X, 0.95), atol=1e-12)
    n, p = X.shape
    q = 0.95
    res = linprog(np.r_[np.zeros(p), q * np.ones(n), (1 - q) * np.ones(n)], A_eq=np.hstack([X, np.eye(n), -np.eye(n)]),
                  b_eq=y, bounds=[(None, None)] * p + [(0, None)] * (2 * n), method="highs")
    assert check_loss(y, X, coef, q) <= res.fun * (1 + 1e-9)


def test_weekly_is_last_trading_day_of_each_week(full):
    v, w = read(full, "covar_qr"), read(full, "covar_qr_weekly")
    b = v[v.bank_id == "CCB01"].set_index("date")
    last = b.groupby(b.index.to_period("W-FRI")).tail(1)
    wb = w[w.bank_id == "CCB01"].set_index("date")
    assert list(wb.index) == list(last.index)
    assert np.array_equal(wb["delta_covar"].to_numpy(), last["delta_covar"].to_numpy())


def test_rolling_subset_of_states_and_determinism(default_root, tmp_path):
    over = {"measures.covar_qr": {"estimation": "rolling", "window": 500, "step": 5, "states": ["stock_vol", "money"]}}
    roots = [copy_root(default_root, tmp_path / name, *INPUTS) for name in ("a", "b")]
    for root in roots:
        run_stage(root, "covar_qr", **over)
    for name in ("covar_qr", "covar_qr_weekly", "covar_qr_estimates", "quality/covar_qr"):
        assert out(roots[0], name).read_bytes() == out(roots[1], name).read_bytes(), name
    v, e = read(roots[0], "covar_qr"), read(roots[0], "covar_qr_estimates")
    assert set(e["term"]) == {"const", "stock_vol", "money", "bank_loss"}
    g = v[v.bank_id == "CCB01"]
    # rolling: one value per window end, every step-th usable day after the first full window
    assert len(g) == (3449 - 500) // 5 + 1 and g["delta_covar"].std() > 0
    assert set(e.loc[e.bank_id == "CCB01", "window_end"]) == set(g["date"])


def test_unknown_state_unknown_key_and_bad_option_raise(stage_root):
    with pytest.raises(ConfigError, match=r"measures.covar_qr.states: .*not in market_states; available"):
        run_stage(stage_root, "covar_qr", **{"measures.covar_qr": {"states": ["vix"]}})
    with pytest.raises(ConfigError, match=r"measures.covar_qr: estimation='recursive' is not allowed; allowed values: 'full', 'expanding', 'rolling'"):
        run_stage(stage_root, "covar_qr", **{"measures.covar_qr": {"estimation": "recursive"}})
    with pytest.raises(ConfigError, match=r"measures.covar_qr: se='boots' is not allowed; allowed values: 'iid', 'nid', 'ker', 'boot'"):
        run_stage(stage_root, "covar_qr", **{"measures.covar_qr": {"se": "boots"}})
    with pytest.raises(ConfigError, match=r"unknown option\(s\) tau .*allowed options: B, coes_levels, conditioning, estimation, lag"):
        run_stage(stage_root, "covar_qr", **{"measures.covar_qr": {"tau": 0.9}})


def _tiny(root: Path, n: int = 400, constant_state_from: int | None = None, collinear: bool = False) -> Path:
    """Two banks (one short), a system and two states on n business days, at the registry's paths."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2010-01-04", periods=n)
    m = pd.DataFrame({"date": dates, "s1": rng.normal(size=n), "s2": rng.normal(size=n)})
    if constant_state_from is not None:
        m.loc[constant_state_from:, "s2"] = 0.5
    if collinear:
        m["s2"] = 2.0 * m["s1"] + 1.0
    sys_loss = 0.01 * rng.standard_normal(n)
    rows = []
    for bank, start in (("A", 0), ("B", n - 100)):
        loss = 0.5 * sys_loss + 0.01 * rng.standard_normal(n)
        for t in range(start, n):
            rows.append((bank, dates[t], -loss[t], loss[t], 1e9, 0.5))
    rets = pd.DataFrame(rows, columns=["bank_id", "date", "ret", "loss", "market_cap", "weight"])
    write_parquet(rets, out(root, "returns"), key=["bank_id", "date"])
    write_parquet(pd.DataFrame({"date": dates, "ret": -sys_loss, "loss": sys_loss}), out(root, "system_returns"))
    write_parquet(m, out(root, "market_states"))
    return root


def test_short_bank_excluded_and_rank_deficient_windows_failed(tmp_path):
    root = _tiny(tmp_path, constant_state_from=250)
    run_stage(root, "covar_qr", **{"measures.covar_qr": {"estimation": "rolling", "window": 120, "max_failure_share": 0.9}})
    v, q = read(root, "covar_qr"), read(root, "quality/covar_qr")
    assert set(v["bank_id"]) == {"A"}
    short = q[q.reason == "too_few_observations"]
    assert list(short["bank_id"]) == ["B"] and short["n_rows"].iloc[0] == 100
    # windows entirely inside the constant stretch of s2 are rank-deficient: failed, NaN, recorded
    failed = v[v["status"].str.startswith("failed:RankDeficient")]
    assert len(failed) == 400 - 1 - 250 - 120 + 1 and failed["delta_covar"].isna().all()
    assert (v.loc[~v.index.isin(failed.index), "status"] == "ok").all()
    assert "fit_failed" in set(q["reason"])


def test_failure_budget_stops_the_stage_after_writing(tmp_path):
    root = _tiny(tmp_path, collinear=True)
    with pytest.raises(FailureBudgetExceeded, match="rank-deficient"):
        # full sample with collinear states: the fit fails; budget 0 stops the stage
        run_stage(root, "covar_qr", **{"measures.covar_qr": {"max_failure_share": 0.0}})
    v = read(root, "covar_qr")
    assert v["delta_covar"].isna().all() and v["status"].str.startswith("failed:").all()


def test_no_bank_estimable_writes_the_quality_records(tmp_path):
    root = _tiny(tmp_path)
    assert_not_estimable(run_stage(root, "covar_qr", **{"measures.covar_qr": {"min_obs": 1000}}), "no bank has enough observations")
    q = read(root, "quality/covar_qr")
    assert sorted(q.loc[q.reason == "too_few_observations", "bank_id"]) == ["A", "B"]
    assert read(root, "covar_qr").empty


# ---------------------------------------------------------------- bad inputs, optional tables, check


def test_bad_input_constant_state_names_the_column(tmp_path):
    root = _tiny(tmp_path, constant_state_from=0)
    with pytest.raises(ConfigError, match=r"^measures.covar_qr.states: market_states column 's2' is constant \(0.5\) over "
                                          r"2010-01-04 .. .*drop it from measures.covar_qr.states \(e.g. .*\['s1'\]\)"):
        run_stage(root, "covar_qr")
    run_stage(root, "covar_qr", **{"measures.covar_qr": {"states": ["s1"]}})  # the way out the message gives
    assert (read(root, "covar_qr")["status"] == "ok").all()


def test_bad_input_all_missing_state_names_the_column(tmp_path):
    root = _tiny(tmp_path)
    m = read(root, "market_states")
    m["s2"] = np.nan
    write_parquet(m, out(root, "market_states"))
    with pytest.raises(ConfigError, match=r"market_states column 's2' has no value \(every row is missing\)"):
        run_stage(root, "covar_qr")


def test_bad_input_no_market_states_is_not_estimable_with_needs(tmp_path):
    root = _tiny(tmp_path)
    out(root, "market_states").unlink()
    ctx = run_stage(root, "covar_qr")
    assert_not_estimable(ctx, "no market_states table")
    from pipeline.stage import not_estimable_mark
    mark = not_estimable_mark(out(root, "covar_qr"), artifact("covar_qr"))
    assert mark["needs"].startswith("a market_states table: a date column and one column per state variable")
    assert read(root, "covar_qr").empty and read(root, "covar_qr_estimates").empty


@pytest.mark.parametrize(("override", "match"), [
    ({"qq": 0.9}, r"^measures.covar_qr: unknown option\(s\) qq"),
    ({"q": 1.5}, r"^measures.covar_qr: q=1.5 is out of range"),
])
def test_bad_input_params_carry_the_group_prefix(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        run_stage(_tiny(tmp_path), "covar_qr", **{"measures.covar_qr": override})


def _check_data(root: Path, **tables):
    from pipeline.schema import CanonicalData

    rets = read(root, "returns")
    prices = rets.assign(close=np.exp(rets.groupby("bank_id")["ret"].cumsum()))[["bank_id", "date", "close", "market_cap"]]
    banks = pd.DataFrame({"bank_id": ["A", "B"], "name": ["A", "B"], "group": ["g", "g"]})
    return CanonicalData(banks=banks, prices=prices, **tables)


def test_check_lines_say_banks_states_and_what_cannot(tmp_path):
    root = _tiny(tmp_path, constant_state_from=0)
    stage = load_stage("covar_qr")
    states = read(root, "market_states")
    lines = stage.check(_check_data(root, market_states=states), {"measures.covar_qr": CoVaRConfig()})
    assert ("cannot", "ΔCoVaR-QR: market_states column 's2' is constant (0.5) over 2010-01-04 .. 2011-07-15; drop it "
                      "from measures.covar_qr.states") in lines
    lines = stage.check(_check_data(root, market_states=states), {"measures.covar_qr": CoVaRConfig(states=("s1",))})
    assert lines[0] == ("estimates", "ΔCoVaR-QR: state variables s1")
    assert lines[1][0] == "estimates" and "for 1 bank(s)" in lines[1][1] and lines[1][1].endswith(": A")
    assert lines[2] == ("skips", "ΔCoVaR-QR: bank B has 99 return day(s) < 250 (measures.covar_qr.min_obs)")
    lines = stage.check(_check_data(root), {"measures.covar_qr": CoVaRConfig()})
    assert lines == [("cannot", "ΔCoVaR-QR: the data has no market_states table; needs a market_states table: a date "
                                "column and one column per state variable, larger = more stress (docs/formats.md), or "
                                "state-variable recipes in data.market_states")]
    lines = stage.check(_check_data(root, market_states=states), {"measures.covar_qr": CoVaRConfig(states=("vix",))})
    assert lines[0][0] == "cannot" and "['vix']" in lines[0][1]


def test_parts_writer_equals_one_write_and_refuses_parts_out_of_order(tmp_path, monkeypatch):
    from pipeline.stage import StageContext

    frame = pd.DataFrame({"bank_id": ["A", "A", "B", "C"], "window_end": pd.to_datetime(["2020-01-02"] * 4),
                          "equation": "system", "term": ["const", "bank_loss", "const", "const"],
                          "estimate": [1.0, 2.0, 3.0, 4.0], "std_error": [0.1, np.nan, 0.3, 0.4],
                          "p_value": [0.01, np.nan, 0.03, 0.04], "status": "ok"})
    ctx = StageContext(stage=load_stage("covar_qr"), params={}, root=tmp_path, mapper=None)
    with ctx.write_parts("covar_qr_estimates", list(frame.columns)) as sink:
        sink(frame.iloc[:2])
        sink(frame.iloc[:0])  # an empty part is skipped
        sink(frame.iloc[2:])
    path = out(tmp_path, "covar_qr_estimates")
    assert ctx.written["covar_qr_estimates"] == path
    whole = tmp_path / "whole.parquet"
    write_parquet(frame, whole, key=artifact("covar_qr_estimates").key, dtypes=artifact("covar_qr_estimates").dtypes,
                  provenance=ctx.provenance())
    pd.testing.assert_frame_equal(read_parquet(path), read_parquet(whole))
    assert read_provenance(path) == read_provenance(whole)
    with pytest.raises(RuntimeError, match=r"covar_qr.parquet: parts out of key order"):
        with ctx.write_parts("covar_qr_estimates", list(frame.columns)) as sink:
            sink(frame.iloc[2:])
            sink(frame.iloc[:2])
    assert not path.exists()  # a failed write leaves no partial file
    with ctx.write_parts("covar_qr_estimates", list(frame.columns)):
        pass
    empty = read_parquet(path)
    assert empty.empty and list(empty.columns) == list(frame.columns)
