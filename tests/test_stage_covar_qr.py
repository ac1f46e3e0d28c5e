"""Stage covar_qr: ΔCoVaR by quantile regression on the default data and on tiny fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from measures.core.quantreg import check_loss, quantile_regression
from measures.core.status import FailureBudgetExceeded
from pipeline.io import read_parquet, write_parquet
from pipeline.stages import covar_qr

DEFAULTS = {"q": 0.95, "estimation": "full", "window": 250, "step": 1, "lag": 1, "states": None, "min_obs": 250,
            "max_failure_share": 0.5}


def write_params(tmp: Path, **over) -> str:
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump({"measures": {"covar_qr": {**DEFAULTS, **over}}}), encoding="utf-8")
    return str(path)


def run_stage(data: Path, out: Path, **over) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"values": out / "covar_qr.parquet", "weekly": out / "covar_qr_weekly.parquet",
             "estimates": out / "estimates.parquet", "quality": out / "quality"}
    covar_qr.run(write_params(out, **over), str(data / "interim"), str(data / "interim" / "canonical"),
                 str(paths["values"]), str(paths["weekly"]), str(paths["estimates"]), str(paths["quality"]))
    return paths


@pytest.fixture(scope="module")
def full(default_data_dir, tmp_path_factory):
    return run_stage(default_data_dir, tmp_path_factory.mktemp("cq_full"))


def test_full_sample_artifacts_and_contagion_input(full, default_data_dir):
    v = read_parquet(full["values"])
    assert list(v.columns) == ["bank_id", "date", "var_q", "var_med", "covar", "delta_covar", "status"]
    assert not v.duplicated(["bank_id", "date"]).any()  # one row per bank and date: contagion.series qr
    assert (v["status"] == "ok").all() and v["bank_id"].nunique() == 16
    assert np.allclose(v["delta_covar"], v["delta_covar"])  # finite
    assert (v["var_q"] > v["var_med"]).mean() > 0.99
    e = read_parquet(full["estimates"])
    assert list(e.columns) == ["bank_id", "window_end", "equation", "term", "estimate", "std_error", "status"]
    assert e["std_error"].isna().all()
    states = read_parquet(default_data_dir / "interim" / "canonical" / "market_states.parquet")
    k = states.shape[1] - 1
    assert len(e) == 16 * ((1 + k) * 2 + 2 + k)
    # ΔCoVaR = β (VaR_q − VaR_50) with β the system regression's bank_loss coefficient
    bank = "CCB01"
    beta = e[(e.bank_id == bank) & (e.equation == "system") & (e.term == "bank_loss")]["estimate"].iloc[0]
    vb = v[v.bank_id == bank]
    assert np.allclose(vb["delta_covar"], beta * (vb["var_q"] - vb["var_med"]), rtol=0, atol=1e-15)


def test_full_sample_coefficients_are_the_exact_lp_optimum(full, default_data_dir):
    """Recompute one bank's bank regression independently: same data, lagged states, check loss not worse than HiGHS."""
    from scipy.optimize import linprog

    rets = read_parquet(default_data_dir / "interim" / "returns.parquet")
    states = read_parquet(default_data_dir / "interim" / "canonical" / "market_states.parquet").set_index("date")
    bank = "CCB01"
    loss = rets[rets.bank_id == bank].set_index("date")["loss"]
    frame = pd.concat([loss, states.shift(1)], axis=1, join="inner").dropna()
    y, X = frame["loss"].to_numpy(), np.column_stack([np.ones(len(frame)), frame.iloc[:, 1:].to_numpy()])
    e = read_parquet(full["estimates"])
    est = e[(e.bank_id == bank) & (e.equation == "bank_q")].set_index("term")["estimate"]
    coef = est.reindex(["const", *states.columns]).to_numpy()
    assert np.allclose(coef, quantile_regression(y, X, 0.95), atol=1e-12)
    n, p = X.shape
    q = 0.95
    res = linprog(np.r_[np.zeros(p), q * np.ones(n), (1 - q) * np.ones(n)], A_eq=np.hstack([X, np.eye(n), -np.eye(n)]),
                  b_eq=y, bounds=[(None, None)] * p + [(0, None)] * (2 * n), method="highs")
    assert check_loss(y, X, coef, q) <= res.fun * (1 + 1e-9)


