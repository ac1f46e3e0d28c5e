"""SRISK rankings and aggregate SRISK, SRISK%, ΔCoVaR-DCC and MES series, DCC estimation health."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, status_kind, table_html
from pipeline.report.figures import COLOURS, episodes_within, legend_outside, shade_episodes

ID = "srisk"
TITLE = "SRISK, MES and ΔCoVaR-DCC"

BILLION = 1e9


def _currency(ctx: ReportContext) -> str:
    meta = ctx.artifact("canonical/meta")
    return "" if meta is None else str(meta.get("currency", ""))


def _status_class(status: pd.Series) -> pd.Series:
    text = status.astype(str)
    classes = {t: t if t == "ok" else ":".join(t.split(":", 2)[:2]) for t in pd.unique(text)}  # once per distinct status
    return text.map(classes)


def health_table(artifacts: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Row counts per artifact and status class, and the banks concerned."""
    rows = []
    for name, frame in artifacts.items():
        if frame is None or "status" not in frame:
            continue
        classes = _status_class(frame["status"])
        for cls, g in frame.groupby(classes, sort=True):
            rows.append({"artifact": name, "status": cls, "rows": len(g), "banks": g["bank_id"].nunique(),
                         "bank_ids": ", ".join(sorted(map(str, g["bank_id"].unique()))[:8])})
    return pd.DataFrame(rows, columns=["artifact", "status", "rows", "banks", "bank_ids"])


HEALTH_HEADERS = {"status": "status class", "bank_ids": "banks concerned (first 8)"}


