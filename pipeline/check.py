"""``python -m pipeline check``: validate params.yaml and the data, and say what each stage will estimate.

Reads ``params.yaml`` and the configured data source **in memory** (the simulator for
``data.source: synthetic``; the adapters for ``files``, with the sample period applied
as the ingest stage does), writes nothing, and prints:

* the data: banks by group, dates, the tables present and absent, the quality records
  ingest would write (counts by action and reason);
* per stage, in DAG order, what it will estimate from this data: the lines of the stage's
  ``check`` hook (kinds ``estimates``, ``fills``, ``skips``, ``cannot``), or, for a stage
  without a hook, a line from its declaration (the canonical tables it reads, present or
  absent);
* every error found: unknown top-level groups, unknown groups under ``measures`` and
  ``stress``, null groups, unknown keys and bad values of every group of every stage (all of
  them, not only the first), and the data error if the data cannot be read.

Exit status 0 when there is no error (stages that are not estimable are not errors: the run
writes their outputs empty and the report says why), 2 otherwise; no traceback (unless
``PIPELINE_DEBUG=1``). :func:`validate_params_tree` is pure and cheap (no stage import), for
the runner too.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from measures.core.config import Config, ConfigError
from pipeline.params import close_match, realtime_switch, validate_params_tree

#: Canonical tables, written by the ingest stage (the inputs a check can see before any stage ran).
CANONICAL_TABLES = ("banks", "prices", "system", "market_states", "balance_sheet", "sector_indices")
#: The tables the data summary lists when absent (``sector_indices`` serves the fire-sale stage alone,
#: whose check line says which sector correlations it uses).
SUMMARY_TABLES = CANONICAL_TABLES[:5]


# --------------------------------------------------------------------------- params


def _offending_keys(message: str, where: str, keys) -> list[str]:
    """The option(s) of group ``where`` that a :class:`ConfigError` message names."""
    unknown = re.search(r"unknown option\(s\) (.+?) for \w+;", message)
    if unknown:
        return [k.strip() for k in unknown.group(1).split(",") if k.strip() in keys]
    named = re.match(rf"{re.escape(where)}(?:: |\.)(\w+)", message)
    return [named.group(1)] if named and named.group(1) in keys else []


def validate_group(name: str, cls: type[Config], params: Mapping[str, Any]) -> tuple[Config | None, list[str]]:
    """The configuration of group ``name`` and every error in it (not only the first).

    After an error the option it names is dropped (its default applies) and the group is
    validated again, until it passes or an error names no option. An absent or null group gives
    the defaults (a null group is reported by :func:`validate_params_tree`).
    """
    from pipeline.params import group

    try:
        mapping = group(params, name)
    except KeyError:
        mapping = None
    remaining = dict(mapping) if isinstance(mapping, Mapping) else mapping
    errors: list[str] = []
    while True:
        try:
            config = cls.from_mapping(remaining, where=name)
            return (None if errors else config), errors
        except ConfigError as exc:
            message = str(exc)
            keys = _offending_keys(message, name, remaining) if isinstance(remaining, dict) else []
            if "unknown option(s)" in message:
                allowed = [f.name for f in dataclasses.fields(cls)]
                message += "".join(f"; did you mean {close_match(k, allowed)!r} for {k!r}?" for k in keys if close_match(k, allowed))
            errors.append(message)
            if not keys:
                return None, errors
            for key in keys:
                remaining.pop(key)


# --------------------------------------------------------------------------- data


def _wrap(head: str, text: str, width: int = 100) -> str:
    """``head + text`` wrapped at ``width``, continuation lines aligned under the text."""
    return textwrap.fill(text, width=width, initial_indent=head, subsequent_indent=" " * len(head), break_on_hyphens=False)


def _wrap_items(head: str, lead: str, items, width: int = 100) -> list[str]:
    """``head + lead`` then the comma-separated ``items``, wrapped at ``width`` between items only."""
    lines, line = [], head + lead
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if len(line) + 1 + len(piece) > width and line.strip() != lead.strip():
            lines.append(line)
            line = " " * len(head) + piece
        else:
            line = f"{line} {piece}"
    return [*lines, line]


def _span(dates) -> str:
    return f"{dates.min():%Y-%m-%d} .. {dates.max():%Y-%m-%d}"


def _counts(values) -> list[str]:
    counts = Counter(values)
    return [f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def data_summary(config, data, records) -> list[str]:
    """A few lines on the data: source, banks by group, dates, tables present and absent, quality records."""
    if config.source == "synthetic":
        lines = [f"data: synthetic (the embedded simulator, seed {config.seed}): simulated data, not yours"]
    else:
        lines = [f"data: files, format {config.format}, from {config.raw_dir}"]
    lines.extend(_wrap_items("  banks          ", f"{len(data.banks)}:", _counts(data.banks["group"])))
    prices = data.prices
    lines.append(f"  prices         {_span(prices['date'])}, {prices['date'].nunique()} trading days, {len(prices)} rows")
    if data.system is not None:
        lines.append(f"  system         {len(data.system)} days, {_span(data.system['date'])}")
    if data.market_states is not None:
        states = [c for c in data.market_states.columns if c != "date"]
        lines.extend(_wrap_items("  market_states  ", f"{len(data.market_states)} days, states:", states))
    bs = data.balance_sheet
    if bs is not None:
        filled = [c for c in bs.columns if c not in ("bank_id", "period_end", "publication_date") and bs[c].notna().any()]
        lines.extend(_wrap_items("  balance_sheet  ", f"{len(bs)} bank periods, {_span(bs['period_end'])}:", filled))
    if data.sector_indices is not None:
        indices = [c for c in data.sector_indices.columns if c != "date"]
        lines.extend(_wrap_items("  sector_indices ", f"{len(data.sector_indices)} dates, {_span(data.sector_indices['date'])}:", indices))
    absent = [t for t in SUMMARY_TABLES if getattr(data, t) is None]
    lines.append(f"  absent         {', '.join(absent) if absent else '(none)'}")
    lines.append(f"  quality        {len(records)} ingest records (data/processed/quality/ingest.parquet after the run)")
    by_action: dict[str, list[str]] = {}
    for rec in records:
        by_action.setdefault(rec.action, []).append(rec.reason)
    for action, reasons in sorted(by_action.items()):
        lines.extend(_wrap_items(" " * 17, f"{action}:", _counts(reasons)))
    return lines


# --------------------------------------------------------------------------- stages


def declared_lines(stage, data, producers: Mapping[str, str]) -> list[tuple[str, str]]:
    """For a stage without a ``check`` hook: its canonical inputs, present or absent, and its upstream stages."""
    tables = [t for t in stage.inputs if t in CANONICAL_TABLES]
    absent = [t for t in tables if getattr(data, t) is None]
    present = [t for t in tables if t not in absent]
    upstream = list(dict.fromkeys(producers.get(t, t) for t in stage.inputs if t not in CANONICAL_TABLES))
    if len(upstream) > 1 and set(upstream) >= set(producers.values()) - {stage.name}:
        upstream = ["every other stage"]
    lines = [("cannot", f"needs {t}: absent → not estimable, unless the stage can do without it") for t in absent]
    parts = [f"reads {', '.join(present)}" if present else "", f"after {', '.join(upstream)}" if upstream else ""]
    text = "; ".join(p for p in parts if p) or "reads the data source (above)"
    lines.insert(0, ("estimates", f"{text} (no check hook: details when it runs)"))
    return lines


def stage_lines(stage, data, configs, producers: Mapping[str, str]) -> list[tuple[str, str]]:
    """What ``stage`` will estimate: its hook's lines, or :func:`declared_lines`."""
    if stage.check is None:
        return declared_lines(stage, data, producers)
    return [(str(kind), str(text)) for kind, text in stage.check(data, configs)]


