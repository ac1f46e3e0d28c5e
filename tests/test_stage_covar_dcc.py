"""Stage covar_dcc: bivariate DCC-GARCH per bank → ΔCoVaR-DCC, the estimates table and the fitted paths."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import repo_params, run_stage
from scipy.stats import norm

from measures.core.config import ConfigError
from measures.core.status import FailureBudgetExceeded
from measures.dcc import DCCConfig, fit_dcc_banks
from measures.systemic import covar_dcc_frame
from pipeline.io import read_parquet
from pipeline.stage import load_stage

_SPEC = importlib.util.spec_from_file_location("tiny_dcc", Path(__file__).parent / "fixtures" / "covar_dcc" / "tiny.py")
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)

ARTIFACTS = {"covar": "measures/covar_dcc", "estimates": "estimates/covar_dcc", "paths": "estimates/dcc_paths",
             "quality": "quality/covar_dcc"}


def covar(root: Path, **changes) -> dict[str, pd.DataFrame]:
    run_stage(root, "covar_dcc", **tiny.overrides(covar=changes))
    return {k: read_parquet(root / "data" / "processed" / f"{v}.parquet") for k, v in ARTIFACTS.items()}


def test_declaration_and_params_defaults_are_the_api_defaults():
    stage = load_stage("covar_dcc")
    assert stage.inputs == ("returns", "system_returns")
    assert stage.outputs == ("covar_dcc", "covar_dcc_estimates", "dcc_paths", "dcc_param_paths")
    params_cls = stage.params["measures.covar_dcc"]
    defaults = params_cls()
    assert isinstance(defaults, DCCConfig)
    names = [f.name for f in dataclasses.fields(DCCConfig)]
    assert {n: getattr(defaults, n) for n in names} == dataclasses.asdict(DCCConfig())
    assert defaults.q == inspect.signature(covar_dcc_frame).parameters["q"].default
    assert defaults.missing == inspect.signature(fit_dcc_banks).parameters["missing"].default
    group = repo_params()["measures"]["covar_dcc"]
    assert group == {k: v for k, v in dataclasses.asdict(defaults).items() if k in group}
    assert set(group) <= set(dataclasses.asdict(defaults))


def test_default_data_artifacts_values_and_determinism(stage_root):
    out = covar(stage_root)
    blobs = {k: (stage_root / "data" / "processed" / f"{v}.parquet").read_bytes() for k, v in ARTIFACTS.items()}
    cov, est, paths, q = out["covar"], out["estimates"], out["paths"], out["quality"]
    assert list(cov.columns) == ["bank_id", "date", "sigma_bank", "sigma_sys", "rho", "delta_covar", "covar", "coes",
                                 "delta_coes", "status"]
    assert list(est.columns) == ["bank_id", "window_end", "term", "estimate", "std_error", "status"]
    assert cov["bank_id"].nunique() == 16 and (cov["status"] == "ok").all()
    assert cov.equals(cov.sort_values(["bank_id", "date"], kind="mergesort").reset_index(drop=True))
    np.testing.assert_allclose(cov["delta_covar"], norm.ppf(0.95) * cov["rho"] * cov["sigma_sys"], rtol=1e-12)
    assert cov["rho"].between(-1, 1).all() and (cov["sigma_bank"] > 0).all()
    dcc = est[est.term.isin(["dcc_a", "dcc_b"])].pivot(index="bank_id", columns="term", values="estimate")
    assert ((dcc["dcc_a"] >= 0) & (dcc["dcc_a"] + dcc["dcc_b"] < 1)).all()
    assert {"sys_omega", "bank_gamma", "loglik", "nobs"} <= set(est["term"])
    # the paths carry the same fits, and the residuals reproduce the returns: r = mu + sigma z
    assert list(paths.columns) == ["bank_id", "date", "ret_bank", "ret_sys", "sigma_bank", "sigma_sys", "rho",
                                   "z_bank", "z_sys", "status"]
    for col in ("sigma_bank", "sigma_sys", "rho", "status"):
        assert paths[col].equals(cov[col])
    mu = est[est.term == "bank_mu"].set_index("bank_id")["estimate"]
    np.testing.assert_allclose(paths["ret_bank"], paths["bank_id"].map(mu) + paths["z_bank"] * paths["sigma_bank"],
                               rtol=1e-8, atol=1e-12)
    mu_sys = est[est.term == "sys_mu"].set_index("bank_id")["estimate"]
    np.testing.assert_allclose(paths["ret_sys"], paths["bank_id"].map(mu_sys) + paths["z_sys"] * paths["sigma_sys"],
                               rtol=1e-8, atol=1e-12)
    # suspensions masked by the returns stage are left out of the DCC sample, and recorded
    masked = read_parquet(stage_root / "data" / "processed" / "quality" / "returns.parquet")
    masked_banks = set(masked.loc[masked.action == "masked", "bank_id"].dropna())
    assert set(q.loc[q.reason == "missing_return", "bank_id"]) == masked_banks != set()
    n = est[est.term == "nobs"].set_index("bank_id")["estimate"]
    dropped = q[q.reason == "missing_return"].set_index("bank_id")["n_rows"]
    assert (n[dropped.index] + dropped == n.max()).all()
    assert (paths.groupby("bank_id").size() == n).all()
    covar(stage_root)
    assert {k: (stage_root / "data" / "processed" / f"{v}.parquet").read_bytes() for k, v in ARTIFACTS.items()} == blobs


def test_short_constant_and_nan_run_banks_get_a_status(tmp_path):
    dates, sim = tiny.simulate()
    bank = sim[:, 1:].copy()
    bank[:500, 0] = np.nan  # A: only 200 days left (< min_obs)
    bank[:, 1] = 0.001  # B: constant
    bank[300:320, 2] = np.nan  # C: a run of missing days inside
    root = tiny.write_interim(tmp_path, bank_returns=bank)
    out = covar(root, max_failure_share=1.0)
    status = out["covar"].groupby("bank_id")["status"].first()
    assert status["A"].startswith("failed:ValueError:") and "min_obs=250" in status["A"]
    assert status["B"].startswith("failed:ValueError:") and "constant" in status["B"]
    assert status["C"] == "ok"
    assert out["covar"].loc[out["covar"].bank_id == "A", "delta_covar"].isna().all()
    assert out["paths"].loc[out["paths"].bank_id == "A", ["sigma_bank", "rho", "z_bank"]].isna().all().all()
    q = out["quality"]
    assert set(q.loc[q.reason == "fit_failed", "bank_id"]) == {"A", "B"}
    assert q.loc[q.reason == "missing_return", "n_rows"].tolist() == [20]
    failed_est = out["estimates"][(out["estimates"].bank_id == "A") & (out["estimates"].term == "dcc_a")]
    assert failed_est["estimate"].isna().all() and failed_est["status"].str.startswith("failed:").all()
    # missing: fail refuses the inside gap with a status naming the date
    out = covar(root, missing="fail", max_failure_share=1.0)
    c = out["covar"].loc[out["covar"].bank_id == "C", "status"].iloc[0]
    assert c.startswith("failed:ValueError:") and "non-finite" in c and str(dates[300].date()) in c


def test_failure_budget_and_bad_params(tmp_path):
    _, sim = tiny.simulate()
    bank = sim[:, 1:].copy()
    bank[:, :2] = 0.0
    root = tiny.write_interim(tmp_path, bank_returns=bank)
    with pytest.raises(FailureBudgetExceeded, match="2 of 3 fits failed"):
        covar(root)
    assert (root / "data" / "processed" / "quality" / "covar_dcc.parquet").is_file()  # written before the budget check
    assert (root / "data" / "processed" / "measures" / "covar_dcc.parquet").is_file()  # outputs too
    with pytest.raises(ConfigError, match="measures.covar_dcc: missing='zero' is not allowed; allowed values: 'drop', 'fail'"):
        covar(root, missing="zero")
    with pytest.raises(ConfigError, match="vol='egarch' is not allowed"):
        covar(root, vol="egarch")
    with pytest.raises(ConfigError, match="unknown option"):
        covar(root, windw=3)


# ---------------------------------------------------------------- bad inputs, check


def test_bad_input_optimizer_error_and_near_constant_bank_fail_alone(tmp_path, monkeypatch):
    """A bank whose fit raises (any optimizer exception) or whose returns are mostly one value fails alone,
    named in its status and in a quality record; the other banks are fitted and the stage completes."""
    import measures.dcc.fit as fit

    _, sim = tiny.simulate()
    bank = sim[:, 1:].copy()
    bank[::3, 1] = 0.0
    bank[1::3, 1] = 0.0  # B: two thirds of its returns are zero
    root = tiny.write_interim(tmp_path, bank_returns=bank)
    real = fit._assemble

    def assemble(frame, fits, config):
        if frame.columns[1] == "C":
            raise ValueError("Inequality constraints incompatible")
        return real(frame, fits, config)

    monkeypatch.setattr(fit, "_assemble", assemble)
    out = covar(root, max_failure_share=0.7)
    status = out["covar"].groupby("bank_id")["status"].first()
    assert status["A"] == "ok"
    assert status["B"].startswith("failed:ValueError: bank 'B': pair sample['B'] is near-constant: "
                                  "467 of 700 returns equal 0.0")
    assert status["C"] == "failed:ValueError: bank 'C': Inequality constraints incompatible"
    assert out["covar"].loc[out["covar"].bank_id != "A", "delta_covar"].isna().all()
    q = out["quality"].set_index("bank_id")
    assert set(q.index[q.reason == "fit_failed"]) == {"B", "C"}
    assert q.loc["C", "detail"].startswith("bank 'C': bivariate DCC-GARCH with the system: failed:ValueError")
    assert "count in max_failure_share" in q.loc["C", "detail"]
    with pytest.raises(FailureBudgetExceeded, match="2 of 3 fits failed"):
        covar(root)  # the failures count in the budget


def test_bad_input_second_step_convergence_failure_is_a_bank_status(tmp_path, monkeypatch):
    import measures.dcc.estimate as estimate

    real = estimate.minimize
    calls = []

    def minimize(*args, **kwargs):
        calls.append(1)
        res = real(*args, **kwargs)
        if len(calls) == 2:  # the second bank's DCC step
            res.success, res.message = False, "Inequality constraints incompatible"
        return res

    monkeypatch.setattr(estimate, "minimize", minimize)
    out = covar(tiny.write_interim(tmp_path))
    status = out["covar"].groupby("bank_id")["status"].first()
    assert status["B"] == "failed:ConvergenceError: DCC second step: Inequality constraints incompatible"
    assert status["A"] == status["C"] == "ok"
    assert out["quality"].loc[out["quality"].reason == "fit_failed", "bank_id"].tolist() == ["B"]


@pytest.mark.parametrize(("override", "match"), [
    ({"min_ob": 100}, r"^measures.covar_dcc: unknown option\(s\) min_ob"),
    ({"min_obs": 5}, r"^measures.covar_dcc: min_obs=5 is out of range"),
])
def test_bad_input_params_carry_the_group_prefix(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        covar(tiny.write_interim(tmp_path), **override)


def test_check_lines_name_short_and_near_constant_banks():
    from measures.dcc import CovarDCCParams
    from pipeline.schema import CanonicalData

    dates, sim = tiny.simulate()
    rows = []
    for k, bank in enumerate(tiny.BANKS):
        close = np.exp(np.cumsum(sim[:, 1 + k]))
        if bank == "B":
            close[:600] = 1.0  # a price stuck for 600 days: 599 zero returns of 699
        rows.append(pd.DataFrame({"bank_id": bank, "date": dates, "close": close, "market_cap": 1e9}))
    prices = pd.concat(rows, ignore_index=True)
    prices = prices[~((prices.bank_id == "C") & (prices.date < dates[500]))]  # C: 199 return days
    banks = pd.DataFrame({"bank_id": list(tiny.BANKS), "name": list(tiny.BANKS), "group": "g"})
    lines = load_stage("covar_dcc").check(CanonicalData(banks=banks, prices=prices), {"measures.covar_dcc": CovarDCCParams()})
    assert lines[0] == ("estimates", "ΔCoVaR-DCC for 2 bank(s) over 2019-01-02 .. 2021-09-07: A, B")
    assert lines[1] == ("skips", "ΔCoVaR-DCC: bank C has 199 return day(s) < 250 (measures.covar_dcc.min_obs)")
    assert lines[2][0] == "skips" and "bank 'B'" in lines[2][1] and "near-constant: 599 of 699 returns equal 0.0" in lines[2][1]
    assert len(lines) == 3
