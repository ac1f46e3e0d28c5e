"""ΔCoVaR by quantile regression and the market-spillover decomposition (Adrian–Brunnermeier 2016; Fang–Chen–Yang 2018; docs/covar.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from measures.core.cells import stars
from pipeline.report import text
from pipeline.report.core import ReportContext, Section, figure_html, table_html
from pipeline.report.figures import COLOURS, episodes_within, legend_outside, shade_episodes

ID = "spillover"
TITLE = "ΔCoVaR by quantile regression and market spillovers"


def series_figure(frame: pd.DataFrame, lines, ylabel: str, episodes: list, caption: str, name: str,
                  lw: float = 1.0) -> str:
    """``(column, label, colour)`` of ``lines`` in percent over ``frame["date"]``, episodes shaded, legend outside."""
    def draw(fig):
        ax = fig.subplots()
        for column, label, colour in lines:
            ax.plot(frame["date"], frame[column] * 100.0, lw=lw, color=COLOURS[colour], label=label)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("date")
        shade_episodes(ax, episodes)
        legend_outside(fig)

    return figure_html(draw, caption=caption + ("; shaded: stress episodes" if episodes else ""), name=name)


def _index_figure(weekly: pd.DataFrame, episodes: list) -> str:
    return series_figure(weekly, (("improved_index", r"improved index, $\Delta$CoVaR$^{M}$ (eq. 8)", "vermillion"),
                                  ("traditional_index", r"traditional index, $\Delta$CoVaR", "blue")),
                         "index, % daily loss", episodes, "System indices (market-value-weighted ΔCoVaRᴹ and ΔCoVaR), "
                         "weekly (last trading day of the week), percent daily loss", "indices")


def _markets_figure(weekly: pd.DataFrame, markets: list[str], episodes: list) -> str:
    def draw(fig):
        ax = fig.subplots()
        for m in markets:
            ax.plot(weekly["date"], weekly[f"spill_{m}"] * 100.0, lw=0.9, label=f"market {m}")
        ax.axhline(0.0, color="#666", lw=0.6)
        ax.set_ylabel(r"$S_k$, % daily loss")
        ax.set_xlabel("date")
        shade_episodes(ax, episodes)
        legend_outside(fig)

    return figure_html(draw, caption="Single-market spillovers S_k (eq. 11–12), weekly, percent daily loss"
                       + ("; shaded: stress episodes" if episodes else ""), name="markets")


def episode_table(daily: pd.DataFrame, episodes: list) -> pd.DataFrame:
    """Mean of each index inside each episode and its ratio to the full-sample mean."""
    rows = []
    means = {c: daily[c].mean() for c in ("improved_index", "traditional_index")}
    for ep in episodes:
        inside = daily[(daily["date"] >= pd.Timestamp(ep["start"])) & (daily["date"] <= pd.Timestamp(ep["end"]))]
        row = {"episode": ep["name"], "days": len(inside)}
        for c, label in (("improved_index", "improved"), ("traditional_index", "traditional")):
            m = inside[c].mean() if len(inside) else np.nan
            row[f"{label} index, mean (%)"] = m * 100.0
            row[f"{label} / full-sample mean"] = m / means[c] if len(inside) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def channel_table(channels: pd.DataFrame) -> pd.DataFrame:
    """Means over dates of the weighted per-market spillover and channels (Fang–Chen–Yang 2018 tables 2–3)."""
    t = channels.groupby("market", sort=True)[["spillover", "delta_m", "c", "gamma", "beta"]].mean()
    t["spillover"] = t["spillover"] * 100.0
    t = t.rename(columns={"spillover": SK_MEAN, "delta_m": "own risk ΔM_k (state unit)", "c": "risk-taking c_k",
                          "gamma": "information γ_k", "beta": "connectedness β"})
    return t.sort_values(SK_MEAN, ascending=False).reset_index()


SK_MEAN = "S_k, mean (% daily loss)"


#: the columns of the (large) per-bank tables that this section uses
COVAR_COLUMNS = ("bank_id", "date", "var_q", "covar", "delta_covar", "status")
SUMMARY_COLUMNS = ("bank_id", "delta_covar_m_mean")
ESTIMATE_COLUMNS = ("bank_id", "window_end", "equation", "term", "estimate", "std_error", "p_value")


def bank_means_m(summary: pd.DataFrame | None) -> pd.Series | None:
    """Per bank, the mean market-spillover ΔCoVaR^M over its dates with status ok, from the
    per-bank summary ``spillover_banks`` (the bank x date x market table is not read)."""
    if summary is None:
        return None
    return summary.set_index("bank_id")["delta_covar_m_mean"]


def delta_covar_tests(estimates: pd.DataFrame | None) -> pd.DataFrame | None:
    """Per bank, the test of H0: ΔCoVaR = 0, i.e. of the bank-loss coefficient β of the system
    quantile regression (its last window for rolling or expanding fits): β, its standard error,
    p-value and stars (* p < 0.10, ** p < 0.05, *** p < 0.01)."""
    if estimates is None or not len(estimates) or "p_value" not in estimates:
        return None
    beta = estimates[(estimates["equation"].astype(str) == "system") & (estimates["term"].astype(str) == "bank_loss")]
    beta = beta.sort_values(["bank_id", "window_end"]).groupby("bank_id", sort=True).tail(1).set_index("bank_id")
    out = beta[["estimate", "std_error", "p_value"]].astype(float)
    out["stars"] = [stars(p) for p in out["p_value"]]
    return out


def top_banks(covar: pd.DataFrame, spill_m: pd.Series | None, n: int = 10,
              tests: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``n`` banks of largest mean ΔCoVaR (rows ok), with ``spill_m`` (:func:`bank_means_m`) and the
    tests of H0: ΔCoVaR = 0 (:func:`delta_covar_tests`) where given."""
    ok = covar[covar["status"].astype(str) == "ok"]
    t = ok.groupby("bank_id", sort=True).agg(delta_covar=("delta_covar", "mean"), var_q=("var_q", "mean"),
                                             covar=("covar", "mean"), days=("date", "size"))
    t["non_ok rows"] = covar.groupby("bank_id")["status"].apply(lambda s: int((s.astype(str) != "ok").sum()))
    if spill_m is not None:
        t["delta_covar_m"] = spill_m
    if tests is not None:
        t["β (H0: ΔCoVaR = 0)"] = [f"{b:.4f}{m}" if np.isfinite(b) else "" for b, m in
                                   zip(tests["estimate"].reindex(t.index), tests["stars"].reindex(t.index).fillna(""))]
        t["p-value"] = tests["p_value"].reindex(t.index)
    t = t.sort_values("delta_covar", ascending=False).head(n)
    for c in ("delta_covar", "var_q", "covar", "delta_covar_m"):
        if c in t:
            t[c] = t[c] * 100.0
    t = t.rename(columns={"delta_covar": "ΔCoVaR (%)", "var_q": "VaR_q (%)", "covar": "CoVaR (%)",
                          "delta_covar_m": "ΔCoVaRᴹ (%)", "days": "days (ok)", "non_ok rows": "days not ok"})
    return t.reset_index()


