"""Robustness of the panel regressions (Liu–Ma 2021's robustness checks, as Table 3).

The model list of :class:`~panel.model_list.PanelParams` is re-estimated under variants of the
baseline ``CRW_it = mu_i + b1 R1_it + b2 R2_it + b3 R1_it R2_it + controls + e_it``:

- ``series:<s>``: the CRW computed from another ΔCoVaR series ``s`` (``dcc``: ΔCoVaR-DCC,
  ``qr``: ΔCoVaR-QR, ``spillover``: the market-spillover ΔCoVaR), side by side;
- ``years:<a>-<b>``: the baseline panel restricted to the years a..b;
- ``lagged``: the ratios of year end t-1 explain the CRW of year t (contemporaneous ratios
  when the baseline is lagged);
- ``entity+time``: bank and year fixed effects (two-way within estimator);
- ``driscoll-kraay``: Driscoll & Kraay (1998) standard errors, robust to cross-sectional and
  serial correlation, ``V = (X~'X~)^-1 [sum_{|l|<=L} w_l Gamma_l] (X~'X~)^-1`` with
  ``Gamma_l = sum_t h_t h_{t-l}'``, ``h_t = sum_i x~_it e_it`` and Bartlett weights
  ``w_l = 1 - |l|/(L+1)`` (linearmodels ``cov_type="kernel"``).

Every variant keeps everything else of the baseline (model list, controls, estimator choice).
The variant panels are made by the caller (the panel stage joins each CRW series with the
year-end ratios, the replication mode reads them from its CSV); :func:`estimate_robustness`
estimates them and returns the long table ``variant, label, model, term, estimate, std_error,
t_stat, p_value, nobs, banks, chosen, status`` and Table 3 (:func:`robustness_table`).
Choices: docs/panel.md ("Robustness").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from measures.core.cells import stars
from measures.core.config import Config, ConfigError, check_choice
from measures.core.events import EVENT_COLUMNS
from measures.core.mapping import Mapper, map_items
from measures.core.status import NotEstimable, is_failed

#: ΔCoVaR series -> its name in Table 3.
SERIES_LABELS = {"dcc": "ΔCoVaR-DCC", "qr": "ΔCoVaR-QR", "spillover": "spillover ΔCoVaR"}
ROBUSTNESS_COLUMNS = ("variant", "label", "model", "term", "estimate", "std_error", "t_stat", "p_value",
                      "nobs", "banks", "chosen", "status", "position")
TABLE3_CAPTION = "Table 3. Robustness: contagion risk weight on capital and liquidity regulation"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RobustnessConfig(Config):
    """The ``panel.robustness`` params group: which variants Table 3 holds.

    enabled : bool
        Estimate the variants and write Table 3 (default True).
    series : sequence of {"dcc", "qr", "spillover"}
        CRW series to set side by side; empty (default) = every series the CRW robustness input holds.
    subsamples : sequence of [start_year, end_year]
        Year ranges (inclusive) of the subsample variants; default 2008–2013 and 2014–2020, before and
        from the first year of China's liquidity coverage ratio rules (LCR reported from 2014). A
        range outside the data leaves its models failed (recorded).
    lagged, time_effects, driscoll_kraay : bool
        Include the lagged-ratio, bank+year-effects and Driscoll–Kraay variants.
    """

    enabled: bool = True
    series: tuple[str, ...] = ()
    subsamples: tuple[tuple[int, int], ...] = ((2008, 2013), (2014, 2020))
    lagged: bool = True
    time_effects: bool = True
    driscoll_kraay: bool = True

    def validate(self) -> None:
        for flag in ("enabled", "lagged", "time_effects", "driscoll_kraay"):
            check_choice(flag, getattr(self, flag), (True, False))
        if not isinstance(self.series, tuple):
            raise ConfigError(f"series={self.series!r} must be a list of {', '.join(SERIES_LABELS)}")
        for s in self.series:
            check_choice("series", s, tuple(SERIES_LABELS))
        if len(set(self.series)) != len(self.series):
            raise ConfigError(f"series={list(self.series)} lists a series twice")
        if not isinstance(self.subsamples, tuple):
            raise ConfigError(f"subsamples={self.subsamples!r} must be a list of [start_year, end_year] pairs")
        for pair in self.subsamples:
            ok = (isinstance(pair, tuple) and len(pair) == 2
                  and all(isinstance(y, int) and not isinstance(y, bool) for y in pair))
            if not ok or pair[0] > pair[1]:
                raise ConfigError(f"subsamples entry {list(pair) if isinstance(pair, tuple) else pair!r} must be "
                                  "[start_year, end_year] with integer years, start_year <= end_year")
        if len(set(self.subsamples)) != len(self.subsamples):
            raise ConfigError(f"subsamples={[list(p) for p in self.subsamples]} lists a year range twice")


@dataclass(frozen=True)
class Variant:
    """One column block of Table 3: ``crw`` names the CRW (``baseline`` or a series), ``lagged`` the
    ratio timing, ``years`` an inclusive year range or None, ``overrides`` PanelParams fields."""

    name: str
    label: str
    crw: str = "baseline"
    lagged: bool = False
    years: tuple[int, int] | None = None
    overrides: Mapping[str, object] = dataclasses.field(default_factory=dict)


def robustness_variants(params, series: Sequence[str]) -> list[Variant]:
    """The variants of ``params.robustness`` (a :class:`~panel.model_list.PanelParams`), baseline first.

    ``series``: the CRW series available (in this order); ``params.robustness.series`` selects among
    them (a selected series that is not available raises :class:`NotEstimable`). A variant equal to
    the baseline (e.g. Driscoll–Kraay when the baseline already uses it) is left out.
    """
    rob: RobustnessConfig = params.robustness
    chosen = list(rob.series) or list(series)
    absent = [s for s in chosen if s not in series]
    if absent:
        raise NotEstimable(f"panel.robustness.series lists {', '.join(absent)}, which the CRW robustness input "
                           f"lacks (it holds: {', '.join(series) or 'none'})",
                           needs=f"contagion.robustness_series including {', '.join(absent)}")
    base = params.lagged
    out = [Variant("baseline", "Baseline", lagged=base)]
    out += [Variant(f"series:{s}", f"CRW from {SERIES_LABELS[s]}", crw=s, lagged=base) for s in chosen]
    out += [Variant(f"years:{a}-{b}", f"Years {a}–{b}", lagged=base, years=(a, b)) for a, b in rob.subsamples]
    if rob.lagged:
        label = "Contemporaneous ratios" if base else "Ratios of year end t−1"
        out.append(Variant("lagged" if not base else "contemporaneous", label, lagged=not base))
    if rob.time_effects and params.effects != "entity+time":
        out.append(Variant("entity+time", "Bank and year effects", lagged=base, overrides={"effects": "entity+time"}))
    if rob.driscoll_kraay and params.covariance != "driscoll-kraay":
        out.append(Variant("driscoll-kraay", "Driscoll–Kraay standard errors", lagged=base,
                           overrides={"covariance": "driscoll-kraay"}))
    return out


def variant_panels(variants: Sequence[Variant], join: Callable[[str, bool], pd.DataFrame]) -> list[pd.DataFrame]:
    """The panel of each variant: ``join(crw, lagged)`` (one call per distinct pair), then the year range."""
    cache: dict[tuple[str, bool], pd.DataFrame] = {}
    panels = []
    for v in variants:
        key = (v.crw, v.lagged)
        if key not in cache:
            cache[key] = join(*key)
        data = cache[key]
        if v.years is not None:
            data = data[data["year"].between(*v.years)].reset_index(drop=True)
        panels.append(data)
    return panels


def _estimate_variant(item: tuple[int, Variant, pd.DataFrame], *, params) -> pd.DataFrame:
    """One variant (a work item): the long rows of every model, a failed model as one row with term ''."""
    from panel.model_list import estimate_panel  # the model list imports this module's config

    position, variant, data = item
    fields = {**variant.overrides, "lagged": variant.lagged, "robustness": RobustnessConfig(enabled=False)}
    vparams = dataclasses.replace(params, **fields)
    specs = vparams.specs()
    try:
        output = estimate_panel(data, vparams)
    except (NotEstimable, ValueError) as exc:
        fits = pd.DataFrame({"model": [s.name for s in specs], "nobs": 0, "banks": 0, "chosen": "",
                             "status": f"failed:NotEstimable: {exc}"})
        coefficients = pd.DataFrame(columns=["model", "term", "estimate", "std_error", "t_stat", "p_value"])
    else:
        fits, coefficients = output.fit_stats, output.coefficients
    rows = []
    for fit in fits.itertuples(index=False):
        coef = coefficients[coefficients["model"] == fit.model]
        info = {"variant": variant.name, "label": variant.label, "model": fit.model, "nobs": int(fit.nobs),
                "banks": int(fit.banks), "chosen": fit.chosen, "status": fit.status, "position": position}
        if not len(coef):
            rows.append({**info, "term": "", "estimate": np.nan, "std_error": np.nan, "t_stat": np.nan, "p_value": np.nan})
        for c in coef.itertuples(index=False):
            rows.append({**info, "term": c.term, "estimate": c.estimate, "std_error": c.std_error, "t_stat": c.t_stat,
                         "p_value": c.p_value})
    return pd.DataFrame(rows, columns=list(ROBUSTNESS_COLUMNS))


@dataclass(frozen=True)
class RobustnessOutput:
    """The long table (:data:`ROBUSTNESS_COLUMNS`), Table 3 and its note."""

    long: pd.DataFrame
    table3: pd.DataFrame
    note: str

    def events(self) -> pd.DataFrame:
        """One ``robustness_failed`` event per (variant, model) not estimated."""
        bad = self.long[self.long["status"].map(is_failed)].drop_duplicates(["variant", "model"])
        rows = [{"bank_id": None, "date_start": None, "date_end": None, "n_rows": 0, "action": "excluded",
                 "reason": "robustness_failed", "detail": f"Table 3 {r.variant}, model {r.model}: {r.status}"}
                for r in bad.itertuples(index=False)]
        return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def estimate_robustness(variants: Sequence[Variant], panels: Sequence[pd.DataFrame], params, *,
                        mapper: Mapper | None = None) -> RobustnessOutput:
    """Estimate the model list of ``params`` on each variant's panel (one work item per variant).

    Parameters
    ----------
    variants, panels : sequences of equal length
        From :func:`robustness_variants` and :func:`variant_panels`.
    params : PanelParams
        The baseline configuration (a variant overrides its effects, covariance or lag only).
    mapper : Mapper, optional
        Maps the variants (:mod:`measures.core.mapping`); results do not depend on it.

    Returns
    -------
    RobustnessOutput
        A model the variant's data cannot identify keeps one row (term ``""``) with its failed status.
    """
    one = partial(_estimate_variant, params=params)
    items = [(k, v, p) for k, (v, p) in enumerate(zip(variants, panels), start=1)]
    frames = map_items(mapper, one, items, desc="panel robustness variants")
    long = pd.concat(frames, ignore_index=True).astype({"nobs": "int64", "banks": "int64", "position": "int64"})
    table = robustness_table(long, params.specs(), digits=params.digits, brackets=params.brackets)
    return RobustnessOutput(long, table, robustness_note(long, params.brackets))


def robustness_table(long: pd.DataFrame, specs, *, digits: int = 3, brackets: str = "se") -> pd.DataFrame:
    """Table 3: one column per model; a first row naming each model's regulator and interaction terms,
    then per variant a title row, a coefficient and a bracket row per position (``Regulator k``: the
    model's k-th regulator, ``Interaction k``: its k-th interaction; controls and the constant are not
    shown), and the observations. Stars: * p < 0.10, ** p < 0.05, *** p < 0.01; ``–`` not estimated."""
    from panel.tables import _fmt, term_label

    check_choice("brackets", brackets, ("se", "t"))
    specs = [s for s in specs if s.name in set(long["model"])]
    models = [s.name for s in specs]
    slots = {s.name: [("Regulator", k + 1, t) for k, t in enumerate(s.regulators)]
             + [("Interaction", k + 1, ":".join(p)) for k, p in enumerate(s.interactions)] for s in specs}
    order = list(dict.fromkeys((kind, k) for m in models for kind, k, _ in slots[m]))
    order.sort(key=lambda x: (x[0] == "Interaction", x[1]))
    term_of = {(m, kind, k): t for m in models for kind, k, t in slots[m]}
    cells = {(r.variant, r.model, r.term): r for r in long.itertuples(index=False)}
    rows: list[list[str]] = [["Terms"] + [", ".join(term_label(t) for _, _, t in slots[m]) for m in models]]
    for variant, block in long.sort_values("position", kind="mergesort").groupby("variant", sort=False):
        first = block.drop_duplicates("model").set_index("model")
        rows.append([str(block["label"].iloc[0])] + [""] * len(models))
        for kind, k in order:
            est, br = [f"  {kind} {k}"], [""]
            for m in models:
                r = cells.get((variant, m, term_of.get((m, kind, k))))
                est.append("" if r is None else _fmt(r.estimate, digits) + stars(r.p_value))
                br.append("" if r is None else (f"({_fmt(r.std_error, digits)})" if brackets == "se"
                                                else f"[{_fmt(r.t_stat, 2)}]"))
            rows += [est, br]
        rows.append(["  Observations"] + [str(int(first.at[m, "nobs"])) if not is_failed(first.at[m, "status"]) else "–"
                                          for m in models])
    return pd.DataFrame(rows, columns=[""] + models)


def robustness_note(long: pd.DataFrame, brackets: str = "se") -> str:
    """Table 3's footnote: brackets, stars, controls omitted, and the (variant, model) pairs not estimated."""
    inside = "standard errors" if brackets == "se" else "t statistics"
    text = (f"Coefficients with {inside} in brackets; * p < 0.10, ** p < 0.05, *** p < 0.01. Controls and "
            "effects as in Table 2 (not shown). – not estimated:")
    bad = long[long["status"].map(is_failed)].drop_duplicates(["variant", "model"])
    if not len(bad):
        return text.removesuffix(" – not estimated:")
    return text + " " + "; ".join(f"{r.label} {r.model}" for r in bad.itertuples(index=False)) + "."


