"""The stress_interbank stage and its science (measures/stress/interbank_study.py).

The clearing vector the stage writes is checked against the linear programme of the clearing
problem on the stage's own matrix; sequential default against a hand case; Rogers–Veraart with
unit rates against Eisenberg–Noe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from conftest import assert_not_estimable, copy_root, repo_params, run_stage
from measures.core.config import ConfigError
from measures.stress.interbank_study import (
    InterbankConfig,
    InterbankScenario,
    InterbankSystem,
    build_system,
    interbank_inputs,
    interbank_study,
    run_scenario,
)
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance
from pool_mapper import PoolMapper

GROUP = "stress.interbank"
OUTPUTS = ("interbank_matrix", "interbank_exposures", "interbank_banks", "interbank_scenarios")


def outputs(root: Path) -> dict[str, pd.DataFrame]:
    return {k: read_parquet(root / artifact(k).path) for k in (*OUTPUTS, "quality/stress_interbank")}


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("interbank")
    run_stage(root, "stress_interbank")
    return root, outputs(root)


@pytest.fixture(scope="module")
def min_density_run(tmp_path_factory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("interbank_md")
    run_stage(root, "stress_interbank", **{GROUP: {"matrix": "min_density"}})
    return outputs(root)


# ----------------------------------------------------------------------------- the LP of the clearing problem


def lp_clearing(exposures: pd.DataFrame, banks: pd.DataFrame) -> np.ndarray:
    """The greatest clearing vector as the LP max Σp s.t. p ≤ p̄, p ≤ e + Π'p, p ≥ 0 (Eisenberg & Noe 2001, Lemma 4).

    Built from the stage's artifacts only: ``L_ij = X_ji`` among the banks, ``p̄_i`` = the bank's
    total obligation (interbank plus the external creditors it owes ``other_liabilities``),
    ``e`` = its external assets in the scenario. Amounts are scaled by max p̄ for the solver."""
    ids = list(banks["bank_id"])
    pos = {b: k for k, b in enumerate(ids)}
    n = len(ids)
    liab = np.zeros((n, n))
    liab[exposures["borrower"].map(pos).to_numpy(), exposures["lender"].map(pos).to_numpy()] = exposures["amount"]
    pbar = liab.sum(axis=1) + banks["other_liabilities"].to_numpy()
    np.testing.assert_allclose(pbar, banks["obligation"], rtol=1e-12)
    scale = pbar.max()
    pi = liab / pbar[:, None]
    e = banks["external_assets"].to_numpy() / scale
    lp = linprog(-np.ones(n), A_ub=np.eye(n) - pi.T, b_ub=e, bounds=list(zip(np.zeros(n), pbar / scale)),
                 method="highs", options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    assert lp.status == 0, lp.message
    return lp.x * scale


@pytest.mark.parametrize("run", ["synthetic_run", "min_density_run"])
def test_stage_clearing_vector_equals_the_linear_programme_on_its_own_matrix(run, request):
    out = request.getfixturevalue(run)
    out = out[1] if isinstance(out, tuple) else out
    banks = out["interbank_banks"]
    en = banks[banks["model"] == "eisenberg_noe"]
    assert set(en["scenario"]) == {"largest_1", "ranks_16_45", "ranks_16_115", "shock_5pct"}
    for name, g in en.groupby("scenario"):
        g = g.sort_values("bank_id")
        p_lp = lp_clearing(out["interbank_exposures"], g)
        pbar = g["obligation"].to_numpy()
        err = np.abs(p_lp - g["payment"].to_numpy()) / pbar.max()
        assert err.max() <= 1e-8, (name, err.max())
        # and defaults are exactly the banks paying less than they owe
        short = g["payment"].to_numpy() < pbar * (1 - 1e-12)
        assert (short == g["defaulted"].to_numpy()).all(), name


def test_matrix_meets_the_margins_and_outputs_are_complete(synthetic_run):
    root, out = synthetic_run
    m = out["interbank_matrix"].iloc[0]
    assert m["method"] == "maxent" and m["n_banks"] == 263 and m["status"] == "ok" and m["max_margin_error"] <= 1e-10
    x = out["interbank_exposures"]
    assert (x["lender"] != x["borrower"]).all() and (x["amount"] > 0).all()
    banks, scen = out["interbank_banks"], out["interbank_scenarios"]
    assert len(banks) == 263 * 4 * 3 and len(scen) == 4 * 3
    # the cascade study's groups fail first: ranks 16–45 are 30 banks, 16–115 are 100
    first = scen.set_index(["scenario", "model"])["n_initial"]
    assert first[("ranks_16_45", "sequential")] == 30 and first[("ranks_16_115", "sequential")] == 100
    seq = banks[(banks["model"] == "sequential") & (banks["scenario"] == "ranks_16_45")]
    assert set(seq.loc[seq["initial"], "size_rank"]) == set(range(16, 46))
    assert (seq.loc[seq["initial"], "default_round"] == 0).all()
    # every scenario's summary agrees with its banks
    for (name, model), g in banks.groupby(["scenario", "model"]):
        row = scen[(scen["scenario"] == name) & (scen["model"] == model)].iloc[0]
        assert row["n_defaulted"] == g["defaulted"].sum()
        assert row["loss_interbank"] == pytest.approx(g["loss_interbank"].sum(), rel=1e-12)
    prov = read_provenance(root / artifact("interbank_banks").path)
    assert prov["data_source"]["kind"] == "synthetic" and prov["data_source"]["seed"] == 20190101


def test_default_payments_never_exceed_obligations_and_losses_follow_from_payments(synthetic_run):
    banks = synthetic_run[1]["interbank_banks"]
    clear = banks[banks["model"] != "sequential"]
    assert (clear["payment"] <= clear["obligation"] * (1 + 1e-14)).all() and (clear["payment"] >= 0).all()
    assert (clear.loc[clear["defaulted"], "equity_after"] < 0).all()
    assert (clear.loc[~clear["defaulted"], "equity_after"] >= 0).all()
    # default costs only lower payments: Rogers–Veraart pays at most Eisenberg–Noe, bank by bank
    en = clear[clear["model"] == "eisenberg_noe"].set_index(["scenario", "bank_id"])["payment"]
    rv = clear[clear["model"] == "rogers_veraart"].set_index(["scenario", "bank_id"])["payment"]
    assert (rv <= en.reindex(rv.index) * (1 + 1e-12)).all()


# ----------------------------------------------------------------------------- hand cases


def _hand_system(x: np.ndarray, equity, external, other) -> InterbankSystem:
    n = x.shape[0]
    return InterbankSystem(bank_ids=tuple(f"B{k}" for k in range(n)), x=x, external=np.asarray(external, float),
                           other=np.asarray(other, float), equity=np.asarray(equity, float),
                           total_assets=np.asarray(external, float) + x.sum(axis=1), size_rank=np.arange(1, n + 1))


def test_sequential_default_hand_case_with_lgd():
    # B1 holds a claim of 10 on B0, B2 a claim of 8 on B1; capital 5, 6, 3; B0 fails first
    x = np.zeros((3, 3))
    x[1, 0], x[2, 1] = 10.0, 8.0
    system = _hand_system(x, equity=[5, 6, 3], external=[50, 50, 50], other=[40, 46, 55])
    first = InterbankScenario(name="b0", banks=("B0",))

    def seq(lgd):
        rows = run_scenario(first, system=system, config=InterbankConfig(lgd=lgd, scenarios=(first,)))
        return rows[rows["model"] == "sequential"].set_index("bank_id")

    low = seq(0.5)  # B1 loses 0.5 × 10 = 5 < 6: the cascade stops
    assert low["default_round"]["B0"] == 0 and low["default_round"][["B1", "B2"]].isna().all()
    assert low["defaulted"].tolist() == [True, False, False]
    np.testing.assert_allclose(low["loss_interbank"], [0.0, 5.0, 0.0])
    np.testing.assert_allclose(low["equity_after"], [5.0, 1.0, 3.0])
    high = seq(0.7)  # B1 loses 7 > 6 (round 1); B2 loses 0.7 × 8 = 5.6 > 3 (round 2)
    assert high["default_round"].astype(float).tolist() == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(high["loss_interbank"], [0.0, 7.0, 5.6])
    # a common shock that wipes out B2's capital makes it an initial failure: 3 − 0.1 × 50 < 0
    shocked = InterbankScenario(name="shock", shock=0.1)
    rows = run_scenario(shocked, system=system, config=InterbankConfig(lgd=0.0, scenarios=(shocked,)))
    rows = rows[rows["model"] == "sequential"].set_index("bank_id")
    assert rows["defaulted"].tolist() == [False, False, True] and rows["default_round"]["B2"] == 0
    np.testing.assert_allclose(rows["equity_after"], [0.0, 1.0, -2.0])


def test_clearing_hand_case_and_rogers_veraart_with_unit_rates_is_eisenberg_noe():
    # B0 owes B1 10 (X[1,0]) and its external creditors 5; B0 fails first: it keeps no external assets
    x = np.zeros((2, 2))
    x[1, 0] = 10.0
    system = _hand_system(x, equity=[2, 9], external=[17, 20], other=[5, 21])
    first = InterbankScenario(name="b0", banks=("B0",))
    cfg = InterbankConfig(initial_loss=0.8, rv_alpha=0.5, rv_beta=1.0, scenarios=(first,))
    rows = run_scenario(first, system=system, config=cfg).set_index(["model", "bank_id"])
    # B0 has 0.2 × 17 = 3.4 for obligations 15: pays 3.4, B1 gets 10/15 of it; EN: no default cost
    assert rows.loc[("eisenberg_noe", "B0"), "payment"] == pytest.approx(3.4, abs=1e-12)
    assert rows.loc[("eisenberg_noe", "B1"), "loss_interbank"] == pytest.approx(10 - 3.4 * 10 / 15, abs=1e-12)
    assert not rows.loc[("eisenberg_noe", "B1"), "defaulted"] and rows.loc[("eisenberg_noe", "B0"), "defaulted"]
    assert rows.loc[("eisenberg_noe", "B1"), "equity_after"] == pytest.approx(20 + 3.4 * 10 / 15 - 21, abs=1e-12)
    # Rogers–Veraart: B0 realises α = 0.5 of its external assets
    assert rows.loc[("rogers_veraart", "B0"), "payment"] == pytest.approx(1.7, abs=1e-12)
    unit = InterbankConfig(rv_alpha=1.0, rv_beta=1.0, initial_loss=0.8, scenarios=(first,))
    for sys_ in (system, _random_system(np.random.default_rng(3), 15)):
        rows = run_scenario(first, system=sys_, config=unit)
        en = rows[rows["model"] == "eisenberg_noe"].drop(columns="model").reset_index(drop=True)
        rv = rows[rows["model"] == "rogers_veraart"].drop(columns="model").reset_index(drop=True)
        pd.testing.assert_frame_equal(en, rv)


def _random_system(rng, n: int) -> InterbankSystem:
    x = rng.uniform(0, 10, (n, n)) * (rng.uniform(size=(n, n)) < 0.5)
    np.fill_diagonal(x, 0.0)
    external = rng.uniform(20, 60, n)
    equity = rng.uniform(1, 8, n)
    other = np.maximum(external + x.sum(axis=1) - x.sum(axis=0) - equity, 0.0)
    return _hand_system(x, equity=equity, external=external, other=other)


# ----------------------------------------------------------------------------- inputs, parallel, params


def _cross_section() -> pd.DataFrame:
    from pipeline.simulator.network_banks import simulate_network_banks

    return simulate_network_banks(seed=20190101).head(40)


def test_scenarios_mapped_in_other_processes_equal_serial():
    frame = _cross_section()[["bank_id", "total_assets", "equity", "interbank_assets", "interbank_liabilities"]]
    cfg = InterbankConfig(scenarios=(InterbankScenario(name="a", ranks=(1, 3)), InterbankScenario(name="b", shock=0.04)))
    serial = interbank_study(frame, cfg)
    pool = PoolMapper(2)
    try:
        parallel = interbank_study(frame, cfg, mapper=pool)
    finally:
        pool.close()
    pd.testing.assert_frame_equal(serial.banks, parallel.banks)
    pd.testing.assert_frame_equal(serial.scenarios, parallel.scenarios)


def test_balance_sheet_input_records_exclusions():
    bs = _cross_section().assign(period_end=pd.Timestamp("2019-12-31"))
    bs.loc[bs.index[0], "interbank_assets"] = np.nan
    bs.loc[bs.index[1], "interbank_assets"] = bs.loc[bs.index[1], "total_assets"] * 2
    plan = interbank_inputs(bs)
    assert plan.reason is None and len(plan.frame) == 38
    reasons = dict(zip(plan.events["bank_id"], plan.events["reason"]))
    assert reasons == {bs["bank_id"].iloc[0]: "missing_input", bs["bank_id"].iloc[1]: "interbank_above_assets"}
    system, events = build_system(plan.frame, np.zeros((38, 38)))
    assert events.empty and (system.external == plan.frame["total_assets"]).all()


def test_stage_on_the_canonical_balance_sheet(tmp_path, default_root):
    root = copy_root(default_root, tmp_path / "root", "balance_sheet", "banks", "canonical/meta")
    run_stage(root, "stress_interbank", **{GROUP: {"source": "balance_sheet"}})
    out = outputs(root)
    assert out["interbank_matrix"]["n_banks"].iloc[0] == 16
    assert set(out["interbank_scenarios"]["model"]) == {"sequential", "eisenberg_noe", "rogers_veraart"}
    # the dataset's own provenance, not the 263-bank simulator's
    assert read_provenance(root / artifact("interbank_banks").path)["data_source"].get("generator") is None


def test_bad_input_no_balance_sheet_is_not_estimable(tmp_path):
    ctx = run_stage(tmp_path, "stress_interbank", **{GROUP: {"source": "balance_sheet"}})
    assert_not_estimable(ctx, "no balance_sheet table")


def test_bad_input_balance_sheet_without_interbank_columns():
    bs = _cross_section().assign(period_end=pd.Timestamp("2019-12-31")).drop(columns=["interbank_liabilities"])
    plan = interbank_inputs(bs)
    assert plan.reason and "interbank_liabilities: absent from balance_sheet" in plan.reason


@pytest.mark.parametrize(("override", "match"), [
    ({"lgd": 1.5}, r"stress\.interbank: lgd=1\.5 is out of range"),
    ({"rv_alpha": 0.0}, r"stress\.interbank: rv_alpha=0"),
    ({"matrix": "dense"}, r"stress\.interbank: matrix='dense'"),
    ({"scenarios": [{"name": "x", "ranks": [5, 2]}]}, r"scenarios\[x\]\.ranks last"),
    ({"scenarios": [{"name": "x"}]}, r"scenarios\[x\]: nothing happens"),
    ({"scenarios": [{"name": "x", "shock": 0.1}, {"name": "x", "shock": 0.2}]}, r"unique names"),
])
def test_bad_input_params(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        run_stage(tmp_path, "stress_interbank", **{GROUP: override})


def test_bad_input_unknown_bank_in_scenario(tmp_path):
    with pytest.raises(ConfigError, match=r"stress\.interbank\.scenarios\[x\]\.banks: unknown bank id\(s\) NOPE"):
        run_stage(tmp_path, "stress_interbank", **{GROUP: {"scenarios": [{"name": "x", "banks": ["NOPE"]}]}})


def test_params_defaults_equal_the_api():
    params = repo_params()["stress"]["interbank"]
    assert InterbankConfig.from_mapping(params, where=GROUP) == InterbankConfig()


# ----------------------------------------------------------------------------- report section


def _report(root: Path):
    """A report context whose stage declares the section's artifacts (as the report stage does once it is wired)."""
    import dataclasses

    from pipeline.compute import SerialMapper
    from pipeline.report.core import ReportContext
    from pipeline.report_config import ReportConfig
    from pipeline.stage import StageContext, load_stage

    stage = load_stage("report")
    stage = dataclasses.replace(stage, inputs=(*stage.inputs, *(k for k in OUTPUTS if k not in stage.inputs)))
    config = ReportConfig()
    return ReportContext(StageContext(stage=stage, params={"report": config.to_dict()}, root=root,
                                      mapper=SerialMapper("report"), configs={"report": config}), config)