def build(ctx: ReportContext) -> Section | None:
    covar = ctx.artifact("covar_qr", COVAR_COLUMNS)
    daily = ctx.artifact("spillover_index")
    weekly = ctx.artifact("spillover_index_weekly")
    channels = ctx.artifact("spillover_channels")
    spill_m = bank_means_m(ctx.artifact("spillover_banks", SUMMARY_COLUMNS))
    tests = delta_covar_tests(ctx.artifact("covar_qr_estimates", ESTIMATE_COLUMNS))
    if covar is None and daily is None:
        return None
    blocks, metrics, plots = [], {}, {}
    episodes = ctx.episodes
    if daily is not None and len(daily):
        episodes = episodes_within(episodes, daily["date"].min(), daily["date"].max())
    if daily is not None and weekly is not None and len(daily):
        markets = [c.removeprefix("spill_") for c in daily.columns if c.startswith("spill_")]
        blocks.append(_index_figure(weekly, episodes))
        blocks.append(_markets_figure(weekly, markets, episodes))
        ep = episode_table(daily, episodes)
        if len(ep):
            blocks.append(table_html(ep, caption="Index means inside the stress episodes (percent daily loss) and their "
                                     "ratio to the full-sample mean", digits=3, name="episodes"))
            plots["episodes"] = ep
        metrics["improved_mean_pct"] = daily["improved_index"].mean() * 100.0
        metrics["traditional_mean_pct"] = daily["traditional_index"].mean() * 100.0
        metrics["corr_improved_traditional"] = daily["improved_index"].corr(daily["traditional_index"])
        plots["indices_weekly"] = weekly
    if channels is not None and len(channels):
        ct = channel_table(channels)
        blocks.append(table_html(ct, caption="Market-spillover channels: means over dates of the bank-weighted values "
                                 "(S_k in percent of daily loss; ΔM_k in the state's unit; c_k, γ_k, β unitless)",
                                 digits=4, name="channels"))
        metrics["mean_spillover_pct"] = dict(zip(ct["market"], ct[SK_MEAN]))
        plots["channels"] = ct
    if covar is not None and len(covar):
        tb = top_banks(covar, spill_m, tests=tests)
        blocks.append(table_html(tb, caption="Top banks by mean ΔCoVaR (quantile regression, lagged states), percent; "
                                 "β is the bank-loss coefficient of the system regression (ΔCoVaR = β·(VaR_q − VaR_0.5)), "
                                 "tested against zero with the params' standard errors (measures.covar_qr.se); "
                                 "* p < 0.10, ** p < 0.05, *** p < 0.01", digits=3, name="top_banks"))
        if tests is not None:
            metrics["banks_delta_covar_significant_5pct"] = int((tests["p_value"] < 0.05).sum())
            metrics["banks_delta_covar_tested"] = int(tests["p_value"].notna().sum())
        status = covar["status"].astype(str)
        metrics["covar_qr_rows"] = len(covar)
        metrics["covar_qr_non_ok_rows"] = int((status != "ok").sum())
        metrics["top_bank"] = str(tb["bank_id"].iloc[0]) if len(tb) else None
        plots["top_banks"] = tb
    blocks += paper_blocks(ctx.artifact("spillover_stress"), channels, ctx.artifact("spillover_descriptives"), episodes,
                           None if weekly is None else weekly["date"])
    return Section(ID, TITLE, intro(ctx), blocks, metrics, plots)