def table3_files(output: RobustnessOutput, digits: int = 3) -> dict[str, str]:
    """``table3`` as CSV, LaTeX and HTML text (file name -> deterministic text)."""
    from panel.tables import table_to_csv, table_to_html, table_to_latex

    table = output.table3
    return {"table3.csv": table_to_csv(table, digits=digits),
            "table3.tex": table_to_latex(table, digits=digits, caption=TABLE3_CAPTION, note=output.note),
            "table3.html": table_to_html(table, digits=digits, caption=TABLE3_CAPTION, note=output.note)}


def panel_robustness(crw: pd.DataFrame, series_crw: pd.DataFrame | None, ratios: pd.DataFrame, params, *,
                     mapper: Mapper | None = None) -> RobustnessOutput:
    """Table 3 of the panel stage: variant panels from the CRW artifacts and the year-end ratios.

    ``crw`` is the baseline (yearly) CRW, ``series_crw`` the CRW of each robustness series
    (``<key>, series, bank_id, crw``, yearly or rolling: :func:`panel.build.yearly_crw` with
    ``params.rolling_crw``) or None, ``ratios`` the year-end ratios (:func:`panel.build.year_end_ratios`);
    each variant panel is :func:`panel.build.build_panel` of its CRW with its lag.
    """
    from panel.build import build_panel, yearly_crw

    series = list(dict.fromkeys(series_crw["series"])) if series_crw is not None and len(series_crw) else []
    variants = robustness_variants(params, series)

    def join(source: str, lagged: bool) -> pd.DataFrame:
        frame = crw
        if source != "baseline":
            frame = yearly_crw(series_crw[series_crw["series"] == source].drop(columns="series"), params.rolling_crw)[0]
        return build_panel(frame, ratios, lagged=lagged)[0]

    return estimate_robustness(variants, variant_panels(variants, join), params, mapper=mapper)


