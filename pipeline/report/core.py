"""Report building blocks: the artifact context, sections, figures, tables, rendering."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from pipeline.artifacts import artifact
from pipeline.io import read_parquet, read_provenance, write_csv
from pipeline.quality import KINDS, severity
from pipeline.report import notes, numbering, provenance
from pipeline.report.figures import figure_html, placeholder, render_figure, shade_episodes
from pipeline.report.tables import table_html

__all__ = ["ReportContext", "Section", "build_sections", "clean_metric", "figure_html", "render_figure",
           "render_report", "shade_episodes", "status_kind", "table_html", "write_frames", "write_plots"]
from pipeline.report_config import ReportConfig

TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class ReportContext:
    """The report's view of the artifacts: read by registry name through the stage context.

    ``stage`` is the report stage's :class:`~pipeline.stage.StageContext` (``read``, ``path``);
    :meth:`artifact` returns ``None`` for an absent artifact. Every name a section reads is
    noted, so the stage can show the provenance (data source, parameters) behind each section.
    """

    stage: Any
    config: ReportConfig
    _cache: dict[str, Any] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)
    marks: dict[str, dict[str, str]] = field(default_factory=dict)
    empty: set[str] = field(default_factory=set)
    _provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The artifacts the report stage declares."""
        return tuple(self.stage.stage.inputs)

    def _has_parquet(self, name: str) -> bool:
        return artifact(name).kind == "parquet" and self.stage.path(name).is_file()

    def __reduce__(self):
        raise TypeError("a report figure's draw function must not capture the ReportContext (it is rendered in "
                        "another process): read what it needs (e.g. episodes = ctx.episodes) before defining it")

    @classmethod
    def open(cls, root: str | Path, params: Mapping[str, Any] | None = None) -> "ReportContext":
        """A context on the data tree under ``root`` (which holds ``data/``); ``params`` = the
        ``report`` group (default: :class:`ReportConfig` defaults). For notebooks and tests."""
        from pipeline.compute import SerialMapper
        from pipeline.stage import StageContext, load_stage

        stage = load_stage("report")
        config = ReportConfig.from_mapping(params or {}, where="report")
        ctx = StageContext(stage=stage, params={"report": config.to_dict()}, root=Path(root),
                           mapper=SerialMapper("report"), configs={"report": config})
        return cls(ctx, config)

    def artifact(self, name: str, columns: Sequence[str] | None = None) -> Any:
        """The artifact ``name`` (a DataFrame; a dict for JSON artifacts); only ``columns`` (those
        of them it has) when given, so that a section reads no more of a large table than it uses.

        ``None`` when it is absent, marked not estimable (the mark is kept in :attr:`marks`)
        or a table without rows (noted in :attr:`empty`): a section never sees an empty frame.
        """
        if name not in self.used:
            self.used.append(name)
        key = name if columns is None else (name, *columns)
        if key not in self._cache:
            whole = self._cache.get(name)
            if columns is not None and isinstance(whole, pd.DataFrame):
                self._cache[key] = whole[[c for c in columns if c in whole.columns]]
            else:
                self._cache[key] = self._read(name, columns)
        return self._cache[key]

    def _read(self, name: str, columns: Sequence[str] | None) -> Any:
        from pipeline.stage import not_estimable_mark  # here: pipeline.stage may import this package

        path = self.stage.path(name)
        mark = not_estimable_mark(path, artifact(name))
        if mark is not None:
            self.marks[name] = dict(mark)
        if columns is None:
            value = self.stage.read(name, required=False)
        else:
            value = None if mark is not None or not path.is_file() else read_parquet(path, columns=columns)
        if isinstance(value, pd.DataFrame) and value.empty:
            self.empty.add(name)
            value = None
        return value

    def provenance(self, name: str) -> dict[str, Any] | None:
        """The provenance metadata of a Parquet artifact (None when absent or not recorded)."""
        if name not in self._provenance:  # read once: sections ask for the parameters of the same artifacts
            self._provenance[name] = read_provenance(self.stage.path(name)) if self._has_parquet(name) else None
        return self._provenance[name]

    def param(self, name: str, dotted: str) -> Any:
        """The value of ``group.key`` in the params that made artifact ``name`` (None when not recorded)."""
        params = (self.provenance(name) or {}).get("params") or {}
        for group in sorted(params, key=len, reverse=True):
            if dotted.startswith(group + "."):
                node: Any = params[group]
                for part in dotted[len(group) + 1:].split("."):
                    if not isinstance(node, Mapping) or part not in node:
                        return None
                    node = node[part]
                return node
        return None

    def quality(self) -> pd.DataFrame:
        """All data-quality records of every stage, concatenated."""
        names = sorted(n for n in self.inputs if n.startswith("quality/"))
        frames = [self.artifact(name) for name in names]
        frames = [f for f in frames if f is not None and len(f)]
        if not frames:
            return pd.DataFrame(columns=["stage", "table", "bank_id", "date_start", "date_end", "n_rows", "action", "reason", "detail"])
        return pd.concat(frames, ignore_index=True)

    @property
    def episodes(self) -> list[dict[str, Any]]:
        """``report.episodes``; when that list is empty, the episodes the data source lists."""
        if self.config.episodes:
            return [e.to_dict() for e in self.config.episodes]
        data = self.artifact("episodes")
        return [] if data is None else data.to_dict("records")