def test_weekly_is_last_trading_day_of_each_week(full):
    v, w = read_parquet(full["values"]), read_parquet(full["weekly"])
    b = v[v.bank_id == "CCB01"].set_index("date")
    last = b.groupby(b.index.to_period("W-FRI")).tail(1)
    wb = w[w.bank_id == "CCB01"].set_index("date")
    assert list(wb.index) == list(last.index)
    assert np.array_equal(wb["delta_covar"].to_numpy(), last["delta_covar"].to_numpy())


def test_rolling_subset_of_states_and_determinism(default_data_dir, tmp_path):
    a = run_stage(default_data_dir, tmp_path / "a", estimation="rolling", window=500, step=5, states=["stock_vol", "money"])
    b = run_stage(default_data_dir, tmp_path / "b", estimation="rolling", window=500, step=5, states=["stock_vol", "money"])
    for key in ("values", "weekly", "estimates"):
        assert a[key].read_bytes() == b[key].read_bytes()
    assert (a["quality"] / "covar_qr.parquet").read_bytes() == (b["quality"] / "covar_qr.parquet").read_bytes()
    v = read_parquet(a["values"])
    e = read_parquet(a["estimates"])
    assert set(e["term"]) == {"const", "stock_vol", "money", "bank_loss"}
    g = v[v.bank_id == "CCB01"]
    # rolling: one value per window end, every step-th usable day after the first full window
    assert len(g) == (3449 - 500) // 5 + 1 and g["delta_covar"].std() > 0
    assert set(e.loc[e.bank_id == "CCB01", "window_end"]) == set(g["date"])


def test_unknown_state_and_bad_option_raise(default_data_dir, tmp_path):
    with pytest.raises(ValueError, match="not in market_states; available"):
        run_stage(default_data_dir, tmp_path / "x", states=["vix"])
    with pytest.raises(ValueError, match="estimation"):
        run_stage(default_data_dir, tmp_path / "y", estimation="expanding")


def _tiny(tmp: Path, n: int = 400, constant_state_from: int | None = None) -> Path:
    """Two banks (one short), a system and two states on n business days."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2010-01-04", periods=n)
    m = pd.DataFrame({"date": dates, "s1": rng.normal(size=n), "s2": rng.normal(size=n)})
    if constant_state_from is not None:
        m.loc[constant_state_from:, "s2"] = 0.5
    sys_loss = 0.01 * rng.standard_normal(n)
    rows = []
    for bank, start in (("A", 0), ("B", n - 100)):
        loss = 0.5 * sys_loss + 0.01 * rng.standard_normal(n)
        for t in range(start, n):
            rows.append((bank, dates[t], -loss[t], loss[t], 1e9, 0.5))
    rets = pd.DataFrame(rows, columns=["bank_id", "date", "ret", "loss", "market_cap", "weight"])
    data = tmp / "data"
    write_parquet(rets, data / "interim" / "returns.parquet", key=["bank_id", "date"])
    write_parquet(pd.DataFrame({"date": dates, "ret": -sys_loss, "loss": sys_loss}), data / "interim" / "system_returns.parquet")
    write_parquet(m, data / "interim" / "canonical" / "market_states.parquet")
    return data


def test_short_bank_excluded_and_rank_deficient_windows_failed(tmp_path):
    data = _tiny(tmp_path, constant_state_from=250)
    paths = run_stage(data, tmp_path / "out", estimation="rolling", window=120, min_obs=250, max_failure_share=0.9)
    v = read_parquet(paths["values"])
    q = read_parquet(paths["quality"] / "covar_qr.parquet")
    assert set(v["bank_id"]) == {"A"}
    short = q[q.reason == "too_few_observations"]
    assert list(short["bank_id"]) == ["B"] and short["n_rows"].iloc[0] == 100
    # windows entirely inside the constant stretch of s2 are rank-deficient: failed, NaN, recorded
    failed = v[v["status"].str.startswith("failed:RankDeficient")]
    assert len(failed) == 400 - 1 - 250 - 120 + 1 and failed["delta_covar"].isna().all()
    assert (v.loc[~v.index.isin(failed.index), "status"] == "ok").all()
    assert "fit_failed" in set(q["reason"])


def test_failure_budget_stops_the_stage(tmp_path):
    data = _tiny(tmp_path, constant_state_from=0)
    with pytest.raises(FailureBudgetExceeded, match="rank-deficient"):
        # full sample with a constant state: the fit fails; budget 0 stops the stage
        run_stage(data, tmp_path / "out", max_failure_share=0.0)
