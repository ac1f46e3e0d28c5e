"""Panel regressions of the contagion risk weight (Liu–Ma 2021 Tables 1 and 2, and the robustness Table 3)
from the panel stage's artifacts.

Nothing is re-estimated or re-laid-out: Tables 1–3 are the panel stage's display tables
(artifacts ``panel/table1``, ``panel/table2`` and ``panel/table3``, the frames of ``table1.csv`` …
``table3.csv``, with the stage's ``panel.brackets`` and ``panel.digits``); Table 3's note is the
panel stage's (brackets and stars as Table 2's; the (variant, model) pairs of ``panel/robustness``
that were not estimated); the figure and
the health table read ``panel/coefficients`` and ``panel/fit_stats``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import numbering, text
from pipeline.report.core import ReportContext, Section, figure_html, status_kind, table_html
from pipeline.report.figures import COLOURS, legend_outside
from pipeline.report.provenance import NOT_RECORDED

ID = "panel"
TITLE = "Contagion risk weight and regulation (panel regressions)"


TABLE2_NOTE = ("Coefficients with {inside} in brackets; * p < 0.10, ** p < 0.05, *** p < 0.01. "
               "† V_FE − V_RE not positive definite (generalized inverse).")
BRACKETS = {"se": "standard errors", "t": "t statistics"}


def _text(value) -> str:
    return NOT_RECORDED if value is None else str(value)


def _display(table):
    """A display table as shown: blank cells for missing values, no pandas placeholder headers."""
    table = table.rename(columns=lambda c: "" if str(c).startswith("Unnamed:") else c)
    return table.astype(object).where(table.notna(), "")


def _ordered(coefficients: pd.DataFrame, fit_stats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Back to model-list order (the Parquet is sorted by key)."""
    fit_stats = fit_stats.sort_values("position", kind="mergesort").reset_index(drop=True)
    rank = {m: i for i, m in enumerate(fit_stats["model"])}
    coefficients = coefficients.assign(_m=coefficients["model"].map(rank)).sort_values(["_m", "position"], kind="mergesort")
    return coefficients.drop(columns="_m").reset_index(drop=True), fit_stats


def regulators(coefficients: pd.DataFrame, models: list | None, controls: list | None) -> list[str]:
    """The regulator terms in model order: from the models' specification (provenance) when
    recorded, else every term that is not the constant, a control or a product term."""
    terms = list(dict.fromkeys(coefficients["term"]))
    if models:
        named = [r for m in models if isinstance(m, dict) for r in m.get("regulators") or []]
        return [t for t in dict.fromkeys(named) if t in terms]
    return [t for t in terms if ":" not in t and t != "const" and t not in set(controls or [])]


def _draw_regulators(coefficients: pd.DataFrame, fit_stats: pd.DataFrame, terms: list[str]):
    models = list(fit_stats["model"])

    def draw(fig):
        axes = np.atleast_1d(fig.subplots(1, len(terms), sharey=False, squeeze=False)[0])
        for ax, term, colour in zip(axes, terms, [COLOURS[c] for c in ("blue", "vermillion", "green", "purple",
                                                                        "orange", "sky")] * 4):
            rows = coefficients[coefficients["term"] == term].set_index("model").reindex(models).dropna(subset=["estimate"])
            x = np.arange(len(rows))  # one tick per model that includes the term, the point on it
            ax.errorbar(x, rows["estimate"], yerr=1.96 * rows["std_error"], fmt="o", ms=3.5, capsize=2.5,
                        color=colour, label="estimate ± 1.96 s.e.")
            ax.axhline(0.0, color="#888", lw=0.7)
            ax.set_xticks(x, list(rows.index))
            ax.set_xlim(-0.6, len(rows) - 0.4)
            ax.set_title(term.upper())
            ax.set_xlabel("model")
        axes[0].set_ylabel("coefficient: Δ CRW per unit\nchange of the ratio")
        fig.subplots_adjust(wspace=0.45)
        legend_outside(fig, where="below")

    return draw


