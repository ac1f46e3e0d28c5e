"""Which measure warns first: AUC and lead time of the system series before the episodes, and the
rank concordance of the bank-level measures (stage early_warning, docs/early_warning.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.figures import COLOURS, legend_outside

ID = "early_warning"
TITLE = "Early warning: which measure warns first"

LABELS = {"spillover_improved": "spillover index (improved)", "spillover_traditional": "spillover index (traditional)",
          "srisk_aggregate": "aggregate SRISK", "covar_qr_mean": "mean ΔCoVaR-QR", "covar_dcc_mean": "mean ΔCoVaR-DCC",
          "dci": "DCI (Granger network)", "absorption_ratio": "Absorption Ratio", "turbulence": "Turbulence",
          "catfin": "CATFIN", "dy_total": "Diebold–Yilmaz total", "cca_expected_loss": "CCA expected loss"}


BANK_LABELS = {"covar_qr": "ΔCoVaR-QR", "covar_dcc": "ΔCoVaR-DCC", "mes": "MES (dynamic)", "srisk": "SRISK",
               "spillover": "spillover ΔCoVaR", "crw": "CRW (PageRank)", "granger_degree": "Granger in+out degree",
               "minus_dd": "− distance to default"}


def _label(name: str) -> str:
    return LABELS.get(name, name)


def auc_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluated series: AUC, null sd and positives per horizon, the lead summary, causal."""
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame()
    horizons = sorted(ok["horizon"].unique())
    wide = ok.pivot(index="series", columns="horizon", values=["auc", "auc_null_sd", "n_pos"])
    first = ok.drop_duplicates("series").set_index("series")
    out = pd.DataFrame({"series": [_label(s) for s in wide.index]})
    for h in horizons:
        out[f"AUC h={h}"] = wide[("auc", h)].to_numpy()
        out[f"null sd h={h}"] = wide[("auc_null_sd", h)].to_numpy()
        out[f"dates before onset h={h}"] = wide[("n_pos", h)].to_numpy()
    out["onsets warned"] = [f"{int(first.loc[s, 'n_warned'])} of {int(first.loc[s, 'n_onsets'])}" for s in wide.index]
    out["median lead (days)"] = first.loc[wide.index, "lead_days_median"].to_numpy()
    out["causal"] = np.where(first.loc[wide.index, "causal"].to_numpy(), "yes", "no")
    out["first date"] = [f"{d:%Y-%m-%d}" for d in first.loc[wide.index, "first_date"]]
    return out.sort_values(f"AUC h={horizons[-1]}", ascending=False, na_position="last").reset_index(drop=True)


def lead_table(leads: pd.DataFrame) -> pd.DataFrame:
    """Episodes (rows) × series (columns): lead days, or why there is none."""
    cell = np.where(leads["status"] == "ok", leads["lead_days"].map(lambda v: f"{v:.0f}")
                    + np.where(leads["censored"], "+", ""), leads["status"].str.replace("_", " "))
    frame = leads.assign(cell=cell, series=leads["series"].map(_label), start=leads["start"].dt.strftime("%Y-%m-%d"))
    return frame.pivot(index=["episode", "start"], columns="series", values="cell").reset_index().sort_values("start")


