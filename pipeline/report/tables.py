"""The report's tables: numbered, readable headers and numbers, CSV and LaTeX files.

:func:`table_html` formats a frame for the page: integral columns as integers, numbers too small
or too large for ``digits`` decimals in scientific notation (``1.52 × 10⁻¹⁴``, never ``0.000``),
dates as ``YYYY-MM-DD``, missing values as ``–``, statuses as readable text (``failed — too few
observations`` for ``failed:ValueError: too few observations``) and leftover code names in headers
without underscores. Inside a report build it numbers the table and writes it to
``data/report/tables/`` as CSV (the full data, through :func:`pipeline.io.write_csv`) and LaTeX
(booktabs rules, the displayed text); a table longer than ``max_rows`` shows its first rows in the
page with a link to the full CSV.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import escape

from pipeline.io import write_csv
from pipeline.report import numbering

#: rows shown in the page before a table is cut (the CSV has all of them)
MAX_ROWS = 25
#: tables with more columns than this get the compact, wrapping style
WIDE = 9
#: code names that appear as headers, in words
HEADERS = {"bank_id": "bank", "n_rows": "rows", "date_start": "from", "date_end": "to", "window_end": "window end",
           "n_banks": "banks", "nobs": "observations"}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


_FAILED = re.compile(r"\bfailed:(\w+)(?::\s*|$)")
_WARNING = re.compile(r"\bwarning:([\w:]+)")


def status_text(text: str) -> str:
    """Statuses in words, wherever they appear in a text: ``failed:ValueError: message`` ->
    ``failed — message`` (``failed (ValueError)`` without a message); ``warning:Restart`` ->
    ``warning (Restart)``."""
    if "failed:" in text:
        text = _FAILED.sub(lambda m: "failed — " if m.end() < len(m.string) else f"failed ({m.group(1)})", text)
    if "warning:" in text:
        text = _WARNING.sub(lambda m: f"warning ({m.group(1).replace(':', ', ')})", text)
    return text


def scientific(x: float, digits: int = 3) -> str:
    """``1.52 × 10⁻¹⁴`` (``digits`` significant digits)."""
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def number_text(x: Any, digits: int = 4, *, integer: bool = False, sci: bool | None = None) -> str:
    """One number as shown: ``–`` for missing, integers with thousands separators, fixed
    ``digits`` decimals when they show it, else scientific (``sci``: decided for its column)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if integer:  # thousands separators from 10,000 (years and small counts read plain)
        return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.0f}"
    if sci is None:
        sci = x != 0 and (abs(x) < 0.5 * 10.0 ** (-digits) or abs(x) >= 1e9)
    if sci and x != 0:
        return scientific(x)
    return f"{x:,.{digits}f}"


def _integral(values: pd.Series) -> bool:
    finite = values[np.isfinite(values.to_numpy(dtype=float))]
    return len(finite) > 0 and bool(np.all(finite == np.round(finite))) and bool((finite.abs() < 1e9).all())


def cell_formatter(column: pd.Series, digits: int) -> Callable[[Any], str]:
    """The formatter of one column (its kind decided once, from all of its values)."""
    if pd.api.types.is_bool_dtype(column):
        return lambda x: "yes" if x is True or x is np.True_ else "no" if x is False or x is np.False_ else "–"
    if pd.api.types.is_numeric_dtype(column):
        values = column.astype(float)
        integer = pd.api.types.is_integer_dtype(column) or _integral(values)
        finite = values[np.isfinite(values.to_numpy())].abs()
        # scientific for the whole column when fixed decimals would show none of it (ω ~ 1e-14) or it is huge
        sci = len(finite) > 0 and (finite.max() < 0.5 * 10.0 ** (-digits) or finite.max() >= 1e9)
        return lambda x: number_text(x, digits, integer=integer, sci=sci)
    if pd.api.types.is_datetime64_any_dtype(column):
        return lambda x: "–" if pd.isna(x) else x.strftime("%Y-%m-%d")

    def text(x: Any) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT:
            return "–"
        if isinstance(x, pd.Timestamp):
            return x.strftime("%Y-%m-%d")
        if isinstance(x, (float, np.floating)):
            return number_text(x, digits)
        x = str(x)
        return "–" if x in ("nan", "None", "NaT", "<NA>") else status_text(x)

    return text