@dataclass
class Section:
    """One report section.

    ``intro`` explains in words what every number of the section is;
    ``blocks`` are HTML fragments (from :func:`table_html`, :func:`figure_html`);
    ``metrics`` go to ``metrics.json`` under the section id; ``plots`` are
    written as ``plots/<id>_<name>.csv``; ``sources`` are the artifacts the section read
    (set by :func:`build_sections`; their provenance is shown under the section), ``label``
    says where their data come from (simulated or the user's) and ``estimable`` is
    ``all``, ``part`` or ``none`` (some or all of them marked not estimable); ``summary``
    sections (module attribute ``SUMMARY``: data quality, estimation status) gather the records
    of every stage and are left out of the header's list of sources.
    """

    id: str
    title: str
    intro: str
    blocks: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, pd.DataFrame] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    provenance: str = ""
    label: provenance.DataLabel | None = None
    estimable: str = "all"
    summary: bool = False
    #: the figures still to draw (:func:`figure_html` inside :func:`build_section`), serialized
    figures: list[bytes] = field(default_factory=list, repr=False)


def status_kind(status: pd.Series) -> pd.Series:
    """The kind of each status (``ok``, ``warning`` or ``failed``), by :func:`measures.core.status.severity`."""
    kinds = {text: KINDS[severity(text)] for text in pd.unique(status)}  # once per distinct status
    return status.map(kinds)