def yearly_ranking(sr: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Per year: the ``top`` banks by average daily SRISK, with their share of the yearly aggregate."""
    valid = sr.dropna(subset=["srisk"])
    if valid.empty:
        return pd.DataFrame()
    mean = valid.assign(year=valid["date"].dt.year).groupby(["year", "bank_id"])["srisk"].mean().reset_index()
    rows = []
    for year, g in mean.groupby("year", sort=True):
        pos = g[g["srisk"] > 0].sort_values(["srisk", "bank_id"], ascending=[False, True])
        total = pos["srisk"].sum()
        row = {"year": int(year), "aggregate SRISK (bn)": total / BILLION}
        for k in range(top):
            row[f"#{k + 1}"] = (
                f"{pos.iloc[k]['bank_id']} ({pos.iloc[k]['srisk'] / total:.0%})" if k < len(pos) else "–"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _srisk_part(ctx: ReportContext, sr: pd.DataFrame | None, total: pd.DataFrame | None, blocks: list[str],
                metrics: dict[str, object], plots: dict[str, pd.DataFrame]) -> None:
    """Rankings, aggregate SRISK and SRISK% (what of it the artifacts allow), appended in place."""
    unit = f"bn {_currency(ctx)}".strip()
    valid = sr.dropna(subset=["srisk"]) if sr is not None else pd.DataFrame()
    if not valid.empty:  # latest-date ranking
        latest = valid["date"].max()
        last = valid[valid["date"] == latest].sort_values(["srisk", "bank_id"], ascending=[False, True])
        rank = pd.DataFrame({
            "rank": np.arange(1, len(last) + 1), "bank": last["bank_id"].to_numpy(),
            f"SRISK ({unit})": last["srisk"].to_numpy() / BILLION, "SRISK% (share, %)": last["srisk_share"].to_numpy() * 100,
            "LRMES (fraction)": last["lrmes"].to_numpy(), "β": last["beta"].to_numpy(),
            **({f"SES ({unit})": last["ses"].to_numpy() / BILLION} if "ses" in last else {}), "status": last["status"].to_numpy(),
        })
        plots["ranking_latest"] = rank
        metrics["latest_date"] = latest
        metrics["latest_top_bank"] = str(last["bank_id"].iloc[0])
    ts = total.set_index("date")["srisk_total"] / BILLION if total is not None else pd.Series(dtype=float)
    if ts.notna().any():
        metrics["srisk_total_latest_bn"] = float(ts.dropna().iloc[-1])
        metrics["srisk_total_max_bn"] = float(ts.max())
        metrics["srisk_total_max_date"] = ts.idxmax()

    def draw_total(fig):
        ax = fig.subplots()
        ax.plot(ts.index, ts.to_numpy(), lw=0.9, color=COLOURS["vermillion"], label="aggregate SRISK")
        ax.set_ylabel(f"aggregate SRISK, {unit}")
        ax.set_xlabel("date")
        shade_episodes(ax, episodes)
        legend_outside(fig)

    if total is not None:
        episodes = episodes_within(ctx.episodes, ts.index.min(), ts.index.max()) if len(ts) else []
        blocks.append(figure_html(draw_total, caption=f"Aggregate SRISK Σ max(SRISK_i, 0), daily, in {unit}"
                                  + ("; shaded: stress episodes" if episodes else ""), name="aggregate"))
        # the aggregate's CSV is plots/series_srisk_total.csv (pipeline.report.series, dvc.yaml's plots)
    if "ranking_latest" in plots:
        blocks.append(table_html(plots["ranking_latest"], caption=f"SRISK ranking on {metrics['latest_date']:%Y-%m-%d}: SRISK in {unit}, SRISK% = share of "
                                 "aggregate SRISK" + (f"; SES (systemic expected shortfall) in {unit}" if "ses" in last else ""),
                                 digits=3, name="ranking_latest"))
    if sr is None:
        return
    yearly = yearly_ranking(sr)
    if not yearly.empty:
        blocks.append(table_html(yearly, caption=f"Top banks by average daily SRISK each year (in parentheses: share of the year's "
                                 f"aggregate); aggregate SRISK in {unit}", digits=2, name="ranking_by_year"))
        plots["ranking_by_year"] = yearly
    share = sr.assign(year=sr["date"].dt.year).groupby(["bank_id", "year"])["srisk_share"].mean().unstack("year") * 100
    if share.notna().any().any():
        share.columns = [str(c) for c in share.columns]
        share = share.reset_index().rename(columns={"bank_id": "bank"})
        blocks.append(table_html(share, caption="SRISK% by year: average daily share of aggregate SRISK, percent", digits=1,
                                 name="share_by_year"))
        plots["srisk_share_by_year"] = share


PATH_COLUMNS = ("bank_id", "refit_date", "bank_alpha", "bank_gamma", "bank_beta", "dcc_a", "dcc_b", "status")


def _parameter_paths(paths: pd.DataFrame | None, episodes, blocks: list, metrics: dict, plots: dict) -> None:
    """Real-time DCC (``estimation: expanding | rolling``): the refitted parameters over the refit dates.

    Per bank (grey) and the cross-sectional median (blue): the DCC a and b and the bank's GJR
    persistence α + γ/2 + β; and per bank the number of refits, failed refits and the last (a, b).
    A full-sample run has one refit per bank and shows nothing here.
    """
    if paths is None or not len(paths) or paths.groupby("bank_id").size().max() < 2:
        return
    ok = paths[paths["status"].astype(str).str.split(":").str[0] != "failed"].copy()
    ok["persistence"] = ok["bank_alpha"] + ok["bank_gamma"] / 2.0 + ok["bank_beta"]
    wide = {name: ok.pivot(index="refit_date", columns="bank_id", values=name).sort_index().ffill()
            for name in ("dcc_a", "dcc_b", "persistence")}

    def draw_paths(fig):
        axes = np.atleast_1d(fig.subplots(len(wide), 1, sharex=True))
        for ax, (label, frame) in zip(axes, wide.items()):
            lines = ax.step(frame.index, frame.to_numpy(), where="post", lw=0.4, color=COLOURS["grey"], alpha=0.6)
            if lines:
                lines[0].set_label("each bank")
            ax.step(frame.index, frame.median(axis=1).to_numpy(), where="post", lw=1.0, color=COLOURS["blue"],
                    label="median")
            ax.set_ylabel(f"{label} (unitless)")
            shade_episodes(ax, episodes)
        axes[-1].set_xlabel("refit date")
        legend_outside(fig, where="below")

    blocks.append(figure_html(draw_paths, caption="Real-time DCC: parameters of each refit (on the data up to its date), "
                              "per bank (grey) and median (blue); persistence = α + γ/2 + β of the bank's GJR-GARCH",
                              height=6.4))
    last = ok.sort_values("refit_date").groupby("bank_id").tail(1).set_index("bank_id")
    table = pd.DataFrame({"refits": paths.groupby("bank_id").size(),
                          "failed refits": (paths["status"].astype(str).str.split(":").str[0] == "failed")
                          .groupby(paths["bank_id"]).sum().astype(int),
                          "last a": last["dcc_a"], "last b": last["dcc_b"]}).reset_index()
    blocks.append(table_html(table, caption="Real-time DCC refits per bank (estimates/dcc_param_paths)", digits=4,
                             name="refits"))
    metrics["refits"] = int(len(paths))
    metrics["failed_refits"] = int(table["failed refits"].sum())
    plots["dcc_parameter_paths"] = pd.DataFrame({name: frame.median(axis=1) for name, frame in wide.items()}).reset_index()


def build(ctx: ReportContext) -> Section | None:
    """Each part shows when its artifacts are there (e.g. MES and ΔCoVaR-DCC without SRISK)."""
    sr, total, mes = ctx.artifact("srisk"), ctx.artifact("srisk_total"), ctx.artifact("mes")
    covar = ctx.artifact("covar_dcc", ("bank_id", "date", "delta_covar", "status"))
    estimates = ctx.artifact("covar_dcc_estimates")
    paths = ctx.artifact("dcc_param_paths", PATH_COLUMNS)
    if all(frame is None for frame in (sr, total, mes, covar, estimates, paths)):
        return None
    blocks: list[str] = []
    plots: dict[str, pd.DataFrame] = {}
    metrics: dict[str, object] = {}
    _srisk_part(ctx, sr, total, blocks, metrics, plots)

    # ΔCoVaR-DCC and MES series
    series = []
    if covar is not None:
        series.append(("ΔCoVaR-DCC", covar.pivot(index="date", columns="bank_id", values="delta_covar")))
    if mes is not None:
        series.append(("MES dynamic", mes.pivot(index="date", columns="bank_id", values="mes_dyn")))
        series.append(("MES historical", mes.pivot(index="date", columns="bank_id", values="mes_hist")))
    if series:
        def draw_series(fig):
            axes = np.atleast_1d(fig.subplots(len(series), 1, sharex=True))
            for k, (ax, (label, wide)) in enumerate(zip(axes, series)):
                lines = ax.plot(wide.index, wide.to_numpy() * 100, lw=0.3, color=COLOURS["grey"], alpha=0.6)
                if lines:
                    lines[0].set_label("each bank")
                ax.plot(wide.index, wide.median(axis=1).to_numpy() * 100, lw=1.0, color=COLOURS["blue"],
                        label="cross-sectional median")
                ax.set_ylabel(f"{label},\n% daily loss")
                shade_episodes(ax, episodes, names=k == 0)
            axes[-1].set_xlabel("date")
            legend_outside(fig, where="below")

        first, last = min(w.index.min() for _, w in series), max(w.index.max() for _, w in series)
        episodes = episodes_within(ctx.episodes, first, last)
        blocks.append(figure_html(draw_series, caption=", ".join(label for label, _ in series) + ": each bank (grey) "
                                  "and the cross-sectional median (blue), daily loss in percent", name="measures",
                                  height=2.2 * len(series) + 1.0))
        plots["measures_median"] = pd.DataFrame({label: wide.median(axis=1) for label, wide in series}).reset_index()
        means = pd.DataFrame({label: wide.mean() * 100 for label, wide in series})
        means.index.name = "bank"
        means.columns = [f"{c} (%)" for c in means.columns]
        blocks.append(table_html(means.reset_index(), caption="Time-series mean per bank of the daily loss measures, "
                                 "percent", digits=3, name="means"))

    health = health_table({"covar_dcc": covar, "mes": mes, "srisk": sr})
    if estimates is not None:
        fits = estimates[estimates["term"] == "dcc_a"]
        kinds = status_kind(fits["status"]).value_counts()
        metrics["fits"] = {k: int(kinds.get(k, 0)) for k in ("ok", "warning", "failed")}
        dcc = estimates[estimates["term"].isin(["dcc_a", "dcc_b"])].pivot(index="bank_id", columns="term", values="estimate")
        if dcc.notna().any().any():
            metrics["dcc_a_median"] = float(dcc["dcc_a"].median())
            metrics["dcc_b_median"] = float(dcc["dcc_b"].median())
        fit_rows = health_table({"DCC fits (banks)": fits})
        health = pd.concat([fit_rows, health], ignore_index=True)
    blocks.append(table_html(health.rename(columns=HEALTH_HEADERS), caption="Estimation health: rows per status class "
                             "(failed rows carry no value; warnings are kept)", name="health", wrap=True))
    plots["health"] = health
    _parameter_paths(paths, ctx.episodes, blocks, metrics, plots)
    non_ok = health[health["status"] != "ok"]
    metrics["non_ok_rows"] = {f"{a}|{s}": int(r) for a, s, r in zip(non_ok["artifact"], non_ok["status"], non_ok["rows"])}
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    """The section text with the parameter values recorded in the provenance of srisk (else mes: same stage)."""
    def param(key: str):
        values = (ctx.param(name, f"measures.mes_srisk.{key}") for name in ("srisk", "mes"))
        return next((v for v in values if v is not None), None)

    found = {key: param(key) for key in ("window", "kappa", "crash", "horizon", "k", "ses_theta", "ses_delta", "ses_mes")}
    found["route"] = param("lrmes_route")
    ses = ctx.artifact("srisk", ["ses"])
    found["ses"] = ses is not None and "ses" in ses
    tail = param("tail")
    found["tail"] = None if tail is None else f"{100 * tail:g}%"
    return text.render(ID, **found)
