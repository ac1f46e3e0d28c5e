"""The artifact registry: every file a stage reads or writes, in one place.

An :class:`Artifact` names a file under the data tree (paths relative to the
working directory of ``dvc repro``), its sort key and the dtypes fixed on write
(:func:`pipeline.io.normalize_dtypes`). Stages refer to artifacts by name; the
runner (:mod:`pipeline.stage`) reads and writes them, and the DAG generator
(:mod:`pipeline.dag`) turns them into the ``deps`` and ``outs`` of ``dvc.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

KINDS = ("parquet", "json", "dir", "file")


@dataclass(frozen=True)
class Artifact:
    """One artifact.

    ``dvc_path`` is the path DVC tracks (the enclosing folder for tables that live in a
    folder output, e.g. the canonical tables); ``optional`` artifacts may be absent (a
    consumer then depends on ``dvc_path``, which always exists); ``cache: False`` marks
    DVC metrics and plots committed to git.
    """

    name: str
    path: str
    key: tuple[str, ...] = ()
    dtypes: Mapping[str, str] = field(default_factory=dict)
    kind: str = "parquet"
    dvc_path: str | None = None
    optional: bool = False
    cache: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"artifact {self.name}: kind={self.kind!r}; allowed values: {', '.join(KINDS)}")

    @property
    def tracked(self) -> str:
        """The path under DVC control: ``dvc_path`` or ``path``."""
        return self.dvc_path or self.path

    @property
    def dependency(self) -> str:
        """What a consumer lists in ``deps``: the file itself, or the folder for optional members."""
        return self.tracked if self.optional else self.path


CANONICAL = "data/interim/canonical"
INTERIM = "data/interim"
QUALITY = "data/processed/quality"
MEASURES = "data/processed/measures"
ESTIMATES = "data/processed/estimates"
SYSTEM = "data/processed/system"
CONTAGION = "data/processed/contagion"
PANEL = "data/processed/panel"
STRESS = "data/processed/stress"
REPORT = "data/report"

_BANK_DATE = ("bank_id", "date")
_STATUS = {"bank_id": "object", "status": "object"}
_YEAR = {"year": "int64"}


def _canonical(name: str, key: tuple[str, ...], *, optional: bool = True) -> Artifact:
    return Artifact(name, f"{CANONICAL}/{name}.parquet", key, dvc_path=CANONICAL, optional=optional)


def _quality(stage: str) -> Artifact:
    return Artifact(f"quality/{stage}", f"{QUALITY}/{stage}.parquet")


def _panel(name: str, key: tuple[str, ...]) -> Artifact:
    return Artifact(f"panel/{name}", f"{PANEL}/{name}.parquet", key, dvc_path=PANEL)


def _build() -> dict[str, Artifact]:
    items = [
        # ingest: the canonical tables (schema in docs/data.md) and their metadata
        _canonical("prices", _BANK_DATE, optional=False),
        _canonical("system", ("date",)),
        _canonical("market_states", ("date",)),
        _canonical("balance_sheet", ("bank_id", "period_end")),
        _canonical("banks", ("bank_id",), optional=False),
        _canonical("episodes", ("start", "name")),
        # the fire-sale stress test's optional own-data input: industry index series (docs/own-data.md)
        _canonical("sector_indices", ("date",)),
        Artifact("canonical/meta", f"{CANONICAL}/meta.json", kind="json", dvc_path=CANONICAL),
        # returns
        Artifact("returns", f"{INTERIM}/returns.parquet", _BANK_DATE),
        Artifact("system_returns", f"{INTERIM}/system_returns.parquet", ("date",)),
        # market-data measures
        Artifact("covar_dcc", f"{MEASURES}/covar_dcc.parquet", _BANK_DATE, _STATUS),
        Artifact("covar_dcc_estimates", f"{ESTIMATES}/covar_dcc.parquet", ("bank_id", "window_end", "term"),
                 {**_STATUS, "term": "object", "window_end": "datetime64[ns]"}),
        Artifact("dcc_paths", f"{ESTIMATES}/dcc_paths.parquet", _BANK_DATE, _STATUS),
        Artifact("dcc_param_paths", f"{ESTIMATES}/dcc_param_paths.parquet", ("bank_id", "refit_date"),
                 {**_STATUS, "nobs": "int64", **dict.fromkeys(("refit_date", "valid_from", "sample_start"), "datetime64[ns]")}),
        Artifact("mes", f"{MEASURES}/mes.parquet", _BANK_DATE, _STATUS),
        Artifact("srisk", f"{MEASURES}/srisk.parquet", _BANK_DATE, _STATUS),
        Artifact("srisk_total", f"{SYSTEM}/srisk_total.parquet", ("date",)),
        Artifact("covar_qr", f"{MEASURES}/covar_qr.parquet", _BANK_DATE, _STATUS),
        Artifact("covar_qr_weekly", f"{MEASURES}/covar_qr_weekly.parquet", _BANK_DATE, _STATUS),
        Artifact("covar_qr_estimates", f"{ESTIMATES}/covar_qr.parquet", ("bank_id", "window_end", "equation", "term"), _STATUS),
        Artifact("spillover", f"{MEASURES}/spillover.parquet", ("bank_id", "date", "market"), _STATUS),
        Artifact("spillover_banks", f"{MEASURES}/spillover_banks.parquet", ("bank_id",),
                 {"n_windows": "int64", "n_ok": "int64", "first_date": "datetime64[ns]", "last_date": "datetime64[ns]"}),
        Artifact("spillover_index", f"{SYSTEM}/spillover_index.parquet", ("date",)),
        Artifact("spillover_index_weekly", f"{SYSTEM}/spillover_index_weekly.parquet", ("date",)),
        Artifact("spillover_channels", f"{SYSTEM}/spillover_channels.parquet", ("date", "market")),
        # the papers' figures and tables (spillover: Fang–Chen–Yang 2018 fig. 2, tables 2-3)
        Artifact("spillover_stress", f"{SYSTEM}/spillover_stress.parquet", ("date",), {"n_banks": "int64"}),
        Artifact("spillover_descriptives", f"{SYSTEM}/spillover_descriptives.parquet", ("level", "variable", "market"),
                 {"level": "object", "variable": "object", "market": "object", "n": "int64"}),
        # contagion
        # (the window key is year or window_end, per contagion.window: the stage passes the sort key)
        Artifact("granger", f"{CONTAGION}/granger.parquet",
                 dtypes={**_YEAR, "source": "object", "target": "object", "lags": "int64", "significant": "bool"}),
        Artifact("crw", f"{CONTAGION}/crw.parquet", dtypes={**_YEAR, "bank_id": "object", "crw": "float64"}),
        Artifact("contagion_windows", f"{CONTAGION}/windows.parquet",
                 dtypes={**_YEAR, "n_banks": "int64", **dict.fromkeys(("nobs", "lags", "aic", "bic", "hqic"), "float64"),
                         "route": "object"}),
        Artifact("connectedness", f"{CONTAGION}/connectedness.parquet", ("window_end",),
                 {"n_banks": "int64", "total": "float64", "lags": "float64", "nobs": "float64", "status": "object"}),
        Artifact("connectedness_directional", f"{CONTAGION}/connectedness_directional.parquet",
                 dtypes={**_YEAR, "bank_id": "object", "to": "float64", "from": "float64", "net": "float64"}),
        # panel (a folder: Parquet tables plus Tables 1-2 as CSV, LaTeX and HTML)
        _panel("panel", ("bank_id", "year")),
        _panel("coefficients", ("model", "term")),
        _panel("fit_stats", ("model",)),
        _panel("descriptives", ("variable",)),
        _panel("table1", ()),
        _panel("table2", ()),
        Artifact("panel/tables", PANEL, kind="dir", dvc_path=PANEL),
        # balance-sheet stress tests
        Artifact("firesale", f"{STRESS}/firesale.parquet", ("year", "alpha")),
        Artifact("firesale_banks", f"{STRESS}/firesale_banks.parquet", ("year", "alpha", "bank_id")),
        Artifact("firesale_regions", f"{STRESS}/firesale_regions.parquet"),
        Artifact("firesale_inputs", f"{STRESS}/firesale_inputs.parquet", ("year", "bank_id")),
        Artifact("firesale_mean", f"{STRESS}/firesale_mean.parquet", ("alpha",)),
        Artifact("firesale_mean_regions", f"{STRESS}/firesale_mean_regions.parquet"),
        # the papers' figures and tables (fire sales: Zhang–Guo–Wen–Sun fig. 3 and the three phases)
        Artifact("firesale_sr_change", f"{STRESS}/firesale_sr_change.parquet", ("year", "alpha"), {"region": "object"}),
        Artifact("firesale_phase_curves", f"{STRESS}/firesale_phase_curves.parquet", ("phase", "alpha"), {"phase": "object"}),
        Artifact("firesale_phases", f"{STRESS}/firesale_phases.parquet", dtypes={"phase": "object", "year_from": "int64",
                                                                                 "year_to": "int64", "n_years": "int64"}),
        Artifact("cascade_matrix", f"{STRESS}/cascade_matrix.parquet", ("system",)),
        Artifact("cascade_surface", f"{STRESS}/cascade_surface.parquet", ("system", "scenario", "alpha", "beta")),
        Artifact("cascade_hierarchy", f"{STRESS}/cascade_hierarchy.parquet", ("system", "scenario", "beta", "layer", "bank_id")),
        Artifact("cascade_boundary", f"{STRESS}/cascade_boundary.parquet", ("kind", "id")),
        Artifact("debtrank", f"{STRESS}/debtrank.parquet", ("bank_id",)),
        # interbank contagion (stage stress_interbank: sequential default and clearing)
        Artifact("interbank_matrix", f"{STRESS}/interbank_matrix.parquet", ("method",)),
        Artifact("interbank_exposures", f"{STRESS}/interbank_exposures.parquet", ("lender", "borrower")),
        Artifact("interbank_banks", f"{STRESS}/interbank_banks.parquet", ("scenario", "model", "bank_id"),
                 dtypes={"default_round": "Int64"}),
        Artifact("interbank_scenarios", f"{STRESS}/interbank_scenarios.parquet", ("scenario", "model")),
        # stress_cascade: Table 1 descriptives and tables 2-3 boundary statistics (the cascade study's descriptive tables)
        Artifact("cascade_descriptives", f"{STRESS}/cascade_descriptives.parquet", ("item",)),
        Artifact("cascade_boundary_stats", f"{STRESS}/cascade_boundary_stats.parquet", ("rule", "group")),
        # params: the code fingerprint of every stage, one JSON file per stage (pipeline.dag.write_fingerprints)
        Artifact("code", f"{INTERIM}/code", kind="dir"),
        # report
        Artifact("report/html", f"{REPORT}/index.html", kind="file"),
        Artifact("report/metrics", f"{REPORT}/metrics.json", kind="json", cache=False),
        Artifact("report/plots", f"{REPORT}/plots", kind="dir", cache=False),
        # report: the figures and tables for a paper (docs/report.md): every figure as SVG, PDF and
        # 300-dpi PNG, every table as CSV and booktabs LaTeX, numbered as in the page
        Artifact("report/figures", f"{REPORT}/figures", kind="dir"),
        Artifact("report/tables", f"{REPORT}/tables", kind="dir"),
    ]
    registry = {a.name: a for a in items}
    if len(registry) != len(items):
        raise RuntimeError("duplicate artifact names in the registry")
    return registry


ARTIFACTS: dict[str, Artifact] = _build()


def register(item: Artifact) -> Artifact:
    """Add an artifact to the registry (a new measure's output, docs/extending.md); names are unique."""
    if item.name in ARTIFACTS:
        raise ValueError(f"artifact {item.name!r} is already registered ({ARTIFACTS[item.name].path})")
    ARTIFACTS[item.name] = item
    return item


def artifact(name: str) -> Artifact:
    """The registered artifact ``name``; an unknown name raises listing the registered ones."""
    if name.startswith("quality/") and name not in ARTIFACTS:
        return _quality(name.removeprefix("quality/"))  # every stage has one: data/processed/quality/<stage>.parquet
    try:
        return ARTIFACTS[name]
    except KeyError:
        raise KeyError(f"no artifact named {name!r}; registered: {', '.join(sorted(ARTIFACTS))}") from None

# rankings: bootstrap uncertainty of the rankings of banks (pipeline/stages/rankings.py, docs/rankings.md)
RANKINGS = "data/processed/rankings"
_RANK = {"value": "float64", "rank": "float64", "rank_lo": "float64", "rank_hi": "float64", "p_top_k": "float64",
         "replications": "int64", "block_length": "float64"}
register(Artifact("rankings", f"{RANKINGS}/measures.parquet", ("measure", "bank_id"),
                  {**_RANK, "measure": "object", "bank_id": "object", "n_obs": "int64", "date_start": "datetime64[ns]",
                   "date_end": "datetime64[ns]"}))
register(Artifact("rankings_crw", f"{RANKINGS}/crw.parquet", ("year", "bank_id"), {**_RANK, **_YEAR, "bank_id": "object"}))
register(Artifact("rankings_tau", f"{RANKINGS}/kendall.parquet", ("kind", "a", "b"),
                  {"kind": "object", "a": "object", "b": "object", "tau": "float64", "tau_lo": "float64",
                   "tau_hi": "float64", "n_banks": "int64", "replications": "int64"}))

# contingent-claims analysis: Merton DD, PD, implicit put per bank and date, system expected loss
# (pipeline/stages/cca.py, docs/cca.md)
register(Artifact("cca", f"{MEASURES}/cca.parquet", _BANK_DATE, _STATUS))
register(Artifact("cca_total", f"{SYSTEM}/cca_total.parquet", ("date",), {"n_banks": "int64"}))
# Granger-network measures (Billio et al. 2012; stage contagion) and the system-wide market measures
# (stage system_measures; docs/network_measures.md)
register(Artifact("granger_network", f"{CONTAGION}/granger_network.parquet",
                  dtypes={**_YEAR, "bank_id": "object", **dict.fromkeys(("in_degree", "out_degree", "in_out_degree", "closeness",
                                                                          "eigenvector", "clustering"), "float64")}))
register(Artifact("granger_dci", f"{CONTAGION}/granger_dci.parquet",
                  dtypes={**_YEAR, "dci": "float64", "n_banks": "int64", "n_edges": "int64", "n_untested": "int64"}))
register(Artifact("system_measures", f"{SYSTEM}/system_measures.parquet", ("measure", "date"),
                  {"date": "datetime64[ns]", "measure": "object", "frequency": "object", "value": "float64", "n_banks": "int64"}))
# panel robustness (Table 3, docs/panel.md): the CRW of every robustness series (contagion stage; the window key
# is year or window_end, per contagion.window) and the long robustness table with its display frame (panel stage)
register(Artifact("crw_robustness", f"{CONTAGION}/crw_robustness.parquet",
                  dtypes={**_YEAR, "series": "object", "bank_id": "object", "crw": "float64"}))
register(_panel("robustness", ("variant", "model", "term")))
register(_panel("table3", ()))
# early warning: which system series warns first before the stress episodes, and the rank concordance of the
# bank-level measures (pipeline/stages/early_warning.py, docs/early_warning.md)
register(Artifact("early_warning", f"{SYSTEM}/early_warning.parquet", ("series", "horizon"),
                  {"series": "object", "horizon": "int64", "n_pos": "Int64", "n_neg": "Int64", "n_excluded": "Int64",
                   "n_obs": "Int64", "n_onsets": "Int64", "n_warned": "Int64", "causal": "bool", "status": "object",
                   "first_date": "datetime64[ns]", "last_date": "datetime64[ns]",
                   **dict.fromkeys(("auc", "auc_null_sd", "lead_days_median"), "float64")}))
register(Artifact("early_warning_leads", f"{SYSTEM}/early_warning_leads.parquet", ("series", "start", "episode"),
                  {"series": "object", "episode": "object", "start": "datetime64[ns]", "signal_date": "datetime64[ns]",
                   "lead_days": "float64", "threshold": "float64", "censored": "bool", "status": "object"}))
register(Artifact("measure_concordance", f"{SYSTEM}/measure_concordance.parquet", ("a", "b"),
                  {"a": "object", "b": "object", "tau": "float64", "n_banks": "int64"}))
