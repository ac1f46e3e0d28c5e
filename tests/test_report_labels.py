"""The report says where each section's data come from, which sections are not estimable and why,
counts every quality record, writes formula-safe CSVs and can be marked stale."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_stage
from pipeline.artifacts import artifact
from pipeline.io import read_provenance, write_parquet
from pipeline.quality import QualityRecord, quality_frame
from pipeline.report import mark_stale, provenance
from pipeline.report.core import ReportContext, build_sections
from pipeline.report.sections import SECTIONS, srisk
from pipeline.compute import SerialMapper
from pipeline.stage import NOT_ESTIMABLE, StageContext, load_stage, stage_names

FILES = {"kind": "files", "format": "wind", "raw_dir": "data/raw", "sample": {"start": "2010-01-04", "end": "2010-12-31"}}
STRESS = {"kind": "synthetic", "generator": "pipeline.simulator.stress_banks", "seed": 11}
REASON, NEEDS = "no balance_sheet column loans_re for any bank", "balance_sheet columns loans_re, equity"
EVIL = "=cmd|' /C calc'!A0"


def put(root: Path, name: str, frame: pd.DataFrame, source: dict, *, stage: str = "x", mark: dict | None = None) -> None:
    prov = {"stage": stage, "params": {}, "data_source": source, "version": "0"}
    if mark is not None:
        prov[NOT_ESTIMABLE] = mark
    art = artifact(name)
    write_parquet(frame, root / art.path, dtypes=art.dtypes, provenance=prov)


def empty_frame(name: str) -> pd.DataFrame:
    art = artifact(name)
    return pd.DataFrame({c: pd.Series([], dtype=art.dtypes.get(c, "object")) for c in dict.fromkeys([*art.key, *art.dtypes])})


def producer(name: str) -> str:
    return next(s for s in stage_names() if name in load_stage(s).outputs)


def mark(root: Path, names: list[str], reason: str = REASON, needs: str = NEEDS) -> None:
    """Mark ``names`` not estimable through the runner's own method (StageContext.not_estimable)."""
    for name in names:
        stage = load_stage(producer(name))
        ctx = StageContext(stage=stage, params={}, root=root, mapper=SerialMapper(stage.name))
        ctx.not_estimable(name, reason=reason, needs=needs)


def market(root: Path, source: dict = FILES, banks: tuple[str, ...] = ("B1", "B2")) -> None:
    """banks, returns and system_returns of two banks over 30 days."""
    dates = pd.bdate_range("2010-01-04", periods=30)
    rng = np.random.default_rng(1)
    put(root, "banks", pd.DataFrame({"bank_id": list(banks), "name": list(banks), "group": ["g"] * len(banks)}), source)
    put(root, "returns", pd.DataFrame({"bank_id": np.repeat(banks, len(dates)), "date": np.tile(dates, len(banks)),
                                       "ret": rng.normal(0, 0.01, len(dates) * len(banks))}), source)
    put(root, "system_returns", pd.DataFrame({"date": dates, "ret": rng.normal(0, 0.01, len(dates))}), source)


def section_artifacts() -> dict[str, list[str]]:
    """Section id -> the artifacts its build reads on an empty data root."""
    ctx = ReportContext.open(Path("/nonexistent-report-root"))
    out = {}
    for module in SECTIONS:
        ctx.used = []
        module.build(ctx)
        out[module.ID] = [n for n in ctx.used if not n.startswith("quality/") and artifact(n).kind == "parquet"]
    return out


def section_metrics(root: Path) -> dict:
    """Each section's ``metrics`` (labels, not-estimable notes, counts) by section id; ``metrics.json``
    holds the headline numbers by measure instead (pipeline.report.metrics)."""
    from pipeline.report.core import build_section

    ctx = ReportContext.open(root)
    return {s.id: s.metrics for s in (build_section(ctx, m) for m in SECTIONS) if s is not None}


def report(root: Path) -> tuple[str, dict]:
    run_stage(root, "report")
    html = (root / artifact("report/html").path).read_text(encoding="utf-8")
    return html, section_metrics(root)


def section_html(html: str, sid: str) -> str:
    start = html.index(f'<section id="{sid}">')
    return html[start:html.index("</section>", start)]


# ---------------------------------------------------------------- data labels