def intro(ctx: ReportContext) -> str:
    """The section text with the parameter values recorded in the artifacts' provenance."""
    values = {"q_qr": ("covar_qr", "measures.covar_qr.q"), "q_sp": ("spillover_index", "measures.spillover.q"),
              "window": ("spillover_index", "measures.spillover.window"),
              "traditional": ("spillover_index", "measures.spillover.traditional")}
    found = {key: ctx.param(name, dotted) for key, (name, dotted) in values.items()}
    return text.render(ID, **found)


# ----------------------------------------------------------------------------- Fang–Chen–Yang 2018 figs. 2, 5-6, tables 2-3

#: the measures of the descriptive tables, their labels and whether they are losses (shown in percent)
MEASURES = {"var_stress": ("bank VaR under market stress, VaR_i(q; Mˢ)", True),
            "covar_stress": ("system CoVaR under market stress, CoVaR_i(q; Mˢ)", True),
            "delta_covar_m": ("ΔCoVaRᴹ (contribution; weighted: improved index)", True),
            "spillover": ("market spillover S_k", True), "gamma": ("information spillover γ_k", False)}
LEVELS = {"system": "weighted series, over dates", "bank": "banks × dates"}


def descriptive_table(desc: pd.DataFrame, variables: tuple[str, ...]) -> pd.DataFrame:
    """The rows of ``spillover_descriptives`` for ``variables`` (system level first), readable headers,
    losses in percent (γ_k as estimated)."""
    part = desc[desc["variable"].isin(variables)].copy()
    part["order"] = part["variable"].map({v: i for i, v in enumerate(variables)})
    part["lvl"] = part["level"].map({"system": 0, "bank": 1})
    part = part.sort_values(["lvl", "order", "market"], kind="mergesort")
    scale = np.where(part["variable"].map(lambda v: MEASURES[v][1]), 100.0, 1.0)
    out = pd.DataFrame({"measure": part["variable"].map(lambda v: MEASURES[v][0]),
                        "market": part["market"].replace("", "all"),
                        "over": part["level"].map(LEVELS), "n": part["n"].to_numpy()})
    for col in ("mean", "sd", "min", "max"):
        out[col] = part[col].to_numpy() * scale
    return out.reset_index(drop=True)