def header_text(name: Any) -> str:
    """A header as shown: the words of :data:`HEADERS`, else the name without underscores."""
    name = str(name)
    return HEADERS.get(name, name.replace("_", " ") if " " not in name else name)


def display(frame: pd.DataFrame, digits: int = 4,
            formats: Mapping[str, Callable[[Any], str]] | None = None) -> tuple[list[str], list[list[str]]]:
    """The headers and the columns of strings shown for ``frame``."""
    columns = []
    for i, c in enumerate(frame.columns):
        col = frame.iloc[:, i]
        fmt = (formats or {}).get(c) or cell_formatter(col, digits)
        columns.append([fmt(x) for x in col])
    return [header_text(c) for c in frame.columns], columns


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX))


def latex_escape(text: str) -> str:
    return _LATEX_RE.sub(lambda m: _LATEX[m.group(0)], text)


def to_latex(headers: list[str], columns: list[list[str]], caption: str, label: str) -> str:
    """A booktabs ``table`` float of the displayed strings (LaTeX special characters escaped)."""
    rows = [" & ".join(latex_escape(c) for c in headers) + r" \\"]
    rows += [" & ".join(latex_escape(col[i]) for col in columns) + r" \\" for i in range(len(columns[0]) if columns else 0)]
    return "\n".join([r"\begin{table}[htbp]", r"\centering", rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{label}}}",
                      r"\begin{tabular}{l" + "r" * (len(headers) - 1) + "}", r"\toprule", rows[0], r"\midrule", *rows[1:],
                      r"\bottomrule", r"\end{tabular}", r"\end{table}"]) + "\n"


def to_html(headers: list[str], columns: list[list[str]], rows: int) -> str:
    """A ``<table class="data">`` of the first ``rows`` displayed rows (text escaped)."""
    head = "".join(f"<th>{html.escape(h, quote=False)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(col[i], quote=False)}</td>" for col in columns) + "</tr>"
                   for i in range(rows))
    return f"<table class='data'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table_html(frame: pd.DataFrame, *, caption: str = "", digits: int = 4, index: bool = False, wrap: bool = False,
               name: str = "", max_rows: int | None = MAX_ROWS, full: pd.DataFrame | None = None,
               formats: Mapping[str, Callable[[Any], str]] | None = None) -> str:
    """A numbered HTML table of ``frame`` (see the module docstring).

    ``full``: the data written to the CSV when it is not ``frame`` itself (e.g. the raw numbers
    behind a display table); ``formats``: column -> formatter for columns that need their own;
    ``wrap``: long text cells wrap; ``name``: the file name (default: from the caption).
    """
    if index:
        frame = frame.reset_index()
    build = numbering.current()
    number, stem = build.next("table", name or caption[:40]) if build is not None else (0, "")
    head = f"Table {number}. " if number else ""
    headers, columns = display(frame, digits, formats)
    n = len(frame)
    links = ""
    if build is not None and build.tables is not None:
        data = frame if full is None else full
        write_csv(data.rename(columns=header_text), build.tables / f"{stem}.csv",
                  float_format="%.10g", date_format="%Y-%m-%d")
        (build.tables / f"{stem}.tex").write_text(to_latex(headers, columns, head + caption, f"tab:{stem}"),
                                                  encoding="utf-8")
        links = f" <span class='files'>(<a href='tables/{stem}.csv'>CSV</a> <a href='tables/{stem}.tex'>LaTeX</a>)</span>"
    more = ""
    if max_rows is not None and n > max_rows:
        more = (f"<p class='more'>The first {max_rows} of {n} rows"
                + (f"; all rows in <a href='tables/{stem}.csv'>{stem}.csv</a>.</p>" if links else ".</p>"))
    body = to_html(headers, columns, n if max_rows is None else min(n, max_rows))
    cap = f"<p class='caption'><b>{escape(head)}</b>{escape(caption)}{links}</p>" if caption or head else ""
    classes = " ".join(c for c in ("table", "wrap" if wrap else "", "wide" if len(headers) > WIDE else "") if c)
    return f"<div class='{classes}'>{cap}{body}{more}</div>"