def ordered_stages() -> list[str]:
    """Stage names in DAG order, then any stage module the DAG order does not list (not the
    ``params`` stage: its check is the params part above)."""
    from pipeline.dag import STAGES
    from pipeline.stage import stage_names

    names = [n for n in stage_names() if n != "params"]
    return [n for n in STAGES if n in names] + [n for n in names if n not in STAGES]


# --------------------------------------------------------------------------- command


def run_check(params_path: str | Path, root: str | Path) -> tuple[list[str], list[str]]:
    """(report lines, error messages) of ``python -m pipeline check``."""
    import yaml

    from pipeline.params import load_params
    from pipeline.stage import load_stage, resolve_realtime
    from pipeline.stages.ingest import load_trimmed

    debug = os.environ.get("PIPELINE_DEBUG", "") not in ("", "0")
    try:
        params = load_params(params_path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [], [f"{params_path}: {exc}"]
    errors = validate_params_tree(params)
    stages = [load_stage(name) for name in ordered_stages()]
    producers = {out: stage.name for stage in stages for out in stage.all_outputs}
    configs: dict[str, Config | None] = {}
    for stage in stages:
        for name, cls in stage.params.items():
            if name not in configs:
                configs[name], group_errors = validate_group(name, cls, params)
                errors.extend(group_errors)
    from pipeline.compute import ComputeConfig
    from pipeline.params import COMPUTE_GROUP

    configs[COMPUTE_GROUP], group_errors = validate_group(COMPUTE_GROUP, ComputeConfig, params)
    errors.extend(group_errors)
    errors = list(dict.fromkeys(errors))  # a non-mapping group is found by the tree and by its class
    lines = [f"params: {len(configs)} groups, {'no errors' if not errors else f'{len(errors)} error(s) (below)'}"]
    try:
        realtime = realtime_switch(params)
    except ConfigError:  # the tree check above has its message
        realtime = False
    lines.append("realtime: " + ("true (every value dated t from data up to t only; docs/realtime.md)" if realtime else
                                 "false (paper defaults: some values use the whole sample; docs/realtime.md)"))
    data = None
    if configs.get("data") is None:
        lines.append("data: not read (fix the data group first)")
    else:
        try:
            data, records = load_trimmed(configs["data"], root=Path(root))
            lines.extend(data_summary(configs["data"], data, records))
        except Exception as exc:  # every failure to read the data is reported, with no traceback
            if debug:
                raise
            errors.append(f"data: {exc}" if isinstance(exc, ValueError) else f"data: {type(exc).__name__}: {exc}")
            lines.append("data: not read (error below)")
    lines.append("stages (what each will estimate from this data):")
    cannot = []
    for stage in stages:
        lines.append(f"  {stage.name}")
        stage_configs = {name: configs[name] for name in stage.params}
        if all(c is not None for c in stage_configs.values()):
            stage_configs = resolve_realtime(stage, stage_configs, realtime)
        if data is None or any(c is None for c in stage_configs.values()):
            lines.append("    not checked: fix the errors below first")
            continue
        try:
            checked = stage_lines(stage, data, stage_configs, producers)
        except Exception as exc:  # a hook must not raise; if one does, say so instead of a traceback
            if debug:
                raise
            errors.append(f"stage {stage.name}: its check failed: {type(exc).__name__}: {exc}")
            continue
        lines.extend(_wrap(f"    {kind:<10} ", text) for kind, text in checked)
        if checked and all(kind == "cannot" for kind, _ in checked):
            cannot.append(stage.name)
    if cannot:
        lines.append(f"not estimable from this data: {', '.join(cannot)} (their outputs will be written empty "
                     "and marked; the report says why and what to add)")
    return lines, errors


def main(argv: list[str]) -> int:
    """``python -m pipeline check [--params FILE] [--root DIR]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pipeline check",
                                     description="Validate params.yaml and the data; print what each stage will estimate.")
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--root", default=".", help="folder holding the data/ tree (default: the working directory)")
    args = parser.parse_args(argv)
    lines, errors = run_check(args.params, args.root)
    for line in lines:
        print(line)
    if errors:
        print(f"{len(errors)} error(s):", file=sys.stderr)
        for message in errors:
            print(f"  - {message}", file=sys.stderr)
        return 2
    return 0
