"""One stage mechanism: a stage is declared once, one runner does the rest.

A :class:`Stage` names the params groups it reads (each with its configuration
class), the artifacts it reads and writes, the non-Python files it loads, and a
``run(ctx)`` function that wires artifacts to science and nothing else. The
runner (:func:`run_stage`, ``python -m pipeline run <stage>``):

* loads ``params.yaml`` and validates every declared group (unknown keys and bad
  values name the key, the group and the allowed values);
* reads input artifacts through the registry (:mod:`pipeline.artifacts`) and writes
  the outputs with fixed dtypes, sort keys and a ``provenance`` schema-metadata key
  (stage, resolved params, data source, package version: no clock, no commit id);
* collects quality records (:meth:`StageContext.record`, :meth:`StageContext.events`)
  into ``data/processed/quality/<stage>.parquet`` and checks failure budgets after the
  outputs are written;
* passes a :class:`~measures.core.mapping.Mapper` that shows progress on stderr;
* when the data cannot support the stage (:class:`~measures.core.status.NotEstimable`),
  writes its outputs empty and marked not estimable, with the reason, and exits 0 so the
  DAG goes on; consumers see the mark (:meth:`StageContext.read`) and the report shows
  "not estimable from your data";
* on a known error (bad data, bad params, failure budget) writes the quality file,
  prints the message alone and exits with status 2 (a traceback only with
  ``PIPELINE_DEBUG=1``).

``dvc.yaml`` is generated from these declarations (:mod:`pipeline.dag`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from measures.core.config import Config, ConfigError
from measures.core.mapping import Mapper
from measures.core.status import FailureBudgetExceeded, NotEstimable, check_failure_budget
from pipeline.artifacts import Artifact, artifact
from pipeline.compute import ComputeConfig, scheduler
from pipeline.io import ParquetParts, read_json, read_parquet, read_provenance, write_json, write_parquet
from pipeline.params import COMPUTE_GROUP, REALTIME_KEY, check_groups, group, load_params, realtime_switch
from pipeline.quality import QualityRecord, events_to_records, quality_frame
from pipeline.schema import DataValidationError
from pipeline.units import UnitError

DEBUG_ENV = "PIPELINE_DEBUG"
CHECK_DEPS_ENV = "PIPELINE_CHECK_DEPS"


class StageInputError(ValueError):
    """An input artifact is missing or unusable; the message names the file and the stage that makes it."""


KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError, DataValidationError, UnitError, NotEstimable, FailureBudgetExceeded, StageInputError,
)

#: Provenance key (and JSON key) that marks an output written empty because the data cannot support it.
NOT_ESTIMABLE = "not_estimable"

#: Kinds of the lines a stage's ``check`` hook returns (``python -m pipeline check``).
CHECK_KINDS = ("estimates", "fills", "skips", "cannot")
CheckLine = tuple[str, str]


@dataclass(frozen=True)
class Stage:
    """The declaration of one DVC stage.

    Parameters
    ----------
    name : str
        Stage name (``dvc repro <name>``); also the name of its quality artifact.
    run : callable
        ``run(ctx: StageContext) -> Mapping[str, DataFrame] | None``: the wiring. Returned
        frames are written to the output artifacts of the same name.
    params : mapping
        Params group (dotted, e.g. ``"measures.covar_qr"``) -> configuration class.
    inputs, outputs : tuple of str
        Artifact names (:mod:`pipeline.artifacts`). The stage's quality artifact is added.
    files : tuple of str
        Non-Python files the stage loads (templates, calibration files, raw data folders).
    optional_outputs : tuple of str
        Outputs the stage may leave unwritten (e.g. a table the data source does not have).
    param_files : callable, optional
        ``param_files(configs) -> tuple of str``: files named by the params (e.g. an input file
        path option); :mod:`pipeline.dag` adds them to ``deps`` for the current ``params.yaml``.
    select_inputs : callable, optional
        ``select_inputs(configs) -> tuple of str``: the inputs the stage reads under these
        params, when a param chooses among ``inputs`` (``contagion.series``). The ``deps`` in
        ``dvc.yaml`` are these only; the runner stops with "run python -m pipeline dag --write"
        when a params change makes it read an input that ``dvc.yaml`` does not list.
    realtime : bool
        The stage estimates something dated, so it reads the top-level ``realtime`` switch (a DVC
        param of the stage): with ``realtime: true`` the runner replaces each configuration by its
        :meth:`~measures.core.config.Config.for_realtime` (every value dated t from data up to t;
        docs/realtime.md), and the provenance records the switch.
    all_params : bool
        The stage depends on every key of ``params.yaml`` (DVC reruns it on any change); the
        ``params`` stage uses it to refuse unknown groups that no other stage would notice.
    check : callable, optional
        ``check(data, configs) -> list of (kind, text)``: what the stage will estimate from the
        canonical tables ``data`` (:class:`pipeline.schema.CanonicalData`, before any stage ran)
        with the validated ``configs``; ``kind`` is one of :data:`CHECK_KINDS` (``estimates``,
        ``fills``, ``skips``, ``cannot``). Printed by ``python -m pipeline check``; must not
        raise for data it cannot use (say ``cannot`` instead).
    """

    name: str
    run: Callable[["StageContext"], Mapping[str, pd.DataFrame] | None]
    params: Mapping[str, type[Config]] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    optional_outputs: tuple[str, ...] = ()
    quality: bool = True
    param_files: Callable[[Mapping[str, Config]], tuple[str, ...]] | None = None
    select_inputs: Callable[[Mapping[str, Config]], tuple[str, ...]] | None = None
    realtime: bool = False
    all_params: bool = False
    check: Callable[[Any, Mapping[str, Config]], list[CheckLine]] | None = None

    def inputs_for(self, configs: Mapping[str, Config]) -> tuple[str, ...]:
        """The inputs read under ``configs`` (all declared ``inputs`` unless ``select_inputs`` chooses)."""
        if self.select_inputs is None:
            return self.inputs
        chosen = tuple(self.select_inputs(configs))
        unknown = [n for n in chosen if n not in self.inputs]
        if unknown:
            raise RuntimeError(f"stage {self.name}: select_inputs chose undeclared input(s) {', '.join(unknown)}")
        return chosen

    @property
    def all_outputs(self) -> tuple[str, ...]:
        return (*self.outputs, f"quality/{self.name}") if self.quality else self.outputs


def package_version() -> str:
    try:
        return importlib.metadata.version("bank-systemic-risk")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "unknown"


@dataclass
class StageContext:
    """What a stage's ``run`` sees: validated configs, artifact reading, quality records, a mapper."""

    stage: Stage
    params: Mapping[str, Any]
    root: Path
    mapper: Mapper
    configs: dict[str, Config] = field(default_factory=dict)
    records: list[QualityRecord] = field(default_factory=list)
    budgets: list[tuple[list[str], float, str]] = field(default_factory=list)
    data_source: dict[str, Any] | None = None
    written: dict[str, Path] = field(default_factory=dict)
    not_estimable_reason: str | None = None

    # -- params -------------------------------------------------------------------------
    def config(self, group_name: str | None = None) -> Any:
        """The validated configuration of a declared params group (the only one when None)."""
        if group_name is None:
            if len(self.configs) != 1:
                raise RuntimeError(f"stage {self.stage.name} reads {len(self.configs)} params groups; name one")
            return next(iter(self.configs.values()))
        return self.configs[group_name]

    # -- artifacts ----------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """The path of a declared input or output artifact under the data root."""
        if name not in self.stage.inputs and name not in self.stage.all_outputs:
            raise RuntimeError(f"stage {self.stage.name} does not declare artifact {name!r}")
        return self.root / artifact(name).path

    def read(self, name: str, *, required: bool = True) -> pd.DataFrame | None:
        """A declared input artifact.

        ``None`` when it is absent or marked not estimable and not ``required``; a required
        input marked not estimable raises :class:`NotEstimable` with the upstream reason (so
        the whole chain of consumers is marked, not stopped).
        """
        art = artifact(name)
        path = self.path(name)
        if name in self.stage.inputs and name not in self.stage.inputs_for(self.configs):
            raise RuntimeError(f"stage {self.stage.name} reads {name!r}, which its select_inputs does not choose")
        if not path.exists():
            if not required:
                return None
            raise StageInputError(
                f"stage {self.stage.name}: input {art.path} not found; run the stage that writes it (dvc repro)"
            )
        mark = not_estimable_mark(path, art)
        if mark is not None:
            if not required:
                return None
            raise NotEstimable(f"input {art.path} is not estimable: {mark.get('reason', '')}", needs=mark.get("needs", ""))
        self._note_source(path, art)
        if art.kind == "json":
            return read_json(path)
        return read_parquet(path)

    def _note_source(self, path: Path, art: Artifact) -> None:
        if self.data_source is not None or art.kind != "parquet":
            return
        prov = read_provenance(path)
        if prov and prov.get("data_source") is not None:
            self.data_source = prov["data_source"]

    def write(self, name: str, frame: pd.DataFrame, *, key: Iterable[str] | None = None) -> Path:
        """Write a declared output artifact with the registry's dtypes, key (or ``key``) and provenance."""
        if name not in self.stage.all_outputs:
            raise RuntimeError(f"stage {self.stage.name} does not declare output {name!r}")
        art = artifact(name)
        path = self.root / art.path
        if art.kind == "json":
            write_json(frame, path)
        else:
            write_parquet(frame, path, key=list(key) if key is not None else art.key, dtypes=art.dtypes,
                          provenance=self.provenance())
        self.written[name] = path
        return path

    @contextlib.contextmanager
    def write_parts(self, name: str, columns: Iterable[str]):
        """Write the Parquet output ``name`` in parts: ``with ctx.write_parts(name, columns) as sink:
        sink(frame)`` per batch (e.g. of banks), in key order (:class:`pipeline.io.ParquetParts`).

        Memory stays that of one batch. Without any part the output is written empty with
        ``columns``; on an error the partial file is removed (the runner may then mark it).
        """
        if name not in self.stage.all_outputs:
            raise RuntimeError(f"stage {self.stage.name} does not declare output {name!r}")
        art = artifact(name)
        sink = ParquetParts(self.root / art.path, key=art.key, dtypes=art.dtypes, provenance=self.provenance())
        try:
            yield sink
        except BaseException:
            sink.abort()
            raise
        if sink.close():
            self.written[name] = sink.path
        else:
            self.write(name, pd.DataFrame({c: pd.Series([], dtype=art.dtypes.get(c, "object")) for c in columns}))

    def not_estimable(self, *names: str, reason: str, needs: str = "", table: str | None = None) -> None:
        """Write the outputs ``names`` empty and marked not estimable, with a quality record.

        A Parquet output gets the registry's columns and no rows, and its provenance carries
        ``not_estimable: {reason, needs}``; a JSON output is ``{"not_estimable": {...}}``; a folder
        output is created. Consumers reading it get ``None`` (optional input) or
        :class:`NotEstimable` (required input); the report shows the reason and ``needs``.
        """
        mark = {"reason": reason, "needs": needs}
        for name in names:
            if name not in self.stage.all_outputs:
                raise RuntimeError(f"stage {self.stage.name} does not declare output {name!r}")
            art = artifact(name)
            path = self.root / art.path
            if art.kind == "json":
                write_json({NOT_ESTIMABLE: mark}, path)
            elif art.kind == "parquet":
                columns = list(dict.fromkeys([*art.key, *art.dtypes]))
                write_parquet(pd.DataFrame({c: pd.Series([], dtype=art.dtypes.get(c, "object")) for c in columns}),
                              path, dtypes=art.dtypes, provenance={**self.provenance(), NOT_ESTIMABLE: mark})
            else:
                path.mkdir(parents=True, exist_ok=True)
            self.written[name] = path
        detail = f"{', '.join(names)} not estimable: {reason}" + (f" (needs: {needs})" if needs else "")
        self.record(QualityRecord(stage=self.stage.name, table=table or self.stage.name, bank_id=None, date_start=None,
                                  date_end=None, n_rows=0, action="not_estimable", reason=NOT_ESTIMABLE, detail=detail))

    @property
    def realtime(self) -> bool:
        """The ``realtime`` switch, for a stage that declares it (``False`` otherwise)."""
        return self.stage.realtime and realtime_switch(self.params)

    def provenance(self) -> dict[str, Any]:
        """What made the artifacts of this run: stage, resolved params, the realtime switch (stages
        that declare it), data source, version."""
        out = {
            "stage": self.stage.name,
            "params": {name: cfg.to_dict() for name, cfg in sorted(self.configs.items())},
            "data_source": self.data_source,
            "version": package_version(),
        }
        if self.stage.realtime:
            out[REALTIME_KEY] = self.realtime
        return out

    # -- quality and failure budgets ----------------------------------------------------
    def record(self, records: QualityRecord | Iterable[QualityRecord]) -> None:
        """Add quality records (exclusions, flags, fills) of this stage."""
        self.records.extend([records] if isinstance(records, QualityRecord) else records)

    def events(self, events: pd.DataFrame, *, table: str) -> None:
        """Add the rows of an event frame from ``measures`` (bank_id, date_start, date_end, n_rows,
        action, reason, detail) as quality records of ``table``."""
        self.record(events_to_records(events, stage=self.stage.name, table=table))

    def budget(self, statuses: Iterable[Any], max_failure_share: float, *, what: str) -> None:
        """Check, after the outputs are written, that at most ``max_failure_share`` of ``statuses`` failed."""
        self.budgets.append(([str(s) for s in statuses], max_failure_share, what))


