"""Liu–Ma 2021's Table 1 (descriptive statistics) and Table 2 (models side by side).

Pure functions of data frames (Table 2 is built from the tidy ``coefficients`` and
``fit_stats`` frames alone, so a report can redraw it from the stored artifacts), and
plain-string renderers for CSV, LaTeX (booktabs) and HTML.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from measures.core.cells import neutralize_formula_cells, stars
from measures.core.config import check_choice, check_range

TABLE1_COLUMNS = ("variable", "N", "mean", "sd", "min", "max")


def describe_variables(data: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Table 1: N (non-missing count), mean, sd (n-1 denominator), min, max of each variable."""
    missing = [v for v in variables if v not in data.columns]
    if missing:
        raise ValueError(f"describe_variables: missing column(s) {', '.join(missing)}; available: {', '.join(map(str, data.columns))}")
    rows = []
    for v in variables:
        x = pd.to_numeric(data[v], errors="raise").to_numpy(dtype=float, na_value=np.nan)
        x = x[np.isfinite(x)]
        n = len(x)
        rows.append((v, n, x.mean() if n else np.nan, x.std(ddof=1) if n > 1 else np.nan,
                     x.min() if n else np.nan, x.max() if n else np.nan))
    return pd.DataFrame(rows, columns=list(TABLE1_COLUMNS))



def term_label(term: str, labels: Mapping[str, str] | None = None) -> str:
    """Display name: ``labels[term]`` if given, else upper case with ``a:b`` shown as ``A × B``."""
    if labels and term in labels:
        return labels[term]
    if term == "const":
        return "Constant"
    return " × ".join(part.upper().replace("_", " ") for part in term.split(":"))


def _term_order(coefficients: pd.DataFrame) -> list[str]:
    """Regulators, then interactions, then terms present in every model (controls), then the constant."""
    n_models = coefficients["model"].nunique()
    first = list(dict.fromkeys(coefficients["term"]))
    counts = coefficients.groupby("term")["model"].nunique()

    def group(term: str) -> int:
        if term == "const":
            return 3
        if ":" in term:
            return 1
        return 2 if counts[term] == n_models else 0

    return sorted(first, key=lambda t: (group(t), first.index(t)))


def _fmt(value: float, digits: int) -> str:
    """Fixed decimals; empty for NaN; no "-0.000"."""
    if value is None or not np.isfinite(value):
        return ""
    text = f"{value:.{digits}f}"
    return text.lstrip("-") if float(text) == 0.0 else text


