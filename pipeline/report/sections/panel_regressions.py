"""Panel regressions of the contagion risk weight (seed 003 Tables 1 and 2) from the panel stage's Parquet.

Nothing is re-estimated: Table 1 is ``processed/panel/descriptives.parquet``, Table 2 is laid
out by :func:`panel.tables.regression_table` from ``coefficients.parquet`` and ``fit_stats.parquet``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from panel.tables import regression_table, table_note
from pipeline.report.core import ReportContext, Section, figure_html, table_html

INTRO = (
    "Seed 003 §4 (METHODS §5) regresses each bank's contagion risk weight CRW<sub>it</sub> (its PageRank weight in "
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
    "parentheses (by default clustered by bank, scaled by G/(G−1)·(n−1)/(n−k) as Stata and R plm "
    "<code>vcovHC(type=\"sss\")</code>; <code>panel.covariance</code>). A × B is the product term. "
    "<em>Constant</em> appears only where random effects (RE) are reported (fixed effects absorb it into μ<sub>i</sub>). "
    "<em>Within R²</em> = 1 − SSR/TSS of the bank-demeaned CRW with the reported coefficients (for an RE column it "
    "can be negative). <em>Observations</em> = bank-years used, <em>Banks</em> = banks with at least one. "
    "<em>Hausman χ²</em> = d′(V<sub>FE</sub> − V<sub>RE</sub>)<sup>−1</sup>d on the k slopes common to FE and RE "
    "(d = b<sub>FE</sub> − b<sub>RE</sub>, conventional covariances; by default both based on the FE residual "
    "variance, <code>panel.hausman_variance: fe</code>), χ²(k) under H0 that the bank effects are uncorrelated with the "
    "regressors; † marks a non-positive-definite difference (generalized inverse). <em>Estimator</em>: FE if H0 is "
    "rejected at <code>panel.alpha</code> (or always, with <code>panel.choose: fe</code>), else RE. The health table "
    "lists per model the rows dropped for missing values (<em>excluded</em>, recorded in the data-quality section), the "
    "Hausman degrees of freedom and statuses; a model the data cannot carry (a missing ratio, e.g. no LCR or leverage "
    "ratio in the data) is listed there as not estimated. The figure shows each regulator coefficient with its 95 % "
    "interval (± 1.96 standard errors)."
)


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
    coefficients = ctx.artifact("processed/panel/coefficients.parquet")
    fit_stats = ctx.artifact("processed/panel/fit_stats.parquet")
    descriptives = ctx.artifact("processed/panel/descriptives.parquet")
    if coefficients is None or fit_stats is None or descriptives is None:
        return None
    coefficients, fit_stats = _ordered(coefficients, fit_stats)
    failed = fit_stats["status"].str.startswith("failed")
    ok = fit_stats[~failed]
    table1 = descriptives.sort_values("position", kind="mergesort").drop(columns="position")
    table1 = table1.assign(variable=[v.upper().replace("_", " ") for v in table1["variable"]])
    table2 = regression_table(coefficients, ok, brackets="se", digits=3)
    health = fit_stats[["model", "nobs", "banks", "excluded", "hausman_df", "hausman_status", "chosen", "status"]]
    blocks = [
        table_html(table1, caption="Table 1. Descriptive statistics of the panel variables", digits=4),
        table_html(table2, caption="Table 2. Contagion risk weight on capital and liquidity regulation. " + table_note("se")),
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
    return Section("panel", "Contagion risk weight and regulation (panel regressions)", INTRO, blocks, metrics,
                   {"coefficients": coefficients, "fit_stats": fit_stats})
