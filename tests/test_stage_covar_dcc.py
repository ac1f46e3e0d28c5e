"""Stage covar_dcc: bivariate DCC-GARCH per bank → ΔCoVaR-DCC and the estimates table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from measures.core.status import FailureBudgetExceeded
from pipeline.io import read_parquet
from pipeline.stages import covar_dcc

_SPEC = importlib.util.spec_from_file_location("tiny_dcc", Path(__file__).parent / "fixtures" / "covar_dcc" / "tiny.py")
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)


def run_stage(data: Path, params: Path) -> dict[str, pd.DataFrame]:
    out = data / "processed" / "measures" / "covar_dcc.parquet"
    est = data / "processed" / "estimates" / "covar_dcc.parquet"
    quality = data / "processed" / "quality"
    covar_dcc.run(str(params), str(data / "interim"), str(out), str(est), str(quality))
    return {"covar": read_parquet(out), "estimates": read_parquet(est), "quality": read_parquet(quality / "covar_dcc.parquet")}


def test_default_data_artifacts_values_and_determinism(default_data_dir, tmp_path):
    params = tiny.write_params(tmp_path / "params.yaml")
    first = run_stage(default_data_dir, params)
    blob = (default_data_dir / "processed" / "measures" / "covar_dcc.parquet").read_bytes()
    est_blob = (default_data_dir / "processed" / "estimates" / "covar_dcc.parquet").read_bytes()
    cov, est, q = first["covar"], first["estimates"], first["quality"]
    assert list(cov.columns) == ["bank_id", "date", "sigma_bank", "sigma_sys", "rho", "delta_covar", "status"]
    assert list(est.columns) == ["bank_id", "window_end", "term", "estimate", "std_error", "status"]
    assert cov["bank_id"].nunique() == 16 and (cov["status"] == "ok").all()
    assert cov.equals(cov.sort_values(["bank_id", "date"], kind="mergesort").reset_index(drop=True))
    np.testing.assert_allclose(cov["delta_covar"], norm.ppf(0.95) * cov["rho"] * cov["sigma_sys"], rtol=1e-12)
    assert cov["rho"].between(-1, 1).all() and (cov["sigma_bank"] > 0).all()
    dcc = est[est.term.isin(["dcc_a", "dcc_b"])].pivot(index="bank_id", columns="term", values="estimate")
    assert ((dcc["dcc_a"] >= 0) & (dcc["dcc_a"] + dcc["dcc_b"] < 1)).all()
    assert {"sys_omega", "bank_gamma", "loglik", "nobs"} <= set(est["term"])
    # suspensions masked by the returns stage are left out of the DCC sample, and recorded
    masked = read_parquet(default_data_dir / "processed" / "quality" / "returns.parquet")
    masked_banks = set(masked.loc[masked.action == "masked", "bank_id"].dropna())
    assert set(q.loc[q.reason == "missing_return", "bank_id"]) == masked_banks != set()
    n = est[est.term == "nobs"].set_index("bank_id")["estimate"]
    dropped = q[q.reason == "missing_return"].set_index("bank_id")["n_rows"]
    assert (n[dropped.index] + dropped == n.max()).all()
    run_stage(default_data_dir, params)
    assert (default_data_dir / "processed" / "measures" / "covar_dcc.parquet").read_bytes() == blob
    assert (default_data_dir / "processed" / "estimates" / "covar_dcc.parquet").read_bytes() == est_blob


def test_short_constant_and_nan_run_banks_get_a_status(tmp_path):
    dates, sim = tiny.simulate()
    bank = sim[:, 1:].copy()
    bank[:500, 0] = np.nan  # A: only 200 days left (< min_obs)
    bank[:, 1] = 0.001  # B: constant
    bank[300:320, 2] = np.nan  # C: a run of missing days inside
    data = tiny.write_interim(tmp_path / "data", bank_returns=bank)
    out = run_stage(data, tiny.write_params(tmp_path / "p.yaml", covar={"max_failure_share": 1.0}))
    status = out["covar"].groupby("bank_id")["status"].first()
    assert status["A"].startswith("failed:ValueError:") and "min_obs=250" in status["A"]
    assert status["B"].startswith("failed:ValueError:") and "constant" in status["B"]
    assert status["C"] == "ok"
    assert out["covar"].loc[out["covar"].bank_id == "A", "delta_covar"].isna().all()
    q = out["quality"]
    assert set(q.loc[q.reason == "fit_failed", "bank_id"]) == {"A", "B"}
    assert q.loc[q.reason == "missing_return", "n_rows"].tolist() == [20]
    failed_est = out["estimates"][(out["estimates"].bank_id == "A") & (out["estimates"].term == "dcc_a")]
    assert failed_est["estimate"].isna().all() and failed_est["status"].str.startswith("failed:").all()
    # missing: fail refuses the inside gap with a status naming the date
    out = run_stage(data, tiny.write_params(tmp_path / "p2.yaml", covar={"missing": "fail", "max_failure_share": 1.0}))
    c = out["covar"].loc[out["covar"].bank_id == "C", "status"].iloc[0]
    assert c.startswith("failed:ValueError:") and "non-finite" in c and str(dates[300].date()) in c


def test_failure_budget_and_bad_params(tmp_path):
    _, sim = tiny.simulate()
    bank = sim[:, 1:].copy()
    bank[:, :2] = 0.0
    data = tiny.write_interim(tmp_path / "data", bank_returns=bank)
    with pytest.raises(FailureBudgetExceeded, match="2 of 3 fits failed"):
        run_stage(data, tiny.write_params(tmp_path / "p.yaml"))
    assert (data / "processed" / "quality" / "covar_dcc.parquet").is_file()  # written before the budget check
    with pytest.raises(ValueError, match="missing='zero' is not allowed; allowed values: 'drop', 'fail'"):
        run_stage(data, tiny.write_params(tmp_path / "p.yaml", covar={"missing": "zero"}))
    with pytest.raises(ValueError, match="vol='egarch' is not allowed"):
        run_stage(data, tiny.write_params(tmp_path / "p.yaml", covar={"vol": "egarch"}))
    with pytest.raises(ValueError, match="unknown option"):
        run_stage(data, tiny.write_params(tmp_path / "p.yaml", covar={"windw": 3}))