def regression_table(
    coefficients: pd.DataFrame,
    fit_stats: pd.DataFrame,
    *,
    brackets: str = "se",
    digits: int = 3,
    terms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Table 2: one column per model, a coefficient row and a bracket row per term, then statistics.

    Parameters
    ----------
    coefficients : DataFrame
        ``model, term, estimate, std_error, t_stat, p_value`` (from ``estimate_models``).
    fit_stats : DataFrame
        ``model, nobs, banks, r2_within, hausman, hausman_p, chosen`` (+ optional ``hausman_status``).
    brackets : {"se", "t"}
        Standard error in parentheses ``(0.012)`` or t statistic in square brackets ``[2.31]``.
    digits : int
        Decimals of coefficients, brackets, R² and Hausman.
    terms : sequence of str, optional
        Row order (default: regulators, interactions, controls, constant, by first appearance).
    labels : mapping, optional
        Display names of terms (default :func:`term_label`).

    Returns
    -------
    DataFrame of strings: column ``""`` holds the row labels, then one column per model.
    Stars: * p < 0.10, ** p < 0.05, *** p < 0.01. A Hausman statistic whose
    V_FE - V_RE is not positive definite is marked with a dagger.
    """
    check_choice("brackets", brackets, ("se", "t"))
    check_range("digits", digits, low=0, high=12, integer=True)
    for name, frame, cols in (("coefficients", coefficients, ("model", "term", "estimate", "std_error", "t_stat", "p_value")),
                              ("fit_stats", fit_stats, ("model", "nobs", "banks", "r2_within", "hausman", "hausman_p", "chosen"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"regression_table: {name} lacks column(s) {', '.join(missing)}")
    models = list(fit_stats["model"])
    order = list(terms) if terms is not None else _term_order(coefficients)
    unknown = sorted(set(coefficients["term"]) - set(order))
    if unknown:
        raise ValueError(f"regression_table: terms {unknown} are estimated but not in terms={order}")
    cells = {(r.model, r.term): r for r in coefficients.itertuples(index=False)}
    rows: list[list[str]] = []
    for term in order:
        est_row, br_row = [term_label(term, labels)], [""]
        for m in models:
            r = cells.get((m, term))
            if r is None:
                est_row.append("")
                br_row.append("")
                continue
            est_row.append(_fmt(r.estimate, digits) + stars(r.p_value))
            br_row.append(f"({_fmt(r.std_error, digits)})" if brackets == "se" else f"[{_fmt(r.t_stat, 2)}]")
        rows += [est_row, br_row]
    stats = fit_stats.set_index("model")
    flag = stats["hausman_status"] if "hausman_status" in stats else pd.Series("ok", index=stats.index)
    dagger = {m: "†" if str(flag[m]).endswith("NotPositiveDefinite") else "" for m in models}
    rows.append(["Within R²"] + [_fmt(stats.at[m, "r2_within"], digits) for m in models])
    rows.append(["Observations"] + [str(int(stats.at[m, "nobs"])) for m in models])
    rows.append(["Banks"] + [str(int(stats.at[m, "banks"])) for m in models])
    rows.append(["Hausman χ²"] + [_fmt(stats.at[m, "hausman"], digits) + (dagger[m] if np.isfinite(stats.at[m, "hausman"]) else "") for m in models])
    rows.append(["Hausman p-value"] + [_fmt(stats.at[m, "hausman_p"], digits) for m in models])
    rows.append(["Estimator"] + [str(stats.at[m, "chosen"]).upper() for m in models])
    return pd.DataFrame(rows, columns=[""] + models)


TABLE2_NOTE = ("Coefficients with {inside} in brackets; * p < 0.10, ** p < 0.05, *** p < 0.01. "
               "† V_FE − V_RE not positive definite (generalized inverse).")


def table_note(brackets: str = "se") -> str:
    """Footnote text of Table 2."""
    check_choice("brackets", brackets, ("se", "t"))
    return TABLE2_NOTE.format(inside="standard errors" if brackets == "se" else "t statistics")


def _cell(value, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return _fmt(float(value), digits)
    return str(value)


def format_table(table: pd.DataFrame, *, digits: int = 4) -> pd.DataFrame:
    """The table as display strings: floats with ``digits`` decimals (empty for NaN, no "-0.000"),
    everything else as ``str`` — the cells of :func:`table_to_csv`."""
    return table.map(lambda v: _cell(v, digits))


def table_to_csv(table: pd.DataFrame, *, digits: int = 4) -> str:
    """CSV text (numbers formatted with ``digits`` decimals, ``\\n`` line ends), formula-safe: a text cell
    that a spreadsheet would run (``=...``, ``@...``) gets a leading ``'``; formatted numbers such as
    ``-0.123***`` are left alone (:func:`measures.core.cells.neutralize_formula_cells`)."""
    out = io.StringIO()
    neutralize_formula_cells(format_table(table, digits=digits)).to_csv(out, index=False, lineterminator="\n")
    return out.getvalue()


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
          "×": r"$\times$", "²": r"$^2$", "χ": r"$\chi$", "†": r"$^\dagger$", "−": "-", "–": "--",
          "Δ": r"$\Delta$"}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map × ² χ † to math."""
    return "".join(_LATEX.get(ch, ch) for ch in text)


def table_to_latex(table: pd.DataFrame, *, digits: int = 4, caption: str | None = None, note: str | None = None) -> str:
    """A booktabs ``tabular`` (inside a ``table`` float when ``caption`` is given)."""
    header = " & ".join(latex_escape(str(c)) for c in table.columns) + r" \\"
    body = [" & ".join(latex_escape(_cell(v, digits)) for v in row) + r" \\" for row in table.itertuples(index=False)]
    lines = [r"\begin{tabular}{l" + "c" * (table.shape[1] - 1) + "}", r"\toprule", header, r"\midrule", *body, r"\bottomrule"]
    if note:
        lines.append(r"\multicolumn{" + str(table.shape[1]) + r"}{l}{\footnotesize " + latex_escape(note) + r"} \\")
    lines.append(r"\end{tabular}")
    if caption is not None:
        lines = [r"\begin{table}[htbp]", r"\centering", r"\caption{" + latex_escape(caption) + "}", *lines, r"\end{table}"]
    return "\n".join(lines) + "\n"


def table_to_html(table: pd.DataFrame, *, digits: int = 4, caption: str | None = None, note: str | None = None) -> str:
    """A self-contained ``<table>`` (escaped text, class ``panel-table``)."""
    esc = html.escape
    parts = ['<table class="panel-table">']
    if caption is not None:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{esc(str(c))}</th>" for c in table.columns) + "</tr></thead>")
    parts.append("<tbody>")
    for row in table.itertuples(index=False):
        parts.append("<tr>" + "".join(f"<td>{esc(_cell(v, digits))}</td>" for v in row) + "</tr>")
    parts.append("</tbody>")
    if note:
        parts.append(f'<tfoot><tr><td colspan="{table.shape[1]}">{esc(note)}</td></tr></tfoot>')
    parts.append("</table>")
    return "\n".join(parts) + "\n"