def test_data_label_kinds_and_texts():
    sim = provenance.DataLabel.of({"firesale": {"data_source": STRESS}, "x": None})
    assert sim.kind == "simulated" and sim.badge() == "Simulated data"
    assert "Every number in this section comes from simulated data (synthetic, seed 11, generator " \
           "pipeline.simulator.stress_banks)" in sim.html()
    user = provenance.DataLabel.of({"returns": {"data_source": FILES}})
    assert (user.kind, user.badge(), user.html()) == ("user", "", "")
    assert user.metrics() == {"data": "user", "data_source": "your files: format wind, raw_dir data/raw"}
    mixed = provenance.DataLabel.of({"quality/returns": {"data_source": FILES}, "quality/stress_firesale": {"data_source": STRESS}})
    assert mixed.metrics()["data"] == "mixed" and mixed.metrics()["simulated_artifacts"] == ["quality/stress_firesale"]
    assert "Partly simulated data" in mixed.html() and mixed.badge() == "Partly simulated data"
    assert provenance.DataLabel.of({"crw": None}).metrics() == {"data": "not recorded",
                                                                "data_source": "provenance not recorded"}
    eba = {"kind": "files", "format": "eba2018", "files": {"eba": "data/raw/eba.xlsx"}}
    assert provenance.source_text(eba) == "your files: format eba2018, eba data/raw/eba.xlsx"


def test_header_names_each_source_when_the_stress_sections_are_simulated():
    provs = {"banks": {"data_source": FILES, "version": "1"}}
    labels = [("Returns", provenance.DataLabel.of({"returns": {"data_source": FILES}})),
              ("Fire sales", provenance.DataLabel.of({"firesale": {"data_source": STRESS}})),
              ("Cascades", provenance.DataLabel.of({"cascade_surface": {"data_source": STRESS}})),
              ("Data quality", provenance.DataLabel.of({"quality/returns": {"data_source": FILES},
                                                        "quality/stress_firesale": {"data_source": STRESS}}))]
    head = provenance.header(provs, labels)
    assert head["source"] == ("market data: your files: format wind, raw_dir data/raw; sections “Fire sales”, "
                              "“Cascades”: simulated data (synthetic, seed 11, generator pipeline.simulator.stress_banks)")
    assert provenance.header(provs, labels[:1])["source"] == "your files: format wind, raw_dir data/raw"


@pytest.fixture(scope="module")
def mixed_report(tmp_path_factory) -> tuple[Path, str, dict]:
    """Market data from files, the fire-sale artifacts from the stress simulator, SRISK not estimable."""
    root = tmp_path_factory.mktemp("mixed")
    market(root)
    from test_report import _firesale_artifacts

    _firesale_artifacts(root, contagion=(0.04, 0.07))
    for name in ("firesale", "firesale_regions", "firesale_mean", "firesale_mean_regions"):
        path = root / artifact(name).path
        prov = read_provenance(path)
        write_parquet(pd.read_parquet(path), path, provenance={**prov, "data_source": STRESS})
    return (root, *report(root))


def test_a_simulated_stress_section_is_labelled_beside_user_market_data(mixed_report):
    _, html, metrics = mixed_report
    fire = section_html(html, "firesale")
    assert '<span class="badge simulated">Simulated data</span></h2>' in fire
    assert "comes from simulated data (synthetic, seed 11, generator pipeline.simulator.stress_banks)" in fire
    assert metrics["firesale"]["data"] == "simulated" and "stress_banks" in metrics["firesale"]["data_source"]
    returns = section_html(html, "returns")
    assert "Simulated data" not in returns and metrics["returns"]["data"] == "user"
    head = html[html.index("<dt>Data source</dt>"):html.index("<dt>Sample</dt>")]
    assert head.startswith("<dt>Data source</dt><dd>market data: your files: format wind, raw_dir data/raw; section "
                           "“Fire-sale stress test (double-layer fire sales)”: simulated data (synthetic, seed 11")
    assert "“Returns”" not in head and "Estimation status" not in head  # a summary section labels itself only
    assert metrics["status"]["data"] == "simulated" and "Simulated data" in section_html(html, "status")
    assert "(simulated data)</li>" in html  # the table of contents says it too


