"""The report's figures and tables: numbering, number formats, files, episode shading, text that adapts to the data."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from pipeline.artifacts import artifact  # noqa: E402
from pipeline.io import write_parquet  # noqa: E402
from pipeline.report import figures, tables  # noqa: E402
from pipeline.report.core import ReportContext, Section, build_sections  # noqa: E402
from pipeline.report.sections import market_states, panel_regressions  # noqa: E402

SOURCE = {"kind": "synthetic", "seed": 7, "sample": {"start": "2010-01-01", "end": "2011-12-31"}}
EPISODES = [{"name": "GFC", "start": "2008-09-01", "end": "2008-12-31"},
            {"name": "euro", "start": "2011-07-01", "end": "2011-09-30"},
            {"name": "2015 crash", "start": "2015-06-01", "end": "2015-08-31"}]


def put(root: Path, name: str, frame: pd.DataFrame, params: dict | None = None) -> None:
    write_parquet(frame, root / artifact(name).path,
                  provenance={"stage": "x", "params": params or {}, "data_source": SOURCE, "version": "0"})


# ---------------------------------------------------------------- number formats


@pytest.mark.parametrize(("column", "digits", "shown"), [
    ([1.5e-14, 2.0e-14], 3, ["1.50 × 10⁻¹⁴", "2.00 × 10⁻¹⁴"]),  # never 0.000
    ([1.0, 2.0, np.nan], 4, ["1", "2", "–"]),                    # ranks as integers
    ([261.0, 12345.0], 1, ["261", "12,345"]),                     # no "261.0"; separators from 10,000
    ([2008, 2009], 2, ["2008", "2009"]),                         # years plain
    ([0.1234, 3.0e-5], 3, ["0.123", "0.000"]),                   # fixed for the column as a whole
    ([7.3e12, 1.0e12], 3, ["7.30 × 10¹²", "1.00 × 10¹²"]),
    ([np.inf, -np.inf], 3, ["∞", "−∞"]),
])
def test_number_formats_by_column(column, digits, shown):
    assert tables.display(pd.DataFrame({"x": column}), digits)[1][0] == shown


def test_statuses_and_missing_text_read_as_words():
    frame = pd.DataFrame({"status": ["ok", "failed:ValueError: 0 bank(s) left", "warning:HoldingFloor", None, "nan"],
                          "detail": ["SRISK set missing, failed:MissingLiabilities: no liabilities", "failed:X", "", "", ""]})
    headers, (status, detail) = tables.display(frame)
    assert status == ["ok", "failed — 0 bank(s) left", "warning (HoldingFloor)", "–", "–"]
    assert detail[:2] == ["SRISK set missing, failed — no liabilities", "failed (X)"]
    assert tables.header_text("mean_pct") == "mean pct" and tables.header_text("bank_id") == "bank"


def test_latex_is_booktabs_and_escaped():
    tex = tables.to_latex(["bank", "share %"], [["A&B_1"], ["5%"]], "Table 1. x_y", "tab:t")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"A\&B\_1 & 5\% \\" in tex and r"\caption{Table 1. x\_y}" in tex and r"\label{tab:t}" in tex


# ---------------------------------------------------------------- numbering and files


def _module(frame: pd.DataFrame):
    def build(ctx):
        dates = pd.date_range("2010-01-04", periods=300, freq="B")
        draw = figures_draw(dates)
        return Section("demo", "Demo", "", [tables.table_html(frame, caption="long table", name="long"),
                                            figures.figure_html(draw, caption="a series", name="series"),
                                            tables.table_html(frame.head(2), caption="short")])

    return SimpleNamespace(ID="demo", TITLE="Demo", build=build, intro=lambda ctx: "")


def figures_draw(dates):
    values = np.arange(len(dates), dtype=float)

    def draw(fig):
        ax = fig.subplots()
        ax.plot(dates, values, label="series")
        figures.shade_episodes(ax, EPISODES)
        figures.legend_outside(fig)

    return draw


def test_tables_and_figures_are_numbered_and_written(tmp_path):
    frame = pd.DataFrame({"bank_id": [f"=B{i}" for i in range(40)], "x": np.arange(40) / 3})
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "tab09_stale.csv").write_text("old")
    section = build_sections(ReportContext.open(tmp_path), [_module(frame)], figures=tmp_path / "figures",
                             tables=tmp_path / "tables")[0]
    html = "".join(section.blocks)
    assert "<b>Table 1. </b>long table" in html and "<b>Table 2. </b>short" in html and "<b>Figure 1. </b>a series" in html
    assert "The first 25 of 40 rows; all rows in <a href='tables/tab01_demo_long.csv'>" in html
    assert html.count("<tr>") == 1 + 25 + 1 + 2
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == [
        "tab01_demo_long.csv", "tab01_demo_long.tex", "tab02_demo_short.csv", "tab02_demo_short.tex"]
    full = pd.read_csv(tmp_path / "tables" / "tab01_demo_long.csv")
    assert list(full.columns) == ["bank", "x"] and len(full) == 40 and full["bank"][0] == "'=B0"  # neutralized
    assert sorted(p.suffix for p in (tmp_path / "figures").iterdir()) == [".pdf", ".png", ".svg"]
    png = (tmp_path / "figures" / "fig01_demo_series.png").read_bytes()
    from PIL import Image

    with Image.open(tmp_path / "figures" / "fig01_demo_series.png") as image:
        assert round(image.info["dpi"][0]) == 300
    assert b"matplotlib version" not in png


def test_only_episodes_inside_the_data_are_shaded():
    import matplotlib.pyplot as plt

    fig = plt.figure()
    ax = fig.subplots()
    ax.plot(pd.date_range("2010-01-01", "2012-12-31", freq="ME"), np.arange(36))
    assert figures.shade_episodes(ax, EPISODES) == 1
    legend = figures.legend_outside(fig)
    assert [t.get_text() for t in legend.get_texts()] == ["shaded: episode 2: euro"]
    assert figures.episodes_within(EPISODES, "2010-01-01", "2012-12-31") == [EPISODES[1]]
    plt.close(fig)


# ---------------------------------------------------------------- text that adapts to the data


def test_market_states_text_describes_only_the_states_in_the_data(tmp_path):
    dates = pd.date_range("2010-01-04", periods=50, freq="B")
    put(tmp_path, "market_states", pd.DataFrame({"date": dates, "stock_vol": np.linspace(0.01, 0.02, 50),
                                                 "credit_spread": np.linspace(1, 2, 50)}))
    ctx = ReportContext.open(tmp_path, {"episodes": EPISODES})
    section = build_sections(ctx, [market_states])[0]
    assert "real-estate" not in section.intro and "USD/CNY" not in section.intro
    assert "<code>stock_vol</code>" in section.intro and "state variables of your data, as given there (units of your files; docs/formats.md): <code>credit_spread</code>." \
        in section.intro
    assert "No stress episode falls inside the sample (GFC, euro, 2015 crash lie outside it)" in section.intro
    assert "mean in" not in "".join(section.blocks)  # no episode columns for episodes outside the data


def test_a_user_chosen_regulator_is_plotted(tmp_path):
    """One model with a regulator of the user's choice: every term is in every model, the plot is not empty."""
    params = {"panel": {"models": [{"name": "mine", "regulators": ["tier1"]}], "controls": ["npl"]}}
    coef = pd.DataFrame({"model": ["mine"] * 3, "term": ["const", "tier1", "npl"], "position": [0, 1, 2],
                         "estimate": [0.1, 0.5, 0.2], "std_error": [0.1, 0.1, 0.1]})
    fit = pd.DataFrame({"model": ["mine"], "position": [0], "nobs": [30], "banks": [5], "excluded": [0],
                        "hausman_df": [1], "hausman_status": ["ok"], "chosen": ["re"], "status": ["ok"],
                        "r2_within": [-0.01], "hausman": [1.0], "hausman_p": [0.3]})
    for name, frame in (("panel/coefficients", coef), ("panel/fit_stats", fit),
                        ("panel/table1", pd.DataFrame({"Variable": ["CRW"]})), ("panel/table2", pd.DataFrame({"": ["x"]}))):
        put(tmp_path, name, frame, params)
    assert panel_regressions.regulators(coef, params["panel"]["models"], ["npl"]) == ["tier1"]
    assert panel_regressions.regulators(coef, None, ["npl"]) == ["tier1"]
    section = build_sections(ReportContext.open(tmp_path), [panel_regressions])[0]
    html = "".join(section.blocks)
    assert "<figure><img" in html and "Within R² below 0 (mine)" in html