def not_estimable_mark(path: Path, art: Artifact) -> dict[str, str] | None:
    """The ``{reason, needs}`` mark of an output written by :meth:`StageContext.not_estimable` (else None)."""
    if art.kind == "parquet" and path.is_file():
        return (read_provenance(path) or {}).get(NOT_ESTIMABLE)
    if art.kind == "json" and path.is_file():
        value = read_json(path)
        return value.get(NOT_ESTIMABLE) if isinstance(value, dict) and set(value) == {NOT_ESTIMABLE} else None
    return None


def stage_names() -> list[str]:
    """The stage modules present in ``pipeline/stages/`` (sorted)."""
    folder = Path(__file__).with_name("stages")
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def load_stage(name: str) -> Stage:
    """The declaration ``STAGE`` of ``pipeline.stages.<name>``."""
    names = stage_names()
    if name not in names:
        raise ConfigError(f"unknown stage {name!r}; allowed values: {', '.join(map(repr, names))}")
    module = importlib.import_module(f"pipeline.stages.{name}")
    stage = module.STAGE
    if stage.name != name:
        raise RuntimeError(f"pipeline.stages.{name} declares stage {stage.name!r}")
    return stage


def configs_for(stage: Stage, params: Mapping[str, Any]) -> dict[str, Config]:
    """Validated configurations of every params group the stage declares (unknown or null groups are errors).

    For a stage that declares ``realtime`` and runs with ``realtime: true`` each configuration is
    its :meth:`~measures.core.config.Config.for_realtime` (the causal options it resolves to).
    """
    check_groups(params)
    configs = {}
    for name, cls in stage.params.items():
        try:
            mapping = group(params, name)
        except KeyError:
            mapping = {}
        configs[name] = cls.from_mapping(mapping, where=name)
    return resolve_realtime(stage, configs, realtime_switch(params))


