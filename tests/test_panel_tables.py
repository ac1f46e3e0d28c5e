"""Liu–Ma 2021's Table 1 / Table 2 builders and their CSV, LaTeX and HTML renderings."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from panel import describe_variables, format_table, regression_table, table_note, table_to_csv, table_to_html, table_to_latex
from panel.tables import latex_escape, stars, term_label

COEFS = pd.DataFrame(
    {
        "model": ["a", "a", "a", "a", "b", "b", "b"],
        "term": ["car", "lcr", "car:lcr", "npl", "lev", "npl", "const"],
        "estimate": [-0.5, 0.25, 1.0, 0.004, -0.3, 0.0001, 0.05],
        "std_error": [0.2, 0.5, 0.1, 0.002, 0.2, 0.001, 0.01],
        "t_stat": [-2.5, 0.5, 10.0, 2.0, -1.5, 0.1, 5.0],
        "p_value": [0.012, 0.62, 1e-9, 0.06, 0.14, 0.92, 1e-5],
    }
)
FITS = pd.DataFrame(
    {
        "model": ["a", "b"],
        "nobs": [156, 150],
        "banks": [18, 17],
        "r2_within": [0.62, 0.1],
        "hausman": [27.6559, -3.2],
        "hausman_p": [0.0001, 1.0],
        "chosen": ["fe", "re"],
        "hausman_status": ["ok", "warning:NotPositiveDefinite"],
    }
)


def test_describe_variables_hand_computed():
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "y": [0.0, 0.0, 4.0, 4.0]})
    t1 = describe_variables(data, ["x", "y"])
    assert list(t1.columns) == ["variable", "N", "mean", "sd", "min", "max"]
    assert t1.iloc[0].tolist() == ["x", 3, 2.0, 1.0, 1.0, 3.0]
    assert t1.iloc[1]["sd"] == pytest.approx(np.sqrt(16.0 / 3.0))
    with pytest.raises(ValueError, match=r"missing column\(s\) z"):
        describe_variables(data, ["z"])


@pytest.mark.parametrize(("p", "mark"), [(0.009, "***"), (0.01, "**"), (0.049, "**"), (0.05, "*"), (0.0999, "*"), (0.1, ""), (0.7, "")])
def test_stars_thresholds(p, mark):
    assert stars(p) == mark


def test_regression_table_layout():
    t2 = regression_table(COEFS, FITS)
    assert list(t2.columns) == ["", "a", "b"]
    labels = t2[""].tolist()
    # regulators, interactions, controls in every model, constant
    assert labels[:12] == ["CAR", "", "LCR", "", "LEV", "", "CAR × LCR", "", "NPL", "", "Constant", ""]
    assert labels[12:] == ["Within R²", "Observations", "Banks", "Hausman χ²", "Hausman p-value", "Estimator"]
    rows = t2.set_index("")
    assert t2.iloc[0]["a"] == "-0.500**" and t2.iloc[1]["a"] == "(0.200)"
    assert t2.iloc[0]["b"] == "" and t2.iloc[4]["b"] == "-0.300"
    assert t2.iloc[6]["a"] == "1.000***" and t2.iloc[8]["a"] == "0.004*"
    assert t2.iloc[8]["b"] == "0.000" and t2.iloc[9]["b"] == "(0.001)"
    assert rows.loc["Observations"].tolist() == ["156", "150"] and rows.loc["Banks"].tolist() == ["18", "17"]
    assert rows.loc["Hausman χ²"].tolist() == ["27.656", "-3.200†"]
    assert rows.loc["Estimator"].tolist() == ["FE", "RE"]
    t_version = regression_table(COEFS, FITS, brackets="t", digits=2, terms=["lcr", "car", "car:lcr", "lev", "npl", "const"],
                                 labels={"car": "Capital adequacy"})
    assert t_version.iloc[2].tolist() == ["Capital adequacy", "-0.50**", ""] and t_version.iloc[3]["a"] == "[-2.50]"


def test_regression_table_bad_input():
    with pytest.raises(ValueError, match="brackets='p' is not allowed"):
        regression_table(COEFS, FITS, brackets="p")
    with pytest.raises(ValueError, match="not in terms"):
        regression_table(COEFS, FITS, terms=["car"])
    with pytest.raises(ValueError, match=r"fit_stats lacks column\(s\) chosen"):
        regression_table(COEFS, FITS.drop(columns="chosen"))


def test_renderings():
    t2 = regression_table(COEFS, FITS)
    csv = table_to_csv(t2)
    back = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False)
    assert back.shape == t2.shape and back.iloc[0, 1] == "-0.500**"
    latex = table_to_latex(t2, caption="Table 2: 100% CRW", note=table_note("se"))
    assert latex.startswith("\\begin{table}[htbp]") and "\\begin{tabular}{lcc}" in latex and "\\toprule" in latex
    assert "CAR $\\times$ LCR & 1.000*** &  \\\\" in latex and "100\\% CRW" in latex
    assert "-3.200$^\\dagger$" in latex and "Within R$^2$" in latex
    html = table_to_html(t2, caption="<Table 2>", note=table_note("t"))
    assert "<caption>&lt;Table 2&gt;</caption>" in html and html.count("<tr>") == 1 + len(t2) + 1
    assert "t statistics in brackets" in html
    t1 = describe_variables(pd.DataFrame({"loan_growth": [0.1, 0.3]}), ["loan_growth"])
    assert "loan\\_growth & 2 & 0.2000 & 0.1414 & 0.1000 & 0.3000 \\\\" in table_to_latex(t1)
    assert table_to_csv(t1, digits=2) == "variable,N,mean,sd,min,max\nloan_growth,2,0.20,0.14,0.10,0.30\n"
    cells = format_table(t1.assign(sd=np.nan), digits=2)  # the cells of the CSV, as strings
    assert cells.values.tolist() == [["loan_growth", "2", "0.20", "", "0.10", "0.30"]]


def test_no_negative_zero():
    coefs = COEFS.assign(estimate=COEFS["estimate"].where(COEFS["term"] != "npl", -0.0001))
    t2 = regression_table(coefs, FITS)
    assert t2.iloc[8][["a", "b"]].tolist() == ["0.000*", "0.000"]


def test_labels_and_escaping():
    assert term_label("car:lcr") == "CAR × LCR" and term_label("loan_growth") == "LOAN GROWTH"
    assert latex_escape("a_b & 5% #1 {x} ~ ^") == "a\\_b \\& 5\\% \\#1 \\{x\\} \\textasciitilde{} \\^{}"


def test_bad_input_table_csv_neutralizes_formula_text_but_not_signed_numbers():
    table = pd.DataFrame({"": ["=cmd|' /C calc'!A0", "@SUM(A1)", "-x", "CAR"], "m1": ["-0.123***", "(0.045)", "+1.5e-3", "[-2.31]"],
                          "=bad": [-0.5, np.nan, 0.25, 1.0]})
    rows = list(csv_rows(table_to_csv(table, digits=3)))
    assert rows[0] == ["", "m1", "'=bad"]
    assert [r[0] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "'@SUM(A1)", "'-x", "CAR"]
    assert [r[1] for r in rows[1:]] == ["-0.123***", "(0.045)", "+1.5e-3", "[-2.31]"]  # formatted numbers left alone
    assert [r[2] for r in rows[1:]] == ["-0.500", "", "0.250", "1.000"]


def csv_rows(text: str):
    import csv

    return csv.reader(io.StringIO(text))
