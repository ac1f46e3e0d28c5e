"""Contingent-claims analysis: distance to default per bank, the system's expected loss, shares by bank."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report.core import ReportContext, Section, figure_html, shade_episodes, status_kind, table_html
from pipeline.report import text
from pipeline.report.figures import episodes_within

ID = "cca"
TITLE = "Distance to default and expected loss (contingent claims)"
BILLION = 1e9
COLUMNS = ("bank_id", "date", "distance_to_default", "default_probability", "expected_loss", "el_share", "asset_vol",
           "status")


def _currency(ctx: ReportContext) -> str:
    meta = ctx.artifact("canonical/meta")
    return "" if meta is None else str(meta.get("currency", ""))


def lowest_dd(cca: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Per bank its lowest DD, the date, and the PD then; the ``top`` lowest banks."""
    ok = cca.dropna(subset=["distance_to_default"])
    if ok.empty:
        return pd.DataFrame()
    low = ok.loc[ok.groupby("bank_id")["distance_to_default"].idxmin()]
    low = low.sort_values(["distance_to_default", "bank_id"]).head(top)
    return pd.DataFrame({"bank": low["bank_id"].to_numpy(), "lowest DD": low["distance_to_default"].to_numpy(),
                         "date": low["date"].dt.strftime("%Y-%m-%d").to_numpy(),
                         "PD then": low["default_probability"].to_numpy()})


def build(ctx: ReportContext) -> Section | None:
    cca, total = ctx.artifact("cca", COLUMNS), ctx.artifact("cca_total")
    if cca is None and total is None:
        return None
    unit = f"bn {_currency(ctx)}".strip()
    blocks: list[str] = []
    metrics: dict[str, object] = {}
    plots: dict[str, pd.DataFrame] = {}
    episodes = ctx.episodes
    if cca is not None:
        dd = cca.pivot(index="date", columns="bank_id", values="distance_to_default")
        el = (total.set_index("date")["expected_loss_total"] / BILLION) if total is not None else pd.Series(dtype=float)

        def draw(fig):
            axes = np.atleast_1d(fig.subplots(2 if el.notna().any() else 1, 1, sharex=True))
            axes[0].plot(dd.index, dd.to_numpy(), lw=0.3, color="#999", alpha=0.6)
            axes[0].plot(dd.index, dd.median(axis=1).to_numpy(), lw=1.0, color="#1f4e79")
            axes[0].axhline(0.0, lw=0.6, color="#8c1c13")
            axes[0].set_ylabel("distance to default")
            if len(axes) > 1:
                axes[1].plot(el.index, el.to_numpy(), lw=0.9, color="#8c1c13")
                axes[1].set_ylabel(f"system expected loss, {unit}")
            for ax in axes:
                shade_episodes(ax, episodes)
                ax.grid(alpha=0.3)

        blocks.append(figure_html(draw, caption="Distance to default per bank (grey) and median (blue); the sum of the "
                                  "banks' expected losses; shaded: stress episodes", name="distance_to_default", height=5.6))
        plots["dd_median"] = pd.DataFrame({"date": dd.index, "dd_median": dd.median(axis=1).to_numpy()})
        valid = cca.dropna(subset=["distance_to_default"])
        if not valid.empty:
            latest = valid["date"].max()
            last = valid[valid["date"] == latest].sort_values(["el_share", "bank_id"], ascending=[False, True])
            rank = pd.DataFrame({"bank": last["bank_id"].to_numpy(), "DD": last["distance_to_default"].to_numpy(),
                                 "PD": last["default_probability"].to_numpy(),
                                 f"expected loss ({unit})": last["expected_loss"].to_numpy() / BILLION,
                                 "share %": last["el_share"].to_numpy() * 100, "σ_V": last["asset_vol"].to_numpy()})
            blocks.append(table_html(rank, caption=f"Banks by share of the system expected loss on {latest:%Y-%m-%d}", digits=4))
            plots["latest"] = rank
            metrics["latest_date"] = latest
            metrics["dd_median_latest"] = float(last["distance_to_default"].median())
            metrics["top_share_bank_latest"] = str(last["bank_id"].iloc[0])
            low = lowest_dd(cca)
            blocks.append(table_html(low, caption="Lowest distance to default of each bank (the lowest ten)", digits=3))
            plots["lowest_dd"] = low
            metrics["lowest_dd"] = {b: [float(v), d] for b, v, d in zip(low["bank"], low["lowest DD"], low["date"])}
        kinds = status_kind(cca["status"].astype(str)).value_counts()
        metrics["rows"] = {k: int(kinds.get(k, 0)) for k in ("ok", "warning", "failed")}
        classes = cca["status"].astype(str).str.split(":").str[:2].str.join(":")
        health = (cca.groupby(classes)["bank_id"].agg(rows="size", banks="nunique").reset_index()
                  .rename(columns={"status": "status"}))
        blocks.append(table_html(health, caption="Rows per status class (failed rows carry no value)"))
        plots["health"] = health
    if total is not None and total["expected_loss_total"].notna().any():
        ts = total.set_index("date")["expected_loss_total"] / BILLION
        metrics["expected_loss_total_latest_bn"] = float(ts.dropna().iloc[-1])
        metrics["expected_loss_total_max_bn"] = float(ts.max())
        metrics["expected_loss_total_max_date"] = ts.idxmax()
        metrics["dd_median_min"] = float(total["dd_median"].min())
        metrics["dd_median_min_date"] = total.loc[total["dd_median"].idxmin(), "date"]
        plots["system"] = total
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    """The section text (template ``cca.html.j2``) with the parameters recorded in the provenance of ``cca``
    and the episodes inside its dates."""
    found = {key: ctx.param("cca", f"measures.cca.{key}") for key in ("barrier", "solver", "window", "horizon", "rate_unit")}
    rate = ctx.param("cca", "measures.cca.rate")
    dates = ctx.artifact("cca", COLUMNS)
    inside = [] if dates is None else episodes_within(ctx.episodes, dates["date"].min(), dates["date"].max())
    return text.render(ID, **found, rate_state=ctx.param("cca", "measures.cca.rate_state") or "",
                       rate=None if rate is None else f"constant {rate:g}", episodes=[e["name"] for e in inside])