@pytest.mark.realdata
@pytest.mark.slow
def test_on_the_wind_exports_no_simulated_section_is_unlabelled(tmp_path, shared_data):
    """The Chinese bank Wind exports: market data from the files; every section whose artifacts come
    from a simulator (the stress stages, unless they run on the balance sheets) carries the label."""
    import shutil

    from conftest import repo_params

    shutil.copytree(shared_data / "cn-banks" / "wind-exports", tmp_path / "data" / "raw" / "wind")
    params = repo_params(data={"source": "files", "format": "wind", "raw_dir": "data/raw/wind", "start": None, "end": None})
    for stage in ("ingest", "returns", "stress_firesale", "stress_cascade", "report"):
        run_stage(tmp_path, stage, params)
    html = (tmp_path / artifact("report/html").path).read_text(encoding="utf-8")
    metrics = section_metrics(tmp_path)
    assert metrics["sample"]["data"] == "user" and metrics["returns"]["data"] == "user"
    assert "<dd>market data: your files: format wind, raw_dir data/raw/wind" in html or \
        "<dd>your files: format wind, raw_dir data/raw/wind</dd>" in html
    for sid, values in metrics.items():
        labelled = '<span class="badge simulated">' in section_html(html, sid).split("</h2>")[0]
        assert labelled == (values["data"] in ("simulated", "mixed")), sid
        if values["data"] == "simulated" and sid not in ("quality", "status"):
            assert f"“{next(m.TITLE for m in SECTIONS if m.ID == sid)}”: simulated data" in html


# ---------------------------------------------------------------- not estimable


SECTION_IDS = [m.ID for m in SECTIONS if m.ID != "quality"]


@pytest.mark.parametrize("sid", SECTION_IDS)
def test_a_section_with_its_inputs_marked_says_not_estimable(tmp_path, sid):
    names = section_artifacts()[sid]
    mark(tmp_path, names)
    html, metrics = report(tmp_path)
    part = section_html(html, sid)
    assert f"<b>Not estimable from your data:</b> {REASON}</p>" in part
    assert f"<b>To estimate it, add:</b> {NEEDS}</p>" in part and "<img" not in part and "<table class=\"data\"" not in part
    assert '<span class="badge not-estimable">Not estimable</span>' in part
    assert metrics[sid]["not_estimable"] == {"reason": REASON, "needs": NEEDS, "artifacts": [
        n for n in names if n in metrics[sid]["not_estimable"]["artifacts"]]}
    assert metrics[sid]["not_estimable"]["artifacts"]


def test_every_section_marked_at_once_and_the_quality_section_lists_them(tmp_path):
    names = sorted({n for names in section_artifacts().values() for n in names})
    for name in names:
        mark(tmp_path, [name], reason=f"{name} cannot be estimated")
    run_stage(tmp_path, "report")
    metrics = section_metrics(tmp_path)
    assert set(SECTION_IDS) <= set(metrics)
    assert all("cannot be estimated" in metrics[s]["not_estimable"]["reason"] for s in SECTION_IDS)


def test_quality_records_of_not_estimable_outputs_are_listed(tmp_path):
    market(tmp_path)
    stage = load_stage("mes_srisk")
    ctx = StageContext(stage=stage, params={}, root=tmp_path, mapper=SerialMapper("mes_srisk"))
    ctx.not_estimable("srisk", "srisk_total", reason=REASON, needs=NEEDS)
    write_parquet(quality_frame(ctx.records), tmp_path / artifact("quality/mes_srisk").path, provenance=ctx.provenance())
    html, metrics = report(tmp_path)
    assert metrics["quality"]["by_action"]["not_estimable"] == {"records": 1, "rows": 0}
    assert metrics["quality"]["not_estimable_outputs"] == [f"mes_srisk: srisk, srisk_total not estimable: {REASON} (needs: {NEEDS})"]
    assert "Outputs not estimable from the data" in section_html(html, "quality")


def test_a_partly_estimable_section_shows_what_is_there(tmp_path):
    """MES present, SRISK not estimable: the MES figure and table, and the note for SRISK."""
    market(tmp_path)
    dates = pd.bdate_range("2010-01-04", periods=30)
    mes = pd.DataFrame({"bank_id": np.repeat(["B1", "B2"], 30), "date": np.tile(dates, 2),
                        "mes_dyn": np.linspace(0.01, 0.02, 60), "mes_hist": np.linspace(0.0, 0.03, 60), "status": "ok"})
    put(tmp_path, "mes", mes, FILES, stage="mes_srisk")
    mark(tmp_path, ["srisk", "srisk_total"])
    section = build_sections(ReportContext.open(tmp_path), [srisk])[0]
    html = "".join(section.blocks)
    assert section.estimable == "part" and "<p class='what'>srisk, srisk_total:</p>" in html
    assert f"Not estimable from your data:</b> {REASON}" in html and "MES dynamic" in html and "<img" in html
    assert section.metrics["not_estimable"] == {"reason": REASON, "needs": NEEDS, "artifacts": ["srisk", "srisk_total"]}
    assert "srisk_total" not in section.plots and section.plots["measures_median"].shape[0] == 30
    assert section.metrics["data"] == "user"


