"""Stage mes_srisk: MES (historical, dynamic), LRMES, SRISK, SRISK%, aggregate SRISK from the stored DCC fits."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import repo_params, run_stage

from measures.core.config import ConfigError
from measures.systemic import SRiskPanelConfig, SystemicRiskConfig
from pipeline.io import read_parquet, write_parquet
from pipeline.report.core import ReportContext
from pipeline.report.sections import srisk as srisk_section
from pipeline.stage import load_stage

_SPEC = importlib.util.spec_from_file_location("tiny_dcc", Path(__file__).parent / "fixtures" / "covar_dcc" / "tiny.py")
tiny = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(tiny)

ARTIFACTS = {"mes": "measures/mes", "srisk": "measures/srisk", "total": "system/srisk_total", "quality": "quality/mes_srisk"}


def mes_srisk(root: Path, *, fit: bool = True, **changes) -> dict[str, pd.DataFrame]:
    """Run covar_dcc (unless ``fit`` is False) and mes_srisk under ``root``; the mes_srisk artifacts."""
    if fit:
        run_stage(root, "covar_dcc", **tiny.overrides())
    run_stage(root, "mes_srisk", **tiny.overrides(mes=changes))
    return {k: read_parquet(root / "data" / "processed" / f"{v}.parquet") for k, v in ARTIFACTS.items()}


def test_declaration_reads_the_stored_fits_and_params_are_the_api_defaults():
    stage = load_stage("mes_srisk")
    assert stage.inputs == ("dcc_paths", "covar_dcc_estimates", "dcc_param_paths", "returns", "balance_sheet")
    assert stage.outputs == ("mes", "srisk", "srisk_total")
    assert list(stage.params) == ["measures.mes_srisk"]  # no measures.covar_dcc: nothing is refitted
    params_cls = stage.params["measures.mes_srisk"]
    assert issubclass(params_cls, SystemicRiskConfig)
    names = [f.name for f in dataclasses.fields(SystemicRiskConfig)]
    assert {n: getattr(params_cls(), n) for n in names} == dataclasses.asdict(SystemicRiskConfig())
    assert params_cls() == SRiskPanelConfig()


def test_default_data_srisk_by_hand_carry_forward_and_report(stage_root):
    data = stage_root / "data"
    out = mes_srisk(stage_root)
    blobs = {p: p.read_bytes() for p in (data / "processed").glob("*/*.parquet") if "mes" in p.name or "srisk" in p.name}
    mes, sr, total = out["mes"], out["srisk"], out["total"]
    assert list(mes.columns) == ["bank_id", "date", "mes_hist", "mes_dyn", "status"]
    assert list(sr.columns) == ["bank_id", "date", "beta", "lrmes", "srisk", "srisk_share", "ses", "status"]
    assert list(total.columns) == ["date", "srisk_total"]
    np.testing.assert_allclose(sr["lrmes"], 1 - np.exp(np.log(0.6) * sr["beta"]), rtol=1e-12)
    # SRISK by hand for one bank, with liabilities published on a known date
    bank = "SOB01"
    bs = read_parquet(data / "interim" / "canonical" / "balance_sheet.parquet")
    bs = bs[bs.bank_id == bank].sort_values("publication_date")
    pub, prev = bs.iloc[3], bs.iloc[2]
    caps = read_parquet(data / "interim" / "returns.parquet")
    caps = caps[caps.bank_id == bank].set_index("date")["market_cap"]
    rows = sr[sr.bank_id == bank].set_index("date")
    on = rows.index[rows.index >= pub.publication_date][0]
    before = rows.index[rows.index < pub.publication_date][-1]
    for day, liab in ((on, pub.total_liabilities), (before, prev.total_liabilities)):  # never backward
        expected = 0.08 * liab - 0.92 * (1 - rows.loc[day, "lrmes"]) * caps[day]
        assert rows.loc[day, "srisk"] == pytest.approx(expected, rel=1e-12)
        # SES (θ = 1, δ = 0, historical MES): k (D + W) − (1 − MES) W, with the MES of the mes artifact
        mes_day = mes[(mes.bank_id == bank) & (mes.date == day)]["mes_hist"].item()
        assert rows.loc[day, "ses"] == pytest.approx(0.08 * (liab + caps[day]) - (1 - mes_day) * caps[day], rel=1e-12)
    # before the first publication: no liabilities, a status, no SRISK
    first = bs["publication_date"].min()
    early = rows[rows.index < first]
    assert len(early) and early["srisk"].isna().all() and early["ses"].isna().all() and early["status"].str.startswith("failed:MissingLiabilities").all()
    # aggregate and shares
    wide = sr.pivot(index="date", columns="bank_id", values="srisk")
    np.testing.assert_allclose(total.set_index("date")["srisk_total"], wide.clip(lower=0).sum(axis=1).where(wide.notna().any(axis=1)), rtol=1e-12)
    sums = sr.groupby("date")["srisk_share"].sum(min_count=1).dropna()
    np.testing.assert_allclose(sums[sums > 0], 1.0, rtol=1e-12)
    # MES: historical needs a full window; dynamic is positive on average; fits match covar_dcc
    first_hist = mes[mes.bank_id == bank]["mes_hist"].first_valid_index()
    assert first_hist - mes[mes.bank_id == bank].index[0] == 251
    assert mes["mes_dyn"].mean() > 0 and (mes["status"] == "ok").all()
    q = out["quality"]
    assert set(q["reason"]) == {"missing_liabilities"} and q["bank_id"].nunique() == 16
    mes_srisk(stage_root, fit=False)
    assert all(p.read_bytes() == b for p, b in blobs.items()) and len(blobs) == 4  # mes, srisk, srisk_total, quality
    # the report section builds from these artifacts (with the covar_dcc ones)
    cov = read_parquet(data / "processed/measures/covar_dcc.parquet")
    beta = cov["rho"] * cov["sigma_bank"] / cov["sigma_sys"]
    np.testing.assert_allclose(sr["beta"], beta, rtol=1e-12)
    section = srisk_section.build(ReportContext.open(data.parent, {"episodes": [{"name": "x", "start": "2015-06-01", "end": "2015-09-30"}]}))
    assert section is not None and section.metrics["fits"] == {"ok": 16, "warning": 0, "failed": 0}
    assert section.metrics["latest_date"] == pd.Timestamp("2020-12-31")
    assert len(section.plots["ranking_by_year"]) == 13 and "data:image/png;base64," in "".join(section.blocks)
    health = section.plots["health"]
    n_missing = int(sr["status"].str.startswith("failed:MissingLiabilities").sum())
    assert health.loc[(health.artifact == "srisk") & (health.status == "failed:MissingLiabilities"), "rows"].item() == n_missing


def test_missing_liabilities_zero_cap_negative_equity_and_stale_liabilities(tmp_path):
    dates, _ = tiny.simulate()
    cap = np.tile([5e9, 3e9, 1e9], (tiny.NOBS, 1))
    cap[400:410, 1] = 0.0  # B: price 0 for ten days
    bs = tiny.balance_sheet(dates)
    bs = bs[bs.bank_id != "C"]  # C: no liabilities at all
    bs.loc[(bs.bank_id == "A") & (bs.period_end == pd.Timestamp("2019-06-30")), "equity"] = -1e8
    bs = bs[~((bs.bank_id == "B") & (bs.period_end > pd.Timestamp("2019-12-31")))]  # B stops publishing
    root = tiny.write_interim(tmp_path, market_cap=cap, bs=bs)
    out = mes_srisk(root, max_liability_age_days=200)
    sr = out["srisk"].set_index(["bank_id", "date"])
    c = sr.loc["C"]
    assert c["srisk"].isna().all() and c["status"].str.startswith("failed:MissingLiabilities").all()
    assert sr.loc[("B", dates[405]), "status"].startswith("failed:NonPositiveMarketCap")
    assert np.isnan(sr.loc[("B", dates[405]), "srisk"])
    neg = sr.loc["A"]["status"] == "warning:NegativeBookEquity"
    assert neg.any() and sr.loc["A"].loc[neg, "srisk"].notna().all()  # a warning keeps the value
    assert sr.loc["A"].index[neg].min() == pd.Timestamp("2019-08-14")  # published 45 days after 2019-06-30
    stale = sr.loc["B"]["status"].str.startswith("failed:StaleLiabilities")
    assert stale.any() and sr.loc["B"].index[stale].min() > pd.Timestamp("2020-02-14") + pd.Timedelta(days=199)
    assert sr.loc["B"].loc[stale, "srisk"].isna().all()
    reasons = set(zip(out["quality"]["bank_id"], out["quality"]["reason"]))
    assert {("C", "missing_liabilities"), ("B", "non_positive_market_cap"), ("A", "negative_book_equity"),
            ("B", "stale_liabilities")} <= reasons
    # SRISK% excludes C and the missing rows: shares still sum to one where any bank is positive
    sums = out["srisk"].groupby("date")["srisk_share"].sum(min_count=1).dropna()
    np.testing.assert_allclose(sums[sums > 0], 1.0, rtol=1e-12)


def test_simulation_route_and_mes_route_and_bad_inputs(tmp_path):
    root = tiny.write_interim(tmp_path)
    out = mes_srisk(root, lrmes_route="simulation", n_paths=500, crash=0.10, simulation_dates="year_end")
    sr = out["srisk"]
    have = sr.dropna(subset=["lrmes"])
    assert set(have["date"]) == {pd.Timestamp("2019-12-31"), pd.Timestamp("2020-12-31"), pd.Timestamp("2021-09-07")}
    assert have["lrmes"].between(0, 1).all() and (out["mes"]["status"] == "ok").all()
    assert sr.dropna(subset=["srisk"])["date"].nunique() == 3  # SRISK only where LRMES was simulated
    out = mes_srisk(root, fit=False, lrmes_route="mes")
    merged = out["srisk"].merge(out["mes"], on=["bank_id", "date"])
    np.testing.assert_allclose(merged["lrmes"], 1 - np.exp(-18 * merged["mes_dyn"]), rtol=1e-12)
    with pytest.raises(ConfigError, match="measures.mes_srisk: lrmes_route='vlab' is not allowed"):
        mes_srisk(root, fit=False, lrmes_route="vlab")
    with pytest.raises(ConfigError, match="simulation_dates='month_end' is not allowed"):
        mes_srisk(root, fit=False, simulation_dates="month_end")


@pytest.mark.parametrize(("override", "match"), [
    ({"k": 1.5}, r"^measures.mes_srisk: k=1.5 is out of range"),
    ({"kk": 0.1}, r"^measures.mes_srisk: unknown option\(s\) kk"),
])
def test_bad_input_params_carry_the_group_prefix(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        mes_srisk(tiny.write_interim(tmp_path), fit=False, **override)


def test_bad_input_without_balance_sheet_mes_is_written_and_srisk_not_estimable(tmp_path):
    """balance_sheet is optional: MES needs market data only; SRISK and its total are marked, with the reason."""
    from pipeline.artifacts import artifact
    from pipeline.stage import not_estimable_mark

    root = tiny.write_interim(tmp_path)
    with_bs = mes_srisk(root)
    bs_path = root / "data" / "interim" / "canonical" / "balance_sheet.parquet"
    bs = read_parquet(bs_path)
    write_parquet(bs.drop(columns="total_liabilities"), bs_path, key=["bank_id", "period_end"])
    out = mes_srisk(root, fit=False)
    pd.testing.assert_frame_equal(out["mes"], with_bs["mes"])
    assert out["srisk"].empty and out["total"].empty
    mark = not_estimable_mark(root / artifact("srisk").path, artifact("srisk"))
    assert "no value in column(s) total_liabilities" in mark["reason"]
    assert mark["needs"] == "a balance_sheet table with total_liabilities, publication_date per bank and period"
    bs_path.unlink()
    out = mes_srisk(root, fit=False)
    pd.testing.assert_frame_equal(out["mes"], with_bs["mes"])
    for name in ("srisk", "srisk_total"):
        mark = not_estimable_mark(root / artifact(name).path, artifact(name))
        assert mark["reason"].startswith("the data has no balance_sheet table (SRISK needs book liabilities")
    q = out["quality"]
    assert q["action"].tolist() == ["not_estimable"] and q["table"].tolist() == ["balance_sheet"]


def test_check_lines_say_which_banks_have_liabilities():
    from pipeline.schema import CanonicalData

    dates, _ = tiny.simulate()
    prices = pd.DataFrame({"bank_id": np.repeat(list(tiny.BANKS), 3), "date": np.tile(dates[:3], 3), "close": 1.0,
                           "market_cap": 1e9})
    banks = pd.DataFrame({"bank_id": list(tiny.BANKS), "name": list(tiny.BANKS), "group": "g"})
    bs = tiny.balance_sheet(dates)
    check = load_stage("mes_srisk").check
    lines = check(CanonicalData(banks=banks, prices=prices, balance_sheet=bs[bs.bank_id != "C"]), {})
    assert lines == [("estimates", "MES (historical, dynamic) and LRMES for every bank with a ΔCoVaR-DCC fit"),
                     ("estimates", "SRISK from the published liabilities of 2 of 3 bank(s)"),
                     ("skips", "SRISK: bank C has no published total_liabilities (its SRISK is missing, with a status)")]
    lines = check(CanonicalData(banks=banks, prices=prices), {})
    assert lines[1] == ("cannot", "SRISK, SRISK% and aggregate SRISK: the data has no balance_sheet table (SRISK needs "
                                  "book liabilities: total_liabilities, publication_date)")


def test_measures_come_from_the_stored_paths_not_a_refit(tmp_path):
    root = tiny.write_interim(tmp_path)
    before = mes_srisk(root)["srisk"].set_index(["bank_id", "date"])
    path = root / "data" / "processed" / "estimates" / "dcc_paths.parquet"
    paths = read_parquet(path)
    paths.loc[paths.bank_id == "A", "sigma_bank"] *= 2.0  # a different stored fit for A
    write_parquet(paths, path, key=["bank_id", "date"])
    (root / "data" / "interim" / "system_returns.parquet").unlink()  # not an input of mes_srisk
    after = mes_srisk(root, fit=False)["srisk"].set_index(["bank_id", "date"])
    np.testing.assert_allclose(after.loc["A", "beta"], 2.0 * before.loc["A", "beta"], rtol=1e-12)
    pd.testing.assert_frame_equal(after.drop(index="A"), before.drop(index="A"))


@pytest.mark.realdata
@pytest.mark.slow
def test_us_financials_2008_srisk_is_carried_by_the_large_banks(tmp_path, shared_data):
    params = repo_params(
        **tiny.overrides(),
        data={"source": "files", "format": "toolbox", "raw_dir": str(shared_data / "us-financials"),
              "files": {"workbook": "Example_Large.xlsx"}, "money_unit": "USD m", "currency": "USD",
              "start": None, "end": None, "publication_lag_days": 45},
        **{"measures.returns": {"system": "index", "suspensions": "mask", "suspension_min_run": 5, "drop_non_trading_days": True}},
    )
    for stage in ("ingest", "returns", "covar_dcc", "mes_srisk"):
        run_stage(tmp_path, stage, params)
    out = {k: read_parquet(tmp_path / "data" / "processed" / f"{v}.parquet") for k, v in ARTIFACTS.items()}
    sr = out["srisk"]
    assert sr["bank_id"].nunique() == 20 and not sr["status"].str.startswith("failed:ValueError").any()
    y = sr[sr.date.dt.year == 2008].groupby("bank_id")["srisk"].mean().clip(lower=0)
    share = y / y.sum()
    assert share.idxmax() == "C" and 0.15 < share["C"] < 0.25
    assert {"BAC", "JPM", "MS", "FNMA", "FMCC", "GS", "AIG", "LEH"} <= set(share[share > 0.05].index)
    assert share["BRK"] == 0.0  # Berkshire has a capital surplus
    neg = sr[sr.status == "warning:NegativeBookEquity"]
    assert set(neg["bank_id"]) == {"AIG", "FNMA", "FMCC"}
    # FMCC's first negative equity is the 2008-06-30 period: used 45 days later, never before
    assert neg.loc[neg.bank_id == "FMCC", "date"].min() == pd.Timestamp("2008-08-14")
    assert sr.loc[sr.bank_id == "LEH", "date"].max() == pd.Timestamp("2008-09-15")
    total = out["total"].set_index("date")["srisk_total"]
    assert 500e9 < total[total.index.year == 2008].mean() < 900e9


def test_stage_maps_its_per_bank_work_and_a_process_pool_writes_the_same_bytes(tmp_path):
    from conftest import RecordingMapper, repo_params
    from pool_mapper import PoolMapper

    from pipeline.stage import run_stage as run

    root = tiny.write_interim(tmp_path)
    params = repo_params(**tiny.overrides(mes={"lrmes_route": "simulation", "n_paths": 300, "crash": 0.10,
                                               "simulation_dates": "year_end"}))
    run("covar_dcc", params=params, root=root)
    outputs = [root / "data" / "processed" / f"{v}.parquet" for v in ARTIFACTS.values()]
    recording = RecordingMapper()
    run("mes_srisk", params=params, root=root, mapper=recording)
    assert [d for d, _ in recording.calls] == ["dynamic MES", "LRMES simulation", "historical MES"]
    serial = [p.read_bytes() for p in outputs]
    pool = PoolMapper(2)
    try:
        run("mes_srisk", params=params, root=root, mapper=pool)
    finally:
        pool.close()
    assert [p.read_bytes() for p in outputs] == serial