def csv_robustness(data: pd.DataFrame, params, *, mapper: Mapper | None = None) -> RobustnessOutput:
    """Table 3 of the replication mode, from one CSV panel (``bank_id, year, crw``, the ratios).

    The CRW of series ``s`` is the column ``crw_<s>`` (``crw_dcc``, ``crw_qr``, ``crw_spillover``; those
    present); the lagged variant takes each ratio of the same bank's row of year t-1 in the file
    (:func:`panel.data.lag_regressors`: missing when that row is absent, unlike the panel stage, which
    reads the year-end t-1 balance sheet even where the CRW of t-1 is absent). The file's ratios are
    the baseline as given (the replication mode ignores ``panel.lagged``).
    """
    from panel.data import lag_regressors

    params = dataclasses.replace(params, lagged=False)
    series = [s for s in SERIES_LABELS if f"crw_{s}" in data.columns]
    variants = robustness_variants(params, series)
    extra = [f"crw_{s}" for s in SERIES_LABELS if f"crw_{s}" in data.columns]
    ratios = [c for c in data.columns if c not in ("bank_id", "year", "crw", *extra)]

    def join(source: str, lagged: bool) -> pd.DataFrame:
        frame = data.drop(columns=extra)
        if source != "baseline":
            frame = frame.assign(crw=data[f"crw_{source}"])
        return lag_regressors(frame, ratios) if lagged else frame

    return estimate_robustness(variants, variant_panels(variants, join), params, mapper=mapper)
