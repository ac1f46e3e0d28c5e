"""The rankings stage through the runner: rank tables, Kendall τ, quality, look-ahead, mapped = serial, report.

Inputs are small hand-made artifacts: four measures of six banks over two years with planted
means (B0 > B1 > ... for ΔCoVaR-DCC), and the planted-VAR ΔCoVaR of tests/test_contagion_chain.py
as the contagion input, whose contagion_windows and crw come from the contagion science itself.
The science is tested in tests/test_rankings.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import assert_not_estimable, repo_params, run_stage
from pool_mapper import PoolMapper
from test_contagion_chain import planted
from measures.contagion import ContagionParams, contagion_series, estimate_contagion
from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance, write_parquet
from pipeline.report.core import ReportContext, build_sections, render_report
from pipeline.report.sections import rankings as section
from pipeline.stage import not_estimable_mark
from pipeline.stage import run_stage as run_with

FAST = {"replications": 20, "block_length": 10.0}
OUTPUTS = ("rankings", "rankings_crw", "rankings_tau")


def params(**rankings):
    return repo_params(**{"measures.rankings": {**FAST, **rankings}})


def read(root: Path, name: str) -> pd.DataFrame:
    return read_parquet(root / artifact(name).path)


def measures_long(seed: int = 0) -> dict[str, pd.DataFrame]:
    """Long frames of the four ranked measures; the dcc ΔCoVaR is the planted VAR shifted by bank means."""
    var = planted(n_banks=6, years=(2010, 2011), seed=seed)
    shift = var["bank_id"].str[1:].astype(int).rsub(6).astype(float)  # B0 +6 ... B5 +1
    dcc = var.assign(delta_covar=var["delta_covar"] + shift)
    rng = np.random.default_rng(seed)
    frames = {"covar_dcc": dcc, "covar_qr": dcc.assign(delta_covar=dcc["delta_covar"] * 0.5)}
    frames["mes"] = dcc.rename(columns={"delta_covar": "mes_dyn"}).assign(mes_dyn=lambda f: -f["mes_dyn"])
    srisk = dcc.rename(columns={"delta_covar": "srisk"}).assign(srisk=lambda f: rng.standard_normal(len(f)))
    srisk.loc[srisk["date"] < "2010-02-01", "status"] = "failed:MissingLiabilities: none published"
    frames["srisk"] = srisk
    return frames


def build_root(root: Path, frames: dict[str, pd.DataFrame]) -> Path:
    """Write the measure frames and the contagion outputs made from the covar_dcc frame."""
    for name, frame in frames.items():
        write_parquet(frame, root / artifact(name).path, key=["bank_id", "date"],
                      provenance={"data_source": {"kind": "synthetic", "generator": "test", "seed": 0}})
    options = ContagionParams().chain().chain_options()
    panel = estimate_contagion(contagion_series(frames["covar_dcc"]).series, **options)
    write_parquet(panel.windows, root / artifact("contagion_windows").path, key=["year"])
    write_parquet(panel.crw, root / artifact("crw").path, key=["bank_id", "year"])
    return root


@pytest.fixture(scope="module")
def ranked(tmp_path_factory) -> Path:
    root = build_root(tmp_path_factory.mktemp("rankings"), measures_long())
    run_stage(root, "rankings", params())
    return root


def test_stage_writes_the_rank_tables(ranked):
    ranks = read(ranked, "rankings")
    assert sorted(ranks["measure"].unique()) == ["covar_dcc", "covar_qr", "mes", "srisk"]
    dcc = ranks[ranks["measure"] == "covar_dcc"].set_index("bank_id")
    assert dcc["rank"].to_dict() == {f"B{k}": float(k + 1) for k in range(6)}  # planted order
    assert (dcc["rank_lo"] == dcc["rank"]).all() and (dcc["rank_hi"] == dcc["rank"]).all()
    assert dcc.loc[["B0", "B1", "B2"], "p_top_k"].eq(1.0).all() and dcc.loc[["B3", "B4", "B5"], "p_top_k"].eq(0.0).all()
    mes = ranks[ranks["measure"] == "mes"].set_index("bank_id")
    assert mes.loc["B5", "rank"] == 1  # minus the dcc values: the reversed order
    assert ranks["replications"].eq(20).all() and ranks["block_length"].eq(10.0).all()
    crw = read(ranked, "rankings_crw")
    assert sorted(crw["year"].unique()) == [2010, 2011] and crw.groupby("year").size().eq(6).all()
    expected = read(ranked, "crw").set_index(["year", "bank_id"])["crw"]
    assert np.allclose(crw.set_index(["year", "bank_id"])["value"], expected.reindex(crw.set_index(["year", "bank_id"]).index),
                       rtol=0, atol=1e-12)
    tau = read(ranked, "rankings_tau").set_index(["kind", "a", "b"])
    assert tau.loc[("measures", "covar_dcc", "mes"), "tau"] == pytest.approx(-1.0)
    assert tau.loc[("measures", "covar_qr", "covar_dcc"), "tau"] == pytest.approx(1.0)
    assert ("crw_years", "2010", "2011") in tau.index
    prov = read_provenance(ranked / artifact("rankings").path)
    assert prov["params"]["measures.rankings"]["replications"] == 20 and "contagion" in prov["params"]
    assert prov["data_source"]["kind"] == "synthetic"


def test_stage_records_the_rows_it_leaves_out(ranked):
    quality = read(ranked, "quality/rankings")
    rows = quality[(quality["table"] == "srisk") & (quality["reason"] == "fit_status")]
    assert len(rows) == 6 and rows["n_rows"].eq(21).all()  # January 2010: 21 business days per bank
    assert not (quality["reason"] == "crw_mismatch").any()


def test_stage_mapped_equals_serial(ranked, tmp_path):
    root = build_root(tmp_path, measures_long())
    mapper = PoolMapper(2)
    try:
        run_with("rankings", params=params(), root=root, mapper=mapper)
    finally:
        mapper.close()
    for name in OUTPUTS:
        assert (root / artifact(name).path).read_bytes() == (ranked / artifact(name).path).read_bytes()


def test_stage_look_ahead_years_before_a_cut_off_are_unchanged(ranked, tmp_path):
    """Changing every input from 2011 on leaves the CRW ranks of 2010 exactly as they were."""
    frames = measures_long()
    later = {name: f.assign(**{f.columns[2]: np.where(f["date"] >= "2011-01-01", f[f.columns[2]] * 3.0 + 1.0,
                                                      f[f.columns[2]])})
             for name, f in frames.items()}
    root = build_root(tmp_path, later)
    run_stage(root, "rankings", params())
    before, after = read(ranked, "rankings_crw"), read(root, "rankings_crw")
    assert after[after.year == 2010].reset_index(drop=True).equals(before[before.year == 2010].reset_index(drop=True))
    assert not after[after.year == 2011].reset_index(drop=True).equals(before[before.year == 2011].reset_index(drop=True))


def test_bad_input_contagion_rolling_marks_the_crw_ranks(tmp_path):
    root = build_root(tmp_path, measures_long())
    p = params()
    p["contagion"]["window"] = "rolling"
    ctx = run_stage(root, "rankings", p)
    mark = not_estimable_mark(root / artifact("rankings_crw").path, artifact("rankings_crw"))
    assert "per calendar year" in mark["reason"] and mark["needs"] == "contagion.window: year"
    assert read(root, "rankings").shape[0] == 24 and set(read(root, "rankings_tau")["kind"]) == {"measures"}
    assert ctx.not_estimable_reason is None


def test_bad_input_crw_of_the_contagion_stage_differs_is_flagged(tmp_path):
    root = build_root(tmp_path, measures_long())
    crw = read(root, "crw")
    write_parquet(crw.assign(crw=crw["crw"] * 1.01), root / artifact("crw").path, key=["bank_id", "year"])
    run_stage(root, "rankings", params())
    quality = read(root, "quality/rankings")
    assert "does not replicate the contagion stage" in quality.loc[quality["reason"] == "crw_mismatch", "detail"].item()


def test_bad_input_contagion_windows_absent_marks_the_crw_ranks(tmp_path):
    root = build_root(tmp_path, measures_long())
    (root / artifact("contagion_windows").path).unlink()
    run_stage(root, "rankings", params())
    mark = not_estimable_mark(root / artifact("rankings_crw").path, artifact("rankings_crw"))
    assert mark["reason"].startswith("contagion has no yearly CRW") and len(read(root, "rankings")) == 24


def test_bad_input_crw_switched_off_and_a_measure_absent(tmp_path):
    frames = measures_long()
    del frames["srisk"]
    root = build_root(tmp_path, frames)
    run_stage(root, "rankings", params(crw=False))
    assert "measures.rankings.crw is false" in not_estimable_mark(root / artifact("rankings_crw").path,
                                                                  artifact("rankings_crw"))["reason"]
    assert "srisk" not in set(read(root, "rankings")["measure"])
    quality = read(root, "quality/rankings")
    assert "srisk is not ranked" in quality.loc[quality["reason"] == "input_absent", "detail"].item()


def test_bad_input_no_measure_at_all(tmp_path):
    ctx = run_stage(tmp_path, "rankings", params(crw=False))
    assert_not_estimable(ctx, "no measure to rank")
    assert not_estimable_mark(tmp_path / artifact("rankings").path, artifact("rankings")) is not None


def test_bad_input_every_measure_too_short_keeps_the_crw_ranks(tmp_path):
    root = build_root(tmp_path, measures_long())
    run_stage(root, "rankings", params(min_obs=1000))  # two years of days < 1000: no bank ranked on a measure
    mark = not_estimable_mark(root / artifact("rankings").path, artifact("rankings"))
    assert "no bank has min_obs usable values" in mark["reason"] and "measures.rankings.min_obs" in mark["needs"]
    assert len(read(root, "rankings_crw")) == 12 and set(read(root, "rankings_tau")["kind"]) == {"crw_years"}
    quality = read(root, "quality/rankings")
    assert (quality["reason"] == "min_obs").sum() == 24


def test_bad_input_measure_without_its_column_is_skipped(tmp_path):
    frames = measures_long()
    frames["mes"] = frames["mes"].drop(columns=["mes_dyn"])
    root = build_root(tmp_path, frames)
    run_stage(root, "rankings", params(crw=False))
    quality = read(root, "quality/rankings")
    detail = quality.loc[quality["reason"] == "input_unusable", "detail"].item()
    assert "mes.parquet: column(s) ['mes_dyn'] missing" in detail and "mes is not ranked" in detail


def test_report_section_shows_the_tables_the_figure_and_the_label(ranked):
    report = ReportContext.open(ranked)
    [built] = build_sections(report, [section])  # the figures drawn and put in place
    html = render_report(report, [built])
    assert built.title == "How stable is this ranking?" and "<img" in html
    assert "P(top 3)" in html and "Kendall τ" in html and "20 times" in built.intro
    assert built.label.kind == "simulated" and "simulated" in built.provenance.lower()
    assert built.metrics["covar_dcc"]["top_bank"] == "B0" and built.metrics["covar_dcc"]["top_p_top_k"] == 1.0
    assert set(built.plots) == {"measures", "crw", "kendall"}