def _stress_figure(stress: pd.DataFrame, episodes: list, when: str) -> str:
    return series_figure(stress, (("var_stress", r"bank VaR under market stress, VaR$_i(q; M^s)$ (weighted mean)", "blue"),
                                  ("delta_covar_m", r"its contribution $\Delta$CoVaR$^M_i$ (weighted mean = improved "
                                   "index)", "vermillion")),
                         "% daily loss", episodes, "Bank risk under market stress and its contribution to system risk: "
                         "the market-value-weighted means over banks of VaR_i(q; Mˢ) (the bank's q-quantile regression on "
                         f"the states at their stress levels) and of ΔCoVaRᴹ_i, {when}, percent daily loss", "var_stress",
                         lw=0.7)


CHANNEL_ROWS = (("delta_m", "own risk ΔM_k\n(state unit)"), ("c", "risk-taking c_k\n(loss per state unit)"))


def _channels_figure(channels: pd.DataFrame, episodes: list, when: str) -> str:
    """Own risk ΔM_k (top row) and risk-taking c_k (bottom row) of each market (columns) over time."""
    markets = list(dict.fromkeys(channels["market"]))

    def draw(fig):
        import matplotlib.dates as mdates

        grid = fig.subplots(len(CHANNEL_ROWS), len(markets), sharex=True, squeeze=False)
        span = (channels["date"].max() - channels["date"].min()).days / 365.25
        grid[0, 0].xaxis.set_major_locator(mdates.YearLocator(max(1, int(np.ceil(span / 3)))))
        grid[0, 0].xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        for j, market in enumerate(markets):
            part = channels[channels["market"] == market]
            grid[0, j].set_title(f"market {market}", pad=2)
            for i, (column, label) in enumerate(CHANNEL_ROWS):
                ax = grid[i, j]
                ax.plot(part["date"], part[column], lw=0.6, color=COLOURS["blue"])
                ax.locator_params(axis="y", nbins=4)
                shade_episodes(ax, episodes, names=False)
                if j == 0:
                    ax.set_ylabel(label)
        fig.supxlabel("date", fontsize=8.5)
        legend_outside(fig, where="below")

    return figure_html(draw, caption=f"Own risk and risk-taking channel of each market, {when}: top, own risk "
                       "ΔM_k = M_k(stress) − M_k(normal), the rise of the market's state from its "
                       "rolling median to its rolling q-quantile, in the state's own unit; bottom, the banks' q-quantile "
                       "loading c_k on the state (market-value-weighted over banks), in loss (fraction) per unit of the "
                       "state" + ("; shaded: stress episodes" if episodes else ""),
                       height=4.2, width=9.5, name="own_risk_risk_taking")


def on_dates(frame: pd.DataFrame, dates: pd.Series | None) -> pd.DataFrame:
    """The rows of ``frame`` on ``dates`` (the weekly dates of ``spillover_index_weekly``); all rows without them."""
    return frame if dates is None else frame[frame["date"].isin(dates)]


def paper_blocks(stress: pd.DataFrame | None, channels: pd.DataFrame | None, desc: pd.DataFrame | None,
                 episodes: list, weekly: pd.Series | None = None) -> list[str]:
    """Fang–Chen–Yang 2018's fig. 2 (bank risk under market stress and its contribution), figs. 5–6 (own
    risk ΔM_k and risk-taking c_k over time) and tables 2–3 (descriptives with sd, min, max), from
    ``spillover_stress``, ``spillover_channels`` and ``spillover_descriptives``; the figures on the
    ``weekly`` dates (the last trading day of each week) when given."""
    blocks = []
    when = "daily" if weekly is None else "weekly (last trading day of the week)"
    if stress is not None:
        blocks.append(_stress_figure(on_dates(stress, weekly), episodes, when))
    if desc is not None:
        blocks.append(table_html(descriptive_table(desc, ("var_stress", "covar_stress", "delta_covar_m", "spillover")),
                                 caption="Descriptive statistics of the market-spillover measures (percent daily loss): "
                                 "over the dates of the market-value-weighted series and over all bank × date values "
                                 "of the windows that did not fail; sd is the sample standard deviation",
                                 digits=3, name="descriptives", max_rows=None))
    if channels is not None and len(channels):
        channels = on_dates(channels, weekly)
        blocks.append(_channels_figure(channels, episodes, when))
    if desc is not None:
        blocks.append(table_html(descriptive_table(desc, ("gamma",)), caption="Information-spillover channel γ_k (the "
                                 "system's q-quantile loading on market k, in loss fraction per unit of the state): "
                                 "descriptive statistics over the dates of the weighted series and over all bank × date "
                                 "values", digits=4, name="information"))
    return blocks