def test_report_section_from_the_stage_artifacts(synthetic_run, tmp_path):
    from pipeline.report.core import build_sections
    from pipeline.report.sections import interbank

    root, out = synthetic_run
    section = build_sections(_report(root), [interbank])[0]
    assert section.sources == ["interbank_matrix", "interbank_scenarios", "interbank_banks"]
    assert section.metrics["ranks_16_115.sequential.n_defaulted"] == 101
    assert section.metrics["data"] == "simulated" and "<b>Simulated data.</b>" in section.provenance
    assert "<img" in "".join(section.blocks)
    table = interbank.hierarchy_table(out["interbank_banks"])
    first = table[(table["scenario"] == "ranks_16_115") & (table["round"] == 1)].iloc[0]
    assert first["sequential (Furfine)"] == first["Rogers–Veraart"] and first["Eisenberg–Noe"] == ""
    assert "(100 banks)" in table[(table["scenario"] == "ranks_16_115") & (table["round"] == 0)].iloc[0]["Eisenberg–Noe"]
    assert interbank.build(_report(tmp_path / "absent")) is None


def test_check_lines_say_what_the_stage_will_run_on():
    from types import SimpleNamespace

    from pipeline.params import DataConfig
    from pipeline.stages.stress_interbank import check

    cfg = {GROUP: InterbankConfig(source="balance_sheet"), "data": DataConfig(source="files")}
    bs = _cross_section().assign(period_end=pd.Timestamp("2019-12-31"))
    bs.loc[bs.index[0], "equity"] = np.nan
    lines = check(SimpleNamespace(balance_sheet=bs), cfg)
    assert lines[0] == ("estimates", "sequential default and clearing on 39 banks at 2019-12-31 (one cross-section)")
    assert lines[1][0] == "skips" and "missing_input: 1 row(s)" in lines[1][1]
    assert check(SimpleNamespace(balance_sheet=None), cfg)[0][0] == "cannot"
    synthetic = check(SimpleNamespace(balance_sheet=None), {GROUP: InterbankConfig(source="synthetic"),
                                                             "data": DataConfig(source="files")})
    assert "SIMULATED" in synthetic[0][1] and "NOT your balance sheets" in synthetic[0][1]


