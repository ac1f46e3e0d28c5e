"""Early warning: which system-level measure warns first before the stress episodes (docs/early_warning.md).

Reads the system series (``spillover_index``, ``srisk_total``, ``covar_qr``, ``covar_dcc``,
``granger_dci``, ``system_measures``, ``connectedness``, ``cca_total``), the bank-level measures
(``covar_qr``, ``covar_dcc``, ``mes``, ``srisk``, ``spillover_banks``, ``crw``, ``granger_network``,
``cca``), the trading calendar (``system_returns``) and the episodes (the data's ``episodes``
table or ``report.episodes``, per ``measures.early_warning.episodes``). Writes

* ``early_warning`` — per series and horizon: AUC of predicting an onset within h trading days,
  its null sd, counts, the median lead time, ``causal`` (the values are real-time in this run)
  and ``causal_basis``; an absent series is a row with status ``failed:Skipped`` and a quality record;
* ``early_warning_leads`` — per series and episode: lead time, first signal date, threshold;
* ``measure_concordance`` — Kendall τ between the per-bank means of the bank-level measures.

Not estimable when no episode starts inside the sample. The science is
:mod:`measures.systemic.early_warning`; the threshold is causal (expanding window), so the stage
changes nothing under ``realtime: true`` — its inputs do.
"""

from __future__ import annotations

import pandas as pd

from measures.systemic.early_warning import (
    BANK_MEASURES, SYSTEM_SERIES, EarlyWarningConfig, bank_means, choose_episodes, concordance, early_warning, episode_table,
    system_series,
)
from pipeline.io import read_provenance
from pipeline.quality import QualityRecord
from pipeline.report_config import ReportConfig
from pipeline.stage import Stage, StageContext

GROUP = "measures.early_warning"
#: stages whose values dated t use data up to t only whatever the switch (docs/realtime.md)
CAUSAL_STAGES = ("spillover", "system_measures", "cca")
_INPUTS = tuple(dict.fromkeys([a for a, _, _ in SYSTEM_SERIES.values()] + [a for a, _, _ in BANK_MEASURES.values()]))


def causal_basis(provenance: dict | None) -> tuple[bool, str]:
    """Whether an artifact's values are real-time, and why, from its provenance."""
    prov = provenance or {}
    if prov.get("realtime"):
        return True, "realtime: true"
    if prov.get("stage") in CAUSAL_STAGES:
        return True, f"causal by construction (stage {prov['stage']})"
    return False, "realtime: false (whole-sample estimates)" if "realtime" in prov else "not recorded"


def _episodes(ctx: StageContext, config: EarlyWarningConfig) -> tuple[pd.DataFrame | list, str]:
    report = [e.to_dict() for e in ctx.config("report").episodes]
    return choose_episodes(ctx.read("episodes", required=False), report, config.episodes)


def _note(ctx: StageContext, table: str, reason: str, detail: str) -> None:
    ctx.record(QualityRecord(stage="early_warning", table=table, bank_id=None, date_start=None, date_end=None, n_rows=0,
                             action="excluded", reason=reason, detail=detail))


def run(ctx: StageContext) -> dict:
    config: EarlyWarningConfig = ctx.config(GROUP)
    calendar = pd.DatetimeIndex(ctx.read("system_returns")["date"]).sort_values()
    listed, source = _episodes(ctx, config)
    episodes = episode_table(listed, calendar)
    for item in pd.DataFrame(list(listed) if not isinstance(listed, pd.DataFrame) else listed).to_dict("records"):
        if not ((episodes["name"] == str(item["name"])) & (episodes["start"] == pd.Timestamp(item["start"]))).any():
            _note(ctx, "episodes", "episode_outside_sample", f"episode {item['name']} (start {pd.Timestamp(item['start']):%Y-%m-%d}) "
                  f"does not start inside the sample {calendar[0]:%Y-%m-%d}..{calendar[-1]:%Y-%m-%d}: not evaluated")
    frames = {name: ctx.read(name, required=False) for name in _INPUTS}
    basis = {name: causal_basis(read_provenance(ctx.path(name)) if frames[name] is not None else None) for name in _INPUTS}
    series = system_series(frames, calendar)
    result = early_warning(series, calendar, episodes, config,
                           causal={n: basis[a][0] for n, (a, _, _) in SYSTEM_SERIES.items()})
    result.table["causal_basis"] = [basis[SYSTEM_SERIES[n][0]][1] for n in result.table["series"]]
    result.table["episode_source"] = source
    for name, why in series.items():
        if isinstance(why, str):
            _note(ctx, "early_warning", "series_absent", f"series {name} skipped: {why}")
    means = bank_means(frames)
    for name, why in means.items():
        if isinstance(why, str):
            _note(ctx, "measure_concordance", "measure_absent", f"bank measure {name} left out: {why}")
    tau = concordance({n: m for n, m in means.items() if not isinstance(m, str)})
    return {"early_warning": result.table, "early_warning_leads": result.leads, "measure_concordance": tau}


def check(data, configs) -> list:
    """How many episodes start inside the sample (from the canonical prices and the episodes)."""
    config = configs[GROUP]
    prices = data.prices
    if prices is None or "date" not in getattr(prices, "columns", ()) or prices.empty:
        return [("cannot", "early warning: no prices")]
    listed, source = choose_episodes(data.episodes, [e.to_dict() for e in configs["report"].episodes], config.episodes)
    try:
        episodes = episode_table(listed, pd.DatetimeIndex(sorted(prices["date"].unique())))
    except Exception as exc:  # NotEstimable (or unusable dates): say it, never raise
        return [("cannot", f"early warning: {exc}")]
    return [("estimates", f"early warning: AUC at horizons {', '.join(map(str, config.horizons))} trading days and lead "
                          f"times before {int((~episodes['nested']).sum())} onset(s) of {len(episodes)} episode(s) from {source}")]


STAGE = Stage(
    name="early_warning",
    run=run,
    params={GROUP: EarlyWarningConfig, "report": ReportConfig},
    inputs=("system_returns", "episodes", *_INPUTS),
    outputs=("early_warning", "early_warning_leads", "measure_concordance"),
    check=check,
    realtime=True,
)