def _table3(ctx: ReportContext, note: str) -> list[str]:
    """Table 3 (robustness, docs/panel.md) with Table 2's ``note`` and the cells not estimated; nothing when
    it was not made."""
    table3 = ctx.artifact("panel/table3")
    if table3 is None:
        return []
    long = ctx.artifact("panel/robustness", ["variant", "model", "label", "status"])
    build = numbering.current()  # Table 2 of the paper is the table just numbered
    ref = f"Table {build.n_tables}" if build is not None and build.n_tables else "the table above"
    note = note.split(" †")[0] + f" Controls and effects as in {ref} (not shown)."
    if long is not None:
        bad = long[status_kind(long["status"].astype(str)) == "failed"].drop_duplicates(["variant", "model"])
        if len(bad):
            note += " – not estimated: " + "; ".join(f"{r.label} {r.model}" for r in bad.itertuples(index=False)) + "."
    return [table_html(_display(table3), caption=f"Robustness of {ref}: the regulators' coefficients under other "
                       "contagion series, subsamples, lagged ratios, bank and year effects and Driscoll–Kraay "
                       "errors (one block of rows per variant, one column per model). " + note,
                       name="table3", max_rows=None)]


def build(ctx: ReportContext) -> Section | None:
    coefficients = ctx.artifact("panel/coefficients")
    fit_stats = ctx.artifact("panel/fit_stats")
    table1 = ctx.artifact("panel/table1")
    table2 = ctx.artifact("panel/table2")
    if coefficients is None or fit_stats is None or table1 is None or table2 is None:
        return None
    coefficients, fit_stats = _ordered(coefficients, fit_stats)
    failed = status_kind(fit_stats["status"]) == "failed"
    ok = fit_stats[~failed]
    brackets = ctx.param("panel/table2", "panel.brackets")
    note = TABLE2_NOTE.format(inside=BRACKETS.get(brackets, "standard errors or t statistics (panel.brackets: "
                                                   f"{NOT_RECORDED})"))
    health = fit_stats[["model", "nobs", "banks", "excluded", "r2_within", "hausman_df", "hausman_status", "chosen",
                        "status"]].rename(columns={"nobs": "observations (bank-years)", "excluded": "rows excluded",
                                                   "r2_within": "within R²", "hausman_df": "Hausman df",
                                                   "hausman_status": "Hausman status", "chosen": "estimator"})
    terms = regulators(coefficients, ctx.param("panel/coefficients", "panel.models"),
                       ctx.param("panel/coefficients", "panel.controls"))
    blocks = [
        table_html(_display(table1), caption="Descriptive statistics of the panel variables (Liu–Ma 2021 table 1; "
                   "ratios as fractions)", name="table1", max_rows=None),
        table_html(_display(table2), caption="Contagion risk weight on capital and liquidity regulation (Liu–Ma 2021 "
                   "table 2). " + note, name="table2", max_rows=None),
    ]
    blocks += _table3(ctx, note)
    if terms and len(ok):
        blocks.append(figure_html(_draw_regulators(coefficients, ok, terms), name="regulators",
                                  caption="Coefficient of each regulator on CRW with its 95 % interval (± 1.96 "
                                  "standard errors), in each model that includes it", width=min(2.2 * len(terms) + 1, 10),
                                  height=3.2))
    blocks.append(table_html(health, caption="Estimation health per model", digits=4, name="health"))
    negative = ok[(ok["r2_within"] < 0) & (ok["chosen"].astype(str) == "re")]
    if len(negative):
        blocks.append(f"<p class='note'>Within R² below 0 ({', '.join(map(str, negative['model']))}): these columns "
                      "report random-effects coefficients, and the within R² measures how well those coefficients "
                      "fit the bank-demeaned CRW. They are not the least-squares fit of the demeaned data (that is "
                      "the FE fit, whose within R² is ≥ 0), so they can fit it worse than a zero slope: a negative "
                      "value says the regulators explain none of the within-bank variation.</p>")
    metrics = {
        "models_estimated": len(ok),
        "models_not_estimated": int(failed.sum()),
        "models": {r.model: {"nobs": int(r.nobs), "banks": int(r.banks), "r2_within": r.r2_within,
                             "hausman": r.hausman, "hausman_p": r.hausman_p, "chosen": r.chosen}
                   for r in ok.itertuples(index=False)},
    }
    return Section(ID, TITLE, intro(ctx), blocks, metrics,
                   {"coefficients": coefficients, "fit_stats": fit_stats})


def intro(ctx: ReportContext) -> str:
    """The section text with the parameter values recorded in the coefficients' provenance."""
    return text.render(ID, covariance=_text(ctx.param("panel/coefficients", "panel.covariance")),
                        hausman_variance=_text(ctx.param("panel/coefficients", "panel.hausman_variance")))