def test_bad_input_period_without_rows_and_latest_complete_period():
    base = _cross_section()
    bs = pd.concat([base.assign(period_end=pd.Timestamp("2018-12-31")),
                    base.head(1).assign(period_end=pd.Timestamp("2019-12-31"))], ignore_index=True)
    plan = interbank_inputs(bs)  # 2019 has one bank only: the cross-section is 2018, and 2019 is recorded
    assert plan.period == pd.Timestamp("2018-12-31") and len(plan.frame) == 40
    assert list(plan.events["reason"]) == ["later_periods_incomplete"]
    bad = interbank_inputs(bs, "2017-12-31")
    assert bad.reason.startswith("stress.interbank.period='2017-12-31': no balance_sheet rows at 2017-12-31")


def test_margins_matrix_rescales_to_the_smaller_total():
    from measures.stress.maxent import margins_matrix, max_entropy_matrix, minimum_density_matrix

    a, l = np.array([4.0, 3.0, 2.0]), np.array([3.0, 4.0, 4.0])  # ΣA = 9 < ΣL = 11
    got = margins_matrix(a, l)
    np.testing.assert_array_equal(got.matrix, max_entropy_matrix(a, l, rescale="assets").matrix)
    np.testing.assert_allclose(got.matrix.sum(axis=1), a, rtol=1e-10)
    sparse = margins_matrix(l, a, method="min_density")  # now ΣL < ΣA: the liabilities' total
    np.testing.assert_array_equal(sparse.matrix, minimum_density_matrix(l, a, rescale="liabilities").matrix)
    with pytest.raises(ConfigError, match="method='dense'"):
        margins_matrix(a, l, method="dense")


def test_scenarios_beyond_the_system_are_recorded():
    frame = _cross_section()[["bank_id", "total_assets", "equity", "interbank_assets", "interbank_liabilities"]]
    cfg = InterbankConfig(scenarios=(InterbankScenario(name="part", ranks=(16, 115)),
                                     InterbankScenario(name="none", ranks=(50, 60)),
                                     InterbankScenario(name="shocked", ranks=(50, 60), shock=0.01)))
    study = interbank_study(frame, cfg, when=pd.Timestamp("2019-12-31"))
    assert sorted(study.scenarios["scenario"].unique()) == ["part", "shocked"]
    assert study.scenarios.loc[study.scenarios["scenario"] == "part", "n_initial"].eq(25).all()
    ev = study.events.set_index("detail")
    assert list(study.events["action"]) == ["flagged", "ignored", "flagged"]
    assert any("scenario none: ranks 50-60 but the system has 40 banks; nothing happens: not run" in d for d in ev.index)
    assert (study.banks["loss_interbank"] >= 0).all()