def resolve_realtime(stage: Stage, configs: Mapping[str, Config], realtime: bool) -> dict[str, Config]:
    """The configurations a stage runs with: each one's ``for_realtime()`` when the stage declares
    the switch and it is on, else as given (the runner and ``python -m pipeline check`` share it)."""
    if not (realtime and stage.realtime):
        return dict(configs)
    return {name: config.for_realtime() for name, config in configs.items()}


def run_stage(
    stage: Stage | str,
    *,
    params: str | Path | Mapping[str, Any] = "params.yaml",
    root: str | Path = ".",
    mapper: Mapper | None = None,
) -> StageContext:
    """Run one stage: validate params, call ``run``, write outputs and quality, check budgets.

    Raises the stage's exception (known errors are turned into exit status 2 by :func:`main`).
    The quality artifact is written even when ``run`` raises.
    """
    from threadpoolctl import threadpool_limits

    for lib in ("numpy", "scipy.linalg"):  # load the BLAS libraries before limiting them
        importlib.import_module(lib)

    stage = load_stage(stage) if isinstance(stage, str) else stage
    values = load_params(params) if not isinstance(params, Mapping) else params
    ctx = StageContext(stage=stage, params=values, root=Path(root), mapper=mapper)  # type: ignore[arg-type]
    ctx.configs = configs_for(stage, values)
    compute = compute_config(values)
    with threadpool_limits(limits=1):  # one result whatever the user's BLAS/OpenMP thread settings
        if mapper is not None:
            _execute(ctx)
        else:
            with scheduler(compute, stage=stage.name) as ctx.mapper:
                _execute(ctx)
    return ctx