@pytest.mark.parametrize("sid", SECTION_IDS)
def test_a_section_whose_artifacts_have_no_rows_says_so(tmp_path, sid):
    """Empty artifacts without a mark (a stage that wrote no rows): a note, never a crash."""
    for name in section_artifacts()[sid]:
        put(tmp_path, name, empty_frame(name), FILES)
    html, metrics = report(tmp_path)
    part = section_html(html, sid)
    assert "<p class='empty'>No results: " in part and ("have no rows" in part or "has no rows" in part)
    assert metrics[sid]["data"] == "user"


# ---------------------------------------------------------------- data quality


def _record(reason: str, action: str, bank: str | None, day: str | None, detail: str, n: int = 1) -> QualityRecord:
    date = None if day is None else pd.Timestamp(day)
    return QualityRecord(stage="returns", table="prices", bank_id=bank, date_start=date, date_end=date, n_rows=n,
                         action=action, reason=reason, detail=detail)


def test_the_quality_section_counts_actions_and_lists_screen_hits(tmp_path):
    market(tmp_path)
    records = [_record("screen_reversal", "masked", "B1", "2010-01-05", "close 1234.5 is 100x the neighbours; masked"),
               _record("screen_reversal", "masked", "B2", "2010-01-07", "close 99.0 reverses next day"),
               _record("screen_market_cap_jump", "flagged", "B1", "2010-01-08", "market cap 1e300"),
               _record("suspension", "masked", "B2", None, "no trading", n=4),
               _record("delisted", "excluded", "B2", "2010-02-01", "delisted", n=7)]
    write_parquet(quality_frame(records), tmp_path / artifact("quality/returns").path,
                  provenance={"stage": "returns", "params": {}, "data_source": FILES, "version": "0"})
    html, metrics = report(tmp_path)
    q = metrics["quality"]
    assert q["screens"] == {"returns/screen_market_cap_jump": 1, "returns/screen_reversal": 2} and q["n_screen_hits"] == 3
    assert q["by_action"] == {"excluded": {"records": 1, "rows": 7}, "flagged": {"records": 1, "rows": 1},
                              "masked": {"records": 3, "rows": 6}}
    assert q["rows_excluded"] == 7 and q["data"] == "user"
    part = section_html(html, "quality")
    assert "Plausibility-screen hits by rule" in part and "close 1234.5 is 100x the neighbours" in part
    hits = pd.read_csv(tmp_path / artifact("report/plots").path / "quality_screens.csv")
    assert list(hits["reason"]) == ["screen_market_cap_jump", "screen_reversal", "screen_reversal"]
    assert set(hits["bank_id"]) == {"B1", "B2"}


def test_the_status_section_names_the_failed_fits(tmp_path):
    windows = pd.DataFrame({"year": [2008, 2009], "n_banks": [5, 0], "nobs": [240.0, 0.0], "lags": [1.0, np.nan],
                            "aic": [1.0, np.nan], "bic": [1.0, np.nan], "hqic": [1.0, np.nan],
                            "status": ["ok", "failed:ValueError: 0 bank(s) left"]})
    put(tmp_path, "contagion_windows", windows, FILES, stage="contagion")
    est = pd.DataFrame({"bank_id": ["B1", "B1", "B2", "B2"], "window_end": pd.Timestamp("2010-12-31"),
                        "term": ["dcc_a", "dcc_b"] * 2, "estimate": [0.05, 0.9, np.nan, np.nan], "std_error": np.nan,
                        "status": ["ok", "ok", "failed:ConvergenceError: DCC", "failed:ConvergenceError: DCC"]})
    put(tmp_path, "covar_dcc_estimates", est, FILES, stage="covar_dcc")
    section = build_sections(ReportContext.open(tmp_path), [m for m in SECTIONS if m.ID == "status"])[0]
    assert section.metrics["covar_dcc_estimates"] == {"ok": 1, "warning": 0, "failed": 1}
    assert section.metrics["contagion_windows"] == {"ok": 1, "warning": 0, "failed": 1}
    table = section.plots["fits"]
    failed = table[table["kind"] == "failed"].set_index("artifact")
    assert failed.loc["covar_dcc_estimates", "concerns"] == "B2" and failed.loc["contagion_windows", "concerns"] == "2009"
    assert failed.loc["covar_dcc_estimates", "status"] == "failed:ConvergenceError: DCC"