def build(ctx: ReportContext) -> Section | None:
    table, leads, tau = (ctx.artifact(n) for n in ("early_warning", "early_warning_leads", "measure_concordance"))
    if table is None:
        return None
    blocks: list[str] = []
    plots: dict[str, pd.DataFrame] = {}
    metrics: dict[str, object] = {}
    aucs = auc_table(table)
    if len(aucs):
        blocks.append(table_html(aucs, caption="Early-warning quality of each system series: AUC of predicting an episode "
                                 "start within h trading days (0.5 = no information), its null sd, the dates before an "
                                 "onset, onsets preceded by a run above the series' expanding quantile and the median lead",
                                 digits=3, name="auc"))
        plots["auc"] = table
        ok = table[table["status"] == "ok"]
        for h, g in ok.groupby("horizon"):
            best = g.loc[g["auc"].idxmax()]
            metrics[f"best_series_h{int(h)}"] = str(best["series"])
            metrics[f"best_auc_h{int(h)}"] = float(best["auc"])
        metrics["series_evaluated"] = int(ok["series"].nunique())
        pivot = ok.pivot(index="series", columns="horizon", values="auc")
        order = pivot.max(axis=1).sort_values().index
        pivot = pivot.loc[order]
        labels = [_label(s) for s in pivot.index]
        colours = [COLOURS["blue"], COLOURS["vermillion"], COLOURS["green"], COLOURS["orange"]]

        def draw(fig):
            ax = fig.subplots()
            y = np.arange(len(pivot))
            width = 0.8 / max(len(pivot.columns), 1)
            for k, h in enumerate(pivot.columns):
                ax.barh(y + (k - (len(pivot.columns) - 1) / 2) * width, pivot[h].to_numpy(), height=width,
                        color=colours[k % len(colours)], label=f"h = {h} trading days")
            ax.axvline(0.5, color=COLOURS["grey"], lw=0.8, ls="--", label="0.5: no information")
            ax.set_yticks(y, labels)
            ax.set_xlim(0, 1)
            ax.set_xlabel("AUC (unitless)")
            legend_outside(fig)

        blocks.append(figure_html(draw, caption="AUC of each system series for an episode start within h trading days",
                                  height=1.0 + 0.35 * len(pivot), name="auc"))
    if leads is not None and len(leads):
        lt = lead_table(leads)
        blocks.append(table_html(lt, caption="Lead time in trading days before each episode start ('+': the run fills the "
                                 "look-back, a lower bound; 'no signal': the last value before the start is not above its "
                                 "threshold; 'no threshold': too little history; 'nested': starts inside an earlier episode)",
                                 name="leads", wrap=True))
        plots["leads"] = leads
    if tau is not None and len(tau):
        both = pd.concat([tau, tau.rename(columns={"a": "b", "b": "a"})])
        both = both.assign(a=both["a"].map(lambda n: BANK_LABELS.get(n, n)), b=both["b"].map(lambda n: BANK_LABELS.get(n, n)))
        matrix = both.pivot(index="a", columns="b", values="tau")
        matrix = matrix.reset_index().rename(columns={"a": "measure"})
        blocks.append(table_html(matrix, caption="Rank concordance of the bank-level measures: Kendall τ-b between the "
                                 "banks' means (higher = riskier for every measure)", digits=2, name="concordance"))
        plots["concordance"] = tau
        metrics["tau_median"] = float(tau["tau"].median())
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    def param(key: str):
        return ctx.param("early_warning", f"measures.early_warning.{key}")

    table = ctx.artifact("early_warning")
    leads = ctx.artifact("early_warning_leads")
    prov = ctx.provenance("early_warning") or {}
    skipped = "" if table is None else ", ".join(sorted({_label(s) for s, st in zip(table["series"], table["status"])
                                                        if str(st).startswith("failed:Skipped")}))
    episodes = leads.drop_duplicates(["episode", "start"]) if leads is not None else None
    horizons = param("horizons")
    mode = prov.get("realtime")
    return text.render(
        ID, n_episodes=None if episodes is None else len(episodes),
        n_onsets=None if episodes is None else int((episodes["status"] != "nested").sum()),
        source=None if table is None or "episode_source" not in table else
        {"data": "the data's episode table", "report": "report.episodes"}.get(str(table["episode_source"].iloc[0])),
        horizons=None if horizons is None else ", ".join(map(str, horizons)), quantile=param("quantile"),
        min_history=param("min_history"), max_lead=param("max_lead"),
        mode=None if mode is None else f"realtime: {str(bool(mode)).lower()}", skipped=skipped)