def compute_config(params: Mapping[str, Any]) -> ComputeConfig:
    """The validated ``compute`` group (the scheduler of mapped work; not a DVC parameter: docs/scale.md)."""
    try:
        mapping = group(params, COMPUTE_GROUP)
    except KeyError:
        mapping = {}
    return ComputeConfig.from_mapping(mapping, where=COMPUTE_GROUP)


def check_selected_inputs(stage: Stage, configs: Mapping[str, Config], root: str | Path) -> None:
    """Stop when a params choice makes the stage read an input its ``dvc.yaml`` deps miss.

    Only for stages with ``select_inputs`` inside a DVC project (``root/dvc.yaml``): DVC would
    not rerun the stage when the newly chosen input changes.
    """
    deps = dvc_deps(stage.name, root) if stage.select_inputs is not None else None
    if deps is None:
        return
    listed = {d.rstrip("/") for d in deps}
    missing = [artifact(n).dependency for n in stage.inputs_for(configs) if artifact(n).dependency not in listed]
    if missing:
        groups = ", ".join(sorted(stage.params))
        raise ConfigError(f"{groups}: with these params stage {stage.name} reads {', '.join(missing)}, which its deps in "
                          f"dvc.yaml do not list (they were generated for other params); run python -m pipeline dag --write "
                          "and then dvc repro")