def clean_metric(value: Any) -> Any:
    """JSON-safe, stable metric values (floats to 10 significant digits, NaN to None)."""
    if isinstance(value, Mapping):
        return {str(k): clean_metric(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_metric(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if not math.isfinite(value) else float(f"{value:.10g}")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def build_sections(ctx: ReportContext, modules: Iterable[Any], *, mapper: Any = None,
                   figures: Path | None = None, tables: Path | None = None) -> list[Section]:
    """Call each section module's ``build(ctx)``; keep those that return a section, with the
    artifacts each one read, their data label and provenance block, and the not-estimable
    notes (:mod:`pipeline.report.notes`).

    A module whose ``build`` returns ``None`` although some of its artifacts are marked not
    estimable or have no rows still gets a section (its ``ID``, ``TITLE`` and intro) that says so.
    The sections are built here, one after another (figures and tables numbered in reading
    order, tables written to ``tables`` as CSV and LaTeX); their figures, the bulk of the work,
    are drawn afterwards through ``mapper`` (in parallel: each worker receives one figure's
    drawing function and the arrays it plots, not the report's inputs, and writes the figure's
    files to ``figures``) and put in place.
    """
    for folder, suffixes in ((figures, (".svg", ".pdf", ".png")), (tables, (".csv", ".tex"))):
        if folder is not None:
            numbering.clear(folder, suffixes)
    token = numbering.BUILD.set(numbering.Build(figures=figures, tables=tables))
    try:
        built = [build_section(ctx, module) for module in modules]
    finally:
        numbering.BUILD.reset(token)
    sections = [s for s in built if s is not None]
    jobs = [(s, i, job) for s in sections for i, job in enumerate(s.figures)]
    blobs = [job for _, _, job in jobs]
    drawn = [render_figure(b) for b in blobs] if mapper is None else mapper.map(render_figure, blobs, desc="figures")
    for (section, index, _), html in zip(jobs, drawn):
        token = placeholder(index)
        section.blocks = [block.replace(token, html) if token in block else block for block in section.blocks]
    for section in sections:
        section.figures = []
    return sections


def build_section(ctx: ReportContext, module: Any) -> Section | None:
    """One section of :func:`build_sections` (None when the module has nothing to show)."""
    ctx.used = []
    pending: list[bytes] = []
    build = numbering.current()
    owned = build is None
    if owned:  # called alone: a build of its own, writing no files
        build = numbering.Build()
        token = numbering.BUILD.set(build)
    build.section, build.pending = str(getattr(module, "ID", "section")), pending
    try:
        section = module.build(ctx)
    finally:
        build.pending = None
        if owned:
            numbering.BUILD.reset(token)
    marks = {name: ctx.marks[name] for name in ctx.used if name in ctx.marks}
    empty = [name for name in ctx.used if name in ctx.empty and name not in marks]
    if section is None:
        if not marks and not empty:
            return None
        intro = module.intro(ctx) if hasattr(module, "intro") else module.INTRO
        section = Section(module.ID, module.TITLE, intro, notes.empty_blocks(empty) if not marks else [])
    if marks:
        section.estimable = "part" if section.blocks else "none"
        section.blocks.insert(0, notes.not_estimable_html(marks, part=section.estimable == "part"))
        section.metrics["not_estimable"] = notes.not_estimable_metric(marks)
    section.figures = pending
    section.sources = list(ctx.used)
    section.summary = bool(getattr(module, "SUMMARY", False))
    provs = {name: ctx.provenance(name) for name in section.sources if ctx._has_parquet(name)}
    section.label = provenance.DataLabel.of(provs)
    section.metrics.update(section.label.metrics())
    section.provenance = section.label.html() + provenance.section_html(provs)
    return section


def write_plots(folder: Path, sections: list[Section], series: Mapping[str, pd.DataFrame] | None = None) -> None:
    """Every CSV of ``plots/``: ``<section>_<name>.csv`` of the sections' ``plots`` and ``series_<name>.csv``
    of ``series`` (:func:`pipeline.report.series.series_frames`, drawn by ``dvc.yaml``'s plots); stale
    CSVs are removed first."""
    frames = {f"{s.id}_{name}": frame for s in sections for name, frame in s.plots.items()}
    frames.update({f"series_{name}": frame for name, frame in (series or {}).items()})
    write_frames(folder, frames)


def write_frames(folder: Path, frames: Mapping[str, pd.DataFrame], stale: str = "*.csv") -> None:
    """``<name>.csv`` of each frame in ``folder`` (the files matching ``stale`` removed first): the one writer of ``plots/``."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(stale):
        old.unlink()
    for name, frame in frames.items():
        write_csv(frame, folder / f"{name}.csv", float_format="%.10g", date_format="%Y-%m-%d")


def render_report(ctx: ReportContext, sections: list[Section]) -> str:
    """The self-contained HTML page; the header names the data source (each one, when sections
    differ: market data from the user's files, stress sections simulated) and the sample."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "j2"]))
    template = env.get_template("index.html.j2")
    head = provenance.header({name: ctx.provenance(name) for name in provenance.SOURCE_ARTIFACTS
                              if name in ctx.inputs}, [(s.title, s.label) for s in sections if s.label and not s.summary])
    head["mode"] = provenance.mode_text(ctx.stage.realtime, {name: ctx.provenance(name) for name in ctx.inputs})
    return template.render(title=ctx.config.title, sections=sections, header=head)
