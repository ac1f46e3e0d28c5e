"""Panel regressions of the contagion risk weight (Liu–Ma 2021 Tables 1 and 2) from the panel stage's artifacts.

Nothing is re-estimated or re-laid-out: Tables 1 and 2 are the panel stage's display tables
(artifacts ``panel/table1`` and ``panel/table2``, the frames of ``table1.csv`` / ``table2.csv``, with
the stage's ``panel.brackets`` and ``panel.digits``); the figure and the health table read
``panel/coefficients`` and ``panel/fit_stats``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, status_kind, table_html
from pipeline.report.provenance import NOT_RECORDED

ID = "panel"
TITLE = "Contagion risk weight and regulation (panel regressions)"
INTRO = (
    "Liu–Ma 2021 (docs/panel.md) regress each bank's contagion risk weight CRW<sub>it</sub> (its PageRank weight in "
    "the year's Granger-causality network; the weights of a year sum to 1, so their mean is 1 / number of banks) on "
    "its year-end regulatory ratios: CRW<sub>it</sub> = μ<sub>i</sub> + β<sub>1</sub> R1<sub>it</sub> + "
    "β<sub>2</sub> R2<sub>it</sub> + β<sub>3</sub> R1<sub>it</sub>·R2<sub>it</sub> + Σ γ<sub>c</sub> "
    "Control<sub>c,it</sub> + ε<sub>it</sub>, with R1 a solvency ratio (CAR: capital adequacy ratio; LEV: leverage "
    "ratio) and R2 a liquidity ratio (LCR: liquidity coverage ratio; LDR: loan-to-deposit ratio; LIQ: liquidity "
    "ratio); controls NPL (non-performing loan ratio), NIM (net interest margin) and loan growth. All ratios are "
    "fractions (0.12 = 12 %), so a coefficient is the change of CRW for a change of the ratio by 1 (100 percentage "
    "points). <b>Table 1</b>: for every variable, N = number of bank-years with a value, mean, sd (standard deviation, "
    "n − 1 denominator), min and max over the joined panel (before any model drops rows). <b>Table 2</b>: one column "
    "per model of <code>panel.models</code>; each term has its coefficient (stars: * p &lt; 0.10, ** p &lt; 0.05, "
    "*** p &lt; 0.01, two-sided t test with the residual degrees of freedom) and below it its standard error in "
    "parentheses (<code>panel.covariance</code> = {covariance}; clustered = by bank, with "
    "<code>panel.small_sample</code> scaled by G/(G−1)·(n−1)/(n−k) as Stata and R plm "
    "<code>vcovHC(type=\"sss\")</code>). A × B is the product term. "
    "<em>Constant</em> appears only where random effects (RE) are reported (fixed effects absorb it into μ<sub>i</sub>). "
    "<em>Within R²</em> = 1 − SSR/TSS of the bank-demeaned CRW with the reported coefficients (for an RE column it "
    "can be negative). <em>Observations</em> = bank-years used, <em>Banks</em> = banks with at least one. "
    "<em>Hausman χ²</em> = d′(V<sub>FE</sub> − V<sub>RE</sub>)<sup>−1</sup>d on the k slopes common to FE and RE "
    "(d = b<sub>FE</sub> − b<sub>RE</sub>, conventional covariances; <code>panel.hausman_variance</code> = "
    "{hausman_variance}, where fe bases both on the FE residual variance), χ²(k) under H0 that the bank effects are uncorrelated with the "
    "regressors; † marks a non-positive-definite difference (generalized inverse). <em>Estimator</em>: FE if H0 is "
    "rejected at <code>panel.alpha</code> (or always, with <code>panel.choose: fe</code>), else RE. The health table "
    "lists per model the rows dropped for missing values (<em>excluded</em>, recorded in the data-quality section), the "
    "Hausman degrees of freedom and statuses; a model the data cannot carry (a missing ratio, e.g. no LCR or leverage "
    "ratio in the data) is listed there as not estimated. The figure shows each regulator coefficient with its 95 % "
    "interval (± 1.96 standard errors)."
)


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


def _draw_regulators(coefficients: pd.DataFrame, fit_stats: pd.DataFrame):
    terms = [t for t in dict.fromkeys(coefficients["term"]) if ":" not in t and t != "const"
             and coefficients.loc[coefficients["term"] == t, "model"].nunique() < len(fit_stats)]
    models = list(fit_stats["model"])

    def draw(fig):
        ax = fig.subplots()
        width = 0.8 / max(len(terms), 1)
        for j, term in enumerate(terms):
            rows = coefficients[coefficients["term"] == term].set_index("model").reindex(models)
            x = np.arange(len(models)) + (j - (len(terms) - 1) / 2) * width
            ax.errorbar(x, rows["estimate"], yerr=1.96 * rows["std_error"], fmt="o", ms=3, capsize=2, label=term.upper())
        ax.axhline(0.0, color="#888", lw=0.7)
        ax.set_xticks(np.arange(len(models)), models)
        ax.set_ylabel("coefficient on CRW")
        ax.legend(ncols=min(len(terms), 6), fontsize=8)
        ax.grid(alpha=0.3)

    return draw


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
    health = fit_stats[["model", "nobs", "banks", "excluded", "hausman_df", "hausman_status", "chosen", "status"]]
    blocks = [
        table_html(_display(table1), caption="Table 1. Descriptive statistics of the panel variables"),
        table_html(_display(table2), caption="Table 2. Contagion risk weight on capital and liquidity regulation. " + note),
        figure_html(_draw_regulators(coefficients, ok), caption="Regulator coefficients with 95 % intervals, by model"),
        table_html(health, caption="Estimation health per model", digits=0),
    ]
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
    return INTRO.format(covariance=_text(ctx.param("panel/coefficients", "panel.covariance")),
                        hausman_variance=_text(ctx.param("panel/coefficients", "panel.hausman_variance")))