# ---------------------------------------------------------------- output hygiene


def test_bad_input_formula_bank_name_is_neutralized_in_csv_and_escaped_in_html(tmp_path):
    market(tmp_path, banks=(EVIL, "<b>B2</b>&"))
    html, _ = report(tmp_path)
    plots = tmp_path / artifact("report/plots").path
    coverage = pd.read_csv(plots / "sample_coverage.csv")
    assert "'" + EVIL in set(coverage["bank_id"]) and EVIL not in set(coverage["bank_id"])
    stats = (plots / "returns_stats.csv").read_text(encoding="utf-8")
    assert "\n'=cmd|" in stats and "\n=cmd" not in stats
    assert f"<td>{EVIL}</td>" in html  # shown as text in the page (no spreadsheet there), HTML-escaped
    assert "<b>B2</b>" not in html and "&lt;b&gt;B2&lt;/b&gt;&amp;" in html


def test_latex_tables_escape_special_characters():
    from panel.tables import table_to_latex

    tex = table_to_latex(pd.DataFrame({"Variable": [EVIL + " & 5% $x$"], "N": ["3"]}))
    assert r"\& 5\% \$x\$" in tex


# ---------------------------------------------------------------- stale report


PAGE = "<!DOCTYPE html>\n<html>\n<body>\n<h1>Report</h1>\n</body>\n</html>\n"


def test_mark_stale_inserts_an_escaped_banner_after_body(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(PAGE, encoding="utf-8")
    assert mark_stale(page, "covar_dcc", "bank <B1> & co: DCC did not converge.")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n<html>\n<body>\n<!-- stale-report --><div class='stale'")
    assert ("This report is stale: stage covar_dcc failed on the last run: bank &lt;B1&gt; &amp; co: DCC did not "
            "converge. Its numbers come from an earlier run.") in text
    assert text.endswith("<!-- /stale-report -->\n<h1>Report</h1>\n</body>\n</html>\n")


def test_mark_stale_twice_keeps_one_banner_the_latest(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(PAGE, encoding="utf-8")
    mark_stale(page, "returns", "first")
    once = page.read_bytes()
    mark_stale(page, "returns", "first")
    assert page.read_bytes() == once
    mark_stale(page, "panel", "second")
    text = page.read_text(encoding="utf-8")
    assert text.count("stale-report -->") == 2 and "stage panel failed on the last run: second." in text
    assert "first" not in text


def test_mark_stale_replaces_the_file_never_writes_in_place(tmp_path):
    """A hard link (as DVC's cache may make) keeps the old bytes: the page is a new file."""
    page = tmp_path / "index.html"
    page.write_text(PAGE, encoding="utf-8")
    os.chmod(page, 0o644)
    cached = tmp_path / "cache-link"
    os.link(page, cached)
    mark_stale(page, "ingest", "boom")
    assert cached.read_text(encoding="utf-8") == PAGE and "stale" in page.read_text(encoding="utf-8")
    assert oct(page.stat().st_mode & 0o777) == "0o644" and sorted(p.name for p in tmp_path.iterdir()) == ["cache-link", "index.html"]


def test_mark_stale_without_a_report_does_nothing(tmp_path):
    assert mark_stale(tmp_path / "index.html", "ingest", "boom") is False
    assert not (tmp_path / "index.html").exists()


def test_the_built_report_can_be_marked_stale(mixed_report):
    root, html, _ = mixed_report
    page = root / artifact("report/html").path
    copy = root / "copy.html"
    copy.write_text(html, encoding="utf-8")
    mark_stale(copy, "stress_firesale", "no year has at least 2 banks")
    text = copy.read_text(encoding="utf-8")
    body = text.index("<body>") + len("<body>")
    assert text[body:].startswith("\n<!-- stale-report -->") and text.replace(text[body:text.index("<h1>")], "\n") == \
        page.read_text(encoding="utf-8")