def _execute(ctx: StageContext) -> None:
    stage = ctx.stage
    check_selected_inputs(stage, ctx.configs, ctx.root)
    try:
        try:
            produced = stage.run(ctx) or {}
        except NotEstimable as exc:
            ctx.not_estimable_reason = str(exc)
            pending = [n for n in stage.outputs if n not in ctx.written]
            ctx.not_estimable(*pending, reason=str(exc), needs=getattr(exc, "needs", ""))
            produced = {}
        for name, frame in produced.items():
            ctx.write(name, frame)
    finally:
        if stage.quality:
            write_parquet(quality_frame(ctx.records), ctx.root / artifact(f"quality/{stage.name}").path,
                          provenance=ctx.provenance())
    missing = [n for n in stage.outputs if n not in ctx.written and n not in stage.optional_outputs
               and artifact(n).kind in ("parquet", "json")]
    if missing:
        raise RuntimeError(f"stage {stage.name} did not write its declared output(s) {', '.join(missing)}")
    for statuses, share, what in ctx.budgets:
        check_failure_budget(statuses, share, what=what)


def dvc_deps(name: str, root: str | Path = ".") -> list[str] | None:
    """The ``deps`` of stage ``name`` in ``root/dvc.yaml`` (None outside a DVC project)."""
    import yaml

    path = Path(root) / "dvc.yaml"
    if not path.is_file():
        return None
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [str(d) for d in spec.get("stages", {}).get(name, {}).get("deps", [])]


def check_imports_covered(stage: Stage, dvc_yaml: str | Path = "dvc.yaml") -> list[str]:
    """Repository source files loaded in this process that the stage's ``deps`` in ``dvc.yaml`` miss.

    A dep that is a code fingerprint (:func:`pipeline.dag.fingerprint_path`) stands for the files it
    lists. Run by :func:`main` with ``PIPELINE_CHECK_DEPS=1`` (the end-to-end test sets it): the
    check of the generated deps and fingerprints against what really ran.
    """
    from pipeline.dag import fingerprint_files, fingerprint_path

    repo = Path(__file__).resolve().parents[1]
    project = Path(dvc_yaml).parent
    deps = [d.rstrip("/") for d in dvc_deps(stage.name, project) or []]
    if fingerprint_path(stage.name) in deps:
        deps += fingerprint_files(project / fingerprint_path(stage.name))
    loaded = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        try:
            rel = Path(path).resolve().relative_to(repo) if path else None
        except ValueError:
            continue
        if rel is not None and rel.parts[0] in ("measures", "panel", "pipeline"):
            loaded.add(rel.as_posix())
    return sorted(f for f in loaded if not any(f == d or f.startswith(d + "/") for d in deps))


def main(argv: list[str]) -> int:
    """``python -m pipeline run STAGE [--params FILE] [--root DIR]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pipeline run", description="Run one pipeline stage (as dvc repro does).")
    parser.add_argument("stage")
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--root", default=".", help="folder holding the data/ tree (default: the working directory)")
    args = parser.parse_args(argv)
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    started = False
    try:
        stage = load_stage(args.stage)
        started = True
        ctx = run_stage(stage, params=args.params, root=args.root)
    except BaseException as exc:
        if started and not isinstance(exc, KeyboardInterrupt):
            from pipeline.report_stale import mark_stale

            mark_stale(Path(args.root) / artifact("report/html").path, stage.name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if debug or not isinstance(exc, (*KNOWN_ERRORS, FileNotFoundError)):
            raise
        print(f"stage {args.stage}: {exc}", file=sys.stderr)
        quality = Path(args.root) / artifact(f"quality/{args.stage}").path
        if started and stage.quality and quality.is_file():
            print(f"stage {args.stage}: the records of what it excluded or flagged so far are in {quality}", file=sys.stderr)
        return 2
    if ctx.not_estimable_reason is not None:
        print(f"stage {args.stage}: not estimable from this data: {ctx.not_estimable_reason}; its outputs are "
              "written empty and marked, and the report says why", file=sys.stderr)
    if os.environ.get(CHECK_DEPS_ENV, "") not in ("", "0"):
        uncovered = check_imports_covered(stage)
        if uncovered:
            print(f"stage {args.stage}: imported modules not in its dvc.yaml deps: {', '.join(uncovered)}", file=sys.stderr)
            return 3
    return 0
