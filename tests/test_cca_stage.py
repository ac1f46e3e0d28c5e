"""The ``cca`` stage: default data, not estimable without a barrier, no look-ahead, check lines, us-financials.

On the us-financials workbook (realdata, slow): the distance to default of Lehman Brothers and
of the two GSEs falls well before their failures (LEH: Chapter 11 on 2008-09-15; FNMA and FMCC:
conservatorship on 2008-09-07), as docs/cca.md states.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_not_estimable, copy_root, repo_params, run_stage, us_financials_data

from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance, write_parquet
from pipeline.stage import load_stage
from pipeline.schema import CanonicalData

INPUTS = ("prices", "returns", "system_returns", "quality/ingest", "quality/returns")


def _read(root, name):
    return read_parquet(root / artifact(name).path)


def _rewrite(root, name, frame):
    art = artifact(name)
    write_parquet(frame, root / art.path, key=art.key, dtypes=art.dtypes, provenance=read_provenance(root / art.path))


@pytest.fixture(scope="module")
def default_cca(default_root, tmp_path_factory):
    root = copy_root(default_root, tmp_path_factory.mktemp("cca") / "root", *INPUTS)
    run_stage(root, "cca")
    return root


def test_stage_on_default_data(default_cca):
    cca, total = _read(default_cca, "cca"), _read(default_cca, "cca_total")
    ok = cca[cca["status"] == "ok"]
    assert len(ok) > 0.9 * len(cca) and ok["bank_id"].nunique() == cca["bank_id"].nunique()
    assert ok["distance_to_default"].between(-5, 30).all() and (ok["asset_value"] > ok["equity_value"]).all()
    # the implicit put: V = E + D e^{-rT} - P on every row
    np.testing.assert_allclose(ok["asset_value"], ok["equity_value"] + ok["barrier"] * np.exp(-ok["rate"])
                               - ok["expected_loss"], rtol=1e-9)
    t = total.set_index("date")
    np.testing.assert_allclose(t.loc[ok["date"].unique(), "expected_loss_total"],
                               ok.groupby("date")["expected_loss"].sum().loc[ok["date"].unique()], rtol=1e-12)
    q = _read(default_cca, "quality/cca")
    assert set(q["reason"]) <= {"short_window", "missing_barrier", "not_converged"} and (q["action"] == "masked").all()


def test_bad_input_cca_without_liabilities_is_not_estimable(default_root, tmp_path):
    root = copy_root(default_root, tmp_path / "root", *INPUTS)
    bs = _read(root, "balance_sheet").drop(columns=["total_liabilities"])
    _rewrite(root, "balance_sheet", bs)
    reason = assert_not_estimable(run_stage(root, "cca"), r"no value in column\(s\) total_liabilities")
    assert "barrier 'total'" in reason


def test_bad_input_cca_short_plus_half_long_without_deposits(default_root, tmp_path):
    root = copy_root(default_root, tmp_path / "root", *INPUTS)
    _rewrite(root, "balance_sheet", _read(root, "balance_sheet").drop(columns=["deposits"]))
    ctx = run_stage(root, "cca", **{"measures.cca": {"barrier": "short_plus_half_long"}})
    assert_not_estimable(ctx, r"no value in column\(s\) deposits .* barrier 'short_plus_half_long'")


def test_bad_input_cca_rate_state_unknown(default_root, tmp_path):
    from measures.core.config import ConfigError

    root = copy_root(default_root, tmp_path / "root", *INPUTS)
    with pytest.raises(ConfigError, match=r"measures.cca: rate_state='FFR' is not a column of the market_states table; allowed: 'real_estate'"):
        run_stage(root, "cca", **{"measures.cca": {"rate_state": "FFR"}})


def test_rate_from_market_states_in_percent(default_root, tmp_path):
    root = copy_root(default_root, tmp_path / "root", *INPUTS)
    run_stage(root, "cca", **{"measures.cca": {"rate_state": "money"}})
    cca = _read(root, "cca").merge(_read(root, "market_states")[["date", "money"]], on="date")
    np.testing.assert_allclose(cca["rate"], cca["money"] / 100, rtol=1e-12)


@pytest.mark.parametrize("solver", ["two_equation", "kmv"])
def test_realtime_values_before_a_cutoff_do_not_change(default_cca, tmp_path, solver):
    """Perturb market caps, returns and the balance sheets published after a cut-off: rows dated before it are bit-identical."""
    params = repo_params(realtime=True, **{"measures.cca": {"solver": solver, "kmv_every": 63}})
    roots = []
    for name in ("base", "perturbed"):
        root = copy_root(default_cca, tmp_path / name, *INPUTS)
        roots.append(root)
    rets = _read(roots[1], "returns")
    cutoff = pd.Timestamp(np.sort(rets["date"].unique())[-250])
    late = rets["date"] >= cutoff
    rng = np.random.default_rng(5)
    rets.loc[late, "market_cap"] *= np.exp(rng.normal(0, 0.05, int(late.sum())))
    rets.loc[late, "ret"] += rng.normal(0, 0.02, int(late.sum()))
    _rewrite(roots[1], "returns", rets)
    bs = _read(roots[1], "balance_sheet")
    bs.loc[bs["publication_date"] >= cutoff, "total_liabilities"] *= 1.3
    _rewrite(roots[1], "balance_sheet", bs)
    for root in roots:
        run_stage(root, "cca", params)
    for name in load_stage("cca").outputs:
        a, b = _read(roots[0], name), _read(roots[1], name)
        assert a[a["date"] < cutoff].reset_index(drop=True).equals(b[b["date"] < cutoff].reset_index(drop=True)), name
        assert not a.equals(b), f"{name}: the perturbation did not reach the values after the cut-off"


def test_check_lines(default_root):
    from measures.systemic.cca_panel import CCAConfig

    tables = {n: _read(default_root, n) for n in ("banks", "prices", "balance_sheet", "market_states")}
    data = CanonicalData(**tables)
    lines = load_stage("cca").check(data, {"measures.cca": CCAConfig()})
    assert lines[0][0] == "estimates" and "16 of 16" in lines[0][1]
    assert ("fills", "CCA: constant risk-free rate 0.03 (measures.cca.rate)") in lines
    data.balance_sheet = None
    assert load_stage("cca").check(data, {"measures.cca": CCAConfig()})[0][0] == "cannot"


#: failure dates (first trading day on which the firm had failed / was taken over)
FAILURES = {"LEH": "2008-09-15", "FNMA": "2008-09-07", "FMCC": "2008-09-07"}


def _us_params(shared_data, solver):
    params = repo_params(data=us_financials_data(shared_data), **{"measures.cca": {"rate_state": "FFR", "solver": solver}})
    params["measures"]["returns"] = {"system": "sample", "suspensions": "mask", "suspension_min_run": 5,
                                     "drop_non_trading_days": True}
    return params


@pytest.fixture(scope="module")
def us_root(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("cca_us")
    for stage in ("ingest", "returns"):
        run_stage(root, stage, _us_params(shared_data, "two_equation"))
    return root


@pytest.fixture(scope="module", params=["two_equation", "kmv"])
def us_cca(request, us_root, shared_data, tmp_path_factory):
    root = copy_root(us_root, tmp_path_factory.mktemp(f"cca_us_{request.param}") / "root", *INPUTS)
    run_stage(root, "cca", _us_params(shared_data, request.param))
    return _read(root, "cca")


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("bank", sorted(FAILURES))
def test_us_financials_dd_falls_before_the_2008_failures(us_cca, bank):
    x = us_cca[(us_cca["bank_id"] == bank) & (us_cca["status"] == "ok")].set_index("date")["distance_to_default"]
    failure = pd.Timestamp(FAILURES[bank])
    calm = x["2006-01-01":"2006-12-31"].mean()
    before = x[x.index < failure]
    assert calm > 3.5  # a safe firm in 2006
    assert before.iloc[-1] < 1.0  # the last value before the failure
    # DD first fell below 2 (and stayed below 2 until the failure) months before it
    above = before[before >= 2.0]
    first_below = before.index[before.index > above.index[-1]][0]
    assert pd.Timestamp("2007-11-01") <= first_below <= failure - pd.Timedelta(days=120)
    # and the fall is among the largest of the firm's history: the pre-failure value is below the 5% quantile
    assert before.iloc[-1] < x[:"2007-06-30"].quantile(0.05)


def test_report_section(default_cca, tmp_path, monkeypatch):
    import dataclasses

    import pipeline.stages.report as report
    from pipeline.report.core import ReportContext, build_sections
    from pipeline.report.sections import cca as section

    if "cca" not in report.STAGE.inputs:  # until the report stage declares the cca artifacts
        monkeypatch.setattr(report, "STAGE", dataclasses.replace(report.STAGE, inputs=(*report.STAGE.inputs, "cca", "cca_total")))

    built = build_sections(ReportContext.open(default_cca), [section])[0]
    assert built.id == "cca" and "<code>solver</code> = two_equation" in built.intro and "constant 0.03" in built.intro
    assert built.metrics["rows"]["ok"] > 0 and built.metrics["expected_loss_total_max_bn"] > 0
    assert set(built.plots) >= {"dd_median", "latest", "lowest_dd", "health", "system"}
    assert "<img" in "".join(built.blocks) or "<svg" in "".join(built.blocks)
    shares = built.plots["latest"]["share %"]
    assert abs(shares.sum() - 100) < 1e-9
    assert section.build(ReportContext.open(tmp_path / "absent")) is None
